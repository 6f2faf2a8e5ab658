// `fwgate diff --current FILE | --live [--netns NAME] --proposed FILE [--json] [--exit-code]`:
// the structural plan of what would change if the proposed ruleset replaced the current one.
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <memory>

#include "base/outcome.h"
#include "cli/command.h"
#include "cli/ruleset_input.h"
#include "gate/diff/diff.h"
#include "gate/nft/loader.h"
#include "report/diff_report.h"

namespace fwgate::cli {
namespace {

struct DiffArgs {
  std::string current, proposed, netns;
  std::vector<std::string> include_dirs;
  sys::NftLimits nft_limits;
  bool live = false, json = false, exit_code = false;
};

Outcome RunDiff(const DiffArgs& a) {
  auto usage = [](const std::string& msg) {
    std::cerr << "fwgate: diff: " << msg << "\nRun 'fwgate diff --help' for usage.\n";
    return Outcome::kBadInput;
  };
  if (a.current.empty() == !a.live) {
    return usage(a.live ? "give either --current FILE or --live, not both"
                        : "give the current ruleset: --current FILE or --live");
  }
  if (!a.netns.empty() && !a.live) return usage("--netns only goes with --live");
  if (a.proposed.empty()) return usage("--proposed FILE is required");

  nft::LoadOptions options;
  options.nft = a.nft_limits;
  if (auto bad = IncludeDirsOrReport("diff", a.include_dirs, options)) return *bad;
  nft::Ruleset current;
  nft::LoadResult cur, prop;
  if (a.live) {
    if (auto o = ReadLiveOrReport("diff", a.netns, current)) return *o;
  } else {
    if (auto o = LoadRulesetOrReport("diff", a.current, cur, options)) return *o;
    current = std::move(cur.ruleset);
  }
  if (auto o = LoadRulesetOrReport("diff", a.proposed, prop, options)) return *o;
  const nft::Ruleset& proposed = prop.ruleset;

  diff::Plan plan = diff::DiffRulesets(current, proposed);
  if (a.json) {
    std::cout << report::PlanToJson(plan).dump(2) << "\n";
  } else {
    bool colour = isatty(STDOUT_FILENO) == 1 && std::getenv("NO_COLOR") == nullptr;
    std::cout << report::PlanToText(plan, colour);
  }
  std::cout.flush();
  return a.exit_code && !plan.empty() ? Outcome::kFail : Outcome::kPass;
}

const Registrar kDiff{Command{
    "diff", 20, [](CLI::App& root) -> std::function<Outcome()> {
      auto* sub = root.add_subcommand(
          "diff",
          "Show what would change (plan-style) if the proposed ruleset replaced the current one");
      auto args = std::make_shared<DiffArgs>();
      sub->add_option("--current", args->current,
                      "Current ruleset file (loaded through the kernel in a throwaway namespace)")
          ->type_name("FILE");
      sub->add_flag("--live", args->live,
                    "Use the live ruleset of this host (or of --netns NAME) as the current one");
      sub->add_option("--netns", args->netns,
                      "With --live: named network namespace (/run/netns/NAME)")
          ->type_name("NAME");
      sub->add_option("--proposed", args->proposed, "Proposed ruleset file")->type_name("FILE");
      sub->add_flag("--json", args->json, "Machine-readable output (stable JSON contract)");
      AddIncludeDirOption(sub, args->include_dirs);
      AddNftLimitOptions(sub, args->nft_limits);
      sub->add_flag("--exit-code", args->exit_code,
                    "Exit 1 when there are changes (like git diff --exit-code)");
      sub->footer(
          "Marks: + add, - remove, ~ change (before, then → after), > move (rule kept, new "
          "place).\n"
          "Rules are matched by content, not handle; counter/quota values are ignored.\n"
          "Exit codes: 0 the plan was computed, whether or not there are changes (it is a plan,\n"
          "not a gate; with --exit-code: 1 when there are changes), 2 bad input or usage\n"
          "(unloadable file, unknown namespace), 3 could not decide (no privilege, kernel lacks a\n"
          "feature the file needs).\n"
          "Colour only when stdout is a terminal and NO_COLOR is unset.");
      return [args] { return RunDiff(*args); };
    }}};

}  // namespace
}  // namespace fwgate::cli
