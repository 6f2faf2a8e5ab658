// The nftables ruleset as the kernel holds it: tables, chains, sets/maps with elements, rules as
// expression lists, flowtables and stateful objects. Plain values, filled by the netlink dumper.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace fwgate::nft {

using Bytes = std::vector<uint8_t>;

// NFPROTO_* values, as the kernel numbers table families.
enum class Family : uint8_t {
  kUnspec = 0,
  kInet = 1,
  kIp = 2,
  kArp = 3,
  kNetdev = 5,
  kBridge = 7,
  kIp6 = 10,
};
std::string_view FamilyName(Family f);  // "inet", "ip", ...
std::optional<Family> FamilyFromName(std::string_view name);

// One attribute of an expression: an integer (host order, as libnftnl returns it), a string
// (set name, chain name, log prefix) or raw register data (cmp/bitwise/immediate/range data,
// in the byte order the register holds).
using AttrValue = std::variant<uint64_t, std::string, Bytes>;

// One expression of a rule, as libnftnl names it: kind "payload", "cmp", "ct", "lookup", ...
// Attribute names are libnftnl's NFTNL_EXPR_<KIND>_<NAME> suffix in lower case
// ("dreg", "base", "offset", "len", "op", "data", "set", "verdict", "chain", ...).
// Attributes the kernel did not send are absent. Nested expressions (dynset, set elements) go
// in `nested`.
struct Expr {
  std::string kind;
  std::vector<std::pair<std::string, AttrValue>> attrs;
  std::vector<Expr> nested;

  [[nodiscard]] const AttrValue* Find(std::string_view name) const;
  [[nodiscard]] bool Has(std::string_view name) const { return Find(name) != nullptr; }
  // Typed reads; the fallback is returned when the attribute is absent or of another type.
  [[nodiscard]] uint64_t Int(std::string_view name, uint64_t fallback = 0) const;
  [[nodiscard]] std::string Str(std::string_view name) const;
  [[nodiscard]] Bytes Data(std::string_view name) const;

  Expr& Set(std::string name, AttrValue value);  // builder for tests and fixtures
  bool operator==(const Expr&) const = default;
};

struct Rule {
  uint64_t handle = 0;
  uint64_t position = 0;  // handle of the rule this one was inserted after, when known
  std::vector<Expr> exprs;
  std::string comment;  // from the rule's userdata; empty when none
  bool operator==(const Rule&) const = default;
};

struct BaseChain {
  std::string type;   // "filter", "nat", "route"
  uint32_t hook = 0;  // NF_INET_* / NF_NETDEV_* number; see HookName()
  int32_t priority = 0;
  uint32_t policy = 1;               // NF_DROP 0, NF_ACCEPT 1
  std::vector<std::string> devices;  // netdev/inet ingress chains
  bool operator==(const BaseChain&) const = default;
};
std::string_view HookName(Family family, uint32_t hook);  // "input", "ingress", ...

struct Chain {
  std::string name;
  uint64_t handle = 0;
  uint32_t flags = 0;
  std::optional<BaseChain> base;  // absent for regular chains
  std::string comment;
  std::vector<Rule> rules;  // in kernel order
  bool operator==(const Chain&) const = default;
};

struct SetElement {
  Bytes key;
  Bytes key_end;                   // concatenated ranges (NFTNL_SET_ELEM_KEY_END); empty otherwise
  uint32_t flags = 0;              // NFT_SET_ELEM_INTERVAL_END = 1, NFT_SET_ELEM_CATCHALL = 2
  Bytes data;                      // map data (value maps)
  std::optional<int32_t> verdict;  // verdict maps: NF_DROP 0, NF_ACCEPT 1, NFT_JUMP -3, ...
  std::string chain;               // verdict maps: jump/goto target
  std::string objref;              // object maps: object name
  uint64_t timeout_ms = 0;
  std::string comment;
  std::vector<Expr> exprs;  // per-element statements (counter, ...)
  bool operator==(const SetElement&) const = default;
};

