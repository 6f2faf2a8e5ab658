// `fwgate probe` end to end against a real sshd (Debian openssh-server) on 127.0.0.1 with keys the
// test generates, plus --netns on a namespace the test creates, --from DIR, an unreachable node,
// a hanging ssh, hostile inventories that must never run anything, per-host ssh arguments,
// ansible-inventory, and contrib/ansible's playbook run by ansible-playbook over the same sshd.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "gate/probe/transport.h"
#include "sys/netns.h"
#include "tests/support/sshd.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct CmdRun {
  int rc = -1;
  std::string out, err;
};

CmdRun Fwgate(const std::vector<std::string>& args, int timeout_s = 120) {
  auto r = fwgate::probe::RunProcess(FWGATE_BINARY, args, "", std::chrono::seconds(timeout_s),
                                     64u << 20);
  if (!r) return {};
  return {r->exit_code, r->out, r->err};
}

void WriteFile(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

bool RunTool(const std::vector<std::string>& argv) {
  auto r = fwgate::probe::RunProcess(argv[0], {argv.begin() + 1, argv.end()}, "",
                                     std::chrono::seconds(60), 1 << 20);
  return r && r->exit_code == 0;
}

fs::path TempDir(const std::string& tag) {
  fs::path p = fs::temp_directory_path() / ("fwgate-probe-" + tag + "-" + std::to_string(getpid()));
  fs::create_directories(p);
  return p;
}

}  // namespace

TEST(ProbeSsh, ProbesTwoNodesOverRealSshdAsJson) {
  REQUIRE_SSHD();
  fs::path d = TempDir("json");
  WriteFile(d / "inv.ini", "[storage]\n" + env.InventoryLine("n1") + env.InventoryLine("n2"));
  std::vector<std::string> args = {"probe", "--inventory", (d / "inv.ini").string(), "--json"};
  for (auto& f : env.SshFlags()) args.push_back(f);
  CmdRun r = Fwgate(args);
  ASSERT_TRUE(r.rc == 0 || r.rc == 1) << r.err;
  json j = json::parse(r.out);
  ASSERT_EQ(j["nodes"].size(), 2u);
  for (const json& n : j["nodes"]) {
    EXPECT_TRUE(n["reachable"].get<bool>()) << n.dump();
    EXPECT_TRUE(n["kernel"].is_string());
    EXPECT_TRUE(n["kernel_class"] == "continuous" || n["kernel_class"] == "stale-gap" ||
                n["kernel_class"] == "refixup");
    if (n["sysctls"].contains("nf_conntrack_max")) {
      EXPECT_TRUE(n["sysctls"]["nf_conntrack_tcp_be_liberal"].is_number_integer());
      EXPECT_GT(n["conntrack"]["max"].get<int64_t>(), 0);
    }
    EXPECT_TRUE(n["findings"].is_array());
    EXPECT_TRUE(n.contains("ruleset_text"));
  }
  EXPECT_EQ(j["nodes"][0]["name"], "n1");
  fs::remove_all(d);
}

// Control sockets for shared connections live in a private directory gone when probe exits.
TEST(ProbeSsh, SharedConnectionsLeaveNoControlDirectory) {
  REQUIRE_SSHD();
  auto control_dirs = [] {
    std::set<std::string> dirs;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/tmp", ec)) {
      if (e.path().filename().string().rfind("fwgate-ssh-", 0) == 0) dirs.insert(e.path());
    }
    return dirs;
  };
  auto before = control_dirs();
  fs::path d = TempDir("share");
  WriteFile(d / "inv.ini", "[storage]\n" + env.InventoryLine("n1") + env.InventoryLine("n2"));
  std::vector<std::string> args = {"probe", "--inventory", (d / "inv.ini").string(), "--json",
                                   "--ssh-share"};
  for (auto& f : env.SshFlags()) args.push_back(f);
  CmdRun r = Fwgate(args);
  ASSERT_TRUE(r.rc == 0 || r.rc == 1) << r.err;
  json j = json::parse(r.out);
  ASSERT_EQ(j["nodes"].size(), 2u);
  for (const json& n : j["nodes"]) EXPECT_TRUE(n["reachable"].get<bool>()) << n.dump();
  EXPECT_EQ(control_dirs(), before);
  fs::remove_all(d);
}

