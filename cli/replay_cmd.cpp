// `fwgate replay --current FILE --proposed FILE [options]`: lab replay across a reload in network
// namespaces; exit 0 survived, 1 broken, 2 bad input, 3 could not run (or unknown).

#include <algorithm>
#include <atomic>
#include <charconv>
#include <filesystem>
#include <iostream>
#include <string_view>

#include "base/outcome.h"
#include "cli/command.h"
#include "cli/progress.h"
#include "cli/ruleset_input.h"
#include "cli/stop_signal.h"
#include "report/replay_report.h"
#include "report/scenario_report.h"
#include "simulator/replay/replay.h"
#include "simulator/scenarios/run.h"
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
  // --restart: a restart of a node's storage daemons instead of a reload.
  std::string restart;
  int stagger_ms = 0;
  uint64_t table_size = 65536;
  std::vector<std::string> timeouts;
  int retry_ms = 1000;
  int boot_work_ms = 2000;
  int down_ms = 500;
  int connect_timeout_ms = 1000;
  double observe_s = 0;
  bool per_node_given = false;
};

Outcome RunRestart(const Args& a, const std::atomic<bool>* stop) {
  auto spec = replay::ParseRestartSpec(a.restart, a.nodes);
  if (!spec) {
    std::cerr << "fwgate: " << spec.error().context << "\n";
    return Outcome::kBadInput;
  }
  if (a.nodes < 2) {
    std::cerr << "fwgate: --restart needs at least 2 nodes (the daemons' peers)\n";
    return Outcome::kBadInput;
  }
  if (!a.proposed.empty() || a.reload != "atomic" || !a.kernel.empty() || !a.be_liberal.empty() ||
      a.rolling_ms != 0) {
    std::cerr << "fwgate: --restart replays a restart of storage daemons, not a reload: "
                 "--proposed, --reload, --rolling, --kernel and --be-liberal do not apply\n";
    return Outcome::kBadInput;
  }
  scenarios::StormHost h;
  h.daemons = spec->daemons;
  int sessions = a.per_node_given ? a.per_node : 6000;
  h.sessions_per_daemon = std::max(1, (sessions + spec->daemons - 1) / spec->daemons);
  h.peers = a.nodes - 1;
  h.restarted = spec->node;
  h.down_ms = a.down_ms;
  h.boot_work_ms = a.boot_work_ms;
  h.retry_ms = a.retry_ms;
  h.connect_timeout_ms = a.connect_timeout_ms;
  h.ruleset = a.current;
  scenarios::StormRun run;
  run.name = "restart";
  run.table_size = a.table_size;
  run.stagger_ms = a.stagger_ms;
  run.restart_at_ms = spec->at_ms;
  run.observe_ms = a.observe_s > 0 ? static_cast<int>(a.observe_s * 1000)
                                   : a.stagger_ms * (spec->daemons - 1) + 45000;
  for (const std::string& t : a.timeouts) {
    auto eq = t.find('=');
    const auto& names = scenarios::TimeoutNames();
    std::string name = eq == std::string::npos ? t : t.substr(0, eq);
    if (eq == std::string::npos || std::find(names.begin(), names.end(), name) == names.end()) {
      std::string known;
      for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
      std::cerr << "fwgate: --timeout " << t << ": NAME=SECONDS with NAME one of " << known << "\n";
      return Outcome::kBadInput;
    }
    std::string_view v = std::string_view(t).substr(eq + 1);
    int secs = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), secs);
    if (v.empty() || ec != std::errc() || end != v.data() + v.size() || secs < 1 ||
        secs > 2000000) {
      std::cerr << "fwgate: --timeout " << t << ": SECONDS is a whole number from 1 to 2000000\n";
      return Outcome::kBadInput;
    }
    run.timeouts[name] = secs;
  }
  // The node's ruleset must load before anything is built (FILE:LINE:COL, exit 2).
  nft::LoadOptions load;
  load.nft = a.nft_limits;
  if (auto bad = IncludeDirsOrReport("replay", a.include_dirs, load)) return *bad;
  nft::LoadResult current;
  if (auto out = LoadRulesetOrReport("replay", a.current, current, load)) return *out;
  if (auto st = sys::CanCreateNamespaces(); !st) {
    std::cerr << "fwgate: could not run: " << st.error().ToString() << "\n";
    return Outcome::kUndecided;
  }
  scenarios::RunOptions ro;
  ro.stop = stop;
  Progress progress("replay", a.quiet);
  if (progress.enabled()) ro.progress = [&](const std::string& m) { progress.Say(m); };
  const auto started = std::chrono::steady_clock::now();
  auto res = scenarios::RunStormRun(h, run, current, ro);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  if (!res) {
    std::cerr << "fwgate: "
              << (stop->load() ? "interrupted; the lab was torn down"
                               : "could not run the restart: " + res.error().ToString())
              << "\n";
    return res.error().kind == ErrorKind::kBadInput ? Outcome::kBadInput : Outcome::kUndecided;
  }
  const scenarios::StormRunResult& st = *res;
  replay::Verdict verdict = replay::Verdict::kSurvived;
  std::string reason;
  auto num = [](uint64_t v) { return std::to_string(v); };
  if (st.drops > 0) {
    verdict = replay::Verdict::kBroken;
    reason = "conntrack table full on node" + std::to_string(spec->node + 1) + ": peak " +
             num(st.peak_entries) + " of " + num(st.budget) + " entries, " + num(st.drops) +
             " packets dropped";
  } else if (st.recovery_ms < 0) {
    verdict = replay::Verdict::kBroken;
    reason = "not every daemon's sessions were back within the run (" +
             std::to_string(run.observe_ms / 1000) + " s)";
  } else {
    reason = "no drop: peak " + num(st.peak_entries) + " of " + num(st.budget) +
             " entries; every daemon back " + std::to_string(st.recovery_ms) +
             " ms after the first restart";
  }
  if (a.json) {
    nlohmann::json j = {{"schema_version", report::kScenarioSchemaVersion},
                        {"kind", "restart"},
                        {"node", "node" + std::to_string(spec->node + 1)},
                        {"daemons", spec->daemons},
                        {"verdict", replay::VerdictName(verdict)},
                        {"reason", reason},
                        {"took_ms", took.count()},
                        {"storm", report::StormRunToJson(st)}};
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << "restart of " << spec->daemons << " daemons on node" << spec->node + 1 << " ("
              << h.sessions_per_daemon * spec->daemons << " sessions, stagger " << a.stagger_ms
              << " ms, table " << a.table_size << " entries)\n"
              << report::StormRunToText(st) << "\n"
              << replay::VerdictName(verdict) << ": " << reason << "\n";
  }
  return verdict == replay::Verdict::kSurvived ? Outcome::kPass : Outcome::kFail;
}

