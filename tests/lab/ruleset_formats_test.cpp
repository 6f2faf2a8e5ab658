// Every ruleset input a node really has, loaded through the kernel in namespaces the test
// creates: `nft -j` JSON rulesets (made by nft's own listing), iptables-save files for IPv4 and
// IPv6 (loaded by Debian's iptables-nft-restore inside the namespace), their errors as
// FILE:LINE:COL, firewalld zones named as unsupported, and the lab loading each format again.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "gate/nft/loader.h"
#include "gate/nft/printer.h"
#include "sys/netns.h"
#include "sys/nft_netlink.h"
#include "sys/nft_runner.h"
#include "sys/ruleset_apply.h"
#include "tests/support/json_schema.h"
#include "tests/support/subprocess.h"

namespace fwgate {
namespace {

namespace fs = std::filesystem;
using testing::ProcessResult;
using testing::RunFwgate;

const fs::path kData = fs::path(FWGATE_SOURCE_DIR) / "tests" / "data" / "formats";
const fs::path kRulesets = fs::path(FWGATE_SOURCE_DIR) / "rulesets";

class RulesetFormats : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto st = sys::CanCreateNamespaces(); !st) GTEST_SKIP() << st.error().ToString();
    if (!sys::IptablesRestoreProgram(false)) GTEST_SKIP() << "iptables is not installed";
    dir_ = fs::temp_directory_path() / ("fwgate-formats-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }
  // nft's own JSON listing (`nft -j list ruleset`) of `file` loaded in a fresh namespace.
  std::string NftJsonListing(const fs::path& file) {
    nft::LoadResult r = nft::LoadRulesetFile(file.string());
    EXPECT_EQ(r.status, nft::LoadStatus::kOk) << r.reason;
    auto ns = sys::CreateAnonymous();
    EXPECT_TRUE(ns.ok());
    EXPECT_TRUE(nft::LoadIntoNamespace(*ns, r).ok());
    sys::NftRequest req;
    req.text = "list ruleset";
    req.json_output = true;
    auto listed = sys::RunNft(*ns, req);
    EXPECT_TRUE(listed.ok() && listed->ok);
    return listed.ok() ? listed->output : "";
  }
  fs::path Write(const std::string& name, const std::string& text) {
    fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
  fs::path dir_;
};

TEST_F(RulesetFormats, NftJsonListingLoadsAsTheSameRuleset) {
  fs::path nft_file = kRulesets / "ceph-node.nft";
  fs::path json = Write("ceph-node.json", NftJsonListing(nft_file));
  ProcessResult r = RunFwgate({"validate", "--json", nft_file.string(), json.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(testing::JsonSchemaErrors(r.out, "validate.schema.json"), "");
  auto doc = nlohmann::json::parse(r.out);
  const auto& text = doc["files"][0];
  const auto& from_json = doc["files"][1];
  EXPECT_EQ(text["format"], "nft");
  EXPECT_EQ(from_json["format"], "nft-json");
  for (const char* key : {"tables", "chains", "rules", "sets"}) {
    EXPECT_EQ(from_json[key], text[key]) << key;
  }
  // Rule by rule the same: nothing to add or remove.
  ProcessResult d =
      RunFwgate({"diff", "--current", nft_file.string(), "--proposed", json.string()});
  EXPECT_EQ(d.exit_code, 0) << d.err;
  EXPECT_NE(d.out.find("0 to add, 0 to remove"), std::string::npos) << d.out;
}

TEST_F(RulesetFormats, NftJsonLoadsIntoTheLabAsValidateLoadedIt) {
  fs::path json = Write("ceph-node.json", NftJsonListing(kRulesets / "ceph-node.nft"));
  nft::LoadResult r = nft::LoadRulesetFile(json.string());
  ASSERT_EQ(r.status, nft::LoadStatus::kOk) << r.reason;
  EXPECT_EQ(r.format, sys::RulesetFormat::kNftJson);
  auto ns = sys::CreateAnonymous();
  ASSERT_TRUE(ns.ok());
  ASSERT_TRUE(nft::LoadIntoNamespace(*ns, r).ok());
  Result<nft::Ruleset> dumped = Error::Internal("not run");
  ASSERT_TRUE(sys::RunInNetns(*ns, [&] { dumped = sys::DumpRuleset(); }).ok());
  ASSERT_TRUE(dumped.ok());
  EXPECT_EQ(nft::RulesetText(*dumped), nft::RulesetText(r.ruleset));
}

TEST_F(RulesetFormats, NftJsonWithInterfacesGetsPlaceholders) {
  fs::path json = Write("iif.json",
                        R"({"nftables": [
 {"table": {"family": "inet", "name": "t"}},
 {"chain": {"family": "inet", "table": "t", "name": "c", "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}},
 {"rule": {"family": "inet", "table": "t", "chain": "c", "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iif"}}, "right": "bond0"}}, {"accept": null}]}}
]}
)");
  nft::LoadResult r = nft::LoadRulesetFile(json.string());
  ASSERT_EQ(r.status, nft::LoadStatus::kOk) << r.reason;
  EXPECT_EQ(r.placeholder_interfaces, std::vector<std::string>{"bond0"});
  EXPECT_NE(nft::RulesetText(r.ruleset).find("iif \"bond0\" accept"), std::string::npos)
      << nft::RulesetText(r.ruleset);
}

