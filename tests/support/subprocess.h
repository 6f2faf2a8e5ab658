// Runs a program the way a user would (an argument vector, never a shell) and captures its exit
// code, stdout and stderr. For tests that exercise the built fwgate binary and system tools.
#pragma once

#include <string>
#include <vector>

namespace fwgate::testing {

struct ProcessResult {
  int exit_code = -1;  // 128 + signal when killed; -1 when it could not be started
  std::string out;
  std::string err;
};

// args[0] is an absolute program path. `cwd` (optional) is the child's working directory.
ProcessResult RunProcess(std::vector<std::string> args, const std::string& cwd = {});

// RunProcess with the built fwgate prepended (FWGATE_BINARY).
ProcessResult RunFwgate(std::vector<std::string> args, const std::string& cwd = {});

}  // namespace fwgate::testing
