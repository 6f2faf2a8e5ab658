// Runs a scenario: each run side by side with its expected outcome, then the scenario verdict
// "reproduced" (every run gave its expected outcome) or "not reproduced" naming the run that
// differed; "could not run" when a run could not be made faithful here (no privilege, a host
// table too small to leave the scenario's budget, ...). Reload scenarios run the replay; storm
// scenarios fill the restarted node's table to the scenario's budget (sys/ct_budget.h), run the
// restartable daemons and sample the node's table, conntrack statistics and kernel log.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/outcome.h"
#include "base/result.h"
#include "gate/hazards/findings.h"
#include "gate/nft/loader.h"
#include "simulator/replay/verdict.h"
#include "simulator/scenarios/scenario.h"
#include "simulator/workload/daemons.h"

namespace fwgate::scenarios {

struct RunOptions {
  std::string rulesets_dir;  // where a scenario's ruleset names resolve
  const std::atomic<bool>* stop = nullptr;
  std::function<void(const std::string&)> progress;  // one line per stage, optional
  std::chrono::milliseconds sample_interval{250};    // storm: table and counters
  // Reload runs the lab was too loaded to measure are made again, this many attempts in all.
  int reload_attempts = 3;
};

struct ReloadRunResult {
  ReloadRun run;
  replay::ReplayReport report;
  // Connections touching one of the expectation's nodes (or, with none named, every node whose
  // kernel is 4.14-4.18), and the others.
  int touching = 0, touching_broken = 0, others = 0, others_broken = 0;
  uint64_t invalid = 0;  // conntrack INVALID on all nodes during the run
};

struct StormSample {
  int64_t t_ms = 0;                                      // since the daemons started
  uint64_t entries = 0;                                  // the node's entries less the filler
  uint64_t drop = 0, early_drop = 0, insert_failed = 0;  // since the first restart
  uint64_t table_full = 0;  // kernel "table full" lines naming the node's namespace
  uint64_t attempts = 0, failures = 0;
  int sessions_up = 0;
};

struct StormRunResult {
  StormRun run;
  uint64_t budget = 0, fill = 0, host_max = 0;
  int64_t fill_ms = 0;
  std::map<std::string, int64_t> timeouts;  // as read back in the node after setting them
  std::vector<StormSample> samples;
  int64_t restart_ms = 0;  // first restart, on the samples' clock
  uint64_t baseline_entries = 0;
  uint64_t peak_entries = 0;
  uint64_t drops = 0, early_drops = 0, insert_failed = 0;
  uint64_t table_full_lines = 0;      // naming this node's namespace
  uint64_t table_full_other = 0;      // the same line without a namespace (kernels before 6.x)
  workload::DaemonCounters counters;  // since the first restart
  std::vector<workload::DaemonState> daemons;
  // From the first restart until every daemon's sessions were back; -1: not within the run.
  int64_t recovery_ms = -1;
  // gate/hazards' storm estimate for the same daemons, rate (sessions / retry) and timeouts.
  std::optional<hazards::StormEstimate> estimate;
  // The estimate's peak for this run's schedule (all at once: `needed`; staggered:
  // hazards::StaggeredPeak).
  uint64_t estimate_peak = 0;
  // The estimate's verdict (needed above the budget) and the lab's (packets dropped); the
  // measured fill rate (entries per second from the first restart until the peak or the table
  // full), to set beside the estimate's attempts_per_s.
  bool estimate_overflows = false;
  bool lab_overflowed = false;
  double measured_rate = 0;
};

struct RunOutcome {
  std::string name, description;
  std::string expected, observed;  // one line each
  bool as_expected = false;
  // The lab could not decide (a reload run whose replay stayed undecided, e.g. overloaded after
  // every attempt): neither as expected nor a difference.
  bool undecided = false;
  int attempts = 1;
  std::vector<std::string> retried_because;  // why each earlier attempt decided nothing
  std::optional<ReloadRunResult> reload;
  std::optional<StormRunResult> storm;
};

struct ScenarioResult {
  Scenario scenario;
  std::vector<RunOutcome> runs;
  Outcome outcome = Outcome::kUndecided;  // pass: reproduced, fail: not reproduced
  std::string verdict;  // "reproduced" | "not reproduced" | "could not run" | "could not decide"
  std::string reason;   // which run differed, or why it could not run
  std::chrono::milliseconds took{0};
};

// Runs every run of `s` in order. An Error means the scenario could not run at all (exit 3);
// a run that cannot be made faithful also ends it with kUndecided and its reason.
[[nodiscard]] Result<ScenarioResult> RunScenario(const Scenario& s, const RunOptions& options);

// One storm run on `host` with its ruleset already loaded (`fwgate replay --restart`; scenario
// runs load host.ruleset by name and come here). An Error means the run could not be made
// faithful here (no room for the budget, the lab could not be built, interrupted).
[[nodiscard]] Result<StormRunResult> RunStormRun(const StormHost& host, const StormRun& run,
                                                 const nft::LoadResult& ruleset,
                                                 const RunOptions& options);

// The scenario verdict from its runs (pure): "not reproduced" naming the first run that differed;
// else "could not decide" (kUndecided) naming the first undecided run; else "reproduced".
void Conclude(ScenarioResult& result);

// The expected-outcome judgement of a storm run (pure), given the other runs' results for
// "fewer than RUN".
[[nodiscard]] bool JudgeStorm(const StormRunResult& r, const std::vector<RunOutcome>& earlier,
                              std::string* observed);
// The same for a reload run.
[[nodiscard]] bool JudgeReload(const ReloadRunResult& r, std::string* observed);

// "expected" line of a run (pure).
[[nodiscard]] std::string ExpectedText(const ReloadRun& r);
[[nodiscard]] std::string ExpectedText(const StormRun& r);

}  // namespace fwgate::scenarios
