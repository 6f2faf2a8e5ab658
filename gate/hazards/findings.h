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
};

// Entries a simultaneous restart of all daemons needs, from the node's own timeouts.
struct StormEstimate {
  uint64_t established = 0;  // entries now (nf_conntrack_count)
  double attempts_per_s = 0;
  int64_t linger_s = 0;      // max(tcp_timeout_syn_sent, tcp_timeout_time_wait)
  int64_t close_s = 0;       // tcp_timeout_close: the best case, every attempt refused by RST
  uint64_t needed = 0;       // established + attempts_per_s x linger_s
  uint64_t needed_best = 0;  // established + attempts_per_s x close_s
  uint64_t max = 0;
};
[[nodiscard]] std::optional<StormEstimate> EstimateRestartStorm(const probe::NodeFacts& node,
                                                                const FindingsConfig& config);

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

// Per-node findings, most severe first. An unreachable node gets "probe-failed" (undecided).
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
