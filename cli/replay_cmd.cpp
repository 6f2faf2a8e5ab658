// `fwgate replay --current FILE --proposed FILE [options]`: lab replay across a reload in network
// namespaces; exit 0 survived, 1 broken, 2 bad input, 3 could not run (or unknown).

#include <atomic>
#include <filesystem>
#include <iostream>

#include "base/outcome.h"
#include "cli/command.h"
#include "cli/progress.h"
#include "cli/ruleset_input.h"
#include "cli/stop_signal.h"
#include "report/replay_report.h"
#include "simulator/replay/replay.h"
#include "sys/netns.h"

namespace fwgate::cli {
namespace {

struct Args {
  std::string current, proposed;
  std::string reload = "atomic";
  int gap_ms = 1000;
  int reload_timeout_ms = 30000;
  int rolling_ms = 0;
  std::string kernel, be_liberal;
  int nodes = 3;
  int per_node = 2;
  double duration_s = 0;  // 0: as long as the verdict needs
  int warmup_ms = 1500;
  int stall_threshold_ms = 2000;
  std::string public_net = "10.20.0.0/24";
  std::string cluster_net = "10.30.0.0/24";
  int delay_ms = 0;
  double loss_percent = 0;
  bool json = false;
  bool quiet = false;
  std::vector<std::string> include_dirs;
  sys::NftLimits nft_limits;
};

Outcome Run(const Args& a) {
  // Before anything slow, so SIGINT/SIGTERM always end in exit 3.
  const std::atomic<bool>* stop = InstallStopHandlers();
  auto procedure = reload::ParseProcedure(a.reload);
  if (!procedure) {
    std::cerr << "fwgate: " << procedure.error().context << "\n";
    return Outcome::kBadInput;
  }
  procedure->gap = std::chrono::milliseconds(a.gap_ms);
  procedure->timeout = std::chrono::milliseconds(a.reload_timeout_ms);
  replay::ReplayOptions o;
  if (!a.kernel.empty()) {
    auto k = replay::ParseKernelSpec(a.kernel, a.nodes);
    if (!k) {
      std::cerr << "fwgate: " << k.error().context << "\n";
      return Outcome::kBadInput;
    }
    o.kernels = *k;
  }
  if (!a.be_liberal.empty()) {
    auto b = replay::ParseBeLiberalSpec(a.be_liberal, a.nodes);
    if (!b) {
      std::cerr << "fwgate: " << b.error().context << "\n";
      return Outcome::kBadInput;
    }
    o.be_liberal = *b;
  }
  o.topology.nodes = a.nodes;
  o.topology.public_net = a.public_net;
  o.topology.cluster_net = a.cluster_net;
  o.topology.delay = std::chrono::milliseconds(a.delay_ms);
  o.topology.loss_percent = a.loss_percent;
  if (auto plan = lab::PlanTopology(o.topology); !plan) {
    std::cerr << "fwgate: " << plan.error().context << "\n";
    return Outcome::kBadInput;
  }
  if (auto st = sys::CanCreateNamespaces(); !st) {
    std::cerr << "fwgate: could not run: " << st.error().ToString() << "\n";
    return Outcome::kUndecided;
  }
  // Both files must load before anything is built (FILE:LINE:COL diagnostics, exit 2).
  nft::LoadOptions load;
  load.nft = a.nft_limits;
  if (auto bad = IncludeDirsOrReport("replay", a.include_dirs, load)) return *bad;
  nft::LoadResult current, proposed;
  if (auto out = LoadRulesetOrReport("replay", a.current, current, load)) return *out;
  if (auto out = LoadRulesetOrReport("replay", a.proposed, proposed, load)) return *out;
  std::error_code ec;
  o.current = &current;
  o.proposed = &proposed;
  o.proposed_path = std::filesystem::absolute(a.proposed, ec).lexically_normal().string();
  o.procedure = *procedure;
  o.connections_per_node = a.per_node;
  o.duration = std::chrono::milliseconds(static_cast<int64_t>(a.duration_s * 1000));
  o.warmup = std::chrono::milliseconds(a.warmup_ms);
  o.stall_threshold = std::chrono::milliseconds(a.stall_threshold_ms);
  o.rolling = std::chrono::milliseconds(a.rolling_ms);
  o.stop = stop;
  if (stop->load()) {
    std::cerr << "fwgate: interrupted\n";
    return Outcome::kUndecided;
  }

  Progress progress("replay", a.quiet);
  if (progress.enabled()) o.progress = [&](const std::string& s) { progress.Say(s); };
  bool interrupted = false;
  auto rep = replay::RunReplay(o, &interrupted);
  if (rep) progress.Say("done: " + std::string(replay::VerdictName(rep->verdict)));
  if (!rep) {
    if (interrupted) {
      std::cerr << "fwgate: interrupted; the lab was torn down\n";
    } else {
      std::cerr << "fwgate: could not run the replay: " << rep.error().ToString() << "\n";
    }
    return Outcome::kUndecided;
  }
  if (a.json) {
    std::cout << report::ReplayToJson(*rep).dump(2) << "\n";
  } else {
    std::cout << report::ReplayToText(*rep);
  }
  switch (rep->verdict) {
    case replay::Verdict::kSurvived:
      return Outcome::kPass;
    case replay::Verdict::kBroken:
      return Outcome::kFail;
    case replay::Verdict::kUnknown:
      if (!a.json) std::cerr << "fwgate: could not decide: " << rep->reason << "\n";
      return Outcome::kUndecided;
  }
  return Outcome::kUndecided;
}

const Registrar kReplay{Command{
    "replay", 40, [](CLI::App& root) -> std::function<Outcome()> {
      auto* sub = root.add_subcommand(
          "replay",
          "Lab replay: Ceph-shaped TCP traffic between storage nodes in network namespaces, the "
          "current ruleset loaded, the proposed one reloaded mid-run; do open connections "
          "survive?\nExit: 0 survived, 1 broken, 2 bad input, 3 could not run or decide (also "
          "when the lab was too loaded to measure a stall shorter than the threshold).");
      auto a = std::make_shared<Args>();
      sub->add_option("--current", a->current,
                      "Ruleset loaded before the reload (nft text, nft -j JSON or "
                      "iptables-save)")
          ->required()
          ->type_name("FILE");
      sub->add_option("--proposed", a->proposed,
                      "Ruleset the reload loads (nft text, nft -j JSON or iptables-save)")
          ->required()
          ->type_name("FILE");
      sub->add_option("--reload", a->reload,
                      "atomic | flush-then-load | command:ARGV... (your reload command, split on "
                      "spaces, quotes group words, never a shell; {} = proposed file's path; runs "
                      "inside each node's namespace)")
          ->capture_default_str();
      sub->add_option("--gap", a->gap_ms, "flush-then-load: ms between flush and load")
          ->capture_default_str()
          ->check(FiniteRange(0, 600000));
      sub->add_option("--reload-timeout", a->reload_timeout_ms,
                      "command: kill the reload command after this many ms (exit 3)")
          ->capture_default_str()
          ->check(FiniteRange(100, 3600000));
      sub->add_option("--rolling", a->rolling_ms,
                      "Reload nodes one after another, this many ms apart (0: all together)")
          ->capture_default_str()
          ->check(FiniteRange(0, 600000));
      sub->add_option("--kernel", a->kernel,
                      "Kernel the nodes run: VERSION (all) or node1=4.15,node2=4.4,... "
                      "(others: the lab's own). Mapped to an emulation: <= 4.13 continuous, "
                      "4.14-4.18 stale-gap, newer native");
      sub->add_option("--be-liberal", a->be_liberal,
                      "nf_conntrack_tcp_be_liberal inside the nodes: 0|1 or node1=1,...");
      sub->add_option("--nodes", a->nodes, "Storage nodes")
          ->capture_default_str()
          ->check(FiniteRange(1, 64));
      sub->add_option(
             "--connections-per-node", a->per_node,
             "Replication connections from, and client connections to, each node; the first 2 of "
             "each carry bulk data, the rest are sessions with small periodic messages")
          ->capture_default_str()
          ->check(FiniteRange(1, 20000));
      sub->add_option("--duration", a->duration_s,
                      "Seconds of traffic in all. 0 (default): what the verdict needs: the "
                      "warmup, the reload, then one stall threshold plus the longest periodic "
                      "message interval (0.5 s, or 1 s with sessions) plus a 0.5 s margin after "
                      "the last node's reload ended (about 4.6 s for an atomic reload with the "
                      "defaults). Always extended to that when shorter")
          ->capture_default_str()
          ->check(FiniteRange(0, 3600));
      sub->add_option("--warmup", a->warmup_ms, "ms of traffic before the reload")
          ->capture_default_str()
          ->check(FiniteRange(0, 600000));
      sub->add_option("--stall-threshold", a->stall_threshold_ms,
                      "A connection that makes no progress for longer than this (ms) after the "
                      "reload began is broken. Default 2000: longer than three back-to-back "
                      "retransmission timeouts from the 200 ms minimum (200+400+800 ms), so a "
                      "flow that recovers by retransmission is not called broken; far below the "
                      "300 s a stale conntrack entry blocks (docs/kernel-conntrack.md §3.4)")
          ->capture_default_str()
          ->check(FiniteRange(200, 600000));
      sub->add_option("--public-net", a->public_net, "Public network CIDR")->capture_default_str();
      sub->add_option("--cluster-net", a->cluster_net, "Cluster network CIDR")
          ->capture_default_str();
      sub->add_option("--delay", a->delay_ms,
                      "ms of latency added to every packet a node sends (needs sch_netem)")
          ->check(FiniteRange(0, 10000));
      sub->add_option("--loss", a->loss_percent, "Percent of frames dropped on every link")
          ->check(FiniteRange(0, 100));
      sub->add_flag("--json", a->json, "JSON report on stdout");
      sub->add_flag("--quiet", a->quiet,
                    "No progress on stderr (shown only when stderr is a terminal)");
      AddIncludeDirOption(sub, a->include_dirs);
      AddNftLimitOptions(sub, a->nft_limits);
      return [a]() -> Outcome { return Run(*a); };
    }}};

}  // namespace
}  // namespace fwgate::cli
