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

// The git program; "" when git is not installed.
std::string GitProgram();

// `git ARGS` in the work tree `repo`, with a test identity and no commit signing (so that a
// commit needs no user configuration).
ProcessResult RunGit(const std::string& repo, const std::vector<std::string>& args);

}  // namespace fwgate::testing