TEST_F(RulesetFormats, NftJsonErrorsAreLocated) {
  ProcessResult syntax = RunFwgate({"validate", (kData / "syntax-error.json").string()});
  EXPECT_EQ(syntax.exit_code, 2);
  EXPECT_TRUE(syntax.err.starts_with((kData / "syntax-error.json").string() +
                                     ":3:58: Error: JSON syntax error"))
      << syntax.err;
  // libnftables says only "Could not process rule": fwgate finds which command it was.
  ProcessResult missing =
      RunFwgate({"validate", "--json", (kData / "missing-chain.json").string()});
  EXPECT_EQ(missing.exit_code, 2);
  auto j = nlohmann::json::parse(missing.out);
  ASSERT_EQ(j["diagnostics"].size(), 1u) << missing.out;
  EXPECT_EQ(j["diagnostics"][0]["line"], 3);
  EXPECT_EQ(j["diagnostics"][0]["column"], 3);
  EXPECT_NE(j["diagnostics"][0]["message"].get<std::string>().find("Could not process rule"),
            std::string::npos);
  ProcessResult shape = RunFwgate({"validate", (kData / "not-nftables.json").string()});
  EXPECT_EQ(shape.exit_code, 2);
  EXPECT_NE(shape.err.find(":1:1: Error: not an nft JSON ruleset"), std::string::npos) << shape.err;
}

TEST_F(RulesetFormats, IptablesSaveFileLoadsThroughIptablesNftRestore) {
  fs::path f = kData / "storage.rules";
  nft::LoadResult r = nft::LoadRulesetFile(f.string());
  ASSERT_EQ(r.status, nft::LoadStatus::kOk) << r.reason;
  EXPECT_EQ(r.format, sys::RulesetFormat::kIptables);
  std::string text = nft::RulesetText(r.ruleset);
  // As `nft list ruleset` prints what iptables-nft made (xt matches translated).
  EXPECT_NE(text.find("table ip filter"), std::string::npos) << text;
  EXPECT_NE(text.find("ct state related,established counter"), std::string::npos) << text;
  EXPECT_NE(text.find("iifname \"bond0\""), std::string::npos) << text;
  EXPECT_NE(text.find("table ip nat"), std::string::npos) << text;
  // The lab loads it the same way.
  auto ns = sys::CreateAnonymous();
  ASSERT_TRUE(ns.ok());
  ASSERT_TRUE(nft::LoadIntoNamespace(*ns, r).ok());
  Result<nft::Ruleset> dumped = Error::Internal("not run");
  ASSERT_TRUE(sys::RunInNetns(*ns, [&] { dumped = sys::DumpRuleset(); }).ok());
  ASSERT_TRUE(dumped.ok());
  EXPECT_EQ(nft::RulesetText(*dumped), text);
}

