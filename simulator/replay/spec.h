// Per-node settings from the command line: `--kernel 4.15` or `--kernel node1=4.15,node2=4.4`,
// `--be-liberal 1` or `--be-liberal node1=1,node3=0`. Pure parsing; no kernel.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "gate/hazards/kernel_class.h"

namespace fwgate::replay {

template <typename T>
struct PerNode {
  std::optional<T> all;            // applies to every node not named below
  std::map<std::string, T> named;  // "node2" -> value
  [[nodiscard]] std::optional<T> For(const std::string& node) const {
    if (auto it = named.find(node); it != named.end()) return it->second;
    return all;
  }
};

// Node names must be node1..node<nodes>. Errors name the flag and list the valid forms.
[[nodiscard]] Result<PerNode<hazards::KernelVersion>> ParseKernelSpec(std::string_view text,
                                                                      int nodes);
[[nodiscard]] Result<PerNode<int>> ParseBeLiberalSpec(std::string_view text, int nodes);

// `--restart NODE:DAEMONS[@SECONDS]` ("node1:8", "node2:4@5"): which node restarts how many
// daemons, how far into the run.
struct RestartSpec {
  int node = 0;  // 0-based
  int daemons = 0;
  int at_ms = 0;
};
[[nodiscard]] Result<RestartSpec> ParseRestartSpec(std::string_view text, int nodes);

}  // namespace fwgate::replay
