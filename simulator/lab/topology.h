// The lab network: N storage nodes and one client, each an anonymous network namespace, joined
// by a public and a cluster bridge that live in a lab-owned switch namespace (never the host's).
// Everything is held by fd, so the lab vanishes with the process. Not thread-safe to build.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "sys/netns.h"

namespace fwgate::lab {

struct TopologyOptions {
  int nodes = 3;
  std::string public_net = "10.20.0.0/24";
  std::string cluster_net = "10.30.0.0/24";
  int first_host = 11;    // node1 gets .11, node2 .12, ...
  int client_host = 200;  // the client's host number on the public net
  // Per link (each leg, both directions): added latency (netem; exit 3 without it) and loss
  // (nftables bridge rule in the switch namespace).
  std::chrono::microseconds delay{0};
  double loss_percent = 0;
};

// Addresses of one endpoint, as strings the rest of the lab uses.
struct EndpointPlan {
  std::string name;          // "node1" ... or "client"
  std::string public_addr;   // "10.20.0.11"
  std::string cluster_addr;  // "10.30.0.11"; empty for the client
  int public_prefix = 24;
  int cluster_prefix = 24;
  std::string switch_public_leg;  // switch-side veth names ("n1p", "n1c"; client "clp")
  std::string switch_cluster_leg;
};

struct TopologyPlan {
  std::vector<EndpointPlan> nodes;
  EndpointPlan client;
};

// Pure: checks the options (node count, CIDRs, host numbers fit the prefixes, no overlap) and
// computes every address and link name. Errors read like "--public-net: ...".
[[nodiscard]] Result<TopologyPlan> PlanTopology(const TopologyOptions& options);

// Interface names inside each node namespace.
inline constexpr const char* kPublicIf = "pub0";
inline constexpr const char* kClusterIf = "clu0";
inline constexpr const char* kPublicBridge = "brpub";
inline constexpr const char* kClusterBridge = "brclu";

struct LabEndpoint {
  EndpointPlan plan;
  sys::NetnsHandle ns;
};

class Topology {
 public:
  // Builds the whole lab over rtnetlink. Needs CAP_SYS_ADMIN and CAP_NET_ADMIN. On error nothing
  // is left behind (the partial lab is dropped with its namespaces).
  static Result<std::unique_ptr<Topology>> Build(const TopologyOptions& options);

  [[nodiscard]] std::vector<LabEndpoint>& nodes() { return nodes_; }
  [[nodiscard]] LabEndpoint& client() { return client_; }
  [[nodiscard]] const sys::NetnsHandle& switch_ns() const { return switch_ns_; }
  [[nodiscard]] const TopologyPlan& plan() const { return plan_; }

 private:
  Topology() = default;
  TopologyPlan plan_;
  sys::NetnsHandle switch_ns_;
  std::vector<LabEndpoint> nodes_;
  LabEndpoint client_;
};

// Text of the bridge-family table that drops `loss_percent` of the frames crossing each leg
// (numgen random; no netem needed). Empty when loss_percent is 0. Pure.
[[nodiscard]] std::string LossTableText(const TopologyPlan& plan, double loss_percent);

}  // namespace fwgate::lab
