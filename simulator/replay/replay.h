// One lab replay: build the lab, load the current ruleset in every node, open Ceph-shaped
// connections, reload the proposed ruleset (procedure + per-node kernel emulation), keep traffic
// going, measure (per connection, conntrack stats, named counters) and judge.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>

#include "base/result.h"
#include "gate/nft/loader.h"
#include "simulator/lab/topology.h"
#include "simulator/reload/procedure.h"
#include "simulator/replay/spec.h"
#include "simulator/replay/verdict.h"
#include "simulator/replay/window.h"

namespace fwgate::replay {

struct ReplayOptions {
  // The rulesets as the loader accepted them (their resolved text and placeholders): the lab
  // loads exactly what validate loaded. Must outlive the call.
  const nft::LoadResult* current = nullptr;
  const nft::LoadResult* proposed = nullptr;
  std::string proposed_path;  // the user's file (absolute), for a command reload's {}
  reload::Procedure procedure;
  PerNode<hazards::KernelVersion> kernels;  // unspecified nodes: the lab's own kernel (native)
  PerNode<int> be_liberal;                  // unspecified nodes: left at the namespace default
  lab::TopologyOptions topology;
  int connections_per_node = 2;
  // Whole traffic phase; 0 (default): as long as the verdict needs (the warmup, the reload, then
  // WatchAfterReload: one stall threshold, the longest periodic interval and a margin).
  std::chrono::milliseconds duration{0};
  std::chrono::milliseconds warmup{1500};  // traffic before the reload
  std::chrono::milliseconds stall_threshold{2000};
  // Traffic watched past one threshold and one interval after the last reload step; it bounds
  // the lab's resolution that still decides (lab_health.h), so a longer margin tolerates a more
  // loaded lab at the cost of a longer run.
  std::chrono::milliseconds watch_margin{kWatchMargin};
  std::chrono::milliseconds rolling{0};
  // Light traffic instead of the Ceph shape: sessions only, small messages every few seconds at
  // fixed phases, none due while a 1 s gap after the warmup is open (PlanLightWorkload): a lab
  // whose flows move little across the reload (docs/lab-scenarios.md, the 2019 scenario).
  bool light_traffic = false;
  // The reload is run this many times, `reload_interval` apart (after each reload's own steps).
  int reloads = 1;
  std::chrono::milliseconds reload_interval{2500};
  const std::atomic<bool>* stop = nullptr;  // set by SIGINT/SIGTERM
  // Called (on the calling thread) at each stage and about once a second while traffic runs:
  // "stage 4/5 traffic: reload in 1.5 s (about 6 s left)". Optional.
  std::function<void(const std::string&)> progress;
};

// Why a replay could not run to a verdict: the kind maps to an exit code by the caller.
enum class FailureKind { kUndecided, kInterrupted };

// Runs the replay. An Error means "could not run" (exit 3); its context says why, and
// `interrupted` reports whether it was the stop flag.
[[nodiscard]] Result<ReplayReport> RunReplay(const ReplayOptions& options,
                                             bool* interrupted = nullptr);

// The time traffic is planned to run after the mark: the rest of --duration, but at least the
// planned reload span plus WatchAfterReload (window.h). The replay extends it when the reload
// itself takes longer than planned.
[[nodiscard]] std::chrono::milliseconds AfterMarkTime(const ReplayOptions& options, int nodes);

}  // namespace fwgate::replay
