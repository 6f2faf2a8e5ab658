// The SIGKILL harness: fwgate is killed with SIGKILL at a random moment (replay with the atomic
// reload and with a `command:` reload that backgrounds a child, also while that command runs;
// probe of a namespace and over a stand-in ssh; validate of good input, of a define bomb, also
// while the nft runner works on it, and of a huge token; check), and then nothing it started is
// left: no process of its tree (by marker variable, process group or parent chain), no link or
// named namespace, no file in its TMPDIR, the host's ruleset, mounts and conntrack sysctls as
// before. FWGATE_KILL_RUNS (default 12) kills, FWGATE_KILL_SEED to repeat a run,
// FWGATE_KILL_GRACE_MS (default 3000) for the kernel to reap, FWGATE_KILL_SCENARIO to run only the
// scenarios whose name contains it, FWGATE_BINARY to kill another build. The long run:
// `FWGATE_KILL_RUNS=100 ctest --test-dir build -R KillHarness`.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sys/netns.h"
#include "tests/support/host_state.h"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using fwgate::testing::HostState;
using fwgate::testing::ProcessInfo;

constexpr const char* kMarkerEnv = "FWGATE_KILL_HARNESS_RUN";

long EnvNumber(const char* name, long fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  long n = std::strtol(v, &end, 10);
  return end != nullptr && *end == '\0' && n >= 0 ? n : fallback;
}

std::string Binary() {
  const char* v = std::getenv("FWGATE_BINARY");
  return v != nullptr && *v != '\0' ? v : FWGATE_BINARY;
}

void WriteFile(const fs::path& p, const std::string& text, bool executable = false) {
  std::ofstream(p, std::ios::binary) << text;
  if (executable) fs::permissions(p, fs::perms::owner_all, fs::perm_options::replace);
}

std::string HostNetnsLink() {
  std::error_code ec;
  return fs::read_symlink("/proc/self/ns/net", ec).string();  // "net:[4026531840]"
}

struct Scenario {
  std::string name;
  std::vector<std::string> args;  // after the binary
  int max_delay_ms;               // kill delays are spread over [0, max_delay_ms]
  // When set, the delay counts from the moment a process with this name (its comm) appears in
  // fwgate's tree: a kill while the reload command or the nft runner is busy.
  std::string trigger;
};

