// Which nftables rules and objects hold a conntrack reference, and for which address families,
// as each kernel class counts them (docs/kernel-conntrack.md §2.1, §2.3). Pure functions of the
// ruleset model; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/ruleset.h"

namespace fwgate::hazards {

// The per-namespace use counts the kernel keeps (users4, users6, users_bridge).
enum class CtFamily : uint8_t { kIpv4, kIpv6, kBridge };
inline constexpr CtFamily kCtFamilies[] = {CtFamily::kIpv4, CtFamily::kIpv6, CtFamily::kBridge};
[[nodiscard]] std::string_view CtFamilyName(CtFamily f);  // "ipv4", "ipv6", "bridge"

// What makes an expression or object a conntrack user.
struct CtUse {
  std::string what;  // "ct expression", "masquerade", "ct helper object", ...
  // Counted only by newer kernels (the 6.18 list of docs/kernel-conntrack.md §2.1: connlimit,
  // flow offload, synproxy, ct helper/timeout/expectation objects); 4.14-4.18 do not count it.
  bool newer_kernels_only = false;
};

// The conntrack use of one rule expression, nested ones included (dynset statements); nullopt
// when it takes no reference: notrack, counters, payload matches, and a nat chain's mere
// existence are not users (docs/kernel-conntrack.md §2.1).
[[nodiscard]] std::optional<CtUse> CtUseOfRule(const nft::Rule& rule);
[[nodiscard]] std::optional<CtUse> CtUseOfExpr(const nft::Expr& expr);
// ct helper (3), ct timeout (7) and ct expectation (9) objects: users on newer kernels.
[[nodiscard]] std::optional<CtUse> CtUseOfObject(uint32_t object_type);

// The use counts a conntrack user in a table of `family` feeds: ip -> ipv4, ip6 -> ipv6, inet ->
// both; bridge -> bridge, and on kernels with bridge conntrack (5.3+, nf_conntrack_bridge) also
// ipv4 and ipv6; arp and netdev -> none (the kernel refuses ct there).
[[nodiscard]] std::vector<CtFamily> CtFamiliesOf(nft::Family table_family);

}  // namespace fwgate::hazards
