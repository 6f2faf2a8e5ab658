// A replay killed mid-run (SIGINT, SIGTERM, SIGKILL; during traffic and during the user's reload
// command) leaves nothing behind: the host's links, named namespaces, ruleset and mounts are as
// before and no child process survives. SIGINT/SIGTERM end in exit 3 "interrupted".
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "sys/netns.h"
#include "tests/support/host_state.h"

namespace {

using namespace std::chrono_literals;
using fwgate::testing::FindProcesses;
using fwgate::testing::HostState;
using fwgate::testing::WaitFor;

struct KillCase {
  const char* name;
  int signal;
  bool during_command;  // kill while the reload command runs (else during warm-up traffic)
};

class ReplayCleanup : public ::testing::TestWithParam<KillCase> {
 protected:
  void SetUp() override {
    if (auto st = fwgate::sys::CanCreateNamespaces(); !st) GTEST_SKIP() << st.error().ToString();
  }
};

TEST_P(ReplayCleanup, KilledRunLeavesHostAsBefore) {
  const KillCase& k = GetParam();
  HostState before = fwgate::testing::SnapshotHost();
  // A marker only this run's reload command carries.
  std::string marker = "29." + std::to_string(getpid() % 1000) + std::to_string(k.signal);
  const std::string dir = std::string(FWGATE_SOURCE_DIR) + "/rulesets/";
  std::vector<std::string> argv{FWGATE_BINARY,      "replay",
                                "--current",        dir + "ceph-node.nft",
                                "--proposed",       dir + "ceph-node-safe-change.nft",
                                "--reload",         "command:sleep " + marker,
                                "--reload-timeout", "60000",
                                "--warmup",         k.during_command ? "300" : "20000",
                                "--duration",       "30"};
  std::vector<char*> c;
  for (auto& a : argv) c.push_back(a.data());
  c.push_back(nullptr);
  int errp[2];
  ASSERT_EQ(pipe(errp), 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(errp[1], 2);
    close(errp[0]);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    execv(c[0], c.data());
    _exit(127);
  }
  close(errp[1]);
  std::string sleep_arg = "sleep";
  sleep_arg += '\0';
  sleep_arg += marker;
  if (k.during_command) {
    ASSERT_TRUE(WaitFor([&] { return !FindProcesses(sleep_arg).empty(); }, 30s))
        << "the reload command never started";
  } else {
    // Bring-up and validation take well under two seconds; warm-up lasts 20.
    std::this_thread::sleep_for(2s);
    ASSERT_TRUE(FindProcesses(sleep_arg).empty());
  }
  ASSERT_EQ(kill(pid, k.signal), 0);
  int status = 0;
  bool exited = WaitFor([&] { return waitpid(pid, &status, WNOHANG) == pid; }, 30s);
  if (!exited) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  ASSERT_TRUE(exited) << "fwgate did not stop after signal " << k.signal;
  std::string err;
  char buf[4096];
  ssize_t n;
  while ((n = read(errp[0], buf, sizeof(buf))) > 0) err.append(buf, static_cast<size_t>(n));
  close(errp[0]);
  if (k.signal == SIGKILL) {
    EXPECT_TRUE(WIFSIGNALED(status));
  } else {
    ASSERT_TRUE(WIFEXITED(status)) << err;
    EXPECT_EQ(WEXITSTATUS(status), 3) << err;
    EXPECT_NE(err.find("interrupted"), std::string::npos) << err;
  }
  EXPECT_TRUE(WaitFor([&] { return FindProcesses(sleep_arg).empty(); }, 10s))
      << "the reload command outlived fwgate";
  HostState after = fwgate::testing::SnapshotHost();
  EXPECT_EQ(fwgate::testing::DescribeHostChange(before, after), "");
}

INSTANTIATE_TEST_SUITE_P(Signals, ReplayCleanup,
                         ::testing::Values(KillCase{"SigintDuringTraffic", SIGINT, false},
                                           KillCase{"SigtermDuringTraffic", SIGTERM, false},
                                           KillCase{"SigkillDuringTraffic", SIGKILL, false},
                                           KillCase{"SigintDuringReloadCommand", SIGINT, true},
                                           KillCase{"SigtermDuringReloadCommand", SIGTERM, true},
                                           KillCase{"SigkillDuringReloadCommand", SIGKILL, true}),
                         [](const auto& p) { return std::string(p.param.name); });

}  // namespace