TEST_F(RulesetFormats, IptablesChangeIsOneChangedRule) {
  ProcessResult d = RunFwgate({"diff", "--current", (kData / "storage.rules").string(),
                               "--proposed", (kData / "storage-changed.rules").string()});
  EXPECT_EQ(d.exit_code, 0) << d.err;
  EXPECT_NE(d.out.find("0 to add, 0 to remove, 1 to change"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("tcp dport 3301"), std::string::npos) << d.out;
}

TEST_F(RulesetFormats, Ip6tablesFilesAreToldByHeaderOrAddresses) {
  for (const char* name : {"storage6.rules", "storage6-noheader.rules"}) {
    nft::LoadResult r = nft::LoadRulesetFile((kData / name).string());
    ASSERT_EQ(r.status, nft::LoadStatus::kOk) << name << ": " << r.reason;
    EXPECT_EQ(r.format, sys::RulesetFormat::kIp6tables) << name;
    std::string text = nft::RulesetText(r.ruleset);
    EXPECT_NE(text.find("table ip6 filter"), std::string::npos) << text;
    EXPECT_NE(text.find("ip6 saddr fd00::/8"), std::string::npos) << text;
  }
}

TEST_F(RulesetFormats, IptablesErrorsAreFileLineColumn) {
  std::string bad = (kData / "storage-bad-option.rules").string();
  ProcessResult r = RunFwgate({"validate", bad});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(r.err.starts_with(bad + ":9:44: Error: unknown option \"--dportz\"")) << r.err;
  // A jump to a missing chain is refused at COMMIT; the diagnostic points at the jump.
  std::string chain = (kData / "missing-chain.rules").string();
  ProcessResult c = RunFwgate({"validate", chain});
  EXPECT_EQ(c.exit_code, 2);
  EXPECT_TRUE(c.err.starts_with(chain + ":3:13: Error: Chain 'NO_SUCH_CHAIN' does not exist"))
      << c.err;
}

TEST_F(RulesetFormats, FirewalldZoneIsUnsupportedInputWithTheReason) {
  std::string zone = (kData / "public-zone.xml").string();
  ProcessResult r = RunFwgate({"validate", zone});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(r.err.starts_with(zone + ":1:1: Error: a firewalld zone file")) << r.err;
  EXPECT_NE(r.err.find("unsupported input"), std::string::npos) << r.err;
}

TEST_F(RulesetFormats, ReplayOfIptablesRulesetsBreaksTheStaleGapNodeLikeNftDoes) {
  // The 2019 incident with iptables-restore files: a flush-then-load reload, node1 on 4.15
  // with be_liberal=0 (docs/kernel-conntrack.md §3.4: stale windows, INVALID, dropped by the
  // ruleset's ctstate INVALID rule), node2 on the lab kernel re-learning its windows (§3.5).
  std::string rules =
      "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
      "-A INPUT -m conntrack --ctstate INVALID -j DROP\n"
      "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
      "-A INPUT -p tcp -m multiport --dports 3300,6789,6800:7300 -j ACCEPT\nCOMMIT\n";
  fs::path current = Write("current.rules", rules);
  std::string changed = rules;
  changed.replace(changed.find("3300,6789"), 9, "3300,6789,9283");
  fs::path proposed = Write("proposed.rules", changed);
  ProcessResult r =
      RunFwgate({"replay", "--current", current.string(), "--proposed", proposed.string(),
                 "--nodes", "2", "--connections-per-node", "2", "--duration", "3", "--reload",
                 "flush-then-load", "--kernel", "node1=4.15", "--be-liberal", "0", "--json"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(testing::JsonSchemaErrors(r.out, "replay.schema.json"), "");
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["verdict"], "broken");
  ASSERT_FALSE(j["broken_connections"].empty());
  for (const auto& c : j["broken_connections"]) {
    EXPECT_TRUE(c["from"] == "node1" || c["to"] == "node1") << c.dump();
  }
  EXPECT_GT(j["nodes"][0]["conntrack"]["invalid"].get<int>(), 0);
  // Connections that do not touch node1 (client <-> node2) kept going.
  EXPECT_GT(j["connections"]["survived"].get<int>(), 0) << j["connections"].dump();
}

TEST_F(RulesetFormats, CheckJudgesHowEachFormatReplacesTables) {
  // iptables-restore replaces exactly the tables it names: no flush finding.
  ProcessResult ipt =
      RunFwgate({"check", "--current", (kData / "storage.rules").string(), "--proposed",
                 (kData / "storage-changed.rules").string(), "--no-lab", "--format", "json"});
  EXPECT_EQ(ipt.exit_code, 0) << ipt.err;
  EXPECT_EQ(testing::JsonSchemaErrors(ipt.out, "check.schema.json"), "");
  EXPECT_EQ(ipt.out.find("no-flush-ruleset"), std::string::npos) << ipt.out;
  // nft's JSON listing has no flush command: loading it adds to what the node has.
  fs::path json = Write("ceph-node.json", NftJsonListing(kRulesets / "ceph-node.nft"));
  ProcessResult js = RunFwgate({"check", "--current", (kRulesets / "ceph-node.nft").string(),
                                "--proposed", json.string(), "--no-lab", "--format", "json"});
  EXPECT_NE(js.out.find("no-flush-ruleset"), std::string::npos) << js.out;
}

TEST_F(RulesetFormats, FirewalldNodeIsNamedByTheProbe) {
  // A node where firewalld is active: its `firewalld` table, in a namespace made for it.
  ProcessResult r = testing::RunProcess(
      {"/usr/bin/unshare", "-n", "/bin/sh", "-c",
       "nft 'add table inet firewalld; add chain inet firewalld filter_INPUT { type filter hook "
       "input priority filter + 10; policy accept; }; add rule inet firewalld filter_INPUT ct "
       "state established,related accept' && exec \"$0\" probe --local --json --name fw-node",
       FWGATE_BINARY});
  ASSERT_FALSE(r.out.empty()) << r.err;
  auto doc = nlohmann::json::parse(r.out);
  bool found = false;
  for (const auto& f : doc["nodes"][0]["findings"]) {
    if (f["id"] == "firewalld-managed") {
      found = true;
      EXPECT_NE(f["message"].get<std::string>().find("firewalld is active"), std::string::npos);
    }
  }
  EXPECT_TRUE(found) << r.out;
}

}  // namespace
}  // namespace fwgate
