#include "simulator/scenarios/run.h"

#include <algorithm>
#include <filesystem>
#include <thread>

#include "gate/nft/loader.h"
#include "simulator/lab/topology.h"
#include "simulator/replay/replay.h"
#include "sys/conntrack_stats.h"
#include "sys/ct_budget.h"
#include "sys/kmsg.h"
#include "sys/sysctl.h"

namespace fwgate::scenarios {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

bool Stopped(const RunOptions& o) { return o.stop != nullptr && o.stop->load(); }

void Say(const RunOptions& o, const std::string& s) {
  if (o.progress) o.progress(s);
}

std::string RulesetPath(const RunOptions& o, const std::string& name) {
  std::filesystem::path p(name);
  if (p.is_absolute() || o.rulesets_dir.empty()) return name;
  return (std::filesystem::path(o.rulesets_dir) / p).string();
}

Result<nft::LoadResult> Load(const RunOptions& o, const std::string& name) {
  nft::LoadResult r = nft::LoadRulesetFile(RulesetPath(o, name));
  if (r.status != nft::LoadStatus::kOk) {
    std::string why = r.reason;
    if (!r.diagnostics.empty()) why = r.diagnostics.front().message;
    Error e =
        OutcomeOf(r.status) == Outcome::kBadInput ? Error::BadInput(why) : Error::Unavailable(why);
    return e.Wrap("ruleset " + RulesetPath(o, name));
  }
  return r;
}

std::string Num(uint64_t v) {
  std::string s = std::to_string(v);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return s;
}

std::string Secs(int64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ms) / 1000.0);
  return buf;
}

// ---- reload runs ----

Result<ReloadRunResult> RunReload(const ReloadRun& run, const RunOptions& o) {
  ReloadRunResult out;
  out.run = run;
  auto procedure = reload::ParseProcedure(run.reload);
  if (!procedure) return procedure.error();
  procedure->gap = milliseconds(run.gap_ms);
  replay::ReplayOptions ro;
  if (!run.kernel.empty()) {
    auto k = replay::ParseKernelSpec(run.kernel, run.nodes);
    if (!k) return k.error();
    ro.kernels = *k;
  }
  if (!run.be_liberal.empty()) {
    auto b = replay::ParseBeLiberalSpec(run.be_liberal, run.nodes);
    if (!b) return b.error();
    ro.be_liberal = *b;
  }
  auto current = Load(o, run.current);
  if (!current) return current.error();
  auto proposed = Load(o, run.proposed);
  if (!proposed) return proposed.error();
  ro.current = &*current;
  ro.proposed = &*proposed;
  std::error_code ec;
  ro.proposed_path =
      std::filesystem::absolute(RulesetPath(o, run.proposed), ec).lexically_normal().string();
  ro.procedure = *procedure;
  ro.topology.nodes = run.nodes;
  ro.connections_per_node = run.connections_per_node;
  ro.duration = milliseconds(run.duration_ms);
  ro.warmup = milliseconds(run.warmup_ms);
  ro.light_traffic = run.traffic == "light";
  ro.reloads = run.reloads;
  ro.reload_interval = milliseconds(run.reload_interval_ms);
  ro.stop = o.stop;
  // Scenario runs are judged against the incident, not timed: a wider margin lets a loaded lab
  // resolve stalls to half the threshold (lab_health.h) for about a second more per run.
  ro.watch_margin = milliseconds(1500);
  bool interrupted = false;
  auto rep = replay::RunReplay(ro, &interrupted);
  if (!rep) return rep.error();
  out.report = std::move(*rep);
  // Which nodes the expectation is about: those named, else every 4.14-4.18 node.
  std::vector<std::string> nodes = run.broken_only_touching;
  if (nodes.empty()) {
    for (const auto& n : out.report.nodes) {
      if (n.kernel_class == "stale-gap") nodes.push_back(n.name);
    }
  }
  for (const auto& c : out.report.connections) {
    bool touching = std::any_of(nodes.begin(), nodes.end(),
                                [&](const std::string& n) { return replay::Touches(c.result, n); });
    (touching ? out.touching : out.others) += 1;
    if (c.broken) (touching ? out.touching_broken : out.others_broken) += 1;
  }
  for (const auto& n : out.report.nodes) out.invalid += n.conntrack.invalid;
  return out;
}

