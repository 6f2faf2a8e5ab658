// Reload procedures against the real kernel inside namespaces the test creates: nft steps land
// in the node's namespace only, the emulation tables appear and vanish as planned, and the user's
// command runs confined to the lab (node namespace, own PID and mount namespaces, no /run),
// bounded by its timeout, and leaves nothing running.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "gate/nft/loader.h"
#include "simulator/reload/commit_follower.h"
#include "simulator/reload/emulation.h"
#include "simulator/reload/executor.h"
#include "sys/netns.h"
#include "sys/nft_monitor.h"
#include "sys/nft_netlink.h"
#include "sys/nft_runner.h"
#include "sys/sysctl.h"
#include "sys/tcp_diag.h"

namespace fwgate::reload {
namespace {

const std::string kRules = std::string(FWGATE_SOURCE_DIR) + "/rulesets/";

std::vector<std::string> TableNames(const sys::NetnsHandle& ns) {
  std::vector<std::string> out;
  (void)sys::RunInNetns(ns, [&] {
    auto rs = sys::DumpRuleset();
    if (rs) {
      for (const auto& t : rs->tables) out.push_back(t.name);
    }
  });
  return out;
}

bool Has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

ProposedRuleset Proposed(const std::string& file) {
  nft::LoadResult r = nft::LoadRulesetFile(kRules + file);
  EXPECT_EQ(r.status, nft::LoadStatus::kOk) << r.reason;
  return {r.flat ? r.flat->text : "", kRules + file};
}

// Whether a process whose command line contains `marker` runs anywhere on this machine.
bool ProcessWithMarkerRuns(const std::string& marker) {
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "cmdline", std::ios::binary);
    std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmd.find(marker) != std::string::npos) return true;
  }
  return false;
}

class ReloadLab : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto st = sys::CanCreateNamespaces(); !st) GTEST_SKIP() << st.error().ToString();
    auto ns = sys::CreateAnonymous();
    ASSERT_TRUE(ns.ok());
    ns_ = std::move(*ns);
  }
  Result<sys::SpawnResult> RunCommand(const std::vector<std::string>& argv,
                                      std::chrono::milliseconds timeout,
                                      const std::string& dir = "/") {
    return sys::RunProcess(CommandSpawnOptions(ns_, argv, dir, timeout, nullptr));
  }
  sys::NetnsHandle ns_;
};

TEST_F(ReloadLab, LoadsBundledRulesetWithRelativeIncludeInNodeOnly) {
  nft::LoadResult r = nft::LoadRulesetFile(kRules + "ceph-node.nft");
  ASSERT_EQ(r.status, nft::LoadStatus::kOk) << r.reason;
  ASSERT_TRUE(nft::LoadIntoNamespace(ns_, r).ok());
  EXPECT_TRUE(Has(TableNames(ns_), "storage"));
}

TEST_F(ReloadLab, ReportsNftErrorsForABrokenText) {
  auto st = sys::ApplyNft(ns_, "table inet x { chain y { nonsense } }\n", "broken");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().ToString().find("syntax error"), std::string::npos) << st.error().ToString();
}

TEST_F(ReloadLab, FollowerSeesATwoStepReloadsCommitsAndTheGapWithoutUsers) {
  ASSERT_TRUE(nft::LoadIntoNamespace(ns_, nft::LoadRulesetFile(kRules + "ceph-node.nft")).ok());
  auto f = CommitFollower::Start(ns_, CommitFollower::Options{});
  ASSERT_TRUE(f.ok()) << f.error().ToString();
  EXPECT_EQ((*f)->Users()[hazards::CtFamily::kIpv4], 2);  // two ct rules in inet storage
  ASSERT_TRUE(sys::ApplyNft(ns_, "flush ruleset\n", "flush").ok());
  ASSERT_TRUE(sys::ApplyNft(ns_, Proposed("ceph-node-safe-change.nft").text, "load").ok());
  FollowResult r = (*f)->Finish();
  EXPECT_TRUE(r.followed) << r.failure;
  ASSERT_EQ(r.commits.size(), 2u);
  EXPECT_EQ(r.commits[1].generation, r.commits[0].generation + 1);
  EXPECT_EQ(r.commits[0].users.at(hazards::CtFamily::kIpv4), 0);
  EXPECT_EQ(r.commits[1].users.at(hazards::CtFamily::kIpv6), 2);
  EXPECT_FALSE(r.commits[0].process.empty());  // this program: libnftables runs in-process
  ASSERT_EQ(r.no_user.size(), 2u);             // ipv4 and ipv6, from the flush to the load
  for (const auto& g : r.no_user) {
    ASSERT_TRUE(g.to.has_value());
    EXPECT_EQ(g.from_generation, r.commits[0].generation);
    EXPECT_EQ(g.to_generation, r.commits[1].generation);
  }
}

