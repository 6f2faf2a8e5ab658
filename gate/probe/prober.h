// Running the probe: on this host, inside a named network namespace, or on many nodes over a
// Transport with a concurrency limit and a per-node timeout. A node that cannot be read comes
// back with reachable=false and the reason; it is never dropped or counted as fine.
// Thread-safety: functions are reentrant; ProbeFleet runs Transport::Run from worker threads.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "base/result.h"
#include "gate/probe/facts.h"
#include "gate/probe/transport.h"

namespace fwgate::probe {

struct ProbeOptions {
  std::chrono::milliseconds timeout{20000};  // per node, whole session
  int concurrency = 16;
  size_t max_output = kMaxProbeOutputDefault;
  static constexpr size_t kMaxProbeOutputDefault = 32u << 20;
};

// This host, in the calling thread's network namespace: the probe script through `sh -s`, with
// sysctls, conntrack statistics (ctnetlink) and the ruleset model (netlink) read natively.
[[nodiscard]] NodeFacts ProbeHere(const std::string& name, const ProbeOptions& options);

// The namespace `ip netns add NAME` made. Per-netns facts (sysctls, statistics, ruleset) come
// from a thread inside it; kernel-wide facts (uname, module, cmdline) are the host's anyway.
// Error (bad input) when the namespace does not exist.
[[nodiscard]] Result<NodeFacts> ProbeNamedNetns(const std::string& name,
                                                const ProbeOptions& options);

// One remote node through `transport`.
[[nodiscard]] NodeFacts ProbeTarget(Transport& transport, const Target& target,
                                    const ProbeOptions& options);

// All targets, at most options.concurrency at a time; results in the order of `targets`.
// `on_done` (optional) is called from worker threads as each node finishes.
[[nodiscard]] std::vector<NodeFacts> ProbeFleet(
    Transport& transport, const std::vector<Target>& targets, const ProbeOptions& options,
    const std::function<void(const NodeFacts&)>& on_done = {});

}  // namespace fwgate::probe
