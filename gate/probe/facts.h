// What a probe learned about one node (or one network namespace): plain values that every
// transport fills the same way and the hazards knowledge base judges. No behaviour; header only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/ruleset.h"
#include "sys/conntrack_stats.h"

namespace fwgate::probe {

// How nf_conntrack is present in the kernel (docs/kernel-conntrack.md §5 item 5, §6).
enum class ModuleState { kUnknown, kBuiltin, kLoadable, kAbsent };
inline const char* ModuleStateName(ModuleState s) {
  switch (s) {
    case ModuleState::kBuiltin:
      return "builtin";
    case ModuleState::kLoadable:
      return "module";
    case ModuleState::kAbsent:
      return "absent";
    case ModuleState::kUnknown:
      break;
  }
  return "unknown";
}

// Rules that keep conntrack hooks registered, per address family (docs/kernel-conntrack.md §2.1
// list of users). Families: "ipv4", "ipv6", "bridge" (inet tables count for ipv4 and ipv6).
struct CtUsers {
  std::map<std::string, std::vector<std::string>> by_family;  // family -> "table/chain: what"
  [[nodiscard]] bool Any() const {
    for (const auto& [f, v] : by_family)
      if (!v.empty()) return true;
    return false;
  }
};

struct NftTableFact {
  std::string family;  // "inet", "ip", ...
  std::string name;
  bool iptables_nft = false;  // made by iptables-nft (xt match/target expressions, or its names)
  size_t rules = 0;
};

struct BackendFacts {
  bool nft_readable = false;  // the nftables ruleset could be listed
  std::vector<NftTableFact> nft_tables;
  CtUsers nft_ct_users;
  bool legacy_readable = false;            // iptables-legacy-save ran (or no legacy tables exist)
  std::vector<std::string> legacy_tables;  // "ipv4/filter", "ipv6/nat" (ip*_tables_names / save)
  CtUsers legacy_ct_users;
  std::vector<std::string> notes;  // why something could not be read
};

// A firewall service unit found on the node and how its reload applies rules.
struct ServiceFact {
  std::string name;       // "nftables", "netfilter-persistent", ...
  std::string unit_path;  // where its unit file or init script was found
  std::string reload;     // what reload/restart does
  std::string style;      // "atomic" | "two-step" | "unloads-modules" | "unknown"
  std::string source;     // facts section, or "unverified"
};

struct NodeFacts {
  std::string name;
  bool reachable = false;  // the probe ran and its output was parsed
  // false: the probe data itself (a --from file, a saved output) could not be read or parsed,
  // so nothing is known of the node; `reachable` is then false too.
  bool readable = true;
  std::string error;      // why not, or what part could not be read
  std::string transport;  // "local", "netns", "ssh", "file"

  std::string kernel;                      // uname -r
  std::map<std::string, int64_t> sysctls;  // full name ("nf_conntrack_tcp_be_liberal") -> value
  bool sysctls_readable = false;           // /proc/sys/net/netfilter had conntrack entries

  ModuleState conntrack_module = ModuleState::kUnknown;
  std::optional<bool> enable_hooks;  // nf_conntrack.enable_hooks=1 in cmdline or modprobe.d
  std::string enable_hooks_source;   // where it was found
  std::optional<bool> iptables_modules_unload;  // RHEL iptables-config IPTABLES_MODULES_UNLOAD

  std::optional<sys::ConntrackStats> stats;
  BackendFacts backends;
  std::optional<nft::Ruleset> ruleset;  // model (local/netns probes only)
  std::string ruleset_text;             // `nft list ruleset` layout
  std::vector<ServiceFact> services;

  [[nodiscard]] std::optional<int64_t> Sysctl(const std::string& key) const {
    auto it = sysctls.find(key);
    if (it == sysctls.end()) return std::nullopt;
    return it->second;
  }
};

}  // namespace fwgate::probe
