// Reload procedures against the real kernel inside namespaces the test creates: nft steps land
// in the node's namespace only, the emulation tables appear and vanish as planned, and the user's
// command runs inside the node namespace, bounded by its timeout.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "sys/nft_netlink.h"
#include "sys/netns.h"
#include "simulator/reload/executor.h"

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

class ReloadLab : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto st = sys::CanCreateNamespaces(); !st) GTEST_SKIP() << st.error().ToString();
    auto ns = sys::CreateAnonymous();
    ASSERT_TRUE(ns.ok());
    ns_ = std::move(*ns);
  }
  sys::NetnsHandle ns_;
};

TEST_F(ReloadLab, AppliesBundledRulesetWithRelativeIncludeInNodeOnly) {
  ASSERT_TRUE(ApplyNftFile(ns_, kRules + "ceph-node.nft").ok());
  EXPECT_TRUE(Has(TableNames(ns_), "storage"));
}

TEST_F(ReloadLab, ReportsNftErrorsForABrokenText) {
  auto st = ApplyNftText(ns_, "table inet x { chain y { nonsense } }\n");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().ToString().find("nft"), std::string::npos);
}

TEST_F(ReloadLab, StaleGapStepLeavesPinAndGapTablesAndLoadRemovesThem) {
  ASSERT_TRUE(ApplyNftFile(ns_, kRules + "ceph-node.nft").ok());
  Procedure p;
  p.style = Style::kFlushThenLoad;
  p.gap = std::chrono::milliseconds(0);
  Plan plan = PlanReload(p, hazards::Emulation::kStaleGap, kRules + "ceph-node-safe-change.nft");
  ASSERT_TRUE(ApplyNftText(ns_, plan.steps[0].text).ok());
  auto mid = TableNames(ns_);
  EXPECT_TRUE(Has(mid, kPinTable));
  EXPECT_TRUE(Has(mid, kGapTable));
  EXPECT_FALSE(Has(mid, "storage"));
  ASSERT_TRUE(ApplyNftFile(ns_, plan.steps[1].path).ok());
  auto after = TableNames(ns_);
  EXPECT_EQ(after, std::vector<std::string>{"storage"});
}

TEST_F(ReloadLab, RunReloadsRunsEveryNodePlan) {
  auto other = sys::CreateAnonymous();
  ASSERT_TRUE(other.ok());
  Procedure p;
  p.style = Style::kFlushThenLoad;
  p.gap = std::chrono::milliseconds(50);
  std::vector<NodeReload> nodes{
      {"node1", &ns_, PlanReload(p, hazards::Emulation::kContinuous, kRules + "ceph-node.nft")},
      {"node2", &*other, PlanReload(p, hazards::Emulation::kNative, kRules + "ceph-node.nft")}};
  RunOptions o;
  o.rolling = std::chrono::milliseconds(20);
  auto out = RunReloads(nodes, o);
  ASSERT_EQ(out.size(), 2u);
  for (const auto& n : out) {
    EXPECT_TRUE(n.ok) << n.error;
    EXPECT_EQ(n.steps.size(), 2u);
  }
  EXPECT_EQ(TableNames(ns_), std::vector<std::string>{"storage"});
  EXPECT_EQ(TableNames(*other), std::vector<std::string>{"storage"});
}

TEST_F(ReloadLab, CommandRunsInsideTheNodeNamespace) {
  struct stat want {};
  ASSERT_EQ(fstat(ns_.fd(), &want), 0);
  auto r = RunCommandInNetns(ns_, {"readlink", "/proc/self/ns/net"}, std::chrono::seconds(5));
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->exit_code, 0) << r->output;
  EXPECT_NE(r->output.find(std::to_string(want.st_ino)), std::string::npos) << r->output;
}

TEST_F(ReloadLab, CommandReloadLoadsProposedFileViaNft) {
  auto p = ParseProcedure("command:nft -I " + kRules + " -f {}");
  ASSERT_TRUE(p.ok());
  Plan plan = PlanReload(*p, hazards::Emulation::kNative, kRules + "ceph-node.nft");
  auto out = RunReloads({{"node1", &ns_, plan}}, RunOptions{});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].ok) << out[0].error;
  EXPECT_TRUE(Has(TableNames(ns_), "storage"));
}

TEST_F(ReloadLab, CommandIsKilledAtTimeout) {
  auto r = RunCommandInNetns(ns_, {"sleep", "30"}, std::chrono::milliseconds(200));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->timed_out);
  EXPECT_FALSE(r->ok());
  EXPECT_NE(r->Describe().find("timeout"), std::string::npos);
}

TEST_F(ReloadLab, MissingProgramIsReportedAsNotStarted) {
  auto r = RunCommandInNetns(ns_, {"/nonexistent/fwgate-reload"}, std::chrono::seconds(5));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->exec_failed);
  EXPECT_FALSE(r->ok());
}

TEST_F(ReloadLab, FailingCommandCarriesItsOutput) {
  auto r = RunCommandInNetns(ns_, {"nft", "-f", "/nonexistent.nft"}, std::chrono::seconds(5));
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->exit_code, 0);
  EXPECT_NE(r->output.find("nonexistent"), std::string::npos) << r->output;
}

}  // namespace
}  // namespace fwgate::reload
