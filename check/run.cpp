#include "check/run.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "gate/diff/diff.h"
#include "gate/hazards/findings.h"
#include "gate/hazards/kernel_class.h"
#include "gate/hazards/policy.h"
#include "gate/hazards/reload_lint.h"
#include "gate/nft/git_files.h"
#include "gate/nft/input_format.h"
#include "gate/nft/live.h"
#include "gate/nft/nft_text.h"
#include "gate/nft/printer.h"
#include "simulator/reload/procedure.h"
#include "simulator/replay/replay.h"
#include "simulator/replay/spec.h"

namespace fwgate::check {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

milliseconds Since(Clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - t);
}

bool Stopped(const std::atomic<bool>* stop) { return stop != nullptr && stop->load(); }

Finding StageFinding(std::string id, Severity sev, std::string message, std::string stage) {
  Finding f;
  f.id = std::move(id);
  f.severity = sev;
  f.message = std::move(message);
  f.stage = std::move(stage);
  return f;
}

// A ruleset that did not load, as findings located at nft's diagnostics.
std::vector<Finding> LoadFindings(const nft::LoadResult& r, const std::string& which) {
  std::vector<Finding> out;
  Severity sev = r.status == nft::LoadStatus::kInvalid ? Severity::kBlocking : Severity::kWarning;
  for (const auto& d : r.diagnostics) {
    Finding f = StageFinding(
        r.status == nft::LoadStatus::kInvalid ? "ruleset-invalid" : "ruleset-not-loadable-here",
        sev, which + " ruleset: " + d.message, "validate");
    if (d.line > 0) f.location = SourceLocation{d.file, d.line, d.column};
    f.undecided = r.status != nft::LoadStatus::kInvalid;
    out.push_back(std::move(f));
    if (out.size() >= 20) break;
  }
  if (out.empty()) {
    Finding f =
        StageFinding("ruleset-not-loadable-here", sev, which + " ruleset: " + r.reason, "validate");
    f.undecided = r.status != nft::LoadStatus::kInvalid;
    out.push_back(std::move(f));
  }
  if (r.status != nft::LoadStatus::kInvalid) {
    for (auto& f : out) f.message += " (" + r.reason + ")";
  }
  return out;
}

Outcome StageOutcome(const std::vector<Finding>& fs) {
  Outcome o = Outcome::kPass;
  for (const auto& f : fs) {
    if (f.undecided) {
      o = Combine(o, Outcome::kUndecided);
    } else if (f.severity == Severity::kBlocking) {
      o = Combine(o, Outcome::kFail);
    }
  }
  return o;
}

std::string Where(const Finding& f) {
  return f.location && f.location->known() ? " (" + f.location->ToString() + ")" : "";
}

// One lab node per distinct (kernel class, be_liberal) of the fleet, at least three.
struct LabGroup {
  std::optional<hazards::KernelVersion> kernel;  // representative; nullopt: the lab's own
  std::optional<int> be_liberal;
  std::vector<std::string> members;  // fleet nodes it stands for
};

std::vector<LabGroup> GroupFleet(const std::vector<NodeRow>& rows,
                                 const std::vector<std::optional<hazards::KernelVersion>>& kv) {
  std::vector<LabGroup> groups;
  std::map<std::pair<std::string, int>, size_t> index;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (!rows[i].reachable) continue;
    std::pair<std::string, int> key{rows[i].kernel_class, rows[i].be_liberal};
    auto [it, fresh] = index.emplace(key, groups.size());
    if (fresh) {
      LabGroup g;
      g.kernel = kv[i];
      if (rows[i].be_liberal >= 0) g.be_liberal = rows[i].be_liberal;
      groups.push_back(g);
    }
    groups[it->second].members.push_back(rows[i].name);
  }
  if (groups.empty()) groups.push_back({});  // the lab's kernel
  // At least three lab nodes (replication and heartbeats need peers): repeat the largest group.
  size_t largest = 0;
  for (size_t i = 0; i < groups.size(); ++i) {
    if (groups[i].members.size() > groups[largest].members.size()) largest = i;
  }
  while (groups.size() < 3) {
    LabGroup copy = groups[largest];
    groups.push_back(copy);
  }
  return groups;
}