// ---- storm runs ----

constexpr const char* kCount = "net.netfilter.nf_conntrack_count";

struct StatsNow {
  uint64_t drop = 0, early_drop = 0, insert_failed = 0;
};

Result<StatsNow> ReadStats(const sys::NetnsHandle& ns) {
  Result<sys::ConntrackStats> st = Error::Unavailable("not read");
  if (auto s = sys::RunInNetns(ns, [&] { st = sys::ReadConntrackStats(); }); !s) return s.error();
  if (!st) return st.error();
  return StatsNow{st->Get("drop"), st->Get("early_drop"), st->Get("insert_failed")};
}

}  // namespace

Result<StormRunResult> RunStormRun(const StormHost& h, const StormRun& run,
                                   const nft::LoadResult& ruleset, const RunOptions& o) {
  StormRunResult out;
  out.run = run;
  out.budget = run.table_size;
  auto host = sys::ReadHostConntrack();
  if (!host) return host.error();
  out.host_max = host->max;
  auto plan = sys::PlanBudget(*host, run.table_size);
  if (!plan) return plan.error();
  out.fill = plan->fill;

  lab::TopologyOptions to;
  to.nodes = 1 + h.peers;
  auto topo = lab::Topology::Build(to);
  if (!topo) return topo.error().Wrap("building the lab");
  auto& lab = **topo;
  if (h.restarted < 0 || static_cast<size_t>(h.restarted) >= lab.nodes().size()) {
    return Error::BadInput("the restarted node is not in the lab");
  }
  auto& node = lab.nodes()[static_cast<size_t>(h.restarted)];
  // Conntrack runs where a rule needs it (docs/kernel-conntrack.md §2.1): the restarted node
  // loads the node ruleset; peers and the client track nothing, as their tables are not the
  // question.
  if (auto st = nft::LoadIntoNamespace(node.ns, ruleset); !st) {
    return st.error().Wrap(node.plan.name + ": loading " + h.ruleset);
  }
  for (const auto& [name, secs] : run.timeouts) {
    std::string key = "net.netfilter.nf_conntrack_tcp_timeout_" + name;
    if (auto st = sys::WriteSysctlIn(node.ns, key, std::to_string(secs)); !st) {
      return st.error().Wrap(node.plan.name);
    }
  }
  for (const std::string& name : TimeoutNames()) {
    auto v = sys::ReadSysctlIntIn(node.ns, "net.netfilter.nf_conntrack_tcp_timeout_" + name);
    if (v) out.timeouts[name] = *v;
  }
  Say(o, run.name + ": filling " + node.plan.name + "'s table with " + Num(plan->fill) +
             " entries (nf_conntrack_max " + Num(host->max) + ", budget " + Num(run.table_size) +
             ")");
  auto fill = sys::FillConntrack(node.ns, plan->fill);
  if (!fill) return fill.error().Wrap(node.plan.name);
  out.fill_ms = fill->took.count();
  if (Stopped(o)) return Error::Unavailable("interrupted");

  // Daemons on node1's cluster address, sessions from every peer and the client, the monitor on
  // the first peer.
  std::vector<workload::DaemonEndpoint> daemons;
  daemons.reserve(static_cast<size_t>(h.daemons));
  for (int d = 0; d < h.daemons; ++d) {
    daemons.push_back({"osd." + std::to_string(d), &node.ns, node.plan.cluster_addr,
                       static_cast<uint16_t>(6800 + d)});
  }
  std::vector<workload::PeerEndpoint> sources;
  for (size_t p = 0; p < lab.nodes().size(); ++p) {
    if (p == static_cast<size_t>(h.restarted)) continue;
    auto& n = lab.nodes()[p];
    sources.push_back({n.plan.name, &n.ns, n.plan.cluster_addr, 0});
  }
  if (sources.empty()) return Error::BadInput("a restart needs at least one peer node");
  auto& mon_node = lab.nodes()[h.restarted == 0 ? 1 : 0];
  workload::PeerEndpoint mon{mon_node.plan.name, &mon_node.ns, mon_node.plan.cluster_addr, 3300};
  workload::DaemonOptions dopt;
  dopt.sessions_per_daemon = h.sessions_per_daemon;
  dopt.down = milliseconds(h.down_ms);
  dopt.boot_work = milliseconds(h.boot_work_ms);
  dopt.retry = milliseconds(h.retry_ms);
  dopt.connect_timeout = milliseconds(h.connect_timeout_ms);
  auto set = workload::DaemonSet::Create(dopt, daemons, sources, mon);
  if (!set) return set.error();
  Say(o, run.name + ": opening " +
             Num(static_cast<uint64_t>(h.daemons) * static_cast<uint64_t>(h.sessions_per_daemon)) +
             " sessions to " + std::to_string(h.daemons) + " daemons on " + node.plan.name);
  if (auto st = (*set)->Start(milliseconds(60000)); !st) return st.error();

  auto inode = sys::NetnsInode(node.ns);
  if (!inode) return inode.error();
  auto kmsg = sys::KernelLog::OpenAtEnd();  // optional: without it the lines are not counted
  auto before = ReadStats(node.ns);
  if (!before) return before.error().Wrap(node.plan.name + ": conntrack statistics");
  // Settle: every session up and its entry established before the restarts.
  std::this_thread::sleep_for(milliseconds(500));
  auto base_count = sys::ConntrackCountIn(node.ns);
  if (!base_count) return base_count.error();
  out.baseline_entries = *base_count > out.fill ? *base_count - out.fill : 0;
  // Steady traffic until the first restart (replay --restart NODE:D@SECONDS).
  if (run.restart_at_ms > 0) Say(o, run.name + ": first restart in " + Secs(run.restart_at_ms));
  const auto steady_end = Clock::now() + milliseconds(run.restart_at_ms);
  while (Clock::now() < steady_end) {
    if (Stopped(o)) {
      (void)(*set)->Stop();
      return Error::Unavailable("interrupted");
    }
    StormSample smp;
    workload::DaemonSnapshot snap = (*set)->Snapshot();
    smp.t_ms = -std::chrono::duration_cast<milliseconds>(steady_end - Clock::now()).count();
    if (auto count = sys::ConntrackCountIn(node.ns)) {
      smp.entries = *count > out.fill ? *count - out.fill : 0;
    }
    smp.sessions_up = snap.sessions_up;
    out.samples.push_back(smp);
    std::this_thread::sleep_for(std::min<milliseconds>(
        o.sample_interval, std::chrono::duration_cast<milliseconds>(steady_end - Clock::now())));
  }
  if (run.restart_at_ms > 0) {
    if (auto c = sys::ConntrackCountIn(node.ns)) {
      out.baseline_entries = *c > out.fill ? *c - out.fill : 0;
    }
    if (auto b = ReadStats(node.ns)) before = b;
  }
  workload::DaemonSnapshot snap0 = (*set)->Snapshot();
  out.restart_ms = snap0.t_ms;

  const auto t0 = Clock::now();
  const milliseconds observe(run.observe_ms);
  int next_restart = 0;
  uint64_t table_full = 0;
  while (true) {
    auto elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - t0);
    while (next_restart < h.daemons && elapsed >= milliseconds(run.stagger_ms) * next_restart) {
      (*set)->Restart(static_cast<size_t>(next_restart++));
    }
    if (Stopped(o)) {
      (void)(*set)->Stop();
      return Error::Unavailable("interrupted");
    }
    if (kmsg) {
      if (auto lines = kmsg->ReadNew()) {
        for (const auto& l : *lines) {
          if (auto inum = sys::ParseTableFull(l)) {
            if (*inum == *inode) {
              ++table_full;
            } else if (*inum == 0) {
              ++out.table_full_other;
            }
          }
        }
      }
    }
    StormSample smp;
    auto count = sys::ConntrackCountIn(node.ns);
    auto stats = ReadStats(node.ns);
    workload::DaemonSnapshot snap = (*set)->Snapshot();
    smp.t_ms = snap.t_ms - out.restart_ms;
    if (count) smp.entries = *count > out.fill ? *count - out.fill : 0;
    if (stats) {
      smp.drop = stats->drop - before->drop;
      smp.early_drop = stats->early_drop - before->early_drop;
      smp.insert_failed = stats->insert_failed - before->insert_failed;
    }
    smp.table_full = table_full;
    smp.attempts = snap.counters.attempts - snap0.counters.attempts;
    smp.failures = (snap.counters.refused + snap.counters.timed_out + snap.counters.rejected) -
                   (snap0.counters.refused + snap0.counters.timed_out + snap0.counters.rejected);
    smp.sessions_up = snap.sessions_up;
    out.samples.push_back(smp);
    bool all_back = next_restart == h.daemons;
    for (const auto& d : snap.daemons) all_back = all_back && d.back_ms >= 0;
    if (all_back && out.recovery_ms < 0) {
      int64_t last = 0;
      for (const auto& d : snap.daemons) last = std::max(last, d.back_ms);
      out.recovery_ms = last - out.restart_ms;
    }
    // Done when observed long enough, or every daemon is back and a few seconds have passed
    // since (the table's tail is part of the picture).
    if (elapsed >= observe) break;
    if (out.recovery_ms >= 0 && elapsed.count() >= out.recovery_ms + 2000 &&
        elapsed >= milliseconds(run.stagger_ms) * (h.daemons - 1) + milliseconds(2000)) {
      break;
    }
    std::this_thread::sleep_for(o.sample_interval);
  }
  workload::DaemonSnapshot last = (*set)->Stop();
  out.daemons = last.daemons;
  out.counters.attempts = last.counters.attempts - snap0.counters.attempts;
  out.counters.refused = last.counters.refused - snap0.counters.refused;
  out.counters.timed_out = last.counters.timed_out - snap0.counters.timed_out;
  out.counters.rejected = last.counters.rejected - snap0.counters.rejected;
  out.counters.sessions_made = last.counters.sessions_made - snap0.counters.sessions_made;
  for (const auto& smp : out.samples) out.peak_entries = std::max(out.peak_entries, smp.entries);
  if (!out.samples.empty()) {
    out.drops = out.samples.back().drop;
    out.early_drops = out.samples.back().early_drop;
    out.insert_failed = out.samples.back().insert_failed;
  }
  out.table_full_lines = table_full;
  // Entries go with the namespace; flushing now frees the fill before the next run.
  (void)sys::FlushConntrack(node.ns);

  // The probe's estimate for the same host: the sessions as its count, each daemon's sessions
  // retrying once per `retry` as its rate, the node's timeouts (docs/kernel-conntrack.md §4.4).
  probe::NodeFacts facts;
  facts.reachable = true;
  facts.sysctls_readable = true;
  facts.kernel = "6.18";
  facts.sysctls["nf_conntrack_count"] = static_cast<int64_t>(out.baseline_entries);
  facts.sysctls["nf_conntrack_max"] = static_cast<int64_t>(run.table_size);
  for (const auto& [k, v] : out.timeouts) facts.sysctls["nf_conntrack_tcp_timeout_" + k] = v;
  hazards::FindingsConfig cfg;
  cfg.storm_daemons = h.daemons;
  cfg.storm_attempts_per_daemon =
      static_cast<double>(h.sessions_per_daemon) * 1000.0 / static_cast<double>(h.retry_ms);
  cfg.storm_down_s = static_cast<double>(h.down_ms) / 1000.0;
  cfg.storm_boot_s = static_cast<double>(h.boot_work_ms) / 1000.0;
  if (auto storm_plan = hazards::PlanRestartStorm(facts, cfg)) {
    out.estimate = storm_plan->estimate;
    out.estimate_peak =
        hazards::StaggeredPeak(*storm_plan, cfg, static_cast<double>(run.stagger_ms) / 1000.0);
  }
  out.estimate_overflows = out.estimate && out.estimate_peak > run.table_size;
  out.lab_overflowed = out.drops > 0;
  for (const auto& smp : out.samples) {
    if (smp.t_ms > 0 && smp.entries + 1 >= out.peak_entries) {
      out.measured_rate =
          static_cast<double>(smp.entries - std::min(smp.entries, out.baseline_entries)) * 1000.0 /
          static_cast<double>(smp.t_ms);
      break;
    }
  }
  return out;
}

