#include "simulator/replay/window.h"

#include <algorithm>

namespace fwgate::replay {

std::chrono::milliseconds LongestInterval(const WorkloadPlan& plan) {
  std::chrono::milliseconds out{0};
  for (const auto& c : plan.conns) {
    for (const auto* f : {&c.forward, &c.reverse}) {
      if (f->kind == workload::Flow::Kind::kPeriodic) out = std::max(out, f->interval);
    }
  }
  return out;
}

std::chrono::milliseconds WatchAfterReload(std::chrono::milliseconds stall_threshold,
                                           std::chrono::milliseconds longest_interval,
                                           std::chrono::milliseconds margin) {
  return stall_threshold + longest_interval + margin;
}

}  // namespace fwgate::replay
