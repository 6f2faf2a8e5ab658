#include "base/ruleset.h"

#include <array>
#include <span>

namespace fwgate::nft {

std::string_view FamilyName(Family f) {
  switch (f) {
    case Family::kInet:
      return "inet";
    case Family::kIp:
      return "ip";
    case Family::kIp6:
      return "ip6";
    case Family::kArp:
      return "arp";
    case Family::kBridge:
      return "bridge";
    case Family::kNetdev:
      return "netdev";
    case Family::kUnspec:
      break;
  }
  return "unspec";
}

std::optional<Family> FamilyFromName(std::string_view name) {
  for (Family f :
       {Family::kInet, Family::kIp, Family::kIp6, Family::kArp, Family::kBridge, Family::kNetdev}) {
    if (FamilyName(f) == name) return f;
  }
  return std::nullopt;
}

std::string_view HookName(Family family, uint32_t hook) {
  static constexpr std::array<std::string_view, 6> kInet = {"prerouting", "input",       "forward",
                                                            "output",     "postrouting", "ingress"};
  static constexpr std::array<std::string_view, 3> kArp = {"input", "output", "forward"};
  static constexpr std::array<std::string_view, 2> kNetdev = {"ingress", "egress"};
  std::span<const std::string_view> names = kInet;
  if (family == Family::kArp) names = kArp;
  if (family == Family::kNetdev) names = kNetdev;
  if (hook < names.size()) return names[hook];
  return "unknown";
}

std::string_view ObjectTypeName(uint32_t type) {
  static constexpr std::array<std::string_view, 11> kNames = {
      "unknown", "counter",    "quota",   "ct helper",      "limit",   "connlimit",
      "tunnel",  "ct timeout", "secmark", "ct expectation", "synproxy"};
  if (type < kNames.size()) return kNames[type];
  return "unknown";
}

const AttrValue* Expr::Find(std::string_view name) const {
  for (const auto& [k, v] : attrs) {
    if (k == name) return &v;
  }
  return nullptr;
}

uint64_t Expr::Int(std::string_view name, uint64_t fallback) const {
  const AttrValue* v = Find(name);
  if (v == nullptr) return fallback;
  if (const auto* i = std::get_if<uint64_t>(v)) return *i;
  return fallback;
}

std::string Expr::Str(std::string_view name) const {
  const AttrValue* v = Find(name);
  if (v == nullptr) return {};
  if (const auto* s = std::get_if<std::string>(v)) return *s;
  return {};
}

Bytes Expr::Data(std::string_view name) const {
  const AttrValue* v = Find(name);
  if (v == nullptr) return {};
  if (const auto* b = std::get_if<Bytes>(v)) return *b;
  return {};
}

Expr& Expr::Set(std::string name, AttrValue value) {
  for (auto& [k, v] : attrs) {
    if (k == name) {
      v = std::move(value);
      return *this;
    }
  }
  attrs.emplace_back(std::move(name), std::move(value));
  return *this;
}

const Set* Table::FindSet(std::string_view set_name) const {
  for (const auto& s : sets) {
    if (s.name == set_name) return &s;
  }
  return nullptr;
}

const Chain* Table::FindChain(std::string_view chain_name) const {
  for (const auto& c : chains) {
    if (c.name == chain_name) return &c;
  }
  return nullptr;
}

const Table* Ruleset::FindTable(Family family, std::string_view name) const {
  for (const auto& t : tables) {
    if (t.family == family && t.name == name) return &t;
  }
  return nullptr;
}

size_t Ruleset::RuleCount() const {
  size_t n = 0;
  for (const auto& t : tables) {
    for (const auto& c : t.chains) n += c.rules.size();
  }
  return n;
}

}  // namespace fwgate::nft
