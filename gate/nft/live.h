// Reading a live ruleset: this host's (the caller's network namespace) or a named namespace's
// (/run/netns/NAME), over netlink. Read-only; never changes anything.
#pragma once

#include <string>

#include "base/result.h"
#include "base/ruleset.h"

namespace fwgate::nft {

// `netns_name` empty: the calling thread's namespace. Errors: bad input for a name that is not
// valid or a namespace that does not exist; unavailable when it cannot be entered or dumped.
[[nodiscard]] Result<Ruleset> ReadLiveRuleset(const std::string& netns_name);

}  // namespace fwgate::nft
