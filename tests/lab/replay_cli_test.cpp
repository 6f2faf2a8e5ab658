// `fwgate replay` as a user runs it: bad input is exit 2 with FILE:LINE:COL or the valid forms,
// what cannot run is exit 3 with the reason, the user's reload command works and is bounded.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <filesystem>
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

// A real host's ruleset names its interfaces: the lab loads it exactly as validate does (the
// same placeholders in every node), so what validates also replays.
TEST_F(ReplayCli, RulesetNamingHostInterfacesAndADeviceBoundChainReplays) {
  std::string dir = "/tmp/fwgate-replay-ifaces-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  std::string base;
  {
    std::ifstream in(kSafe);
    base.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::filesystem::copy_file(kDir + "ceph-networks.nft", dir + "/ceph-networks.nft");
  {
    std::ofstream f(dir + "/host.nft");
    f << base << "\n"
      << "table inet hostif {\n"
      << "  chain input {\n"
      << "    type filter hook input priority 10; policy accept;\n"
      << "    iif \"bond0\" tcp dport 22 accept\n"
      << "    iifname { \"eno1\", \"eno2\" } counter\n"
      << "  }\n"
      << "}\n"
      << "table netdev edge {\n"
      << "  chain ingress {\n"
      << "    type filter hook ingress device \"eno1\" priority 0; policy accept;\n"
      << "    counter\n"
      << "  }\n"
      << "}\n";
  }
  auto v = Fwgate({"validate", dir + "/host.nft"});
  auto r = Fwgate({"replay", "--current", kCurrent, "--proposed", dir + "/host.nft", "--json"});
  std::filesystem::remove_all(dir);
  ASSERT_EQ(v.exit_code, 0) << v.err;
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_EQ(nlohmann::json::parse(r.out)["verdict"], "survived");
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

// Nodes reloaded together reload together, and the report says when: every node's step starts,
// commits (libnftables had the kernel's answer) and returns at measured times, ordered, and every
// node has started before any node's transaction was answered. That is structural, not a timing
// threshold: a lock shared between the nodes (or one runner for all) would serialise the
// transactions, so a later node would start only after an earlier one had committed. The
// proposed file adds 600 rules with anonymous sets so each transaction takes a while (the
// kernel's set handling), far longer than starting the nodes' threads.
TEST_F(ReplayCli, NodesReloadedTogetherCommitConcurrentlyAndTheReportSaysWhen) {
  const std::string proposed = "/tmp/fwgate-replay-cli-concurrent.nft";
  {
    std::ifstream in(kSafe);
    std::ofstream f(proposed);
    f << in.rdbuf() << "\ntable inet bulk {\n  chain c {\n";
    for (int i = 0; i < 600; ++i) {
      f << "    ip saddr { 10.99." << i / 250 << "." << i % 250 + 1 << ", 10.98.0." << i % 250 + 1
        << " } tcp dport " << 1000 + i << " accept\n";
    }
    f << "  }\n}\n";
  }
  auto r = Fwgate({"replay", "--current", kCurrent, "--proposed", proposed, "--include-dir", kDir,
                   "--nodes", "4", "--duration", "3", "--warmup", "800", "--json"});
  unlink(proposed.c_str());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["nodes"].size(), 4u);
  int64_t latest_start = INT64_MIN, earliest_start = INT64_MAX, earliest_commit = INT64_MAX;
  for (const auto& n : j["nodes"]) {
    const std::string name = n["name"];
    ASSERT_TRUE(n["reload_start_ms"].is_number_integer()) << n.dump();
    ASSERT_TRUE(n["reload_end_ms"].is_number_integer()) << n.dump();
    ASSERT_EQ(n["reload_step_times"].size(), 1u) << n.dump();  // atomic: one transaction
    const auto& s = n["reload_step_times"][0];
    ASSERT_TRUE(s["commit_ms"].is_number_integer()) << name << ": " << s.dump();
    const int64_t start = s["start_ms"], commit = s["commit_ms"], end = s["end_ms"];
    EXPECT_GE(start, 0) << name;  // after the reload moment the commits count from
    EXPECT_LE(start, commit) << name;
    EXPECT_LE(commit, end) << name;
    EXPECT_EQ(n["reload_start_ms"].get<int64_t>(), start) << name;
    EXPECT_EQ(n["reload_end_ms"].get<int64_t>(), end) << name;
    // The commit follower saw the node's transaction after its step began.
    ASSERT_FALSE(n["commits"].empty()) << name << ": " << n.dump();
    EXPECT_GE(n["commits"][0]["at_ms"].get<int64_t>(), start) << name;
    latest_start = std::max(latest_start, start);
    earliest_start = std::min(earliest_start, start);
    earliest_commit = std::min(earliest_commit, commit);
  }
  EXPECT_LT(latest_start, earliest_commit)
      << "a node started only after another's transaction was answered: " << r.out;
  // The lab's own spread is the one these times give.
  EXPECT_EQ(j["lab_health"]["reload_start_spread_ms"].get<int64_t>(),
            latest_start - earliest_start);
}

// Plumbing of --rolling and --loss; 4.4 class (continuous) so no kernel race is involved (the
// lab kernel's own re-learning can drop a flight of a bulk flow, see simulator/replay/README.md).
TEST_F(ReplayCli, RollingReloadWithLossStillSurvivesSafeChange) {
  auto r = Fwgate(
      {"replay",   "--current", kCurrent, "--proposed", kSafe,       "--reload", "flush-then-load",
       "--kernel", "4.4",       "--gap",  "300",        "--rolling", "300",      "--loss",
       "0.5",      "--nodes",   "2",      "--duration", "3",         "--warmup", "800",
       "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("\"verdict\": \"survived\""), std::string::npos) << r.out;
}

}  // namespace
