#include "simulator/replay/workload_shape.h"

namespace fwgate::replay {

using workload::ConnClass;
using workload::Flow;

namespace {
Flow Periodic(uint32_t bytes, int ms) {
  return Flow{Flow::Kind::kPeriodic, bytes, std::chrono::milliseconds(ms)};
}
}  // namespace

WorkloadPlan PlanWorkload(int nodes, int per_node) {
  WorkloadPlan p;
  if (nodes < 1 || per_node < 1) return p;
  const bool paced = per_node > kBulkStreamsPerNode;
  auto Bulk = [paced] {
    Flow f{Flow::Kind::kBulk, 0, std::chrono::milliseconds(0)};
    if (paced) f.bytes_per_second = kPacedBulkBytesPerSecond;
    return f;
  };
  for (int i = 0; i < nodes; ++i) {
    p.listeners.push_back({i, false, kClientPort, 0});
    p.listeners.push_back({i, true, kReplicationPort, kReplicationBuffer});
    p.listeners.push_back({i, true, kHbBackPort, 0});
    p.listeners.push_back({i, false, kHbFrontPort, 0});
  }
  p.listeners.push_back({0, false, kMonPort, 0});
  for (int i = 0; i < nodes; ++i) {
    for (int k = 0; k < per_node && nodes >= 2; ++k) {
      int peer = (i + 1 + k % (nodes - 1)) % nodes;
      if (k < kBulkStreamsPerNode) {
        p.conns.push_back({ConnClass::kReplication, i, peer, true, kReplicationPort, Bulk(), Flow{},
                           kReplicationBuffer});
      } else {
        p.conns.push_back({ConnClass::kReplication, i, peer, true, kReplicationPort,
                           Periodic(kSessionBytes, kSessionIntervalMs),
                           Periodic(kSessionBytes, kSessionIntervalMs), 0});
      }
    }
    if (nodes >= 2) {
      int next = (i + 1) % nodes;
      p.conns.push_back({ConnClass::kHeartbeat, i, next, true, kHbBackPort, Periodic(64, 200),
                         Periodic(64, 200), 0});
      p.conns.push_back({ConnClass::kHeartbeat, i, next, false, kHbFrontPort, Periodic(64, 200),
                         Periodic(64, 200), 0});
    }
    for (int k = 0; k < per_node; ++k) {
      if (k < kBulkStreamsPerNode) {
        p.conns.push_back({ConnClass::kClient, kClientIndex, i, false, kClientPort, Bulk(),
                           Periodic(128, 250), 0});
      } else {
        p.conns.push_back({ConnClass::kClient, kClientIndex, i, false, kClientPort,
                           Periodic(kSessionBytes, kSessionIntervalMs),
                           Periodic(kSessionBytes, kSessionIntervalMs), 0});
      }
    }
    if (i != 0) {
      p.conns.push_back(
          {ConnClass::kMon, i, 0, false, kMonPort, Periodic(256, 500), Periodic(256, 500), 0});
    }
  }
  p.conns.push_back({ConnClass::kMon, kClientIndex, 0, false, kMonPort, Periodic(256, 500),
                     Periodic(256, 500), 0});
  return p;
}

WorkloadPlan PlanLightWorkload(int nodes, int per_node) {
  WorkloadPlan p = PlanWorkload(nodes, per_node);
  Flow light = Periodic(kLightBytes, kLightIntervalMs);
  light.first = std::chrono::milliseconds(kLightPhaseMs);
  for (ConnPlan& c : p.conns) {
    c.forward = light;
    c.reverse = light;
    c.buffer = 0;
  }
  for (ListenPlan& l : p.listeners) l.buffer = 0;
  return p;
}

}  // namespace fwgate::replay