// Fixture files shared by the iterations: the scripts, the hostile inputs, an inventory.
class KillHarness : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto st = fwgate::sys::CanCreateNamespaces(); !st) GTEST_SKIP() << st.error().ToString();
    char tmpl[] = "/tmp/fwgate-kill-harness-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    fixtures_ = root_ / "fixtures";
    fs::create_directories(fixtures_);
    netns_ = "fwgate-kh-" + std::to_string(getpid());
    const std::string host_ns = HostNetnsLink();
    ASSERT_FALSE(host_ns.empty());

    // The reload command: refuses to run in the host's network namespace, backgrounds a child
    // (which must die with the lab), takes a moment, then loads the proposed file.
    WriteFile(fixtures_ / "reload.sh",
              "#!/bin/sh\n"
              "# Reload command for the kill harness: only inside a lab node's namespace.\n"
              "[ \"$(readlink /proc/self/ns/net)\" != '" +
                  host_ns +
                  "' ] || { echo 'refusing: host network namespace' >&2; exit 97; }\n"
                  "sleep 30 &\n"
                  "sleep 2\n"
                  "exec nft -f \"$1\"\n");
    // A stand-in ssh: the probe script runs in the harness's own namespace (never the host's),
    // after a backgrounded child (like a ProxyCommand) and a pause, so a kill lands mid-session.
    WriteFile(fixtures_ / "ssh",
              "#!/bin/sh\n"
              "# Stand-in ssh for the kill harness: runs `sh -s` inside /run/netns/" +
                  netns_ +
                  " only.\n"
                  "[ -e /run/netns/" +
                  netns_ +
                  " ] || { echo 'no harness namespace' >&2; exit 255; }\n"
                  "sleep 30 &\n"
                  "sleep 1.5\n"
                  "exec nsenter --net=/run/netns/" +
                  netns_ + " /bin/sh -s\n",
              true);
    WriteFile(fixtures_ / "inventory.ini", "[storage]\nnode1 ansible_host=127.0.0.1\n");
    // A nested-define bomb (libnftables expands it to gigabytes) and a 10 MB token (libnftables
    // takes over a minute on it): the nft runner child is busy when the kill lands.
    std::string bomb = "define a0 = { 1, 2 }\n";
    for (int i = 1; i < 30; ++i) {
      bomb += "define a" + std::to_string(i) + " = { $a" + std::to_string(i - 1) + ", $a" +
              std::to_string(i - 1) + " }\n";
    }
    bomb += "table inet t {\n chain c {\n  tcp dport $a29 accept\n }\n}\n";
    WriteFile(fixtures_ / "bomb.nft", bomb);
    WriteFile(fixtures_ / "token.nft",
              "table inet t {\n chain c {\n  tcp dport " +
                  std::string(10'000'000, '9') +  // NOLINT(bugprone-string-constructor)
                  " accept\n }\n}\n");
    ASSERT_EQ(fwgate::testing::CaptureStdout({"ip", "netns", "add", netns_}), "");
    ASSERT_TRUE(fs::exists("/run/netns/" + netns_)) << "could not create " << netns_;

    const std::string r = std::string(FWGATE_SOURCE_DIR) + "/rulesets/";
    const std::string current = r + "ceph-node.nft";
    const std::string proposed = r + "ceph-node-safe-change.nft";
    const std::vector<std::string> small = {
        "--connections-per-node", "1", "--duration", "3", "--warmup", "1000"};
    auto with = [](std::vector<std::string> a, const std::vector<std::string>& b) {
      a.insert(a.end(), b.begin(), b.end());
      return a;
    };
    const std::vector<std::string> command_reload = {
        "replay",
        "--current",
        current,
        "--proposed",
        proposed,
        "--reload",
        "command:/bin/sh " + (fixtures_ / "reload.sh").string() + " {}",
        "--reload-timeout",
        "20000"};
    scenarios_ = {
        {"replay-atomic",
         with({"replay", "--current", current, "--proposed", proposed, "--reload", "atomic"},
              small),
         6000},
        {"replay-command", with(command_reload, small), 6000},
        {"replay-command-mid", with(command_reload, small), 2000, "sleep"},
        {"probe-netns", {"probe", "--netns", netns_}, 400},
        {"probe-ssh",
         {"probe", "--inventory", (fixtures_ / "inventory.ini").string(), "--ssh-program",
          (fixtures_ / "ssh").string(), "--timeout", "20"},
         2500},
        {"validate", {"validate", current, proposed}, 300},
        {"validate-define-bomb",
         {"validate", (fixtures_ / "bomb.nft").string(), "--nft-memory-limit", "384"},
         4000},
        {"validate-define-bomb-in-runner",
         {"validate", (fixtures_ / "bomb.nft").string(), "--nft-memory-limit", "384"},
         3000,
         fs::path(Binary()).filename().string().substr(0, 15)},
        {"validate-huge-token",
         {"validate", (fixtures_ / "token.nft").string(), "--nft-time-limit", "5000"},
         5000},
        {"check",
         {"check", "--current", current, "--proposed", proposed, "--kernel", "4.15", "--reload",
          "flush-then-load", "--be-liberal", "0", "--connections-per-node", "1"},
         8000},
    };
    if (const char* only = std::getenv("FWGATE_KILL_SCENARIO"); only != nullptr && *only) {
      std::erase_if(scenarios_,
                    [&](const Scenario& s) { return s.name.find(only) == std::string::npos; });
    }
  }

  void TearDown() override {
    if (!netns_.empty() && fs::exists("/run/netns/" + netns_)) {
      fwgate::testing::CaptureStdout({"ip", "netns", "del", netns_});
    }
    std::error_code ec;
    if (!root_.empty()) fs::remove_all(root_, ec);
  }

  fs::path root_;
  fs::path fixtures_;
  std::string netns_;
  std::vector<Scenario> scenarios_;
};

