#include "cli/live_ruleset.h"

#include <iostream>

#include "base/exit_codes.h"
#include "gate/nft/netlink.h"
#include "simulator/netns/netns.h"

namespace fwgate::cli {

std::optional<int> DumpLive(const std::string& command, const std::string& netns_name,
                            nft::Ruleset& out) {
  const std::string prefix = "fwgate: " + command + ": ";
  Result<nft::Ruleset> rs = Error::Msg("not run");
  auto dump = [&] { rs = nft::DumpRuleset(); };
  if (netns_name.empty()) {
    dump();
  } else {
    if (!netns::IsValidName(netns_name)) {
      std::cerr << prefix << "--netns: '" << netns_name
                << "' is not a valid network namespace name\n";
      return kExitBadInput;
    }
    auto ns = netns::OpenNamed(netns_name);
    if (!ns) {
      if (ns.error().code == std::errc::no_such_file_or_directory) {
        std::cerr << prefix << "network namespace '" << netns_name
                  << "' does not exist (no /run/netns/" << netns_name << ")\n";
        return kExitBadInput;
      }
      std::cerr << prefix << ns.error().ToString() << "\n";
      return kExitUndecided;
    }
    if (auto st = netns::RunInNetns(*ns, dump); !st) {
      std::cerr << prefix << st.error().ToString() << "\n";
      return kExitUndecided;
    }
  }
  if (!rs) {
    std::cerr << prefix << "reading the live ruleset: " << rs.error().ToString() << "\n";
    return kExitUndecided;
  }
  out = std::move(*rs);
  return std::nullopt;
}

}  // namespace fwgate::cli
