// `fwgate dump [--netns NAME]`: print the live ruleset as fwgate's model sees it (debug aid).
#include <iostream>

#include "base/outcome.h"
#include "cli/command.h"
#include "cli/ruleset_input.h"
#include "gate/nft/printer.h"

namespace fwgate::cli {
namespace {

const Registrar kDump{Command{
    "dump", 90, [](CLI::App& root) -> std::function<Outcome()> {
      auto* sub = root.add_subcommand(
          "dump", "Print the live ruleset (host or --netns) as fwgate reads it over netlink");
      auto netns_name = std::make_shared<std::string>();
      auto handles = std::make_shared<bool>(false);
      sub->add_option("--netns", *netns_name, "Named network namespace (/run/netns/NAME)");
      sub->add_flag("-a,--handles", *handles, "Show rule handles");
      return [=]() -> Outcome {
        nft::Ruleset rs;
        if (auto o = ReadLiveOrReport("dump", *netns_name, rs)) return *o;
        nft::PrintOptions opt;
        opt.handles = *handles;
        std::cout << nft::RulesetText(rs, opt);
        return Outcome::kPass;
      };
    }}};

}  // namespace
}  // namespace fwgate::cli
