// Gate reports (check/check.h) as the gate produces them, for the renderer tests: a safe change
// that passes, a change removing the established accept (fails at policy and replay), the 2019
// fleet with a flush-then-load reload (fails at reload lint; cause: the reload procedure), an
// unreachable node (undecided), and one full of hostile text from users' files. Replay timelines
// come from a small simulation of the lab workload (3 nodes and a client, 21 connections,
// replay/workload_shape.cpp): bulk replication and client streams, periodic heartbeats and mon
// sessions, bytes counted per 100 ms bucket as the engine counts them, broken connections
// silent from the reload on.
#pragma once

#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "check/check.h"
#include "simulator/replay/verdict.h"

namespace fwgate::testing {

inline constexpr int kWarmupBuckets = 30;  // 3 s before the reload
inline constexpr int kAfterBuckets = 60;   // 6 s after it
inline constexpr int64_t kBucketMs = 100;

// One simulated lab connection.
struct SimConn {
  workload::ConnClass cls;
  int from, to;        // lab node index; 3 = the client
  double fwd_bps = 0;  // bulk: bytes/s from -> to
  uint32_t msg = 0;    // periodic: bytes per message, each way
  int period_ms = 0;
  int phase_ms = 0;
};

inline std::string LabName(int i) { return i == 3 ? "client" : "node" + std::to_string(i + 1); }

// The workload of PlanWorkload(3, 2): 2 bulk replication streams per node, 2 heartbeats (back,
// front) to the next node, 2 client streams per node, mon sessions to node1.
inline std::vector<SimConn> LabWorkload() {
  using workload::ConnClass;
  std::vector<SimConn> v;
  int phase = 17;
  auto next_phase = [&](int mod) { return (phase = (phase * 37 + 11) % 997) % mod; };
  for (int i = 0; i < 3; ++i) {
    for (int k = 0; k < 2; ++k) {
      int peer = (i + 1 + k % 2) % 3;
      v.push_back({ConnClass::kReplication, i, peer, 210e6 + 20e6 * k + 9e6 * i, 0, 0, 0});
    }
    int nxt = (i + 1) % 3;
    v.push_back({ConnClass::kHeartbeat, i, nxt, 0, 64, 200, next_phase(200)});
    v.push_back({ConnClass::kHeartbeat, i, nxt, 0, 64, 200, next_phase(200)});
    for (int k = 0; k < 2; ++k) {
      v.push_back({ConnClass::kClient, 3, i, 95e6 + 7e6 * k, 128, 250, next_phase(250)});
    }
    if (i != 0) v.push_back({ConnClass::kMon, i, 0, 0, 256, 500, next_phase(500)});
  }
  v.push_back({ConnClass::kMon, 3, 0, 0, 256, 500, next_phase(500)});
  return v;
}

inline bool TouchesLab(const SimConn& c, int node) { return c.from == node || c.to == node; }

// How the reload shows in the traffic.
struct SimOptions {
  int dip_buckets = 1;      // survivors run at dip_factor of their rate for this many buckets
  double dip_factor = 0.8;  // (an atomic commit's brief pause)
  int break_after = 0;      // broken connections go silent this many buckets after the mark
                            // (a two-step reload: traffic flows unfiltered during the gap)
};

// A replay of the lab workload across a reload: connections for which `breaks` is true carry
// nothing from `break_after` buckets after the reload on (they stall to the end).
template <typename Breaks>
replay::ReplayReport SimulateReplay(const std::string& current, const std::string& proposed,
                                    const std::string& reload,
                                    const std::vector<replay::NodeReport>& lab_nodes, Breaks breaks,
                                    SimOptions opt = {}) {
  using workload::ConnClass;
  replay::ReplayReport r;
  r.current = current;
  r.proposed = proposed;
  r.reload = reload;
  r.stall_threshold = std::chrono::milliseconds(2000);
  r.warmup = std::chrono::milliseconds(kWarmupBuckets * kBucketMs);
  r.after_mark = std::chrono::milliseconds(kAfterBuckets * kBucketMs);
  r.nodes = lab_nodes;
  const int n = kWarmupBuckets + kAfterBuckets;
  r.timeline.bucket = std::chrono::milliseconds(kBucketMs);
  r.timeline.mark_bucket = kWarmupBuckets;
  std::vector<ConnClass> order = {ConnClass::kReplication, ConnClass::kHeartbeat,
                                  ConnClass::kClient, ConnClass::kMon};
  for (ConnClass c : order) r.timeline.series.push_back({c, std::vector<uint64_t>(n, 0)});
  auto series = [&](ConnClass c) -> std::vector<uint64_t>& {
    for (auto& [cls, v] : r.timeline.series) {
      if (cls == c) return v;
    }
    return r.timeline.series.front().second;
  };
  uint32_t noise = 12345;
  auto jitter = [&] {
    noise = noise * 1103515245u + 12345u;
    return 0.9 + 0.2 * static_cast<double>((noise >> 16) & 0x7fff) / 32767.0;
  };
  size_t id = 0;
  for (const SimConn& c : LabWorkload()) {
    bool broken = breaks(c);
    workload::ConnResult res;
    res.id = id++;
    res.cls = c.cls;
    res.from_node = LabName(c.from);
    res.to_node = LabName(c.to);
    auto& s = series(c.cls);
    for (int b = 0; b < n; ++b) {
      bool after = b >= kWarmupBuckets;
      if (broken && b >= kWarmupBuckets + opt.break_after) continue;
      double factor = after && b < kWarmupBuckets + opt.dip_buckets ? opt.dip_factor : 1.0;
      uint64_t fwd = 0, rev = 0;
      if (c.fwd_bps > 0) {
        fwd = static_cast<uint64_t>(c.fwd_bps * kBucketMs / 1000.0 * factor * jitter());
      }
      if (c.period_ms > 0) {
        // Messages (one each way; client streams: replies only) land in the bucket of their time.
        int64_t t0 = b * kBucketMs, t1 = t0 + kBucketMs;
        for (int64_t t = c.phase_ms; t < t1; t += c.period_ms) {
          if (t < t0) continue;
          rev += c.msg;
          if (c.fwd_bps == 0) fwd += c.msg;
        }
      }
      s[static_cast<size_t>(b)] += fwd + rev;
      (after ? res.fwd_bytes_after : res.fwd_bytes_before) += fwd;
      (after ? res.rev_bytes_after : res.rev_bytes_before) += rev;
    }
    res.max_stall_after_mark =
        std::chrono::milliseconds(broken ? (kAfterBuckets - opt.break_after) * kBucketMs : 40);
    res.retransmits = broken ? 14 : 0;
    r.connections.push_back(replay::JudgeConnection(res, r.stall_threshold));
  }
  replay::Summarize(r);
  return r;
}

inline replay::NodeReport LabNode(const std::string& name, const std::string& kernel,
                                  const std::string& cls, const std::string& emulation,
                                  int be_liberal) {
  replay::NodeReport n;
  n.name = name;
  n.kernel = kernel;
  n.kernel_class = cls;
  n.emulation = emulation;
  n.emulation_reason = emulation == "native"
                           ? "the lab kernel is of this class"
                           : "kernel " + kernel + " is " + cls + " (docs/kernel-conntrack.md §2)";
  n.be_liberal = be_liberal;
  n.conntrack.available = true;
  return n;
}

inline check::StageResult Stage(check::StageId id, Outcome o, std::string summary, int took_ms,
                                std::vector<Finding> findings = {}) {
  check::StageResult s;
  s.id = id;
  s.ran = true;
  s.outcome = o;
  s.summary = std::move(summary);
  s.took = std::chrono::milliseconds(took_ms);
  for (auto& f : findings) f.stage = std::string(check::StageName(id));
  s.findings = std::move(findings);
  return s;
}

inline check::StageResult Skipped(check::StageId id, std::string why) {
  check::StageResult s;
  s.id = id;
  s.ran = false;
  s.skipped_reason = std::move(why);
  return s;
}

inline Finding MakeFinding(std::string id, Severity sev, std::string message, std::string source,
                           std::optional<SourceLocation> where = std::nullopt) {
  Finding f;
  f.id = std::move(id);
  f.severity = sev;
  f.message = std::move(message);
  f.source = std::move(source);
  f.location = std::move(where);
  return f;
}

inline check::NodeRow Node(std::string name, std::string kernel, std::string cls, int be_liberal,
                           std::string lab, Outcome o = Outcome::kPass, std::string note = "") {
  check::NodeRow n;
  n.name = std::move(name);
  n.kernel = std::move(kernel);
  n.kernel_class = std::move(cls);
  n.be_liberal = be_liberal;
  n.lab_node = std::move(lab);
  n.outcome = o;
  n.note = std::move(note);
  return n;
}

// The bundled safe change's plan: the ssh rule's comment reworded, mgr's exporter port added.
inline diff::Plan SafeChangePlan() {
  diff::Plan p;
  diff::Change c1;
  c1.op = diff::Op::kChange;
  c1.object = diff::ObjectKind::kRule;
  c1.table = "storage";
  c1.chain = "input";
  c1.before = "ip saddr @mgmt_nets tcp dport 22 accept comment \"ssh\"";
  c1.after = "ip saddr @mgmt_nets tcp dport 22 accept comment \"ssh from the management network\"";
  c1.text = c1.after;
  c1.handle = 9;
  c1.index_before = 5;
  c1.index_after = 5;
  diff::Change c2;
  c2.op = diff::Op::kAdd;
  c2.object = diff::ObjectKind::kRule;
  c2.table = "storage";
  c2.chain = "input";
  c2.text = "ip saddr @mgmt_nets tcp dport 9283 accept comment \"ceph-mgr prometheus module\"";
  c2.index_after = 9;
  p.changes = {c1, c2};
  p.summary = {1, 0, 1, 0};
  return p;
}

inline std::vector<replay::NodeReport> ModernLab() {
  return {LabNode("node1", "6.1", "refixup", "native", 0),
          LabNode("node2", "6.1", "refixup", "native", 0),
          LabNode("node3", "6.1", "refixup", "native", 0)};
}

inline check::ReplayRun Run(std::string label, std::string what, replay::ReplayReport rep,
                            std::vector<std::pair<std::string, std::vector<std::string>>> sf) {
  check::ReplayRun run;
  run.label = std::move(label);
  run.what = std::move(what);
  run.report = std::move(rep);
  run.stands_for = std::move(sf);
  return run;
}

inline const std::string kProposedSafe = "rulesets/ceph-node-safe-change.nft";
inline const std::string kProposedNoEst = "rulesets/ceph-node-no-established.nft";
inline const std::string kBase = "origin/main:rulesets/ceph-node.nft";

inline check::CheckReport SafeChangeReport() {
  check::CheckReport r;
  r.verdict = Outcome::kPass;
  r.cause = check::Cause::kNone;
  r.proposed = kProposedSafe;
  r.current = kBase;
  r.reload = "atomic (one nft -f transaction)";
  r.fleet_source = "inventory inventories/storage.ini (limit storage)";
  Finding open =
      MakeFinding("port-opened-restricted", Severity::kInfo,
                  "tcp dport 9283 is now accepted in inet storage input, from @mgmt_nets only",
                  "docs/kernel-conntrack.md §5", SourceLocation{kProposedSafe, 55, 3, 55});
  r.stages = {
      Stage(check::StageId::kValidate, Outcome::kPass,
            "both rulesets load (1 table, 3 chains, 12 rules, 4 sets)", 412),
      Stage(check::StageId::kPlan, Outcome::kPass, "1 added, 1 changed", 3),
      Stage(check::StageId::kPolicy, Outcome::kPass, "no rule cuts open connections", 2, {open}),
      Stage(check::StageId::kReloadLint, Outcome::kPass,
            "atomic: one transaction, no gap on any kernel", 1),
      Stage(check::StageId::kFleet, Outcome::kPass, "3 nodes probed, no blocking finding", 1840),
      Stage(check::StageId::kReplay, Outcome::kPass,
            "baseline and proposed: 21 of 21 connections survived", 21304)};
  r.plan = SafeChangePlan();
  r.nodes = {Node("storage-01", "6.1.0-18-amd64", "refixup", 0, "node1"),
             Node("storage-02", "6.1.0-18-amd64", "refixup", 0, "node2"),
             Node("storage-03", "6.1.0-18-amd64", "refixup", 0, "node3")};
  auto none = [](const SimConn&) { return false; };
  std::vector<std::pair<std::string, std::vector<std::string>>> sf = {
      {"node1", {"storage-01"}}, {"node2", {"storage-02"}}, {"node3", {"storage-03"}}};
  r.baseline = Run("baseline", "the reload procedure alone: current -> current, atomic",
                   SimulateReplay(kBase, kBase, "atomic", ModernLab(), none), sf);
  r.proposed_run = Run("proposed", "the change: current -> proposed, atomic",
                       SimulateReplay(kBase, kProposedSafe, "atomic", ModernLab(), none), sf);
  r.took = std::chrono::milliseconds(23581);
  return r;
}

inline check::CheckReport NoEstablishedReport() {
  check::CheckReport r = SafeChangeReport();
  r.verdict = Outcome::kFail;
  r.cause = check::Cause::kChange;
  r.proposed = kProposedNoEst;
  r.reasons = {
      "policy: the established/related accept was removed from inet storage input "
      "(rulesets/ceph-node-no-established.nft:45:2)",
      "replay: 21 of 21 connections broke with the change; the baseline replay survived"};
  Finding lost = MakeFinding(
      "established-accept-lost", Severity::kBlocking,
      "inet storage input (hook input, policy drop) no longer accepts ct state "
      "established,related: packets of connections open at the reload reach the final drop "
      "unless a port rule accepts them, and replies to connections this node opened never do",
      "docs/kernel-conntrack.md §5", SourceLocation{kProposedNoEst, 45, 2, 57});
  lost.related = {{SourceLocation{kBase, 47, 3, 47}, "the removed rule"}};
  lost.fix =
      "put `ct state established,related accept` back as the first rule of inet storage "
      "input";
  lost.fix_config = {kProposedNoEst +
                     ":46: ct state established,related accept comment \"keep open connections\""};
  Finding replies = MakeFinding(
      "replies-reach-final-drop", Severity::kWarning,
      "replies to connections this node opens (OSD to OSD, to MONs) now end at the counted drop",
      "docs/kernel-conntrack.md §5", SourceLocation{kProposedNoEst, 55, 3, 55});
  replies.related = {{SourceLocation{kProposedNoEst, 45, 2, 57}, "the chain without the accept"}};
  Finding broke = MakeFinding(
      "connections-broken", Severity::kBlocking,
      "21 of 21 open connections broke in the lab across the reload to the proposed ruleset "
      "(baseline: 0 of 21): every class stalled from the reload on",
      "docs/kernel-conntrack.md §5");
  broke.fix = "restore the established/related accept (see established-accept-lost)";
  r.stages[1] = Stage(check::StageId::kPlan, Outcome::kPass, "1 removed", 3);
  r.stages[2] = Stage(check::StageId::kPolicy, Outcome::kFail,
                      "the established/related accept was removed", 2, {lost, replies});
  r.stages[5] = Stage(check::StageId::kReplay, Outcome::kFail,
                      "proposed: 21 of 21 connections broke; baseline: 0 of 21", 21977, {broke});
  diff::Change rm;
  rm.op = diff::Op::kRemove;
  rm.object = diff::ObjectKind::kRule;
  rm.table = "storage";
  rm.chain = "input";
  rm.text = "ct state established,related accept comment \"keep open connections\"";
  rm.handle = 4;
  rm.index_before = 0;
  r.plan.changes = {rm};
  r.plan.summary = {0, 1, 0, 0};
  auto all = [](const SimConn&) { return true; };
  r.proposed_run->report = SimulateReplay(kBase, kProposedNoEst, "atomic", ModernLab(), all);
  r.proposed_run->what = "the change: current -> proposed, atomic";
  return r;
}

inline check::CheckReport Fleet2019Report() {
  check::CheckReport r = SafeChangeReport();
  r.verdict = Outcome::kFail;
  r.cause = check::Cause::kReloadProcedure;
  r.reload = "flush-then-load (gap 1000 ms)";
  r.fleet_source = "inventory inventories/2019.ini";
  r.reasons = {
      "reload-lint: flush-then-load is two steps; on storage-04 (4.15, be_liberal=0) connections "
      "break whatever the change",
      "replay: the baseline replay (the reload procedure alone) broke 11 of 21 connections, the "
      "proposed one the same 11"};
  Finding gap = MakeFinding(
      "two-step-stale-gap", Severity::kBlocking,
      "flush-then-load commits twice: on kernel 4.15.0-213-generic with "
      "nf_conntrack_tcp_be_liberal=0 tracking stops while no rule uses conntrack, windows go "
      "stale, and busy connections are dropped as INVALID until their entries expire",
      "docs/kernel-conntrack.md §3.4, §7");
  gap.node = "storage-04";
  gap.fix =
      "reload atomically (one `nft -f` of a file starting with `flush ruleset`), or set "
      "nf_conntrack_tcp_be_liberal=1 on the node";
  gap.fix_commands = {"sysctl -w net.netfilter.nf_conntrack_tcp_be_liberal=1"};
  gap.fix_config = {
      "/etc/sysctl.d/90-conntrack.conf: net.netfilter.nf_conntrack_tcp_be_liberal = 1"};
  Finding open_gap =
      MakeFinding("unfiltered-gap", Severity::kWarning,
                  "between the flush and the load (1000 ms) every node accepts everything",
                  "docs/kernel-conntrack.md §7");
  open_gap.fix = "reload atomically: `nft -f FILE` with `flush ruleset` at the top of FILE";
  Finding strict = MakeFinding(
      "stale-gap-strict", Severity::kBlocking,
      "kernel 4.15.0-213-generic (4.14-4.18) with nf_conntrack_tcp_be_liberal=0: a reload that "
      "flushes and then loads in two steps leaves conntrack windows stale, and busy connections "
      "are dropped as INVALID until their entries expire (the 2019 incident)",
      "docs/kernel-conntrack.md §3.4, §7");
  strict.node = "storage-04";
  strict.fix = gap.fix;
  strict.fix_commands = gap.fix_commands;
  strict.fix_config = gap.fix_config;
  Finding mixed =
      MakeFinding("fleet-mixed-kernel-class", Severity::kWarning,
                  "nodes run kernels of different conntrack classes (continuous: 3, stale-gap: 1)",
                  "docs/kernel-conntrack.md §8");
  mixed.fix = "replay the change with each class (fwgate replay --kernel VERSION)";
  Finding broke = MakeFinding(
      "reload-breaks-connections", Severity::kBlocking,
      "the baseline replay (current -> current, flush-then-load) broke 11 of 21 connections, "
      "all touching node2 (stands for storage-04): the reload procedure breaks them, not the "
      "change",
      "docs/kernel-conntrack.md §3.4");
  broke.fix = gap.fix;
  r.stages[3] = Stage(check::StageId::kReloadLint, Outcome::kFail,
                      "two-step reload on a 4.15 node with be_liberal=0", 1, {gap, open_gap});
  r.stages[4] = Stage(check::StageId::kFleet, Outcome::kFail, "4 nodes probed: 1 blocking finding",
                      2210, {strict, mixed});
  r.stages[5] = Stage(check::StageId::kReplay, Outcome::kFail,
                      "baseline: 11 of 21 broke; proposed: 11 of 21 broke", 24410, {broke});
  r.nodes = {Node("storage-01", "4.4.0-210-generic", "continuous", 0, "node1"),
             Node("storage-02", "4.4.0-210-generic", "continuous", 0, "node1"),
             Node("storage-03", "4.4.0-210-generic", "continuous", 0, "node3"),
             Node("storage-04", "4.15.0-213-generic", "stale-gap", 0, "node2", Outcome::kFail,
                  "two-step reload leaves windows stale")};
  std::vector<replay::NodeReport> lab = {LabNode("node1", "4.4", "continuous", "continuous", 0),
                                         LabNode("node2", "4.15", "stale-gap", "stale-gap", 0),
                                         LabNode("node3", "4.4", "continuous", "continuous", 0)};
  lab[1].reload_steps = {"flush + pin + notrack +0 ms (3 ms)", "load +1000 ms (4 ms)"};
  auto via_node2 = [](const SimConn& c) { return TouchesLab(c, 1); };
  SimOptions two_step{2, 0.7, 10};  // 1000 ms unfiltered, then node2's windows are stale
  std::vector<std::pair<std::string, std::vector<std::string>>> sf = {
      {"node1", {"storage-01", "storage-02"}},
      {"node2", {"storage-04"}},
      {"node3", {"storage-03"}}};
  r.baseline = Run("baseline", "the reload procedure alone: current -> current, flush-then-load",
                   SimulateReplay(kBase, kBase, "flush-then-load", lab, via_node2, two_step), sf);
  r.proposed_run =
      Run("proposed", "the change: current -> proposed, flush-then-load",
          SimulateReplay(kBase, kProposedSafe, "flush-then-load", lab, via_node2, two_step), sf);
  return r;
}

inline check::CheckReport UnreachableReport() {
  check::CheckReport r = SafeChangeReport();
  r.verdict = Outcome::kUndecided;
  r.reasons = {
      "fleet: storage-07 could not be probed: its kernel and conntrack settings are "
      "unknown, so the answer cannot be pass"};
  Finding probe = MakeFinding(
      "probe-failed", Severity::kWarning,
      "node could not be probed: ssh: connect to host storage-07 port 22: Connection timed out",
      "DESIGN.md exit codes");
  probe.undecided = true;
  probe.node = "storage-07";
  probe.fix = "check that `ssh HOST sh -s` works non-interactively (BatchMode) for it";
  r.stages[4] = Stage(check::StageId::kFleet, Outcome::kUndecided,
                      "3 of 4 nodes probed; storage-07 unreachable", 30112, {probe});
  check::NodeRow lost = Node("storage-07", "", "", -1, "", Outcome::kUndecided,
                             "ssh: connect to host storage-07 port 22: Connection timed out");
  lost.reachable = false;
  r.nodes.push_back(lost);
  return r;
}

// Text from users' files at its worst: markup, quotes, control characters, invalid UTF-8, the
// workflow-command and Markdown syntaxes, an XML 1.0 non-character.
inline const std::string kHostile =
    "<script>alert('x')</script> & \"q\" ]]> \x1b[31mred\x1b[0m \xff\xfe bad \x01 nul\x7f "
    "\xc2\x85nel \xef\xbf\xbe 100% done\r\n::error::injected, a:b | cell `tick` *bold* "
    "[link](http://example.invalid) @storage-team #12";

inline check::CheckReport HostileReport() {
  check::CheckReport r = NoEstablishedReport();
  const std::string file = "rulesets/we ird#1 [x].nft";
  r.proposed = file;
  r.reasons.push_back("policy: " + kHostile);
  auto& policy = r.stages[2];
  policy.findings[0].message += " " + kHostile;
  policy.findings[0].location->file = file;
  policy.findings[0].fix = "fix " + kHostile;
  policy.findings[0].fix_commands = {"echo '```' " + kHostile};
  policy.findings[1].location->file = file;
  policy.findings[1].related[0].where.file = file;
  policy.findings[1].related[0].message = kHostile;
  r.plan.changes[0].text = kHostile;
  r.nodes[0].note = kHostile;
  r.nodes[0].outcome = Outcome::kFail;
  r.stages[0].summary = kHostile;
  r.proposed_run->what = kHostile;
  r.fleet_source = kHostile;
  return r;
}

}  // namespace fwgate::testing
