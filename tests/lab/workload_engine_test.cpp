// The workload engine against the real kernel: flows on both sides of the mark over loopback,
// breakage detection across a veth pair (nft drop -> stall, nft reject -> reset), a few thousand
// connections held at once, and the same sharded over worker processes (forced by a small
// descriptor budget), including that no worker outlives a SIGKILLed caller. Needs root
// (namespaces); skips otherwise.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sys/netns.h"
#include "sys/rtnl.h"
#include "simulator/workload/engine.h"

namespace fwgate::workload {
namespace {

using std::chrono::milliseconds;

#define SKIP_WITHOUT_NAMESPACES()                                                      \
  do {                                                                                 \
    if (auto can = sys::CanCreateNamespaces(); !can) {                               \
      GTEST_SKIP() << "lab test needs network namespaces: " << can.error().ToString(); \
    }                                                                                  \
  } while (0)

// A fresh namespace with `lo` up.
sys::NetnsHandle LoopbackNamespace() {
  auto ns = sys::CreateAnonymous();
  EXPECT_TRUE(ns.ok());
  if (!ns) return {};
  Status up = OkStatus();
  EXPECT_TRUE(sys::RunInNetns(*ns, [&] {
                auto rt = sys::RtnlSocket::Open();
                up = rt ? rt->SetUp("lo") : Status(rt.error());
              }).ok());
  EXPECT_TRUE(up.ok()) << up.error().ToString();
  return std::move(ns).value();
}

// Runs argv inside `ns` (the child inherits the namespace of the thread that forks it); returns
// the exit status.
int RunProgramIn(const sys::NetnsHandle& ns, const std::vector<std::string>& argv) {
  int status = -1;
  EXPECT_TRUE(sys::RunInNetns(ns, [&] {
                std::vector<char*> args;
                for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
                args.push_back(nullptr);
                pid_t pid = fork();
                if (pid == 0) {
                  execvp(args[0], args.data());
                  _exit(127);
                }
                if (pid > 0) waitpid(pid, &status, 0);
              }).ok());
  return status;
}

// Loads an nft ruleset (text) into `ns` only.
void LoadNft(const sys::NetnsHandle& ns, const std::string& ruleset) {
  char path[] = "/tmp/fwgate-workload-nft-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, ruleset.data(), ruleset.size()), static_cast<ssize_t>(ruleset.size()));
  close(fd);
  int st = RunProgramIn(ns, {"nft", "-f", path});
  unlink(path);
  ASSERT_EQ(st, 0) << "nft -f failed for:\n" << ruleset;
}

std::unique_ptr<Engine> NewEngine(EngineOptions o = {}) {
  auto e = Engine::Create(o);
  EXPECT_TRUE(e.ok()) << e.error().ToString();
  return std::move(e).value();
}

Flow Bulk() { return Flow{Flow::Kind::kBulk, 0, milliseconds(0)}; }
Flow Periodic(uint32_t bytes, int ms) {
  return Flow{Flow::Kind::kPeriodic, bytes, milliseconds(ms)};
}

ConnSpec Conn(ConnClass cls, const sys::NetnsHandle* from_ns, std::string to, uint16_t port,
              Flow fwd, Flow rev) {
  ConnSpec c;
  c.cls = cls;
  c.from_node = "client";
  c.to_node = "server";
  c.from_ns = from_ns;
  c.to_address = std::move(to);
  c.to_port = port;
  c.forward = fwd;
  c.reverse = rev;
  if (cls == ConnClass::kReplication) c.sndbuf = c.rcvbuf = 4 << 20;
  return c;
}

TEST(WorkloadEngine, FlowsContinueAcrossTheMarkOnLoopback) {
  SKIP_WITHOUT_NAMESPACES();
  sys::NetnsHandle ns = LoopbackNamespace();
  auto engine = NewEngine({.timeline_bucket = milliseconds(50)});
  ASSERT_TRUE(engine->AddListener({"server", &ns, "127.0.0.1", 6800, 4 << 20, 4 << 20}).ok());
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(engine
                    ->AddConnection(Conn(ConnClass::kReplication, &ns, "127.0.0.1", 6800, Bulk(),
                                         Periodic(128, 20)))
                    .ok());
  }
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(engine
                    ->AddConnection(Conn(ConnClass::kHeartbeat, &ns, "127.0.0.1", 6800,
                                         Periodic(64, 20), Periodic(64, 20)))
                    .ok());
  }
  ASSERT_TRUE(
      engine->AddConnection(Conn(ConnClass::kClient, &ns, "127.0.0.1", 6800, Flow{}, Flow{})).ok());
  auto est = engine->Establish();
  ASSERT_TRUE(est.ok()) << est.error().ToString();
  ASSERT_TRUE(engine->Start().ok());
  std::this_thread::sleep_for(milliseconds(400));
  engine->Mark();
  std::this_thread::sleep_for(milliseconds(400));
  Report r = engine->Stop();