namespace {

Result<StormRunResult> RunStorm(const Scenario& s, const StormRun& run, const RunOptions& o) {
  auto ruleset = Load(o, s.host.ruleset);
  if (!ruleset) return ruleset.error();
  return RunStormRun(s.host, run, *ruleset, o);
}

}  // namespace

std::string ExpectedText(const ReloadRun& r) {
  if (r.expect_verdict == "survived") return "every connection survives";
  std::string nodes;
  for (const auto& n : r.broken_only_touching) nodes += (nodes.empty() ? "" : ", ") + n;
  return "connections break, only those touching " + (nodes.empty() ? "a 4.14-4.18 node" : nodes);
}

std::string ExpectedText(const StormRun& r) {
  if (r.expect_drops) return "table full: entries reach the budget and packets are dropped";
  if (!r.fewer_drops_than.empty()) {
    return "no drop, or fewer than " + r.fewer_drops_than;
  }
  return "no drop";
}

bool JudgeReload(const ReloadRunResult& r, std::string* observed) {
  const auto& rep = r.report;
  std::string v(replay::VerdictName(rep.verdict));
  int total = static_cast<int>(rep.connections.size());
  int broken = r.touching_broken + r.others_broken;
  *observed = v + ": " + std::to_string(broken) + " of " + std::to_string(total) +
              " connections broke (" + std::to_string(r.touching_broken) + " of " +
              std::to_string(r.touching) + " touching the named nodes, " +
              std::to_string(r.others_broken) + " of " + std::to_string(r.others) + " others); " +
              Num(r.invalid) + " INVALID";
  if (rep.verdict == replay::Verdict::kUnknown) return false;
  if (r.run.expect_verdict == "survived") return rep.verdict == replay::Verdict::kSurvived;
  return rep.verdict == replay::Verdict::kBroken && r.touching_broken > 0 && r.others_broken == 0;
}

