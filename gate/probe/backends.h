// Which firewall backends a node uses and which of their rules keep conntrack hooks registered
// (docs/kernel-conntrack.md §2.1, §2.3), plus the firewall services and how their reload applies
// rules (docs/kernel-conntrack.md §5, §6). Pure functions of plain values and text; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/ruleset.h"
#include "gate/probe/facts.h"

namespace fwgate::probe {

// nftables tables (marking the ones iptables-nft made) and ct users per family, from the model.
void AnalyzeNftRuleset(const nft::Ruleset& ruleset, BackendFacts& out);

// The same from `nft list ruleset` text (remote probes, where no model is available).
void AnalyzeNftText(std::string_view text, BackendFacts& out);

// iptables-legacy-save / ip6tables-legacy-save output: tables and ct users. `family` is "ipv4" or
// "ipv6". Lines that are not iptables-save syntax are ignored.
void AnalyzeIptablesSave(std::string_view text, std::string_view family, BackendFacts& out);

// One row of the service table: a firewall service and what its reload/restart does.
struct ServiceRule {
  std::string_view name;
  std::vector<std::string_view> files;  // unit file names / init scripts that reveal it
  std::string_view reload;
  std::string_view style;   // "atomic" | "two-step" | "unloads-modules" | "unknown"
  std::string_view source;  // facts section, or "unverified: ..."
};
[[nodiscard]] const std::vector<ServiceRule>& ServiceTable();

// Directories searched for unit files and init scripts (the probe script lists these).
[[nodiscard]] const std::vector<std::string_view>& ServiceDirs();

// Services whose files appear among `paths` (absolute paths of files found on the node).
// `nftables_conf_flushes`: whether /etc/nftables.conf starts its work with `flush ruleset`
// (nullopt when unknown) refines the nftables row.
[[nodiscard]] std::vector<ServiceFact> DetectServices(const std::vector<std::string>& paths,
                                                      std::optional<bool> nftables_conf_flushes);

}  // namespace fwgate::probe
