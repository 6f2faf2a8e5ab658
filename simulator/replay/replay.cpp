#include "simulator/replay/replay.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <thread>

#include "gate/nft/input_format.h"
#include "simulator/reload/commit_follower.h"
#include "simulator/reload/emulation.h"
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

// The proposed ruleset as the reload procedures see it: what its load replaces.
reload::ProposedRuleset ProposedOf(const ReplayOptions& o) {
  reload::ProposedRuleset p{o.proposed->flat->text, o.proposed_path, o.proposed->format};
  p.flushes_ruleset = nft::FlushesRuleset(p.text, p.format);
  for (const auto& t : o.proposed->ruleset.tables) {
    p.tables.push_back(std::string(nft::FamilyName(t.family)) + " " + t.name);
  }
  return p;
}

// The follower's findings in the node's report.
void RecordFollow(const reload::FollowResult& f, NodeReport& nr) {
  nr.commits_followed = f.followed;
  nr.follow_failure = f.failure;
  for (const auto& c : f.commits) {
    CommitView v{c.generation, c.at.count(), c.process, c.summary, {}};
    for (const auto& [fam, n] : c.users) {
      if (fam != hazards::CtFamily::kBridge || n > 0)
        v.ct_users[std::string(hazards::CtFamilyName(fam))] = n;
    }
    nr.commits.push_back(std::move(v));
  }
  for (const auto& g : f.no_user) {
    nr.no_ct_user.push_back(
        {std::string(hazards::CtFamilyName(g.family)), g.from.count(), g.to ? g.to->count() : -1});
  }
}

// A connection the lab kept but a stale-gap node's kernel would not: on a node of that class
// with be_liberal=0 whose conntrack had no user during the reload, one direction moved further
// than the stale entry's window (docs/kernel-conntrack.md §3.4; the lab kernel's overshoot
// tolerance, §1 6.0/6.1 and §3.5, let it recover). docs/replay-fidelity.md "Window overshoot".
void JudgeOvershoot(ConnOutcome& c, const std::string& from_address, const std::string& to,
                    const std::vector<NodeReport>& nodes,
                    const std::vector<std::unique_ptr<reload::NodeEmulator>>& emulators) {
  if (c.broken || c.result.from_port == 0) return;
  const std::string from =
      (from_address.find(':') != std::string::npos ? "[" + from_address + "]" : from_address) +
      ":" + std::to_string(c.result.from_port);
  std::string to_ep = to;
  if (std::count(to.begin(), to.end(), ':') > 1) {
    auto colon = to.rfind(':');
    to_ep = "[" + to.substr(0, colon) + "]" + to.substr(colon);
  }
  for (size_t i = 0; i < nodes.size() && i < emulators.size(); ++i) {
    const NodeReport& n = nodes[i];
    if (n.name != c.result.from_node && n.name != c.result.to_node) continue;
    if (emulators[i]->emulation() != hazards::Emulation::kStaleGap || n.be_liberal != 0 ||
        n.no_ct_user.empty()) {
      continue;
    }
    for (const auto& o : emulators[i]->overshoots()) {
      bool same =
          (o.sender == from && o.receiver == to_ep) || (o.sender == to_ep && o.receiver == from);
      if (!same) continue;
      c.broken = true;
      c.reason = "beyond-stale-window";
      c.kernel_note =
          "broken on " + (n.kernel.empty() ? std::string("the node's kernel") : n.kernel) +
          ": moved " + std::to_string(o.beyond()) + " bytes beyond the stale window (" + o.sender +
          " -> " + o.receiver + ", " + std::to_string(o.moved) + " bytes during the gap, window " +
          std::to_string(o.window) + "); this lab kernel tolerates it";
      return;
    }
  }
}

}  // namespace

