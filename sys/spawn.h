// The one process spawner: every process fwgate starts (ssh, sh, the user's reload command,
// its own helper roles) starts here, from an argument vector (never a shell), optionally inside a
// network namespace and in fresh PID and mount namespaces, with limits, a timeout, an output cap
// and the parent-death signal. Thread-safety: every function may be called from any thread; a
// child is tied to the calling thread (it is killed when that thread exits), so call it from a
// thread that waits for the child (RunProcess does) or outlives it (Process::Start).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "sys/fd.h"
#include "sys/netns.h"

namespace fwgate::sys {

struct SpawnOptions {
  // argv[0] is a path, or a name looked up in PATH (as execvp would, but in the parent).
  std::vector<std::string> argv;
  // "NAME=value" entries added to (or replacing in) the inherited environment; "NAME" alone
  // removes NAME.
  std::vector<std::string> env;
  std::string working_dir;  // chdir before exec; empty: the caller's
  std::string input;        // written to the child's stdin, then closed; empty: /dev/null

  const NetnsHandle* netns = nullptr;  // join this network namespace before exec
  // The program runs as the only child of a small init (PID 1) in a new PID namespace:
  // everything it starts, backgrounded or not, dies when it exits, on timeout, and when the
  // caller dies (even by SIGKILL). Needs CAP_SYS_ADMIN.
  bool new_pid_namespace = false;
  // A private mount namespace (needs CAP_SYS_ADMIN): mounts made for or by the child never reach
  // the caller's namespace (so a program that mounts, like `ip netns add`, has no lasting
  // effect). With new_pid_namespace the child also gets its own /proc.
  bool new_mount_namespace = false;
  // With new_mount_namespace: an empty, read-only tmpfs over each of these directories (those
  // that exist), e.g. /run so the host's systemd and D-Bus sockets are unreachable.
  std::vector<std::string> hide_paths;

  uint64_t memory_limit_bytes = 0;       // RLIMIT_AS; 0: none
  uint64_t cpu_limit_seconds = 0;        // RLIMIT_CPU; 0: none
  std::chrono::milliseconds timeout{0};  // wall time; killed after it (0: none)
  size_t max_stdout = size_t{1} << 20;   // more: killed, `truncated`
  size_t max_stderr = size_t{64} << 10;  // more: the first max_stderr bytes are kept
  bool stderr_to_stdout = false;         // one stream (stdout), in order
  // Descriptors (>= 3) the child keeps open under the same numbers; all others are closed.
  std::vector<int> pass_fds;
  const std::atomic<bool>* stop = nullptr;  // killed when this becomes true (`interrupted`)
  // The child's nice value when it is lower (a higher priority) than the caller's and the
  // caller may raise priorities (CAP_SYS_NICE); otherwise the child keeps the caller's.
  std::optional<int> nice;
};

struct SpawnResult {
  int exit_code = -1;        // when it exited
  int signal = 0;            // when a signal ended it
  bool timed_out = false;    // killed at the timeout
  bool interrupted = false;  // killed because *stop became true
  bool truncated = false;    // stdout exceeded max_stdout; killed
  bool exec_failed = false;  // the program could not be started (see `out`/`err` for why)
  std::string out;
  std::string err;
  std::chrono::milliseconds took{0};
  [[nodiscard]] bool ok() const {
    return exit_code == 0 && !timed_out && !interrupted && !truncated && !exec_failed;
  }
  // "exited 1: <last line of output>", "killed at the 30000 ms timeout", ...
  [[nodiscard]] std::string Describe() const;
};

// Starts the program, feeds `input`, collects output under the caps, waits for it (or kills it
// at the timeout / stop). Error only when nothing could be started (no such program, no
// privilege for the namespaces asked): kind unavailable.
[[nodiscard]] Result<SpawnResult> RunProcess(const SpawnOptions& options);

// A long-lived child that talks over descriptors it was given (pass_fds); stdin is /dev/null,
// stdout/stderr are the caller's. Killed (and reaped) when the Process is destroyed.
class Process {
 public:
  [[nodiscard]] static Result<Process> Start(const SpawnOptions& options);
  Process(Process&& o) noexcept;
  Process& operator=(Process&& o) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();

  [[nodiscard]] pid_t pid() const { return pid_; }
  // Waits up to `timeout` for it to exit; true when it has (then `status` is filled).
  bool Wait(std::chrono::milliseconds timeout, SpawnResult* status = nullptr);
  // SIGKILL (the whole PID namespace when it has one) and reap.
  void Kill();

 private:
  Process() = default;
  pid_t pid_ = -1;
  UniqueFd pidfd_;
  bool pid_namespace_ = false;
  bool reaped_ = false;
};

// PATH lookup as execvp does it; empty when not found.
[[nodiscard]] std::string FindProgram(const std::string& name);

// This program's own executable (/proc/self/exe resolved), for starting helper roles.
[[nodiscard]] std::string SelfExecutable();

// --- Helper roles: fwgate's own code run in a child process ---
// A role is started by executing SelfExecutable() with FWGATE_ROLE=<name> in the environment
// (sys/spawn.h starts it like any program, so it gets namespaces, limits and the parent-death
// signal). The file implementing a role defines one RoleRegistrar at namespace scope; when the
// process image starts with that role requested, the registrar runs the role's main before
// main() and exits with its return value. A role's main must use only its own state.
using RoleMain = int (*)();
class RoleRegistrar {
 public:
  RoleRegistrar(const char* name, RoleMain main);
};
inline constexpr const char* kRoleEnv = "FWGATE_ROLE";

}  // namespace fwgate::sys