std::string Join(const std::vector<std::string>& v, const std::string& sep = ", ") {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

struct Inputs {
  nft::LoadResult proposed, current;
  std::unique_ptr<nft::RulesetFiles> base_files;
  std::string proposed_abs;
};

// Loads the current ruleset as the options name it.
nft::LoadResult LoadCurrent(const CheckOptions& o, Inputs& in, std::vector<Finding>& extra) {
  if (!o.current_file.empty()) return nft::LoadRulesetFile(o.current_file, o.load);
  if (!o.base_rev.empty()) {
    nft::LoadResult bad;
    bad.status = nft::LoadStatus::kInvalid;
    auto top = nft::GitTopLevel(o.proposed);
    if (!top) {
      bad.reason = top.error().ToString();
      return bad;
    }
    auto files = nft::GitRevisionFiles(*top, o.base_rev);
    if (!files) {
      bad.reason = files.error().ToString();
      if (files.error().kind != ErrorKind::kBadInput) bad.status = nft::LoadStatus::kUnsupported;
      return bad;
    }
    in.base_files = std::move(*files);
    char real[PATH_MAX];
    std::string abs =
        ::realpath(o.proposed.c_str(), real) != nullptr ? std::string(real) : in.proposed_abs;
    nft::LoadOptions lo = o.load;
    lo.files = in.base_files.get();
    lo.include_dirs = o.include_dirs;
    if (!in.base_files->Exists(abs)) {
      bad.reason = in.base_files->DisplayName(abs) +
                   ": the proposed file does not exist at that revision (a new file: there is "
                   "no current ruleset to compare with; use --current FILE or --live)";
      nft::Diagnostic d{in.base_files->DisplayName(abs), 0, 0, "Error: " + bad.reason};
      bad.diagnostics.push_back(d);
      return bad;
    }
    nft::LoadResult r = nft::LoadRulesetFile(abs, lo);
    r.display_name = in.base_files->DisplayName(abs);
    (void)extra;
    return r;
  }
  // --live: the live ruleset, printed and loaded like a file (its "source" is that text).
  nft::LoadResult r;
  auto live = nft::ReadLiveRuleset(o.live_netns);
  if (!live) {
    r.status = live.error().kind == ErrorKind::kBadInput ? nft::LoadStatus::kInvalid
                                                         : nft::LoadStatus::kUnsupported;
    r.reason = live.error().ToString();
    return r;
  }
  std::string name = o.live_netns.empty() ? "live ruleset" : "live ruleset of " + o.live_netns;
  std::string text = "flush ruleset\n" + nft::RulesetText(*live);
  r = nft::LoadRulesetText(text, name, o.load);
  return r;
}

}  // namespace

