// Findings: the kernel knowledge base (docs/kernel-conntrack.md) applied to probed node facts.
// One table of rules, each with an id, a severity, the facts section it rests on and a check.
// Pure functions of plain values; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/finding.h"
#include "base/outcome.h"
#include "gate/probe/facts.h"

namespace fwgate::hazards {

using fwgate::Finding;
using fwgate::Severity;

struct FindingsConfig {
  // Table headroom: count/max at or above these fractions (docs/kernel-conntrack.md §4.3: early
  // drop at 95 % on 4.15+, hard drops at 100 %).
  double headroom_warn = 0.70;
  double headroom_block = 0.90;
  // Restart storm (docs/kernel-conntrack.md §4.4, §8): the 2014 Ceph host had 8 OSDs whose
  // reconnect spin reached ~500 attempts/s in total, i.e. 62.5 per daemon; each attempt lingers
  // for the SYN_SENT / TIME_WAIT timeout (120 s by default).
  // 6000 established + 500/s x 120 s = 66000 > 65536.
  int storm_daemons = 8;
  double storm_attempts_per_daemon = 62.5;
  // How long one daemon's restart keeps its peers spinning when it restarts alone: down time
  // plus boot work, in seconds (daemons restarted together share the host, so K of them spin
  // for storm_down_s + K x storm_boot_s). 0: unknown; the spin is then taken to last at least
  // the linger time, as in 2014, where the OSDs spun for about 15 minutes.
  double storm_down_s = 0;
  double storm_boot_s = 0;
  // Head room the storm plan keeps below nf_conntrack_max: the peak estimate stays under
  // max / (1 + margin).
  double storm_margin = 0.25;
};

// Entries a simultaneous restart of all daemons needs, from the node's own timeouts.
struct StormEstimate {
  uint64_t established = 0;  // entries now (nf_conntrack_count)
  double attempts_per_s = 0;
  int64_t linger_s = 0;      // the longest timeout an attempt can end in: max(tcp_timeout_syn_sent,
                             // _time_wait, _fin_wait, _close_wait, _last_ack)
  int64_t close_s = 0;       // tcp_timeout_close: the best case, every attempt refused by RST
  double spin_s = 0;         // how long the reconnect spin lasts (storm_down_s + daemons x
                             // storm_boot_s), or linger_s when the boot time is unknown
  uint64_t needed = 0;       // established + attempts_per_s x min(spin_s, linger_s)
  uint64_t needed_best = 0;  // established + attempts_per_s x close_s
  uint64_t max = 0;
};
[[nodiscard]] std::optional<StormEstimate> EstimateRestartStorm(const probe::NodeFacts& node,
                                                                const FindingsConfig& config);

// What keeps a node's restart storm under its limit (docs/kernel-conntrack.md §4.4 model, with the
// margin above): a table that fits every daemon restarting at once, or restarts spaced so that
// fewer overlap. Model of the spacing when the boot time is unknown: a restarted daemon holds
// attempts_per_daemon x linger_s entries for linger_s seconds, so restarts T seconds apart overlap
// ceil(linger_s / T) daemons. With a known boot time, daemons restart one at a time: each spins
// for storm_down_s + storm_boot_s and leaves attempts_per_daemon x that spin entries for
// linger_s seconds; T is at least the spin and long enough that the bursts alive within one
// linger time fit under the target.
struct StormPlan {
  StormEstimate estimate;
  double margin = 0;
  uint64_t target = 0;         // the peak must stay at or under this: max / (1 + margin)
  uint64_t per_daemon = 0;     // entries one restarting daemon holds
  int max_together = 0;        // daemons that may restart at once under `target` (0: not even one)
  int64_t stagger_s = 0;       // seconds between restarts; 0 when all at once fits, -1 when no
                               // spacing fits (the table must grow)
  uint64_t conntrack_max = 0;  // nf_conntrack_max fitting all daemons at once with the margin
                               // (rounded up to a multiple of 16384)
  uint64_t hashsize = 0;       // nf_conntrack hashsize for that max: max / 4 before 5.15, max from
                               // 5.15 (each era's default ratio, docs/kernel-conntrack.md §4.1)
};
[[nodiscard]] std::optional<StormPlan> PlanRestartStorm(const probe::NodeFacts& node,
                                                        const FindingsConfig& config);

// The peak of entries the plan's model gives for restarts `stagger_s` apart, one at a time
// (0: all at once, the estimate's `needed`): once the spacing is at least one daemon's spin, the
// bursts of the restarts within one linger time add up on the entries there now.
[[nodiscard]] uint64_t StaggeredPeak(const StormPlan& plan, const FindingsConfig& config,
                                     double stagger_s);

// True when the node is not tracking at all: a 4.14+ kernel whose rules (all readable) use no
// conntrack and no enable_hooks (docs/kernel-conntrack.md §2.1). Such a node gets no storm or table
// findings.
[[nodiscard]] bool NotTracking(const probe::NodeFacts& node);

// The count and limit a node reported (sysctls first, ctnetlink/procfs statistics second).
[[nodiscard]] std::optional<uint64_t> ConntrackCount(const probe::NodeFacts& node);
[[nodiscard]] std::optional<uint64_t> ConntrackMax(const probe::NodeFacts& node);

// One row of the rule table (exposed for --help/docs and tests).
struct FindingRule {
  std::string_view id;
  Severity severity;
  std::string_view source;
  bool undecided;
  std::string_view summary;
};
[[nodiscard]] std::vector<FindingRule> NodeRules();
[[nodiscard]] std::vector<FindingRule> FleetRules();

// Per-node findings, most severe first, each with its fix (words, commands, persistent lines)
// where one exists. An unreachable node gets only "probe-failed" (undecided: its own state, not
// a verdict).
[[nodiscard]] std::vector<Finding> JudgeNode(const probe::NodeFacts& node,
                                             const FindingsConfig& config = {});

// Findings about the fleet as a whole (mixed kernel classes or be_liberal values,
// docs/kernel-conntrack.md §8).
[[nodiscard]] std::vector<Finding> JudgeFleet(const std::vector<probe::NodeFacts>& nodes,
                                              const FindingsConfig& config = {});

// Outcome of a probe run: fail when any decided blocking finding exists (the answer is "no"
// whatever the unread nodes say); else undecided when anything is undecided (a node unreachable
// or a deciding fact unreadable); else pass. "Could not decide" is never reported as pass.
[[nodiscard]] Outcome ProbeOutcome(const std::vector<std::vector<Finding>>& node_findings,
                                   const std::vector<Finding>& fleet_findings);

}  // namespace fwgate::hazards