TEST_F(ReloadLab, FollowerCountsFamiliesSeparately) {
  ASSERT_TRUE(
      sys::ApplyNft(ns_,
                    "table ip6 v6 { chain c { ct state established counter; }; }\n"
                    "table inet n { chain p { type nat hook postrouting priority 100; }; }\n",
                    "setup")
          .ok());
  auto f = CommitFollower::Start(ns_, CommitFollower::Options{});
  ASSERT_TRUE(f.ok()) << f.error().ToString();
  auto u = (*f)->Users();
  EXPECT_EQ(u[hazards::CtFamily::kIpv4], 0);  // a nat chain without NAT rules is no user
  EXPECT_EQ(u[hazards::CtFamily::kIpv6], 1);
  FollowResult r = (*f)->Finish();
  EXPECT_TRUE(r.followed) << r.failure;
}

TEST_F(ReloadLab, MonitorReportsLostEventsWhenItsBufferOverflows) {
  auto m = sys::NftMonitor::OpenIn(ns_, 1);  // the kernel's minimum receive buffer
  ASSERT_TRUE(m.ok()) << m.error().ToString();
  std::string big = "table inet big { chain c {\n";
  for (int i = 0; i < 3000; ++i) big += "  tcp dport " + std::to_string(1000 + i) + " accept\n";
  big += "}; }\n";
  ASSERT_TRUE(sys::ApplyNft(ns_, big, "big").ok());
  std::vector<sys::NftCommit> got;
  Status st = OkStatus();
  for (int i = 0; i < 50 && st.ok(); ++i) st = m->Poll(std::chrono::milliseconds(20), got);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().Errno(), ENOBUFS) << st.error().ToString();
}

TEST_F(ReloadLab, OwnedPinSurvivesTheNodesFlushRulesetAndGoesWithItsSocket) {
  auto pin = sys::OwnedCtPin::CreateIn(ns_, kOwnedPinTable);
  ASSERT_TRUE(pin.ok()) << pin.error().ToString();
  ASSERT_TRUE(nft::LoadIntoNamespace(ns_, nft::LoadRulesetFile(kRules + "ceph-node.nft")).ok());
  EXPECT_TRUE(Has(TableNames(ns_), kOwnedPinTable));
  ASSERT_TRUE(sys::ApplyNft(ns_, "flush ruleset\n", "user flush").ok());
  EXPECT_EQ(TableNames(ns_), std::vector<std::string>{kOwnedPinTable});
  EXPECT_FALSE(
      sys::ApplyNft(ns_, std::string("delete table inet ") + kOwnedPinTable + "\n", "user delete")
          .ok());
  pin->Release();
  EXPECT_TRUE(TableNames(ns_).empty());
}

TEST_F(ReloadLab, StaleGapEmulationHoldsEstablishedEntriesInCloseWaitThenRestoresThem) {
  auto ct = sys::CtEntries::OpenIn(ns_);
  ASSERT_TRUE(ct.ok()) << ct.error().ToString();
  sys::CtEntrySpec spec;
  spec.orig.src = {10, 0, 0, 1};
  spec.orig.dst = {10, 0, 0, 2};
  spec.orig.sport = 40000;
  spec.orig.dport = 6801;
  spec.tcp_liberal = false;
  spec.timeout_s = 3600;
  ASSERT_TRUE(ct->Create(spec).ok());
  auto em = NodeEmulator::Create(ns_, hazards::Emulation::kStaleGap);
  ASSERT_TRUE(em.ok());
  ASSERT_TRUE((*em)->BeforeReload().ok());
  EXPECT_EQ((*em)->flipped(), 1u);
  auto e = ct->Get(spec.orig);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->tcp_state, sys::TcpState::kCloseWait);
  EXPECT_GT(e->timeout_s, 3000u);  // the state update left the timeout alone
  auto cw = sys::ReadSysctlIn(ns_, "net.netfilter.nf_conntrack_tcp_timeout_close_wait");
  ASSERT_TRUE(cw.ok());
  EXPECT_EQ(std::stoi(*cw), 432000);
  // Users of IPv4 not back: the entry stays held.
  ASSERT_TRUE((*em)->AfterReload({{hazards::CtFamily::kIpv4, 0}}).ok());
  EXPECT_EQ(ct->Get(spec.orig)->tcp_state, sys::TcpState::kCloseWait);
  ASSERT_TRUE((*em)->AfterReload({{hazards::CtFamily::kIpv4, 1}}).ok());
  EXPECT_EQ(ct->Get(spec.orig)->tcp_state, sys::TcpState::kEstablished);
  EXPECT_EQ((*em)->restored(), 1u);
  cw = sys::ReadSysctlIn(ns_, "net.netfilter.nf_conntrack_tcp_timeout_close_wait");
  ASSERT_TRUE(cw.ok());
  EXPECT_EQ(std::stoi(*cw), 60);
}