TEST(ProbeSsh, UnreachableNodeExitsThreeAndOthersStillProbed) {
  REQUIRE_SSHD();
  fs::path d = TempDir("unreach");
  int dead = fwgate::testing::FreeLoopbackPort();  // nothing listens there
  WriteFile(d / "inv.ini", env.InventoryLine("good") + "dead ansible_host=127.0.0.1 ansible_port=" +
                               std::to_string(dead) + " ansible_user=root\n");
  std::vector<std::string> args = {"probe",  "--inventory", (d / "inv.ini").string(),
                                   "--json", "--timeout",   "15"};
  for (auto& f : env.SshFlags()) args.push_back(f);
  CmdRun r = Fwgate(args);
  json j = json::parse(r.out);
  ASSERT_EQ(j["nodes"].size(), 2u);
  EXPECT_TRUE(j["nodes"][0]["reachable"].get<bool>());
  EXPECT_FALSE(j["nodes"][1]["reachable"].get<bool>());
  EXPECT_FALSE(j["nodes"][1]["error"].get<std::string>().empty());
  EXPECT_EQ(j["nodes"][1]["findings"][0]["id"], "probe-failed");
  // 3 unless the good node itself has a decided blocking finding (1 wins: the answer is no).
  bool good_blocks = false;
  for (const json& f : j["nodes"][0]["findings"])
    if (f["severity"] == "blocking" && !f.value("undecided", false)) good_blocks = true;
  EXPECT_EQ(r.rc, good_blocks ? 1 : 3);
  fs::remove_all(d);
}

TEST(ProbeSsh, HangingSshIsKilledAtTheTimeoutAndReportedUnreachable) {
  REQUIRE_SSHD();
  fs::path d = TempDir("hang");
  // A fake ssh that never answers: the one fault the real ssh cannot produce on demand.
  WriteFile(d / "hang-ssh", "#!/bin/sh\nexec sleep 600\n");
  fs::permissions(d / "hang-ssh", fs::perms::owner_all);
  WriteFile(d / "inv.ini", "slow ansible_host=127.0.0.1\n");
  CmdRun r = Fwgate({"probe", "--inventory", (d / "inv.ini").string(), "--json", "--timeout", "1",
                     "--ssh-program", (d / "hang-ssh").string()});
  EXPECT_EQ(r.rc, 3) << r.err;
  json j = json::parse(r.out);
  EXPECT_NE(j["nodes"][0]["error"].get<std::string>().find("timed out"), std::string::npos);
  fs::remove_all(d);
}

