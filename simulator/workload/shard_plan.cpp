#include "simulator/workload/shard_plan.h"

#include <algorithm>
#include <numeric>

namespace fwgate::workload {

Result<std::vector<Shard>> PlanShards(const std::vector<size_t>& conns_per_listener,
                                      const std::vector<std::string>& listener_names,
                                      size_t fd_budget) {
  const size_t n = conns_per_listener.size();
  if (n == 0) return Error::BadInput("no listeners to shard the workload over");
  std::vector<size_t> cost(n);
  size_t total = 0;
  for (size_t i = 0; i < n; ++i) {
    cost[i] = 2 * conns_per_listener[i] + 1;
    total += cost[i];
    if (cost[i] > fd_budget) {
      std::string name = i < listener_names.size() ? listener_names[i] : "#" + std::to_string(i);
      return Error::BadInput(
          "listener " + name + " has " + std::to_string(conns_per_listener[i]) +
          " connections but one worker process can hold at most " +
          std::to_string(fd_budget > 0 ? (fd_budget - 1) / 2 : 0) +
          " (both ends of a connection live in the worker that owns its listener; " +
          std::to_string(fd_budget) +
          " descriptors per process): spread the connections over more listener ports "
          "(e.g. more OSD ports per node)");
    }
  }
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0U);
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return cost[a] > cost[b]; });
  // Each listener fits alone, so k = n always succeeds.
  for (size_t k = std::max<size_t>(1, (total + fd_budget - 1) / fd_budget); k <= n; ++k) {
    std::vector<Shard> shards(k);
    bool fits = true;
    for (uint32_t l : order) {
      auto least = std::min_element(shards.begin(), shards.end(),
                                    [](const Shard& a, const Shard& b) { return a.fds < b.fds; });
      least->listeners.push_back(l);
      least->connections += conns_per_listener[l];
      least->fds += cost[l];
      if (least->fds > fd_budget) {
        fits = false;
        break;
      }
    }
    if (!fits) continue;
    for (Shard& s : shards) std::sort(s.listeners.begin(), s.listeners.end());
    return shards;
  }
  return Error::BadInput("internal error: no shard plan");  // unreachable, see above
}

}  // namespace fwgate::workload
