// How the workload is split over worker processes when one process cannot hold every socket:
// listeners are the unit (a connection goes where its target listener is, so both of its ends
// share one process), packed so each worker stays within a descriptor budget. Pure; no OS calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"

namespace fwgate::workload {

struct Shard {
  std::vector<uint32_t> listeners;  // listener indices, ascending
  size_t connections = 0;
  size_t fds = 0;  // 2 per connection + 1 per listener
};

// Splits listeners into the fewest shards (found by trying k = lower bound, k+1, ...) whose
// engine descriptors (2 per connection, 1 per listener) each stay within `fd_budget`, balanced by
// placing the largest listener first on the least-loaded shard. `conns_per_listener[i]` counts
// the connections targeting listener i; `listener_names[i]` names it in errors ("node1
// 10.0.0.1:6800"). A listener that alone exceeds the budget is an error that says to spread its
// connections over more listener ports.
[[nodiscard]] Result<std::vector<Shard>> PlanShards(const std::vector<size_t>& conns_per_listener,
                                                    const std::vector<std::string>& listener_names,
                                                    size_t fd_budget);

}  // namespace fwgate::workload
