// Where each table, chain and rule the kernel accepted came from (FILE:LINE:COL), so findings,
// plans and CI annotations point at the source line. nft's echo of a load lists every added rule
// with its handle in command order; fwgate's own scan of the source lists the rule statements in
// the same order; the two are matched chain by chain. Pure; thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "base/finding.h"
#include "base/ruleset.h"

namespace fwgate::nft {

class SourceMap {
 public:
  [[nodiscard]] std::optional<SourceLocation> Table(Family family, const std::string& table) const;
  [[nodiscard]] std::optional<SourceLocation> Chain(Family family, const std::string& table,
                                                    const std::string& chain) const;
  // A rule by its kernel handle; falls back to its chain's location when the rule itself could
  // not be matched (so an accepted rule always has a location when its chain has one).
  [[nodiscard]] std::optional<SourceLocation> Rule(Family family, const std::string& table,
                                                   const std::string& chain, uint64_t handle) const;
  void AddTable(Family family, const std::string& table, SourceLocation loc);
  void AddChain(Family family, const std::string& table, const std::string& chain,
                SourceLocation loc);
  void AddRule(Family family, const std::string& table, const std::string& chain, uint64_t handle,
               SourceLocation loc);
  [[nodiscard]] size_t rule_count() const { return rules_.size(); }
  [[nodiscard]] bool empty() const { return tables_.empty() && chains_.empty() && rules_.empty(); }

 private:
  using ChainKey = std::tuple<uint8_t, std::string, std::string>;
  std::map<std::pair<uint8_t, std::string>, SourceLocation> tables_;
  std::map<ChainKey, SourceLocation> chains_;
  std::map<std::tuple<uint8_t, std::string, std::string, uint64_t>, SourceLocation> rules_;
};

// One "add rule FAMILY TABLE CHAIN ... # handle N" (or insert) line of nft's echo output.
struct EchoedRule {
  Family family = Family::kIp;
  std::string table, chain;
  uint64_t handle = 0;
};
[[nodiscard]] std::vector<EchoedRule> ParseEchoedRules(std::string_view echo);

// A table, chain or rule statement in (flat) source text, positions 1-based in that text.
struct ScannedStatement {
  Family family = Family::kIp;
  std::string table;
  std::string chain;   // empty for a table
  int anonymous = -1;  // rules of the k-th anonymous chain (`jump { ... }`), else -1
  int line = 0, column = 0, end_line = 0;
};
struct ScannedSource {
  std::vector<ScannedStatement> tables, chains, rules;  // rules in command order
};
[[nodiscard]] ScannedSource ScanStatements(std::string_view text);

// Matches echo and scan. `map` turns a position in the scanned text into a file location (the
// flat text's map; identity for a single file). Chains whose rule counts differ between the two
// get no per-rule locations (Rule() then falls back to the chain).
[[nodiscard]] SourceMap LocateRules(const std::vector<EchoedRule>& echoed,
                                    const ScannedSource& scanned,
                                    const std::function<SourceLocation(int, int)>& map);

}  // namespace fwgate::nft
