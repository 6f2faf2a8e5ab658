#include "cli/ruleset_input.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <memory>

#include "gate/nft/live.h"

namespace fwgate::cli {

namespace {
std::optional<Outcome> Report(const std::string& command, const std::string& path,
                              const nft::LoadResult& out) {
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
}  // namespace

std::optional<Outcome> LoadRulesetOrReport(const std::string& command, const std::string& path,
                                           nft::LoadResult& out, const nft::LoadOptions& options) {
  out = nft::LoadRulesetFile(path, options);
  return Report(command, path, out);
}

std::optional<Outcome> LoadRulesetsOrReport(const std::string& command,
                                            const std::vector<std::string>& paths,
                                            std::vector<nft::LoadResult>& out,
                                            const nft::LoadOptions& options) {
  out = nft::LoadRulesetFiles(paths, options);
  for (size_t i = 0; i < paths.size(); ++i) {
    if (auto o = Report(command, paths[i], out[i])) return o;
  }
  return std::nullopt;
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

CLI::Validator FiniteRange(double lo, double hi) {
  std::string range =
      "a number from " + CLI::detail::to_string(lo) + " to " + CLI::detail::to_string(hi);
  return CLI::Validator(
      [lo, hi, range](std::string& s) -> std::string {
        char* end = nullptr;
        errno = 0;
        double v = std::strtod(s.c_str(), &end);
        if (s.empty() || end == nullptr || *end != '\0' || errno == ERANGE || !std::isfinite(v) ||
            v < lo || v > hi) {
          return "'" + s + "' is not " + range;
        }
        return "";
      },
      "[" + CLI::detail::to_string(lo) + " - " + CLI::detail::to_string(hi) + "]");
}

void AddNftLimitOptions(CLI::App* sub, sys::NftLimits& limits) {
  sub->add_option_function<double>(
         "--nft-memory-limit",
         [&limits](double v) { limits.memory_bytes = static_cast<uint64_t>(v) << 20; },
         "MiB of address space each libnftables run may use (hostile rulesets end in exit 2 "
         "instead of exhausting memory)")
      ->check(FiniteRange(256, 65536))
      ->default_str(std::to_string(limits.memory_bytes >> 20));
  sub->add_option_function<double>(
         "--nft-time-limit",
         [&limits](double v) { limits.time = std::chrono::milliseconds(static_cast<int64_t>(v)); },
         "ms each libnftables run may take")
      ->check(FiniteRange(100, 3600000))
      ->default_str(std::to_string(limits.time.count()));
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