  ASSERT_EQ(r.connections.size(), 23u);
  for (const ConnResult& c : r.connections) {
    SCOPED_TRACE(c.id);
    EXPECT_EQ(c.error, "");
    EXPECT_FALSE(c.reset);
    EXPECT_FALSE(c.closed);
    // Generous bound: a healthy flow has no gap anywhere near this long.
    EXPECT_LT(c.max_stall_after_mark, milliseconds(300));
    if (c.cls == ConnClass::kClient) {
      EXPECT_EQ(c.fwd_bytes_before + c.fwd_bytes_after + c.rev_bytes_before + c.rev_bytes_after,
                0u);
      continue;
    }
    EXPECT_GT(c.fwd_bytes_before, 0u);
    EXPECT_GT(c.fwd_bytes_after, 0u);
    EXPECT_GT(c.rev_bytes_before, 0u);
    EXPECT_GT(c.rev_bytes_after, 0u);
    if (c.cls == ConnClass::kReplication) {
      EXPECT_GT(c.fwd_bytes_after, 1u << 20);
    }
  }
  ASSERT_GE(r.timeline.mark_bucket, 1);
  uint64_t before = 0, after = 0;
  for (const auto& [cls, buckets] : r.timeline.series) {
    if (cls != ConnClass::kReplication) continue;
    for (size_t b = 0; b < buckets.size(); ++b) {
      (static_cast<int64_t>(b) < r.timeline.mark_bucket ? before : after) += buckets[b];
    }
  }
  EXPECT_GT(before, 0u);
  EXPECT_GT(after, 0u);
}

TEST(WorkloadEngine, PacedBulkFlowNeverExceedsItsRate) {
  SKIP_WITHOUT_NAMESPACES();
  sys::NetnsHandle ns = LoopbackNamespace();
  auto engine = NewEngine();
  ASSERT_TRUE(engine->AddListener({"server", &ns, "127.0.0.1", 6800, 4 << 20, 4 << 20}).ok());
  Flow paced = Bulk();
  paced.bytes_per_second = 20'000'000;
  ASSERT_TRUE(
      engine->AddConnection(Conn(ConnClass::kReplication, &ns, "127.0.0.1", 6800, paced, Flow{}))
          .ok());
  ASSERT_TRUE(engine->Establish().ok());
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(engine->Start().ok());
  std::this_thread::sleep_for(milliseconds(300));
  engine->Mark();
  std::this_thread::sleep_for(milliseconds(300));
  Report r = engine->Stop();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const ConnResult& c = r.connections.at(0);
  EXPECT_GT(c.fwd_bytes_after, 0u);
  // Upper bound only: the pacer's 10 ms credit plus one write on top of rate x elapsed.
  EXPECT_LE(c.fwd_bytes_before + c.fwd_bytes_after, 20e6 * (secs + 0.010) + 256 * 1024);
}

