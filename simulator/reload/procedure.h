// Reload procedures (atomic, flush-then-load, the user's own command) and the kernel-behaviour
// emulation steps, as plain values: which nft text/file or command runs, in what order, with what
// pause. Pure; the executor (executor.h) runs the plan inside a node's namespace.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "gate/hazards/kernel_class.h"
#include "sys/ruleset_apply.h"

namespace fwgate::reload {

enum class Style { kAtomic, kFlushThenLoad, kCommand };
[[nodiscard]] std::string_view StyleName(Style s);  // "atomic", "flush-then-load", "command"

struct Procedure {
  Style style = Style::kAtomic;
  // kCommand: the argument vector (never a shell); "{}" in any argument becomes the proposed
  // file's path.
  std::vector<std::string> argv;
  std::chrono::milliseconds gap{1000};         // kFlushThenLoad: time between flush and load
  std::chrono::milliseconds timeout{30000};    // kCommand: killed after this
  [[nodiscard]] std::string Describe() const;  // "flush-then-load (gap 1000 ms)"
};

// "atomic", "flush-then-load", or "command:ARGV..." where ARGV is split on whitespace; single or
// double quotes group words (no expansion, no escapes beyond that). The error lists the forms.
[[nodiscard]] Result<Procedure> ParseProcedure(std::string_view text);

// Whitespace split with quote grouping (the tokenizer ParseProcedure uses). Error on an
// unterminated quote.
[[nodiscard]] Result<std::vector<std::string>> SplitWords(std::string_view text);

// argv with every "{}" occurrence replaced by `path`.
[[nodiscard]] std::vector<std::string> SubstitutePath(const std::vector<std::string>& argv,
                                                      const std::string& path);

struct Step {
  enum class Kind { kNftText, kCommand } kind = Kind::kNftText;
  std::string label;  // "flush", "load proposed", ...
  std::string text;   // kNftText: one transaction
  // kNftText: the format of `text` (the proposed ruleset's own; the emulation's steps are nft).
  sys::RulesetFormat format = sys::RulesetFormat::kNft;
  std::vector<std::string> argv;             // kCommand
  std::string working_dir;                   // kCommand: the proposed file's directory
  std::chrono::milliseconds wait_before{0};  // pause after the previous step
};

// The proposed ruleset as a reload sees it: the text validate loaded (includes resolved), and
// the user's own file for a command's {}.
struct ProposedRuleset {
  std::string text;
  std::string path;  // absolute
  // nft text, an nft JSON ruleset or an iptables-restore file: the load step applies it as
  // production would (nft -f, nft -j -f, iptables-nft-restore), one transaction.
  sys::RulesetFormat format = sys::RulesetFormat::kNft;
};

struct Plan {
  std::vector<Step> steps;
  hazards::Emulation emulation = hazards::Emulation::kNative;  // what actually ran
  std::string note;  // why the emulation had (or had no) effect with this procedure
};

// The steps one node runs.
// - atomic: one transaction with the proposed file (it starts with `flush ruleset`); there is no
//   gap, so every kernel class behaves alike (docs/kernel-conntrack.md §2.3, §7 column A).
// - flush-then-load, native: `flush ruleset`; gap; proposed file.
// - flush-then-load, continuous (<= 4.13, docs/kernel-conntrack.md §2.1): `flush ruleset` plus
//   the pin table in one transaction, so a ct expression stays loaded and tracking never stops;
//   gap; proposed file (its `flush ruleset` drops the pin in the same transaction that adds the
//   new rules).
// - flush-then-load, stale-gap (4.14 - 4.18, docs/kernel-conntrack.md §3.4 [E]): `flush ruleset`
//   plus the pin table plus raw-priority notrack chains in one transaction: hooks stay registered
//   but the node's packets bypass conntrack for the gap; gap; proposed file. Hooks are never
//   re-registered, so no window fix-up runs: the stale state of a 4.15 node.
// - flush-then-load with a proposed file that is not nft text (iptables-restore, JSON): after
//   the load, one more transaction drops the pin and gap tables, which that load leaves.
// - command: the user's argv with {} substituted, run as written (emulation cannot reach inside
//   the user's steps; reported as native with the reason).
[[nodiscard]] Plan PlanReload(const Procedure& procedure, hazards::Emulation emulation,
                              const ProposedRuleset& proposed);

// The pin table: an unhooked chain holding one `ct` expression (a rule that matches nothing
// useful and does nothing), so the netns's conntrack use count stays above zero.
// docs/kernel-conntrack.md §2.1, §2.3.
[[nodiscard]] std::string PinTableText();
// The gap table: notrack in prerouting and output at priority -300 (before conntrack at -200).
[[nodiscard]] std::string GapTableText();

inline constexpr const char* kPinTable = "fwgate_pin";
inline constexpr const char* kGapTable = "fwgate_gap";

}  // namespace fwgate::reload
