// Subcommand registry: each cli/*_cmd.cpp registers itself at static-initialisation time, so
// commands are added without touching main.cpp. A command's callback returns its outcome;
// main.cpp is the only place that turns an outcome into an exit code.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "base/outcome.h"

namespace fwgate::cli {

struct Command {
  std::string name;
  int order = 100;  // position in --help
  // Adds the subcommand and its options to `root`; returns the function run when it is chosen.
  std::function<std::function<Outcome()>(CLI::App& root)> setup;
};

std::vector<Command>& Registry();

struct Registrar {
  explicit Registrar(Command c) { Registry().push_back(std::move(c)); }
};

}  // namespace fwgate::cli