TEST(WorkloadEngine, DestructorStopsTheLoopThreadAndClosesSockets) {
  SKIP_WITHOUT_NAMESPACES();
  sys::NetnsHandle ns = LoopbackNamespace();
  auto count = [](const char* dir) {
    size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir)) n += !e.path().empty();
    return n;
  };
  const size_t threads = count("/proc/self/task");
  const size_t fds = count("/proc/self/fd");
  {
    auto engine = NewEngine();
    ASSERT_TRUE(engine->AddListener({"server", &ns, "127.0.0.1", 6800}).ok());
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(engine
                      ->AddConnection(Conn(ConnClass::kHeartbeat, &ns, "127.0.0.1", 6800,
                                           Periodic(64, 10), Periodic(64, 10)))
                      .ok());
    }
    ASSERT_TRUE(engine->Establish().ok());
    ASSERT_TRUE(engine->Start().ok());
    EXPECT_EQ(count("/proc/self/task"), threads + 1);
    std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_EQ(count("/proc/self/task"), threads);
  EXPECT_EQ(count("/proc/self/fd"), fds);
}

TEST(WorkloadEngine, ReportsRefusedConnectionWithEndpoints) {
  SKIP_WITHOUT_NAMESPACES();
  // The listener lives in `server_ns`; a connection opened in `client_ns` to the same loopback
  // address reaches client_ns's own (empty) loopback and is refused by the kernel.
  sys::NetnsHandle server_ns = LoopbackNamespace();
  sys::NetnsHandle client_ns = LoopbackNamespace();
  auto engine = NewEngine();
  ASSERT_TRUE(engine->AddListener({"server", &server_ns, "127.0.0.1", 6900}).ok());
  ASSERT_TRUE(
      engine->AddConnection(Conn(ConnClass::kMon, &server_ns, "127.0.0.1", 6900, {}, {})).ok());
  ASSERT_TRUE(
      engine->AddConnection(Conn(ConnClass::kMon, &client_ns, "127.0.0.1", 6900, {}, {})).ok());
  auto est = engine->Establish();
  ASSERT_FALSE(est.ok());
  EXPECT_EQ(
      est.error().context,
      "connect client -> server 127.0.0.1:6900: Connection refused (1 of 2 connections failed)");
  Report r = engine->Stop();
  ASSERT_EQ(r.connections.size(), 2u);
  EXPECT_EQ(r.connections[0].error, "");
  EXPECT_EQ(r.connections[1].error, "connect client -> server 127.0.0.1:6900: Connection refused");
}

TEST(WorkloadEngine, ConnectionWithoutListenerFailsBeforeConnecting) {
  SKIP_WITHOUT_NAMESPACES();
  sys::NetnsHandle ns = LoopbackNamespace();
  auto engine = NewEngine();
  ASSERT_TRUE(engine->AddListener({"server", &ns, "127.0.0.1", 6800}).ok());
  ASSERT_TRUE(engine->AddConnection(Conn(ConnClass::kMon, &ns, "127.0.0.1", 6801, {}, {})).ok());
  auto est = engine->Establish();
  ASSERT_FALSE(est.ok());
  EXPECT_NE(est.error().context.find("no listener was added for server 127.0.0.1:6801"),
            std::string::npos)
      << est.error().context;
}

TEST(WorkloadEngine, ListenerBindErrorNamesTheEndpoint) {
  SKIP_WITHOUT_NAMESPACES();
  sys::NetnsHandle ns = LoopbackNamespace();
  auto engine = NewEngine();
  auto st = engine->AddListener({"node1", &ns, "10.30.0.11", 6800});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().ToString(),
            "listen node1 10.30.0.11:6800 (bind): Cannot assign requested address");
}

TEST(WorkloadEngine, RejectsBadSpecsWithClearMessages) {
  sys::NetnsHandle none;
  auto engine = NewEngine();
  auto bad_ns = engine->AddConnection(Conn(ConnClass::kClient, &none, "127.0.0.1", 1, {}, {}));
  ASSERT_FALSE(bad_ns.ok());
  EXPECT_NE(bad_ns.error().context.find("no source network namespace"), std::string::npos);
  auto own = sys::OpenCurrent();
  ASSERT_TRUE(own.ok());
  auto bad_addr = engine->AddConnection(Conn(ConnClass::kClient, &*own, "10.0.0.300", 1, {}, {}));
  ASSERT_FALSE(bad_addr.ok());
  EXPECT_NE(bad_addr.error().context.find("'10.0.0.300' is not an IPv4 or IPv6 address"),
            std::string::npos);
  auto bad_flow =
      engine->AddConnection(Conn(ConnClass::kClient, &*own, "127.0.0.1", 1, Periodic(0, 10), {}));
  ASSERT_FALSE(bad_flow.ok());
  EXPECT_NE(bad_flow.error().context.find("message_bytes > 0"), std::string::npos);
}

