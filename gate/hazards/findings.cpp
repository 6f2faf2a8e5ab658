#include "gate/hazards/findings.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "base/outcome.h"
#include "gate/hazards/kernel_class.h"

namespace fwgate::hazards {
namespace {

using probe::NodeFacts;
using Check = std::optional<std::string> (*)(const NodeFacts&, const FindingsConfig&);

struct Row {
  FindingRule rule;
  Check check;  // message when the rule fires
};

std::optional<KernelClassInfo> ClassOf(const NodeFacts& n) {
  auto v = ParseKernelVersion(n.kernel);
  if (!v) return std::nullopt;
  return Classify(*v);
}

std::string Pct(double f) { return std::to_string(static_cast<int>(std::lround(f * 100))) + " %"; }

std::optional<double> Fill(const NodeFacts& n) {
  auto c = ConntrackCount(n);
  auto m = ConntrackMax(n);
  if (!c || !m || *m == 0) return std::nullopt;
  return static_cast<double>(*c) / static_cast<double>(*m);
}

uint64_t Counter(const NodeFacts& n, const char* name) {
  if (!n.stats) return 0;
  auto it = n.stats->counters.find(name);
  return it == n.stats->counters.end() ? 0 : it->second;
}

bool AnyCtUser(const NodeFacts& n) {
  return n.backends.nft_ct_users.Any() || n.backends.legacy_ct_users.Any();
}

// The rule table. Order: most severe first within a topic; JudgeNode sorts by severity anyway.
const std::vector<Row>& Rows() {
  static const std::vector<Row> k = {
      {{"probe-failed", Severity::kBlocking, "DESIGN.md exit codes", true,
        "the node could not be probed: nothing about it is known"},
       [](const NodeFacts& n, const FindingsConfig&) -> std::optional<std::string> {
         if (n.reachable) return std::nullopt;
         return "node could not be probed: " +
                (n.error.empty() ? std::string("unknown error") : n.error);
       }},
      {{"kernel-unknown", Severity::kBlocking, "docs/kernel-conntrack.md §1, §7", true,
        "the kernel release could not be read, so the kernel class is unknown"},
       [](const NodeFacts& n, const FindingsConfig&) -> std::optional<std::string> {
         if (!n.reachable || ClassOf(n)) return std::nullopt;
         return "kernel release '" + n.kernel.substr(0, 64) + "' unreadable: kernel class unknown";
       }},
      {{"stale-gap-strict", Severity::kBlocking, "docs/kernel-conntrack.md §3.4, §7", false,
        "4.14-4.18 kernel with nf_conntrack_tcp_be_liberal=0: a two-step reload breaks busy "
        "connections"},
       [](const NodeFacts& n, const FindingsConfig&) -> std::optional<std::string> {
         auto c = ClassOf(n);
         auto bl = n.Sysctl("nf_conntrack_tcp_be_liberal");
         if (!c || c->cls != KernelClass::kStaleGap || !bl || *bl != 0) return std::nullopt;
         return "kernel " + n.kernel +
                " (4.14-4.18) with nf_conntrack_tcp_be_liberal=0: a reload "
                "that flushes and then loads in two steps leaves conntrack windows stale and busy "
                "connections are dropped as INVALID until their entries expire (the 2019 "
                "incident). Set net.netfilter.nf_conntrack_tcp_be_liberal=1 or reload atomically "
                "(one nft -f with flush ruleset)";
       }},
      {{"stale-gap-be-liberal-unknown", Severity::kBlocking,
        "docs/kernel-conntrack.md §3.4, §5 item 2", true,
        "4.14-4.18 kernel whose be_liberal could not be read"},
       [](const NodeFacts& n, const FindingsConfig&) -> std::optional<std::string> {
         auto c = ClassOf(n);
         if (!c || c->cls != KernelClass::kStaleGap || n.Sysctl("nf_conntrack_tcp_be_liberal"))
           return std::nullopt;
         return "kernel " + n.kernel +
                " is in the 4.14-4.18 range but nf_conntrack_tcp_be_liberal "
                "could not be read: cannot tell whether a two-step reload breaks connections";
       }},
      {{"conntrack-headroom-critical", Severity::kBlocking, "docs/kernel-conntrack.md §4.3", false,
        "conntrack table at or above the blocking fill level"},
       [](const NodeFacts& n, const FindingsConfig& cfg) -> std::optional<std::string> {
         auto f = Fill(n);
         if (!f || *f < cfg.headroom_block) return std::nullopt;
         return "conntrack table " + Pct(*f) + " full (" + std::to_string(*ConntrackCount(n)) +
                "/" + std::to_string(*ConntrackMax(n)) +
                "): new flows and pickups after a flush are "
                "dropped once it is full";
       }},
      {{"restart-storm-overflow", Severity::kBlocking, "docs/kernel-conntrack.md §4.4, §8", false,
        "restarting all daemons at once would overflow the conntrack table"},
       [](const NodeFacts& n, const FindingsConfig& cfg) -> std::optional<std::string> {
         auto e = EstimateRestartStorm(n, cfg);
         if (!e || e->needed < e->max) return std::nullopt;
         return "restarting " + std::to_string(cfg.storm_daemons) + " daemons at once needs ~" +
                std::to_string(e->needed) + " conntrack entries (" +
                std::to_string(e->established) + " now + " +
                std::to_string(static_cast<long long>(e->attempts_per_s)) + " attempts/s x " +
                std::to_string(e->linger_s) + " s) > nf_conntrack_max " + std::to_string(e->max) +
                " (the 2014 incident): stagger restarts or raise the limit";
       }},
      {{"conntrack-headroom", Severity::kWarning, "docs/kernel-conntrack.md §4.3", false,
        "conntrack table at or above the warning fill level"},
       [](const NodeFacts& n, const FindingsConfig& cfg) -> std::optional<std::string> {
         auto f = Fill(n);
         if (!f || *f < cfg.headroom_warn || *f >= cfg.headroom_block) return std::nullopt;
         return "conntrack table " + Pct(*f) + " full (" + std::to_string(*ConntrackCount(n)) +
                "/" + std::to_string(*ConntrackMax(n)) + ")";
       }},
      {{"restart-storm-tight", Severity::kWarning, "docs/kernel-conntrack.md §4.4", false,
        "restarting all daemons at once would bring the table near its limit"},
       [](const NodeFacts& n, const FindingsConfig& cfg) -> std::optional<std::string> {
         auto e = EstimateRestartStorm(n, cfg);
         if (!e || e->needed >= e->max ||
             static_cast<double>(e->needed) < cfg.headroom_warn * static_cast<double>(e->max))
           return std::nullopt;
         return "restarting " + std::to_string(cfg.storm_daemons) + " daemons at once needs ~" +
                std::to_string(e->needed) + " of " + std::to_string(e->max) + " conntrack entries";
       }},
      {{"conntrack-sysctls-unreadable", Severity::kWarning,
        "docs/kernel-conntrack.md §5 item 2, §4.2", false,
        "conntrack sysctls missing: conntrack not loaded, or hidden (5.1-5.6 unprivileged netns)"},
       [](const NodeFacts& n, const FindingsConfig&) -> std::optional<std::string> {
         if (!n.reachable || n.sysctls_readable) return std::nullopt;
         return "conntrack sysctls not readable: nf_conntrack is not loaded here (a first ct rule "
                "would start tracking and pick up every open flow as NEW, "
                "docs/kernel-conntrack.md §6) or they are "
                "hidden in an unprivileged user namespace (5.1-5.6)";
       }},
      {{"keepalive-gap", Severity::kWarning, "docs/kernel-conntrack.md §1, §3.5", false,
        "4.19.0-4.19.152 / 5.0-5.9: idle keepalive-only connections can die after a two-step "
        "reload"},
       [](const NodeFacts& n, const FindingsConfig&) -> std::optional<std::string> {
         auto c = ClassOf(n);
         if (!c || !c->keepalive_gap || n.Sysctl("nf_conntrack_tcp_be_liberal").value_or(0) == 1)
           return std::nullopt;
         return "kernel " + n.kernel +
                " lacks 4f25434bccc2 (in 5.10, 4.19.153): idle connections "
                "whose first packet after a two-step reload is a keepalive can be dropped";
       }},
      {{"tcp-loose-off", Severity::kWarning, "docs/kernel-conntrack.md §3.2, §7 note a", false,
        "nf_conntrack_tcp_loose=0: flows whose entry is gone are not picked up again"},
       [](const NodeFacts& n, const FindingsConfig&) -> std::optional<std::string> {
         if (n.Sysctl("nf_conntrack_tcp_loose").value_or(1) != 0) return std::nullopt;
         return "nf_conntrack_tcp_loose=0: after a table flush or module unload every open "
                "connection is INVALID instead of being picked up";
       }},
      {{"conntrack-drops-seen", Severity::kWarning, "docs/kernel-conntrack.md §4.3, §5 item 7",
        false, "conntrack has dropped or refused entries since boot"},
       [](const NodeFacts& n, const FindingsConfig&) -> std::optional<std::string> {
         uint64_t d = Counter(n, "drop"), e = Counter(n, "early_drop"),
                  i = Counter(n, "insert_failed"), c = Counter(n, "chaintoolong");
         if (d + e + i + c == 0) return std::nullopt;
         return "conntrack statistics show drop=" + std::to_string(d) +
                " early_drop=" + std::to_string(e) + " insert_failed=" + std::to_string(i) +
                " chaintoolong=" + std::to_string(c) +
                ": the table has been full or its chains too long";
       }},
      {{"module-unload-on-restart", Severity::kWarning, "docs/kernel-conntrack.md §6", false,
        "a service restart unloads nf_conntrack, destroying the table"},
       [](const NodeFacts& n, const FindingsConfig&) -> std::optional<std::string> {
         if (n.conntrack_module != probe::ModuleState::kLoadable) return std::nullopt;
         for (const auto& s : n.services) {
           if (s.style == "unloads-modules" && n.iptables_modules_unload.value_or(true)) {
             return "service " + s.name +
                    " restarts with IPTABLES_MODULES_UNLOAD=yes and "
                    "nf_conntrack is a module: a restart destroys every conntrack entry (NAT flows "
                    "break; others survive only if the rules accept their NEW pickup)";
           }
         }
         return std::nullopt;
       }},
      {{"backends-unreadable", Severity::kWarning, "docs/kernel-conntrack.md §5 item 3", false,
        "the firewall rules could not be listed: which rules use conntrack is unknown"},
       [](const NodeFacts& n, const FindingsConfig&) -> std::optional<std::string> {
         if (!n.reachable || n.backends.notes.empty()) return std::nullopt;
         std::string m;
         for (const auto& s : n.backends.notes) m += (m.empty() ? "" : "; ") + s;
         return "firewall rules partly unreadable: " + m;
       }},
      {{"conntrack-loadable", Severity::kInfo, "docs/kernel-conntrack.md §5 item 5, §6", false,
        "nf_conntrack is a loadable module: unloading it flushes the table"},
       [](const NodeFacts& n, const FindingsConfig&) -> std::optional<std::string> {
         if (n.conntrack_module != probe::ModuleState::kLoadable) return std::nullopt;
         return "nf_conntrack is a loadable module: anything that unloads it flushes the table";
       }},
      {{"stale-gap-liberal", Severity::kInfo, "docs/kernel-conntrack.md §3.3, §7", false,
        "4.14-4.18 kernel protected by be_liberal=1"},
       [](const NodeFacts& n, const FindingsConfig&) -> std::optional<std::string> {
         auto c = ClassOf(n);
         if (!c || c->cls != KernelClass::kStaleGap ||
             n.Sysctl("nf_conntrack_tcp_be_liberal").value_or(0) != 1)
           return std::nullopt;
         return "kernel " + n.kernel +
                " (4.14-4.18) survives a two-step reload only because "
                "nf_conntrack_tcp_be_liberal=1 (sequence checks are off)";
       }},
      {{"enable-hooks", Severity::kInfo, "docs/kernel-conntrack.md §2.1", false,
        "nf_conntrack.enable_hooks=1: tracking never stops"},
       [](const NodeFacts& n, const FindingsConfig&) -> std::optional<std::string> {
         if (!n.enable_hooks.value_or(false)) return std::nullopt;
         return "nf_conntrack enable_hooks=1 (" + n.enable_hooks_source +
                "): conntrack tracks even while no rule uses it";
       }},
      {{"no-ct-users", Severity::kInfo, "docs/kernel-conntrack.md §2.1, §6", false,
        "no rule uses conntrack: tracking is off and a first ct rule picks flows up as NEW"},
       [](const NodeFacts& n, const FindingsConfig&) -> std::optional<std::string> {
         auto c = ClassOf(n);
         if (!n.reachable || !c || c->cls == KernelClass::kContinuous || !n.backends.nft_readable ||
             !n.backends.legacy_readable || AnyCtUser(n) || n.enable_hooks.value_or(false))
           return std::nullopt;
         return "no rule uses conntrack, so it is not tracking (4.14+): a ruleset that adds "
                "`ct state` rules will see every open connection as NEW on its first packet";
       }},
      {{"legacy-ct-users", Severity::kInfo, "docs/kernel-conntrack.md §2.3", false,
        "iptables-legacy rules use conntrack and keep the hooks registered across nft reloads"},
       [](const NodeFacts& n, const FindingsConfig&) -> std::optional<std::string> {
         if (!n.backends.legacy_ct_users.Any()) return std::nullopt;
         return "iptables-legacy rules use conntrack: they keep its hooks registered while the "
                "nftables ruleset is flushed (a two-step nft reload then behaves like an atomic "
                "one)";
       }},
      {{"two-step-service", Severity::kInfo, "docs/kernel-conntrack.md §7 note b, §8", false,
        "a firewall service reloads in two steps: the host is unfiltered in between"},
       [](const NodeFacts& n, const FindingsConfig&) -> std::optional<std::string> {
         for (const auto& s : n.services) {
           if (s.style == "two-step") {
             return "service " + s.name + " applies rules in two steps (" + s.source +
                    "): the host is unfiltered during the gap";
           }
         }
         return std::nullopt;
       }},
      {{"log-invalid-off", Severity::kInfo, "docs/kernel-conntrack.md §5", false,
        "nf_conntrack_log_invalid=0: INVALID drops leave no log line"},
       [](const NodeFacts& n, const FindingsConfig&) -> std::optional<std::string> {
         if (n.Sysctl("nf_conntrack_log_invalid").value_or(-1) != 0) return std::nullopt;
         return "nf_conntrack_log_invalid=0: packets dropped as INVALID after a reload are not "
                "logged (6 logs TCP; child netns also need nf_log_all_netns=1)";
       }},
      {{"buckets-small", Severity::kInfo, "docs/kernel-conntrack.md §4.1", false,
        "nf_conntrack_max is more than 4 x the hash buckets"},
       [](const NodeFacts& n, const FindingsConfig&) -> std::optional<std::string> {
         auto b = n.Sysctl("nf_conntrack_buckets");
         auto m = ConntrackMax(n);
         if (!b || !m || *b <= 0 || *m <= 4 * static_cast<uint64_t>(*b)) return std::nullopt;
         return "nf_conntrack_max " + std::to_string(*m) + " is " +
                std::to_string(*m / static_cast<uint64_t>(*b)) + " x nf_conntrack_buckets " +
                std::to_string(*b) +
                " (defaults: 4 x before 5.15, 1 x since): long hash chains; "
                "5.15+ refuses inserts into overlong chains (chaintoolong)";
       }},
  };
  return k;
}

}  // namespace


std::optional<uint64_t> ConntrackCount(const NodeFacts& n) {
  if (auto c = n.Sysctl("nf_conntrack_count"); c && *c >= 0) return static_cast<uint64_t>(*c);
  if (n.stats && n.stats->count) return n.stats->count;
  return std::nullopt;
}

std::optional<uint64_t> ConntrackMax(const NodeFacts& n) {
  if (auto m = n.Sysctl("nf_conntrack_max"); m && *m > 0) return static_cast<uint64_t>(*m);
  if (n.stats && n.stats->max) return n.stats->max;
  return std::nullopt;
}

std::optional<StormEstimate> EstimateRestartStorm(const NodeFacts& n, const FindingsConfig& cfg) {
  auto count = ConntrackCount(n);
  auto max = ConntrackMax(n);
  if (!count || !max || cfg.storm_daemons <= 0 || cfg.storm_attempts_per_daemon <= 0)
    return std::nullopt;
  StormEstimate e;
  e.established = *count;
  e.max = *max;
  e.attempts_per_s = cfg.storm_attempts_per_daemon * cfg.storm_daemons;
  // docs/kernel-conntrack.md §4.5 defaults when the node does not report a timeout.
  int64_t syn_sent = n.Sysctl("nf_conntrack_tcp_timeout_syn_sent").value_or(120);
  int64_t time_wait = n.Sysctl("nf_conntrack_tcp_timeout_time_wait").value_or(120);
  e.linger_s = std::max(syn_sent, time_wait);
  e.close_s = n.Sysctl("nf_conntrack_tcp_timeout_close").value_or(10);
  e.needed =
      e.established + static_cast<uint64_t>(e.attempts_per_s * static_cast<double>(e.linger_s));
  e.needed_best =
      e.established + static_cast<uint64_t>(e.attempts_per_s * static_cast<double>(e.close_s));
  return e;
}

std::vector<FindingRule> NodeRules() {
  std::vector<FindingRule> out;
  for (const Row& r : Rows()) out.push_back(r.rule);
  return out;
}

std::vector<FindingRule> FleetRules() {
  return {
      {"fleet-mixed-kernel-class", Severity::kWarning, "docs/kernel-conntrack.md §8", false,
       "the fleet mixes kernel classes: a reload behaves differently per node (the 2019 lesson)"},
      {"fleet-mixed-be-liberal", Severity::kWarning, "docs/kernel-conntrack.md §8, §3.3", false,
       "the fleet mixes nf_conntrack_tcp_be_liberal values"},
  };
}

std::vector<Finding> JudgeNode(const NodeFacts& node, const FindingsConfig& config) {
  std::vector<Finding> out;
  for (const Row& r : Rows()) {
    if (!node.reachable && r.rule.id != "probe-failed") continue;
    if (auto msg = r.check(node, config)) {
      out.push_back({std::string(r.rule.id), r.rule.severity, *msg, std::string(r.rule.source),
                     r.rule.undecided});
    }
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Finding& a, const Finding& b) { return a.severity > b.severity; });
  return out;
}