bool JudgeStorm(const StormRunResult& r, const std::vector<RunOutcome>& earlier,
                std::string* observed) {
  const bool full = r.drops > 0 && r.peak_entries * 100 >= r.budget * 98;
  *observed = "peak " + Num(r.peak_entries) + " of " + Num(r.budget) + " entries, " + Num(r.drops) +
              " dropped, " + Num(r.table_full_lines) + " table-full lines; " +
              (r.recovery_ms >= 0 ? "every daemon back after " + Secs(r.recovery_ms)
                                  : std::string("not every daemon back within the run"));
  if (r.run.expect_drops) return full;
  if (r.drops == 0) return true;
  if (r.run.fewer_drops_than.empty()) return false;
  for (const auto& e : earlier) {
    if (e.name == r.run.fewer_drops_than && e.storm) return r.drops < e.storm->drops;
  }
  return false;
}

void Conclude(ScenarioResult& out) {
  out.outcome = Outcome::kPass;
  out.verdict = "reproduced";
  for (const auto& r : out.runs) {
    if (!r.as_expected && !r.undecided) {
      out.outcome = Outcome::kFail;
      out.verdict = "not reproduced";
      out.reason =
          "run " + r.name + " differed: expected " + r.expected + "; observed " + r.observed;
      break;
    }
  }
  // Not a difference: a run the lab could not measure leaves the scenario undecided (exit 3),
  // unless another run already differed.
  if (out.outcome == Outcome::kPass) {
    for (const auto& r : out.runs) {
      if (r.undecided) {
        out.outcome = Outcome::kUndecided;
        out.verdict = "could not decide";
        out.reason = "run " + r.name + " could not be measured after " +
                     std::to_string(r.attempts) + " attempts: " + r.observed;
        break;
      }
    }
  }
  if (out.outcome == Outcome::kPass) {
    out.reason =
        "every run gave its expected outcome (" + std::to_string(out.runs.size()) + " runs)";
  }
}

