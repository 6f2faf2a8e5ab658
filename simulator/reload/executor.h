// Runs reload plans inside node namespaces, every node at once: nft text through the libnftables
// runner (a child process per step, so nodes do not queue behind each other) and the user's
// command through the spawner, confined to the lab (sys/spawn.h: the node's network namespace,
// its own PID and mount namespaces, /run hidden so no host service manager is reachable, the
// proposed file's directory as working directory).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "simulator/reload/procedure.h"
#include "sys/netns.h"
#include "sys/spawn.h"

namespace fwgate::reload {

// One node's reload.
struct NodeReload {
  std::string name;
  const sys::NetnsHandle* ns = nullptr;
  Plan plan;
  // Optional, on the node's thread: right before its first step (after the rolling delay) and
  // right after its last step succeeded (the emulation's moments). An error fails the node.
  std::function<Status()> before, after;
};

struct StepOutcome {
  std::string label;
  std::chrono::milliseconds started_at{0};  // since RunOptions::origin (measured)
  std::chrono::milliseconds took{0};        // until the step's commit returned
  // Since the origin: when libnftables inside the step's runner had the kernel's answer to the
  // transaction (nft text and JSON steps; unset for commands and iptables restores).
  std::optional<std::chrono::milliseconds> committed_at;
  std::string detail;  // the command's outcome, when a command
};

// The nice value the reload's own processes (nft steps, the user's command) run at when the
// caller's is higher and it may raise priorities. A commit that gives a family its first
// conntrack user makes the lab kernel walk the whole conntrack hash (nf_ct_tcp_fixup, under one
// mutex for every namespace, docs/kernel-conntrack.md §3.5); starved by the lab's own bulk
// traffic and the machine's other jobs that walk took 10-30 s under `nice`, with the new rules
// not yet committed and the node's traffic unfiltered all that time (docs/replay-fidelity.md
// "Experiments against the facts"). A node does not share two cores with a traffic generator.
inline constexpr int kReloadNice = -5;

// How the user's reload command is confined (documented in docs/lab.md).
[[nodiscard]] sys::SpawnOptions CommandSpawnOptions(const sys::NetnsHandle& ns,
                                                    const std::vector<std::string>& argv,
                                                    const std::string& working_dir,
                                                    std::chrono::milliseconds timeout,
                                                    const std::atomic<bool>* stop);

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
  // The moment the outcomes' times count from; unset: when RunReloads begins.
  std::optional<std::chrono::steady_clock::time_point> origin;
};

// Runs every node's plan, each on its own thread with its own child process per step and no
// lock shared between nodes: nodes meant to reload together do. Returns when every node is
// done; outcomes in the order of `nodes`.
[[nodiscard]] std::vector<NodeOutcome> RunReloads(const std::vector<NodeReload>& nodes,
                                                  const RunOptions& options);

}  // namespace fwgate::reload
