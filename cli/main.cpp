// fwgate: will the connections open right now survive this firewall reload?
#include <algorithm>
#include <cstdio>
#include <iostream>

#include "base/outcome.h"
#include "cli/command.h"

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
  app.require_subcommand(1);
  app.set_version_flag("--version", "fwgate 0.1.0");
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