Result<ScenarioResult> RunScenario(const Scenario& s, const RunOptions& o) {
  const auto start = Clock::now();
  ScenarioResult out;
  out.scenario = s;
  if (auto st = sys::CanCreateNamespaces(); !st) return st.error();
  size_t n = s.run_count();
  for (size_t i = 0; i < n; ++i) {
    RunOutcome ro;
    if (s.kind == Kind::kReload) {
      const ReloadRun& run = s.reload_runs[i];
      ro.name = run.name;
      ro.description = run.description;
      ro.expected = ExpectedText(run);
      Say(o, s.name + " run " + std::to_string(i + 1) + "/" + std::to_string(n) + " " + run.name);
      auto r = RunReload(run, o);
      // A lab too loaded to resolve the stalls the verdict needs decides nothing (the replay's
      // own health check, simulator/replay/lab_health.h): the run is made again, up to
      // kReloadAttempts times, and the scenario is undecided if it never could be measured.
      ro.attempts = 1;
      while (r && r->report.verdict == replay::Verdict::kUnknown &&
             r->report.lab_health.overloaded && ro.attempts < o.reload_attempts && !Stopped(o)) {
        Say(o, run.name + ": " + r->report.lab_health.reason + "; running it again");
        ro.retried_because.push_back(r->report.lab_health.reason);
        ++ro.attempts;
        r = RunReload(run, o);
      }
      if (!r) {
        if (r.error().kind == ErrorKind::kBadInput) return r.error().Wrap("run " + run.name);
        out.outcome = Outcome::kUndecided;
        out.verdict = "could not run";
        out.reason = "run " + run.name + ": " + r.error().ToString();
        out.runs.push_back(std::move(ro));
        out.took = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
        return out;
      }
      ro.as_expected = JudgeReload(*r, &ro.observed);
      if (r->report.verdict == replay::Verdict::kUnknown) {
        ro.undecided = true;
        ro.observed += " (" + r->report.reason + ")";
      }
      ro.reload = std::move(*r);
    } else {
      const StormRun& run = s.storm_runs[i];
      ro.name = run.name;
      ro.description = run.description;
      ro.expected = ExpectedText(run);
      Say(o, s.name + " run " + std::to_string(i + 1) + "/" + std::to_string(n) + " " + run.name);
      auto r = RunStorm(s, run, o);
      if (!r) {
        if (r.error().kind == ErrorKind::kBadInput) return r.error().Wrap("run " + run.name);
        out.outcome = Outcome::kUndecided;
        out.verdict = "could not run";
        out.reason = "run " + run.name + ": " + r.error().ToString();
        out.runs.push_back(std::move(ro));
        out.took = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
        return out;
      }
      ro.as_expected = JudgeStorm(*r, out.runs, &ro.observed);
      ro.storm = std::move(*r);
    }
    out.runs.push_back(std::move(ro));
    if (Stopped(o)) return Error::Unavailable("interrupted");
  }
  Conclude(out);
  out.took = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  return out;
}

}  // namespace fwgate::scenarios
