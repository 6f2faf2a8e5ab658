// fwgate: will the connections open right now survive this firewall reload?
#include <algorithm>
#include <cstdio>
#include <iostream>

#include "base/outcome.h"
#include "cli/command.h"
#include "cli/help.h"
#include "fwgate_version.h"

namespace fwgate::cli {
std::vector<Command>& Registry() {
  static std::vector<Command> commands;
  return commands;
}

namespace {
// The one place an outcome becomes an exit code (DESIGN.md "The command line").
int ExitCodeFor(Outcome o) {
  switch (o) {
    case Outcome::kPass:
      return 0;
    case Outcome::kFail:
      return 1;
    case Outcome::kBadInput:
      return 2;
    case Outcome::kUndecided:
      return 3;
  }
  return 3;
}
}  // namespace
}  // namespace fwgate::cli

namespace {
int Main(int argc, char** argv) {
  using fwgate::cli::Registry;
  CLI::App app{
      "fwgate: will the TCP connections open right now survive this firewall reload?\n"
      "Exit codes: 0 pass, 1 the gate says no, 2 bad input or usage, 3 could not decide.",
      "fwgate"};
  app.require_subcommand(0, 1);
  // The commit is `git describe --always --dirty` at build time, "unknown" from a tarball.
  app.set_version_flag(
      "--version", std::string("fwgate ") + FWGATE_VERSION + " (commit " + FWGATE_GIT_COMMIT + ")");
  auto& commands = Registry();
  std::stable_sort(commands.begin(), commands.end(),
                   [](const auto& a, const auto& b) { return a.order < b.order; });
  std::vector<std::pair<CLI::App*, std::function<fwgate::Outcome()>>> runs;
  for (auto& c : commands) {
    size_t before = app.get_subcommands({}).size();
    auto run = c.setup(app);
    auto subs = app.get_subcommands({});
    if (subs.size() > before) runs.emplace_back(subs.back(), std::move(run));
  }
  // A first word that names no command: suggest the closest one (before CLI11, which would only
  // say the argument was not expected).
  if (argc > 1 && argv[1][0] != '-' && argv[1][0] != '\0') {
    auto known = app.get_subcommands([&](const CLI::App* s) { return s->get_name() == argv[1]; });
    if (known.empty()) {
      std::cerr << fwgate::cli::UnknownCommandMessage(app, argv[1]) << "\n";
      return fwgate::cli::ExitCodeFor(fwgate::Outcome::kBadInput);
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);  // prints the message to stderr
    return fwgate::cli::ExitCodeFor(fwgate::Outcome::kBadInput);
  }
  if (app.get_subcommands().empty()) {
    // No command: the list of commands (a usage error, so on stderr with exit 2).
    std::cerr << app.help();
    return fwgate::cli::ExitCodeFor(fwgate::Outcome::kBadInput);
  }
  for (auto& [sub, run] : runs) {
    if (sub->parsed()) {
      try {
        return fwgate::cli::ExitCodeFor(run());
      } catch (const std::exception& e) {
        std::cerr << "fwgate: internal error: " << e.what() << "\n";
        return fwgate::cli::ExitCodeFor(fwgate::Outcome::kUndecided);
      }
    }
  }
  return fwgate::cli::ExitCodeFor(fwgate::Outcome::kBadInput);
}
}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "fwgate: internal error: " << e.what() << "\n";
  } catch (...) {
    std::cerr << "fwgate: internal error\n";
  }
  return fwgate::cli::ExitCodeFor(fwgate::Outcome::kUndecided);
}
