// `fwgate dump [--netns NAME]`: print the live ruleset as fwgate's model sees it (debug aid).
#include <iostream>

#include "base/exit_codes.h"
#include "cli/command.h"
#include "gate/nft/netlink.h"
#include "gate/nft/printer.h"
#include "simulator/netns/netns.h"

namespace fwgate::cli {
namespace {

const Registrar kDump{Command{
    "dump", 90, [](CLI::App& root) -> std::function<int()> {
      auto* sub = root.add_subcommand(
          "dump", "Print the live ruleset (host or --netns) as fwgate reads it over netlink");
      auto netns_name = std::make_shared<std::string>();
      auto handles = std::make_shared<bool>(false);
      sub->add_option("--netns", *netns_name, "Named network namespace (/run/netns/NAME)");
      sub->add_flag("-a,--handles", *handles, "Show rule handles");
      return [=]() -> int {
        Result<nft::Ruleset> rs = Error::Msg("not run");
        auto dump = [&] { rs = nft::DumpRuleset(); };
        if (!netns_name->empty()) {
          auto ns = netns::OpenNamed(*netns_name);
          if (!ns) {
            std::cerr << "fwgate: " << ns.error().ToString() << "\n";
            return kExitBadInput;
          }
          if (auto st = netns::RunInNetns(*ns, dump); !st) {
            std::cerr << "fwgate: " << st.error().ToString() << "\n";
            return kExitUndecided;
          }
        } else {
          dump();
        }
        if (!rs) {
          std::cerr << "fwgate: " << rs.error().ToString() << "\n";
          return kExitUndecided;
        }
        nft::PrintOptions opt;
        opt.handles = *handles;
        std::cout << nft::RulesetText(*rs, opt);
        return kExitPass;
      };
    }}};

}  // namespace
}  // namespace fwgate::cli