// Each thread of `pid` with its state, wait channel and kernel stack.
std::string SlowExitReport(pid_t pid) {
  std::string out;
  std::error_code ec;
  const fs::path tasks = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& t : fs::directory_iterator(tasks, ec)) {
    auto read = [&](const char* f) {
      std::ifstream in(t.path() / f);
      std::stringstream ss;
      ss << in.rdbuf();
      return ss.str();
    };
    std::string stat = read("stat");
    auto close = stat.rfind(')');
    out += "  thread " + t.path().filename().string() + " state " +
           (close == std::string::npos ? "?" : stat.substr(close + 2, 1)) + " wchan " +
           read("wchan") + "\n" + read("stack");
  }
  return out;
}

struct IterationResult {
  bool killed = false;     // still running at the kill (else it had exited by itself)
  bool triggered = false;  // the trigger process appeared (scenarios with a trigger)
  int exit_status = 0;
  std::chrono::milliseconds reap{0};   // SIGKILL until waitpid returned
  std::chrono::milliseconds clean{0};  // then until nothing was left (or the grace ran out)
  std::string slow_reap;               // where its threads were when the exit took over 2 s
  std::string at_kill;    // the commands of fwgate's tree when the kill landed ("fwgate sh sleep")
  std::string leftovers;  // "" when nothing was left
};