milliseconds AfterMarkTime(const ReplayOptions& o, int nodes) {
  milliseconds reload_span = o.rolling * std::max(0, nodes - 1);
  if (o.procedure.style == reload::Style::kFlushThenLoad) reload_span += o.procedure.gap;
  if (o.reloads > 1) reload_span = (reload_span + o.reload_interval) * o.reloads;
  milliseconds needed =
      reload_span + WatchAfterReload(o.stall_threshold,
                                     LongestInterval(PlanWorkload(nodes, o.connections_per_node)),
                                     o.watch_margin);
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
  std::vector<std::unique_ptr<reload::NodeEmulator>> emulators;
  const reload::ProposedRuleset proposed = ProposedOf(o);
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
    reload::Plan plan = reload::PlanReload(o.procedure, choice.emulation, proposed);
    nr.emulation = std::string(hazards::EmulationName(plan.emulation));
    nr.emulation_reason = choice.why + "; " + plan.note;
    // The emulation is in place before the current ruleset (continuous: tracking from the
    // first packet on) and acts around the reload, whatever its style.
    auto em = reload::NodeEmulator::Create(n.ns, plan.emulation);
    if (!em) return em.error().Wrap(nr.name);
    nr.emulation_mechanism = (*em)->Describe();
    emulators.push_back(std::move(*em));
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
  WorkloadPlan wp = o.light_traffic
                        ? PlanLightWorkload(static_cast<int>(nodes.size()), o.connections_per_node)
                        : PlanWorkload(static_cast<int>(nodes.size()), o.connections_per_node);
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
  std::vector<std::pair<std::string, std::string>> conn_ends;  // from address, "to:port"
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
    conn_ends.push_back({cs.from_address, cs.to_address + ":" + std::to_string(cs.to_port)});
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
  // Every node's commits are followed from here to the end of its reload.
  std::vector<std::unique_ptr<reload::CommitFollower>> followers(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (emulators[i]->emulation() == hazards::Emulation::kStaleGap) {
      std::vector<const sys::NetnsHandle*> peers{&lab.client().ns};
      for (size_t k = 0; k < nodes.size(); ++k) {
        if (k != i) peers.push_back(&nodes[k].ns);
      }
      emulators[i]->WatchPeers(std::move(peers));
    }
    reload::CommitFollower::Options fo;
    fo.older_kernel = emulators[i]->emulation() == hazards::Emulation::kStaleGap;
    fo.origin = mark_time;
    fo.on_commit = [em = emulators[i].get()](const reload::CtCounts& u) { em->OnCommit(u); };
    auto f = reload::CommitFollower::Start(nodes[i].ns, fo);
    if (!f) return abort_run(f.error().Wrap(rep.nodes[i].name + ": following its commits"));
    followers[i] = std::move(*f);
    reload::NodeEmulator* em = emulators[i].get();
    reload::CommitFollower* fw = followers[i].get();
    reloads[i].before = [em] { return em->BeforeReload(); };
    reloads[i].after = [em, fw] {
      (void)fw->WaitForKernel(milliseconds(1000));
      return em->AfterReload(fw->Users());
    };
  }
  reload::RunOptions ro;
  ro.rolling = o.rolling;
  ro.command_timeout = o.procedure.timeout;
  ro.stop = o.stop;
  ro.origin = mark_time;  // step times count from the reload moment, as the commits' do
  say("stage 4/5 traffic: reloading " + std::to_string(reloads.size()) + " nodes (" + rep.reload +
      ")");
  auto outcomes = reload::RunReloads(reloads, ro);
  // Repeated reloads (ReplayOptions::reloads): the same procedure again, the steps of every
  // round reported.
  for (int round = 1; round < o.reloads; ++round) {
    bool ok = true;
    for (const auto& oc : outcomes) ok = ok && oc.ok && !oc.interrupted;
    if (!ok || !SleepFor(o.reload_interval, o.stop)) break;
    auto more = reload::RunReloads(reloads, ro);
    for (size_t i = 0; i < outcomes.size() && i < more.size(); ++i) {
      for (auto& st : more[i].steps) outcomes[i].steps.push_back(std::move(st));
      if (!more[i].ok || more[i].interrupted) outcomes[i] = std::move(more[i]);
    }
  }
  for (size_t i = 0; i < outcomes.size(); ++i) {
    for (const auto& s : outcomes[i].steps) {
      auto& nr = rep.nodes[i];
      nr.reload_steps.push_back(s.label + " at +" + std::to_string(s.started_at.count()) + " ms (" +
                                std::to_string(s.took.count()) + " ms)");
      NodeReport::StepTiming t;
      t.label = s.label;
      t.start_ms = s.started_at.count();
      t.end_ms = (s.started_at + s.took).count();
      if (s.committed_at) t.commit_ms = s.committed_at->count();
      if (nr.reload_start_ms < 0) nr.reload_start_ms = t.start_ms;
      nr.reload_end_ms = std::max(nr.reload_end_ms, t.end_ms);
      nr.reload_timing.push_back(std::move(t));
    }
  }
  for (const auto& oc : outcomes) {
    if (oc.interrupted || Stopped(o.stop)) return abort_run(stop_error());
  }
  for (const auto& oc : outcomes) {
    if (!oc.ok) return abort_run(Error::Unavailable("reload failed on " + oc.error));
  }

  for (size_t i = 0; i < nodes.size(); ++i) {
    reload::FollowResult f = followers[i]->Finish();
    if (f.followed && !f.divergence.empty()) {
      f.followed = false;
      f.failure = f.divergence;
    }
    RecordFollow(f, rep.nodes[i]);
    rep.nodes[i].emulation_mechanism = emulators[i]->Describe();
  }
  followers.clear();

  milliseconds after = AfterMarkTime(o, static_cast<int>(nodes.size()));
  auto spent = std::chrono::duration_cast<milliseconds>(Clock::now() - mark_time);
  // Whatever the reload took (a command's own pauses, slow process start-up), the connections
  // are watched from its measured end for what the verdict needs (lab health).
  const auto reload_end = Clock::now();
  after = std::max(
      after, spent + WatchAfterReload(o.stall_threshold, LongestInterval(wp), o.watch_margin));
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
    emulators[i]->Release();
    (void)sys::RunInNetns(nodes[i].ns, [&] {
      if (auto rs = sys::DumpRuleset(); rs) {
        for (const auto& t : rs->tables) {
          rep.nodes[i].tables_after.push_back(std::string(nft::FamilyName(t.family)) + " " +
                                              t.name);
        }
      }
    });
  }
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
    if (c.id < conn_ends.size()) {
      JudgeOvershoot(rep.connections.back(), conn_ends[c.id].first, conn_ends[c.id].second,
                     rep.nodes, emulators);
    }
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
