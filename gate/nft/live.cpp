#include "gate/nft/live.h"

#include "sys/netns.h"
#include "sys/nft_netlink.h"

namespace fwgate::nft {

Result<Ruleset> ReadLiveRuleset(const std::string& netns_name) {
  if (netns_name.empty()) {
    auto rs = sys::DumpRuleset();
    if (!rs) return rs.error().Wrap("reading the live ruleset");
    return rs;
  }
  if (!sys::IsValidName(netns_name)) {
    return Error::BadInput("--netns: '" + netns_name + "' is not a valid network namespace name");
  }
  auto ns = sys::OpenNamed(netns_name);
  if (!ns) {
    if (ns.error().Errno() == ENOENT) {
      return Error::BadInput("network namespace '" + netns_name +
                             "' does not exist (no /run/netns/" + netns_name + ")");
    }
    return ns.error();
  }
  Result<Ruleset> rs = Error::Internal("the dump did not run");
  if (auto st = sys::RunInNetns(*ns, [&] { rs = sys::DumpRuleset(); }); !st) return st.error();
  if (!rs) return rs.error().Wrap("reading the live ruleset of " + netns_name);
  return rs;
}

}  // namespace fwgate::nft
