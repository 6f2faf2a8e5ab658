// `fwgate check` as a firewall repo's CI runs it: a real git repository this test creates (a base
// commit and a change commit of the bundled Ceph ruleset with its include), the real kernel in
// throwaway namespaces, real lab replays. Expected verdicts come from the kernel facts
// (docs/kernel-conntrack.md §7): removing the established accept breaks open connections on every
// kernel; a two-step reload breaks busy connections on 4.14-4.18 with be_liberal=0 whatever the
// change, and not with be_liberal=1; opening the input policy exposes the node without cutting
// connections.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>

#include "sys/netns.h"
#include "tests/support/files.h"
#include "tests/support/json_schema.h"
#include "tests/support/subprocess.h"

namespace {

namespace fs = std::filesystem;
using fwgate::testing::ProcessResult;
using nlohmann::json;

const fs::path kRules = fs::path(FWGATE_SOURCE_DIR) / "rulesets";

using fwgate::testing::LineOf;
constexpr auto& Read = fwgate::testing::ReadFile;
constexpr auto& Write = fwgate::testing::WriteFile;

// A firewall repository: firewall/storage.nft (the bundled baseline) including
// firewall/ceph-networks.nft, committed as the base.
class CheckRepo : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto st = fwgate::sys::CanCreateNamespaces(); !st) GTEST_SKIP() << st.error().ToString();
    ASSERT_FALSE(fwgate::testing::GitProgram().empty())
        << "git is not installed (scripts/setup.sh installs it)";
    dir_ = fs::temp_directory_path() /
           ("fwgate-check-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    Git({"init", "-q", "-b", "main"});
    Write(dir_ / "firewall/storage.nft", Read(kRules / "ceph-node.nft"));
    Write(dir_ / "firewall/ceph-networks.nft", Read(kRules / "ceph-networks.nft"));
    Commit("base");
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  ProcessResult Git(const std::vector<std::string>& args) {
    ProcessResult r = fwgate::testing::RunGit(dir_.string(), args);
    EXPECT_EQ(r.exit_code, 0) << "git " << args[0] << ": " << r.err;
    return r;
  }
  void Commit(const std::string& message) {
    Git({"add", "-A"});
    Git({"commit", "-q", "-m", message});
  }
  // Replaces the proposed file with `text` and commits it as the change.
  void Change(const std::string& text) {
    Write(dir_ / "firewall/storage.nft", text);
    Commit("change");
  }
  ProcessResult Check(std::vector<std::string> extra) {
    std::vector<std::string> args = {
        "check", "--base", "HEAD~1", "--proposed", "firewall/storage.nft", "--quiet"};
    args.insert(args.end(), extra.begin(), extra.end());
    return fwgate::testing::RunFwgate(args, dir_.string());
  }
  static const json* Stage(const json& j, const std::string& id) {
    for (const auto& s : j["stages"]) {
      if (s["id"] == id) return &s;
    }
    return nullptr;
  }
  static std::vector<std::string> FindingIds(const json& stage) {
    std::vector<std::string> ids;
    for (const auto& f : stage["findings"]) ids.push_back(f["id"]);
    return ids;
  }
  static bool Has(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
  }
  json Json(const ProcessResult& r) {
    EXPECT_EQ(fwgate::testing::JsonSchemaErrors(r.out, "check.schema.json"), "");
    return json::parse(r.out);
  }

  fs::path dir_;
};

