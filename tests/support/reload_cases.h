// The fixture table of reload cases (tests/fixtures/reload-cases/cases.json): description,
// rulesets, reload, kernel and be_liberal per node, the verdict the kernel facts predict, and
// where the breakage must be. One table drives the acceptance test, the QEMU cross-check and the
// replay benchmark.
#pragma once

#include <string>
#include <vector>

namespace fwgate::testing {

struct ReloadCase {
  std::string name, description;
  std::string current, proposed;  // absolute paths
  std::string reload;             // --reload, {fixtures} resolved
  std::string kernel;             // --kernel ("" = the lab's own)
  std::string be_liberal;
  std::vector<std::string> args;  // common args, then the case's own
  std::string verdict;            // "survived" | "broken"
  std::vector<std::string> invalid_on, broken_touching, clean, tables_after;
  std::string no_ct_user, users_kept;  // families
  std::string facts;
  bool quick = false, guest = false;
};

// Every case of the table under `source_dir` (the repository root). Aborts the test program with
// a message when the table cannot be read: a broken fixture is a failing suite.
std::vector<ReloadCase> LoadReloadCases(const std::string& source_dir);

// The `fwgate replay` arguments of a case (without the program), ending in --json.
std::vector<std::string> ReplayArgs(const ReloadCase& c);

}  // namespace fwgate::testing
