#include "report/scenario_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "base/text.h"
#include "report/replay_report.h"

namespace fwgate::report {

using nlohmann::json;
using scenarios::RunOutcome;
using scenarios::ScenarioResult;
using scenarios::StormRunResult;

namespace {

std::string Secs(int64_t ms) { return fmt::format("{:.1f} s", static_cast<double>(ms) / 1000.0); }

std::string KindName(scenarios::Kind k) {
  return k == scenarios::Kind::kReload ? "reload" : "storm";
}

json StormJson(const StormRunResult& s) {
  json j{{"table_size", s.budget},
         {"fill", s.fill},
         {"host_max", s.host_max},
         {"fill_ms", s.fill_ms},
         {"stagger_ms", s.run.stagger_ms},
         {"timeouts", s.timeouts},
         {"baseline_entries", s.baseline_entries},
         {"peak_entries", s.peak_entries},
         {"drops", s.drops},
         {"early_drops", s.early_drops},
         {"insert_failed", s.insert_failed},
         {"table_full_lines", s.table_full_lines},
         {"table_full_lines_unnamed", s.table_full_other},
         {"recovery_ms", s.recovery_ms},
         {"counters",
          {{"attempts", s.counters.attempts},
           {"refused", s.counters.refused},
           {"timed_out", s.counters.timed_out},
           {"rejected", s.counters.rejected},
           {"sessions_made", s.counters.sessions_made}}}};
  json daemons = json::array();
  for (const auto& d : s.daemons) {
    daemons.push_back({{"name", d.name},
                       {"up", d.up},
                       {"sessions_up", d.sessions_up},
                       {"restarted_ms", d.restarted_ms},
                       {"back_ms", d.back_ms}});
  }
  j["daemons"] = daemons;
  j["estimate_overflows"] = s.estimate_overflows;
  j["lab_overflowed"] = s.lab_overflowed;
  j["measured_rate"] = s.measured_rate;
  if (s.estimate) {
    j["estimate"] = {{"established", s.estimate->established},
                     {"attempts_per_s", s.estimate->attempts_per_s},
                     {"linger_s", s.estimate->linger_s},
                     {"close_s", s.estimate->close_s},
                     {"needed", s.estimate->needed},
                     {"needed_best", s.estimate->needed_best},
                     {"max", s.estimate->max},
                     {"spin_s", s.estimate->spin_s},
                     {"peak", s.estimate_peak}};
  }
  j["restart_at_ms"] = s.run.restart_at_ms;
  json t = json::array();
  for (const auto& p : s.samples) {
    t.push_back({{"t_ms", p.t_ms},
                 {"entries", p.entries},
                 {"drop", p.drop},
                 {"early_drop", p.early_drop},
                 {"insert_failed", p.insert_failed},
                 {"table_full", p.table_full},
                 {"attempts", p.attempts},
                 {"failures", p.failures},
                 {"sessions_up", p.sessions_up}});
  }
  j["timeline"] = t;
  return j;
}

json ReloadJson(const scenarios::ReloadRunResult& r) {
  json j = ReplayToJson(r.report);
  j["touching"] = {{"total", r.touching}, {"broken", r.touching_broken}};
  j["others"] = {{"total", r.others}, {"broken", r.others_broken}};
  j["invalid"] = r.invalid;
  return j;
}

// Samples about every `step_ms` (the last one always).
std::vector<scenarios::StormSample> Thin(const StormRunResult& s, int64_t step_ms) {
  std::vector<scenarios::StormSample> out;
  int64_t next = std::numeric_limits<int64_t>::min();
  for (size_t i = 0; i < s.samples.size(); ++i) {
    const auto& p = s.samples[i];
    if (p.t_ms >= next || i + 1 == s.samples.size()) {
      out.push_back(p);
      next = p.t_ms + step_ms;
    }
  }
  return out;
}

}  // namespace

json ScenarioToJson(const ScenarioResult& r) {
  json j{{"schema_version", kScenarioSchemaVersion},
         {"scenario", r.scenario.name},
         {"title", r.scenario.title},
         {"kind", KindName(r.scenario.kind)},
         {"incident", r.scenario.incident},
         {"source", r.scenario.source},
         {"verdict", r.verdict},
         {"reason", r.reason},
         {"took_ms", r.took.count()}};
  json runs = json::array();
  for (const RunOutcome& o : r.runs) {
    json jr{
        {"name", o.name},         {"description", o.description},        {"expected", o.expected},
        {"observed", o.observed}, {"as_expected", o.as_expected},        {"undecided", o.undecided},
        {"attempts", o.attempts}, {"retried_because", o.retried_because}};
    if (o.storm) jr["storm"] = StormJson(*o.storm);
    if (o.reload) jr["reload"] = ReloadJson(*o.reload);
    runs.push_back(std::move(jr));
  }
  j["runs"] = runs;
  return j;
}

json StormRunToJson(const StormRunResult& s) { return StormJson(s); }

std::string StormRunToText(const StormRunResult& s) {
  std::string o;
  o +=
      fmt::format("  table: budget {} (host max {} less {} filler entries), baseline {}, peak {}\n",
                  s.budget, s.host_max, s.fill, s.baseline_entries, s.peak_entries);
  o += fmt::format(
      "  conntrack: drop {}, early_drop {}, insert_failed {}; kernel 'table full' lines {}\n",
      s.drops, s.early_drops, s.insert_failed, s.table_full_lines);
  o += fmt::format(
      "  connects: {} attempts, {} refused, {} unanswered, {} reset by a booting "
      "daemon\n",
      s.counters.attempts, s.counters.refused, s.counters.timed_out, s.counters.rejected);
  if (s.estimate) {
    o += fmt::format(
        "  probe estimate: peak {} entries for this schedule (all at once {}: {} established + "
        "{:.0f}/s x {:.1f} s of spin, attempts lingering {} s); measured peak {}, filling at "
        "{:.0f}/s: the estimate {} overflow, the lab {}\n",
        s.estimate_peak, s.estimate->needed, s.estimate->established, s.estimate->attempts_per_s,
        std::min(s.estimate->spin_s, static_cast<double>(s.estimate->linger_s)),
        s.estimate->linger_s, s.peak_entries, s.measured_rate,
        s.estimate_overflows ? "predicts" : "predicts no",
        s.lab_overflowed ? "dropped packets" : "dropped none");
  }
  return o;
}

std::string ScenarioToText(const ScenarioResult& r) {
  std::string o = fmt::format("scenario {}: {}\n", r.scenario.name, r.scenario.title);
  for (size_t i = 0; i < r.runs.size(); ++i) {
    const RunOutcome& run = r.runs[i];
    o += fmt::format("\nrun {}/{} {}: {}\n", i + 1, r.runs.size(), run.name,
                     run.as_expected ? "as expected" : "DIFFERENT");
    if (!run.description.empty()) o += "  " + run.description + "\n";
    o += "  expected: " + run.expected + "\n";
    o += "  observed: " + (run.observed.empty() ? std::string("(did not run)") : run.observed) +
         "\n";
    if (run.storm) o += StormRunToText(*run.storm);
    if (run.reload) {
      const auto& rr = *run.reload;
      o += fmt::format("  reload: {}; max stall {} ms\n", rr.report.reload, rr.report.max_stall_ms);
    }
  }
  o += fmt::format("\n{}: {} ({})\n", r.verdict, r.reason, Secs(r.took.count()));
  return o;
}

std::string ScenarioToMarkdown(const ScenarioResult& r) {
  std::string o = fmt::format("# {}: {}\n\n", r.scenario.name, r.scenario.title);
  if (!r.scenario.incident.empty()) o += "> " + r.scenario.incident + "\n\n";
  if (!r.scenario.source.empty()) o += "Kernel facts: " + r.scenario.source + "\n\n";
  o += fmt::format("**Verdict: {}** — {} ({})\n\n", r.verdict, r.reason, Secs(r.took.count()));
  o += "| run | expected | observed | as expected |\n|---|---|---|---|\n";
  auto cell = [](const std::string& s) {
    std::string out;
    for (char c : s) {
      if (c == '|') {
        out += "\\|";
      } else if (c == '\n') {
        out += ' ';
      } else {
        out += c;
      }
    }
    return out;
  };
  for (const RunOutcome& run : r.runs) {
    o += fmt::format("| {} | {} | {} | {} |\n", cell(run.name), cell(run.expected),
                     cell(run.observed), run.as_expected ? "yes" : "**no**");
  }
  bool storm = std::any_of(r.runs.begin(), r.runs.end(), [](const auto& x) { return x.storm; });
  if (storm) {
    o += "\n## Storm figures\n\n| run | budget | peak entries | drop | early_drop | insert_failed "
         "| table-full lines | attempts | failures | recovery | estimate (needed / best) |\n"
         "|---|---|---|---|---|---|---|---|---|---|---|\n";
    for (const RunOutcome& run : r.runs) {
      if (!run.storm) continue;
      const auto& s = *run.storm;
      std::string est =
          s.estimate ? fmt::format("{} / {}", s.estimate->needed, s.estimate->needed_best) : "-";
      o += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", run.name,
                       s.budget, s.peak_entries, s.drops, s.early_drops, s.insert_failed,
                       s.table_full_lines, s.counters.attempts,
                       s.counters.refused + s.counters.timed_out + s.counters.rejected,
                       s.recovery_ms >= 0 ? Secs(s.recovery_ms) : "not within the run", est);
    }
    for (const RunOutcome& run : r.runs) {
      if (!run.storm) continue;
      o += fmt::format("\n### {} — entries against the budget ({})\n\n", run.name,
                       run.storm->budget);
      o += "| t | entries | drop | table full | sessions up |\n|---|---|---|---|---|\n";
      for (const auto& p : Thin(*run.storm, 1000)) {
        o += fmt::format("| {} | {} | {} | {} | {} |\n", Secs(p.t_ms), p.entries, p.drop,
                         p.table_full, p.sessions_up);
      }
    }
  }
  bool reload = std::any_of(r.runs.begin(), r.runs.end(), [](const auto& x) { return x.reload; });
  if (reload) {
    o += "\n## Connections per run\n\n| run | reload | connections | broken | touching named "
         "nodes (broken) | others (broken) | INVALID |\n|---|---|---|---|---|---|---|\n";
    for (const RunOutcome& run : r.runs) {
      if (!run.reload) continue;
      const auto& rr = *run.reload;
      o += fmt::format("| {} | {} | {} | {} | {} ({}) | {} ({}) | {} |\n", run.name,
                       cell(rr.report.reload), rr.report.connections.size(),
                       rr.touching_broken + rr.others_broken, rr.touching, rr.touching_broken,
                       rr.others, rr.others_broken, rr.invalid);
    }
  }
  return o;
}

