// `fwgate replay` as a user runs it: bad input is exit 2 with FILE:LINE:COL or the valid forms,
// what cannot run is exit 3 with the reason, the user's reload command works and is bounded.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "sys/netns.h"
#include "tests/support/subprocess.h"

namespace {

using ChildResult = fwgate::testing::ProcessResult;
ChildResult Fwgate(std::vector<std::string> args) {
  return fwgate::testing::RunFwgate(std::move(args));
}

const std::string kDir = std::string(FWGATE_SOURCE_DIR) + "/rulesets/";
const std::string kCurrent = kDir + "ceph-node.nft";
const std::string kSafe = kDir + "ceph-node-safe-change.nft";

class ReplayCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto st = fwgate::sys::CanCreateNamespaces(); !st) GTEST_SKIP() << st.error().ToString();
  }
};

TEST_F(ReplayCli, BrokenProposedRulesetIsExit2WithFileLineCol) {
  std::string bad = "/tmp/fwgate-replay-cli-bad.nft";
  {
    std::ofstream f(bad);
    f << "flush ruleset\ntable inet storage {\n  chain input {\n    tcp dport 22 acept\n  }\n}\n";
  }
  auto r = Fwgate({"replay", "--current", kCurrent, "--proposed", bad});
  unlink(bad.c_str());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(std::regex_search(r.err, std::regex("fwgate-replay-cli-bad\\.nft:4:[0-9]+:")))
      << r.err;
}

// Thousands of lab sockets in one process must not push the sockets libnftables opens for the
// reload past FD_SETSIZE (nftables waits on them with select()); this run holds ~3,200
// connections (6,400 sockets) in-process, and once aborted the process.
TEST_F(ReplayCli, ThousandsOfConnectionsInProcessStillReload) {
  auto r = Fwgate({"replay", "--current", kCurrent, "--proposed", kSafe, "--nodes", "8",
                   "--connections-per-node", "200", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["verdict"], "survived");
  EXPECT_GT(j["connections"]["total"].get<int>(), 3000);
}

TEST_F(ReplayCli, UnknownKernelIsExit2ListingValidForms) {
  auto r = Fwgate({"replay", "--current", kCurrent, "--proposed", kSafe, "--kernel", "four"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("valid forms"), std::string::npos) << r.err;
}

TEST_F(ReplayCli, UnknownReloadStyleIsExit2) {
  auto r = Fwgate({"replay", "--current", kCurrent, "--proposed", kSafe, "--reload", "restart"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("flush-then-load"), std::string::npos) << r.err;
}

TEST_F(ReplayCli, DelayWithoutNetemIsExit3WithReason) {
  auto r = Fwgate(
      {"replay", "--current", kCurrent, "--proposed", kSafe, "--delay", "5", "--duration", "1"});
  if (r.exit_code == 0) GTEST_SKIP() << "this kernel has sch_netem";
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("netem"), std::string::npos) << r.err;
}

TEST_F(ReplayCli, ReloadCommandTimeoutIsExit3WithReason) {
  auto r = Fwgate({"replay", "--current", kCurrent, "--proposed", kSafe, "--reload",
                   "command:sleep 30", "--reload-timeout", "300", "--warmup", "200"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("timeout"), std::string::npos) << r.err;
}

TEST_F(ReplayCli, MissingReloadToolIsExit3) {
  auto r = Fwgate({"replay", "--current", kCurrent, "--proposed", kSafe, "--reload",
                   "command:/nonexistent/reload-firewall {}", "--warmup", "200"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("reload-firewall"), std::string::npos) << r.err;
}

TEST_F(ReplayCli, UserReloadCommandRunsInEachNodeAndSurvives) {
  auto r = Fwgate({"replay", "--current", kCurrent, "--proposed", kSafe, "--reload",
                   "command:nft -I " + kDir + " -f {}", "--nodes", "2", "--duration", "3",
                   "--warmup", "800"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("verdict: SURVIVED"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("the command runs as written"), std::string::npos) << r.out;
}

// Plumbing of --rolling and --loss; 4.4 class (continuous) so no kernel race is involved (the
// lab kernel's own re-learning can drop a flight of a bulk flow, see simulator/replay/README.md).
TEST_F(ReplayCli, RollingReloadWithLossStillSurvivesSafeChange) {
  auto r = Fwgate({"replay", "--current", kCurrent, "--proposed", kSafe, "--reload",
                   "flush-then-load", "--kernel", "4.4", "--gap", "300", "--rolling", "300",
                   "--loss", "0.5", "--nodes", "2", "--duration", "3", "--warmup", "800",
                   "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("\"verdict\": \"survived\""), std::string::npos) << r.out;
}

}  // namespace
