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
  // Whether loading it replaces the whole ruleset (a top-level `flush ruleset`); when not, it
  // replaces only `tables` (the tables it creates, "inet storage"), and a two-step reload of it
  // removes only those first (docs/kernel-conntrack.md §2.3: other tables keep their users).
  bool flushes_ruleset = true;
  std::vector<std::string> tables;  // "FAMILY NAME"
};

struct Plan {
  std::vector<Step> steps;
  hazards::Emulation emulation = hazards::Emulation::kNative;  // what the node's emulation is
  std::string note;  // what the procedure does to the node's conntrack users
};

// The steps one node runs. The steps are the user's reload as production runs it; the kernel
// emulation acts around them (simulator/reload/emulation.h), never inside them, and the lab
// follows their commits (simulator/reload/commit_follower.h), so every style is judged by its
// commits (docs/kernel-conntrack.md §7 note (c)).
// - atomic: one transaction with the proposed file; when it starts with `flush ruleset` the use
//   count never touches zero (docs/kernel-conntrack.md §2.3, §7 column A).
// - flush-then-load: first commit `flush ruleset` when the proposed file flushes the ruleset,
//   else the deletion of the tables the file creates (`add table` + `delete table`, so it holds
//   whether or not they exist); gap; the proposed file (§7 column B when no other user stays).
// - command: the user's argv with {} substituted, in the proposed file's directory.
[[nodiscard]] Plan PlanReload(const Procedure& procedure, hazards::Emulation emulation,
                              const ProposedRuleset& proposed);

}  // namespace fwgate::reload