// Starts `argv` with TMPDIR=tmpdir and the marker in its environment, in a process group of its
// own, stdout/stderr to files in `logs`; SIGKILLs it (only that pid: what it started must die
// by fwgate's own means) after `delay`, counted from the appearance of `trigger` when set (at
// most 60 s without it), then looks for what survived.
IterationResult RunOnce(const std::vector<std::string>& argv, std::chrono::milliseconds delay,
                        const std::string& trigger, const std::string& marker,
                        const fs::path& tmpdir, const fs::path& logs,
                        std::chrono::milliseconds grace) {
  IterationResult res;
  HostState before = fwgate::testing::SnapshotHost();
  std::vector<std::string> env_store;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string s = *e;
    if (s.rfind("TMPDIR=", 0) == 0 || s.rfind(std::string(kMarkerEnv) + "=", 0) == 0) continue;
    env_store.push_back(std::move(s));
  }
  env_store.push_back("TMPDIR=" + tmpdir.string());
  env_store.push_back(std::string(kMarkerEnv) + "=" + marker);
  std::vector<char*> envp;
  envp.reserve(env_store.size() + 1);
  for (auto& s : env_store) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> c;
  c.reserve(args.size() + 1);
  for (auto& a : args) c.push_back(a.data());
  c.push_back(nullptr);
  const std::string out_path = (logs / "stdout").string();
  const std::string err_path = (logs / "stderr").string();

  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    int in = open("/dev/null", O_RDONLY);
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in < 0 || out < 0 || err < 0) _exit(126);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    execve(c[0], c.data(), envp.data());
    _exit(127);
  }
  if (pid < 0) {
    res.leftovers = "fork failed";
    return res;
  }
  setpgid(pid, pid);  // also from here, so it holds before the kill whatever the scheduling

  int status = 0;
  bool exited = false;
  auto deadline = std::chrono::steady_clock::now() + (trigger.empty() ? delay : 60s);
  // Sample the tree while waiting, so short-lived descendants are known too.
  std::map<pid_t, ProcessInfo> seen;
  while (true) {
    if (waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      break;
    }
    auto now = std::chrono::steady_clock::now();
    for (const auto& p : fwgate::testing::Descendants(fwgate::testing::ListProcesses(), pid)) {
      seen.emplace(p.pid, p);
      if (!trigger.empty() && !res.triggered && p.comm == trigger) {
        res.triggered = true;
        deadline = now + delay;
      }
    }
    if (now >= deadline) break;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        deadline - now, trigger.empty() ? 50ms : 10ms));
  }
  if (!exited) {
    res.killed = true;
    std::set<std::string> names;
    for (const auto& p : fwgate::testing::Descendants(fwgate::testing::ListProcesses(), pid)) {
      seen.emplace(p.pid, p);
      names.insert(p.comm);
    }
    for (const auto& n : names) res.at_kill += (res.at_kill.empty() ? "" : " ") + n;
    auto k0 = std::chrono::steady_clock::now();
    kill(pid, SIGKILL);
    // A kill takes effect when every thread leaves the kernel: when that is slow, say where they
    // wait (kernel stacks), once.
    bool sampled = false;
    while (waitpid(pid, &status, WNOHANG) != pid) {
      if (!sampled && std::chrono::steady_clock::now() - k0 > 2s) {
        sampled = true;
        res.slow_reap = SlowExitReport(pid);
      }
      std::this_thread::sleep_for(5ms);
    }
    res.reap = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - k0);
  }
  res.exit_status = status;
  if (!res.killed && !(WIFEXITED(status) && WEXITSTATUS(status) <= 3)) {
    std::ifstream e(err_path);
    std::stringstream ss;
    ss << e.rdbuf();
    res.leftovers += "fwgate ended by itself with status " + std::to_string(status) +
                     " (not an exit code 0-3): " + ss.str().substr(0, 2000) + "\n";
  }

  // What survived: by marker, by process group, by the tree seen before the kill.
  auto survivors = [&] {
    std::map<pid_t, ProcessInfo> alive;
    for (const auto& p : fwgate::testing::ProcessesWithEnv(kMarkerEnv, marker)) {
      alive.emplace(p.pid, p);
    }
    for (const auto& p : fwgate::testing::ListProcesses()) {
      if (p.pgid == pid && p.state != 'Z') alive.emplace(p.pid, p);
    }
    for (const auto& [k, p] : seen) {
      if (fwgate::testing::StillAlive(p)) alive.emplace(k, p);
    }
    return alive;
  };
  std::map<pid_t, ProcessInfo> left;
  std::string host_change;
  std::vector<std::string> files;
  auto c0 = std::chrono::steady_clock::now();
  fwgate::testing::WaitFor(
      [&] {
        left = survivors();
        host_change = fwgate::testing::DescribeHostChange(before, fwgate::testing::SnapshotHost());
        files = fwgate::testing::ListTree(tmpdir.string());
        return left.empty() && host_change.empty() && files.empty();
      },
      grace);
  res.clean =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - c0);
  for (const auto& [k, p] : left) {
    res.leftovers += "process left: " + std::to_string(k) + " (" + p.comm + ") ppid " +
                     std::to_string(p.ppid) + " pgid " + std::to_string(p.pgid) + "\n";
  }
  res.leftovers += host_change;
  for (const auto& f : files) res.leftovers += "file left in TMPDIR: " + f + "\n";
  // Clean up what fwgate left, so the next iteration starts from a clean host: only processes
  // this iteration started (the marker, or its pid and start time).
  for (const auto& [k, p] : left) {
    if (fwgate::testing::StillAlive(p)) kill(k, SIGKILL);
  }
  return res;
}

