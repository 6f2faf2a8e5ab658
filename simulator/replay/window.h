// How long a replay watches traffic, sized from what the verdict needs: the warmup, the reload
// itself, then one stall threshold plus the workload's longest periodic interval plus a margin,
// so a connection the reload broke is seen stalled past the threshold before traffic stops.
#pragma once

#include <chrono>

#include "simulator/replay/workload_shape.h"

namespace fwgate::replay {

// Past one threshold and one interval after the last reload step: covers the lab's own
// resolution (see LabHealth::resolution_limit, which it bounds).
inline constexpr std::chrono::milliseconds kWatchMargin{500};

// Longest periodic interval any flow of `plan` uses (0 with no periodic flow): a periodic
// flow's normal rhythm is not a stall, so a stall is only measured past it.
[[nodiscard]] std::chrono::milliseconds LongestInterval(const WorkloadPlan& plan);

// Traffic to watch after the last node's last reload step ended.
[[nodiscard]] std::chrono::milliseconds WatchAfterReload(
    std::chrono::milliseconds stall_threshold, std::chrono::milliseconds longest_interval,
    std::chrono::milliseconds margin = kWatchMargin);

}  // namespace fwgate::replay
