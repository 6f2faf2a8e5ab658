#include "gate/hazards/ct_users.h"

#include <set>

namespace fwgate::hazards {

std::string_view CtFamilyName(CtFamily f) {
  switch (f) {
    case CtFamily::kIpv4:
      return "ipv4";
    case CtFamily::kIpv6:
      return "ipv6";
    case CtFamily::kBridge:
      return "bridge";
  }
  return "?";
}

namespace {

// xt extensions (iptables-nft rules) that take a conntrack reference in their checkentry
// (docs/kernel-conntrack.md §2.1, the 4.15 list; cluster and connlimit from the 6.18 list).
// CT --notrack and NOTRACK return before taking one.
bool IsCtXtMatch(std::string_view name) {
  static const std::set<std::string_view> k = {"conntrack", "state",     "connmark",
                                               "connbytes", "connlabel", "helper"};
  return k.count(name) > 0;
}
bool IsCtXtTarget(std::string_view name) {
  static const std::set<std::string_view> k = {"CT",       "CONNSECMARK", "NETMAP",     "REDIRECT",
                                               "SNAT",     "DNAT",        "MASQUERADE", "CLUSTERIP",
                                               "SYNPROXY", "CONNMARK"};
  return k.count(name) > 0;
}

}  // namespace

std::optional<CtUse> CtUseOfExpr(const nft::Expr& e) {
  // nft_ct get and set, nat, masq, redir: docs/kernel-conntrack.md §2.1 (4.15 and 6.18).
  if (e.kind == "ct") return CtUse{e.Has("sreg") ? "ct set" : "ct expression", false};
  if (e.kind == "nat") return CtUse{e.Int("type") == 0 ? "snat" : "dnat", false};
  if (e.kind == "masq") return CtUse{"masquerade", false};
  if (e.kind == "redir") return CtUse{"redirect", false};
  if (e.kind == "match" && IsCtXtMatch(e.Str("name"))) return CtUse{"xt " + e.Str("name"), false};
  if (e.kind == "match" && (e.Str("name") == "cluster" || e.Str("name") == "connlimit")) {
    return CtUse{"xt " + e.Str("name"), true};
  }
  if (e.kind == "target" && IsCtXtTarget(e.Str("name"))) {
    return CtUse{"xt " + e.Str("name"), false};
  }
  // Newer users (the 6.18 list of §2.1).
  if (e.kind == "connlimit") return CtUse{"ct count", true};
  if (e.kind == "flow_offload") return CtUse{"flow offload", true};
  if (e.kind == "synproxy") return CtUse{"synproxy", true};
  if (e.kind == "objref") {
    uint64_t t = e.Int("imm_type");
    if (t == 3 || t == 7 || t == 9) return CtUseOfObject(static_cast<uint32_t>(t));
  }
  for (const auto& n : e.nested) {
    if (auto u = CtUseOfExpr(n)) return u;
  }
  return std::nullopt;
}

std::optional<CtUse> CtUseOfRule(const nft::Rule& rule) {
  std::optional<CtUse> newer;
  for (const auto& e : rule.exprs) {
    auto u = CtUseOfExpr(e);
    if (u && !u->newer_kernels_only) return u;
    if (u && !newer) newer = u;
  }
  return newer;
}

std::optional<CtUse> CtUseOfObject(uint32_t type) {
  switch (type) {
    case 3:
      return CtUse{"ct helper object", true};
    case 7:
      return CtUse{"ct timeout object", true};
    case 9:
      return CtUse{"ct expectation object", true};
    default:
      return std::nullopt;
  }
}

std::vector<CtFamily> CtFamiliesOf(nft::Family f) {
  switch (f) {
    case nft::Family::kIp:
      return {CtFamily::kIpv4};
    case nft::Family::kIp6:
      return {CtFamily::kIpv6};
    case nft::Family::kInet:
      return {CtFamily::kIpv4, CtFamily::kIpv6};
    case nft::Family::kBridge:
      return {CtFamily::kBridge, CtFamily::kIpv4, CtFamily::kIpv6};
    default:
      return {};
  }
}

}  // namespace fwgate::hazards
