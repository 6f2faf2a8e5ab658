#include "gate/hazards/findings.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "base/outcome.h"
#include "gate/hazards/kernel_class.h"

namespace fwgate::hazards {
namespace {

using probe::NodeFacts;
using Check = std::optional<Finding> (*)(const NodeFacts&, const FindingsConfig&);

struct Row {
  FindingRule rule;
  Check check;  // the finding's message and fix when the rule fires
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

// The persistent files fwgate's fixes name.
constexpr const char* kSysctlFile = "/etc/sysctl.d/90-conntrack.conf";
constexpr const char* kModprobeFile = "/etc/modprobe.d/nf_conntrack.conf";

Finding Msg(std::string message) {
  Finding f;
  f.message = std::move(message);
  return f;
}

// A sysctl fix: the command now, and the line that keeps it after a reboot.
void SysctlFix(Finding& f, const std::string& key, const std::string& value) {
  f.fix_commands.push_back("sysctl -w net.netfilter." + key + "=" + value);
  f.fix_config.push_back(std::string(kSysctlFile) + ": net.netfilter." + key + " = " + value);
}

// The table size fix (docs/kernel-conntrack.md §4.1, §4.2: max and hashsize are set in the initial
// namespace).
void TableFix(Finding& f, uint64_t max, uint64_t hashsize) {
  SysctlFix(f, "nf_conntrack_max", std::to_string(max));
  f.fix_commands.push_back("echo " + std::to_string(hashsize) +
                           " > /sys/module/nf_conntrack/parameters/hashsize");
  f.fix_config.push_back(std::string(kModprobeFile) +
                         ": options nf_conntrack hashsize=" + std::to_string(hashsize));
}

uint64_t RoundUp(uint64_t v, uint64_t step) { return (v + step - 1) / step * step; }

// Buckets for `max` in the node's era (docs/kernel-conntrack.md §4.1: max = 4 x buckets
// before 5.15, 1 x from), and never fewer than the node has.
uint64_t HashsizeFor(const NodeFacts& n, uint64_t max) {
  auto v = ParseKernelVersion(n.kernel);
  bool modern = v && (v->major > 5 || (v->major == 5 && v->minor >= 15));
  uint64_t want = modern ? max : std::max<uint64_t>(1024, max / 4);
  // Never smaller than the table the node has now.
  if (auto b = n.Sysctl("nf_conntrack_buckets"); b && *b > 0)
    want = std::max(want, static_cast<uint64_t>(*b));
  return want;
}

// The storm findings' text and fix, from the plan.
Finding StormFinding(const StormPlan& p, const FindingsConfig& cfg, bool overflow) {
  const StormEstimate& e = p.estimate;
  const auto spin =
      static_cast<long long>(std::lround(std::min(e.spin_s, static_cast<double>(e.linger_s))));
  const bool boot_known = cfg.storm_boot_s > 0;
  Finding f =
      Msg("restarting " + std::to_string(cfg.storm_daemons) + " daemons at once needs ~" +
          std::to_string(e.needed) + " conntrack entries (" + std::to_string(e.established) +
          " now + " + std::to_string(static_cast<long long>(std::lround(e.attempts_per_s))) +
          " attempts/s x " + std::to_string(spin) + " s" +
          (boot_known ? " of reconnect spin while they boot"
                      : ", the " + std::to_string(e.linger_s) + " s an attempt lingers") +
          ")" + (overflow ? " > nf_conntrack_max " : " of nf_conntrack_max ") +
          std::to_string(e.max) + (overflow ? " (the 2014 incident)" : ""));
  std::string margin = std::to_string(static_cast<int>(std::lround(p.margin * 100))) + " %";
  std::string table = "raise nf_conntrack_max to " + std::to_string(p.conntrack_max) +
                      " and hashsize to " + std::to_string(p.hashsize) + " (the estimate plus " +
                      margin + ")";
  std::string stagger;
  if (p.stagger_s > 0) {
    const int within = std::min(p.max_together, cfg.storm_daemons);
    stagger = "restart the daemons one at a time, at least " + std::to_string(p.stagger_s) +
              " s apart (at most " + std::to_string(within) + " restarts within the " +
              std::to_string(e.linger_s) + " s an attempt lingers keep ~" +
              std::to_string(e.established + p.per_daemon * static_cast<uint64_t>(within)) +
              " entries under " + std::to_string(p.target) + ")";
    f.fix = stagger + ", or " + table;
  } else if (p.stagger_s < 0) {
    f.fix = table + "; spacing restarts cannot help: one restarting daemon alone exceeds " +
            std::to_string(p.target) + " entries";
  } else {
    f.fix = table;
  }
  // The same host in the lab, with real packets: the sessions, the reconnect interval that gives
  // the estimate's rate, the plan's table and stagger (docs/lab-scenarios.md).
  const int daemons = std::max(1, cfg.storm_daemons);
  const uint64_t sessions = std::max<uint64_t>(e.established, static_cast<uint64_t>(daemons));
  const auto retry_ms =
      static_cast<long long>(std::lround(static_cast<double>(sessions) / daemons /
                                         std::max(cfg.storm_attempts_per_daemon, 1e-3) * 1000.0));
  std::string base = "fwgate replay --current RULESET --restart node1:" + std::to_string(daemons) +
                     " --connections-per-node " + std::to_string(sessions) + " --retry " +
                     std::to_string(std::clamp<long long>(retry_ms, 10, 3600000));
  if (boot_known) {
    base += " --boot-work " + std::to_string(std::lround(cfg.storm_boot_s * 1000));
  }
  f.fix += "; check it with real packets: `" + base + " --table-size " +
           std::to_string(p.conntrack_max) + "`";
  if (p.stagger_s > 0) {
    f.fix += " and `" + base + " --table-size " + std::to_string(e.max) + " --stagger " +
             std::to_string(p.stagger_s * 1000) + "`";
  }
  f.fix +=
      " (`fwgate lab run 2014-restart-storm`: 8 daemons with 6000 connections restarted at once "
      "fill a 65536-entry table and drop; 10 s apart or 131072 entries drop nothing)";
  TableFix(f, p.conntrack_max, p.hashsize);
  return f;
}

// Table size for a node whose count is high: the count at half the table, and at least what the
// storm plan asks for.
std::pair<uint64_t, uint64_t> HeadroomTarget(const NodeFacts& n, const FindingsConfig& cfg) {
  uint64_t count = ConntrackCount(n).value_or(0);
  uint64_t max = RoundUp(std::max<uint64_t>(count * 2, 16384), 16384);
  if (auto p = PlanRestartStorm(n, cfg)) max = std::max(max, p->conntrack_max);
  return {max, HashsizeFor(n, max)};
}

// The rule table. Order: most severe first within a topic; JudgeNode sorts by severity anyway.
const std::vector<Row>& Rows() {
  static const std::vector<Row> k = {
      {{"probe-failed", Severity::kWarning, "DESIGN.md exit codes", true,
        "the node could not be probed: nothing about it is known (undecided, exit 3)"},
       [](const NodeFacts& n, const FindingsConfig&) -> std::optional<Finding> {
         if (n.reachable) return std::nullopt;
         Finding f = Msg("node could not be probed: " +
                         (n.error.empty() ? std::string("unknown error") : n.error));
         f.fix = n.transport == "file"
                     ? "regenerate this node's probe file (fwgate probe --local --json)"
                     : "check that `ssh HOST sh -s` works non-interactively (BatchMode) for it";
         return f;
       }},
      {{"kernel-unknown", Severity::kBlocking, "docs/kernel-conntrack.md §1, §7", true,
        "the kernel release could not be read, so the kernel class is unknown"},
       [](const NodeFacts& n, const FindingsConfig&) -> std::optional<Finding> {
         if (!n.reachable || ClassOf(n)) return std::nullopt;
         return Msg("kernel release '" + n.kernel.substr(0, 64) +
                    "' unreadable: kernel class unknown");
       }},
      {{"stale-gap-strict", Severity::kBlocking, "docs/kernel-conntrack.md §3.4, §7", false,
        "4.14-4.18 kernel with nf_conntrack_tcp_be_liberal=0: a two-step reload breaks busy "
        "connections"},
       [](const NodeFacts& n, const FindingsConfig&) -> std::optional<Finding> {
         auto c = ClassOf(n);
         auto bl = n.Sysctl("nf_conntrack_tcp_be_liberal");
         if (!c || c->cls != KernelClass::kStaleGap || !bl || *bl != 0) return std::nullopt;
         Finding f = Msg("kernel " + n.kernel +
                         " (4.14-4.18) with nf_conntrack_tcp_be_liberal=0: a reload that "
                         "flushes and then loads in two steps leaves conntrack windows stale, and "
                         "busy connections are dropped as INVALID until their entries expire "
                         "(the 2019 incident)");
         f.fix =
             "set nf_conntrack_tcp_be_liberal=1 in every namespace that carries the "
             "connections, or reload atomically (one `nft -f` whose file starts with "
             "`flush ruleset`)";
         SysctlFix(f, "nf_conntrack_tcp_be_liberal", "1");
         return f;
       }},
      {{"stale-gap-be-liberal-unknown", Severity::kBlocking,
        "docs/kernel-conntrack.md §3.4, §5 item 2", true,
        "4.14-4.18 kernel whose be_liberal could not be read"},
       [](const NodeFacts& n, const FindingsConfig&) -> std::optional<Finding> {
         auto c = ClassOf(n);
         if (!c || c->cls != KernelClass::kStaleGap || n.Sysctl("nf_conntrack_tcp_be_liberal"))
           return std::nullopt;
         Finding f = Msg("kernel " + n.kernel +
                         " is in the 4.14-4.18 range but nf_conntrack_tcp_be_liberal could not "
                         "be read: cannot tell whether a two-step reload breaks connections");
         f.fix = "probe as root (or with passwordless sudo), with nf_conntrack loaded";
         f.fix_commands.push_back("sysctl net.netfilter.nf_conntrack_tcp_be_liberal");
         return f;
       }},
      {{"conntrack-headroom-critical", Severity::kBlocking, "docs/kernel-conntrack.md §4.3", false,
        "conntrack table at or above the blocking fill level"},
       [](const NodeFacts& n, const FindingsConfig& cfg) -> std::optional<Finding> {
         auto fill = Fill(n);
         if (!fill || *fill < cfg.headroom_block || NotTracking(n)) return std::nullopt;
         Finding f =
             Msg("conntrack table " + Pct(*fill) + " full (" + std::to_string(*ConntrackCount(n)) +
                 "/" + std::to_string(*ConntrackMax(n)) +
                 "): new flows, and pickups after a flush, are dropped once it is full");
         auto [max, hash] = HeadroomTarget(n, cfg);
         f.fix = "raise nf_conntrack_max to " + std::to_string(max) + " and hashsize to " +
                 std::to_string(hash) + " (today's count at half the table)";
         TableFix(f, max, hash);
         return f;
       }},
      {{"restart-storm-overflow", Severity::kBlocking, "docs/kernel-conntrack.md §4.4, §8", false,
        "restarting all daemons at once would overflow the conntrack table"},
       [](const NodeFacts& n, const FindingsConfig& cfg) -> std::optional<Finding> {
         auto p = PlanRestartStorm(n, cfg);
         if (!p || p->estimate.needed < p->estimate.max || NotTracking(n)) return std::nullopt;
         return StormFinding(*p, cfg, true);
       }},
      {{"conntrack-headroom", Severity::kWarning, "docs/kernel-conntrack.md §4.3", false,
        "conntrack table at or above the warning fill level"},
       [](const NodeFacts& n, const FindingsConfig& cfg) -> std::optional<Finding> {
         auto fill = Fill(n);
         if (!fill || *fill < cfg.headroom_warn || *fill >= cfg.headroom_block || NotTracking(n))
           return std::nullopt;
         Finding f =
             Msg("conntrack table " + Pct(*fill) + " full (" + std::to_string(*ConntrackCount(n)) +
                 "/" + std::to_string(*ConntrackMax(n)) + ")");
         auto [max, hash] = HeadroomTarget(n, cfg);
         f.fix = "raise nf_conntrack_max to " + std::to_string(max) + " and hashsize to " +
                 std::to_string(hash) + " (today's count at half the table)";
         TableFix(f, max, hash);
         return f;
       }},
      {{"restart-storm-tight", Severity::kWarning, "docs/kernel-conntrack.md §4.4", false,
        "restarting all daemons at once would bring the table near its limit"},
       [](const NodeFacts& n, const FindingsConfig& cfg) -> std::optional<Finding> {
         auto p = PlanRestartStorm(n, cfg);
         if (!p || p->estimate.needed >= p->estimate.max || p->estimate.needed <= p->target ||
             NotTracking(n))
           return std::nullopt;
         return StormFinding(*p, cfg, false);
       }},
      {{"conntrack-sysctls-unreadable", Severity::kWarning,
        "docs/kernel-conntrack.md §5 item 2, §4.2", false,
        "conntrack sysctls missing: conntrack not loaded, or hidden (5.1-5.6 unprivileged netns)"},
       [](const NodeFacts& n, const FindingsConfig&) -> std::optional<Finding> {
         if (!n.reachable || n.sysctls_readable) return std::nullopt;
         Finding f =
             Msg("conntrack sysctls not readable: nf_conntrack is not loaded here (a first ct rule "
                 "would start tracking and pick up every open flow as NEW, "
                 "docs/kernel-conntrack.md §6) or they are "
                 "hidden in an unprivileged user namespace (5.1-5.6)");
         f.fix = "probe from the initial user namespace; check whether nf_conntrack is loaded";
         f.fix_commands.push_back("ls /proc/sys/net/netfilter/");
         return f;
       }},
      {{"keepalive-gap", Severity::kWarning, "docs/kernel-conntrack.md §1, §3.5", false,
        "4.19.0-4.19.152 / 5.0-5.9: idle keepalive-only connections can die after a two-step "
        "reload"},
       [](const NodeFacts& n, const FindingsConfig&) -> std::optional<Finding> {
         auto c = ClassOf(n);
         if (!c || !c->keepalive_gap || n.Sysctl("nf_conntrack_tcp_be_liberal").value_or(0) == 1)
           return std::nullopt;
         Finding f = Msg("kernel " + n.kernel +
                         " lacks 4f25434bccc2 (in 5.10, 4.19.153): idle connections whose "
                         "first packet after a two-step reload is a keepalive can be dropped");
         f.fix =
             "upgrade to 4.19.153+ or 5.10+, set nf_conntrack_tcp_be_liberal=1, or reload "
             "atomically";
         SysctlFix(f, "nf_conntrack_tcp_be_liberal", "1");
         return f;
       }},
      {{"tcp-loose-off", Severity::kWarning, "docs/kernel-conntrack.md §3.2, §7 note a", false,
        "nf_conntrack_tcp_loose=0: flows whose entry is gone are not picked up again"},
       [](const NodeFacts& n, const FindingsConfig&) -> std::optional<Finding> {
         if (n.Sysctl("nf_conntrack_tcp_loose").value_or(1) != 0) return std::nullopt;
         Finding f =
             Msg("nf_conntrack_tcp_loose=0: after a table flush or module unload every "
                 "open connection is INVALID instead of being picked up");
         f.fix = "set nf_conntrack_tcp_loose=1 (the kernel default)";
         SysctlFix(f, "nf_conntrack_tcp_loose", "1");
         return f;
       }},
      {{"conntrack-drops-seen", Severity::kWarning, "docs/kernel-conntrack.md §4.3, §5 item 7",
        false, "conntrack has dropped or refused entries since boot"},
       [](const NodeFacts& n, const FindingsConfig& cfg) -> std::optional<Finding> {
         uint64_t d = Counter(n, "drop"), e = Counter(n, "early_drop"),
                  i = Counter(n, "insert_failed"), c = Counter(n, "chaintoolong");
         if (d + e + i + c == 0) return std::nullopt;
         Finding f = Msg("conntrack statistics show drop=" + std::to_string(d) + " early_drop=" +
                         std::to_string(e) + " insert_failed=" + std::to_string(i) +
                         " chaintoolong=" + std::to_string(c) +
                         ": the table has been full or its chains too long");
         if (ConntrackMax(n)) {
           auto [max, hash] = HeadroomTarget(n, cfg);
           f.fix = "raise nf_conntrack_max to " + std::to_string(max) + " and hashsize to " +
                   std::to_string(hash) + "; watch the counters with `conntrack -S`";
           TableFix(f, max, hash);
         }
         return f;
       }},
      {{"module-unload-on-restart", Severity::kWarning, "docs/kernel-conntrack.md §6", false,
        "a service restart unloads nf_conntrack, destroying the table"},
       [](const NodeFacts& n, const FindingsConfig&) -> std::optional<Finding> {
         if (n.conntrack_module != probe::ModuleState::kLoadable) return std::nullopt;
         for (const auto& s : n.services) {
           if (s.style == "unloads-modules" && n.iptables_modules_unload.value_or(true)) {
             Finding f = Msg("service " + s.name +
                             " restarts with IPTABLES_MODULES_UNLOAD=yes and nf_conntrack is a "
                             "module: a restart destroys every conntrack entry (NAT flows "
                             "break; others survive only if the rules accept their NEW pickup)");
             f.fix = "keep the modules loaded across restarts";
             f.fix_config.push_back(
                 "/etc/sysconfig/iptables-config: IPTABLES_MODULES_UNLOAD=\"no\"");
             return f;
           }
         }
         return std::nullopt;
       }},
      {{"backends-unreadable", Severity::kWarning, "docs/kernel-conntrack.md §5 item 3", false,
        "the firewall rules could not be listed: which rules use conntrack is unknown"},
       [](const NodeFacts& n, const FindingsConfig&) -> std::optional<Finding> {
         if (!n.reachable || n.backends.notes.empty()) return std::nullopt;
         std::string m;
         for (const auto& s : n.backends.notes) m += (m.empty() ? "" : "; ") + s;
         Finding f = Msg("firewall rules partly unreadable: " + m);
         f.fix =
             "probe as root, or allow the probe user `sudo -n nft list ruleset` and "
             "`sudo -n iptables-legacy-save`";
         return f;
       }},
      {{"conntrack-loadable", Severity::kInfo, "docs/kernel-conntrack.md §5 item 5, §6", false,
        "nf_conntrack is a loadable module: unloading it flushes the table"},
       [](const NodeFacts& n, const FindingsConfig&) -> std::optional<Finding> {
         if (n.conntrack_module != probe::ModuleState::kLoadable) return std::nullopt;
         return Msg(
             "nf_conntrack is a loadable module: anything that unloads it flushes the table");
       }},
      {{"stale-gap-liberal", Severity::kInfo, "docs/kernel-conntrack.md §3.3, §7", false,
        "4.14-4.18 kernel protected by be_liberal=1"},
       [](const NodeFacts& n, const FindingsConfig&) -> std::optional<Finding> {
         auto c = ClassOf(n);
         if (!c || c->cls != KernelClass::kStaleGap ||
             n.Sysctl("nf_conntrack_tcp_be_liberal").value_or(0) != 1)
           return std::nullopt;
         return Msg("kernel " + n.kernel +
                    " (4.14-4.18) survives a two-step reload only because "
                    "nf_conntrack_tcp_be_liberal=1 (sequence checks are off)");
       }},
      {{"enable-hooks", Severity::kInfo, "docs/kernel-conntrack.md §2.1", false,
        "nf_conntrack.enable_hooks=1: tracking never stops"},
       [](const NodeFacts& n, const FindingsConfig&) -> std::optional<Finding> {
         if (!n.enable_hooks.value_or(false)) return std::nullopt;
         return Msg("nf_conntrack enable_hooks=1 (" + n.enable_hooks_source +
                    "): conntrack tracks even while no rule uses it");
       }},
      {{"no-ct-users", Severity::kInfo, "docs/kernel-conntrack.md §2.1, §6", false,
        "no rule uses conntrack: tracking is off and a first ct rule picks flows up as NEW"},
       [](const NodeFacts& n, const FindingsConfig&) -> std::optional<Finding> {
         if (!NotTracking(n)) return std::nullopt;
         return Msg(
             "no rule uses conntrack, so it is not tracking (4.14+): a ruleset that adds "
             "`ct state` rules will see every open connection as NEW on its first packet");
       }},
      {{"legacy-ct-users", Severity::kInfo, "docs/kernel-conntrack.md §2.3", false,
        "iptables-legacy rules use conntrack and keep the hooks registered across nft reloads"},
       [](const NodeFacts& n, const FindingsConfig&) -> std::optional<Finding> {
         if (!n.backends.legacy_ct_users.Any()) return std::nullopt;
         return Msg(
             "iptables-legacy rules use conntrack: they keep its hooks registered while "
             "the nftables ruleset is flushed (a two-step nft reload then behaves like an "
             "atomic one)");
       }},
      {{"two-step-service", Severity::kInfo, "docs/kernel-conntrack.md §7 note b, §8", false,
        "a firewall service reloads in two steps: the host is unfiltered in between"},
       [](const NodeFacts& n, const FindingsConfig&) -> std::optional<Finding> {
         for (const auto& s : n.services) {
           if (s.style == "two-step") {
             Finding f = Msg("service " + s.name + " applies rules in two steps (" + s.source +
                             "): the host is unfiltered during the gap");
             f.fix =
                 "apply changes in one transaction instead (`nft -f FILE` with `flush "
                 "ruleset` first, or one `iptables-restore`)";
             return f;
           }
         }
         return std::nullopt;
       }},
      {{"firewalld-managed", Severity::kWarning, "docs/inputs.md (firewalld)", false,
        "firewalld generates this node's rules from its zones: not a ruleset fwgate can read"},
       [](const NodeFacts& n, const FindingsConfig&) -> std::optional<Finding> {
         bool table = std::any_of(n.backends.nft_tables.begin(), n.backends.nft_tables.end(),
                                  [](const auto& t) { return t.name == "firewalld"; });
         bool unit = std::any_of(n.services.begin(), n.services.end(),
                                 [](const auto& s) { return s.name == "firewalld"; });
         if (!table && !unit) return std::nullopt;
         Finding f =
             Msg(std::string(table ? "firewalld is active (nftables table firewalld)"
                                   : "firewalld is installed") +
                 ": its rules are generated from zones and services (firewall-cmd), so a ruleset "
                 "file is not what this node reloads; fwgate does not read firewalld zones "
                 "(unsupported input)");
         f.fix =
             "gate the ruleset firewalld generates: apply the zone change on a test host, save "
             "`nft -j list ruleset`, and pass that file as --proposed";
         return f;
       }},
      {{"log-invalid-off", Severity::kInfo, "docs/kernel-conntrack.md §5", false,
        "nf_conntrack_log_invalid=0: INVALID drops leave no log line"},
       [](const NodeFacts& n, const FindingsConfig&) -> std::optional<Finding> {
         if (n.Sysctl("nf_conntrack_log_invalid").value_or(-1) != 0) return std::nullopt;
         Finding f =
             Msg("nf_conntrack_log_invalid=0: packets dropped as INVALID after a reload "
                 "are not logged");
         f.fix =
             "log INVALID TCP packets (protocol 6); child namespaces also need "
             "net.netfilter.nf_log_all_netns=1 in the initial one";
         SysctlFix(f, "nf_conntrack_log_invalid", "6");
         return f;
       }},
      {{"buckets-small", Severity::kInfo, "docs/kernel-conntrack.md §4.1", false,
        "nf_conntrack_max is more than 4 x the hash buckets"},
       [](const NodeFacts& n, const FindingsConfig&) -> std::optional<Finding> {
         auto b = n.Sysctl("nf_conntrack_buckets");
         auto m = ConntrackMax(n);
         if (!b || !m || *b <= 0 || *m <= 4 * static_cast<uint64_t>(*b)) return std::nullopt;
         Finding f = Msg("nf_conntrack_max " + std::to_string(*m) + " is " +
                         std::to_string(*m / static_cast<uint64_t>(*b)) +
                         " x nf_conntrack_buckets " + std::to_string(*b) +
                         " (defaults: 4 x before 5.15, 1 x since): long hash chains; 5.15+ "
                         "refuses inserts into overlong chains (chaintoolong)");
         uint64_t hash = HashsizeFor(n, *m);
         f.fix = "raise hashsize to " + std::to_string(hash);
         f.fix_commands.push_back("echo " + std::to_string(hash) +
                                  " > /sys/module/nf_conntrack/parameters/hashsize");
         f.fix_config.push_back(std::string(kModprobeFile) +
                                ": options nf_conntrack hashsize=" + std::to_string(hash));
         return f;
       }},
  };
  return k;
}

}  // namespace

bool NotTracking(const NodeFacts& n) {
  auto c = ClassOf(n);
  return n.reachable && c && c->cls != KernelClass::kContinuous && n.backends.nft_readable &&
         n.backends.legacy_readable && !AnyCtUser(n) && !n.enable_hooks.value_or(false);
}

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
  // docs/kernel-conntrack.md §4.5 defaults when the node does not report a timeout. An attempt
  // ends refused (CLOSE), reset or unanswered (SYN_SENT), or accepted and closed: TIME_WAIT, or
  // FIN_WAIT/CLOSE_WAIT/LAST_ACK while the two ends close (§4.4).
  e.linger_s = 0;
  for (auto [name, def] : {std::pair<const char*, int64_t>{"syn_sent", 120},
                           {"time_wait", 120},
                           {"fin_wait", 120},
                           {"close_wait", 60},
                           {"last_ack", 30}}) {
    e.linger_s = std::max(e.linger_s,
                          n.Sysctl(std::string("nf_conntrack_tcp_timeout_") + name).value_or(def));
  }
  e.close_s = n.Sysctl("nf_conntrack_tcp_timeout_close").value_or(10);
  const auto linger = static_cast<double>(e.linger_s);
  e.spin_s = cfg.storm_boot_s > 0
                 ? std::max(0.0, cfg.storm_down_s) + cfg.storm_boot_s * cfg.storm_daemons
                 : linger;
  e.needed = e.established + static_cast<uint64_t>(e.attempts_per_s * std::min(e.spin_s, linger));
  e.needed_best =
      e.established +
      static_cast<uint64_t>(e.attempts_per_s * std::min(e.spin_s, static_cast<double>(e.close_s)));
  return e;
}

std::optional<StormPlan> PlanRestartStorm(const NodeFacts& n, const FindingsConfig& cfg) {
  auto e = EstimateRestartStorm(n, cfg);
  if (!e) return std::nullopt;
  StormPlan p;
  p.estimate = *e;
  p.margin = std::max(0.0, cfg.storm_margin);
  p.target = static_cast<uint64_t>(static_cast<double>(e->max) / (1.0 + p.margin));
  const auto linger = static_cast<double>(e->linger_s);
  const bool boot_known = cfg.storm_boot_s > 0;
  // One daemon restarting alone: how long its peers spin, and the entries that leaves.
  const double spin_one = boot_known ? std::max(0.0, cfg.storm_down_s) + cfg.storm_boot_s : linger;
  p.per_daemon =
      static_cast<uint64_t>(std::ceil(cfg.storm_attempts_per_daemon * std::min(spin_one, linger)));
  if (p.target <= e->established) {
    p.max_together = 0;
  } else if (e->needed <= p.target || p.per_daemon == 0) {
    p.max_together = cfg.storm_daemons;
  } else {
    p.max_together =
        static_cast<int>(std::min<uint64_t>((p.target - e->established) / p.per_daemon, 1u << 30));
  }
  if (p.max_together >= cfg.storm_daemons && e->needed <= p.target) {
    p.stagger_s = 0;
  } else if (p.max_together == 0) {
    p.stagger_s = -1;
  } else if (boot_known) {
    // One at a time, T apart: the bursts of the restarts within one linger time stay under the
    // target, and a daemon is back before the next one goes.
    int64_t spacing = 0;
    if (p.max_together < cfg.storm_daemons) {
      spacing = static_cast<int64_t>(std::ceil(linger / static_cast<double>(p.max_together)));
    }
    p.stagger_s = std::max<int64_t>(static_cast<int64_t>(std::ceil(spin_one)), spacing);
  } else {  // ceil(linger / max_together): at most max_together restarts within one linger time
    p.stagger_s = (e->linger_s + p.max_together - 1) / p.max_together;
  }
  p.conntrack_max = RoundUp(
      static_cast<uint64_t>(std::ceil(static_cast<double>(e->needed) * (1.0 + p.margin))), 16384);
  p.hashsize = HashsizeFor(n, p.conntrack_max);
  return p;
}

uint64_t StaggeredPeak(const StormPlan& p, const FindingsConfig& cfg, double stagger_s) {
  const StormEstimate& e = p.estimate;
  const double spin_one = cfg.storm_boot_s > 0 ? std::max(0.0, cfg.storm_down_s) + cfg.storm_boot_s
                                               : static_cast<double>(e.linger_s);
  if (stagger_s <= 0 || stagger_s < spin_one || cfg.storm_daemons <= 1) return e.needed;
  const auto within = static_cast<uint64_t>(
      std::min<double>(cfg.storm_daemons, std::ceil(static_cast<double>(e.linger_s) / stagger_s)));
  return e.established + within * p.per_daemon;
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
    if (auto f = r.check(node, config)) {
      f->id = std::string(r.rule.id);
      f->severity = r.rule.severity;
      f->source = std::string(r.rule.source);
      f->undecided = r.rule.undecided;
      f->node = node.name;
      out.push_back(std::move(*f));
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
    out.back().fix = "replay the change with each class (fwgate replay --kernel VERSION)";
  }
  if (liberal.size() > 1) {
    Finding f{std::string(rules[1].id), rules[1].severity,
              "nodes differ in nf_conntrack_tcp_be_liberal (" + describe(liberal) + ")",
              std::string(rules[1].source), false};
    f.fix = "use one value on every node (1 survives two-step reloads on 4.14-4.18)";
    SysctlFix(f, "nf_conntrack_tcp_be_liberal", "1");
    out.push_back(std::move(f));
  }
  return out;
}

Outcome ProbeOutcome(const std::vector<std::vector<Finding>>& node_findings,
                     const std::vector<Finding>& fleet_findings) {
  bool blocking = false, undecided = false;
  auto scan = [&](const std::vector<Finding>& fs) {
    for (const Finding& f : fs) {
      if (f.undecided) {
        undecided = true;
      } else if (f.severity == Severity::kBlocking) {
        blocking = true;
      }
    }
  };
  for (const auto& fs : node_findings) scan(fs);
  scan(fleet_findings);
  if (blocking) return Outcome::kFail;
  if (undecided) return Outcome::kUndecided;
  return Outcome::kPass;
}

}  // namespace fwgate::hazards
