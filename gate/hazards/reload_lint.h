// Reload lint: what the way production reloads does on each node's kernel class and
// be_liberal (docs/kernel-conntrack.md §2.3, §3.4, §7): a third rule table of the knowledge
// base. Pure; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/finding.h"
#include "gate/hazards/findings.h"
#include "gate/hazards/kernel_class.h"

namespace fwgate::hazards {

// How a reload applies the ruleset, as the kernel sees its commits.
enum class ReloadKind {
  kAtomic,   // one transaction (nft -f with flush ruleset, iptables-restore)
  kTwoStep,  // a flush committed, then the load: conntrack may have no user in between
  kRestart,  // a service restart: stop flushes, start loads (two-step; a failed load leaves
             // the host with no firewall at all)
  kCommand,  // the user's own command: its commits decide (the lab follows them)
  kUnknown,  // not known (e.g. --reload auto without a probed service)
};
[[nodiscard]] std::string_view ReloadKindName(ReloadKind k);

struct LintNode {
  std::string name;  // a node, or a declared group ("4.15")
  std::optional<KernelClass> kernel_class;
  std::string kernel;             // as known
  std::optional<int> be_liberal;  // nf_conntrack_tcp_be_liberal
  ReloadKind reload = ReloadKind::kUnknown;
  std::string reload_text;  // "flush-then-load", "systemctl restart nftables", ...
};

[[nodiscard]] std::vector<FindingRule> ReloadLintRules();

// Findings per node (node set); the same finding for several nodes is one finding per node.
[[nodiscard]] std::vector<Finding> LintReload(const std::vector<LintNode>& nodes);

// A command's kind from its words: `systemctl restart`, `service X restart`, `nft -f FILE`
// (atomic when FILE flushes, which the caller passes), and so on; kCommand when unknown.
[[nodiscard]] ReloadKind KindOfCommand(const std::vector<std::string>& argv);

}  // namespace fwgate::hazards
