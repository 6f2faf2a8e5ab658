// The gate's CI renderings: JUnit XML (GitLab and Jenkins test reports), SARIF 2.1.0 (GitHub code
// scanning) and GitHub Actions workflow commands. Pure functions of the report.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "base/text.h"
#include "report/check_common.h"
#include "report/check_report.h"

namespace fwgate::report {

using check::CheckReport;
using check::NodeRow;
using check::StageResult;
using namespace check_render;  // this file renders with the shared helpers

namespace {

constexpr std::string_view kVersion = FWGATE_VERSION;

// Text on one line (newlines and tabs as spaces), at most `max` bytes, for attributes and titles.
std::string OneLine(std::string_view s, size_t max = 400) {
  std::string o;
  o.reserve(s.size());
  for (char c : s) o += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  if (o.size() > max) {
    o = std::string(Utf8Prefix(o, max - 3));
    o += "...";
  }
  return o;
}

std::string FindingHeader(const Finding& f) {
  std::string h =
      "[" + std::string(f.undecided ? "undecided" : SeverityName(f.severity)) + "] " + f.id;
  if (!f.node.empty()) h += " (node " + f.node + ")";
  return h;
}

std::string Indented(std::string_view body, std::string_view pad) {
  std::string o;
  size_t i = 0;
  while (i < body.size()) {
    size_t nl = body.find('\n', i);
    std::string_view line = body.substr(i, nl == std::string_view::npos ? body.size() - i : nl - i);
    o += pad;
    o += line;
    o += '\n';
    if (nl == std::string_view::npos) break;
    i = nl + 1;
  }
  return o;
}

std::string FindingsText(const std::vector<const Finding*>& fs) {
  std::string o;
  for (const Finding* f : fs) {
    o += FindingHeader(*f) + '\n';
    o += Indented(FindingBody(*f), "  ");
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// JUnit

struct JunitCase {
  std::string classname, name;
  std::chrono::milliseconds time{0};
  enum class Kind { kPass, kFailure, kError, kSkipped } kind = Kind::kPass;
  std::string type, message, body;  // failure/error/skipped
  std::string out;                  // system-out
};

// The first finding of `fs` whose outcome is `o`, as "id: message" on one line.
std::string FirstOf(const std::vector<const Finding*>& fs, Outcome o) {
  for (const Finding* f : fs) {
    if (FindingOutcome(*f) == o) return f->id + ": " + f->message;
  }
  return "";
}

void SetOutcome(JunitCase& c, Outcome shown, const std::vector<const Finding*>& fs,
                const std::string& fallback) {
  switch (shown) {
    case Outcome::kPass:
      c.kind = JunitCase::Kind::kPass;
      return;
    case Outcome::kFail:
      c.kind = JunitCase::Kind::kFailure;
      c.type = "fail";
      c.message = FirstOf(fs, Outcome::kFail);
      break;
    case Outcome::kUndecided:
      c.kind = JunitCase::Kind::kError;
      c.type = "undecided";
      c.message = "could not decide: " + FirstOf(fs, Outcome::kUndecided);
      if (c.message.ends_with(": ")) c.message += fallback;
      return;
    case Outcome::kBadInput:
      c.kind = JunitCase::Kind::kError;
      c.type = "bad-input";
      c.message = FirstOf(fs, Outcome::kFail);
      break;
  }
  if (c.message.empty()) c.message = fallback;
}

JunitCase StageCase(const StageResult& s) {
  JunitCase c;
  c.classname = "fwgate.check.stages";
  c.name = std::string(check::StageName(s.id));
  c.time = s.took;
  std::vector<const Finding*> fs;
  for (const auto& f : s.findings) fs.push_back(&f);
  std::string head = std::string(check::StageQuestion(s.id)) + '\n';
  if (!s.ran) {
    c.kind = JunitCase::Kind::kSkipped;
    c.message = s.skipped_reason.empty() ? "skipped" : s.skipped_reason;
    c.out = head + "skipped: " + c.message + '\n';
    return c;
  }
  if (!s.summary.empty()) head += s.summary + '\n';
  Outcome shown = StageShown(s);
  SetOutcome(c, shown, fs, s.summary.empty() ? std::string(OutcomeName(shown)) : s.summary);
  std::string text = FindingsText(fs);
  if (c.kind == JunitCase::Kind::kPass) {
    c.out = head + text;
  } else {
    c.body = head + text;
  }
  return c;
}

JunitCase NodeCase(const CheckReport& r, const NodeRow& n) {
  JunitCase c;
  c.classname = "fwgate.check.nodes";
  c.name = n.name;
  std::vector<const Finding*> fs = NodeFindings(r, n.name);
  std::string facts = "kernel " + (n.kernel.empty() ? std::string("unknown") : n.kernel);
  if (!n.kernel_class.empty()) facts += " (" + n.kernel_class + ")";
  facts += ", nf_conntrack_tcp_be_liberal=" +
           (n.be_liberal < 0 ? std::string("unknown") : std::to_string(n.be_liberal));
  if (!n.reachable) facts += ", unreachable";
  if (!n.lab_node.empty()) facts += ", replayed as lab " + n.lab_node;
  facts += '\n';
  if (!n.note.empty()) facts += n.note + '\n';
  Outcome shown = NodeShown(r, n);
  std::string fallback = n.note.empty() ? std::string(OutcomeName(shown)) : n.note;
  if (!n.reachable && n.note.empty()) fallback = "node unreachable";
  SetOutcome(c, shown, fs, fallback);
  if (!n.reachable && c.kind == JunitCase::Kind::kError) {
    c.message = "could not decide: node unreachable" + (n.note.empty() ? "" : ": " + n.note);
  }
  std::string text = FindingsText(fs);
  if (c.kind == JunitCase::Kind::kPass) {
    c.out = facts + text;
  } else {
    c.body = facts + text;
  }
  return c;
}

void WriteCase(std::string& o, const JunitCase& c) {
  o += fmt::format("    <testcase classname=\"{}\" name=\"{}\" time=\"{}\"", XmlSafe(c.classname),
                   XmlSafe(c.name), Seconds(c.time));
  if (c.kind == JunitCase::Kind::kPass && c.out.empty()) {
    o += "/>\n";
    return;
  }
  o += ">\n";
  switch (c.kind) {
    case JunitCase::Kind::kPass:
      break;
    case JunitCase::Kind::kSkipped:
      o += fmt::format("      <skipped message=\"{}\"/>\n", XmlSafe(OneLine(c.message)));
      break;
    case JunitCase::Kind::kFailure:
    case JunitCase::Kind::kError:
      o += fmt::format("      <{} type=\"{}\" message=\"{}\">{}</{}>\n",
                       c.kind == JunitCase::Kind::kFailure ? "failure" : "error", c.type,
                       XmlSafe(OneLine(c.message)), XmlSafe(c.body),
                       c.kind == JunitCase::Kind::kFailure ? "failure" : "error");
      break;
  }
  if (!c.out.empty()) o += "      <system-out>" + XmlSafe(c.out) + "</system-out>\n";
  o += "    </testcase>\n";
}

// ---------------------------------------------------------------------------------------------
// SARIF

using ojson = nlohmann::ordered_json;

std::string_view SarifLevel(const Finding& f) {
  if (f.undecided) return "warning";
  switch (f.severity) {
    case Severity::kBlocking:
      return "error";
    case Severity::kWarning:
      return "warning";
    case Severity::kInfo:
      return "note";
  }
  return "warning";
}

std::string_view ProblemSeverity(Severity s) {
  switch (s) {
    case Severity::kBlocking:
      return "error";
    case Severity::kWarning:
      return "warning";
    case Severity::kInfo:
      return "recommendation";
  }
  return "warning";
}

// A relative URI reference for a repository path: every byte outside RFC 3986's unreserved and
// sub-delimiter characters (and '/', '@') percent-encoded, ':' included, so no path is read as
// a scheme.
std::string UriPath(std::string_view path) {
  static constexpr std::string_view kKeep = "-._~/!$&'()*+,;=@";
  std::string o;
  for (unsigned char c : path) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
        kKeep.find(static_cast<char>(c)) != std::string_view::npos) {
      o += static_cast<char>(c);
    } else {
      o += fmt::format("%{:02X}", c);
    }
  }
  return o;
}

// Plain-text SARIF message text: square brackets escaped (§3.11.6: only "[text](id)" we write
// is a link).
std::string SarifText(std::string_view s) {
  std::string v = ValidUtf8(s);
  std::string o;
  o.reserve(v.size());
  for (char c : v) {
    if (c == '[' || c == ']') o += '\\';
    o += c;
  }
  return o;
}

std::string Sentence(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n')) s.pop_back();
  if (!s.empty() && s.back() != '.' && s.back() != '!' && s.back() != '?') s += '.';
  return s;
}

std::string CamelName(std::string_view id) {
  std::string o;
  bool up = true;
  for (char c : id) {
    if (c == '-' || c == '_' || c == '.' || c == '/') {
      up = true;
      continue;
    }
    o += up && c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
    up = false;
  }
  return o;
}

ojson Region(const SourceLocation& l) {
  ojson r;
  r["startLine"] = l.line;
  if (l.column > 0) r["startColumn"] = l.column;
  r["endLine"] = l.end_line >= l.line ? l.end_line : l.line;
  return r;
}

ojson PhysicalLocation(const std::string& uri, const SourceLocation& l) {
  return ojson{{"artifactLocation", {{"uri", UriPath(uri)}, {"uriBaseId", "%SRCROOT%"}}},
               {"region", Region(l)}};
}

std::string FixSentence(const Finding& f) {
  std::string o;
  if (!f.fix.empty()) o += " Fix: " + Sentence(SarifText(f.fix));
  if (!f.fix_commands.empty()) {
    o += " Commands:";
    for (size_t i = 0; i < f.fix_commands.size(); ++i) {
      o += (i ? "; " : " ") + SarifText(f.fix_commands[i]);
    }
    o += '.';
  }
  if (!f.fix_config.empty()) {
    o += " Persistent:";
    for (size_t i = 0; i < f.fix_config.size(); ++i) {
      o += (i ? "; " : " ") + SarifText(f.fix_config[i]);
    }
    o += '.';
  }
  return o;
}

struct SarifResult {
  std::string rule;
  std::string uri;
  SourceLocation where;
  bool anchored = false;  // the finding had no location: put on the proposed file's first line
  std::string level;
  std::vector<const Finding*> findings;
};

int LevelRank(std::string_view level) { return level == "error" ? 2 : level == "warning" ? 1 : 0; }

ojson ResultJson(const SarifResult& sr, size_t rule_index, const std::string& source_root) {
  ojson related = ojson::array();
  std::string text;
  if (sr.findings.size() > 1) {
    text = fmt::format("{} findings of this rule here.", sr.findings.size());
  }
  for (const Finding* f : sr.findings) {
    std::string t;
    if (!f->node.empty() && !f->message.starts_with(f->node)) t += SarifText(f->node) + ": ";
    t += Sentence(SarifText(f->message));
    for (const auto& rel : f->related) {
      std::string label = rel.message.empty() ? "related place" : SarifText(rel.message);
      auto path = rel.where.known() ? RepoRelative(rel.where.file, source_root) : std::nullopt;
      if (path) {
        int id = static_cast<int>(related.size()) + 1;
        related.push_back({{"id", id},
                           {"physicalLocation", PhysicalLocation(*path, rel.where)},
                           {"message", {{"text", label}}}});
        t += fmt::format(" See [{}]({}).", label, id);
      } else {
        // Another revision's file (or outside the repository): code scanning could only show
        // this revision's file at that line, which holds something else, so it stays text.
        t += " See " + SarifText(rel.where.ToString()) + " (" + label + ").";
      }
    }
    if (sr.anchored) t += " (About the fleet or the reload, not one line of the file.)";
    t += FixSentence(*f);
    if (f->undecided) t += " Could not decide: this is not a pass.";
    text += (text.empty() ? "" : " ") + t;
  }
  const Finding& first = *sr.findings.front();
  ojson loc = {{"physicalLocation", PhysicalLocation(sr.uri, sr.where)}};
  if (sr.anchored) {
    loc["message"] = {{"text", "the ruleset this finding is about"}};
  }
  ojson j = {{"ruleId", sr.rule},
             {"ruleIndex", rule_index},
             {"level", sr.level},
             {"message", {{"text", text}}},
             {"locations", ojson::array({loc})}};
  if (!related.empty()) j["relatedLocations"] = related;
  ojson stages = ojson::array(), nodes = ojson::array();
  for (const Finding* f : sr.findings) {
    if (!f->stage.empty() && std::find(stages.begin(), stages.end(), f->stage) == stages.end())
      stages.push_back(f->stage);
    if (!f->node.empty()) nodes.push_back(f->node);
  }
  ojson props = {{"severity", std::string(SeverityName(first.severity))},
                 {"undecided", first.undecided},
                 {"stages", stages},
                 {"nodes", nodes},
                 {"anchored_to_file", sr.anchored}};
  if (!first.source.empty()) props["source"] = first.source;
  ojson commands = ojson::array(), config = ojson::array();
  for (const Finding* f : sr.findings) {
    for (const auto& c : f->fix_commands) commands.push_back(c);
    for (const auto& c : f->fix_config) config.push_back(c);
  }
  if (!commands.empty()) props["fix_commands"] = commands;
  if (!config.empty()) props["fix_config"] = config;
  j["properties"] = props;
  return j;
}

ojson RuleJson(const Finding& f) {
  std::string summary = Sentence(RuleSummary(f.id));
  std::string full = summary;
  if (!f.source.empty()) full += " Rests on " + Sentence(f.source);
  std::string help, md;
  if (!f.fix.empty()) {
    help = "Fix: " + Sentence(f.fix);
    md = "**Fix:** " + Sentence(f.fix);
  } else {
    help = "No fix needed: " + summary;
    md = help;
  }
  if (!f.fix_commands.empty()) {
    help += "\nCommands:\n";
    md += "\n\n```sh\n";
    for (const auto& c : f.fix_commands) {
      help += "  " + c + "\n";
      md += c + "\n";
    }
    md += "```";
  }
  if (!f.fix_config.empty()) {
    help += "\nPersistent:\n";
    md += "\n\nPersistent:\n\n```\n";
    for (const auto& c : f.fix_config) {
      help += "  " + c + "\n";
      md += c + "\n";
    }
    md += "```";
  }
  if (!f.source.empty()) {
    help += "\nRests on " + f.source + " in fwgate's documentation.";
    md += "\n\nRests on " + f.source + " in fwgate's documentation.";
  }
  ojson tags = ojson::array({"fwgate", "firewall", "conntrack"});
  if (!f.stage.empty()) tags.push_back(f.stage);
  ojson rule = {{"id", f.id},
                {"name", CamelName(f.id)},
                {"shortDescription", {{"text", summary}}},
                {"fullDescription", {{"text", full}}},
                {"help", {{"text", help}, {"markdown", md}}},
                {"defaultConfiguration", {{"level", std::string(SarifLevel(f))}}},
                {"properties",
                 {{"tags", tags},
                  {"precision", "high"},
                  {"problem.severity", std::string(ProblemSeverity(f.severity))}}}};
  if (!f.source.empty()) rule["properties"]["documentation"] = f.source;
  return rule;
}

// ---------------------------------------------------------------------------------------------
// GitHub workflow commands

// The workflow-command escaping of @actions/core: data escapes %, CR, LF; property values also
// ':' and ','.
std::string GithubData(std::string_view in) {
  std::string o;
  for (char c : ControlsAsText(in, "\n\r")) {
    switch (c) {
      case '%':
        o += "%25";
        break;
      case '\r':
        o += "%0D";
        break;
      case '\n':
        o += "%0A";
        break;
      default:
        o += c;
    }
  }
  return o;
}

std::string GithubProperty(std::string_view in) {
  std::string o;
  for (char c : GithubData(in)) {
    if (c == ':') {
      o += "%3A";
    } else if (c == ',') {
      o += "%2C";
    } else {
      o += c;
    }
  }
  return o;
}

std::string_view GithubCommand(const Finding& f) {
  if (f.undecided || f.severity == Severity::kBlocking) return "error";
  return f.severity == Severity::kWarning ? "warning" : "notice";
}

}  // namespace

std::string CheckToJunit(const CheckReport& r) {
  std::vector<JunitCase> cases;
  for (const auto& s : r.stages) cases.push_back(StageCase(s));
  for (const auto& n : r.nodes) cases.push_back(NodeCase(r, n));
  // Safety net: a verdict worse than every case would otherwise read as a green test report.
  Outcome shown = Outcome::kPass;
  for (const auto& c : cases) {
    if (c.kind == JunitCase::Kind::kFailure) shown = Combine(shown, Outcome::kFail);
    if (c.kind == JunitCase::Kind::kError) shown = Combine(shown, Outcome::kUndecided);
  }
  if (Combine(shown, r.verdict) != shown) {
    JunitCase v;
    v.classname = "fwgate.check";
    v.name = "verdict";
    std::vector<const Finding*> none;
    std::string reasons;
    for (const auto& x : r.reasons) reasons += x + '\n';
    SetOutcome(v, r.verdict, none,
               r.reasons.empty() ? std::string(VerdictHeadline(r.verdict)) : r.reasons.front());
    v.body = reasons;
    cases.push_back(v);
  }
  size_t failures = 0, errors = 0, skipped = 0;
  for (const auto& c : cases) {
    failures += c.kind == JunitCase::Kind::kFailure;
    errors += c.kind == JunitCase::Kind::kError;
    skipped += c.kind == JunitCase::Kind::kSkipped;
  }
  std::string suite = "fwgate check" + (r.proposed.empty() ? "" : " " + r.proposed);
  std::string counts = fmt::format("tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\"",
                                   cases.size(), failures, errors, skipped);
  std::string o = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  o += fmt::format("<testsuites name=\"fwgate check\" {} time=\"{}\">\n", counts, Seconds(r.took));
  o += fmt::format("  <testsuite name=\"{}\" {} time=\"{}\">\n", XmlSafe(OneLine(suite)), counts,
                   Seconds(r.took));
  o += "    <properties>\n";
  auto prop = [&](std::string_view name, std::string_view value) {
    o += fmt::format("      <property name=\"{}\" value=\"{}\"/>\n", name,
                     XmlSafe(OneLine(value, 2000)));
  };
  prop("verdict", OutcomeName(r.verdict));
  prop("cause", check::CauseName(r.cause));
  prop("proposed", r.proposed);
  prop("current", r.current);
  prop("reload", r.reload);
  prop("fleet", r.fleet_source);
  prop("fwgate_version", kVersion);
  for (size_t i = 0; i < r.reasons.size(); ++i) prop(fmt::format("reason.{}", i + 1), r.reasons[i]);
  o += "    </properties>\n";
  for (const auto& c : cases) WriteCase(o, c);
  std::string out =
      fmt::format("fwgate check: {} ({})\n", OutcomeName(r.verdict), VerdictHeadline(r.verdict));
  for (const auto& x : r.reasons) out += "- " + x + '\n';
  if (auto cs = CauseSentence(r.cause); !cs.empty()) out += std::string(cs) + '\n';
  o += "    <system-out>" + XmlSafe(out) + "</system-out>\n";
  o += "  </testsuite>\n</testsuites>\n";
  return o;
}

std::string CheckToSarif(const CheckReport& r, const std::string& source_root) {
  ojson rules = ojson::array();
  std::map<std::string, size_t> rule_index;
  auto rule_of = [&](const Finding& f) {
    auto [it, added] = rule_index.try_emplace(f.id, rules.size());
    if (added) rules.push_back(RuleJson(f));
    return it->second;
  };
  std::optional<std::string> proposed = RepoRelative(r.proposed, source_root);
  bool undecided = r.verdict == Outcome::kUndecided;

  // Results grouped by (rule, file, line, column): code scanning tells alerts apart by rule and
  // line, so two findings of one rule on one line (one per node, say) would show as one alert
  // with one message; grouped, that alert's message holds them all.
  std::vector<SarifResult> results;
  std::map<std::tuple<std::string, std::string, int, int>, size_t> by_place;
  ojson notes = ojson::array();
  for (const Finding* f : FindingsInOrder(r)) {
    undecided = undecided || f->undecided;
    size_t index = rule_of(*f);
    std::optional<std::string> uri;
    SourceLocation where;
    bool anchored = false;
    if (f->location && f->location->known()) {
      uri = RepoRelative(f->location->file, source_root);
      where = *f->location;
    }
    // Code scanning shows only results with a location. A decided blocking or warning finding
    // about the fleet or the reload goes on the proposed file's first line, so that it shows as
    // an alert on the change; undecided findings (the run could not decide) and information
    // without a place are notes about the run (toolExecutionNotifications).
    if (!uri && proposed && !f->undecided && f->severity != Severity::kInfo) {
      uri = proposed;
      where = SourceLocation{r.proposed, 1, 0, 1};
      anchored = true;
    }
    if (!uri) {
      std::string text;
      if (!f->node.empty() && !f->message.starts_with(f->node)) text += SarifText(f->node) + ": ";
      text += Sentence(SarifText(f->message));
      if (f->location && f->location->known())
        text += " At " + SarifText(f->location->ToString()) + ".";
      text += FixSentence(*f);
      ojson n = {{"level", f->undecided || f->severity == Severity::kBlocking ? "error"
                           : f->severity == Severity::kWarning                ? "warning"
                                                                              : "note"},
                 {"message", {{"text", text}}},
                 {"associatedRule", {{"id", f->id}, {"index", index}}},
                 {"properties",
                  {{"severity", std::string(SeverityName(f->severity))},
                   {"undecided", f->undecided},
                   {"stage", f->stage},
                   {"node", f->node}}}};
      notes.push_back(n);
      continue;
    }
    auto key = std::make_tuple(f->id, *uri, where.line, where.column);
    auto [it, added] = by_place.try_emplace(key, results.size());
    if (added) results.push_back({f->id, *uri, where, anchored, "note", {}});
    SarifResult& sr = results[it->second];
    sr.findings.push_back(f);
    if (LevelRank(SarifLevel(*f)) > LevelRank(sr.level)) sr.level = std::string(SarifLevel(*f));
  }
  ojson jresults = ojson::array();
  for (const auto& sr : results) {
    jresults.push_back(ResultJson(sr, rule_index.at(sr.rule), source_root));
  }
  ojson invocation = {{"executionSuccessful", !undecided}};
  if (!notes.empty()) invocation["toolExecutionNotifications"] = notes;
  ojson reasons = ojson::array();
  for (const auto& x : r.reasons) reasons.push_back(x);
  ojson run = {{"tool",
                {{"driver",
                  {{"name", "fwgate"},
                   {"fullName", "fwgate check: firewall reload gate"},
                   {"version", std::string(kVersion)},
                   {"semanticVersion", std::string(kVersion)},
                   {"rules", rules}}}}},
               {"invocations", ojson::array({invocation})},
               {"results", jresults},
               {"properties",
                {{"verdict", std::string(OutcomeName(r.verdict))},
                 {"cause", std::string(check::CauseName(r.cause))},
                 {"reasons", reasons},
                 {"proposed", r.proposed},
                 {"current", r.current},
                 {"reload", r.reload},
                 {"fleet", r.fleet_source}}}};
  ojson log = {{"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
               {"version", "2.1.0"},
               {"runs", ojson::array({run})}};
  return log.dump(2, ' ', false, ojson::error_handler_t::replace) + "\n";
}

std::string CheckToGithub(const CheckReport& r, const std::string& source_root) {
  std::string o;
  // The verdict first: the Actions UI keeps only the first 10 errors of a step.
  std::string verdict = fmt::format("fwgate check: {}", OutcomeName(r.verdict));
  std::string why(VerdictHeadline(r.verdict));
  for (const auto& x : r.reasons) why += "\n" + x;
  if (auto cs = CauseSentence(r.cause); !cs.empty()) why += "\n" + std::string(cs);
  o += fmt::format("::{} title={}::{}\n", r.verdict == Outcome::kPass ? "notice" : "error",
                   GithubProperty(verdict), GithubData(why));
  for (const Finding* f : FindingsInOrder(r)) {
    std::vector<std::string> props;
    std::optional<std::string> file;
    if (f->location && f->location->known()) file = RepoRelative(f->location->file, source_root);
    // No file for findings about the fleet or the reload (or in another revision's file): the
    // annotation then shows on the run's summary rather than on an unrelated line.
    if (file) {
      const SourceLocation& l = *f->location;
      props.push_back("file=" + GithubProperty(*file));
      props.push_back(fmt::format("line={}", l.line));
      if (l.end_line >= l.line) props.push_back(fmt::format("endLine={}", l.end_line));
      if (l.column > 0) props.push_back(fmt::format("col={}", l.column));
    }
    std::string title = "fwgate " + (f->stage.empty() ? std::string("check") : f->stage) + ": " +
                        f->id + (f->node.empty() ? "" : " on " + f->node);
    props.push_back("title=" + GithubProperty(OneLine(title, 200)));
    std::string body = FindingBody(*f);
    while (!body.empty() && body.back() == '\n') body.pop_back();
    std::string line = fmt::format("::{} ", GithubCommand(*f));
    for (size_t i = 0; i < props.size(); ++i) line += (i ? "," : "") + props[i];
    o += line + "::" + GithubData(body) + "\n";
  }
  return o;
}

}  // namespace fwgate::report