TEST_F(ReloadLab, RunReloadsRunsEveryNodePlanAtOnce) {
  auto other = sys::CreateAnonymous();
  ASSERT_TRUE(other.ok());
  Procedure p;
  p.style = Style::kFlushThenLoad;
  p.gap = std::chrono::milliseconds(50);
  ProposedRuleset proposed = Proposed("ceph-node.nft");
  std::vector<NodeReload> nodes{
      {"node1", &ns_, PlanReload(p, hazards::Emulation::kContinuous, proposed)},
      {"node2", &*other, PlanReload(p, hazards::Emulation::kNative, proposed)}};
  auto out = RunReloads(nodes, RunOptions{});
  ASSERT_EQ(out.size(), 2u);
  for (const auto& n : out) {
    EXPECT_TRUE(n.ok) << n.error;
    ASSERT_EQ(n.steps.size(), 2u);
  }
  // No shared lock on the path: both nodes' first steps start together (well under a step).
  auto spread = std::chrono::abs(out[0].steps[0].started_at - out[1].steps[0].started_at);
  EXPECT_LT(spread.count(), 50) << "first steps started " << spread.count() << " ms apart";
  EXPECT_EQ(TableNames(ns_), std::vector<std::string>{"storage"});
  EXPECT_EQ(TableNames(*other), std::vector<std::string>{"storage"});
}

TEST_F(ReloadLab, CommandRunsInsideTheNodeNamespace) {
  struct stat want {};
  ASSERT_EQ(fstat(ns_.fd(), &want), 0);
  auto r = RunCommand({"readlink", "/proc/self/ns/net"}, std::chrono::seconds(5));
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->exit_code, 0) << r->out;
  EXPECT_NE(r->out.find(std::to_string(want.st_ino)), std::string::npos) << r->out;
}

TEST_F(ReloadLab, CommandReloadLoadsProposedFileViaNftFromItsDirectory) {
  // The command runs in the proposed file's directory, so `-I .` finds its includes.
  auto p = ParseProcedure("command:nft -I . -f {}");
  ASSERT_TRUE(p.ok());
  Plan plan = PlanReload(*p, hazards::Emulation::kNative, Proposed("ceph-node.nft"));
  auto out = RunReloads({{"node1", &ns_, plan}}, RunOptions{});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].ok) << out[0].error;
  EXPECT_TRUE(Has(TableNames(ns_), "storage"));
}

TEST_F(ReloadLab, CommandIsKilledAtTimeout) {
  auto r = RunCommand({"sleep", "30"}, std::chrono::milliseconds(200));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->timed_out);
  EXPECT_FALSE(r->ok());
  EXPECT_NE(r->Describe().find("timeout"), std::string::npos);
}

TEST_F(ReloadLab, MissingProgramIsReportedAsNotStarted) {
  auto r = RunCommand({"/nonexistent/fwgate-reload"}, std::chrono::seconds(5));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->exec_failed);
  EXPECT_FALSE(r->ok());
}

TEST_F(ReloadLab, FailingCommandCarriesItsOutput) {
  auto r = RunCommand({"nft", "-f", "/nonexistent.nft"}, std::chrono::seconds(5));
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->exit_code, 0);
  EXPECT_NE(r->out.find("nonexistent"), std::string::npos) << r->out;
}

TEST_F(ReloadLab, WhatACommandBackgroundsDiesWithIt) {
  const std::string marker = "fwgate-test-bg-" + std::to_string(getpid());
  // The child sleeps on after the shell exits (it is running then); its argv carries the marker.
  auto r = RunCommand({"sh", "-c",
                       "setsid bash -c 'exec -a " + marker +
                           " sleep 30' & "
                           "for i in $(seq 100); do grep -q " +
                           marker +
                           " /proc/[0-9]*/cmdline 2>/dev/null && break; sleep 0.02; done; "
                           "grep -lq " +
                           marker + " /proc/[0-9]*/cmdline 2>/dev/null && echo running"},
                      std::chrono::seconds(5));
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->out, "running\n") << r->Describe();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(ProcessWithMarkerRuns(marker));
}

TEST_F(ReloadLab, CommandSeesOnlyItsOwnProcesses) {
  auto r = RunCommand({"sh", "-c", "ls /proc | grep -c '^[0-9]'"}, std::chrono::seconds(5));
  ASSERT_TRUE(r.ok());
  int n = std::atoi(r->out.c_str());
  EXPECT_GE(n, 1);
  EXPECT_LE(n, 5) << "the command saw " << n << " processes: it is not in its own PID namespace";
}

