// Acceptance: real lab replays of the bundled Ceph rulesets, one table of reload cases
// (description, rulesets, reload style, kernels, be_liberal, expected verdict) driving every run.
// Each case runs `fwgate replay --json` as a child (argument vector) and checks the exit code,
// the verdict and where the breakage is. Every run takes a few seconds.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sys/netns.h"

namespace {

struct ReloadCase {
  const char* name;  // test name
  const char* description;
  const char* current;  // file in rulesets/
  const char* proposed;
  const char* reload;                   // --reload
  const char* kernel;                   // --kernel ("" = the lab's own)
  const char* be_liberal;               // --be-liberal
  const char* verdict;                  // expected
  std::vector<std::string> invalid_on;  // nodes whose conntrack invalid count must rise
  const char* only_touching;            // every broken connection touches this node ("" = any)
};

const std::vector<ReloadCase> kCases = {
    {"AtomicSafeChange_Continuous",
     "atomic reload of a safe change, 4.4 class",
     "ceph-node.nft",
     "ceph-node-safe-change.nft",
     "atomic",
     "4.4",
     "0",
     "survived",
     {},
     ""},
    {"AtomicSafeChange_StaleGap",
     "atomic reload of a safe change, 4.15 class",
     "ceph-node.nft",
     "ceph-node-safe-change.nft",
     "atomic",
     "4.15",
     "0",
     "survived",
     {},
     ""},
    {"AtomicSafeChange_Native",
     "atomic reload of a safe change, lab kernel",
     "ceph-node.nft",
     "ceph-node-safe-change.nft",
     "atomic",
     "",
     "0",
     "survived",
     {},
     ""},
    {"FlushThenLoad_StaleGap_Strict",
     "flush-then-load on 4.15 with be_liberal=0 breaks",
     "ceph-node.nft",
     "ceph-node-safe-change.nft",
     "flush-then-load",
     "4.15",
     "0",
     "broken",
     {"node1", "node2", "node3"},
     ""},
    {"FlushThenLoad_StaleGap_Liberal",
     "flush-then-load on 4.15 with be_liberal=1 survives",
     "ceph-node.nft",
     "ceph-node-safe-change.nft",
     "flush-then-load",
     "4.15",
     "1",
     "survived",
     {},
     ""},
    {"FlushThenLoad_Continuous",
     "flush-then-load on 4.4 survives",
     "ceph-node.nft",
     "ceph-node-safe-change.nft",
     "flush-then-load",
     "4.4",
     "0",
     "survived",
     {},
     ""},
    {"FlushThenLoad_Native",
     "flush-then-load on the lab kernel (re-learns windows) survives",
     "ceph-node.nft",
     "ceph-node-safe-change.nft",
     "flush-then-load",
     "",
     "0",
     "survived",
     {},
     ""},
    {"FlushThenLoad_Mixed2019",
     "one 4.15 node among 4.4 nodes: only its connections break",
     "ceph-node.nft",
     "ceph-node-safe-change.nft",
     "flush-then-load",
     "node1=4.15,node2=4.4,node3=4.4",
     "0",
     "broken",
     {"node1"},
     "node1"},
    {"NoEstablished_Atomic_Continuous",
     "no established accept breaks on 4.4",
     "ceph-node.nft",
     "ceph-node-no-established.nft",
     "atomic",
     "4.4",
     "0",
     "broken",
     {},
     ""},
    {"NoEstablished_Atomic_StaleGap",
     "no established accept breaks on 4.15",
     "ceph-node.nft",
     "ceph-node-no-established.nft",
     "atomic",
     "4.15",
     "0",
     "broken",
     {},
     ""},
    {"NoEstablished_Atomic_Native",
     "no established accept breaks on the lab kernel",
     "ceph-node.nft",
     "ceph-node-no-established.nft",
     "atomic",
     "",
     "0",
     "broken",
     {},
     ""},
    {"NoEstablished_FlushThenLoad_Continuous",
     "no established accept, two-step, 4.4",
     "ceph-node.nft",
     "ceph-node-no-established.nft",
     "flush-then-load",
     "4.4",
     "0",
     "broken",
     {},
     ""},
};

struct ChildResult {
  int exit_code = -1;
  std::string out, err;
};

ChildResult RunFwgate(const std::vector<std::string>& args) {
  // FWGATE_BINARY_OVERRIDE lets a long repeat loop run a frozen copy of the program.
  const char* bin = getenv("FWGATE_BINARY_OVERRIDE");
  std::vector<std::string> argv{bin != nullptr ? bin : FWGATE_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> c;
  for (auto& a : argv) c.push_back(a.data());
  c.push_back(nullptr);
  int out[2], err[2];
  if (pipe(out) != 0 || pipe(err) != 0) return {};
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    dup2(err[1], 2);
    close(out[0]);
    close(err[0]);
    execv(c[0], c.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  ChildResult r;
  auto drain = [](int fd, std::string& s) {
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) s.append(buf, static_cast<size_t>(n));
    close(fd);
  };
  drain(out[0], r.out);  // stderr is small; stdout first is safe
  drain(err[0], r.err);
  int status = 0;
  waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

class ReplayAcceptance : public ::testing::TestWithParam<ReloadCase> {
 protected:
  void SetUp() override {
    if (auto st = fwgate::sys::CanCreateNamespaces(); !st) {
      GTEST_SKIP() << st.error().ToString();
    }
  }
};

TEST_P(ReplayAcceptance, VerdictMatchesTheKernelFacts) {
  const ReloadCase& c = GetParam();
  const std::string dir = std::string(FWGATE_SOURCE_DIR) + "/rulesets/";
  std::vector<std::string> args{"replay",         "--current",  dir + c.current, "--proposed",
                                dir + c.proposed, "--reload",   c.reload,        "--be-liberal",
                                c.be_liberal,     "--duration", "4.5",           "--warmup",
                                "1000",           "--json"};
  if (*c.kernel != '\0') {
    args.push_back("--kernel");
    args.push_back(c.kernel);
  }
  ChildResult r = RunFwgate(args);
  SCOPED_TRACE(c.description);
  // On failure, show where the breakage was and what conntrack counted.
  auto details = [&](const nlohmann::json& j) {
    std::string s = "broken: " + j["broken_connections"].dump() + "\nnodes:";
    for (const auto& n : j["nodes"]) {
      s += " " + n["name"].get<std::string>() + " " + n["emulation"].get<std::string>() +
           " conntrack=" + n["conntrack"].dump();
    }
    return s;
  };
  ASSERT_TRUE(r.exit_code == 0 || r.exit_code == 1) << "exit " << r.exit_code << ": " << r.err;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["verdict"], c.verdict) << j["reason"] << "\n" << details(j);
  EXPECT_EQ(r.exit_code, std::string(c.verdict) == "survived" ? 0 : 1);
  EXPECT_EQ(j["nodes"].size(), 3u);
  for (const auto& node : c.invalid_on) {
    for (const auto& n : j["nodes"]) {
      if (n["name"] == node) {
        EXPECT_GT(n["conntrack"]["invalid"].get<uint64_t>(), 0u) << node;
        EXPECT_EQ(n["emulation"], "stale-gap") << node;
      }
    }
  }
  if (*c.only_touching != '\0') {
    ASSERT_GT(j["broken_connections"].size(), 0u);
    for (const auto& b : j["broken_connections"]) {
      EXPECT_TRUE(b["from"] == c.only_touching || b["to"] == c.only_touching) << b.dump();
    }
    for (const auto& n : j["nodes"]) {
      if (n["name"] != c.only_touching) {
        EXPECT_EQ(n["conntrack"]["invalid"].get<uint64_t>(), 0u) << n.dump();
      }
    }
  }
  if (std::string(c.verdict) == "survived") {
    EXPECT_EQ(j["broken_connections"].size(), 0u);
    EXPECT_LE(j["max_stall_ms"].get<int64_t>(), 2000);
  }
}

INSTANTIATE_TEST_SUITE_P(Ceph, ReplayAcceptance, ::testing::ValuesIn(kCases),
                         [](const auto& p) { return std::string(p.param.name); });

}  // namespace
