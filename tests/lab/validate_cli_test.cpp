// `fwgate validate` as a user runs it: the built program started with an argument vector (no
// shell), its exit codes, stdout/stderr lines and --json shape.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "sys/netns.h"
#include "tests/support/json_schema.h"
#include "tests/support/subprocess.h"

namespace {

namespace fs = std::filesystem;

const fs::path kData = fs::path(FWGATE_SOURCE_DIR) / "tests" / "data";
const fs::path kRulesets = fs::path(FWGATE_SOURCE_DIR) / "rulesets";

using fwgate::testing::ProcessResult;
ProcessResult Fwgate(std::vector<std::string> args) {
  return fwgate::testing::RunFwgate(std::move(args));
}

class ValidateCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto st = fwgate::sys::CanCreateNamespaces(); !st) {
      GTEST_SKIP() << st.error().ToString();
    }
  }
};

TEST_F(ValidateCli, ValidRulesetExitsZeroWithCounts) {
  std::string f = (kRulesets / "ceph-node.nft").string();
  ProcessResult r = Fwgate({"validate", f});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, f + ": ok (1 tables, 3 chains, 11 rules, 4 sets)\n");
}

TEST_F(ValidateCli, SyntaxErrorExitsTwoWithFileLineColumn) {
  std::string f = (kData / "syntax-error.nft").string();
  ProcessResult r = Fwgate({"validate", f});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_TRUE(r.err.starts_with(f + ":5:38: Error: syntax error")) << r.err;
}

TEST_F(ValidateCli, JumpToMissingChainExitsTwo) {
  ProcessResult r = Fwgate({"validate", (kData / "jump-missing-chain.nft").string()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("jump-missing-chain.nft:6:21: Error:"), std::string::npos) << r.err;
}

TEST_F(ValidateCli, EmptyBinaryAndMissingFilesExitTwo) {
  for (const char* name : {"empty.nft", "binary.nft", "no-such-file.nft"}) {
    std::string f = (kData / name).string();
    ProcessResult r = Fwgate({"validate", f});
    EXPECT_EQ(r.exit_code, 2) << name;
    EXPECT_TRUE(r.err.starts_with(f + ": ")) << r.err;
    EXPECT_EQ(r.err.find(f + ":0:"), std::string::npos) << r.err;
  }
}

TEST_F(ValidateCli, SecmarkWithoutLsmExitsThreeWithReason) {
  const fs::path f = "/usr/share/doc/nftables/examples/secmark.nft";
  if (!fs::exists(f)) GTEST_SKIP() << f << " is not installed";
  ProcessResult r = Fwgate({"validate", f.string()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("could not validate (unsupported)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("secmark"), std::string::npos) << r.err;
}

TEST_F(ValidateCli, NotesPlaceholderInterfaces) {
  std::string f = (kData / "interfaces.nft").string();
  ProcessResult r = Fwgate({"validate", f});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(f + ": note: created placeholder interfaces"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("bond0"), std::string::npos) << r.out;
}

TEST_F(ValidateCli, JsonForSeveralFilesIsOneObjectAndTheWorstExitCodeWins) {
  std::string ok = (kRulesets / "ceph-node-safe-change.nft").string();
  std::string bad = (kData / "syntax-error.nft").string();
  std::string ifs = (kData / "interfaces.nft").string();
  ProcessResult r = Fwgate({"validate", "--json", ok, bad, ifs});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(fwgate::testing::JsonSchemaErrors(r.out, "validate.schema.json"), "");
  auto doc = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << r.out;
  EXPECT_EQ(doc["schema_version"], 1);
  EXPECT_EQ(doc["valid"], false);
  EXPECT_FALSE(doc.contains("file")) << "per-file keys stay inside files[] with several files";
  const auto& j = doc["files"];
  ASSERT_EQ(j.size(), 3u);
  EXPECT_EQ(j[0]["file"], ok);
  EXPECT_EQ(j[0]["valid"], true);
  EXPECT_EQ(j[0]["status"], "ok");
  EXPECT_EQ(j[0]["rules"], 12);
  EXPECT_EQ(j[0]["sets"], 4);
  EXPECT_EQ(j[1]["valid"], false);
  EXPECT_EQ(j[1]["status"], "invalid");
  ASSERT_FALSE(j[1]["diagnostics"].empty());
  EXPECT_EQ(j[1]["diagnostics"][0]["file"], bad);
  // Positions are 1-based in JSON as in the text ("syntax-error.nft:5:38: Error: ...").
  EXPECT_EQ(j[1]["diagnostics"][0]["line"], 5);
  EXPECT_EQ(j[1]["diagnostics"][0]["column"], 38);
  EXPECT_EQ(j[2]["placeholder_interfaces"].size(), 5u);
  for (const auto& key : {"file", "valid", "status", "diagnostics", "placeholder_interfaces",
                          "tables", "chains", "rules", "sets"}) {
    EXPECT_TRUE(j[0].contains(key)) << key;
  }
}

TEST_F(ValidateCli, JsonForOneFileKeepsTheSingleObjectKeysAtTheTop) {
  std::string f = (kRulesets / "ceph-node.nft").string();
  ProcessResult r = Fwgate({"validate", "--json", f});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(fwgate::testing::JsonSchemaErrors(r.out, "validate.schema.json"), "");
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  // The keys consumers of the single-object form read...
  EXPECT_EQ(j["file"], f);
  EXPECT_EQ(j["valid"], true);
  EXPECT_EQ(j["status"], "ok");
  EXPECT_EQ(j["tables"], 1);
  EXPECT_EQ(j["rules"], 11);
  // ...and the one shape every run has.
  EXPECT_EQ(j["schema_version"], 1);
  ASSERT_EQ(j["files"].size(), 1u);
  EXPECT_EQ(j["files"][0]["file"], f);
  EXPECT_EQ(j["files"][0]["rules"], 11);
}

TEST_F(ValidateCli, JsonForAnInvalidFileMatchesTheSchema) {
  std::string f = (kData / "syntax-error.nft").string();
  ProcessResult r = Fwgate({"validate", "--json", f});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(fwgate::testing::JsonSchemaErrors(r.out, "validate.schema.json"), "");
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_EQ(j["valid"], false);
  EXPECT_EQ(j["status"], "invalid");
}

TEST(ValidateCliUsage, HelpExplainsExitCodes) {
  ProcessResult r = Fwgate({"validate", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("FILE:LINE:COL"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Exit codes"), std::string::npos) << r.out;
}

TEST(ValidateCliUsage, NoFileIsAUsageError) {
  ProcessResult r = Fwgate({"validate"});
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