Outcome Run(const Args& a) {
  // Before anything slow, so SIGINT/SIGTERM always end in exit 3.
  const std::atomic<bool>* stop = InstallStopHandlers();
  if (!a.restart.empty()) return RunRestart(a, stop);
  if (a.proposed.empty()) {
    std::cerr << "fwgate: replay: --proposed is required (or --restart NODE:DAEMONS)\n";
    return Outcome::kBadInput;
  }
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
                      "Ruleset the reload loads (nft text, nft -j JSON or iptables-save); "
                      "required unless --restart")
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
      sub->add_option(
             "--restart", a->restart,
             "Instead of a reload, restart DAEMONS storage daemons on NODE (SECONDS into the run, "
             "default 0) and watch NODE's conntrack table: its peers reconnect as Ceph's "
             "messenger does (the 2014 storm, docs/lab-scenarios.md). NODE loads --current; the "
             "sessions are --connections-per-node (default 6000 with --restart). Exit 0 no drop "
             "and every daemon back, 1 table full or not back, 3 could not run")
          ->type_name("NODE:DAEMONS[@SECONDS]");
      sub->add_option("--stagger", a->stagger_ms,
                      "--restart: ms between one daemon's restart and the next (0: all at once)")
          ->capture_default_str()
          ->check(FiniteRange(0, 3600000));
      sub->add_option("--table-size", a->table_size,
                      "--restart: NODE's conntrack table size (nf_conntrack_max), made by filling "
                      "its table with long-lived entries; default 65536 (the 2014-era default)")
          ->capture_default_str()
          ->check(CLI::Range(uint64_t{256}, uint64_t{16777216}));
      sub->add_option("--timeout", a->timeouts,
                      "--restart: NAME=SECONDS sets net.netfilter.nf_conntrack_tcp_timeout_NAME "
                      "inside NODE (repeatable; e.g. time_wait=5)")
          ->type_name("NAME=SECONDS");
      sub->add_option("--retry", a->retry_ms,
                      "--restart: ms between a peer's reconnect attempts of one session")
          ->capture_default_str()
          ->check(FiniteRange(10, 3600000));
      sub->add_option("--boot-work", a->boot_work_ms,
                      "--restart: ms of host work a daemon needs to boot, shared among the "
                      "daemons booting at the same time")
          ->capture_default_str()
          ->check(FiniteRange(0, 3600000));
      sub->add_option("--down", a->down_ms,
                      "--restart: ms a restarted daemon refuses connects before it boots")
          ->capture_default_str()
          ->check(FiniteRange(0, 3600000));
      sub->add_option("--connect-timeout", a->connect_timeout_ms,
                      "--restart: ms after which a peer abandons an unanswered connect")
          ->capture_default_str()
          ->check(FiniteRange(10, 600000));
      sub->add_option("--observe", a->observe_s,
                      "--restart: seconds to watch after the first restart (default: the stagger "
                      "times the daemons less one, plus 45 s; ends early once every daemon is "
                      "back)")
          ->check(FiniteRange(1, 86400));
      sub->add_flag("--json", a->json, "JSON report on stdout");
      sub->add_flag("--quiet", a->quiet,
                    "No progress on stderr (shown only when stderr is a terminal)");
      AddIncludeDirOption(sub, a->include_dirs);
      AddNftLimitOptions(sub, a->nft_limits);
      return [a, sub]() -> Outcome {
        a->per_node_given = sub->count("--connections-per-node") > 0;
        return Run(*a);
      };
    }}};

}  // namespace
}  // namespace fwgate::cli
