#include "gate/hazards/reload_lint.h"

#include <algorithm>

namespace fwgate::hazards {
namespace {

const char* kFacts23 = "docs/kernel-conntrack.md §2.3, §7";
const char* kFacts34 = "docs/kernel-conntrack.md §3.4, §7";
const char* kFacts7b = "docs/kernel-conntrack.md §7";

Finding Make(std::string id, Severity sev, std::string source, std::string message, std::string fix,
             const LintNode& n) {
  Finding f;
  f.id = std::move(id);
  f.severity = sev;
  f.source = std::move(source);
  f.message = std::move(message);
  f.fix = std::move(fix);
  f.node = n.name;
  f.stage = "reload-lint";
  return f;
}

}  // namespace

std::string_view ReloadKindName(ReloadKind k) {
  switch (k) {
    case ReloadKind::kAtomic:
      return "atomic";
    case ReloadKind::kTwoStep:
      return "two-step";
    case ReloadKind::kRestart:
      return "restart";
    case ReloadKind::kCommand:
      return "command";
    case ReloadKind::kUnknown:
      return "unknown";
  }
  return "unknown";
}

std::vector<FindingRule> ReloadLintRules() {
  return {
      {"reload-two-step-stale-gap", Severity::kBlocking, kFacts34, false,
       "a two-step reload on a 4.14-4.18 node with be_liberal=0 breaks busy connections"},
      {"reload-two-step-unknown-liberal", Severity::kWarning, kFacts34, true,
       "a two-step reload on a 4.14-4.18 node whose be_liberal is unknown"},
      {"reload-two-step-unfiltered", Severity::kWarning, kFacts7b, false,
       "a two-step reload leaves the host unfiltered between flush and load"},
      {"reload-restart-no-firewall", Severity::kWarning, kFacts7b, false,
       "a restart-style reload leaves the host without a firewall if the load fails"},
      {"reload-command-traced", Severity::kInfo, kFacts23, false,
       "the reload command is judged by the commits it makes, in the lab"},
      {"reload-unknown", Severity::kWarning, kFacts23, true, "how the node reloads is not known"},
      {"reload-atomic", Severity::kInfo, kFacts23, false,
       "an atomic reload keeps tracking continuous on every kernel class"},
  };
}

ReloadKind KindOfCommand(const std::vector<std::string>& argv) {
  auto has = [&](std::string_view w) {
    return std::find(argv.begin(), argv.end(), w) != argv.end();
  };
  std::string prog = argv.empty() ? "" : argv[0].substr(argv[0].rfind('/') + 1);
  if ((prog == "systemctl" || prog == "service") && (has("restart") || has("force-reload"))) {
    return ReloadKind::kRestart;
  }
  return ReloadKind::kCommand;
}

std::vector<Finding> LintReload(const std::vector<LintNode>& nodes) {
  std::vector<Finding> out;
  for (const LintNode& n : nodes) {
    const std::string how =
        n.reload_text.empty() ? std::string(ReloadKindName(n.reload)) : n.reload_text;
    if (n.reload == ReloadKind::kUnknown) {
      Finding f = Make("reload-unknown", Severity::kWarning, kFacts23,
                       n.name + ": how this node reloads its firewall is not known",
                       "name the reload with --reload (atomic, flush-then-load, command:...)", n);
      f.undecided = true;
      out.push_back(std::move(f));
      continue;
    }
    if (n.reload == ReloadKind::kAtomic) continue;
    if (n.reload == ReloadKind::kCommand) {
      out.push_back(Make("reload-command-traced", Severity::kInfo, kFacts23,
                         n.name + ": the reload command `" + how +
                             "` is judged by the nftables commits it makes, in the lab replay",
                         "", n));
      continue;
    }
    // Two-step (or restart): does tracking stop on this kernel? §2.1/§3.4.
    if (n.kernel_class == KernelClass::kStaleGap) {
      if (!n.be_liberal) {
        Finding f =
            Make("reload-two-step-unknown-liberal", Severity::kWarning, kFacts34,
                 n.name + " (kernel " + (n.kernel.empty() ? "4.14-4.18" : n.kernel) + "): `" + how +
                     "` commits the flush and the load separately; whether busy connections "
                     "survive depends on nf_conntrack_tcp_be_liberal, which is not known",
                 "probe the node (fwgate probe) or declare --be-liberal", n);
        f.undecided = true;
        out.push_back(std::move(f));
      } else if (*n.be_liberal == 0) {
        Finding f = Make(
            "reload-two-step-stale-gap", Severity::kBlocking, kFacts34,
            n.name + " (kernel " + (n.kernel.empty() ? "4.14-4.18" : n.kernel) +
                ", nf_conntrack_tcp_be_liberal=0): `" + how +
                "` commits the flush and the load separately; while no rule uses conntrack "
                "the kernel stops tracking, windows go stale, and after the load busy "
                "connections are dropped as INVALID until their entries expire (the 2019 "
                "incident). This is the reload procedure, whatever the change",
            "reload atomically (one `nft -f` of a file that starts with `flush ruleset`), or set "
            "nf_conntrack_tcp_be_liberal=1 on the node",
            n);
        f.fix_commands = {"sysctl -w net.netfilter.nf_conntrack_tcp_be_liberal=1"};
        f.fix_config = {
            "/etc/sysctl.d/90-conntrack.conf: net.netfilter.nf_conntrack_tcp_be_liberal = 1"};
        out.push_back(std::move(f));
      }
    }
    out.push_back(Make(
        "reload-two-step-unfiltered", Severity::kWarning, kFacts7b,
        n.name + ": `" + how + "` leaves the host with no rules between the flush and the load",
        "reload atomically: one `nft -f` of a file that starts with `flush ruleset`", n));
    if (n.reload == ReloadKind::kRestart) {
      out.push_back(Make("reload-restart-no-firewall", Severity::kWarning, kFacts7b,
                         n.name + ": `" + how +
                             "` stops (flushes) then starts (loads): if the load fails, the host "
                             "is left with no firewall at all",
                         "use the service's reload (an atomic `nft -f`), not restart", n));
    }
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Finding& a, const Finding& b) { return a.severity > b.severity; });
  return out;
}

}  // namespace fwgate::hazards
