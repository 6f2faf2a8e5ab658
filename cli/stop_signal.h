// SIGINT and SIGTERM for the commands that run a lab (check, replay, lab run): instead of ending
// the process they set one flag the run polls, so it tears its namespaces down and exits 3.
// SIGPIPE is ignored (a closed output pipe is an error to report, not a reason to leave the lab).
#pragma once

#include <atomic>

namespace fwgate::cli {

// Installs the handlers (idempotent) and returns the flag they set.
const std::atomic<bool>* InstallStopHandlers();

}  // namespace fwgate::cli
