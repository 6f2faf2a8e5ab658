// Reading the live ruleset for a command: the host namespace, or a named one (/run/netns/NAME),
// with the documented exit codes on failure (2 for a namespace that is not there, 3 otherwise).
#pragma once

#include <optional>
#include <string>

#include "gate/nft/ruleset.h"

namespace fwgate::cli {

// Dumps into `out`; on failure prints "fwgate: COMMAND: ..." to stderr and returns the exit code.
std::optional<int> DumpLive(const std::string& command, const std::string& netns_name,
                            nft::Ruleset& out);

}  // namespace fwgate::cli
