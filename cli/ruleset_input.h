// Ruleset inputs of a command: a file loaded through the kernel, or the live ruleset. On failure
// the diagnostics go to stderr (FILE:LINE:COL with nft's source line) and the outcome says why.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/outcome.h"
#include "base/ruleset.h"
#include "gate/nft/loader.h"

namespace fwgate::cli {

// Loads `path`; nullopt on success (the result in `out`), else the outcome after printing why.
[[nodiscard]] std::optional<Outcome> LoadRulesetOrReport(const std::string& command,
                                                         const std::string& path,
                                                         nft::LoadResult& out,
                                                         const nft::LoadOptions& options = {});

// Loads every file of `paths` concurrently (nft::LoadRulesetFiles) into `out`; reports the
// first file (in order) that failed, as LoadRulesetOrReport does, and returns its outcome.
[[nodiscard]] std::optional<Outcome> LoadRulesetsOrReport(const std::string& command,
                                                          const std::vector<std::string>& paths,
                                                          std::vector<nft::LoadResult>& out,
                                                          const nft::LoadOptions& options = {});

// --include-dir values (DIR or /ABS=DIR) into load options; nullopt on success, else the outcome
// after printing why.
[[nodiscard]] std::optional<Outcome> IncludeDirsOrReport(const std::string& command,
                                                         const std::vector<std::string>& dirs,
                                                         nft::LoadOptions& out);
// Adds the --include-dir option to a subcommand.
void AddIncludeDirOption(CLI::App* sub, std::vector<std::string>& dirs);

// Adds --nft-memory-limit (MiB) and --nft-time-limit (ms): the bounds of every libnftables run
// (docs/limits.md), range-checked.
void AddNftLimitOptions(CLI::App* sub, sys::NftLimits& limits);

// A numeric option's check: a finite number in [lo, hi] (NaN and infinities refused), with the
// valid range in the message.
[[nodiscard]] CLI::Validator FiniteRange(double lo, double hi);

// The live ruleset of this host or of /run/netns/NAME; nullopt on success.
[[nodiscard]] std::optional<Outcome> ReadLiveOrReport(const std::string& command,
                                                      const std::string& netns_name,
                                                      nft::Ruleset& out);

}  // namespace fwgate::cli
