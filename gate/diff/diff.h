// Structural, plan-style diff of two rulesets: what would change if `proposed` replaced
// `current`. Pure: two models in, an ordered list of changes out. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/ruleset.h"

namespace fwgate::diff {

enum class Op { kAdd, kRemove, kChange, kMove };
enum class ObjectKind { kTable, kChain, kRule, kSet, kMap, kElement, kFlowtable, kObject };
std::string_view OpName(Op op);                 // "add", "remove", "change", "move"
std::string_view ObjectKindName(ObjectKind k);  // "table", "chain", "rule", "set", ...

// One change. Objects are identified like libnftables JSON: family, table, then the chain (for
// chains and rules) or set (for sets, maps and their elements) or name (flowtables, objects).
struct Change {
  Op op = Op::kAdd;
  ObjectKind object = ObjectKind::kRule;
  nft::Family family = nft::Family::kInet;
  std::string table;
  std::string chain;          // chains and rules
  std::string set;            // sets, maps, elements
  std::string name;           // the object's own name (table, chain, set, flowtable, object)
  std::string text;           // the object in nft syntax (for a change: the proposed side)
  std::string before, after;  // kChange only
  // Handle on the CURRENT side (kernel handle of what is removed/changed/moved); absent for adds
  // and for objects without handles (elements).
  std::optional<uint64_t> handle;
  // Rules: index in the chain on each side where the rule exists (kMove has both).
  std::optional<size_t> index_before, index_after;
};

struct Summary {
  size_t add = 0, remove = 0, change = 0, move = 0;
  [[nodiscard]] size_t total() const { return add + remove + change + move; }
  bool operator==(const Summary&) const = default;
};

struct Plan {
  // Ordered by table (family name, table name); within a table: the table itself, then chains by
  // name (each followed by its rules in chain order), sets/maps by name (each followed by its
  // elements by key), flowtables by name, objects by type and name.
  std::vector<Change> changes;
  Summary summary;
  [[nodiscard]] bool empty() const { return changes.empty(); }
};

struct DiffOptions {
  // A removed and an added rule in the same gap between unchanged rules are reported as one
  // `change` when they end in the same verdict and share at least this fraction of
  // expressions (of the longer rule).
  double change_similarity = 0.5;
  // How far (in rules, within one gap) a removed rule looks for its changed counterpart.
  size_t change_window = 8;
};

// Rules are matched per chain by content (see identity.h), aligned so that unchanged rules
// around inserted ones are not changes; a rule in both but elsewhere is a `move` (reported at
// its new place); duplicates are a multiset. Set elements are matched by key; a map element
// whose key stays but whose value changes is a `change`. Counter/quota usage values are never
// compared.
[[nodiscard]] Plan DiffRulesets(const nft::Ruleset& current, const nft::Ruleset& proposed,
                                const DiffOptions& options = {});

// A rule in nft syntax without counter values, jumps to binding chains written out as the user
// wrote them (`jump { ip saddr 10.0.0.0/8 accept; }`).
// `interfaces` (index -> name, as the load that made the model saw them) names iif/oif.
[[nodiscard]] std::string RuleTextWithBindings(
    const nft::Table& table, const nft::Rule& rule, int depth = 0,
    const std::map<uint32_t, std::string>* interfaces = nullptr);

}  // namespace fwgate::diff
