// The ruleset model as JSON and back, for test fixtures: rulesets the kernel produced (loaded
// and dumped in a lab test) are kept as files so unit tests run on real expression encodings
// without a kernel.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "base/ruleset.h"

namespace fwgate::testing {

struct RulesetFixture {
  nft::Ruleset ruleset;
  std::map<uint32_t, std::string> interface_names;
};

// Canonical: set elements sorted (the kernel lists hash sets in no fixed order) and binding
// chains renamed __chain0, __chain1, ... in table order (the kernel numbers them per load).
[[nodiscard]] nlohmann::json RulesetToJson(const nft::Ruleset& rs,
                                           const std::map<uint32_t, std::string>& interfaces);
[[nodiscard]] RulesetFixture RulesetFromJson(const nlohmann::json& j);

// tests/data/traffic/NAME.json (FWGATE_SOURCE_DIR); aborts the test binary when missing.
[[nodiscard]] RulesetFixture LoadFixture(const std::string& name);
[[nodiscard]] std::string FixturePath(const std::string& name, const std::string& ext);

}  // namespace fwgate::testing
