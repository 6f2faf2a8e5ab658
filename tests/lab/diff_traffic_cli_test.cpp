// `fwgate diff` with the traffic section as a user runs it: real files loaded through the
// kernel; the JSON output validated against docs/schemas/diff.schema.json with a JSON Schema
// validator (python3-jsonschema); self-diffs of every bundled ruleset and nftables example that
// loads are empty in traffic too; --confirm has the kernel confirm the examples; bad input is
// located and exits 2.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "sys/netns.h"
#include "tests/support/subprocess.h"

namespace {

namespace fs = std::filesystem;
using fwgate::testing::ProcessResult;
using fwgate::testing::RunFwgate;
using fwgate::testing::RunProcess;

const fs::path kRulesets = fs::path(FWGATE_SOURCE_DIR) / "rulesets";
const fs::path kTraffic = fs::path(FWGATE_SOURCE_DIR) / "tests" / "data" / "traffic";
const fs::path kSchema = fs::path(FWGATE_SOURCE_DIR) / "docs" / "schemas" / "diff.schema.json";

class DiffTrafficCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto st = fwgate::sys::CanCreateNamespaces(); !st) {
      GTEST_SKIP() << "needs network namespaces: " << st.error().ToString();
    }
  }
  // Validates `json` against the schema with python3-jsonschema; "" when valid.
  static std::string Validate(const std::string& json) {
    fs::path tmp =
        fs::temp_directory_path() / ("fwgate-diff-" + std::to_string(getpid()) + ".json");
    std::ofstream(tmp) << json;
    ProcessResult r = RunProcess(
        {"/usr/bin/python3", "-c",
         "import json,sys,jsonschema\n"
         "jsonschema.Draft7Validator.check_schema(json.load(open(sys.argv[1])))\n"
         "jsonschema.validate(json.load(open(sys.argv[2])), json.load(open(sys.argv[1])))\n",
         kSchema.string(), tmp.string()});
    fs::remove(tmp);
    return r.exit_code == 0 ? "" : r.out + r.err;
  }
};

TEST_F(DiffTrafficCli, JsonMatchesTheSchema) {
  for (const char* v :
       {"ceph-node-no-established.nft", "ceph-node-osd-new-only.nft", "ceph-node-output-drop.nft",
        "ceph-node-safe-change.nft", "ceph-node.nft"}) {
    SCOPED_TRACE(v);
    auto r = RunFwgate({"diff", "--current", (kRulesets / "ceph-node.nft").string(), "--proposed",
                        (kRulesets / v).string(), "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out);
    ASSERT_TRUE(j.contains("traffic"));
    EXPECT_EQ(Validate(r.out), "");
  }
  // Every construct's output: uncertain regions, NAT, paths, IPv6, verdict maps.
  for (const char* pair : {"limit", "nat", "paths", "ipv6", "vmap", "concat", "chains", "iface"}) {
    SCOPED_TRACE(pair);
    auto f =
        RunFwgate({"diff", "--current", (kTraffic / (std::string(pair) + "_a.nft")).string(),
                   "--proposed", (kTraffic / (std::string(pair) + "_b.nft")).string(), "--json"});
    ASSERT_EQ(f.exit_code, 0) << f.err;
    EXPECT_EQ(Validate(f.out), "");
  }
  // With --confirm, the confirmation keys too.
  auto r = RunFwgate({"diff", "--current", (kTraffic / "narrow_a.nft").string(), "--proposed",
                      (kTraffic / "narrow_b.nft").string(), "--json", "--confirm"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Validate(r.out), "");
  auto j = nlohmann::json::parse(r.out);
  for (const auto& region : j["traffic"]["regions"]) {
    EXPECT_EQ(region["confirm"]["current"]["status"], "confirmed") << region["predicate"];
    EXPECT_EQ(region["confirm"]["proposed"]["status"], "confirmed") << region["predicate"];
  }
}

TEST_F(DiffTrafficCli, RemovedEstablishedAcceptIsReportedPerState) {
  auto r = RunFwgate({"diff", "--current", (kRulesets / "ceph-node.nft").string(), "--proposed",
                      (kRulesets / "ceph-node-no-established.nft").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Traffic that changes:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ct state established: accept -> drop"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("open connections matching this will be cut"), std::string::npos);
  EXPECT_NE(r.out.find("example: "), std::string::npos);
}

TEST_F(DiffTrafficCli, SelfDiffIsEmptyForEveryRulesetThatLoads) {
  std::vector<fs::path> files;
  for (const char* dir : {FWGATE_SOURCE_DIR "/rulesets", "/usr/share/doc/nftables/examples"}) {
    if (!fs::exists(dir)) continue;
    for (const auto& e : fs::directory_iterator(dir)) {
      if (e.path().extension() == ".nft") files.push_back(e.path());
    }
  }
  files.push_back(kTraffic / "binding.nft");
  size_t compared = 0;
  for (const auto& f : files) {
    auto r = RunFwgate({"diff", "--current", f.string(), "--proposed", f.string()});
    if (r.exit_code == 3) continue;  // this kernel cannot load it
    ASSERT_EQ(r.exit_code, 0) << f << r.err;
    EXPECT_EQ(r.out, "No changes.\n") << f;  // no plan, no traffic section
    auto j = RunFwgate({"diff", "--current", f.string(), "--proposed", f.string(), "--json"});
    ASSERT_EQ(j.exit_code, 0) << f << j.err;
    EXPECT_TRUE(nlohmann::json::parse(j.out)["traffic"]["regions"].empty()) << f;
    ++compared;
  }
  EXPECT_GE(compared, 10u);
}

TEST_F(DiffTrafficCli, BadInputIsLocatedAndExitsTwo) {
  fs::path bad = fs::temp_directory_path() / ("fwgate-bad-" + std::to_string(getpid()) + ".nft");
  std::ofstream(bad) << "table inet f {\n\tchain input {\n\t\ttcp dport 22 acept\n\t}\n}\n";
  auto r = RunFwgate({"diff", "--current", (kTraffic / "narrow_a.nft").string(), "--proposed",
                      bad.string(), "--confirm"});
  fs::remove(bad);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(bad.string() + ":3:"), std::string::npos) << r.err;
  auto u = RunFwgate({"diff", "--current", (kTraffic / "narrow_a.nft").string(), "--proposed",
                      (kTraffic / "narrow_b.nft").string(), "--no-traffic", "--confirm"});
  EXPECT_EQ(u.exit_code, 2) << u.err;
}

TEST_F(DiffTrafficCli, EquivalentRewriteSaysNoTrafficChanges) {
  auto r = RunFwgate({"diff", "--current", (kTraffic / "rewrite_a.nft").string(), "--proposed",
                      (kTraffic / "rewrite_b.nft").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Plan: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("No traffic changes."), std::string::npos) << r.out;
}

TEST_F(DiffTrafficCli, NoTrafficKeepsThePlanOnly) {
  auto r = RunFwgate({"diff", "--current", (kTraffic / "narrow_a.nft").string(), "--proposed",
                      (kTraffic / "narrow_b.nft").string(), "--no-traffic", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_FALSE(j.contains("traffic"));
  EXPECT_EQ(j["summary"]["change"], 1);
}

}  // namespace