namespace {

std::string H(std::string_view s) { return XmlSafe(s); }

// Entries against the budget over time (seconds from the first restart), linear scale; the
// sampling intervals in which packets were dropped are shaded.
std::string StormChart(const RunOutcome& run) {
  const StormRunResult& s = *run.storm;
  constexpr double kW = 640, kH = 300, kL = 70, kR = 16, kT = 34, kB = 46;
  const double pw = kW - kL - kR, ph = kH - kT - kB;
  double t1 = 1;
  for (const auto& p : s.samples) t1 = std::max(t1, static_cast<double>(p.t_ms) / 1000.0);
  const double ymax = static_cast<double>(std::max<uint64_t>(s.budget, s.peak_entries)) * 1.08 + 1;
  auto X = [&](double t) { return kL + std::clamp(t / t1, 0.0, 1.0) * pw; };
  auto Y = [&](double v) { return kT + ph - std::clamp(v / ymax, 0.0, 1.0) * ph; };
  std::string o = fmt::format(
      "<svg class=\"chart\" viewBox=\"0 0 {0} {1}\" width=\"{0}\" height=\"{1}\" role=\"img\" "
      "aria-label=\"{2}\" xmlns=\"http://www.w3.org/2000/svg\" data-run=\"{3}\">\n",
      kW, kH, H(run.name + ": conntrack entries against the budget"), H(run.name));
  // Drops: shade every interval whose cumulative drop count rose.
  for (size_t i = 1; i < s.samples.size(); ++i) {
    if (s.samples[i].drop > s.samples[i - 1].drop) {
      double xa = X(static_cast<double>(s.samples[i - 1].t_ms) / 1000.0);
      double xb = X(static_cast<double>(s.samples[i].t_ms) / 1000.0);
      o += fmt::format(
          "<rect class=\"drops\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\"/>\n",
          xa, kT, std::max(0.5, xb - xa), ph);
    }
  }
  // y grid: five steps.
  for (int k = 0; k <= 5; ++k) {
    double v = ymax * k / 5.0;
    o += fmt::format(
        "<line class=\"grid\" x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\"/>"
        "<text class=\"ytick\" x=\"{:.1f}\" y=\"{:.1f}\">{:.0f}</text>\n",
        kL, Y(v), kL + pw, Y(v), kL - 6, Y(v) + 4, v);
  }
  double step = t1 <= 12 ? 1 : t1 <= 30 ? 5 : t1 <= 120 ? 10 : 30;
  for (double t = 0; t <= t1 + 1e-9; t += step) {
    o += fmt::format("<text class=\"xtick\" x=\"{:.1f}\" y=\"{:.1f}\">{:g}</text>\n", X(t),
                     kT + ph + 16, t);
  }
  o += fmt::format(
      "<line class=\"budget\" x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\"/>"
      "<text class=\"budget-label\" x=\"{:.1f}\" y=\"{:.1f}\">budget {}</text>\n",
      kL, Y(static_cast<double>(s.budget)), kL + pw, Y(static_cast<double>(s.budget)), kL + 6,
      Y(static_cast<double>(s.budget)) - 5, s.budget);
  std::string pts;
  for (const auto& p : s.samples) {
    pts += fmt::format("{}{:.1f},{:.1f}", pts.empty() ? "" : " ",
                       X(static_cast<double>(p.t_ms) / 1000.0), Y(static_cast<double>(p.entries)));
  }
  o += fmt::format(
      "<polyline class=\"entries\" data-points=\"{}\" points=\"{}\"><title>entries: peak {}"
      "</title></polyline>\n",
      s.samples.size(), pts, s.peak_entries);
  o += fmt::format(
      "<rect class=\"frame\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\"/>\n"
      "<text class=\"axis\" x=\"{:.1f}\" y=\"{:.1f}\">seconds from the first restart</text>\n"
      "<text class=\"title\" x=\"{:.1f}\" y=\"20\">{}: entries (less the filler), drops "
      "shaded</text>\n</svg>\n",
      kL, kT, pw, ph, kL + pw / 2, kH - 8, kL, H(run.name));
  return o;
}

constexpr std::string_view kCss =
    "body{font:15px/1.45 system-ui,\"DejaVu Sans\",sans-serif;margin:24px;color:#1f2328}"
    "h1{font-size:22px}table{border-collapse:collapse;margin:12px 0}"
    "td,th{border:1px solid #d0d7de;padding:4px 8px;vertical-align:top;text-align:left}"
    ".yes{color:#1a7f37;font-weight:600}.no{color:#cf222e;font-weight:700}"
    ".verdict{font-size:18px;font-weight:700}.runs{display:flex;flex-wrap:wrap;gap:16px}"
    "figure{margin:0;border:1px solid #d0d7de;padding:8px;max-width:660px}"
    "svg.chart{width:100%;height:auto;display:block}"
    "svg.chart text{font:12px system-ui,\"DejaVu Sans\",sans-serif;fill:#424a53}"
    "svg.chart .ytick{text-anchor:end}svg.chart .xtick,svg.chart .axis{text-anchor:middle}"
    "svg.chart .grid{stroke:#e4e8ec}svg.chart .frame{fill:none;stroke:#8c959f}"
    "svg.chart .budget{stroke:#cf222e;stroke-width:2;stroke-dasharray:8 4}"
    "svg.chart .budget-label{fill:#cf222e}svg.chart .drops{fill:#ffb3b8;opacity:.6}"
    "svg.chart .entries{fill:none;stroke:#0969da;stroke-width:2.5}";

std::string FiguresHtml(const ScenarioResult& r) {
  std::string o;
  bool storm = std::any_of(r.runs.begin(), r.runs.end(), [](const auto& x) { return x.storm; });
  if (storm) {
    o += "<h2>Storm figures</h2><table class=\"storm\"><tr><th>run</th><th>budget</th><th>peak "
         "entries</th><th>drop</th><th>early_drop</th><th>insert_failed</th><th>table-full "
         "lines</th><th>attempts</th><th>failures</th><th>recovery</th><th>probe estimate "
         "(needed / best)</th></tr>\n";
    for (const RunOutcome& run : r.runs) {
      if (!run.storm) continue;
      const auto& s = *run.storm;
      o += fmt::format(
          "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
          "<td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
          H(run.name), s.budget, s.peak_entries, s.drops, s.early_drops, s.insert_failed,
          s.table_full_lines, s.counters.attempts,
          s.counters.refused + s.counters.timed_out + s.counters.rejected,
          s.recovery_ms >= 0 ? Secs(s.recovery_ms) : "not within the run",
          s.estimate ? fmt::format("{} / {}", s.estimate->needed, s.estimate->needed_best) : "-");
    }
    o += "</table>\n";
  }
  bool reload = std::any_of(r.runs.begin(), r.runs.end(), [](const auto& x) { return x.reload; });
  if (reload) {
    o += "<h2>Connections per run</h2><table class=\"reload\"><tr><th>run</th><th>reload</th>"
         "<th>connections</th><th>broken</th><th>touching the named nodes (broken)</th>"
         "<th>others (broken)</th><th>INVALID</th></tr>\n";
    for (const RunOutcome& run : r.runs) {
      if (!run.reload) continue;
      const auto& rr = *run.reload;
      o += fmt::format(
          "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} ({})</td><td>{} ({})</td>"
          "<td>{}</td></tr>\n",
          H(run.name), H(rr.report.reload), rr.report.connections.size(),
          rr.touching_broken + rr.others_broken, rr.touching, rr.touching_broken, rr.others,
          rr.others_broken, rr.invalid);
    }
    o += "</table>\n";
  }
  return o;
}

}  // namespace

