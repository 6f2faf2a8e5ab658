// Loads an nftables ruleset file through the kernel: nft's own parser (libnftables) runs inside a
// throwaway network namespace, then the result is dumped over netlink. The kernel is the validator,
// so everything nft accepts works (define, include relative to the file, anonymous sets). Nothing
// is applied anywhere but the throwaway namespace, which vanishes when the call returns.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "gate/nft/ruleset.h"

namespace fwgate::nft {

// One diagnostic nft printed: FILE:LINE:COL: message (line/col 1-based; 0 when unknown).
struct Diagnostic {
  std::string file;
  int line = 0;
  int column = 0;
  std::string message;
  [[nodiscard]] std::string ToString() const;  // "file:12:5: Error: syntax error, ..."
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
  Ruleset ruleset;                       // when kOk
  std::vector<Diagnostic> diagnostics;   // when not kOk (and warnings when kOk)
  std::vector<std::string> placeholder_interfaces;  // links created so the file could load
  std::string reason;                    // one-line summary when not kOk
};

// Loads `path` into a fresh namespace and dumps it. Never throws; never touches the caller's
// namespace.
[[nodiscard]] LoadResult LoadRulesetFile(const std::string& path);

// Same for text held in memory; `display_name` is used in diagnostics.
[[nodiscard]] LoadResult LoadRulesetText(const std::string& text,
                                         const std::string& display_name = "<text>");

}  // namespace fwgate::nft