TEST_F(ReloadLab, CommandCannotReachTheHostsServiceManagers) {
  // systemd's and D-Bus's sockets are under /run, which the command sees empty.
  auto r = RunCommand({"sh", "-c",
                       "ls -A /run | wc -l; test -e /run/systemd/private && echo systemd; "
                       "test -e /run/dbus/system_bus_socket && echo dbus; true"},
                      std::chrono::seconds(5));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out, "0\n") << r->out;
  if (!sys::FindProgram("systemctl").empty()) {
    auto s = RunCommand({"systemctl", "reload", "nftables"}, std::chrono::seconds(10));
    ASSERT_TRUE(s.ok());
    EXPECT_NE(s->exit_code, 0) << s->out;
  }
}

TEST_F(ReloadLab, CommandsAreToldTheNodesNamespaceAndTheFixtureScriptsRefuseAnyOther) {
  auto same =
      RunCommand({"sh", "-c", "[ \"$(readlink /proc/self/ns/net)\" = \"$FWGATE_NODE_NETNS\" ]"},
                 std::chrono::seconds(10));
  ASSERT_TRUE(same.ok()) << same.error().ToString();
  EXPECT_EQ(same->exit_code, 0) << same->out;
  // The fixture script, told another namespace, must refuse before touching the ruleset.
  ASSERT_TRUE(sys::ApplyNft(ns_, "table inet keep { chain c { ct state established counter; }; }\n",
                            "setup")
                  .ok());
  const std::string script =
      std::string(FWGATE_SOURCE_DIR) + "/tests/fixtures/reload-cases/two-commits.sh";
  sys::SpawnOptions o = CommandSpawnOptions(ns_, {"sh", script, "/nonexistent.nft", "0"}, "/",
                                            std::chrono::seconds(10), nullptr);
  o.env = {"FWGATE_NODE_NETNS=net:[1]"};
  auto r = sys::RunProcess(o);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->exit_code, 1);
  EXPECT_NE(r->out.find("refusing"), std::string::npos) << r->out;
  EXPECT_EQ(TableNames(ns_), std::vector<std::string>{"keep"});
}

TEST_F(ReloadLab, TcpSocketsReportBytesAckedAndThePeersWindow) {
  auto up = RunCommand({"ip", "link", "set", "lo", "up"}, std::chrono::seconds(10));
  ASSERT_TRUE(up.ok() && up->exit_code == 0);
  int fds[3] = {-1, -1, -1};
  uint16_t port = 0;
  constexpr size_t kBytes = 200000;
  ASSERT_TRUE(sys::RunInNetns(ns_, [&] {
                sockaddr_in a{};
                a.sin_family = AF_INET;
                a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                socklen_t len = sizeof(a);
                if (bind(fds[0], reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
                    listen(fds[0], 1) != 0 ||
                    getsockname(fds[0], reinterpret_cast<sockaddr*>(&a), &len) != 0) {
                  return;
                }
                port = ntohs(a.sin_port);
                fds[1] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (connect(fds[1], reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return;
                fds[2] = accept4(fds[0], nullptr, nullptr, SOCK_CLOEXEC);
              }).ok());
  ASSERT_GE(fds[2], 0);
  std::thread reader([&] {
    std::vector<char> buf(65536);
    size_t got = 0;
    while (got < kBytes) {
      ssize_t n = read(fds[2], buf.data(), buf.size());
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
  });
  std::vector<char> data(kBytes, 'x');
  size_t sent = 0;
  while (sent < kBytes) {
    ssize_t n = write(fds[1], data.data() + sent, kBytes - sent);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  reader.join();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the last ACK
  auto socks = sys::TcpSockets(ns_);
  for (int fd : fds) close(fd);
  ASSERT_TRUE(socks.ok()) << socks.error().ToString();
  bool client = false, server = false;
  for (const auto& s : *socks) {
    if (s.dport == port) {
      client = true;
      EXPECT_TRUE(s.has_info);
      EXPECT_GE(s.bytes_acked, kBytes);  // the SYN's sequence number may count as one
      EXPECT_LE(s.bytes_acked, kBytes + 1);
      EXPECT_GT(s.snd_wnd, 0u);
      EXPECT_EQ(sys::TcpEndpoint(s, true), "127.0.0.1:" + std::to_string(port));
    }
    if (s.sport == port) {
      server = true;
      EXPECT_GE(s.bytes_received, kBytes);
      EXPECT_LE(s.bytes_received, kBytes + 1);
    }
  }
  EXPECT_TRUE(client && server);
}

}  // namespace
}  // namespace fwgate::reload
