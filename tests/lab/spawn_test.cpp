// The one process spawner (sys/spawn.h) with real processes: argument vectors, stdin, output
// caps, timeouts, limits, descriptors, namespaces, and nothing left running afterwards.
#include "sys/spawn.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include "sys/netns.h"

namespace fwgate::sys {
namespace {

using std::chrono::milliseconds;

bool MarkerRuns(const std::string& marker) {
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "cmdline", std::ios::binary);
    std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmd.find(marker) != std::string::npos) return true;
  }
  return false;
}

bool WaitGone(const std::string& marker) {
  for (int i = 0; i < 300 && MarkerRuns(marker); ++i) std::this_thread::sleep_for(milliseconds(10));
  return !MarkerRuns(marker);
}

std::string Marker(const char* what) {
  return std::string("fwgate-spawn-") + what + "-" + std::to_string(getpid());
}

TEST(Spawn, FeedsStdinAndCollectsBothStreams) {
  SpawnOptions o;
  o.argv = {"sh", "-c", "cat; echo oops >&2; exit 3"};
  o.input = "hello\n";
  auto r = RunProcess(o);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->out, "hello\n");
  EXPECT_EQ(r->err, "oops\n");
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_FALSE(r->ok());
}

TEST(Spawn, ArgumentsNeverPassThroughAShell) {
  SpawnOptions o;
  o.argv = {"printf", "%s|", "$(id)", "; rm -rf /", "a b"};
  auto r = RunProcess(o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out, "$(id)|; rm -rf /|a b|");
}

TEST(Spawn, MissingProgramIsExecFailedNotACrash) {
  SpawnOptions o;
  o.argv = {"/nonexistent/fwgate-no-such-program"};
  auto r = RunProcess(o);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->exec_failed);
  EXPECT_FALSE(r->ok());
}

TEST(Spawn, KillsAtTheTimeoutAndTakesItsProcessGroupAlong) {
  const std::string marker = Marker("timeout");
  SpawnOptions o;
  o.argv = {"sh", "-c", "bash -c 'exec -a " + marker + " sleep 30' & wait"};
  o.timeout = milliseconds(500);
  auto r = RunProcess(o);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->timed_out) << r->Describe();
  EXPECT_LT(r->took.count(), 5000);
  EXPECT_TRUE(WaitGone(marker));
}

TEST(Spawn, OutputBeyondTheCapKillsAndTruncates) {
  SpawnOptions o;
  o.argv = {"sh", "-c", "yes x"};
  o.max_stdout = 1000;
  o.timeout = milliseconds(10000);
  auto r = RunProcess(o);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->truncated);
  EXPECT_FALSE(r->timed_out);
  EXPECT_EQ(r->out.size(), 1000u);
}

TEST(Spawn, MemoryLimitStopsAnAllocationBomb) {
  SpawnOptions o;
  // awk builds an ever-growing string until the address-space limit stops it.
  o.argv = {"awk", "BEGIN { s = \"x\"; while (1) s = s s }"};
  o.memory_limit_bytes = uint64_t{256} << 20;
  o.timeout = milliseconds(30000);
  auto r = RunProcess(o);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->timed_out);
  EXPECT_FALSE(r->ok());
}

TEST(Spawn, PassesOnlyTheDescriptorsAskedFor) {
  int keep = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  int other = ::open("/dev/null", O_RDONLY);  // not close-on-exec: must still not leak
  ASSERT_GE(keep, 3);
  ASSERT_GE(other, 3);
  SpawnOptions o;
  o.argv = {"sh", "-c",
            "test -e /proc/self/fd/" + std::to_string(keep) +
                " && echo keep; test -e /proc/self/fd/" + std::to_string(other) +
                " && echo other; true"};
  o.pass_fds = {keep};
  auto r = RunProcess(o);
  ::close(keep);
  ::close(other);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out, "keep\n");
}

TEST(Spawn, EnvironmentChangesApplyOnlyToTheChild) {
  SpawnOptions o;
  o.argv = {"sh", "-c", "echo \"$FWGATE_T1|${HOME+set}\""};
  o.env = {"FWGATE_T1=one", "HOME"};
  auto r = RunProcess(o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out, "one|\n");
  EXPECT_EQ(std::getenv("FWGATE_T1"), nullptr);
}

TEST(Spawn, IgnoredSignalsAreResetForTheChild) {
  signal(SIGPIPE, SIG_IGN);  // as fwgate runs
  SpawnOptions o;
  o.argv = {"sh", "-c", "yes | head -c 10 >/dev/null; grep SigIgn /proc/self/status"};
  auto r = RunProcess(o);
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->out.find("0000000000000000"), std::string::npos) << r->out;
}