// Two namespaces joined by a veth pair: client 10.99.0.1, server 10.99.0.2.
class VethPair : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_NAMESPACES();
    auto a = sys::CreateAnonymous();
    auto b = sys::CreateAnonymous();
    ASSERT_TRUE(a.ok() && b.ok());
    client_ = std::move(a).value();
    server_ = std::move(b).value();
    Status st = OkStatus();
    ASSERT_TRUE(sys::RunInNetns(client_, [&] {
                  auto rt = sys::RtnlSocket::Open();
                  if (!rt) {
                    st = rt.error();
                    return;
                  }
                  if (st = rt->CreateVethPair("wl0", "wl1", server_.fd()); !st) return;
                  if (st = rt->AddAddress("wl0", "10.99.0.1/24"); !st) return;
                  if (st = rt->SetUp("wl0"); !st) return;
                  st = rt->SetUp("lo");
                }).ok());
    ASSERT_TRUE(st.ok()) << st.error().ToString();
    ASSERT_TRUE(sys::RunInNetns(server_, [&] {
                  auto rt = sys::RtnlSocket::Open();
                  if (!rt) {
                    st = rt.error();
                    return;
                  }
                  if (st = rt->AddAddress("wl1", "10.99.0.2/24"); !st) return;
                  if (st = rt->SetUp("wl1"); !st) return;
                  st = rt->SetUp("lo");
                }).ok());
    ASSERT_TRUE(st.ok()) << st.error().ToString();
  }

  // One bulk replication connection to 6800, one heartbeat to 6800, one heartbeat to 6801 (a
  // port the test rules leave alone), established and started.
  std::unique_ptr<Engine> StartTraffic(EngineOptions o = {}) {
    auto engine = NewEngine(o);
    EXPECT_TRUE(
        engine->AddListener({"server", &server_, "10.99.0.2", 6800, 4 << 20, 4 << 20}).ok());
    EXPECT_TRUE(engine->AddListener({"server", &server_, "10.99.0.2", 6801}).ok());
    ConnSpec repl = Conn(ConnClass::kReplication, &client_, "10.99.0.2", 6800, Bulk(), Flow{});
    repl.from_address = "10.99.0.1";
    EXPECT_TRUE(engine->AddConnection(repl).ok());
    EXPECT_TRUE(engine
                    ->AddConnection(Conn(ConnClass::kHeartbeat, &client_, "10.99.0.2", 6800,
                                         Periodic(64, 20), Periodic(64, 20)))
                    .ok());
    EXPECT_TRUE(engine
                    ->AddConnection(Conn(ConnClass::kHeartbeat, &client_, "10.99.0.2", 6801,
                                         Periodic(64, 20), Periodic(64, 20)))
                    .ok());
    auto est = engine->Establish();
    EXPECT_TRUE(est.ok()) << est.error().ToString();
    EXPECT_TRUE(engine->Start().ok());
    return engine;
  }

  sys::NetnsHandle client_, server_;
};

