// The one libnftables runner: nft commands or a ruleset file run inside a given network
// namespace, in a child process (a helper role started through sys/spawn.h) with a memory, time
// and output bound, so hostile input ends in a clear error and libnftables' own exit() can
// never take fwgate down. Runs in different children proceed concurrently; no process-wide lock.
// Thread-safety: RunNft may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "sys/netns.h"

namespace fwgate::sys {

// Bounds of one libnftables run (docs/limits.md; `--nft-memory-limit` and friends).
struct NftLimits {
  uint64_t memory_bytes = uint64_t{2} << 30;  // the runner's address space
  std::chrono::milliseconds time{30000};      // wall time (CPU time is bounded to match)
  size_t max_output = size_t{64} << 20;       // nft's output buffer (listings, echo)
  size_t max_errors = size_t{1} << 20;        // nft's error buffer
  // The runner's nice value when lower than the caller's and allowed (SpawnOptions::nice).
  std::optional<int> nice;
};

struct NftRequest {
  std::string text;  // commands or a ruleset, run as a buffer (when `path` is empty)
  // A file nft reads by name (its diagnostics then carry this name and real locations). May be
  // "/proc/self/fd/N" for a descriptor listed in `pass_fds`.
  std::string path;
  std::vector<int> pass_fds;
  // Searched by relative `include` (nft -I); nft's built-in default (/etc) is never searched.
  std::vector<std::string> include_dirs;
  std::string working_dir;   // relative paths (and `include "./x"`) resolve here
  bool check_only = false;   // nft -c: checked by the kernel, nothing committed
  bool echo = false;         // nft -e -a: print what was added, with handles
  bool json_output = false;  // nft -j for the output buffer
  // The input is an `nft -j` JSON ruleset (libnftables 1.0.6 parses input as JSON when the JSON
  // flag is set, so the output buffer is JSON too).
  bool json_input = false;
  NftLimits limits;
};

struct NftResult {
  bool ok = false;     // nft returned success
  std::string output;  // nft's output buffer
  std::string errors;  // nft's error buffer (its diagnostics)
  // Set when the run was ended by a bound ("the memory limit of 2048 MiB"); ok is false.
  std::string limit_hit;
  // When libnftables returned inside the runner (the kernel had answered the transaction), on
  // this process's steady clock; unset when the runner did not say.
  std::optional<std::chrono::steady_clock::time_point> finished;
};

// Runs `request` inside `ns`. Changing the initial (host) namespace is refused (only
// check_only runs are allowed there). An Error only when the runner could not run at all.
[[nodiscard]] Result<NftResult> RunNft(const NetnsHandle& ns, const NftRequest& request);

// The same, applying `text` as one transaction; the error carries nft's diagnostics. When
// `finished` is given, it gets NftResult::finished (the moment the transaction was answered).
[[nodiscard]] Status ApplyNft(
    const NetnsHandle& ns, const std::string& text, const std::string& what,
    const NftLimits& limits = {},
    std::optional<std::chrono::steady_clock::time_point>* finished = nullptr);

}  // namespace fwgate::sys
