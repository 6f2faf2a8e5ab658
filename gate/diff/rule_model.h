// The traffic model of a ruleset: each rule's expressions compiled into steps over the header
// space (matches, field rewrites, verdicts, jumps, verdict maps), and the base chains each packet
// path traverses in kernel order. What fwgate does not model is kept as "unknown": a match whose
// outcome fwgate cannot tell (decided per packet by a named condition), or a verdict it cannot
// predict; never a guess. A Model belongs to one thread (it compiles rules lazily).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/ruleset.h"
#include "gate/diff/header_space.h"

namespace fwgate::traffic {

// How a packet meets the host: delivered to it, routed through it, or sent by it.
enum class Path : uint8_t { kInput, kForward, kOutput };
inline constexpr std::array<Path, 3> kPaths = {Path::kInput, Path::kForward, Path::kOutput};
[[nodiscard]] std::string_view PathName(Path p);  // "input", "forward", "output"

// Netfilter hooks in path order (NF_INET_* numbering for the inet hooks).
enum class Hook : uint8_t {
  kIngress,
  kPrerouting,
  kInput,
  kForward,
  kOutput,
  kPostrouting,
  kEgress
};
[[nodiscard]] std::string_view HookText(Hook h);  // "ingress", "prerouting", ...
[[nodiscard]] const std::vector<Hook>& HooksOf(Path p);

enum class VerdictKind : uint8_t { kAccept, kDrop, kReject, kQueue, kUnknown };
[[nodiscard]] std::string_view VerdictName(VerdictKind k);  // "accept", "drop", ...

// A final verdict. `key` names the detail for queue (queue number and flags) and unknown
// verdicts (what could not be predicted), as an id in the comparison's KeyTable.
struct Verdict {
  VerdictKind kind = VerdictKind::kAccept;
  uint32_t key = 0;
  bool operator==(const Verdict&) const = default;
};

// Names of unknown conditions and verdicts, shared by the two models of a comparison so that
// the same unmodelled expression has the same id on both sides.
class KeyTable {
 public:
  // The id of `key` (a canonical form of the expression), remembering `description` (what a
  // user reads: "limit rate 10/second") the first time.
  uint32_t Intern(const std::string& key, const std::string& description);
  [[nodiscard]] const std::string& Describe(uint32_t id) const;
  [[nodiscard]] size_t size() const { return descriptions_.size(); }

 private:
  std::unordered_map<std::string, uint32_t> ids_;
  std::vector<std::string> descriptions_{""};  // id 0: none
};

// One condition: packets where it holds, and packets where it may or may not hold (decided by
// condition `key`, the same for every packet that reaches it). Both spaces are disjoint unions.
struct Atom {
  Space sat;
  Space unknown;
  uint32_t key = 0;
  [[nodiscard]] bool known() const { return unknown.empty(); }
};

enum class StepKind : uint8_t {
  kMatch,        // atom: the rest of the rule runs only where it holds
  kSetField,     // field := value for the rest of the path (meta mark set 0x1)
  kForgetField,  // field := something fwgate cannot tell (key names it)
  kNotrack,      // the packet becomes untracked
  kTranslate,    // NAT: headers rewritten (key), verdict accept for this chain
  kVerdict,      // accept/drop/reject/queue/unknown: ends the rule
  kJump,
  kGoto,
  kReturn,
  kVmap,  // a verdict map: each branch's keys take its verdict; others fall through
};

struct Branch {
  Space keys;
  StepKind kind = StepKind::kVerdict;  // kVerdict, kJump, kGoto, kReturn, or kMatch (continue)
  Verdict verdict;
  int32_t chain = -1;
};

struct Step {
  StepKind kind = StepKind::kMatch;
  Atom atom;                     // kMatch; kVmap: the unknown part of the lookup
  Field field = Field::kMark;    // kSetField / kForgetField
  u128 value = 0;                // kSetField
  uint32_t key = 0;              // kForgetField, kTranslate
  Verdict verdict;               // kVerdict
  int32_t chain = -1;            // kJump / kGoto: index into Model::chains()
  std::vector<Branch> branches;  // kVmap
};

struct CompiledRule {
  std::vector<Step> steps;
  // Fields a step of this rule rewrites (bit per Field); translations set saddr/daddr/ports.
  uint32_t rewrites = 0;
};

// A chain of the ruleset as the model sees it.
struct ModelChain {
  size_t table = 0;  // index into Ruleset::tables
  const nft::Chain* chain = nullptr;
  bool base = false;
  Hook hook = Hook::kInput;
  bool hooked = false;  // a base chain on a hook of the modelled paths
  int32_t priority = 0;
  VerdictKind policy = VerdictKind::kAccept;
  bool nat = false;            // type nat: runs for new (and related) connections only
  bool pre_conntrack = false;  // runs before conntrack assigns a state: ct state reads invalid
  bool v4 = true, v6 = true;   // which families the table sees
  std::vector<std::string> devices;  // netdev ingress/egress devices
};

struct ModelOptions {
  // Interface names by index, for iif/oif matches (the kernel stores indexes).
  std::map<uint32_t, std::string> interface_names;
  // A set whose matching space holds more than this many boxes makes its lookup unknown.
  size_t max_set_boxes = 1u << 16;
  // A masked compare whose value set needs more intervals than this is unknown.
  size_t max_pattern_intervals = 4096;
};

class Model {
 public:
  Model(const nft::Ruleset& ruleset, KeyTable& keys, ModelOptions options = {});

