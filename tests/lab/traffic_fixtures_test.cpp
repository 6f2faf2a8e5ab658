// The traffic unit tests' fixtures are what the kernel made of tests/data/traffic/*.nft: each
// file is loaded into a throwaway namespace and dumped, and the dump must equal its .json
// fixture. FWGATE_UPDATE_FIXTURES=1 rewrites the fixtures from the kernel instead.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "gate/nft/loader.h"
#include "sys/netns.h"
#include "tests/support/ruleset_json.h"

namespace fwgate {
namespace {

namespace fs = std::filesystem;

TEST(TrafficFixtures, MatchWhatTheKernelLoads) {
  if (auto st = sys::CanCreateNamespaces(); !st) GTEST_SKIP() << st.error().ToString();
  bool update = std::getenv("FWGATE_UPDATE_FIXTURES") != nullptr;
  std::vector<fs::path> files;
  for (const auto& e :
       fs::directory_iterator(std::string(FWGATE_SOURCE_DIR) + "/tests/data/traffic")) {
    if (e.path().extension() == ".nft") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  ASSERT_GT(files.size(), 20u);
  for (const auto& f : files) {
    SCOPED_TRACE(f.string());
    nft::LoadResult r = nft::LoadRulesetFile(f.string());
    ASSERT_EQ(r.status, nft::LoadStatus::kOk) << r.reason;
    nlohmann::json got = testing::RulesetToJson(r.ruleset, r.ruleset.interfaces);
    fs::path json = f;
    json.replace_extension(".json");
    if (update) {
      std::ofstream(json) << got.dump(1) << "\n";
      continue;
    }
    std::ifstream in(json);
    ASSERT_TRUE(in) << "missing fixture; run with FWGATE_UPDATE_FIXTURES=1";
    nlohmann::json want = nlohmann::json::parse(in);
    EXPECT_EQ(got, want) << "fixture out of date; run with FWGATE_UPDATE_FIXTURES=1";
  }
}

}  // namespace
}  // namespace fwgate