TEST(ProbeSsh, HostileInventoriesAreRejectedBeforeAnythingRuns) {
  REQUIRE_SSHD();
  fs::path d = TempDir("hostile");
  fs::path canary = d / "canary";
  const std::vector<std::string> hostile = {
      "evil ansible_host=-oProxyCommand=touch${IFS}" + canary.string() + "\n",
      "-oProxyCommand=touch_" + canary.string() + "\n",
      "evil ansible_host=127.0.0.1 ansible_user=-oProxyCommand=touch\n",
      "evil ansible_host='127.0.0.1;touch " + canary.string() + "'\n",
      "ev$(touch " + canary.string() + ")il\n",
      "evil ansible_host=127.0.0.1 ansible_port=22;reboot\n",
      "evil ansible_host=127.0.0.1 ansible_ssh_private_key_file=-oProxyCommand=x\n",
      "all:\n  hosts:\n    evil:\n      ansible_host: \"`touch " + canary.string() + "`\"\n",
  };
  for (size_t i = 0; i < hostile.size(); ++i) {
    fs::path inv = d / ("inv" + std::to_string(i) + (i == hostile.size() - 1 ? ".yml" : ".ini"));
    WriteFile(inv, env.InventoryLine("good") + "\n" + hostile[i]);
    if (i == hostile.size() - 1) WriteFile(inv, hostile[i]);
    std::vector<std::string> args = {"probe", "--inventory", inv.string()};
    for (auto& f : env.SshFlags()) args.push_back(f);
    CmdRun r = Fwgate(args);
    EXPECT_EQ(r.rc, 2) << hostile[i] << r.err;
    EXPECT_NE(r.err.find(inv.string() + ":"), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << "nothing may be probed: " << r.out;
  }
  EXPECT_FALSE(fs::exists(canary)) << "a hostile inventory value was executed";
  fs::remove_all(d);
}

TEST(ProbeSsh, LimitSelectsAGroupAndUnknownGroupIsBadInput) {
  REQUIRE_SSHD();
  fs::path d = TempDir("limit");
  WriteFile(d / "inv.yml",
            "all:\n  children:\n    storage:\n      hosts:\n        s1:\n"
            "          ansible_host: 127.0.0.1\n          ansible_port: " +
                std::to_string(env.port) +
                "\n      vars:\n        ansible_user: root\n"
                "        ansible_ssh_private_key_file: " +
                (env.dir / "user_key").string() +
                "\n    other:\n      hosts:\n        o1:\n          ansible_host: 127.0.0.2\n");
  std::vector<std::string> args = {"probe",   "--inventory", (d / "inv.yml").string(),
                                   "--limit", "storage",     "--json"};
  for (auto& f : env.SshFlags()) args.push_back(f);
  CmdRun r = Fwgate(args);
  json j = json::parse(r.out);
  ASSERT_EQ(j["nodes"].size(), 1u);
  EXPECT_EQ(j["nodes"][0]["name"], "s1");
  EXPECT_TRUE(j["nodes"][0]["reachable"].get<bool>()) << j.dump();
  CmdRun bad = Fwgate({"probe", "--inventory", (d / "inv.yml").string(), "--limit", "nosuch"});
  EXPECT_EQ(bad.rc, 2);
  fs::remove_all(d);
}

TEST(ProbeNetns, ProbesANamedNamespaceWithItsOwnSysctlsAndRuleset) {
  if (auto st = fwgate::sys::CanCreateNamespaces(); !st) GTEST_SKIP() << st.error().ToString();
  std::string name = "fwgate-probe-test-" + std::to_string(getpid());
  ASSERT_TRUE(RunTool({"ip", "netns", "add", name}));
  fs::path d = TempDir("netns");
  WriteFile(
      d / "rules.nft",
      "table inet storage {\n chain input {\n  type filter hook input priority 0; policy accept;\n"
      "  ct state established,related accept\n }\n}\n");
  bool loaded = RunTool({"ip", "netns", "exec", name, "nft", "-f", (d / "rules.nft").string()}) &&
                RunTool({"ip", "netns", "exec", name, "sysctl", "-q", "-w",
                         "net.netfilter.nf_conntrack_tcp_be_liberal=1"});
  CmdRun r = Fwgate({"probe", "--netns", name, "--json"});
  CmdRun prom = Fwgate({"probe", "--netns", name, "--prometheus"});
  RunTool({"ip", "netns", "del", name});
  fs::remove_all(d);
  ASSERT_TRUE(loaded);
  json j = json::parse(r.out);
  const json& n = j["nodes"][0];
  EXPECT_TRUE(n["reachable"].get<bool>()) << n.dump();
  EXPECT_EQ(n["transport"], "netns");
  // be_liberal is per netns (docs/kernel-conntrack.md §3.3): 1 here whatever the host has.
  EXPECT_EQ(n["sysctls"]["nf_conntrack_tcp_be_liberal"], 1);
  EXPECT_NE(n["ruleset_text"].get<std::string>().find("table inet storage"), std::string::npos);
  EXPECT_FALSE(n["backends"]["nftables"]["ct_users"]["ipv4"].empty());
  EXPECT_FALSE(n["backends"]["nftables"]["ct_users"]["ipv6"].empty());
  EXPECT_NE(prom.out.find("fwgate_nf_conntrack_tcp_be_liberal{node=\"" + name + "\"} 1"),
            std::string::npos)
      << prom.out;
  EXPECT_NE(prom.out.find("# TYPE fwgate_nf_conntrack_entries gauge"), std::string::npos);
  CmdRun missing = Fwgate({"probe", "--netns", "fwgate-no-such-ns"});
  EXPECT_EQ(missing.rc, 2);
}

TEST(ProbeFrom, ReadsLocalJsonFilesAndReportsCorruptOnesUnreadable) {
  fs::path d = TempDir("from");
  CmdRun local = Fwgate({"probe", "--local", "--json", "--name", "here"});
  ASSERT_FALSE(local.out.empty()) << local.err;
  WriteFile(d / "here.json", local.out);
  CmdRun good = Fwgate({"probe", "--from", d.string(), "--json"});
  json j = json::parse(good.out);
  ASSERT_EQ(j["nodes"].size(), 1u);
  EXPECT_EQ(j["nodes"][0]["name"], "here");
  EXPECT_EQ(j["nodes"][0]["reachable"], json::parse(local.out)["nodes"][0]["reachable"]);
  EXPECT_EQ(good.rc, local.rc);
  WriteFile(d / "broken.json", "{\"nodes\": [ {\"name\": \"x\", \"reach");
  WriteFile(
      d / "wrongtype.json",
      "{\"name\": \"y\", \"reachable\": true, \"sysctls\": {\"nf_conntrack_max\": \"lots\"}}");
  CmdRun mixed = Fwgate({"probe", "--from", d.string(), "--json"});
  json m = json::parse(mixed.out);
  ASSERT_EQ(m["nodes"].size(), 3u);
  int unreadable = 0;
  for (const json& n : m["nodes"]) unreadable += n["reachable"].get<bool>() ? 0 : 1;
  EXPECT_EQ(unreadable, 2);
  EXPECT_TRUE(mixed.rc == 3 || mixed.rc == 1);
  fs::remove_all(d);
}

TEST(ProbeSsh, HostSshArgumentsReachSshAsSeparateArguments) {
  REQUIRE_SSHD();
  fs::path d = TempDir("sshargs");
  // A recording ssh: proves each argument arrives as its own argv element, in place.
  WriteFile(d / "record-ssh", "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > " +
                                  (d / "argv").string() + "\nexit 255\n");
  fs::permissions(d / "record-ssh", fs::perms::owner_all);
  WriteFile(d / "inv.ini",
            "n1 ansible_host=127.0.0.1 ansible_ssh_common_args='-o ServerAliveInterval=7 "
            "-o \"ProxyJump=ops@jump.example\"' ansible_ssh_extra_args=-4\n");
  CmdRun rec = Fwgate({"probe", "--inventory", (d / "inv.ini").string(), "--json", "--ssh-program",
                       (d / "record-ssh").string()});
  EXPECT_EQ(rec.rc, 3) << rec.err;
  std::ifstream in(d / "argv");
  std::vector<std::string> argv;
  for (std::string line; std::getline(in, line);) argv.push_back(line);
  std::vector<std::string> tail = {"-o",        "ServerAliveInterval=7",
                                   "-o",        "ProxyJump=ops@jump.example",
                                   "-4",        "--",
                                   "127.0.0.1", "sh",
                                   "-s"};
  ASSERT_GE(argv.size(), tail.size());
  EXPECT_EQ(std::vector<std::string>(argv.end() - tail.size(), argv.end()), tail);
  // The real sshd, with a harmless per-host option: still probed.
  WriteFile(d / "real.ini",
            "[storage]\n" + env.InventoryLine("s1").substr(0, env.InventoryLine("s1").size() - 1) +
                " ansible_ssh_common_args='-o ServerAliveInterval=5'\n");
  std::vector<std::string> args = {"probe", "--inventory", (d / "real.ini").string(), "--json"};
  for (auto& f : env.SshFlags()) args.push_back(f);
  CmdRun r = Fwgate(args);
  json j = json::parse(r.out);
  EXPECT_TRUE(j["nodes"][0]["reachable"].get<bool>()) << j.dump();
  // A command-running option is refused before anything runs.
  WriteFile(d / "bad.ini", "n1 ansible_host=127.0.0.1 ansible_ssh_common_args='-o ProxyCommand=" +
                               (d / "canary").string() + "'\n");
  CmdRun bad = Fwgate({"probe", "--inventory", (d / "bad.ini").string()});
  EXPECT_EQ(bad.rc, 2);
  EXPECT_NE(bad.err.find("ProxyCommand is refused"), std::string::npos) << bad.err;
  fs::remove_all(d);
}

TEST(ProbeSsh, AnsibleInventoryAndPatternsSelectTheSameNodes) {
  REQUIRE_SSHD();
  if (access("/usr/bin/ansible-inventory", X_OK) != 0)
    GTEST_SKIP() << "ansible-inventory not installed (ansible-core, scripts/setup.sh)";
  fs::path d = TempDir("ansinv");
  fwgate::testing::SetAnsibleEnvironment(d, env);
  WriteFile(d / "inv.ini", "[storage]\n" + env.InventoryLine("s1") + env.InventoryLine("s2") +
                               "[mon]\n" + env.InventoryLine("m1"));
  for (bool via_ansible : {false, true}) {
    std::vector<std::string> args = {"probe",   "--inventory",    (d / "inv.ini").string(),
                                     "--limit", "storage:!s2,m1", "--json"};
    if (via_ansible) args.push_back("--ansible-inventory");
    for (auto& f : env.SshFlags()) args.push_back(f);
    CmdRun r = Fwgate(args);
    ASSERT_FALSE(r.out.empty()) << r.err;
    json j = json::parse(r.out);
    ASSERT_EQ(j["nodes"].size(), 2u) << via_ansible;
    // ansible-inventory --list sorts its groups, so only the built-in reader keeps file order.
    std::set<std::string> names = {j["nodes"][0]["name"], j["nodes"][1]["name"]};
    EXPECT_EQ(names, (std::set<std::string>{"s1", "m1"}));
    if (!via_ansible) {
      EXPECT_EQ(j["nodes"][0]["name"], "s1");
    }
    for (const json& n : j["nodes"]) EXPECT_TRUE(n["reachable"].get<bool>()) << n.dump();
  }
  fs::remove_all(d);
}

TEST(ProbeAnsible, PlaybookProbesEveryHostWithAnsibleAndFromReadsTheResults) {
  REQUIRE_SSHD();
  if (access("/usr/bin/ansible-playbook", X_OK) != 0)
    GTEST_SKIP() << "ansible-playbook not installed (ansible-core, scripts/setup.sh)";
  fs::path d = TempDir("playbook");
  fwgate::testing::SetAnsibleEnvironment(d, env);
  int dead =
      fwgate::testing::FreeLoopbackPort();  // nothing listens there: Ansible reports it unreachable
  WriteFile(d / "inv.ini",
            "[storage]\n" + env.InventoryLine("n1") + env.InventoryLine("n2") +
                "gone ansible_host=127.0.0.1 ansible_port=" + std::to_string(dead) +
                " ansible_user=root\n[all:vars]\nansible_python_interpreter=/usr/bin/python3\n");
  fs::path out = d / "results";
  auto play = fwgate::probe::RunProcess(
      "/usr/bin/ansible-playbook",
      {"-i", (d / "inv.ini").string(),
       std::string(FWGATE_SOURCE_DIR) + "/contrib/ansible/probe.yml", "-e",
       "fwgate_out=" + out.string(), "-e", std::string("fwgate_bin=") + FWGATE_BINARY, "-f", "4"},
      "", std::chrono::seconds(300), 16u << 20);
  ASSERT_TRUE(play.ok());
  // ansible-playbook exits 4 when a host was unreachable; every host must still have its file.
  EXPECT_TRUE(play->exit_code == 0 || play->exit_code == 4) << play->out << play->err;
  for (const char* h : {"n1", "n2", "gone"})
    EXPECT_TRUE(fs::exists(out / (std::string(h) + ".json"))) << h << "\n" << play->out;
  CmdRun from = Fwgate({"probe", "--from", out.string(), "--json"});
  ASSERT_FALSE(from.out.empty()) << from.err;
  json j = json::parse(from.out);
  std::map<std::string, json> by;
  for (const json& n : j["nodes"]) by[n["name"].get<std::string>()] = n;
  ASSERT_EQ(by.size(), 3u) << from.out.substr(0, 2000);
  // The same facts as fwgate's own ssh probe of the same host.
  WriteFile(d / "direct.ini", env.InventoryLine("n1"));
  std::vector<std::string> args = {"probe", "--inventory", (d / "direct.ini").string(), "--json"};
  for (auto& f : env.SshFlags()) args.push_back(f);
  json direct = json::parse(Fwgate(args).out)["nodes"][0];
  for (const char* h : {"n1", "n2"}) {
    EXPECT_TRUE(by[h]["reachable"].get<bool>()) << by[h].dump().substr(0, 1000);
    EXPECT_EQ(by[h]["kernel"], direct["kernel"]);
    EXPECT_EQ(by[h]["sysctls"]["nf_conntrack_max"], direct["sysctls"]["nf_conntrack_max"]);
    EXPECT_EQ(by[h]["kernel_class"], direct["kernel_class"]);
  }
  EXPECT_FALSE(by["gone"]["reachable"].get<bool>());
  EXPECT_FALSE(by["gone"]["error"].get<std::string>().empty());
  bool blocks = false;
  for (const char* h : {"n1", "n2"}) {
    for (const json& f : by[h]["findings"]) {
      if (f["severity"] == "blocking" && !f.value("undecided", false)) blocks = true;
    }
  }
  EXPECT_EQ(from.rc, blocks ? 1 : 3);
  fs::remove_all(d);
}