TEST_F(CheckRepo, SafeChangePasses) {
  Change(Read(kRules / "ceph-node-safe-change.nft"));
  ProcessResult r = Check({"--format", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  json j = Json(r);
  EXPECT_EQ(j["verdict"], "pass");
  EXPECT_EQ(j["cause"], "none");
  EXPECT_EQ(j["current"], "HEAD~1:firewall/storage.nft");
  EXPECT_EQ((*Stage(j, "replay"))["outcome"], "pass");
  EXPECT_EQ(j["baseline"]["report"]["verdict"], "survived");
  EXPECT_EQ(j["proposed_replay"]["report"]["verdict"], "survived");
}

TEST_F(CheckRepo, RemovingTheEstablishedAcceptFailsAtPolicyAndReplayOnTheRemovedLine) {
  const std::string base = Read(dir_ / "firewall/storage.nft");
  const int removed_line = LineOf(base, "ct state established,related accept");
  ASSERT_GT(removed_line, 0);
  Change(Read(kRules / "ceph-node-no-established.nft"));
  ProcessResult r = Check({"--format", "json"});
  ASSERT_EQ(r.exit_code, 1) << r.err << r.out;
  json j = Json(r);
  EXPECT_EQ(j["verdict"], "fail");
  EXPECT_EQ(j["cause"], "change");
  const json& policy = *Stage(j, "policy");
  EXPECT_EQ(policy["outcome"], "fail");
  ASSERT_TRUE(Has(FindingIds(policy), "established-accept-lost")) << policy.dump(2);
  const json& f = policy["findings"][0];
  // On the proposed file (what CI annotates), with the removed rule's line of the base.
  EXPECT_EQ(f["location"]["file"], "firewall/storage.nft");
  EXPECT_GT(f["location"]["line"].get<int>(), 0);
  ASSERT_FALSE(f["related"].empty()) << f.dump(2);
  EXPECT_EQ(f["related"][0]["location"]["file"], "HEAD~1:firewall/storage.nft");
  EXPECT_EQ(f["related"][0]["location"]["line"], removed_line);
  EXPECT_EQ((*Stage(j, "replay"))["outcome"], "fail");
  EXPECT_EQ(j["baseline"]["report"]["verdict"], "survived");
  EXPECT_EQ(j["proposed_replay"]["report"]["verdict"], "broken");
}

TEST_F(CheckRepo, OpeningTheInputPolicyFailsAtPolicyWhileTheReplaySurvives) {
  std::string text = Read(kRules / "ceph-node.nft");
  // input: policy accept, and the final logged drop removed: the node accepts everything.
  text = std::regex_replace(text, std::regex(R"(hook input priority filter; policy drop;)"),
                            "hook input priority filter; policy accept;");
  text = std::regex_replace(text, std::regex(R"(\n[^\n]*log prefix "storage-input-drop: "[^\n]*)"),
                            "");
  Change(text);
  ProcessResult r = Check({"--format", "json"});
  ASSERT_EQ(r.exit_code, 1) << r.err << r.out;
  json j = Json(r);
  const json& policy = *Stage(j, "policy");
  EXPECT_EQ(policy["outcome"], "fail");
  EXPECT_TRUE(Has(FindingIds(policy), "exposure-policy-open")) << policy.dump(2);
  EXPECT_EQ((*Stage(j, "replay"))["outcome"], "pass");
  EXPECT_EQ(j["proposed_replay"]["report"]["verdict"], "survived");
  EXPECT_EQ(j["cause"], "change");
}

TEST_F(CheckRepo, The2019FleetWithATwoStepReloadFailsBecauseOfTheReloadNotTheChange) {
  Change(Read(kRules / "ceph-node-safe-change.nft"));
  ProcessResult r = Check({"--kernel", "node1=4.15,node2=4.4,node3=4.4", "--be-liberal", "0",
                           "--reload", "flush-then-load", "--format", "json"});
  ASSERT_EQ(r.exit_code, 1) << r.err << r.out;
  json j = Json(r);
  EXPECT_EQ(j["cause"], "reload-procedure");
  const json& lint = *Stage(j, "reload-lint");
  EXPECT_EQ(lint["outcome"], "fail");
  EXPECT_TRUE(Has(FindingIds(lint), "reload-two-step-stale-gap")) << lint.dump(2);
  EXPECT_EQ(j["baseline"]["report"]["verdict"], "broken");
  EXPECT_EQ((*Stage(j, "policy"))["outcome"], "pass");
  ASSERT_FALSE(j["reasons"].empty());
  EXPECT_NE(j["reasons"][0].get<std::string>().find("reload procedure, not the change"),
            std::string::npos)
      << j["reasons"].dump(2);
}

TEST_F(CheckRepo, The2019FleetWithBeLiberalPasses) {
  Change(Read(kRules / "ceph-node-safe-change.nft"));
  ProcessResult r = Check({"--kernel", "node1=4.15,node2=4.4,node3=4.4", "--be-liberal", "1",
                           "--reload", "flush-then-load", "--format", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  json j = Json(r);
  EXPECT_EQ(j["verdict"], "pass");
  EXPECT_EQ(j["baseline"]["report"]["verdict"], "survived");
}

TEST_F(CheckRepo, AnUnreachableNodeIsUndecided) {
  Change(Read(kRules / "ceph-node-safe-change.nft"));
  // A loopback port nothing listens on: the probe cannot reach it (and never leaves the host).
  Write(dir_ / "inventory.ini", "[storage]\nosd1 ansible_host=127.0.0.1 ansible_port=1\n");
  ProcessResult r = Check({"--inventory", (dir_ / "inventory.ini").string(), "--no-lab",
                           "--probe-timeout", "5", "--format", "json"});
  ASSERT_EQ(r.exit_code, 3) << r.err << r.out;
  json j = Json(r);
  EXPECT_EQ(j["verdict"], "undecided");
  EXPECT_EQ((*Stage(j, "fleet"))["outcome"], "undecided");
  EXPECT_FALSE(j["nodes"][0]["reachable"].get<bool>());
}

TEST_F(CheckRepo, TheBaseRevisionReadsItsIncludesFromItsOwnTree) {
  // The change edits only the include: the base must see the old networks, not the new ones.
  std::string nets = Read(dir_ / "firewall/ceph-networks.nft");
  Write(dir_ / "firewall/ceph-networks.nft",
        std::regex_replace(nets, std::regex("10\\.40\\.0\\.0/24"), "10.41.0.0/24"));
  Commit("change the management network");
  ProcessResult r = Check({"--no-lab", "--format", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  json j = Json(r);
  std::string plan = j["plan"].dump();
  EXPECT_NE(plan.find("10.40.0.0/24"), std::string::npos) << plan;
  EXPECT_NE(plan.find("10.41.0.0/24"), std::string::npos) << plan;
}

TEST_F(CheckRepo, AbsoluteIncludesMapOntoARepositoryFolder) {
  std::string text = Read(kRules / "ceph-node.nft");
  text = std::regex_replace(text, std::regex("include \"ceph-networks.nft\""),
                            "include \"/etc/fwgate-test-nftables.d/*.nft\"");
  Write(dir_ / "firewall/nftables.d/ceph-networks.nft", Read(kRules / "ceph-networks.nft"));
  Change(text);
  ProcessResult bad = Check({"--no-lab"});
  EXPECT_EQ(bad.exit_code, 2) << bad.out;  // without the mapping the defines are missing
  ProcessResult r = Check({"--no-lab", "--include-dir",
                           "/etc/fwgate-test-nftables.d=firewall/nftables.d", "--format", "json"});
  // The base (HEAD~1) has no firewall/nftables.d: only the proposed side maps; the base used the
  // relative include, so both load.
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
}

TEST_F(CheckRepo, ABrokenProposedRulesetIsBadInputAtItsLine) {
  Change("flush ruleset\ntable inet storage {\n  chain input {\n    tcp dport 22 acept\n  }\n}\n");
  ProcessResult r = Check({});
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("firewall/storage\\.nft:4:[0-9]+")))
      << r.out << r.err;
}

}  // namespace
