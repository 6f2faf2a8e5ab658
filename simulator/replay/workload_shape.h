// The Ceph-shaped traffic a replay runs, as a plan over node indices (pure): replication
// OSD->OSD on the cluster net (bulk, 4 MiB buffers), heartbeats OSD<->OSD on both nets, client
// streams to every OSD on the public net, mon sessions to node1:3300.
#pragma once

#include <cstdint>
#include <vector>

#include "simulator/workload/engine.h"

namespace fwgate::replay {

inline constexpr uint16_t kClientPort = 6800;       // OSD public (client I/O)
inline constexpr uint16_t kReplicationPort = 6801;  // OSD cluster (replication)
inline constexpr uint16_t kHbBackPort = 6802;       // OSD heartbeat, cluster net
inline constexpr uint16_t kHbFrontPort = 6803;      // OSD heartbeat, public net
inline constexpr uint16_t kMonPort = 3300;          // mon v2 on node1
inline constexpr int kClientIndex = -1;             // `from` of the client namespace
inline constexpr int kReplicationBuffer = 4 << 20;
// Bulk streams per node and kind (replication from it, client to it). A Ceph host carries a few
// busy streams and thousands of mostly quiet sessions; connections beyond these are sessions:
// small periodic messages both ways (kSessionBytes every kSessionIntervalMs).
inline constexpr int kBulkStreamsPerNode = 2;
// With sessions in the run (per_node > kBulkStreamsPerNode), bulk streams are paced at
// kPacedBulkBytesPerSecond so one epoll loop keeps its 10 ms resolution over tens of thousands of
// connections; 50 MB/s still moves a sender far past a 4 MiB window within a second of gap.
inline constexpr uint32_t kSessionBytes = 512;
inline constexpr int kSessionIntervalMs = 1000;
inline constexpr uint64_t kPacedBulkBytesPerSecond = 50ULL << 20;

struct ListenPlan {
  int node = 0;          // 0-based node index
  bool cluster = false;  // cluster net address (else public)
  uint16_t port = 0;
  int buffer = 0;  // SO_SNDBUF/SO_RCVBUF; 0 = default
};

struct ConnPlan {
  workload::ConnClass cls = workload::ConnClass::kHeartbeat;
  int from = 0;          // node index, or kClientIndex
  int to = 0;            // node index
  bool cluster = false;  // which network it runs on
  uint16_t port = 0;
  workload::Flow forward, reverse;
  int buffer = 0;
};

struct WorkloadPlan {
  std::vector<ListenPlan> listeners;
  std::vector<ConnPlan> conns;
};

// `per_node` (>= 1) replication connections from and client connections to every node (the first
// kBulkStreamsPerNode of each carry bulk data, the rest are sessions); one heartbeat pair per node
// on each net and one mon session per node (and the client) when nodes >= 2.
[[nodiscard]] WorkloadPlan PlanWorkload(int nodes, int per_node);

// Light traffic: `per_node` sessions to peers and from the client per node, a heartbeat pair per
// node and a mon session per node, all sending kLightBytes every kLightIntervalMs both ways, the
// first send kLightPhaseMs after the start (so a reload between the phase and the next send sees
// flows that did not move, docs/kernel-conntrack.md §3.4).
inline constexpr uint32_t kLightBytes = 64;
inline constexpr int kLightIntervalMs = 4000;
inline constexpr int kLightPhaseMs = 200;
[[nodiscard]] WorkloadPlan PlanLightWorkload(int nodes, int per_node);

}  // namespace fwgate::replay