TEST_F(VethPair, DroppingPacketsAfterTheMarkShowsAsStall) {
  auto engine = StartTraffic();
  std::this_thread::sleep_for(milliseconds(300));
  engine->Mark();
  LoadNft(server_,
          "table inet wl {\n  chain input {\n    type filter hook input priority 0; policy "
          "accept;\n    tcp dport 6800 drop\n  }\n}\n");
  std::this_thread::sleep_for(milliseconds(1500));
  Report r = engine->Stop();
  ASSERT_EQ(r.connections.size(), 3u);
  for (size_t i = 0; i < 2; ++i) {
    SCOPED_TRACE(i);
    EXPECT_GT(r.connections[i].max_stall_after_mark, milliseconds(1000));
    EXPECT_FALSE(r.connections[i].reset);
    EXPECT_GT(r.connections[i].fwd_bytes_before, 0u);
  }
  EXPECT_GT(r.connections[0].retransmits, 0u);  // the bulk sender kept retransmitting
  EXPECT_LT(r.connections[2].max_stall_after_mark, milliseconds(500));
  EXPECT_GT(r.connections[2].fwd_bytes_after, 0u);
}

TEST_F(VethPair, DroppingPacketsAfterTheMarkShowsAsStallWhenSharded) {
  // 8 socket descriptors needed (5 for listener 6800 and its 2 connections, 3 for 6801), 6
  // allowed per process: one worker per listener.
  auto engine = StartTraffic({.max_fds_per_process = 6});
  std::this_thread::sleep_for(milliseconds(300));
  engine->Mark();
  LoadNft(server_,
          "table inet wl {\n  chain input {\n    type filter hook input priority 0; policy "
          "accept;\n    tcp dport 6800 drop\n  }\n}\n");
  std::this_thread::sleep_for(milliseconds(1500));
  Report r = engine->Stop();
  EXPECT_EQ(r.workers, 2u);
  ASSERT_EQ(r.connections.size(), 3u);
  for (size_t i = 0; i < 2; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(r.connections[i].id, i);
    EXPECT_GT(r.connections[i].max_stall_after_mark, milliseconds(1000));
    EXPECT_FALSE(r.connections[i].reset);
    EXPECT_GT(r.connections[i].fwd_bytes_before, 0u);
  }
  EXPECT_EQ(r.connections[0].cls, ConnClass::kReplication);
  EXPECT_GT(r.connections[0].retransmits, 0u);
  EXPECT_LT(r.connections[2].max_stall_after_mark, milliseconds(500));
  EXPECT_GT(r.connections[2].fwd_bytes_after, 0u);
}

TEST_F(VethPair, RejectWithTcpResetAfterTheMarkShowsAsReset) {
  auto engine = StartTraffic();
  std::this_thread::sleep_for(milliseconds(300));
  engine->Mark();
  LoadNft(server_,
          "table inet wl {\n  chain input {\n    type filter hook input priority 0; policy "
          "accept;\n    tcp dport 6800 reject with tcp reset\n  }\n}\n");
  std::this_thread::sleep_for(milliseconds(500));
  Report r = engine->Stop();
  ASSERT_EQ(r.connections.size(), 3u);
  for (size_t i = 0; i < 2; ++i) {
    SCOPED_TRACE(i);
    EXPECT_TRUE(r.connections[i].reset);
    EXPECT_NE(r.connections[i].error.find("reset"), std::string::npos) << r.connections[i].error;
  }
  EXPECT_FALSE(r.connections[2].reset);
  EXPECT_EQ(r.connections[2].error, "");
}

TEST(WorkloadEngine, HoldsThousandsOfConnectionsInOneNamespace) {
  SKIP_WITHOUT_NAMESPACES();
  sys::NetnsHandle ns = LoopbackNamespace();
  auto engine = NewEngine();
  constexpr int kPorts = 4;
  constexpr int kConns = 4000;
  for (int p = 0; p < kPorts; ++p) {
    ASSERT_TRUE(
        engine->AddListener({"server", &ns, "127.0.0.1", static_cast<uint16_t>(6800 + p)}).ok());
  }
  for (int i = 0; i < kConns; ++i) {
    ConnSpec c = Conn(i % 2 ? ConnClass::kHeartbeat : ConnClass::kClient, &ns, "127.0.0.1",
                      static_cast<uint16_t>(6800 + i % kPorts), Periodic(64, 500),
                      i % 2 ? Periodic(64, 500) : Flow{});
    ASSERT_TRUE(engine->AddConnection(c).ok());
  }
  auto est = engine->Establish();
  ASSERT_TRUE(est.ok()) << est.error().ToString();
  ASSERT_TRUE(engine->Start().ok());
  std::this_thread::sleep_for(milliseconds(700));
  engine->Mark();
  std::this_thread::sleep_for(milliseconds(1200));
  Report r = engine->Stop();
  ASSERT_EQ(r.connections.size(), static_cast<size_t>(kConns));
  size_t broken = 0, silent = 0;
  for (const ConnResult& c : r.connections) {
    broken += c.reset || c.closed || !c.error.empty() || c.max_stall_after_mark > milliseconds(500);
    silent += c.fwd_bytes_after == 0;
  }
  EXPECT_EQ(broken, 0u);
  EXPECT_EQ(silent, 0u);
}

