// Reload procedures against the real kernel inside namespaces the test creates: nft steps land
// in the node's namespace only, the emulation tables appear and vanish as planned, and the user's
// command runs confined to the lab (node namespace, own PID and mount namespaces, no /run),
// bounded by its timeout, and leaves nothing running.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "gate/nft/loader.h"
#include "simulator/reload/executor.h"
#include "sys/netns.h"
#include "sys/nft_netlink.h"
#include "sys/nft_runner.h"

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

TEST_F(ReloadLab, StaleGapStepLeavesPinAndGapTablesAndLoadRemovesThem) {
  ASSERT_TRUE(nft::LoadIntoNamespace(ns_, nft::LoadRulesetFile(kRules + "ceph-node.nft")).ok());
  Procedure p;
  p.style = Style::kFlushThenLoad;
  p.gap = std::chrono::milliseconds(0);
  Plan plan = PlanReload(p, hazards::Emulation::kStaleGap, Proposed("ceph-node-safe-change.nft"));
  ASSERT_TRUE(sys::ApplyNft(ns_, plan.steps[0].text, "step 1").ok());
  auto mid = TableNames(ns_);
  EXPECT_TRUE(Has(mid, kPinTable));
  EXPECT_TRUE(Has(mid, kGapTable));
  EXPECT_FALSE(Has(mid, "storage"));
  ASSERT_TRUE(sys::ApplyNft(ns_, plan.steps[1].text, "step 2").ok());
  auto after = TableNames(ns_);
  EXPECT_EQ(after, std::vector<std::string>{"storage"});
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

}  // namespace
}  // namespace fwgate::reload
