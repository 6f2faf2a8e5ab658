// What a replay found, as plain values, and the pure rules that turn engine measurements into a
// verdict: a connection is broken when it was reset or stalled longer than the threshold after
// the reload began; the run is survived, broken, or unknown (could not decide).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "simulator/replay/lab_health.h"
#include "simulator/workload/engine.h"

namespace fwgate::replay {

enum class Verdict { kSurvived, kBroken, kUnknown };
[[nodiscard]] std::string_view VerdictName(Verdict v);  // "survived", "broken", "unknown"

struct ConnOutcome {
  workload::ConnResult result;
  bool broken = false;
  std::string reason;  // "reset", "stall", "closed", "beyond-stale-window" when broken
  // Set when the node's kernel judges the connection broken although the lab kernel let it
  // recover: "broken on 4.15: moved N bytes beyond the stale window; this lab kernel tolerates
  // it" (docs/replay-fidelity.md, window overshoot).
  std::string kernel_note;
};

// Broken if reset, closed by the peer, or the longest stall after the mark exceeds `threshold`.
[[nodiscard]] ConnOutcome JudgeConnection(const workload::ConnResult& r,
                                          std::chrono::milliseconds threshold);

struct ConntrackDelta {
  uint64_t invalid = 0, drop = 0, early_drop = 0, insert_failed = 0;
  uint64_t count_before = 0, count = 0;  // entries at the mark and at the end
  bool available = false;                // false when the stats could not be read
};

struct NamedCounter {
  std::string table, name;
  uint64_t packets_before = 0, packets_after = 0;
  uint64_t bytes_before = 0, bytes_after = 0;
};

// One nftables commit a node made during the reload, as the lab followed it
// (docs/kernel-conntrack.md §7 note c).
struct CommitView {
  uint32_t generation = 0;
  int64_t at_ms = 0;    // since the reload began (the mark)
  std::string process;  // the committing program, as the kernel names it ("" unknown)
  std::string change;   // "-1 table, -3 chains, -14 rules"
  std::map<std::string, int> ct_users;  // after the commit: "ipv4" -> 1, "ipv6" -> 1
};

// A time in which a family had no conntrack user in the node (its hooks unregistered on
// kernels >= 4.14, docs/kernel-conntrack.md §2.1).
struct NoCtUserView {
  std::string family;  // "ipv4" | "ipv6"
  int64_t from_ms = 0;
  int64_t to_ms = -1;  // -1: still none when the reload ended
};

struct NodeReport {
  std::string name;
  std::string kernel;        // as given on the command line; "" = the lab's own
  std::string kernel_class;  // "continuous" | "stale-gap" | "refixup"
  std::string emulation;     // "native" | "continuous" | "stale-gap"
  std::string emulation_reason;
  int be_liberal = 0;  // value in the node namespace during the run
  ConntrackDelta conntrack;
  std::vector<NamedCounter> counters;
  std::vector<std::string> reload_steps;  // "flush at +0 ms (3 ms)", since the reload moment
  // The reload as measured, in ms since the reload moment (the mark): each step's start, its
  // commit (libnftables inside the step's runner had the kernel's answer; unset for commands and
  // iptables restores) and its end; the node's first start and last end (-1: no step ran).
  struct StepTiming {
    std::string label;
    int64_t start_ms = 0;
    std::optional<int64_t> commit_ms;
    int64_t end_ms = 0;
  };
  std::vector<StepTiming> reload_timing;
  int64_t reload_start_ms = -1, reload_end_ms = -1;
  int conns_total = 0, conns_broken = 0;
  // Commit following (every reload style): the commits, when conntrack had no user, and whether
  // the commits could be followed at all (when not, the run cannot decide).
  std::vector<CommitView> commits;
  std::vector<NoCtUserView> no_ct_user;
  bool commits_followed = true;
  std::string follow_failure;
  std::string emulation_mechanism;  // what the lab did around the reload (emulation.h)
  // The node's tables once the run is over and the emulation has ended ("inet storage"): what
  // the reload left, and proof that nothing of the lab's stayed.
  std::vector<std::string> tables_after;
};

struct ClassSummary {
  int total = 0, broken = 0;
  int64_t max_stall_ms = 0;
  uint64_t bytes_before = 0, bytes_after = 0;
};

struct ReplayReport {
  Verdict verdict = Verdict::kUnknown;
  std::string reason;  // one line: why this verdict
  std::string reload;  // procedure description
  std::string current, proposed;
  std::chrono::milliseconds stall_threshold{2000};
  std::chrono::milliseconds warmup{0}, after_mark{0};
  std::vector<NodeReport> nodes;
  std::vector<ConnOutcome> connections;
  std::map<std::string, ClassSummary> classes;  // by class name
  int64_t max_stall_ms = 0;
  workload::Timeline timeline;
  LabHealth lab_health;  // whether the lab could see what the verdict needs (lab_health.h)
};

// Fills per-node connection counts, the class table, max stall, verdict and reason from
// `connections` (already judged). Unknown when there are no connections, or one carried no
// bytes before the mark (it never worked under the current ruleset, so survival means nothing),
// or a node's commits could not be followed (its emulation may not have matched its kernel).
void Summarize(ReplayReport& report);

// Node a connection endpoint belongs to counts both ends ("client" is not a node).
[[nodiscard]] bool Touches(const workload::ConnResult& r, const std::string& node);

}  // namespace fwgate::replay