TEST_F(KillHarness, NothingIsLeftAfterSigkillAtRandomPoints) {
  ASSERT_FALSE(scenarios_.empty()) << "FWGATE_KILL_SCENARIO matched no scenario";
  const long runs = EnvNumber("FWGATE_KILL_RUNS", 12);
  const auto seed = static_cast<uint64_t>(
      EnvNumber("FWGATE_KILL_SEED", static_cast<long>(std::random_device{}() & 0x7fffffff)));
  const std::chrono::milliseconds grace(EnvNumber("FWGATE_KILL_GRACE_MS", 3000));
  std::cout << "kill harness: " << runs << " runs, FWGATE_KILL_SEED=" << seed << ", grace "
            << grace.count() << " ms, binary " << Binary() << std::endl;
  std::mt19937_64 rng(seed);
  // Round-robin from a random start: every scenario runs once per len(scenarios) iterations.
  const size_t first = std::uniform_int_distribution<size_t>(0, scenarios_.size() - 1)(rng);

  struct Count {
    int runs = 0, killed = 0, with_children = 0, triggered = 0, leftovers = 0;
    std::string trigger;
  };
  std::map<std::string, Count> counts;
  int total_leftovers = 0;
  auto started = std::chrono::steady_clock::now();
  for (long i = 0; i < runs; ++i) {
    const Scenario& s = scenarios_[(first + static_cast<size_t>(i)) % scenarios_.size()];
    // A quarter of the kills land in the first 50 ms (start-up, namespace creation); the rest
    // are spread over the run.
    bool early = std::uniform_int_distribution<int>(0, 3)(rng) == 0 && s.trigger.empty();
    int delay_ms = early ? std::uniform_int_distribution<int>(0, 50)(rng)
                         : std::uniform_int_distribution<int>(0, s.max_delay_ms)(rng);
    fs::path iter = root_ / ("run-" + std::to_string(i));
    fs::path tmpdir = iter / "tmp";
    fs::create_directories(tmpdir);
    std::vector<std::string> argv = s.args;
    argv.insert(argv.begin(), Binary());
    const std::string marker =
        std::to_string(getpid()) + "-" + std::to_string(seed) + "-" + std::to_string(i);
    auto t0 = std::chrono::steady_clock::now();
    IterationResult r =
        RunOnce(argv, std::chrono::milliseconds(delay_ms), s.trigger, marker, tmpdir, iter, grace);
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - t0);
    Count& c = counts[s.name];
    c.trigger = s.trigger;
    ++c.runs;
    c.killed += r.killed ? 1 : 0;
    c.with_children += r.at_kill.empty() ? 0 : 1;
    c.triggered += r.triggered ? 1 : 0;
    std::cout << "run " << i << ": " << s.name << " kill at " << delay_ms << " ms"
              << (s.trigger.empty() ? ""
                  : r.triggered     ? " after " + s.trigger + " started"
                                    : " (" + s.trigger + " never started)")
              << ": "
              << (r.killed ? "killed (children: " + (r.at_kill.empty() ? "none" : r.at_kill) + ")"
                           : "had exited (status " + std::to_string(r.exit_status) + ")")
              << ", " << (r.leftovers.empty() ? "nothing left" : "LEFTOVERS") << " (reaped in "
              << r.reap.count() << " ms, checked in " << r.clean.count() << " ms, " << took.count()
              << " ms in all)" << std::endl;
    if (!r.slow_reap.empty()) std::cout << "  slow exit:\n" << r.slow_reap << std::flush;
    if (!r.leftovers.empty()) {
      ++c.leftovers;
      ++total_leftovers;
      ADD_FAILURE() << "run " << i << " (" << s.name << ", kill at " << delay_ms
                    << " ms, FWGATE_KILL_SEED=" << seed << "):\n"
                    << r.leftovers;
    }
    std::error_code ec;
    fs::remove_all(iter, ec);
  }
  auto wall =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started);
  std::cout << "kill harness summary (seed " << seed << ", " << wall.count() << " s):\n";
  for (const auto& [name, c] : counts) {
    std::cout << "  " << name << ": " << c.runs << " runs, " << c.killed
              << " killed while running (" << c.with_children << " with child processes), "
              << c.leftovers << " with leftovers";
    if (!c.trigger.empty()) {
      std::cout << ", " << c.triggered << " killed after " << c.trigger << " started";
    }
    std::cout << "\n";
  }
  std::cout << "  total leftovers: " << total_leftovers << std::endl;
  EXPECT_EQ(total_leftovers, 0);
}

}  // namespace
