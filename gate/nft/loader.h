// Loads an nftables ruleset file through the kernel: nft's own parser (libnftables) runs inside a
// throwaway network namespace, then the result is dumped over netlink. The kernel is the validator,
// so everything nft accepts works (define, include relative to the file, anonymous sets). Nothing
// is applied anywhere but the throwaway namespace, which vanishes when the call returns.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/outcome.h"
#include "base/result.h"
#include "base/ruleset.h"

namespace fwgate::nft {

// One diagnostic nft printed: FILE:LINE:COL: message (line/col 1-based; 0 when unknown).
struct Diagnostic {
  std::string file;
  int line = 0;
  int column = 0;
  std::string message;
  [[nodiscard]] std::string ToString() const;  // "file:12:5: Error: syntax error, ..."

  int end_column = 0;       // last column nft underlined (same line); 0 when unknown
  std::string source_line;  // the source line nft echoed under the message; empty when none
  // The text nft underlined (source_line[column-1 .. end_column-1]); empty when unknown.
  [[nodiscard]] std::string LocatedText() const;
  // "FILE:LINE:COL: message" plus nft's source and caret lines when it printed them.
  [[nodiscard]] std::string ToStringWithContext() const;
};

enum class LoadStatus {
  kOk,           // the kernel accepted the file
  kInvalid,      // the file is wrong (syntax, semantics, unreadable): exit 2
  kUnsupported,  // valid nft, but needs something this kernel lacks (e.g. secmark without an
                 // LSM, an expression built out of the kernel): exit 3
  kNoPrivilege,  // could not create the throwaway namespace: exit 3
};

struct LoadResult {
  LoadStatus status = LoadStatus::kInvalid;
  Ruleset ruleset;                                  // when kOk
  std::vector<Diagnostic> diagnostics;              // when not kOk (and warnings when kOk)
  std::vector<std::string> placeholder_interfaces;  // links created so the file could load
  // Tables the file deletes or flushes without creating them first ("delete table filter", as
  // a host with that table already loaded accepts): created empty first, as "family name".
  std::vector<std::string> placeholder_tables;
  std::string reason;  // one-line summary when not kOk
};

// Limits of a load; the defaults suit any real host's ruleset.
struct LoadOptions {
  // Files larger than this are refused before the kernel sees them.
  size_t max_file_bytes = size_t{32} << 20;
  // Interfaces the file names (iif/oif/device/devices) get placeholder links in the throwaway
  // namespace so a ruleset written for a real host validates; at most this many...
  size_t max_placeholders = 64;
  // ...discovered over at most this many nft runs (the pre-scan, then nft's own
  // "Interface does not exist" errors, one per run and set).
  int max_rounds = 8;
  bool create_placeholders = true;
  // Directory `include "x.nft"` is resolved against (LoadRulesetFile: the file's directory).
  std::string include_dir;
};

// Loads `path` into a fresh namespace and dumps it. Never throws; never touches the caller's
// namespace. Calls are serialised process-wide (libnftables keeps a global interface cache).
[[nodiscard]] LoadResult LoadRulesetFile(const std::string& path);
[[nodiscard]] LoadResult LoadRulesetFile(const std::string& path, const LoadOptions& options);

// Same for text held in memory; `display_name` is used in diagnostics.
[[nodiscard]] LoadResult LoadRulesetText(const std::string& text,
                                         const std::string& display_name = "<text>");
[[nodiscard]] LoadResult LoadRulesetText(const std::string& text, const std::string& display_name,
                                         const LoadOptions& options);

std::string_view LoadStatusName(LoadStatus status);  // "ok", "invalid", "unsupported", ...
// ok: pass; invalid: bad input; unsupported or no privilege: undecided.
[[nodiscard]] Outcome OutcomeOf(LoadStatus status);

// --- Pure helpers (no kernel), exposed for tests. ---

// nft's error text (`FILE:LINE:COL-COL: Error: msg`, then the source line and a caret line;
// `internal:0:0-0:` and bare `Error: ...` lines have no location) to diagnostics. Location-less
// diagnostics get `default_file`. Never throws, whatever the text.
[[nodiscard]] std::vector<Diagnostic> ParseNftErrors(std::string_view text,
                                                     std::string_view default_file);

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

// Interface names the text binds to: arguments of iif/oif/device/devices, through `define`d
// variables and anonymous sets. Only names that are valid Linux interface names; no duplicates,
// in order of appearance.
[[nodiscard]] std::vector<std::string> ScanInterfaceNames(std::string_view text);

// Interface names nft's "Interface does not exist" diagnostics point at (quotes removed).
[[nodiscard]] std::vector<std::string> MissingInterfacesFromDiagnostics(
    const std::vector<Diagnostic>& diagnostics);

// Tables that `delete table`/`flush table` commands failed on because they do not exist, as
// "family name" (family defaults to ip, as in nft).
[[nodiscard]] std::vector<std::string> MissingTablesFromDiagnostics(
    const std::vector<Diagnostic>& diagnostics);

// Why the kernel could not load a valid file (secmark without an LSM, EOPNOTSUPP, a missing
// expression module); nullopt for diagnostics that mean the file itself is wrong.
[[nodiscard]] std::optional<std::string> UnsupportedReason(const Diagnostic& diagnostic);

}  // namespace fwgate::nft