  [[nodiscard]] const nft::Ruleset& ruleset() const { return rs_; }
  [[nodiscard]] const std::vector<ModelChain>& chains() const { return chains_; }
  [[nodiscard]] int32_t FindChain(size_t table, std::string_view name) const;
  // The base chains a packet of family `v6` meets on hook `h`, in kernel order (priority, then
  // table order).
  [[nodiscard]] std::vector<int32_t> BaseChains(Hook h, bool v6) const;
  // Rule `rule` of chain `chain` compiled for IPv4 (v6 false) or IPv6 packets.
  const CompiledRule& Rule(int32_t chain, size_t rule, bool v6);
  // Fields any rule (in a hooked or reachable chain) rewrites.
  [[nodiscard]] uint32_t rewritten_fields();
  // Where the lookups of `rule` into set `set_name` find one of `elements` (as if the set held
  // only them), ignoring the rule's other matches and lookup inversion: the packets whose
  // lookup result a change of those elements can affect.
  [[nodiscard]] Space LookupKeys(int32_t chain, size_t rule, bool v6, const std::string& set_name,
                                 const std::vector<nft::SetElement>& elements);
  // Whether the rule references set `set_name` (lookup, map, vmap, dynset, object map).
  [[nodiscard]] static bool References(const nft::Rule& rule, const std::string& set_name);
  [[nodiscard]] KeyTable& keys() { return keys_; }
  [[nodiscard]] const ModelOptions& options() const { return options_; }

 private:
  const nft::Ruleset& rs_;
  KeyTable& keys_;
  ModelOptions options_;
  std::vector<ModelChain> chains_;
  std::map<std::pair<size_t, std::string>, int32_t, std::less<>> by_name_;
  // compiled_[v6][chain][rule]
  std::array<std::vector<std::vector<std::unique_ptr<CompiledRule>>>, 2> compiled_;
  std::vector<std::vector<bool>> dynamic_sets_;  // per table, per set: updated by rules
  std::optional<uint32_t> rewritten_;
  uint32_t tcp_key_ = 0;
  friend class RuleCompiler;
};

// The elements of a set as closed intervals of key bytes: for each element, the first and last
// key it matches (equal for plain elements), in the kernel's order semantics (interval sets:
// start/end pairs; concatenations: per-field ranges); catch-all elements flagged.
struct ElementRange {
  nft::Bytes lo, hi;
  const nft::SetElement* element = nullptr;  // the start element (data, verdict)
  bool catchall = false;
};
[[nodiscard]] std::vector<ElementRange> ElementRanges(const nft::Set& set,
                                                      const std::vector<nft::SetElement>& elements);

// Key of an expression for naming unknown conditions (kind and attributes, usage values left
// out, anonymous set names replaced by their content).
[[nodiscard]] std::string ExprIdentity(const nft::Table& table, const nft::Expr& expr);

}  // namespace fwgate::traffic
