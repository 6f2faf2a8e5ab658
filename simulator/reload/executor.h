// Runs reload plans inside node namespaces: nft text/files through libnftables (one nft_ctx per
// call, on a thread inside the namespace) and the user's command as a child process started from
// such a thread (argument vector, PR_SET_PDEATHSIG, killed on timeout or interrupt).
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "base/result.h"
#include "sys/netns.h"
#include "simulator/reload/procedure.h"

namespace fwgate::reload {

// Applies nft text (one transaction) in `ns`. `include_dir` is searched by `include`. Errors
// carry nft's own diagnostics. Serialised process-wide (libnftables has global state).
[[nodiscard]] Status ApplyNftText(const sys::NetnsHandle& ns, const std::string& text,
                                  const std::string& include_dir = "");
// Applies a file (one transaction); relative includes resolve against the file's directory.
[[nodiscard]] Status ApplyNftFile(const sys::NetnsHandle& ns, const std::string& path);

struct CommandResult {
  int exit_code = -1;        // when it exited
  int signal = 0;            // when it was killed by a signal
  bool timed_out = false;    // we killed it at the timeout
  bool interrupted = false;  // we killed it because the run was interrupted
  bool exec_failed = false;  // the program could not be started (exit 127 from the child)
  std::string output;        // last few KiB of stdout+stderr
  [[nodiscard]] bool ok() const { return exit_code == 0 && !timed_out && !interrupted; }
  [[nodiscard]] std::string Describe() const;  // "exited 1: <output tail>"
};

// Starts argv[0] (PATH lookup, no shell) in `ns` from a thread inside it, so the child inherits
// the namespace; the child dies with that thread (PR_SET_PDEATHSIG). Kills the child's process
// group at `timeout` or when `*stop` becomes true.
[[nodiscard]] Result<CommandResult> RunCommandInNetns(const sys::NetnsHandle& ns,
                                                      const std::vector<std::string>& argv,
                                                      std::chrono::milliseconds timeout,
                                                      const std::atomic<bool>* stop = nullptr);

// One node's reload.
struct NodeReload {
  std::string name;
  const sys::NetnsHandle* ns = nullptr;
  Plan plan;
};

struct StepOutcome {
  std::string label;
  std::chrono::milliseconds started_at{0};  // since RunReloads began
  std::chrono::milliseconds took{0};
};

struct NodeOutcome {
  std::string name;
  bool ok = false;
  bool interrupted = false;
  bool timed_out = false;
  bool tool_missing = false;
  std::string error;  // why not ok
  std::vector<StepOutcome> steps;
};

struct RunOptions {
  // 0: every node starts at once; otherwise node i starts i * rolling after the first.
  std::chrono::milliseconds rolling{0};
  std::chrono::milliseconds command_timeout{30000};
  const std::atomic<bool>* stop = nullptr;  // interrupt: abandon remaining steps
};

// Runs every node's plan (each on its own thread; nft work is serialised, pauses overlap).
// Returns when every node is done; outcomes in the order of `nodes`.
[[nodiscard]] std::vector<NodeOutcome> RunReloads(const std::vector<NodeReload>& nodes,
                                                  const RunOptions& options);

}  // namespace fwgate::reload