// ---- sharded over worker processes ----

struct ProcInfo {
  pid_t ppid = 0;
  char state = '?';
  uint64_t start_time = 0;  // clock ticks since boot: tells a reused pid apart
};

// /proc/PID/stat, or nothing when the process is gone.
std::optional<ProcInfo> ReadProc(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return std::nullopt;
  auto close = line.rfind(')');  // the command name may hold spaces and parentheses
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(close + 2));
  ProcInfo p;
  rest >> p.state >> p.ppid;
  std::string skip;
  for (int field = 5; field < 22; ++field) rest >> skip;  // fields 5..21
  rest >> p.start_time;                                   // field 22
  return p;
}

std::map<pid_t, ProcInfo> ChildrenOf(pid_t parent) {
  std::map<pid_t, ProcInfo> out;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t pid = std::stoi(name);
    if (auto p = ReadProc(pid); p && p->ppid == parent) out[pid] = *p;
  }
  return out;
}

TEST(ShardedWorkload, EveryConnectionFlowsAndMapsBackToItsId) {
  SKIP_WITHOUT_NAMESPACES();
  sys::NetnsHandle ns = LoopbackNamespace();
  // 6 listeners x 10 connections = 21 descriptors each; 50 per process: 3 workers of 2.
  auto engine = NewEngine({.timeline_bucket = milliseconds(50), .max_fds_per_process = 50});
  constexpr int kPorts = 6, kConns = 60;
  for (int p = 0; p < kPorts; ++p) {
    ASSERT_TRUE(engine
                    ->AddListener({"server" + std::to_string(p), &ns, "127.0.0.1",
                                   static_cast<uint16_t>(6800 + p), 1 << 20, 1 << 20})
                    .ok());
  }
  Flow paced = Bulk();
  paced.bytes_per_second = 2'000'000;
  std::vector<ConnClass> classes;
  for (int i = 0; i < kConns; ++i) {
    ConnClass cls = i % 3 == 0   ? ConnClass::kReplication
                    : i % 3 == 1 ? ConnClass::kHeartbeat
                                 : ConnClass::kClient;
    ConnSpec c = Conn(cls, &ns, "127.0.0.1", static_cast<uint16_t>(6800 + i % kPorts),
                      cls == ConnClass::kReplication ? paced : Periodic(64, 20), Periodic(32, 20));
    c.from_node = "c" + std::to_string(i);
    c.to_node = "server" + std::to_string(i % kPorts);
    auto id = engine->AddConnection(c);
    ASSERT_TRUE(id.ok());
    EXPECT_EQ(*id, static_cast<size_t>(i));
    classes.push_back(cls);
  }
  auto est = engine->Establish();
  ASSERT_TRUE(est.ok()) << est.error().ToString();
  EXPECT_EQ(ChildrenOf(getpid()).size(), 3u);
  ASSERT_TRUE(engine->Start().ok());
  std::this_thread::sleep_for(milliseconds(400));
  engine->Mark();
  std::this_thread::sleep_for(milliseconds(400));
  Report r = engine->Stop();
  EXPECT_EQ(ChildrenOf(getpid()).size(), 0u) << "Stop() reaps every worker";

  EXPECT_EQ(r.workers, 3u);
  ASSERT_EQ(r.connections.size(), static_cast<size_t>(kConns));
  uint64_t by_class[4] = {};
  for (int i = 0; i < kConns; ++i) {
    const ConnResult& c = r.connections[i];
    SCOPED_TRACE(i);
    EXPECT_EQ(c.id, static_cast<size_t>(i));
    EXPECT_EQ(c.cls, classes[i]);
    EXPECT_EQ(c.from_node, "c" + std::to_string(i));
    EXPECT_EQ(c.to_node, "server" + std::to_string(i % kPorts));
    EXPECT_EQ(c.error, "");
    EXPECT_FALSE(c.reset);
    EXPECT_GT(c.fwd_bytes_before, 0u);
    EXPECT_GT(c.fwd_bytes_after, 0u);
    EXPECT_GT(c.rev_bytes_before, 0u);
    EXPECT_GT(c.rev_bytes_after, 0u);
    EXPECT_LT(c.max_stall_after_mark, milliseconds(300));
    by_class[static_cast<size_t>(c.cls)] +=
        c.fwd_bytes_before + c.fwd_bytes_after + c.rev_bytes_before + c.rev_bytes_after;
  }
  // Every byte a worker counted is in the merged timeline under its class, split at one mark.
  EXPECT_EQ(r.timeline.bucket, milliseconds(50));
  ASSERT_GE(r.timeline.mark_bucket, 1);
  ASSERT_EQ(r.timeline.series.size(), 4u);
  for (const auto& [cls, buckets] : r.timeline.series) {
    SCOPED_TRACE(ConnClassName(cls));
    uint64_t before = 0, after = 0;
    for (size_t b = 0; b < buckets.size(); ++b) {
      (static_cast<int64_t>(b) < r.timeline.mark_bucket ? before : after) += buckets[b];
    }
    EXPECT_EQ(before + after, by_class[static_cast<size_t>(cls)]);
    if (cls != ConnClass::kMon) {
      EXPECT_GT(before, 0u);
      EXPECT_GT(after, 0u);
    }
  }
}

