// Loads an nftables ruleset through the kernel: fwgate resolves the file's includes itself
// (gate/nft/source.h: confined, bounded), nft's own parser (libnftables, in a bounded child
// process, sys/nft_runner.h) loads the result inside a throwaway network namespace, and the
// kernel's ruleset is dumped back over netlink with each rule's source location. The kernel is
// the validator, so everything nft accepts works (define, include, anonymous sets). Nothing is
// applied anywhere but the throwaway namespace, which vanishes when the call returns. The same
// loaded ruleset (its flat text and the placeholders it needed) is what the lab loads into its
// nodes, so validate, diff and replay can never disagree on a file. Thread-safety: reentrant;
// loads run concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/outcome.h"
#include "base/result.h"
#include "base/ruleset.h"
#include "gate/nft/diagnostics.h"
#include "gate/nft/interface_scan.h"
#include "gate/nft/rule_locations.h"
#include "gate/nft/source.h"
#include "sys/nft_runner.h"
#include "sys/ruleset_apply.h"

namespace fwgate::nft {

enum class LoadStatus {
  kOk,           // the kernel accepted the file
  kInvalid,      // the file is wrong (syntax, semantics, unreadable, over a bound): exit 2
  kUnsupported,  // valid nft, but needs something this kernel lacks (e.g. secmark without an
                 // LSM, an expression built out of the kernel), or more interfaces than the
                 // placeholder limit: exit 3
  kNoPrivilege,  // could not create the throwaway namespace: exit 3
};

struct LoadResult {
  LoadStatus status = LoadStatus::kInvalid;
  Ruleset ruleset;                                  // when kOk
  SourceMap sources;                                // when kOk: where tables/chains/rules are
  std::vector<Diagnostic> diagnostics;              // when not kOk (and warnings when kOk)
  std::vector<std::string> placeholder_interfaces;  // links created so the file could load
  // Tables the file deletes or flushes without creating them first ("delete table filter", as
  // a host with that table already loaded accepts): created empty first, as "family name".
  std::vector<std::string> placeholder_tables;
  std::string reason;  // one-line summary when not kOk
  // What nft loaded: the file with its includes resolved, and where each line came from. The
  // lab loads exactly this text.
  std::shared_ptr<const FlatText> flat;
  std::string display_name;  // the file as the user named it
  // The input format, told from the content (gate/nft/input_format.h). nft text is flattened
  // (includes resolved) and located; an `nft -j` JSON ruleset is loaded by libnftables' JSON
  // parser and an iptables-restore file by (ip6)iptables-nft-restore, both as the file is (they
  // have no includes; `sources` stays empty). `flat` is then the file's own text, and
  // LoadIntoNamespace loads it the same way.
  sys::RulesetFormat format = sys::RulesetFormat::kNft;
};

// Limits and inputs of a load; the defaults suit any real host's ruleset (docs/limits.md).
struct LoadOptions {
  // Whole ruleset (the file and everything it includes) larger than this is refused.
  size_t max_file_bytes = size_t{32} << 20;
  // Interfaces the file names (iif/oif/device/devices) get placeholder links in the throwaway
  // namespace so a ruleset written for a real host validates; at most this many (more: exit 3,
  // the limit named)...
  size_t max_placeholders = 1024;
  // ...discovered over at most this many nft runs (the pre-scan, then nft's own
  // "Interface does not exist" errors, one per run and set).
  int max_rounds = 8;
  bool create_placeholders = true;
  // Searched by relative includes after the file's own directory; "/ABS=DIR" entries map
  // absolute includes (nft -I, `--include-dir`).
  std::vector<IncludeDir> include_dirs;
  // Where the files come from (default: the disk, confined to the file's directory tree, its
  // git work tree if it is in one, and the include directories).
  RulesetFiles* files = nullptr;
  // Bounds of each libnftables run.
  sys::NftLimits nft;
  // Dump the loaded ruleset back (the model); validate without --json can skip it.
  bool dump = true;
  // Match rules to their source lines: by handle order from the dump, or (files with anonymous
  // chains) from nft --echo, which costs nft a listing of the added rules.
  bool locate = true;
  // Dump only the outline (sys::DumpOptions::outline_only: tables, chains, sets without
  // elements, rules without expressions) and locate nothing: what counting needs (validate).
  bool outline_only = false;
};

// Loads `path` into a fresh namespace and dumps it. Never throws; never touches the caller's
// namespace.
[[nodiscard]] LoadResult LoadRulesetFile(const std::string& path);
[[nodiscard]] LoadResult LoadRulesetFile(const std::string& path, const LoadOptions& options);

// Loads every file of `paths` as LoadRulesetFile does, up to `parallel` at once (0: one per
// CPU, at most 8), each in its own namespace; results in the order of `paths`.
[[nodiscard]] std::vector<LoadResult> LoadRulesetFiles(const std::vector<std::string>& paths,
                                                       const LoadOptions& options,
                                                       size_t parallel = 0);

// Same for text held in memory; `display_name` is used in diagnostics; includes resolve against
// the current directory and options.include_dirs.
[[nodiscard]] LoadResult LoadRulesetText(const std::string& text,
                                         const std::string& display_name = "<text>");
[[nodiscard]] LoadResult LoadRulesetText(const std::string& text, const std::string& display_name,
                                         const LoadOptions& options);

std::string_view LoadStatusName(LoadStatus status);  // "ok", "invalid", "unsupported", ...
// ok: pass; invalid: bad input; unsupported or no privilege: undecided.
[[nodiscard]] Outcome OutcomeOf(LoadStatus status);

// Loads `loaded.flat` (a ruleset a LoadRuleset* call accepted) into `ns` as one transaction, in
// its format (nft text, JSON, iptables-restore), creating its placeholder interfaces and tables
// there first: how the lab's nodes load the rulesets validate accepted.
[[nodiscard]] Status LoadIntoNamespace(const sys::NetnsHandle& ns, const LoadResult& loaded,
                                       const sys::NftLimits& limits = {});
// The placeholder links and tables `loaded` needed, created in `ns`.
[[nodiscard]] Status CreatePlaceholders(const sys::NetnsHandle& ns, const LoadResult& loaded);

// --- Pure helpers (no kernel), exposed for tests. ---

// Checks made before the kernel is involved: the file exists, is a regular readable file, is not
// larger than `max_bytes`, is text (UTF-8, no NUL) and has something besides comments. Returns
// the content, or a kInvalid result whose single diagnostic reads "FILE: message".
struct PrecheckedFile {
  std::string content;
};
[[nodiscard]] std::variant<PrecheckedFile, LoadResult> PrecheckRulesetFile(
    const std::string& path, size_t max_bytes = size_t{32} << 20);
// The same content checks for text in memory (empty/comment-only, binary, too large).
[[nodiscard]] std::optional<LoadResult> PrecheckRulesetText(std::string_view text,
                                                            std::string_view display_name,
                                                            size_t max_bytes = size_t{32} << 20);

// The directories a file's includes may be read from by default: its git work tree when it is
// in one, else its own directory.
[[nodiscard]] std::string DefaultIncludeRoot(const std::string& path);

}  // namespace fwgate::nft
