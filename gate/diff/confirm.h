// Kernel confirmation of the traffic comparison's example packets: each ruleset is loaded into a
// throwaway network namespace, the conntrack entry the packet's state needs is created over
// ctnetlink, the packet is sent through a veth (or from the namespace itself for the output
// path), and its verdict is read from nftables' trace events. A region whose kernel verdict
// disagrees with the model is a defect. Needs CAP_SYS_ADMIN and CAP_NET_ADMIN; nothing outside
// the namespaces it creates is touched, and they vanish when a call returns.
// Thread-safety: calls are independent (each makes its own namespaces).
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "base/result.h"
#include "gate/diff/traffic.h"
#include "gate/nft/loader.h"

namespace fwgate::traffic {

struct ConfirmOptions {
  // How long to wait for the packet's trace to reach its last hook.
  std::chrono::milliseconds wait{1500};
  // Regions beyond this many are left unconfirmed (said so in each).
  size_t max_regions = 64;
  sys::NftLimits nft;
};

// What the kernel did with one packet.
struct KernelVerdict {
  std::optional<VerdictKind> verdict;  // none: not observed
  std::string rule;                    // "inet storage input handle 7" or "... policy"
  std::string detail;                  // why not observed
};

// Sends `packet` on `path` through `loaded` (a ruleset LoadRuleset* accepted) in a fresh set of
// namespaces and traces its verdict. An error when the namespaces, links or the ruleset could
// not be set up; a KernelVerdict without a verdict when the packet could not be observed.
[[nodiscard]] Result<KernelVerdict> RunExample(const nft::LoadResult& loaded, Path path,
                                               const Packet& packet,
                                               const ConfirmOptions& options = {});

// Confirms every region's example: Region::confirm[0] on `current` (when given), [1] on
// `proposed`. An error only when nothing could be run at all (no privilege).
[[nodiscard]] Status ConfirmRegions(const nft::LoadResult* current, const nft::LoadResult& proposed,
                                    TrafficDiff& diff, const ConfirmOptions& options = {});

}  // namespace fwgate::traffic
