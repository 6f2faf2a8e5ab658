// The gate: one verdict for one change on one fleet. Stages run in order (validate both
// rulesets, the plan, policy findings on the change, reload lint, fleet facts, lab replays of
// the change and of the reload procedure alone), each a result with findings; the verdict is
// pass, fail or undecided with the reasons, each tied to its stage and, where it is about a
// rule, to that rule's FILE:LINE:COL. Renderers (report/check_*.h) turn a CheckReport into text,
// JSON, JUnit, SARIF, GitHub annotations, Markdown and HTML. Thread-safety: RunCheck is
// reentrant; a CheckReport is a plain value.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/finding.h"
#include "base/outcome.h"
#include "gate/diff/diff.h"
#include "gate/diff/traffic.h"
#include "gate/nft/loader.h"
#include "gate/probe/facts.h"
#include "simulator/replay/verdict.h"

namespace fwgate::check {

enum class StageId { kValidate, kPlan, kPolicy, kReloadLint, kFleet, kReplay };
// "validate", "plan", "policy", "reload-lint", "fleet", "replay": the JSON value.
[[nodiscard]] std::string_view StageName(StageId id);
// One line on what the stage answers, for reports ("Is the change safe for open connections?").
[[nodiscard]] std::string_view StageQuestion(StageId id);

struct StageResult {
  StageId id = StageId::kValidate;
  bool ran = false;            // false: skipped (see skipped_reason)
  std::string skipped_reason;  // "validation failed", "--no-lab", ...
  Outcome outcome = Outcome::kPass;
  std::string summary;            // one line
  std::vector<Finding> findings;  // stage is set on each
  std::chrono::milliseconds took{0};
};

// One fleet node as the gate saw it (probed or declared).
struct NodeRow {
  std::string name;
  std::string kernel;        // release; "" when unknown
  std::string kernel_class;  // "continuous" | "stale-gap" | "refixup" | ""
  int be_liberal = -1;       // -1: unknown
  bool reachable = true;
  std::string lab_node;  // the lab node that stands for it in the replay ("node2")
  Outcome outcome = Outcome::kPass;
  std::string note;  // why not pass, in a few words
};

// One lab replay the gate ran.
struct ReplayRun {
  std::string label;  // "baseline" (current -> current) or "proposed" (current -> proposed)
  std::string what;   // "the reload procedure alone: current -> current, flush-then-load"
  replay::ReplayReport report;
  // lab node -> the fleet nodes (or declared kernel groups) it stands for
  std::vector<std::pair<std::string, std::vector<std::string>>> stands_for;
};

// What the change's failure is due to, when the replay decides it.
enum class Cause { kNone, kChange, kReloadProcedure, kBoth };
[[nodiscard]] std::string_view CauseName(Cause c);  // "none", "change", "reload-procedure", "both"

struct CheckReport {
  static constexpr int kSchemaVersion = 1;
  Outcome verdict = Outcome::kUndecided;
  // One line each, most important first: "policy: the established/related accept was removed
  // from inet storage input (fw/storage.nft:14:3)".
  std::vector<std::string> reasons;
  Cause cause = Cause::kNone;

  // Inputs as the user gave them.
  std::string proposed;      // the proposed file
  std::string current;       // "origin/main:fw/storage.nft", a file, "live ruleset of this host"
  std::string reload;        // the reload procedure ("flush-then-load (gap 1000 ms)")
  std::string fleet_source;  // "inventory inv.ini (limit storage)", "declared", "the lab's kernel"

  std::vector<StageResult> stages;  // in order; skipped ones included
  diff::Plan plan;
  // The traffic that changes verdict (docs/traffic-diff.md), when both rulesets loaded.
  std::optional<traffic::TrafficDiff> traffic;
  std::vector<NodeRow> nodes;
  std::optional<ReplayRun> baseline, proposed_run;
  std::chrono::milliseconds took{0};

  // Every finding of every stage, in stage order.
  [[nodiscard]] std::vector<const Finding*> AllFindings() const;
  [[nodiscard]] const StageResult* Stage(StageId id) const;
};

}  // namespace fwgate::check