struct Set {
  std::string name;
  uint64_t handle = 0;
  uint32_t flags = 0;  // NFT_SET_ANONYMOUS 0x1, CONSTANT 0x2, INTERVAL 0x4, MAP 0x8, TIMEOUT 0x10,
                       // EVAL 0x20, OBJECT 0x40, CONCAT 0x80, EXPR 0x100
  uint32_t key_type = 0;  // nft datatype id; concatenations pack 6-bit ids (TYPE_BITS)
  uint32_t key_len = 0;
  uint32_t data_type = 0;  // maps: datatype id (0xffffff00 for verdicts)
  uint32_t data_len = 0;
  uint32_t obj_type = 0;  // object maps
  uint32_t policy = 0;
  uint32_t desc_size = 0;
  uint64_t timeout_ms = 0;
  uint32_t gc_interval_ms = 0;
  std::vector<uint8_t> field_lengths;  // concatenation field lengths in bytes, when sent
  Bytes userdata;                      // nft's typeof/byteorder/comment TLVs
  std::vector<Expr> exprs;             // set-level statements ("counter" on every element)
  std::vector<SetElement> elements;    // as the kernel lists them (interval sets: start/end pairs)

  [[nodiscard]] bool anonymous() const { return (flags & 0x1) != 0; }
  [[nodiscard]] bool is_map() const { return (flags & 0x8) != 0; }
  [[nodiscard]] bool is_object_map() const { return (flags & 0x40) != 0; }
  [[nodiscard]] bool is_interval() const { return (flags & 0x4) != 0; }
  bool operator==(const Set&) const = default;
};

struct Flowtable {
  std::string name;
  uint64_t handle = 0;
  uint32_t hook = 0;
  int32_t priority = 0;
  uint32_t flags = 0;
  std::vector<std::string> devices;
  bool operator==(const Flowtable&) const = default;
};

// Stateful object (counter, quota, ct helper, limit, ct timeout, secmark, synproxy, ct expect).
// Type-specific attributes use libnftnl's NFTNL_OBJ_<TYPE>_<NAME> suffix in lower case; counter
// and quota usage values are kept but never compared by the diff.
struct Object {
  std::string name;
  uint64_t handle = 0;
  uint32_t type = 0;  // NFT_OBJECT_* (1 counter, 2 quota, 3 ct helper, 4 limit, ...)
  std::string comment;
  std::vector<std::pair<std::string, AttrValue>> attrs;
  bool operator==(const Object&) const = default;
};
std::string_view ObjectTypeName(uint32_t type);  // "counter", "quota", "ct helper", ...

struct Table {
  Family family = Family::kInet;
  std::string name;
  uint64_t handle = 0;
  uint32_t flags = 0;  // NFT_TABLE_F_DORMANT 1, NFT_TABLE_F_OWNER 2
  std::string comment;
  std::vector<Chain> chains;
  std::vector<Set> sets;  // named and anonymous (anonymous: flags & 1, names like "__set0")
  std::vector<Flowtable> flowtables;
  std::vector<Object> objects;

  [[nodiscard]] const Set* FindSet(std::string_view set_name) const;
  [[nodiscard]] const Chain* FindChain(std::string_view chain_name) const;
  bool operator==(const Table&) const = default;
};

struct Ruleset {
  uint32_t generation = 0;  // nftables generation id the dump is consistent with
  std::vector<Table> tables;
  // The interfaces of the namespace the ruleset was dumped from, by index. Rules hold only
  // interface indexes (`iif`, `oif`, ifindex sets); these resolve them to the names nft prints
  // and the diff compares, since indexes differ between hosts.
  std::map<uint32_t, std::string> interfaces;

  [[nodiscard]] const Table* FindTable(Family family, std::string_view name) const;
  [[nodiscard]] size_t RuleCount() const;
  bool operator==(const Ruleset&) const = default;
};

}  // namespace fwgate::nft