std::string ScenarioToHtml(const ScenarioResult& r) {
  std::string o =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta "
      "name=\"viewport\" content=\"width=device-width\"><title>fwgate lab: " +
      H(r.scenario.name) + "</title><style>" + std::string(kCss) + "</style></head><body>\n";
  o += "<h1>" + H(r.scenario.name) + ": " + H(r.scenario.title) + "</h1>\n";
  if (!r.scenario.incident.empty())
    o += "<blockquote>" + H(r.scenario.incident) + "</blockquote>\n";
  o += fmt::format("<p class=\"verdict\" data-verdict=\"{}\">{}</p><p>{} ({})</p>\n", H(r.verdict),
                   H(r.verdict), H(r.reason), Secs(r.took.count()));
  if (!r.scenario.source.empty()) o += "<p>Kernel facts: " + H(r.scenario.source) + "</p>\n";
  o += "<table class=\"runs-table\"><tr><th>run</th><th>description</th><th>expected</th>"
       "<th>observed</th><th>as expected</th></tr>\n";
  for (const RunOutcome& run : r.runs) {
    o += fmt::format(
        "<tr data-run=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}"
        "</td></tr>\n",
        H(run.name), H(run.name), H(run.description), H(run.expected), H(run.observed),
        run.as_expected ? "yes" : "no", run.as_expected ? "yes" : "no");
  }
  o += "</table>\n<div class=\"runs\">\n";
  for (const RunOutcome& run : r.runs) {
    if (!run.storm || run.storm->samples.empty()) continue;
    o += "<figure>" + StormChart(run) + "<figcaption>" + H(run.observed) +
         "</figcaption></figure>\n";
  }
  o += "</div>\n";
  o += FiguresHtml(r);
  o += "</body></html>\n";
  return o;
}