TEST(ShardedWorkload, RefusedConnectionIsWordedAsInProcess) {
  SKIP_WITHOUT_NAMESPACES();
  sys::NetnsHandle server_ns = LoopbackNamespace();
  sys::NetnsHandle client_ns = LoopbackNamespace();
  auto engine = NewEngine({.max_fds_per_process = 4});  // 6 needed: one worker per listener
  ASSERT_TRUE(engine->AddListener({"server", &server_ns, "127.0.0.1", 6900}).ok());
  ASSERT_TRUE(engine->AddListener({"server", &server_ns, "127.0.0.1", 6901}).ok());
  ASSERT_TRUE(
      engine->AddConnection(Conn(ConnClass::kMon, &server_ns, "127.0.0.1", 6900, {}, {})).ok());
  ASSERT_TRUE(
      engine->AddConnection(Conn(ConnClass::kMon, &client_ns, "127.0.0.1", 6901, {}, {})).ok());
  auto est = engine->Establish();
  ASSERT_FALSE(est.ok());
  EXPECT_EQ(
      est.error().context,
      "connect client -> server 127.0.0.1:6901: Connection refused (1 of 2 connections failed)");
  Report r = engine->Stop();
  EXPECT_EQ(r.workers, 2u);
  ASSERT_EQ(r.connections.size(), 2u);
  EXPECT_EQ(r.connections[0].error, "");
  EXPECT_EQ(r.connections[1].error, "connect client -> server 127.0.0.1:6901: Connection refused");
}

