// Canonical identities of ruleset objects for the structural diff: what makes two rules, set
// elements or declarations "the same" across two loads of a ruleset, independent of handles,
// usage values (counter packets/bytes, quota consumed, last used) and the names nft gives
// anonymous sets (__set0, ...). Pure functions of plain values; an IdentityContext is not
// thread-safe (it caches), separate contexts are independent.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/ruleset.h"

namespace fwgate::diff {

// True for attributes that record usage rather than configuration: counter packets/bytes,
// quota consumed, last msecs/set. The diff never compares them.
[[nodiscard]] bool IsUsageAttr(std::string_view expr_kind, std::string_view attr);
// Same for stateful objects (NFT_OBJECT_COUNTER pkts/bytes, NFT_OBJECT_QUOTA consumed).
[[nodiscard]] bool IsUsageObjectAttr(uint32_t object_type, std::string_view attr);

// One element of a set as the user wrote it: a plain element, or an interval start/end pair
// merged into one (intervals of non-concatenated interval sets are two kernel elements).
struct ElementUnit {
  std::string id;     // what identifies the element within its set: its key (and range end)
  std::string value;  // everything else that is compared: data, verdict, timeout, statements
  std::vector<size_t> indices;  // positions in Set::elements, in the kernel's order
};

// The elements of `set` as units, sorted by id (bytewise). Ids are unique within a set the
// kernel accepted.
// With `interfaces`, elements of interface-index sets are identified by name.
[[nodiscard]] std::vector<ElementUnit> ElementUnits(
    const nft::Set& set, const std::map<uint32_t, std::string>* interfaces = nullptr);

// Canonical form of a set/map declaration without name, handle and elements (usage values of
// set-level statements dropped). Two named sets are "unchanged" when these are equal.
[[nodiscard]] std::string SetDeclarationKey(const nft::Set& set);

// Computes rule identity keys within one table. A rule's key is the kind and attributes of each
// expression (sorted by attribute name, usage values dropped, nested expressions included),
// with references to ANONYMOUS sets (lookup/dynset "set", objref "set_name") replaced by the
// set's canonical content (declaration + sorted elements), and jumps/gotos to BINDING chains by
// the chain's content, plus the rule comment.
// Handles and positions are never part of a key.
class IdentityContext {
 public:
  // With `interfaces` (the dumped namespace's names by index, Ruleset::interfaces), interface
  // indexes compared by rules (`iif`, `oif`, `fib ... oif`) and held by anonymous ifindex sets
  // count by name: indexes differ between hosts.
  explicit IdentityContext(const nft::Table& table,
                           const std::map<uint32_t, std::string>* interfaces = nullptr);

  [[nodiscard]] std::string RuleKey(const nft::Rule& rule);
  // Key of one expression, as used inside RuleKey.
  [[nodiscard]] std::string ExprKey(const nft::Expr& expr);
  // Canonical content of the named set when it is anonymous; empty when it is not (or unknown).
  [[nodiscard]] const std::string& AnonymousSetContent(const std::string& set_name);
  // Canonical content of the named chain when it is a binding (anonymous, `jump { ... }`)
  // chain: its rules' keys. Empty when it is not. The kernel names binding chains __chainN with
  // an N that differs on every load, so rules jumping to them are keyed by this content.
  [[nodiscard]] const std::string& BindingChainContent(const std::string& chain_name);

 private:
  void AppendExpr(std::string& out, const nft::Expr& expr);

  const std::map<uint32_t, std::string>* interfaces_ = nullptr;
  std::unordered_map<std::string_view, const nft::Set*> sets_;
  std::unordered_map<std::string_view, const nft::Chain*> bindings_;
  std::unordered_map<std::string, std::string> anon_cache_;
  std::unordered_map<std::string, std::string> binding_cache_;
  int binding_depth_ = 0;
};

// True for binding (anonymous) chains: NFT_CHAIN_BINDING.
[[nodiscard]] inline bool IsBindingChain(const nft::Chain& c) { return (c.flags & 4) != 0; }

// What a rule does at its end, for pairing a removed and an added rule as one "change":
// the key of its final verdict-like expression (immediate to the verdict register, reject,
// nat, queue, ...), or "" when the rule ends without one (falls through).
[[nodiscard]] std::string VerdictSignature(IdentityContext& ctx, const nft::Rule& rule);

}  // namespace fwgate::diff
