#include "report/check_report.h"

#include <fmt/format.h>

#include <map>
#include <sstream>

#include "base/text.h"
#include "report/diff_report.h"
#include "report/replay_report.h"

namespace fwgate::report {
namespace {

using check::CheckReport;
using check::StageResult;
using nlohmann::json;

constexpr size_t kWidth = 100;

std::string VerdictWord(Outcome o) {
  switch (o) {
    case Outcome::kPass:
      return "PASS";
    case Outcome::kFail:
      return "FAIL";
    case Outcome::kBadInput:
      return "BAD INPUT";
    case Outcome::kUndecided:
      return "UNDECIDED";
  }
  return "UNDECIDED";
}

std::string VerdictMeaning(Outcome o) {
  switch (o) {
    case Outcome::kPass:
      return "open connections survive this change on this fleet";
    case Outcome::kFail:
      return "the gate says no";
    case Outcome::kBadInput:
      return "fix the input first";
    case Outcome::kUndecided:
      return "could not decide (never a pass)";
  }
  return "";
}

std::string CauseText(check::Cause c) {
  switch (c) {
    case check::Cause::kNone:
      return "";
    case check::Cause::kChange:
      return "the change";
    case check::Cause::kReloadProcedure:
      return "the reload procedure, not the change";
    case check::Cause::kBoth:
      return "the change and the reload procedure";
  }
  return "";
}

// `text` after `prefix` (kept exactly), wrapped at spaces to kWidth columns; continuation lines
// are indented to the prefix's width.
std::string Wrapped(const std::string& prefix, const std::string& text) {
  std::string safe = TerminalSafe(text);
  std::string wrapped =
      WrapText(safe, kWidth > prefix.size() + 20 ? kWidth - prefix.size() : 20, 0);
  std::string out = prefix;
  std::string pad(prefix.size(), ' ');
  for (char c : wrapped) {
    out += c;
    if (c == '\n') out += pad;
  }
  return out;
}

void Para(std::ostringstream& o, const std::string& prefix, const std::string& text) {
  o << Wrapped(prefix, text) << "\n";
}

std::string Seconds(std::chrono::milliseconds ms) {
  return fmt::format("{:.1f} s", static_cast<double>(ms.count()) / 1000.0);
}

json LocationJson(const SourceLocation& l) {
  json j = {{"file", ValidUtf8(l.file)}, {"line", l.line}, {"column", l.column}};
  if (l.end_line > 0) j["end_line"] = l.end_line;
  return j;
}

json FindingJson(const Finding& f) {
  json j = {{"id", f.id},
            {"severity", std::string(SeverityName(f.severity))},
            {"message", ValidUtf8(f.message)},
            {"source", f.source},
            {"undecided", f.undecided},
            {"fix", ValidUtf8(f.fix)},
            {"fix_commands", f.fix_commands},
            {"fix_config", f.fix_config},
            {"stage", f.stage},
            {"node", ValidUtf8(f.node)}};
  if (f.location) j["location"] = LocationJson(*f.location);
  json related = json::array();
  for (const auto& r : f.related) {
    related.push_back({{"location", LocationJson(r.where)}, {"message", ValidUtf8(r.message)}});
  }
  j["related"] = related;
  json traffic = json::array();
  for (const auto& e : f.traffic) {
    traffic.push_back({{"region", e.region},
                       {"path", e.path},
                       {"family", e.family},
                       {"ct_state", e.ct_state},
                       {"predicate", ValidUtf8(e.predicate)},
                       {"before", e.before},
                       {"after", e.after},
                       {"example", ValidUtf8(e.example)},
                       {"certain", e.certain}});
  }
  if (!traffic.empty()) j["traffic"] = traffic;
  return j;
}

std::string Cell(std::string_view s, size_t max) {
  std::string t = TerminalSafe(s);
  if (t.size() > max) t = std::string(Utf8Prefix(t, max - 1)) + "~";
  return t;
}

}  // namespace

std::string CheckToText(const CheckReport& r, bool colour) {
  std::ostringstream o;
  auto c = [&](const char* code) { return colour ? std::string(code) : std::string(); };
  const char* tint = r.verdict == Outcome::kPass   ? "\x1b[32;1m"
                     : r.verdict == Outcome::kFail ? "\x1b[31;1m"
                                                   : "\x1b[33;1m";
  o << c(tint) << "fwgate check: " << VerdictWord(r.verdict) << c("\x1b[0m") << " - "
    << VerdictMeaning(r.verdict);
  if (r.cause != check::Cause::kNone) o << "; cause: " << CauseText(r.cause);
  o << "\n";
  Para(o, "  proposed: ", r.proposed);
  Para(o, "  current:  ", r.current);
  Para(o, "  reload:   ", r.reload);
  Para(o, "  fleet:    ", r.fleet_source);
  if (!r.reasons.empty()) {
    o << "\nWhy:\n";
    for (const auto& reason : r.reasons) Para(o, "  - ", reason);
  }
  std::vector<const Finding*> shown;
  for (const Finding* f : r.AllFindings()) {
    if (f->severity == Severity::kBlocking || f->undecided) shown.push_back(f);
  }
  if (!shown.empty()) {
    o << "\nBlocking findings and fixes:\n";
    for (const Finding* f : shown) {
      std::string head = "  [" + std::string(f->undecided ? "undecided" : "blocking") + "] " +
                         f->id + (f->node.empty() ? "" : " on " + f->node);
      if (f->location && f->location->known()) head += "  " + f->location->ToString();
      o << TerminalSafe(head) << "\n";
      Para(o, "      ", f->message);
      if (!f->fix.empty()) Para(o, "      fix: ", f->fix);
      for (const auto& cmd : f->fix_commands) Para(o, "        $ ", cmd);
      for (const auto& cfg : f->fix_config) Para(o, "        ", cfg);
      for (const auto& rel : f->related) {
        Para(o, "      see: ", rel.where.ToString() + " (" + rel.message + ")");
      }
      if (!f->source.empty()) Para(o, "      why: ", f->source);
    }
  }
  std::vector<const Finding*> warnings;
  for (const Finding* f : r.AllFindings()) {
    if (f->severity == Severity::kWarning && !f->undecided) warnings.push_back(f);
  }
  if (!warnings.empty()) {
    o << "\nWarnings:\n";
    for (const Finding* f : warnings) {
      std::string where =
          f->location && f->location->known() ? " (" + f->location->ToString() + ")" : "";
      Para(o, "  - ",
           f->id + (f->node.empty() ? "" : " on " + f->node) + ": " + f->message + where);
    }
  }
  o << "\nStages:\n";
  for (const StageResult& s : r.stages) {
    std::string result = s.ran ? VerdictWord(s.outcome) : "skipped";
    std::string summary = s.ran ? s.summary : s.skipped_reason;
    std::string line = fmt::format("  {:<12} {:<10} {:>7}  ", check::StageName(s.id), result,
                                   s.ran ? Seconds(s.took) : "");
    o << Wrapped(line, summary) << "\n";
  }
  if (!r.plan.empty()) {
    o << "\nPlan (current -> proposed):\n";
    std::istringstream plan(PlanToText(r.plan, colour));
    for (std::string l; std::getline(plan, l);) {
      if (!l.empty()) o << "  " << l << "\n";
    }
    if (r.traffic) {
      o << "\n";
      std::istringstream moved(TrafficToText(*r.traffic, colour));
      for (std::string l; std::getline(moved, l);) {
        if (!l.empty()) o << "  " << l << "\n";
      }
    }
  }
  if (!r.nodes.empty()) {
    o << "\nNodes:\n";
    o << fmt::format("  {:<20} {:<22} {:<11} {:<8} {:<6} {:<10} {}\n", "NODE", "KERNEL", "CLASS",
                     "LIBERAL", "LAB", "RESULT", "NOTE");
    for (const auto& n : r.nodes) {
      std::string line =
          fmt::format("  {:<20} {:<22} {:<11} {:<8} {:<6} {:<10} ", Cell(n.name, 20),
                      Cell(n.kernel, 22), n.kernel_class.empty() ? "?" : n.kernel_class,
                      n.be_liberal < 0 ? "?" : std::to_string(n.be_liberal),
                      n.lab_node.empty() ? "-" : n.lab_node,
                      n.reachable ? VerdictWord(n.outcome) : "UNREACHABLE");
      o << line << Cell(n.note, kWidth > line.size() ? kWidth - line.size() : 10) << "\n";
    }
  }
  if (r.baseline || r.proposed_run) {
    o << "\nLab replay (connections broken / total, longest stall after the reload):\n";
    std::map<std::string, std::pair<std::string, std::string>> rows;
    auto fill = [&](const std::optional<check::ReplayRun>& run, bool first) {
      if (!run) return;
      for (const auto& [cls, sum] : run->report.classes) {
        std::string cell = std::to_string(sum.broken) + "/" + std::to_string(sum.total) + ", " +
                           std::to_string(sum.max_stall_ms) + " ms";
        (first ? rows[cls].first : rows[cls].second) = cell;
      }
    };
    fill(r.baseline, true);
    fill(r.proposed_run, false);
    auto verdict = [](const std::optional<check::ReplayRun>& run) {
      return run ? std::string(replay::VerdictName(run->report.verdict)) : "not run";
    };
    o << fmt::format("  {:<14} {:<30} {}\n", "CLASS", "BASELINE: " + verdict(r.baseline),
                     "PROPOSED: " + verdict(r.proposed_run));
    for (const auto& [cls, cells] : rows) {
      o << fmt::format("  {:<14} {:<30} {}\n", cls, cells.first, cells.second);
    }
    const auto* lab = r.proposed_run ? &*r.proposed_run : &*r.baseline;
    for (const auto& [lab_node, members] : lab->stands_for) {
      std::string kernel;
      for (const auto& n : lab->report.nodes) {
        if (n.name == lab_node) {
          kernel = (n.kernel.empty() ? "lab kernel" : n.kernel) + ", " + n.emulation +
                   ", be_liberal=" + std::to_string(n.be_liberal);
        }
      }
      std::string who;
      for (size_t i = 0; i < members.size(); ++i) who += (i ? ", " : "") + members[i];
      Para(o, "  " + lab_node + ": ", kernel + (who.empty() ? "" : "; stands for " + who));
    }
  }
  o << "\nTook " << Seconds(r.took) << ".\n";
  return o.str();
}

json CheckToJson(const CheckReport& r) {
  json stages = json::array();
  for (const StageResult& s : r.stages) {
    json fs = json::array();
    for (const auto& f : s.findings) fs.push_back(FindingJson(f));
    json j = {{"id", std::string(check::StageName(s.id))},
              {"ran", s.ran},
              {"outcome", std::string(OutcomeName(s.outcome))},
              {"summary", ValidUtf8(s.ran ? s.summary : s.skipped_reason)},
              {"findings", fs},
              {"took_ms", s.took.count()}};
    if (!s.ran) j["skipped_reason"] = s.skipped_reason;
    stages.push_back(j);
  }
  json nodes = json::array();
  for (const auto& n : r.nodes) {
    nodes.push_back({{"name", ValidUtf8(n.name)},
                     {"kernel", ValidUtf8(n.kernel)},
                     {"kernel_class", n.kernel_class},
                     {"be_liberal", n.be_liberal},
                     {"reachable", n.reachable},
                     {"lab_node", n.lab_node},
                     {"outcome", std::string(OutcomeName(n.outcome))},
                     {"note", ValidUtf8(n.note)}});
  }
  auto run_json = [](const std::optional<check::ReplayRun>& run) -> json {
    if (!run) return nullptr;
    json stands = json::object();
    for (const auto& [lab, members] : run->stands_for) stands[lab] = members;
    return {{"label", run->label},
            {"what", run->what},
            {"report", ReplayToJson(run->report)},
            {"stands_for", stands}};
  };
  std::vector<std::string> reasons;
  for (const auto& s : r.reasons) reasons.push_back(ValidUtf8(s));
  json j = {{"schema_version", CheckReport::kSchemaVersion},
            {"verdict", std::string(OutcomeName(r.verdict))},
            {"cause", std::string(check::CauseName(r.cause))},
            {"reasons", reasons},
            {"proposed", ValidUtf8(r.proposed)},
            {"current", ValidUtf8(r.current)},
            {"reload", r.reload},
            {"fleet", ValidUtf8(r.fleet_source)},
            {"stages", stages},
            {"plan", PlanToJson(r.plan)},
            {"nodes", nodes},
            {"baseline", run_json(r.baseline)},
            {"proposed_replay", run_json(r.proposed_run)},
            {"took_ms", r.took.count()}};
  if (r.traffic) j["traffic"] = TrafficToJson(*r.traffic);
  return j;
}

}  // namespace fwgate::report