std::string ScenarioListText(const std::vector<scenarios::Scenario>& table) {
  std::string o;
  for (const auto& s : table) {
    o += fmt::format("{:<22} {} ({} runs: ", s.name, s.title, s.run_count());
    std::string names;
    for (const auto& r : s.reload_runs) names += (names.empty() ? "" : ", ") + r.name;
    for (const auto& r : s.storm_runs) names += (names.empty() ? "" : ", ") + r.name;
    o += names + ")\n";
  }
  return o;
}

json ScenarioListJson(const std::vector<scenarios::Scenario>& table) {
  json list = json::array();
  for (const auto& s : table) {
    json runs = json::array();
    for (const auto& r : s.reload_runs) {
      runs.push_back({{"name", r.name},
                      {"description", r.description},
                      {"expected", scenarios::ExpectedText(r)}});
    }
    for (const auto& r : s.storm_runs) {
      runs.push_back({{"name", r.name},
                      {"description", r.description},
                      {"expected", scenarios::ExpectedText(r)}});
    }
    list.push_back({{"name", s.name},
                    {"title", s.title},
                    {"kind", KindName(s.kind)},
                    {"source", s.source},
                    {"runs", runs}});
  }
  return json{{"schema_version", kScenarioSchemaVersion}, {"scenarios", list}};
}

}  // namespace fwgate::report
