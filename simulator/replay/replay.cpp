#include "simulator/replay/replay.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <thread>

#include "simulator/reload/executor.h"
#include "simulator/replay/lab_health.h"
#include "simulator/replay/window.h"
#include "simulator/replay/workload_shape.h"
#include "simulator/workload/engine.h"
#include "sys/conntrack_stats.h"
#include "sys/nft_netlink.h"
#include "sys/sysctl.h"

namespace fwgate::replay {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr const char* kBeLiberal = "net.netfilter.nf_conntrack_tcp_be_liberal";

bool Stopped(const std::atomic<bool>* stop) { return stop != nullptr && stop->load(); }

bool SleepFor(milliseconds d, const std::atomic<bool>* stop) {
  auto end = Clock::now() + d;
  while (Clock::now() < end) {
    if (Stopped(stop)) return false;
    std::this_thread::sleep_for(std::min<Clock::duration>(end - Clock::now(), milliseconds(10)));
  }
  return !Stopped(stop);
}

// SleepFor with a progress report about once a second: `what(left)` says what is going on.
bool SleepWithProgress(milliseconds d, const std::atomic<bool>* stop,
                       const std::function<void(const std::string&)>& progress,
                       const std::function<std::string(milliseconds)>& what) {
  if (!progress) return SleepFor(d, stop);
  auto end = Clock::now() + d;
  while (true) {
    auto left = std::chrono::duration_cast<milliseconds>(end - Clock::now());
    if (left.count() <= 0) return !Stopped(stop);
    progress(what(left));
    if (!SleepFor(std::min(left, milliseconds(1000)), stop)) return false;
  }
}

std::string Seconds(milliseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

// Writes (when `value` is set) and reads back be_liberal inside `ns` (never the host's).
Result<int> BeLiberal(const sys::NetnsHandle& ns, std::optional<int> value) {
  if (value) {
    if (auto st = sys::WriteSysctlIn(ns, kBeLiberal, *value ? "1" : "0"); !st) return st.error();
  }
  auto v = sys::ReadSysctlIntIn(ns, kBeLiberal);
  if (!v) return v.error();
  return *v != 0 ? 1 : 0;
}

Result<sys::ConntrackStats> Stats(const sys::NetnsHandle& ns) {
  Result<sys::ConntrackStats> out = Error::Unavailable("not run");
  if (auto st = sys::RunInNetns(ns, [&] { out = sys::ReadConntrackStats(); }); !st) {
    return st.error();
  }
  return out;
}

std::vector<NamedCounter> Counters(const sys::NetnsHandle& ns) {
  std::vector<NamedCounter> out;
  (void)sys::RunInNetns(ns, [&] {
    auto rs = sys::DumpRuleset();
    if (!rs) return;
    for (const auto& t : rs->tables) {
      for (const auto& o : t.objects) {
        if (o.type != 1) continue;  // NFT_OBJECT_COUNTER
        NamedCounter c;
        c.table = t.name;
        c.name = o.name;
        for (const auto& [k, v] : o.attrs) {
          if (const auto* n = std::get_if<uint64_t>(&v)) {
            if (k == "pkts") c.packets_after = *n;
            if (k == "bytes") c.bytes_after = *n;
          }
        }
        out.push_back(c);
      }
    }
  });
  return out;
}

// Counters named in both dumps get their before values (a reload resets counter objects the
// proposed file re-creates; then before stays 0 and the after value is the whole count).
void MergeCounters(std::vector<NamedCounter>& after, const std::vector<NamedCounter>& before,
                   bool reset_by_reload) {
  if (reset_by_reload) return;
  for (auto& a : after) {
    for (const auto& b : before) {
      if (a.table == b.table && a.name == b.name) {
        a.packets_before = b.packets_after;
        a.bytes_before = b.bytes_after;
      }
    }
  }
}

}  // namespace

milliseconds AfterMarkTime(const ReplayOptions& o, int nodes) {
  milliseconds reload_span = o.rolling * std::max(0, nodes - 1);
  if (o.procedure.style == reload::Style::kFlushThenLoad) reload_span += o.procedure.gap;
  milliseconds needed =
      reload_span + WatchAfterReload(o.stall_threshold,
                                     LongestInterval(PlanWorkload(nodes, o.connections_per_node)));
  milliseconds rest = o.duration > o.warmup ? o.duration - o.warmup : milliseconds(0);
  return std::max(rest, needed);
}

Result<ReplayReport> RunReplay(const ReplayOptions& o, bool* interrupted) {
  if (interrupted != nullptr) *interrupted = false;
  auto stop_error = [&]() -> Error {
    if (interrupted != nullptr) *interrupted = true;
    return Error::Unavailable("interrupted");
  };
  auto lab_kernel = hazards::RunningKernel();
  if (!lab_kernel) return lab_kernel.error();

  ReplayReport rep;
  rep.reload = o.procedure.Describe();
  if (o.current == nullptr || o.proposed == nullptr || !o.current->flat || !o.proposed->flat) {
    return Error::Internal("replay needs both rulesets loaded");
  }
  rep.current = o.current->display_name;
  rep.proposed = o.proposed->display_name;
  rep.stall_threshold = o.stall_threshold;
  rep.warmup = o.warmup;

  // Stages: 1 lab, 2 rulesets, 3 connections, 4 traffic and reload, 5 judge.
  auto say = [&](const std::string& s) {
    if (o.progress) o.progress(s);
  };
  say("stage 1/5 lab: building the nodes, client and switch namespaces");
  auto topo = lab::Topology::Build(o.topology);
  if (!topo) return topo.error().Wrap("building the lab");
  auto& lab = **topo;
  auto& nodes = lab.nodes();
  if (Stopped(o.stop)) return stop_error();

  // Per node: kernel class, emulation, plan, be_liberal; the current ruleset loaded.
  say("stage 2/5 rulesets: loading the current ruleset into " + std::to_string(nodes.size()) +
      " nodes");
  std::vector<reload::NodeReload> reloads;
  for (auto& n : nodes) {
    NodeReport nr;
    nr.name = n.plan.name;
    hazards::KernelVersion k = *lab_kernel;
    if (auto given = o.kernels.For(nr.name)) {
      k = *given;
      nr.kernel = given->release.empty() ? given->ToString() : given->release;
    }
    nr.kernel_class = std::string(hazards::Classify(k).name);
    hazards::EmulationChoice choice = hazards::ChooseEmulation(k, *lab_kernel);
    if (nr.kernel.empty()) {
      choice.why = "no kernel given: the lab kernel " + lab_kernel->ToString() + " runs natively";
    }
    reload::Plan plan =
        reload::PlanReload(o.procedure, choice.emulation,
                           {o.proposed->flat->text, o.proposed_path, o.proposed->format});
    nr.emulation = std::string(hazards::EmulationName(plan.emulation));
    // The plan's note matters when the procedure changes what the emulation can do (atomic:
    // nothing to emulate; command: runs as written) or when nothing is emulated.
    nr.emulation_reason = choice.why;
    if (o.procedure.style != reload::Style::kFlushThenLoad ||
        plan.emulation == hazards::Emulation::kNative) {
      nr.emulation_reason += "; " + plan.note;
    }
    if (auto st = nft::LoadIntoNamespace(n.ns, *o.current); !st) {
      return st.error().Wrap(nr.name + ": loading the current ruleset");
    }
    // The proposed ruleset may name interfaces the current one does not: each node has them
    // before the reload, as validate had them.
    if (auto st = nft::CreatePlaceholders(n.ns, *o.proposed); !st) {
      return st.error().Wrap(nr.name + ": preparing for the proposed ruleset");
    }
    auto bl = BeLiberal(n.ns, o.be_liberal.For(nr.name));
    if (!bl) return bl.error().Wrap(nr.name + ": be_liberal");
    nr.be_liberal = *bl;
    rep.nodes.push_back(nr);
    reloads.push_back({nr.name, &n.ns, plan});
  }

  // Traffic.
  workload::EngineOptions eo;
  auto engine_r = workload::Engine::Create(eo);
  if (!engine_r) return engine_r.error();
  auto& engine = **engine_r;
  WorkloadPlan wp = PlanWorkload(static_cast<int>(nodes.size()), o.connections_per_node);
  auto addr_of = [&](int idx, bool cluster) -> const std::string& {
    if (idx == kClientIndex) return lab.client().plan.public_addr;
    return cluster ? nodes[static_cast<size_t>(idx)].plan.cluster_addr
                   : nodes[static_cast<size_t>(idx)].plan.public_addr;
  };
  for (const auto& l : wp.listeners) {
    auto& n = nodes[static_cast<size_t>(l.node)];
    workload::ListenSpec ls{n.plan.name, &n.ns,    addr_of(l.node, l.cluster),
                            l.port,      l.buffer, l.buffer};
    if (auto st = engine.AddListener(ls); !st) return st.error();
  }
  for (const auto& c : wp.conns) {
    workload::ConnSpec cs;
    cs.cls = c.cls;
    cs.from_node = c.from == kClientIndex ? "client" : nodes[static_cast<size_t>(c.from)].plan.name;
    cs.to_node = nodes[static_cast<size_t>(c.to)].plan.name;
    cs.from_ns = c.from == kClientIndex ? &lab.client().ns : &nodes[static_cast<size_t>(c.from)].ns;
    cs.from_address = addr_of(c.from, c.cluster);
    cs.to_address = addr_of(c.to, c.cluster);
    cs.to_port = c.port;
    cs.forward = c.forward;
    cs.reverse = c.reverse;
    cs.sndbuf = cs.rcvbuf = c.buffer;
    if (auto id = engine.AddConnection(cs); !id) return id.error();
  }
  say("stage 3/5 connections: establishing " + std::to_string(wp.conns.size()) + " connections");
  if (auto st = engine.Establish(); !st) {
    // The current ruleset (or the lab) does not let the workload connect: no verdict possible.
    (void)engine.Stop();
    rep.verdict = Verdict::kUnknown;
    rep.reason =
        "connections could not be established under the current ruleset: " + st.error().ToString();
    return rep;
  }
  if (auto st = engine.Start(); !st) return st.error();

  auto abort_run = [&](Error e) -> Error {
    (void)engine.Stop();
    return e;
  };
  milliseconds after_estimate = AfterMarkTime(o, static_cast<int>(nodes.size()));
  if (!SleepWithProgress(o.warmup, o.stop, o.progress, [&](milliseconds left) {
        return "stage 4/5 traffic: reload in " + Seconds(left) + " (about " +
               Seconds(left + after_estimate) + " left)";
      })) {
    return abort_run(stop_error());
  }

  std::vector<std::optional<sys::ConntrackStats>> before(nodes.size());
  std::vector<std::vector<NamedCounter>> counters_before(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (auto s = Stats(nodes[i].ns); s) before[i] = *s;
    counters_before[i] = Counters(nodes[i].ns);
  }

  engine.Mark();
  auto mark_time = Clock::now();
  reload::RunOptions ro;
  ro.rolling = o.rolling;
  ro.command_timeout = o.procedure.timeout;
  ro.stop = o.stop;
  say("stage 4/5 traffic: reloading " + std::to_string(reloads.size()) + " nodes (" + rep.reload +
      ")");
  auto outcomes = reload::RunReloads(reloads, ro);
  for (size_t i = 0; i < outcomes.size(); ++i) {
    for (const auto& s : outcomes[i].steps) {
      rep.nodes[i].reload_steps.push_back(s.label + " at +" + std::to_string(s.started_at.count()) +
                                          " ms (" + std::to_string(s.took.count()) + " ms)");
    }
  }
  for (const auto& oc : outcomes) {
    if (oc.interrupted || Stopped(o.stop)) return abort_run(stop_error());
  }
  for (const auto& oc : outcomes) {
    if (!oc.ok) return abort_run(Error::Unavailable("reload failed on " + oc.error));
  }

  milliseconds after = AfterMarkTime(o, static_cast<int>(nodes.size()));
  auto spent = std::chrono::duration_cast<milliseconds>(Clock::now() - mark_time);
  // Lab health: the watch window counts from the measured end of the reload.
  const auto reload_end = Clock::now();
  after = std::max(after, spent + WatchAfterReload(o.stall_threshold, LongestInterval(wp)));
  rep.after_mark = after;
  if (spent < after &&
      !SleepWithProgress(after - spent, o.stop, o.progress, [&](milliseconds left) {
        return "stage 4/5 traffic: reload done, watching the connections (about " + Seconds(left) +
               " left)";
      })) {
    return abort_run(stop_error());
  }
  say("stage 5/5 judge: measuring " + std::to_string(wp.conns.size()) + " connections");

  const auto traffic_end = Clock::now();
  workload::Report wr = engine.Stop();
  for (size_t i = 0; i < nodes.size(); ++i) {
    auto& nr = rep.nodes[i];
    auto now = Stats(nodes[i].ns);
    if (now && before[i]) {
      sys::ConntrackStats d = now->DeltaSince(*before[i]);
      nr.conntrack.available = true;
      nr.conntrack.invalid = d.Get("invalid");
      nr.conntrack.drop = d.Get("drop");
      nr.conntrack.early_drop = d.Get("early_drop");
      nr.conntrack.insert_failed = d.Get("insert_failed");
      nr.conntrack.count_before = before[i]->count.value_or(0);
      nr.conntrack.count = now->count.value_or(0);
    }
    nr.counters = Counters(nodes[i].ns);
    // Every bundled ruleset (and any file starting with `flush ruleset`) re-creates its counter
    // objects, so their values after the reload count from the reload on.
    MergeCounters(nr.counters, counters_before[i], o.procedure.style != reload::Style::kCommand);
  }
  for (const auto& c : wr.connections) {
    rep.connections.push_back(JudgeConnection(c, o.stall_threshold));
  }
  rep.timeline = wr.timeline;
  Summarize(rep);
  // Lab health: judge what the lab could see, from its own numbers (lab_health.h).
  LabMeasurements lm;
  lm.loop_lateness = wr.loop_max_latency;
  lm.mark_skew = wr.mark_skew;
  lm.workers = wr.workers;
  std::optional<milliseconds> earliest, latest;  // first-step start minus the planned offset
  for (size_t i = 0; i < outcomes.size(); ++i) {
    if (outcomes[i].steps.empty()) continue;
    milliseconds late = outcomes[i].steps.front().started_at - o.rolling * static_cast<int>(i);
    earliest = std::min(earliest.value_or(late), late);
    latest = std::max(latest.value_or(late), late);
  }
  if (earliest) lm.reload_start_spread = *latest - *earliest;
  lm.watched_after_reload = std::chrono::duration_cast<milliseconds>(traffic_end - reload_end);
  lm.longest_interval = LongestInterval(wp);
  lm.stall_threshold = o.stall_threshold;
  ApplyLabHealth(rep, JudgeLabHealth(lm));
  return rep;
}

}  // namespace fwgate::replay