// The child's nice value as it reads it (field 19 of /proc/self/stat).
int ChildNice(std::optional<int> nice) {
  SpawnOptions o;
  o.argv = {"sh", "-c", "cut -d' ' -f19 /proc/self/stat"};
  o.nice = nice;
  auto r = RunProcess(o);
  EXPECT_TRUE(r.ok() && r->ok()) << (r.ok() ? r->Describe() : r.error().ToString());
  return r.ok() ? std::atoi(r->out.c_str()) : 99;
}

TEST(Spawn, NiceOnlyEverRaisesTheChildsPriority) {
  errno = 0;
  const int now = getpriority(PRIO_PROCESS, 0);
  ASSERT_EQ(errno, 0);
  EXPECT_EQ(ChildNice(std::nullopt), now);
  EXPECT_EQ(ChildNice(std::min(now + 3, 19)), now);  // a lower priority is never asked for
  if (now == -20) GTEST_SKIP() << "already at the highest priority";
  // Raising needs CAP_SYS_NICE; without it the child keeps the caller's priority.
  EXPECT_EQ(ChildNice(now - 1), geteuid() == 0 ? now - 1 : now);
}

class SpawnNs : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto st = CanCreateNamespaces(); !st) GTEST_SKIP() << st.error().ToString();
  }
};

TEST_F(SpawnNs, JoinsTheGivenNetworkNamespace) {
  auto ns = CreateAnonymous();
  ASSERT_TRUE(ns.ok());
  struct stat want {};
  ASSERT_EQ(fstat(ns->fd(), &want), 0);
  SpawnOptions o;
  o.argv = {"readlink", "/proc/self/ns/net"};
  o.netns = &*ns;
  auto r = RunProcess(o);
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->out.find(std::to_string(want.st_ino)), std::string::npos) << r->out;
}

TEST_F(SpawnNs, APidNamespaceTakesBackgroundedDescendantsAlong) {
  const std::string marker = Marker("pidns");
  SpawnOptions o;
  // The descendant escapes the process group (setsid) and is running when the program exits.
  o.argv = {"sh", "-c",
            "setsid bash -c 'exec -a " + marker +
                " sleep 30' & "
                "for i in $(seq 100); do grep -q " +
                marker +
                " /proc/[0-9]*/cmdline 2>/dev/null && break; sleep 0.02; done; "
                "grep -lq " +
                marker + " /proc/[0-9]*/cmdline 2>/dev/null && echo running"};
  o.new_pid_namespace = true;
  auto r = RunProcess(o);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->out, "running\n") << r->Describe();
  EXPECT_TRUE(WaitGone(marker));
}

TEST_F(SpawnNs, HiddenDirectoriesAreEmptyOnlyForTheChild) {
  SpawnOptions o;
  o.argv = {"sh", "-c", "ls -A /run | wc -l"};
  o.new_mount_namespace = true;
  o.hide_paths = {"/run"};
  auto r = RunProcess(o);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->out, "0\n");
  EXPECT_TRUE(std::filesystem::exists("/run"));
  EXPECT_FALSE(std::filesystem::is_empty("/run"));
}

TEST_F(SpawnNs, KillingTheCallerKillsTheChildAndEverythingItStarted) {
  const std::string marker = Marker("sigkill");
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  pid_t caller = fork();
  ASSERT_GE(caller, 0);
  if (caller == 0) {
    close(pipefd[0]);
    SpawnOptions o;
    o.argv = {"sh", "-c",
              "bash -c 'exec -a " + marker + " sleep 30' & echo started; exec bash -c 'exec -a " +
                  marker + " sleep 30'"};
    o.new_pid_namespace = true;
    // Tell the parent we are about to spawn, then block in the spawner.
    (void)!write(pipefd[1], "x", 1);
    (void)RunProcess(o);
    _exit(0);
  }
  close(pipefd[1]);
  char c;
  ASSERT_EQ(read(pipefd[0], &c, 1), 1);
  close(pipefd[0]);
  for (int i = 0; i < 300 && !MarkerRuns(marker); ++i)
    std::this_thread::sleep_for(milliseconds(10));
  ASSERT_TRUE(MarkerRuns(marker));
  kill(caller, SIGKILL);
  int status = 0;
  ASSERT_EQ(waitpid(caller, &status, 0), caller);
  EXPECT_TRUE(WaitGone(marker));
}

TEST(SpawnRole, ProcessStartAndKillReapsTheChild) {
  SpawnOptions o;
  o.argv = {"sleep", "30"};
  auto p = Process::Start(o);
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  pid_t pid = p->pid();
  EXPECT_FALSE(p->Wait(milliseconds(50)));
  p->Kill();
  EXPECT_EQ(::kill(pid, 0), -1);  // reaped: no zombie left under our pid
}

}  // namespace
}  // namespace fwgate::sys
