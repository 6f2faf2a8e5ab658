// `fwgate lab list` and `fwgate lab run SCENARIO`: the incidents fwgate was built from,
// reproduced with real packets in network namespaces, each run side by side with the outcome the
// incident report gives it. Exit (run): 0 reproduced, 1 not reproduced, 2 bad input, 3 could not
// run.
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "base/outcome.h"
#include "cli/command.h"
#include "cli/progress.h"
#include "cli/stop_signal.h"
#include "report/scenario_report.h"
#include "simulator/scenarios/run.h"
#include "simulator/scenarios/scenario.h"
#include "sys/netns.h"

namespace fwgate::cli {
namespace {

struct Args {
  std::string scenario;
  std::string scenarios_file;
  std::string rulesets_dir;
  std::string format = "text";
  std::string output_dir;
  bool json = false;
  bool quiet = false;
};

// The bundled table plus the user's (names may not repeat). Errors are bad input.
Result<std::vector<scenarios::Scenario>> LoadTable(const Args& a) {
  auto table = scenarios::ParseScenarios(scenarios::BundledScenarios(), "bundled scenarios");
  if (!table) return table.error();
  if (a.scenarios_file.empty()) return table;
  std::ifstream in(a.scenarios_file, std::ios::binary);
  if (!in) return Error::BadInput(a.scenarios_file + ": cannot be read");
  std::string text;
  constexpr size_t kMaxTable = 1 << 20;
  text.resize(kMaxTable + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxTable) return Error::BadInput(a.scenarios_file + ": larger than 1 MiB");
  auto user = scenarios::ParseScenarios(text, a.scenarios_file);
  if (!user) return user.error();
  for (auto& s : *user) {
    for (const auto& b : *table) {
      if (b.name == s.name) {
        return Error::BadInput(a.scenarios_file + ": scenario '" + s.name +
                               "' is already a bundled scenario");
      }
    }
    table->push_back(std::move(s));
  }
  return table;
}

// Where a scenario's ruleset names resolve: --rulesets, else the installed examples, else the
// source tree's.
std::string RulesetsDir(const Args& a) {
  if (!a.rulesets_dir.empty()) return a.rulesets_dir;
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto installed = exe.parent_path().parent_path() / "share/fwgate/rulesets";
    if (std::filesystem::is_directory(installed, ec)) return installed.string();
  }
  return FWGATE_RULESETS_DIR;
}

Outcome List(const Args& a) {
  auto table = LoadTable(a);
  if (!table) {
    std::cerr << "fwgate: " << table.error().context << "\n";
    return Outcome::kBadInput;
  }
  if (a.json) {
    std::cout << report::ScenarioListJson(*table).dump(2) << "\n";
  } else {
    std::cout << report::ScenarioListText(*table);
  }
  return Outcome::kPass;
}

Outcome Run(const Args& a) {
  const std::atomic<bool>* stop = InstallStopHandlers();
  auto table = LoadTable(a);
  if (!table) {
    std::cerr << "fwgate: " << table.error().context << "\n";
    return Outcome::kBadInput;
  }
  const scenarios::Scenario* chosen = nullptr;
  std::string names;
  for (const auto& s : *table) {
    if (s.name == a.scenario) chosen = &s;
    names += (names.empty() ? "" : ", ") + s.name;
  }
  if (chosen == nullptr) {
    std::cerr << "fwgate: lab: no scenario '" << a.scenario << "' (known: " << names << ")\n";
    return Outcome::kBadInput;
  }
  if (!a.output_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(a.output_dir, ec);
    if (ec || !std::filesystem::is_directory(a.output_dir)) {
      std::cerr << "fwgate: lab: --output-dir " << a.output_dir << ": cannot be created\n";
      return Outcome::kBadInput;
    }
  }
  if (auto st = sys::CanCreateNamespaces(); !st) {
    std::cerr << "fwgate: could not run: " << st.error().ToString() << "\n";
    return Outcome::kUndecided;
  }
  Progress progress("lab", a.quiet);
  scenarios::RunOptions o;
  o.rulesets_dir = RulesetsDir(a);
  o.stop = stop;
  if (progress.enabled()) o.progress = [&](const std::string& s) { progress.Say(s); };
  auto result = scenarios::RunScenario(*chosen, o);
  if (!result) {
    if (result.error().kind == ErrorKind::kBadInput) {
      std::cerr << "fwgate: " << result.error().ToString() << "\n";
      return Outcome::kBadInput;
    }
    std::cerr << "fwgate: could not run scenario " << chosen->name << ": "
              << result.error().ToString() << "\n";
    return Outcome::kUndecided;
  }
  std::string body;
  std::string ext;
  if (a.json) {
    body = report::ScenarioToJson(*result).dump(2) + "\n";
    ext = ".json";
  } else if (a.format == "html") {
    body = report::ScenarioToHtml(*result);
    ext = ".html";
  } else if (a.format == "markdown") {
    body = report::ScenarioToMarkdown(*result);
    ext = ".md";
  } else {
    body = report::ScenarioToText(*result);
    ext = ".txt";
  }
  if (a.output_dir.empty()) {
    std::cout << body;
  } else {
    std::string path = (std::filesystem::path(a.output_dir) / (chosen->name + ext)).string();
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << body;
    if (!out.flush()) {
      std::cerr << "fwgate: lab: cannot write " << path << "\n";
      return Outcome::kUndecided;
    }
    std::cout << result->verdict << ": " << result->reason << "\nwritten: " << path << "\n";
  }
  if (result->outcome == Outcome::kUndecided) {
    std::cerr << "fwgate: could not run: " << result->reason << "\n";
  }
  return result->outcome;
}

const Registrar kLab{Command{
    "lab", 45, [](CLI::App& root) -> std::function<Outcome()> {
      auto* sub = root.add_subcommand(
          "lab",
          "Lab scenarios: the incidents fwgate was built from (the 2019 reload on 4.15 nodes, "
          "the 2014 restart storm that filled the conntrack table) reproduced with real packets "
          "in network namespaces, side by side with their fixes.\nExit (run): 0 reproduced, 1 not "
          "reproduced, 2 bad input, 3 could not run.");
      sub->require_subcommand(1, 1);
      auto a = std::make_shared<Args>();
      auto* list = sub->add_subcommand("list", "The scenarios and their runs");
      list->add_flag("--json", a->json, "JSON on stdout");
      list->add_option("--scenarios", a->scenarios_file,
                       "Your own scenario table (JSON, docs/lab-scenarios.md), added to the "
                       "bundled one")
          ->type_name("FILE");
      auto* run = sub->add_subcommand("run", "Run a scenario's runs and judge each");
      run->add_option("scenario", a->scenario, "Scenario name (see `fwgate lab list`)")->required();
      run->add_flag("--json", a->json, "JSON report on stdout (or in --output-dir)");
      run->add_option("--format", a->format,
                      "text | markdown | html (a self-contained page with inline SVG charts)")
          ->capture_default_str()
          ->check(CLI::IsMember({"text", "markdown", "html"}));
      run->add_option("--output-dir", a->output_dir,
                      "Write the report to DIR/SCENARIO.{txt,md,html,json} instead of stdout")
          ->type_name("DIR");
      run->add_option("--scenarios", a->scenarios_file,
                      "Your own scenario table (JSON, docs/lab-scenarios.md), added to the "
                      "bundled one")
          ->type_name("FILE");
      run->add_option("--rulesets", a->rulesets_dir,
                      "Directory a scenario's ruleset names resolve in (default: the bundled "
                      "example rulesets)")
          ->type_name("DIR");
      run->add_flag("--quiet", a->quiet,
                    "No progress on stderr (shown only when stderr is a terminal)");
      return [a, list]() -> Outcome { return list->parsed() ? List(*a) : Run(*a); };
    }}};

}  // namespace
}  // namespace fwgate::cli
