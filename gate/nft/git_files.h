// Ruleset files at a git revision: the tree of `REV` in the repository a file is in, read with
// git itself (through sys/spawn.h), so a base ruleset resolves its includes from its own
// revision, never from the working tree. Thread-safety: one object per thread.
#pragma once

#include <memory>
#include <string>

#include "base/result.h"
#include "gate/nft/source.h"

namespace fwgate::nft {

// The top-level directory of the git work tree `path` is in; bad input when it is in none.
[[nodiscard]] Result<std::string> GitTopLevel(const std::string& path);

// The files of revision `rev` of the repository at `toplevel`, addressed by their work-tree
// paths (toplevel + "/" + path in the tree); diagnostics name them "REV:path". Bad input when
// `rev` names no commit.
[[nodiscard]] Result<std::unique_ptr<RulesetFiles>> GitRevisionFiles(const std::string& toplevel,
                                                                     const std::string& rev);

}  // namespace fwgate::nft
