#include "cli/ruleset_input.h"

#include <iostream>

#include "gate/nft/live.h"

namespace fwgate::cli {

std::optional<Outcome> LoadRulesetOrReport(const std::string& command, const std::string& path,
                                           nft::LoadResult& out) {
  out = nft::LoadRulesetFile(path);
  Outcome o = nft::OutcomeOf(out.status);
  if (o == Outcome::kPass) return std::nullopt;
  if (o != Outcome::kBadInput) {
    std::cerr << "fwgate: " << command << ": could not load " << path << ": " << out.reason << "\n";
  }
  for (const auto& d : out.diagnostics) std::cerr << d.ToStringWithContext() << "\n";
  if (out.diagnostics.empty() && o == Outcome::kBadInput) {
    std::cerr << path << ": " << out.reason << "\n";
  }
  return o;
}

std::optional<Outcome> ReadLiveOrReport(const std::string& command, const std::string& netns_name,
                                        nft::Ruleset& out) {
  auto rs = nft::ReadLiveRuleset(netns_name);
  if (!rs) {
    std::cerr << "fwgate: " << command << ": " << rs.error().ToString() << "\n";
    return OutcomeOf(rs.error());
  }
  out = std::move(rs).value();
  return std::nullopt;
}

}  // namespace fwgate::cli
