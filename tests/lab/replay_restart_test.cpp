// `fwgate replay --restart`: a user's own host restarted in the lab (the 2014 storm's model,
// docs/lab-scenarios.md), judged by what its conntrack table does. Expected outcomes come from the
// kernel facts (docs/kernel-conntrack.md §4.3: a full table drops packets needing a new entry;
// §4.4: every reconnect attempt lingers in the table), with sizes far from the edges: 4 daemons
// of 100 sessions each retried once a second, 0.5 s down and 1.5 s of boot work shared by the
// daemons booting together, so all at once spin ~6.5 s (~2600 attempts on 400 entries), one at a
// time ~2 s each (~200 per restart).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sys/netns.h"
#include "tests/support/subprocess.h"

namespace {

using nlohmann::json;

const std::string kCurrent = std::string(FWGATE_SOURCE_DIR) + "/rulesets/ceph-node.nft";

std::vector<std::string> Host(const std::string& restart) {
  return {"replay", "--current",   kCurrent, "--nodes",
          "2",      "--restart",   restart,  "--connections-per-node",
          "400",    "--boot-work", "1500",   "--json",
          "--quiet"};
}

class ReplayRestart : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto st = fwgate::sys::CanCreateNamespaces(); !st) GTEST_SKIP() << st.error().ToString();
  }
};

TEST_F(ReplayRestart, AllAtOnceFillsTheTableAndIsBroken) {
  auto args = Host("node1:4");
  for (const char* a : {"--table-size", "2048", "--observe", "15"}) args.emplace_back(a);
  auto r = fwgate::testing::RunFwgate(args);
  if (r.exit_code == 3) GTEST_SKIP() << r.err;
  ASSERT_EQ(r.exit_code, 1) << r.out << r.err;
  auto j = json::parse(r.out);
  EXPECT_EQ(j["kind"], "restart");
  EXPECT_EQ(j["verdict"], "broken");
  const json& s = j["storm"];
  EXPECT_EQ(s["table_size"].get<uint64_t>(), 2048u);
  EXPECT_GE(s["peak_entries"].get<uint64_t>() * 100, 2048u * 98) << s["peak_entries"];
  EXPECT_GT(s["drops"].get<uint64_t>(), 0u);
  // The probe's estimate for the same daemons, rate and boot agrees with the lab.
  EXPECT_TRUE(s["estimate_overflows"].get<bool>());
  EXPECT_TRUE(s["lab_overflowed"].get<bool>());
}

TEST_F(ReplayRestart, StaggeredAfterAWhileFitsTheSameTable) {
  auto args = Host("node1:4@1");
  for (const char* a : {"--table-size", "2048", "--stagger", "2500"}) args.emplace_back(a);
  auto r = fwgate::testing::RunFwgate(args);
  if (r.exit_code == 3) GTEST_SKIP() << r.err;
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto j = json::parse(r.out);
  EXPECT_EQ(j["verdict"], "survived");
  const json& s = j["storm"];
  EXPECT_EQ(s["drops"].get<uint64_t>(), 0u);
  EXPECT_LT(s["peak_entries"].get<uint64_t>(), 2048u);
  EXPECT_GE(s["recovery_ms"].get<int64_t>(), 0);
  EXPECT_EQ(s["restart_at_ms"].get<int>(), 1000);
  EXPECT_FALSE(s["estimate_overflows"].get<bool>());
  // Samples before the first restart: steady sessions, on the clock before 0.
  ASSERT_FALSE(s["timeline"].empty());
  EXPECT_LT(s["timeline"][0]["t_ms"].get<int64_t>(), 0);
}

TEST_F(ReplayRestart, BadFormsAreExit2) {
  for (const std::vector<std::string>& extra :
       std::vector<std::vector<std::string>>{{"--restart", "node3:8"},
                                             {"--restart", "node1"},
                                             {"--restart", "node1:0"},
                                             {"--restart", "node1:8@x"},
                                             {"--restart", "node1:8", "--proposed", kCurrent},
                                             {"--restart", "node1:8", "--timeout", "bogus=5"},
                                             {"--restart", "node1:8", "--timeout", "time_wait=0"},
                                             {}}) {
    std::vector<std::string> args = {"replay", "--current", kCurrent, "--nodes", "2"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = fwgate::testing::RunFwgate(args);
    EXPECT_EQ(r.exit_code, 2) << ::testing::PrintToString(extra) << r.err;
    EXPECT_NE(r.err.find("fwgate"), std::string::npos) << r.err;
  }
}

}  // namespace
