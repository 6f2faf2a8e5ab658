// `fwgate replay` as a user runs it: bad input is exit 2 with FILE:LINE:COL or the valid forms,
// what cannot run is exit 3 with the reason, the user's reload command works and is bounded.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "simulator/netns/netns.h"

namespace {

struct ChildResult {
  int exit_code = -1;
  std::string out, err;
};

ChildResult Fwgate(std::vector<std::string> args) {
  args.insert(args.begin(), FWGATE_BINARY);
  std::vector<char*> c;
  for (auto& a : args) c.push_back(a.data());
  c.push_back(nullptr);
  char out_path[] = "/tmp/fwgate-replay-cli-outXXXXXX";
  char err_path[] = "/tmp/fwgate-replay-cli-errXXXXXX";
  int out = mkstemp(out_path);
  int err = mkstemp(err_path);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out, 1);
    dup2(err, 2);
    execv(c[0], c.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  close(out);
  close(err);
  auto slurp = [](const char* p) {
    std::ifstream f(p);
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    unlink(p);
    return s;
  };
  ChildResult r;
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

const std::string kDir = std::string(FWGATE_SOURCE_DIR) + "/rulesets/";
const std::string kCurrent = kDir + "ceph-node.nft";
const std::string kSafe = kDir + "ceph-node-safe-change.nft";

class ReplayCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto st = fwgate::netns::CanCreateNamespaces(); !st) GTEST_SKIP() << st.error().ToString();
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
