// The POSIX sh probe sent to a node on stdin (`sh -s`), and the pure parser of its sectioned
// output into NodeFacts. Nothing is installed on the node; the script only reads, with a handful
// of process launches (one awk for all the conntrack sysctls).
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"
#include "gate/probe/facts.h"

namespace fwgate::probe {

// Output larger than this is refused (a real probe prints well under 1 MiB plus the ruleset).
inline constexpr size_t kMaxProbeOutput = 32u << 20;

// The script. Sections are delimited by lines "==fwgate:NONCE:section NAME==" so text inside a
// section (a ruleset comment, say) cannot forge one. `nonce` must be [A-Za-z0-9]{8,64}.
[[nodiscard]] std::string ProbeScript(std::string_view nonce);

// A fresh random nonce for one run.
[[nodiscard]] std::string NewNonce();

// Parses the script's output. Missing sections leave facts unset and say so in `error`;
// output without the end marker (truncated) or without the version section is an error.
// `facts.name`/`transport` are left to the caller. Hostile text gives an error, never a crash.
[[nodiscard]] Result<NodeFacts> ParseProbeOutput(std::string_view text, std::string_view nonce);

}  // namespace fwgate::probe