TEST(ShardedWorkload, OverFullListenerAsksForMoreListenerPorts) {
  SKIP_WITHOUT_NAMESPACES();
  sys::NetnsHandle ns = LoopbackNamespace();
  auto engine = NewEngine({.max_fds_per_process = 20});
  ASSERT_TRUE(engine->AddListener({"server", &ns, "127.0.0.1", 6800}).ok());
  ASSERT_TRUE(engine->AddListener({"server", &ns, "127.0.0.1", 6801}).ok());
  for (int i = 0; i < 32; ++i) {
    ASSERT_TRUE(engine
                    ->AddConnection(
                        Conn(ConnClass::kClient, &ns, "127.0.0.1", i < 30 ? 6800 : 6801, {}, {}))
                    .ok());
  }
  auto est = engine->Establish();
  ASSERT_FALSE(est.ok());
  const std::string& msg = est.error().context;
  EXPECT_NE(msg.find("listener server 127.0.0.1:6800 has 30 connections but one worker process "
                     "can hold at most 9"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("spread the connections over more listener ports (e.g. more OSD ports per "
                     "node)"),
            std::string::npos)
      << msg;
  EXPECT_EQ(ChildrenOf(getpid()).size(), 0u);
}

TEST(ShardedWorkload, KillingTheCallerLeavesNoWorkerBehind) {
  SKIP_WITHOUT_NAMESPACES();
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  // The caller: a forked copy of this (single-threaded) test process that shards a small
  // workload, reports its workers' pids, and waits to be killed. It never returns into gtest.
  pid_t caller = fork();
  ASSERT_GE(caller, 0);
  if (caller == 0) {
    close(pipefd[0]);
    [&] {
      auto ns = sys::CreateAnonymous();
      if (!ns) return;
      Status up = OkStatus();
      (void)sys::RunInNetns(*ns, [&] {
        auto rt = sys::RtnlSocket::Open();
        up = rt ? rt->SetUp("lo") : Status(rt.error());
      });
      if (!up) return;
      // 3 listeners x 3 connections = 7 descriptors each, 12 per process: 3 workers.
      auto e = Engine::Create({.max_fds_per_process = 12});
      if (!e) return;
      Engine& engine = **e;
      for (uint16_t p = 6800; p < 6803; ++p) {
        if (!engine.AddListener({"server", &*ns, "127.0.0.1", p})) return;
      }
      for (int i = 0; i < 9; ++i) {
        ConnSpec c = Conn(ConnClass::kHeartbeat, &*ns, "127.0.0.1",
                          static_cast<uint16_t>(6800 + i % 3), Periodic(64, 50), Periodic(64, 50));
        if (!engine.AddConnection(c)) return;
      }
      if (!engine.Establish() || !engine.Start()) return;
      std::string pids;
      for (const auto& [pid, info] : ChildrenOf(getpid())) pids += std::to_string(pid) + "\n";
      (void)!write(pipefd[1], pids.data(), pids.size());
      close(pipefd[1]);
      for (;;) pause();
    }();
    _exit(1);
  }
  close(pipefd[1]);
  std::string text;
  char buf[256];
  for (;;) {
    pollfd p{pipefd[0], POLLIN, 0};
    if (poll(&p, 1, 30'000) <= 0) break;  // guard against a stuck caller, not a timing check
    ssize_t n = read(pipefd[0], buf, sizeof(buf));
    if (n <= 0) break;  // EOF: workers do not keep the caller's descriptors
    text.append(buf, static_cast<size_t>(n));
  }
  close(pipefd[0]);
  // The workers, as this process sees them before the kill.
  std::map<pid_t, ProcInfo> workers;
  std::istringstream in(text);
  for (pid_t pid; in >> pid;) {
    if (auto p = ReadProc(pid); p) workers[pid] = *p;
  }
  kill(caller, SIGKILL);
  int status = 0;
  ASSERT_EQ(waitpid(caller, &status, 0), caller);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the caller failed before sharding (status " << status << ")";
  ASSERT_EQ(workers.size(), 3u) << "pids reported: " << text;
  // Each worker was SIGKILLed by the kernel when its parent died; wait (bounded) for the kill
  // to land. A zombie awaiting its new parent's wait() counts as gone.
  auto alive = [&] {
    size_t n = 0;
    for (const auto& [pid, before] : workers) {
      auto now = ReadProc(pid);
      n += now && now->start_time == before.start_time && now->state != 'Z' && now->state != 'X';
    }
    return n;
  };
  for (int i = 0; i < 1000 && alive() > 0; ++i) std::this_thread::sleep_for(milliseconds(10));
  EXPECT_EQ(alive(), 0u);
}

}  // namespace
}  // namespace fwgate::workload
