// Running the gate: the inputs a user names on `fwgate check`, and RunCheck, which gathers them
// and runs every stage (check/check.h). Thread-safety: reentrant.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "base/result.h"
#include "check/check.h"
#include "gate/nft/loader.h"
#include "gate/probe/fleet.h"

namespace fwgate::check {

struct CheckOptions {
  std::string proposed;                       // the proposed ruleset file
  std::vector<nft::IncludeDir> include_dirs;  // --include-dir (also for the base revision)

  // The current ruleset: exactly one of these.
  std::string current_file;  // --current FILE
  bool live = false;         // --live [--netns NAME]
  std::string live_netns;
  std::string base_rev;  // --base GITREV: the proposed file's path at that revision

  // The fleet: an inventory and/or probe files, or declared kernels; none: the lab's kernel.
  probe::FleetRequest fleet;
  bool probe_fleet = false;     // fleet.inventory or fleet.from is set
  std::string kernel_spec;      // --kernel "4.15" or "node1=4.15,node2=4.4"
  std::string be_liberal_spec;  // --be-liberal "0" or "node1=1,..."

  // How production reloads: "atomic", "flush-then-load", "command:ARGV", or "auto" (what the
  // probe saw each node's firewall service do).
  std::string reload = "atomic";
  std::chrono::milliseconds gap{1000};
  std::chrono::milliseconds reload_timeout{30000};

  // The lab stage.
  bool lab = true;  // --no-lab: skip the replays (the verdict then rests on the other stages)
  int connections_per_node = 2;
  std::chrono::milliseconds stall_threshold{2000};

  nft::LoadOptions load;  // bounds of each load
  const std::atomic<bool>* stop = nullptr;
  std::function<void(const std::string&)> progress;  // "stage 6/6 replay: baseline ..."
};

// The gate's run. An Error only for input the gate cannot start from (no proposed file, two
// current rulesets, a flag out of range): kind bad input. Everything else, including rulesets
// that do not load and nodes that cannot be read, is a stage result in the report.
[[nodiscard]] Result<CheckReport> RunCheck(const CheckOptions& options);

}  // namespace fwgate::check
