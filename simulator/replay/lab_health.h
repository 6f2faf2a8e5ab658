// Whether the lab could see what the verdict needs: from the replay's own health numbers (engine
// loop lateness, reload start spread, how long traffic was watched after the last reload), the
// stall resolution achieved and, when it cannot tell a healthy flow from a broken one, why not.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace fwgate::replay {

// What the replay measured about itself (plain values; see JudgeLabHealth).
struct LabMeasurements {
  // Worst engine loop iteration lateness over every worker: time past its deadline the loop
  // woke, or a periodic send ran late, or one iteration stayed busy (workload::Report). It
  // includes time the loop waited for a CPU, so CPU starvation and workers behind schedule
  // both show here.
  std::chrono::milliseconds loop_lateness{0};
  std::chrono::microseconds mark_skew{0};  // sharded: how late the last worker read the mark
  size_t workers = 0;                      // worker processes (0: the engine ran in-process)
  // Nodes meant to start their reload at once (or `rolling` apart): how far apart their
  // measured first-step starts are, once each node's planned offset is taken off.
  std::chrono::milliseconds reload_start_spread{0};
  // From the end of the last node's last reload step to the end of traffic.
  std::chrono::milliseconds watched_after_reload{0};
  std::chrono::milliseconds longest_interval{0};  // longest periodic interval in the workload
  std::chrono::milliseconds stall_threshold{2000};
};

struct LabHealth {
  LabMeasurements measured;
  // How much longer (or shorter) a measured stall can be than the real one: both ends of a
  // connection are served by one loop, so the sender's lateness and the receiver's add, plus
  // the engine's 10 ms progress resolution.
  std::chrono::milliseconds resolution{0};
  // The largest resolution that still decides: half the stall threshold (a healthy flow that
  // recovers by retransmission must stay clearly below it), and no more than the slack the
  // watch window leaves past one threshold and one periodic interval after the last reload (a
  // stall still running at the end must be seen to exceed the threshold).
  std::chrono::milliseconds resolution_limit{0};
  bool overloaded = false;  // the lab could not resolve the stalls the verdict needs
  std::string reason;       // "lab overloaded: ..." when overloaded
  bool judged = false;      // false: the replay stopped before traffic ran (no numbers)
};

// The engine's own timing resolution (epoll loop tick and progress granularity).
inline constexpr std::chrono::milliseconds kEngineResolution{10};

// Pure: judges `m`. Overloaded when resolution exceeds resolution_limit, or when reloads meant
// to start together started more than one stall threshold apart (the run did not replay what
// was asked).
[[nodiscard]] LabHealth JudgeLabHealth(const LabMeasurements& m);

struct ReplayReport;  // verdict.h

// Stores `health` in `report`; when overloaded, the verdict becomes unknown ("could not
// decide", never survived or broken) with the health reason first.
void ApplyLabHealth(ReplayReport& report, LabHealth health);

}  // namespace fwgate::replay
