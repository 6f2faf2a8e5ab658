#include "report/scenario_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

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
                     {"max", s.estimate->max}};
  }
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
    json jr{{"name", o.name},
            {"description", o.description},
            {"expected", o.expected},
            {"observed", o.observed},
            {"as_expected", o.as_expected}};
    if (o.storm) jr["storm"] = StormJson(*o.storm);
    if (o.reload) jr["reload"] = ReloadJson(*o.reload);
    runs.push_back(std::move(jr));
  }
  j["runs"] = runs;
  return j;
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
    if (run.storm) {
      const auto& s = *run.storm;
      o += fmt::format(
          "  table: budget {} (host max {} less {} filler entries), baseline {}, peak {}\n",
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
            "  probe estimate: {} entries needed ({} established + {:.0f}/s x {} s), {} at best "
            "(x {} s); measured peak {}, filling at {:.0f}/s: the estimate {} overflow, the lab "
            "{}\n",
            s.estimate->needed, s.estimate->established, s.estimate->attempts_per_s,
            s.estimate->linger_s, s.estimate->needed_best, s.estimate->close_s, s.peak_entries,
            s.measured_rate, s.estimate_overflows ? "predicts" : "predicts no",
            s.lab_overflowed ? "dropped packets" : "dropped none");
      }
    }
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
