// Workload engine at lab scale. BM_Establish: connection-establishment rate (connections/s) over
// loopback. BM_Hold: N connections spread over ceil(N/6000) node namespaces (each its own
// loopback, 6000 per node like a busy Ceph host, listening on 8 OSD ports 6800-6807), Ceph-shaped
// mix: 2 bulk replication flows per node (paced, 50 MB/s each), 10% heartbeats (64 B each way
// every 1 s), 60% clients (4 KiB every 5 s, 512 B back), the rest idle; 1 s before the mark, 2 s
// after. Counters: loop_max_latency_ms (worst over all worker loops; baseline: the 10 ms progress
// resolution the replay relies on), holds (1 when every connection stayed healthy and latency
// <= 10 ms), broken, establish_per_s, workers (processes the engine sharded over: both ends of a
// connection are descriptors of one process, so above ~9.8k connections under a 20k
// RLIMIT_NOFILE the engine forks workers, one per shard of listeners), mark_skew_us (how long
// after Mark() the last worker read it). Second BM_Hold argument:
// EngineOptions::loop_realtime_priority.
// Needs root (namespaces). Run: build-x/bench/workload_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <chrono>
#include <thread>
#include <vector>

#include "simulator/workload/engine.h"
#include "sys/netns.h"
#include "sys/rtnl.h"

namespace fwgate::workload {
namespace {

using std::chrono::milliseconds;
constexpr int kPerNode = 6000;
constexpr int kPorts = 8;  // OSD ports per node; also the unit of sharding (750 connections each)

Result<sys::NetnsHandle> NodeNamespace() {
  auto ns = sys::CreateAnonymous();
  if (!ns) return ns.error();
  Status up = OkStatus();
  auto st = sys::RunInNetns(*ns, [&] {
    auto rt = sys::RtnlSocket::Open();
    up = rt ? rt->SetUp("lo") : Status(rt.error());
  });
  if (!st) return st.error();
  if (!up) return up.error();
  return ns;
}

struct Lab {
  std::vector<sys::NetnsHandle> nodes;
  std::unique_ptr<Engine> engine;
};

// Builds nodes and queues `n` connections; mix as described at the top of the file.
bool Build(benchmark::State& state, int n, bool mix, int rt_priority, Lab& lab) {
  int nodes = (n + kPerNode - 1) / kPerNode;
  for (int i = 0; i < nodes; ++i) {
    auto ns = NodeNamespace();
    if (!ns) {
      state.SkipWithError(("needs network namespaces (root): " + ns.error().ToString()).c_str());
      return false;
    }
    lab.nodes.push_back(std::move(ns).value());
  }
  EngineOptions o;
  o.loop_realtime_priority = rt_priority;
  auto e = Engine::Create(o);
  if (!e) {
    state.SkipWithError(e.error().ToString().c_str());
    return false;
  }
  lab.engine = std::move(e).value();
  for (int i = 0; i < nodes; ++i) {
    for (int p = 0; p < kPorts; ++p) {
      auto st = lab.engine->AddListener({"node" + std::to_string(i + 1), &lab.nodes[i], "127.0.0.1",
                                         static_cast<uint16_t>(6800 + p), 0, 0});
      if (!st) {
        state.SkipWithError(st.error().ToString().c_str());
        return false;
      }
    }
  }
  for (int k = 0; k < n; ++k) {
    int node = k / kPerNode, j = k % kPerNode;
    ConnSpec c;
    c.from_node = c.to_node = "node" + std::to_string(node + 1);
    c.from_ns = &lab.nodes[node];
    c.to_address = "127.0.0.1";
    c.to_port = static_cast<uint16_t>(6800 + j % kPorts);
    if (!mix) {
      c.cls = ConnClass::kClient;
    } else if (j < 2) {
      c.cls = ConnClass::kReplication;
      c.forward = {Flow::Kind::kBulk, 0, milliseconds(0), 50'000'000};
      c.sndbuf = c.rcvbuf = 4 << 20;
    } else if (j % 10 == 0) {
      c.cls = ConnClass::kHeartbeat;
      c.forward = c.reverse = {Flow::Kind::kPeriodic, 64, milliseconds(1000)};
    } else if (j % 10 <= 6) {
      c.cls = ConnClass::kClient;
      c.forward = {Flow::Kind::kPeriodic, 4096, milliseconds(5000)};
      c.reverse = {Flow::Kind::kPeriodic, 512, milliseconds(5000)};
    } else {
      c.cls = ConnClass::kMon;
    }
    if (auto id = lab.engine->AddConnection(c); !id) {
      state.SkipWithError(id.error().ToString().c_str());
      return false;
    }
  }
  return true;
}

void BM_Establish(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  for (auto _ : state) {
    Lab lab;
    if (!Build(state, n, false, 0, lab)) return;
    auto t0 = std::chrono::steady_clock::now();
    auto st = lab.engine->Establish();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    state.SetIterationTime(secs);
    if (!st) {
      state.SkipWithError(st.error().ToString().c_str());
      return;
    }
    state.counters["establish_per_s"] = n / secs;
    state.counters["workers"] = static_cast<double>(lab.engine->Stop().workers);
  }
}
BENCHMARK(BM_Establish)
    ->Arg(1000)
    ->Arg(6000)
    ->Arg(9000)
    ->Arg(48000)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

void BM_Hold(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  for (auto _ : state) {
    Lab lab;
    if (!Build(state, n, true, static_cast<int>(state.range(1)), lab)) return;
    auto t0 = std::chrono::steady_clock::now();
    auto st = lab.engine->Establish();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!st) {
      state.SkipWithError(st.error().ToString().c_str());
      return;
    }
    if (auto s = lab.engine->Start(); !s) {
      state.SkipWithError(s.error().ToString().c_str());
      return;
    }
    std::this_thread::sleep_for(milliseconds(1000));
    lab.engine->Mark();
    std::this_thread::sleep_for(milliseconds(2000));
    Report r = lab.engine->Stop();
    state.SetIterationTime(3.0);
    int64_t broken = 0, worst_stall = 0;
    uint64_t bulk_bytes = 0;
    for (const ConnResult& c : r.connections) {
      broken +=
          c.reset || c.closed || !c.error.empty() || c.max_stall_after_mark > milliseconds(200);
      worst_stall = std::max<int64_t>(worst_stall, c.max_stall_after_mark.count());
      if (c.cls == ConnClass::kReplication) bulk_bytes += c.fwd_bytes_after;
    }
    state.counters["establish_per_s"] = n / secs;
    state.counters["loop_max_latency_ms"] = static_cast<double>(r.loop_max_latency.count());
    state.counters["worst_stall_ms"] = static_cast<double>(worst_stall);
    state.counters["broken"] = static_cast<double>(broken);
    state.counters["bulk_MBps"] = bulk_bytes / 2.0 / 1e6;
    state.counters["workers"] = static_cast<double>(r.workers);
    state.counters["mark_skew_us"] = static_cast<double>(r.mark_skew.count());
    state.counters["holds"] = broken == 0 && r.loop_max_latency <= milliseconds(10) ? 1 : 0;
  }
}
// Second argument: loop_realtime_priority (0 = normal scheduling).
BENCHMARK(BM_Hold)
    ->ArgsProduct({{1000, 6000, 9000}, {0, 10}})
    ->ArgsProduct({{12000, 24000, 48000}, {10}})
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace fwgate::workload

BENCHMARK_MAIN();
