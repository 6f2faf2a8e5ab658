// The exit codes every fwgate command uses (DESIGN.md, "The command line").
#pragma once

namespace fwgate {

enum ExitCode : int {
  kExitPass = 0,        // no breakage, no blocking finding
  kExitFail = 1,        // the gate says no
  kExitBadInput = 2,    // usage error or bad input (ruleset, inventory, flag)
  kExitUndecided = 3,   // could not decide: unreachable, no privilege, tool missing
};

}  // namespace fwgate
