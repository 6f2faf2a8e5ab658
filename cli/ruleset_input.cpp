#include "cli/ruleset_input.h"

#include <iostream>

#include "gate/nft/live.h"

namespace fwgate::cli {

std::optional<Outcome> LoadRulesetOrReport(const std::string& command, const std::string& path,
                                           nft::LoadResult& out, const nft::LoadOptions& options) {
  out = nft::LoadRulesetFile(path, options);
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

std::optional<Outcome> IncludeDirsOrReport(const std::string& command,
                                           const std::vector<std::string>& dirs,
                                           nft::LoadOptions& out) {
  for (const auto& d : dirs) {
    auto dir = nft::ParseIncludeDir(d);
    if (!dir) {
      std::cerr << "fwgate: " << command << ": " << dir.error().context << "\n";
      return Outcome::kBadInput;
    }
    out.include_dirs.push_back(*dir);
  }
  return std::nullopt;
}

void AddIncludeDirOption(CLI::App* sub, std::vector<std::string>& dirs) {
  sub->add_option("--include-dir", dirs,
                  "Searched by relative includes after the file's own directory (like nft -I); "
                  "/ABS/DIR=LOCAL/DIR reads absolute includes under /ABS/DIR (e.g. "
                  "/etc/nftables.d) from LOCAL/DIR. Repeatable")
      ->type_name("DIR");
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