Result<CheckReport> RunCheck(const CheckOptions& o) {
  auto t0 = Clock::now();
  int sources =
      (!o.current_file.empty() ? 1 : 0) + (o.live ? 1 : 0) + (!o.base_rev.empty() ? 1 : 0);
  if (o.proposed.empty()) return Error::BadInput("--proposed FILE is required");
  if (sources != 1) {
    return Error::BadInput(sources == 0 ? "give the current ruleset: --current FILE, --live, or "
                                          "--base GITREV"
                                        : "give only one of --current, --live and --base");
  }
  if (!o.live_netns.empty() && !o.live) return Error::BadInput("--netns only goes with --live");
  if (o.probe_fleet && !o.kernel_spec.empty()) {
    return Error::BadInput(
        "give the fleet either by probing (--inventory/--from) or declared "
        "(--kernel/--be-liberal), not both");
  }
  auto procedure = o.reload == "auto" ? Result<reload::Procedure>(reload::Procedure{})
                                      : reload::ParseProcedure(o.reload);
  if (!procedure) return procedure.error();
  procedure->gap = o.gap;
  procedure->timeout = o.reload_timeout;
  replay::PerNode<hazards::KernelVersion> declared_kernels;
  replay::PerNode<int> declared_liberal;
  constexpr int kMaxDeclared = 64;
  if (!o.kernel_spec.empty()) {
    auto k = replay::ParseKernelSpec(o.kernel_spec, kMaxDeclared);
    if (!k) return k.error();
    declared_kernels = *k;
  }
  if (!o.be_liberal_spec.empty()) {
    auto b = replay::ParseBeLiberalSpec(o.be_liberal_spec, kMaxDeclared);
    if (!b) return b.error();
    declared_liberal = *b;
  }
  auto progress = [&](const std::string& s) {
    if (o.progress) o.progress(s);
  };

  CheckReport rep;
  rep.proposed = o.proposed;
  rep.reload =
      o.reload == "auto" ? "auto (what each node's firewall service does)" : procedure->Describe();
  Inputs in;
  std::error_code ec;
  in.proposed_abs = fs::absolute(o.proposed, ec).lexically_normal().string();

  // --- 1. validate ---
  progress("validate: loading both rulesets through the kernel");
  StageResult validate{StageId::kValidate, true};
  auto t = Clock::now();
  nft::LoadOptions lo = o.load;
  lo.include_dirs = o.include_dirs;
  in.proposed = nft::LoadRulesetFile(o.proposed, lo);
  std::vector<Finding> extra;
  in.current = LoadCurrent(o, in, extra);
  rep.current = !o.current_file.empty() ? o.current_file
                : !o.base_rev.empty()
                    ? (in.current.display_name.empty() ? o.base_rev + ":" + o.proposed
                                                       : in.current.display_name)
                : o.live_netns.empty() ? "live ruleset of this host"
                                       : "live ruleset of netns " + o.live_netns;
  for (auto* r : {&in.proposed, &in.current}) {
    if (r->status == nft::LoadStatus::kOk) continue;
    auto fs = LoadFindings(*r, r == &in.proposed ? "proposed" : "current");
    validate.findings.insert(validate.findings.end(), fs.begin(), fs.end());
  }
  validate.outcome = Combine(nft::OutcomeOf(in.proposed.status), nft::OutcomeOf(in.current.status));
  validate.summary =
      validate.outcome == Outcome::kPass
          ? "both rulesets load (" + std::to_string(in.proposed.ruleset.RuleCount()) +
                " rules proposed, " + std::to_string(in.current.ruleset.RuleCount()) + " current)"
          : "a ruleset does not load";
  validate.took = Since(t);
  rep.stages.push_back(validate);
  const bool loaded = validate.outcome == Outcome::kPass;
  auto skip = [&](StageId id, const std::string& why) {
    StageResult s{id, false, why};
    s.outcome = Outcome::kPass;
    rep.stages.push_back(s);
  };

  // --- fleet facts (gathered here; reported as stage 5) ---
  std::vector<probe::NodeFacts> facts;
  StageResult fleet{StageId::kFleet, true};
  t = Clock::now();
  if (o.probe_fleet) {
    progress("fleet: probing nodes");
    auto gathered = probe::GatherFleet(o.fleet);
    if (!gathered) return gathered.error();
    facts = std::move(gathered).value();
    rep.fleet_source = !o.fleet.inventory.empty()
                           ? "inventory " + o.fleet.inventory +
                                 (o.fleet.limit.empty() ? "" : " (limit " + o.fleet.limit + ")")
                           : "probe files in " + o.fleet.from;
  } else if (!o.kernel_spec.empty() || !o.be_liberal_spec.empty()) {
    rep.fleet_source = "declared (--kernel " + (o.kernel_spec.empty() ? "lab" : o.kernel_spec) +
                       ", --be-liberal " +
                       (o.be_liberal_spec.empty() ? "default" : o.be_liberal_spec) + ")";
  } else {
    rep.fleet_source = "none given: the lab's own kernel";
  }
  milliseconds probe_took = Since(t);

  // Node rows: probed, or declared (named nodes, or one group for a global value).
  std::vector<std::optional<hazards::KernelVersion>> kernels;
  for (const auto& n : facts) {
    NodeRow row;
    row.name = n.name;
    row.reachable = n.reachable;
    row.kernel = n.kernel;
    auto v = hazards::ParseKernelVersion(n.kernel);
    kernels.push_back(v ? std::optional(*v) : std::nullopt);
    if (v) row.kernel_class = std::string(hazards::Classify(*v).name);
    if (auto b = n.Sysctl("nf_conntrack_tcp_be_liberal")) row.be_liberal = *b != 0;
    rep.nodes.push_back(row);
  }
  if (facts.empty() && (!o.kernel_spec.empty() || !o.be_liberal_spec.empty())) {
    std::set<std::string> names;
    for (const auto& [k, v] : declared_kernels.named) names.insert(k);
    for (const auto& [k, v] : declared_liberal.named) names.insert(k);
    std::vector<std::string> ordered(names.begin(), names.end());
    if (ordered.empty()) ordered.push_back("all nodes");
    for (const auto& name : ordered) {
      NodeRow row;
      row.name = name;
      auto k = name == "all nodes" ? declared_kernels.all : declared_kernels.For(name);
      auto b = name == "all nodes" ? declared_liberal.all : declared_liberal.For(name);
      kernels.push_back(k);
      if (k) {
        row.kernel = k->release.empty() ? k->ToString() : k->release;
        row.kernel_class = std::string(hazards::Classify(*k).name);
      }
      if (b) row.be_liberal = *b;
      rep.nodes.push_back(row);
    }
  }

  // --- 2. plan ---
  if (loaded) {
    t = Clock::now();
    StageResult plan{StageId::kPlan, true};
    rep.plan = diff::DiffRulesets(in.current.ruleset, in.proposed.ruleset);
    traffic::TrafficOptions to;
    if (!o.live) {
      to.current_sources = &in.current.sources;
      to.current_interfaces = in.current.ruleset.interfaces;
    }
    to.proposed_sources = &in.proposed.sources;
    to.proposed_interfaces = in.proposed.ruleset.interfaces;
    rep.traffic = traffic::CompareTraffic(in.current.ruleset, in.proposed.ruleset, rep.plan, to);
    const auto& s = rep.plan.summary;
    plan.summary = rep.plan.empty()
                       ? "no changes"
                       : std::to_string(s.add) + " to add, " + std::to_string(s.remove) +
                             " to remove, " + std::to_string(s.change) + " to change, " +
                             std::to_string(s.move) + " to move";
    plan.took = Since(t);
    rep.stages.push_back(plan);
  } else {
    skip(StageId::kPlan, "a ruleset did not load");
  }

  // --- 3. policy ---
  if (loaded) {
    progress("policy: judging the change");
    t = Clock::now();
    StageResult policy{StageId::kPolicy, true};
    hazards::PolicyInput pi;
    pi.current = &in.current.ruleset;
    pi.current_sources = &in.current.sources;
    pi.proposed = &in.proposed.ruleset;
    pi.proposed_sources = &in.proposed.sources;
    pi.plan = &rep.plan;
    if (rep.traffic) pi.traffic = &*rep.traffic;
    pi.proposed_flushes_ruleset =
        in.proposed.flat && nft::FlushesRuleset(in.proposed.flat->text, in.proposed.format);
    pi.proposed_replaces_own_tables = in.proposed.format == sys::RulesetFormat::kIptables ||
                                      in.proposed.format == sys::RulesetFormat::kIp6tables;
    pi.proposed_file = o.proposed;
    if (o.live)
      pi.live.push_back({o.live_netns.empty() ? "this host" : o.live_netns, in.current.ruleset});
    size_t loaded_live = 0;
    for (const auto& n : facts) {
      if (n.ruleset) {
        pi.live.push_back({n.name, *n.ruleset});
      } else if (!n.ruleset_text.empty() && loaded_live < 32) {
        ++loaded_live;
        nft::LoadOptions quiet = o.load;
        quiet.locate = false;
        auto r = nft::LoadRulesetText("flush ruleset\n" + n.ruleset_text, n.name, quiet);
        if (r.status == nft::LoadStatus::kOk) pi.live.push_back({n.name, r.ruleset});
      }
    }
    policy.findings = hazards::JudgeChange(pi);
    policy.outcome = StageOutcome(policy.findings);
    policy.summary =
        policy.outcome == Outcome::kPass
            ? (policy.findings.size() == 1 && policy.findings[0].id == "harmless-change"
                   ? "harmless: " + policy.findings[0].message
                   : "no blocking finding")
            : "the change cuts open connections or opens the node";
    policy.took = Since(t);
    rep.stages.push_back(policy);
  } else {
    skip(StageId::kPolicy, "a ruleset did not load");
  }

  // --- 4. reload lint ---
  std::optional<reload::Procedure> lab_procedure = *procedure;
  {
    t = Clock::now();
    StageResult lint{StageId::kReloadLint, true};
    std::vector<hazards::LintNode> lint_nodes;
    auto kind_of = [&](const reload::Procedure& p) {
      switch (p.style) {
        case reload::Style::kAtomic:
          return hazards::ReloadKind::kAtomic;
        case reload::Style::kFlushThenLoad:
          return hazards::ReloadKind::kTwoStep;
        case reload::Style::kCommand:
          return hazards::KindOfCommand(p.argv);
      }
      return hazards::ReloadKind::kUnknown;
    };
    auto add_node = [&](const std::string& name, const std::optional<hazards::KernelVersion>& k,
                        std::optional<int> bl, const probe::NodeFacts* f) {
      hazards::LintNode ln;
      ln.name = name;
      if (k) {
        ln.kernel_class = hazards::Classify(*k).cls;
        ln.kernel = k->release.empty() ? k->ToString() : k->release;
      }
      ln.be_liberal = bl;
      if (o.reload == "auto") {
        ln.reload = hazards::ReloadKind::kUnknown;
        if (f != nullptr) {
          for (const auto& s : f->services) {
            if (s.style == "atomic") ln.reload = hazards::ReloadKind::kAtomic;
            if (s.style == "two-step" || s.style == "unloads-modules") {
              ln.reload = hazards::ReloadKind::kTwoStep;
            }
            if (ln.reload != hazards::ReloadKind::kUnknown) {
              ln.reload_text = s.name + " reload (" + s.reload + ")";
              break;
            }
          }
        }
      } else {
        ln.reload = kind_of(*procedure);
        ln.reload_text = procedure->Describe();
      }
      lint_nodes.push_back(ln);
    };
    if (!facts.empty()) {
      for (size_t i = 0; i < facts.size(); ++i) {
        if (!facts[i].reachable) continue;
        std::optional<int> bl;
        if (auto b = facts[i].Sysctl("nf_conntrack_tcp_be_liberal")) bl = *b != 0;
        add_node(facts[i].name, kernels[i], bl, &facts[i]);
      }
    } else if (!rep.nodes.empty()) {
      for (size_t i = 0; i < rep.nodes.size(); ++i) {
        std::optional<int> bl;
        if (rep.nodes[i].be_liberal >= 0) bl = rep.nodes[i].be_liberal;
        add_node(rep.nodes[i].name, kernels[i], bl.value_or(0), nullptr);
      }
    } else {
      auto lab = hazards::RunningKernel();
      add_node("lab kernel", lab ? std::optional(*lab) : std::nullopt, 0, nullptr);
    }
    lint.findings = hazards::LintReload(lint_nodes);
    for (auto& f : lint.findings) {
      for (auto& row : rep.nodes) {
        if (row.name == f.node && f.severity == Severity::kBlocking) {
          row.outcome = Combine(row.outcome, Outcome::kFail);
          row.note = "reload: " + f.id;
        }
      }
    }
    lint.outcome = StageOutcome(lint.findings);
    lint.summary = lint.outcome == Outcome::kFail
                       ? "the reload procedure breaks busy connections on some nodes"
                   : lint.outcome == Outcome::kUndecided ? "how some nodes reload is not known"
                                                         : "the reload procedure is safe on "
                                                           "these kernels";
    lint.took = Since(t);
    rep.stages.push_back(lint);
  }

  // --- 5. fleet ---
  {
    t = Clock::now();
    std::vector<std::vector<Finding>> per_node;
    for (size_t i = 0; i < facts.size(); ++i) {
      auto fs = hazards::JudgeNode(facts[i]);
      for (auto& f : fs) {
        f.node = facts[i].name;
        f.stage = "fleet";
        if (f.undecided) {
          rep.nodes[i].outcome = Combine(rep.nodes[i].outcome, Outcome::kUndecided);
        } else if (f.severity == Severity::kBlocking) {
          rep.nodes[i].outcome = Combine(rep.nodes[i].outcome, Outcome::kFail);
          if (rep.nodes[i].note.empty()) rep.nodes[i].note = f.id;
        }
      }
      if (!facts[i].reachable) rep.nodes[i].note = "unreachable: " + facts[i].error;
      per_node.push_back(fs);
      fleet.findings.insert(fleet.findings.end(), fs.begin(), fs.end());
    }
    auto fleet_wide = hazards::JudgeFleet(facts);
    for (auto& f : fleet_wide) f.stage = "fleet";
    fleet.findings.insert(fleet.findings.end(), fleet_wide.begin(), fleet_wide.end());
    if (facts.empty()) {
      fleet.summary = rep.nodes.empty() ? "no fleet given: the lab's own kernel stands for it"
                                        : "declared kernels: " + std::to_string(rep.nodes.size()) +
                                              " node(s) or group(s)";
      fleet.outcome = Outcome::kPass;
    } else {
      fleet.outcome = hazards::ProbeOutcome(per_node, fleet_wide);
      size_t down = std::count_if(facts.begin(), facts.end(),
                                  [](const probe::NodeFacts& n) { return !n.reachable; });
      fleet.summary = std::to_string(facts.size()) + " node(s) probed" +
                      (down > 0 ? ", " + std::to_string(down) + " unreachable" : "");
    }
    fleet.took = probe_took + Since(t);
    // Keep the stage order: fleet after reload lint.
    rep.stages.push_back(fleet);
  }

  // --- 6. replay ---
  if (!loaded) {
    skip(StageId::kReplay, "a ruleset did not load");
  } else if (!o.lab) {
    skip(StageId::kReplay, "--no-lab");
  } else if (o.reload == "auto") {
    skip(StageId::kReplay, "--reload auto: the lab replays one named procedure; give --reload");
  } else {
    t = Clock::now();
    StageResult rs{StageId::kReplay, true};
    std::vector<LabGroup> groups = GroupFleet(rep.nodes, kernels);
    replay::ReplayOptions ro;
    ro.procedure = *lab_procedure;
    ro.topology.nodes = static_cast<int>(groups.size());
    ro.connections_per_node = o.connections_per_node;
    ro.stall_threshold = o.stall_threshold;
    ro.stop = o.stop;
    ro.proposed_path = in.proposed_abs;
    std::vector<std::pair<std::string, std::vector<std::string>>> stands_for;
    for (size_t g = 0; g < groups.size(); ++g) {
      std::string lab_node = "node" + std::to_string(g + 1);
      if (groups[g].kernel) ro.kernels.named[lab_node] = *groups[g].kernel;
      ro.be_liberal.named[lab_node] = groups[g].be_liberal.value_or(0);
      stands_for.push_back({lab_node, groups[g].members});
      for (auto& row : rep.nodes) {
        if (row.lab_node.empty() && std::find(groups[g].members.begin(), groups[g].members.end(),
                                              row.name) != groups[g].members.end()) {
          row.lab_node = lab_node;
        }
      }
    }
    auto run = [&](const char* label, const nft::LoadResult& proposed,
                   const std::string& what) -> std::optional<ReplayRun> {
      if (Stopped(o.stop)) return std::nullopt;
      progress(std::string("replay: ") + label + " (" + what + ")");
      ro.current = &in.current;
      ro.proposed = &proposed;
      bool interrupted = false;
      auto r = replay::RunReplay(ro, &interrupted);
      ReplayRun out;
      out.label = label;
      out.what = what;
      out.stands_for = stands_for;
      if (!r) {
        out.report.verdict = replay::Verdict::kUnknown;
        out.report.reason = r.error().ToString();
        return out;
      }
      out.report = std::move(*r);
      return out;
    };
    rep.baseline = run("baseline", in.current,
                       "the reload procedure alone: current -> current, " + procedure->Describe());
    rep.proposed_run =
        run("proposed", in.proposed, "the change: current -> proposed, " + procedure->Describe());
    auto verdict_of = [](const std::optional<ReplayRun>& r) {
      return r ? r->report.verdict : replay::Verdict::kUnknown;
    };
    replay::Verdict base_v = verdict_of(rep.baseline), prop_v = verdict_of(rep.proposed_run);
    // "13 of 21 connections broke, every one touching node1 (stands for n7; INVALID 15 023)".
    auto broken_summary = [](const ReplayRun& r) {
      int broken = 0, total = 0;
      for (const auto& c : r.report.connections) {
        ++total;
        if (c.broken) ++broken;
      }
      std::string s =
          std::to_string(broken) + " of " + std::to_string(total) + " connections broke";
      std::vector<std::string> culprits;
      for (const auto& n : r.report.nodes) {
        if (broken == 0 || n.conns_broken != broken) continue;
        std::string who = n.name;
        for (const auto& [lab, members] : r.stands_for) {
          if (lab == n.name && !members.empty()) who += " (stands for " + Join(members) + ")";
        }
        if (n.conntrack.available && n.conntrack.invalid > 0) {
          who += ", " + std::to_string(n.conntrack.invalid) + " packets INVALID there";
        }
        culprits.push_back(who);
      }
      if (culprits.size() == 1) s += ", every one touching " + culprits[0];
      return s;
    };
    if (prop_v == replay::Verdict::kBroken) {
      Finding f =
          StageFinding(base_v == replay::Verdict::kBroken ? "replay-broken-by-reload"
                                                          : "replay-broken-by-change",
                       Severity::kBlocking,
                       "lab replay of the change: " + broken_summary(*rep.proposed_run), "replay");
      f.source = "docs/kernel-conntrack.md §7";
      rs.findings.push_back(f);
    }
    if (base_v == replay::Verdict::kBroken) {
      Finding f =
          StageFinding("replay-reload-procedure-breaks", Severity::kBlocking,
                       "lab replay of the reload procedure alone (current -> current): " +
                           broken_summary(*rep.baseline) +
                           ": the way production reloads breaks connections whatever the change",
                       "replay");
      f.source = "docs/kernel-conntrack.md §7";
      f.fix = "reload atomically, or set nf_conntrack_tcp_be_liberal=1 on the affected nodes";
      rs.findings.push_back(f);
    }
    for (const auto* r : {&rep.baseline, &rep.proposed_run}) {
      if (*r && (*r)->report.verdict == replay::Verdict::kUnknown) {
        const bool overloaded = (*r)->report.lab_health.overloaded;
        Finding f = StageFinding(
            overloaded ? "replay-lab-overloaded" : "replay-undecided", Severity::kWarning,
            "lab replay (" + (*r)->label + ") could not decide: " + (*r)->report.reason, "replay");
        if (overloaded) f.fix = "reduce --connections-per-node or raise --stall-threshold";
        f.undecided = true;
        rs.findings.push_back(f);
      }
    }
    rs.outcome = StageOutcome(rs.findings);
    rs.summary = "baseline " + std::string(replay::VerdictName(base_v)) + ", proposed " +
                 std::string(replay::VerdictName(prop_v)) + " (" + std::to_string(groups.size()) +
                 " lab nodes)";
    rs.took = Since(t);
    rep.stages.push_back(rs);
  }

  // Keep the documented order whatever was skipped.
  std::stable_sort(rep.stages.begin(), rep.stages.end(),
                   [](const StageResult& a, const StageResult& b) { return a.id < b.id; });

  // --- verdict, reasons, cause ---
  rep.verdict = Outcome::kPass;
  for (const auto& s : rep.stages) rep.verdict = Combine(rep.verdict, s.outcome);
  for (const auto& s : rep.stages) {
    for (const auto& f : s.findings) {
      if (!f.undecided && f.severity == Severity::kBlocking) {
        rep.reasons.push_back(std::string(StageName(s.id)) + ": " + f.message + Where(f));
      }
    }
  }
  for (const auto& s : rep.stages) {
    for (const auto& f : s.findings) {
      if (f.undecided) {
        rep.reasons.push_back(std::string(StageName(s.id)) + ": could not decide: " + f.message +
                              Where(f));
      }
    }
  }
  auto stage_fails = [&](StageId id) {
    const StageResult* s = rep.Stage(id);
    return s != nullptr && s->outcome == Outcome::kFail;
  };
  bool base_broken = rep.baseline && rep.baseline->report.verdict == replay::Verdict::kBroken;
  bool prop_broken =
      rep.proposed_run && rep.proposed_run->report.verdict == replay::Verdict::kBroken;
  bool by_change = stage_fails(StageId::kPolicy) || (prop_broken && !base_broken);
  bool by_procedure = stage_fails(StageId::kReloadLint) || base_broken;
  rep.cause = by_change && by_procedure ? Cause::kBoth
              : by_change               ? Cause::kChange
              : by_procedure            ? Cause::kReloadProcedure
                                        : Cause::kNone;
  if (rep.cause == Cause::kReloadProcedure) {
    rep.reasons.insert(rep.reasons.begin(),
                       base_broken
                           ? "the reload procedure, not the change, breaks connections: the same "
                             "reload of the current ruleset onto itself breaks them too"
                           : "the reload procedure, not the change, breaks connections on these "
                             "kernels (reload lint)");
  }
  rep.took = Since(t0);
  return rep;
}

}  // namespace fwgate::check
