// What a run of fwgate may leave on the host (links, named network namespaces, the ruleset,
// mounts, conntrack sysctls, processes) and how to look for it: for the cleanup and kill tests.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace fwgate::testing {

// Runs argv (argv[0] looked up in PATH, never a shell) to completion; its stdout. Read-only
// diagnostics for the host snapshot (ip, nft list).
std::string CaptureStdout(std::vector<std::string> argv);

// The host's state as the caller's network and mount namespaces see it. Everything here is read,
// never written.
struct HostState {
  std::set<std::string> links;                 // `ip -o link show` names
  std::set<std::string> netns;                 // `ip netns list` names
  std::string ruleset;                         // `nft list ruleset`
  std::string mounts;                          // /proc/self/mountinfo
  std::map<std::string, std::string> sysctls;  // /proc/sys/net/netfilter/** (not the counters)
  bool operator==(const HostState&) const = default;
};

HostState SnapshotHost();

// "" when equal; otherwise one line per difference ("new link: n1p", "ruleset changed", ...).
std::string DescribeHostChange(const HostState& before, const HostState& after);

// One process as /proc shows it.
struct ProcessInfo {
  pid_t pid = 0;
  pid_t ppid = 0;
  pid_t pgid = 0;
  unsigned long long start_time = 0;  // clock ticks since boot (/proc/PID/stat field 22)
  char state = '?';
  std::string comm;
  bool operator<(const ProcessInfo& o) const { return pid < o.pid; }
};

// Every process now alive (zombies included, with state 'Z').
std::vector<ProcessInfo> ListProcesses();

// The processes descending from `root` (by parent chain), `root` excluded.
std::vector<ProcessInfo> Descendants(const std::vector<ProcessInfo>& all, pid_t root);

// Whether `p` (same pid and start time) is still alive and not a zombie.
bool StillAlive(const ProcessInfo& p);

// Live (non-zombie) processes whose environment holds `name=value`.
std::vector<ProcessInfo> ProcessesWithEnv(const std::string& name, const std::string& value);

// Processes whose command line contains `needle` (NUL-separated argv).
std::vector<pid_t> FindProcesses(const std::string& needle);

// Paths under `dir` (recursively, relative to it); empty when `dir` is absent or empty.
std::vector<std::string> ListTree(const std::string& dir);

// Polls pred every 20 ms until it holds or `limit` has passed; its last value.
template <typename Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds limit);

}  // namespace fwgate::testing

#include <thread>

namespace fwgate::testing {

template <typename Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

}  // namespace fwgate::testing
