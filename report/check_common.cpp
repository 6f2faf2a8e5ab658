#include "report/check_common.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "gate/hazards/findings.h"
#include "gate/hazards/policy.h"
#include "gate/hazards/reload_lint.h"

namespace fwgate::report::check_render {

Outcome FindingOutcome(const Finding& f) {
  if (f.undecided) return Outcome::kUndecided;
  return f.severity == Severity::kBlocking ? Outcome::kFail : Outcome::kPass;
}

Outcome StageShown(const check::StageResult& s) {
  Outcome o = s.outcome;
  for (const auto& f : s.findings) o = Combine(o, FindingOutcome(f));
  return o;
}

std::vector<const Finding*> NodeFindings(const check::CheckReport& r, std::string_view node) {
  std::vector<const Finding*> out;
  for (const Finding* f : r.AllFindings()) {
    if (!node.empty() && f->node == node) out.push_back(f);
  }
  return out;
}

Outcome NodeShown(const check::CheckReport& r, const check::NodeRow& n) {
  Outcome o = n.reachable ? n.outcome : Combine(n.outcome, Outcome::kUndecided);
  for (const Finding* f : NodeFindings(r, n.name)) o = Combine(o, FindingOutcome(*f));
  return o;
}

std::vector<const Finding*> FindingsInOrder(const check::CheckReport& r) {
  std::vector<const Finding*> all = r.AllFindings();
  auto rank = [](const Finding* f) {
    if (f->severity == Severity::kBlocking && !f->undecided) return 0;
    if (f->undecided) return 1;
    return f->severity == Severity::kWarning ? 2 : 3;
  };
  std::stable_sort(all.begin(), all.end(),
                   [&](const Finding* a, const Finding* b) { return rank(a) < rank(b); });
  return all;
}

std::string_view VerdictHeadline(Outcome verdict) {
  switch (verdict) {
    case Outcome::kPass:
      return "the change is safe to apply on this fleet";
    case Outcome::kFail:
      return "the gate says no";
    case Outcome::kUndecided:
      return "could not decide (this is not a pass)";
    case Outcome::kBadInput:
      return "bad input: nothing could be judged";
  }
  return "could not decide (this is not a pass)";
}

std::string_view CauseSentence(check::Cause cause) {
  switch (cause) {
    case check::Cause::kNone:
      return "";
    case check::Cause::kChange:
      return "This change breaks open connections: the baseline replay (current ruleset reloaded "
             "onto itself, same procedure) survived, the proposed one did not.";
    case check::Cause::kReloadProcedure:
      return "The reload procedure breaks open connections whatever the change: the baseline "
             "replay (current ruleset reloaded onto itself, same procedure) broke too. Fix how "
             "production reloads, not the change.";
    case check::Cause::kBoth:
      return "Both: the reload procedure breaks open connections on its own (the baseline replay "
             "broke), and the change breaks more.";
  }
  return "";
}

std::string RuleSummary(std::string_view id) {
  for (const auto& table : {hazards::PolicyRules(), hazards::ReloadLintRules(),
                            hazards::NodeRules(), hazards::FleetRules()}) {
    for (const auto& rule : table) {
      if (rule.id == id) {
        std::string s(rule.summary);
        if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
        return s;
      }
    }
  }
  std::string s(id);
  std::replace(s.begin(), s.end(), '-', ' ');
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}

std::string FindingBody(const Finding& f) {
  std::string o = f.message;
  if (f.undecided) o += " (could not decide)";
  o += '\n';
  if (f.location && f.location->known()) o += "at " + f.location->ToString() + '\n';
  for (const auto& rel : f.related) {
    o += "see " + rel.where.ToString();
    if (!rel.message.empty()) o += ": " + rel.message;
    o += '\n';
  }
  if (!f.node.empty()) o += "node: " + f.node + '\n';
  if (!f.fix.empty()) o += "fix: " + f.fix + '\n';
  for (const auto& c : f.fix_commands) o += "  " + c + '\n';
  if (!f.fix_config.empty()) {
    o += "persistent:\n";
    for (const auto& c : f.fix_config) o += "  " + c + '\n';
  }
  if (!f.source.empty()) o += "why: " + f.source + '\n';
  return o;
}

std::optional<std::string> RepoRelative(std::string_view file, std::string_view root) {
  namespace fs = std::filesystem;
  if (file.empty()) return std::nullopt;
  fs::path p = fs::path(file).lexically_normal();
  if (p.is_relative()) {
    // "REV:path" (git's revision syntax) names a file of another revision, not the work tree.
    if (file.find(':') != std::string_view::npos) return std::nullopt;
  } else {
    if (root.empty()) return std::nullopt;
    fs::path base = fs::path(root).lexically_normal();
    if (!base.is_absolute()) return std::nullopt;
    p = p.lexically_relative(base);
    if (p.empty()) return std::nullopt;
  }
  std::string s = p.generic_string();
  if (s.empty() || s == "." || s == ".." || s.starts_with("../")) return std::nullopt;
  return s;
}

std::string Seconds(std::chrono::milliseconds ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(ms.count()) / 1000.0);
  return buf;
}

}  // namespace fwgate::report::check_render