std::vector<Finding> JudgeFleet(const std::vector<NodeFacts>& nodes, const FindingsConfig&) {
  std::vector<Finding> out;
  std::map<std::string, std::vector<std::string>> classes, liberal;
  for (const NodeFacts& n : nodes) {
    if (!n.reachable) continue;
    if (auto c = ClassOf(n)) classes[std::string(c->name)].push_back(n.name);
    if (auto bl = n.Sysctl("nf_conntrack_tcp_be_liberal"))
      liberal[std::to_string(*bl)].push_back(n.name);
  }
  auto describe = [](const std::map<std::string, std::vector<std::string>>& m) {
    std::string s;
    for (const auto& [k, v] : m) {
      s += (s.empty() ? "" : "; ") + k + ": ";
      for (size_t i = 0; i < v.size() && i < 5; ++i) s += (i ? ", " : "") + v[i];
      if (v.size() > 5) s += " and " + std::to_string(v.size() - 5) + " more";
    }
    return s;
  };
  auto rules = FleetRules();
  if (classes.size() > 1) {
    out.push_back({std::string(rules[0].id), rules[0].severity,
                   "nodes run kernels of different conntrack classes (" + describe(classes) +
                       "): a reload that is safe on one class can break connections on another; "
                       "test on every class (the 2019 incident hit only the 4.15 nodes)",
                   std::string(rules[0].source), false});
  }
  if (liberal.size() > 1) {
    out.push_back({std::string(rules[1].id), rules[1].severity,
                   "nodes differ in nf_conntrack_tcp_be_liberal (" + describe(liberal) + ")",
                   std::string(rules[1].source), false});
  }
  return out;
}

Outcome ProbeOutcome(const std::vector<std::vector<Finding>>& node_findings,
                  const std::vector<Finding>& fleet_findings) {
  bool blocking = false, undecided = false;
  auto scan = [&](const std::vector<Finding>& fs) {
    for (const Finding& f : fs) {
      if (f.undecided)
        undecided = true;
      else if (f.severity == Severity::kBlocking)
        blocking = true;
    }
  };
  for (const auto& fs : node_findings) scan(fs);
  scan(fleet_findings);
  if (blocking) return Outcome::kFail;
  if (undecided) return Outcome::kUndecided;
  return Outcome::kPass;
}

}  // namespace fwgate::hazards
