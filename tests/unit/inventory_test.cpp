// Ansible inventories (INI, YAML, ansible-inventory JSON) to validated targets; hostile values
// rejected as FILE:LINE:COL; parsing linear and bounded; --limit patterns as Ansible's.
#include "gate/probe/inventory.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "gate/probe/transport.h"
#include "tests/support/subprocess.h"

using fwgate::probe::ExpandHostPattern;
using fwgate::probe::IsValidHost;
using fwgate::probe::ParseInventory;

TEST(Inventory, ReadsIniHostsGroupsChildrenVarsAndRanges) {
  auto inv = ParseInventory(
      "# comment\n"
      "bastion ansible_host=192.0.2.1\n"
      "[osd]\n"
      "osd[01:03] ansible_user=ceph\n"
      "mon1 ansible_host=\"10.0.0.5\" ansible_port='2222' unknown_var=x\n"
      "[osd:vars]\n"
      "ansible_port = 2200\n"
      "ansible_ssh_private_key_file=/keys/id_ed25519\n"
      "[storage:children]\n"
      "osd\n",
      "inv.ini");
  ASSERT_TRUE(inv.ok()) << inv.error().ToString();
  ASSERT_EQ(inv->hosts.size(), 5u);
  EXPECT_EQ(inv->hosts[1].name, "osd01");
  EXPECT_EQ(inv->hosts[3].name, "osd03");
  EXPECT_EQ(inv->hosts[1].user, "ceph");
  EXPECT_EQ(inv->hosts[1].port, 2200);  // group var
  EXPECT_EQ(inv->hosts[1].identity, "/keys/id_ed25519");
  EXPECT_EQ(inv->hosts[4].host, "10.0.0.5");
  EXPECT_EQ(inv->hosts[4].port, 2222);  // host var beats group var
  auto storage = inv->Select("storage");
  ASSERT_TRUE(storage.ok());
  EXPECT_EQ(storage->size(), 4u);
  EXPECT_FALSE(inv->Select("nosuch").ok());
  EXPECT_EQ(inv->Select("")->size(), 5u);
}

TEST(Inventory, ReadsYamlWithNestedChildrenAndVars) {
  auto inv = ParseInventory(
      "all:\n"
      "  vars:\n"
      "    ansible_user: root\n"
      "  children:\n"
      "    ceph:\n"
      "      children:\n"
      "        osds:\n"
      "          hosts:\n"
      "            node[a:c]:\n"
      "              ansible_port: 2022\n"
      "        mons:\n"
      "          hosts:\n"
      "            mon1:\n"
      "              ansible_host: fd00::1\n",
      "inv.yml");
  ASSERT_TRUE(inv.ok()) << inv.error().ToString();
  ASSERT_EQ(inv->hosts.size(), 4u);
  EXPECT_EQ(inv->hosts[0].name, "nodea");
  EXPECT_EQ(inv->hosts[0].port, 2022);
  EXPECT_EQ(inv->hosts[0].user, "root");
  EXPECT_EQ(inv->hosts[3].host, "fd00::1");
  EXPECT_EQ(inv->Select("ceph")->size(), 4u);
  EXPECT_EQ(inv->Select("mons")->size(), 1u);
}

TEST(Inventory, RejectsHostileValuesWithFileLineColumn) {
  struct Case {
    const char* text;
    const char* where;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"good\nevil ansible_host=-oProxyCommand=sh\n", "inv.ini:2:19:"},
           {"-oProxyCommand=id\n", "inv.ini:1:1:"},
           {"a ansible_host=1.2.3.4 ansible_user=-lroot\n", "inv.ini:1:37:"},
           {"a$(id) ansible_host=1.2.3.4\n", "inv.ini:1:1:"},
           {"a ansible_host='1.2.3.4;id'\n", "inv.ini:1:16:"},
           {"a ansible_host=1.2.3.4 ansible_port=22x\n", "inv.ini:1:37:"},
           {"a ansible_host=1.2.3.4 ansible_port=70000\n", "inv.ini:1:37:"},
           {"a ansible_host=`id`\n", "inv.ini:1:16:"},
           {"a ansible_host=\"unterminated\n", "inv.ini:1:"},
           {"[bad group]\n", "inv.ini:1:"},
           {"a ansible_host=1.2.3.4 ansible_ssh_private_key_file=-oX\n", "inv.ini:1:"},
           {"a ansible_host=host|evil\n", "inv.ini:1:16:"},
           {"1.2.3\n", "inv.ini:1:1:"},
       }) {
    auto inv = ParseInventory(c.text, "inv.ini");
    ASSERT_FALSE(inv.ok()) << c.text;
    EXPECT_EQ(inv.error().context.rfind(c.where, 0), 0u) << c.text << " -> " << inv.error().context;
  }
  auto y = ParseInventory("all:\n  hosts:\n    h1:\n      ansible_host: \"-oProxyCommand=x\"\n",
                          "i.yml");
  ASSERT_FALSE(y.ok());
  EXPECT_EQ(y.error().context.rfind("i.yml:4:21:", 0), 0u) << y.error().context;
  auto broken = ParseInventory("all:\n  hosts: [\n", "b.yml");
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.error().context.rfind("b.yml:", 0), 0u);
}

TEST(Inventory, HostValidation) {
  for (const char* ok :
       {"node01", "node-1.example.com", "10.0.0.1", "fd00::1", "::1", "a_b.internal"})
    EXPECT_TRUE(IsValidHost(ok)) << ok;
  for (const char* bad :
       {"", "-oFoo", "a b", "a;b", "$(x)", "a..b", "-1.2.3.4", "1.2.3", "x/y", "a\nb"})
    EXPECT_FALSE(IsValidHost(bad)) << bad;
}

TEST(Inventory, ExpandsRanges) {
  EXPECT_EQ(*ExpandHostPattern("n[08:10]"), (std::vector<std::string>{"n08", "n09", "n10"}));
  EXPECT_EQ(*ExpandHostPattern("r[1:2]n[a:b]"),
            (std::vector<std::string>{"r1na", "r1nb", "r2na", "r2nb"}));
  EXPECT_EQ(ExpandHostPattern("n[0:10:5]")->size(), 3u);
  EXPECT_FALSE(ExpandHostPattern("n[3:1]").ok());
  EXPECT_FALSE(ExpandHostPattern("n[1:99999]").ok());
}

TEST(SshTransport, ArgumentVectorEndsOptionsBeforeTheHost) {
  fwgate::probe::SshOptions o;
  o.extra_options = {"StrictHostKeyChecking=no"};
  fwgate::probe::SshTransport t(o);
  fwgate::probe::Target target{"n1", "10.0.0.1", 2222, "ceph", "/k/id"};
  auto a = t.Arguments(target);
  std::vector<std::string> want = {"-o", "BatchMode=yes",
                                   "-o", "ConnectTimeout=10",
                                   "-o", "StrictHostKeyChecking=no",
                                   "-p", "2222",
                                   "-l", "ceph",
                                   "-i", "/k/id",
                                   "--", "10.0.0.1",
                                   "sh", "-s"};
  EXPECT_EQ(a, want);
}

namespace {

double SecondsToParse(const std::string& text, const std::string& path, bool* ok) {
  auto t0 = std::chrono::steady_clock::now();
  auto inv = ParseInventory(text, path);
  *ok = inv.ok();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<std::string> Names(const std::vector<fwgate::probe::Target>& ts) {
  std::vector<std::string> out;
  for (const auto& t : ts) out.push_back(t.name);
  return out;
}

}  // namespace

// Before: 72 s (a linear search per host, per group, per group var).
TEST(InventoryScale, HundredThousandIniHostsParseInLinearTime) {
  std::string text = "[storage]\n";
  for (int i = 0; i < 100000; ++i) text += "n" + std::to_string(i) + " ansible_port=22\n";
  bool ok = false;
  double s = SecondsToParse(text, "big.ini", &ok);
  EXPECT_TRUE(ok);
  EXPECT_LT(s, 5.0);
}

// Before: 52 s for 410 bytes.
TEST(InventoryScale, RangeLinesExpandInLinearTime) {
  std::string text;
  for (int i = 0; i < 25; ++i) text += "r" + std::to_string(i) + "n[0000:3999]\n";
  bool ok = false;
  double s = SecondsToParse(text, "ranges.ini", &ok);
  EXPECT_TRUE(ok);
  EXPECT_LT(s, 5.0);
  auto inv = ParseInventory(text, "ranges.ini");
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(inv->hosts.size(), 100000u);
}

// Before: more than 180 s.
TEST(InventoryScale, TenThousandGroupsParseInLinearTime) {
  std::string text;
  for (int i = 0; i < 10000; ++i)
    text += "[g" + std::to_string(i) + "]\nh" + std::to_string(i) + "\n[g" + std::to_string(i) +
            ":vars]\nansible_user=u" + std::to_string(i % 7) + "\n";
  text += "[top:children]\n";
  for (int i = 0; i < 10000; ++i) text += "g" + std::to_string(i) + "\n";
  bool ok = false;
  double s = SecondsToParse(text, "groups.ini", &ok);
  EXPECT_TRUE(ok);
  EXPECT_LT(s, 5.0);
  auto inv = ParseInventory(text, "groups.ini");
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(inv->Select("top")->size(), 10000u);
  EXPECT_EQ(inv->hosts[8].user, "u1");
}

// Before: a 1.5 KB file took 118 s and 3.7 GB, then bad_alloc.
TEST(InventoryScale, YamlAliasFanOutIsRefusedQuickly) {
  std::string text = "all:\n  vars:\n    a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 12; ++i) {
    std::string prev = "*a" + std::to_string(i - 1);
    text += "    a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + prev + ", " + prev +
            ", " + prev + ", " + prev + ", " + prev + ", " + prev + ", " + prev + ", " + prev +
            ", " + prev + ", " + prev + "]\n";
  }
  text += "  hosts:\n    h1:\n      fanout: *a11\n      more: [*a11, *a11, *a11]\n";
  ASSERT_LT(text.size(), 2000u);
  bool ok = true;
  double s = SecondsToParse(text, "laugh.yml", &ok);
  EXPECT_FALSE(ok);
  EXPECT_LT(s, 2.0);
  auto inv = ParseInventory(text, "laugh.yml");
  ASSERT_FALSE(inv.ok());
  EXPECT_NE(inv.error().context.find("aliases expand"), std::string::npos) << inv.error().context;
  EXPECT_EQ(inv.error().kind, fwgate::ErrorKind::kBadInput);
  // Modest alias use (a shared vars block) is fine.
  auto fine = ParseInventory(
      "all:\n  children:\n    a:\n      hosts:\n        h1: &common\n          ansible_user: ceph\n"
      "        h2: *common\n",
      "fine.yml");
  ASSERT_TRUE(fine.ok()) << fine.error().context;
  EXPECT_EQ(fine->hosts[1].user, "ceph");
}

// Before: the NUL passed validation and ssh got "127.0.0.1".
TEST(InventoryValidation, NulInsideAQuotedYamlValueIsRefused) {
  auto inv = ParseInventory("all:\n  hosts:\n    h1:\n      ansible_host: \"127.0.0.1\\0evil\"\n",
                            "nul.yml");
  ASSERT_FALSE(inv.ok());
  EXPECT_EQ(inv.error().context.rfind("nul.yml:4:21:", 0), 0u) << inv.error().context;
  EXPECT_NE(inv.error().context.find("NUL"), std::string::npos);
  auto raw = ParseInventory(std::string("all:\n  hosts:\n    h\0x:\n", 22), "raw.yml");
  ASSERT_FALSE(raw.ok());
  EXPECT_EQ(raw.error().context.rfind("raw.yml:3:6:", 0), 0u) << raw.error().context;
  auto ini = ParseInventory(std::string("h1 ansible_host=1.2.3.4\0x\n", 26), "nul.ini");
  ASSERT_FALSE(ini.ok());
  EXPECT_EQ(ini.error().context.rfind("nul.ini:1:24:", 0), 0u) << ini.error().context;
  EXPECT_FALSE(IsValidHost(std::string("127.0.0.1\0x", 11)));
}

// Before: list- and map-valued connection variables were silently ignored.
TEST(InventoryValidation, ListOrMapValuedConnectionVariablesAreBadInput) {
  for (const char* text : {
           "all:\n  hosts:\n    h1:\n      ansible_host: [10.0.0.1, 10.0.0.2]\n",
           "all:\n  hosts:\n    h1:\n      ansible_port:\n        a: 1\n",
           "all:\n  vars:\n    ansible_user: [root]\n  hosts:\n    h1:\n",
       }) {
    auto inv = ParseInventory(text, "l.yml");
    ASSERT_FALSE(inv.ok()) << text;
    EXPECT_NE(inv.error().context.find("connection variable must be a single value"),
              std::string::npos)
        << inv.error().context;
    EXPECT_EQ(inv.error().context.rfind("l.yml:", 0), 0u);
  }
  auto ini = ParseInventory("h1 ansible_port=[22,23]\n", "l.ini");
  ASSERT_FALSE(ini.ok());
  EXPECT_EQ(ini.error().context.rfind("l.ini:1:17:", 0), 0u) << ini.error().context;
  auto ini2 = ParseInventory("h1\n[all:vars]\nansible_host = {'a': 1}\n", "l.ini");
  ASSERT_FALSE(ini2.ok());
  EXPECT_EQ(ini2.error().context.rfind("l.ini:3:16:", 0), 0u) << ini2.error().context;
  // Variables fwgate does not use may be anything.
  EXPECT_TRUE(ParseInventory("h1 ceph_roles=[1,2] other={'a':1}\n", "ok.ini").ok());
}

// Before: "[g:vars]" values were cut at the first space.
TEST(InventoryIni, VarsSectionValuesAreTheRestOfTheLineReadAsAnsibleDoes) {
  auto inv = ParseInventory(
      "[osd]\nh1\nh2 ansible_user='ceph'\n"
      "[osd:vars]\n"
      "ansible_ssh_common_args = -o ProxyJump=admin@bastion.example -o ServerAliveInterval=15\n"
      "ansible_user = \"osd\"\n"
      "ansible_port=2222\n",
      "v.ini");
  ASSERT_TRUE(inv.ok()) << inv.error().context;
  EXPECT_EQ(inv->hosts[0].user, "osd");   // the quotes are a Python string literal
  EXPECT_EQ(inv->hosts[1].user, "ceph");  // host var wins
  EXPECT_EQ(inv->hosts[0].port, 2222);
  std::vector<std::string> want = {"-o", "ProxyJump=admin@bastion.example", "-o",
                                   "ServerAliveInterval=15"};
  EXPECT_EQ(inv->hosts[0].ssh_args, want);
  // A '#' after the value is part of it in a vars section (Ansible strips no inline comment
  // there) and makes this user invalid rather than silently "ceph".
  auto c = ParseInventory("h1\n[all:vars]\nansible_user = ceph # admin\n", "c.ini");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().context.rfind("c.ini:3:16:", 0), 0u) << c.error().context;
  // On host lines '#' starts a comment, quotes and backslashes are shell-like.
  auto h = ParseInventory(
      "h1 ansible_user=ceph#comment ansible_port=1\n"
      "h2 ansible_host=a\\.b \"ansible_user\"=x\n",
      "h.ini");
  ASSERT_TRUE(h.ok()) << h.error().context;
  EXPECT_EQ(h->hosts[0].user, "ceph");
  EXPECT_EQ(h->hosts[0].port, 0);
  EXPECT_EQ(h->hosts[1].host, "a.b");
  EXPECT_EQ(h->hosts[1].user, "x");
}

TEST(InventoryIni, HostPortSuffixAndPrecedenceByDepthThenName) {
  auto inv = ParseInventory(
      "web1:2201\n[fd00::7]:2202\n"
      "[a]\nweb1\n[b]\nweb1\n[a:vars]\nansible_user=from_a\n[b:vars]\nansible_user=from_b\n"
      "[parent:children]\nb\n[parent:vars]\nansible_user=from_parent\n",
      "p.ini");
  ASSERT_TRUE(inv.ok()) << inv.error().context;
  EXPECT_EQ(inv->hosts[0].port, 2201);
  EXPECT_EQ(inv->hosts[1].host, "fd00::7");
  EXPECT_EQ(inv->hosts[1].port, 2202);
  // b is deeper than a (its parent is "parent"), so b wins; among equal depth, the later name.
  EXPECT_EQ(inv->hosts[0].user, "from_b");
}

TEST(InventoryValidation, Ipv6WithAScopeIdIsAccepted) {
  EXPECT_TRUE(IsValidHost("fe80::1%eth0"));
  EXPECT_TRUE(IsValidHost("fe80::1%2"));
  EXPECT_FALSE(IsValidHost("fe80::1%"));
  EXPECT_FALSE(IsValidHost("fe80::1%eth0;id"));
  EXPECT_FALSE(IsValidHost("nothex%eth0"));
  auto inv = ParseInventory("ll ansible_host=fe80::1%eth0\n", "s.ini");
  ASSERT_TRUE(inv.ok()) << inv.error().context;
  EXPECT_EQ(inv->hosts[0].host, "fe80::1%eth0");
  auto yml = ParseInventory("all:\n  hosts:\n    ll:\n      ansible_host: fe80::1%eth0\n", "s.yml");
  ASSERT_TRUE(yml.ok()) << yml.error().context;
}

TEST(InventorySshArgs, SafeOptionsBecomeSeparateArgumentsAndCommandOptionsAreRefused) {
  using fwgate::probe::ParseSshArgs;
  auto ok = ParseSshArgs(
      "-o 'ProxyJump=ops@bastion:2222' -oStrictHostKeyChecking=no -4 -C "
      "-J jump1,jump2:22 -i \"/keys/my key\"");
  ASSERT_TRUE(ok.ok()) << ok.error().context;
  std::vector<std::string> want = {"-o", "ProxyJump=ops@bastion:2222",
                                   "-o", "StrictHostKeyChecking=no",
                                   "-4", "-C",
                                   "-J", "jump1,jump2:22",
                                   "-i", "/keys/my key"};
  EXPECT_EQ(*ok, want);
  for (const char* bad :
       {"-o ProxyCommand='nc %h %p'", "-oLocalCommand=id", "-o PermitLocalCommand=yes",
        "-o 'Match exec \"id\"'", "-L 8080:x:80", "-R 1:x:2", "id", "-- id",
        "-o ProxyJump=-oProxyCommand=x", "-J '$(id)'", "-o KnownHostsCommand=/x",
        "-o 'unterminated", "-p 99999", "-o SendEnv=X"}) {
    auto r = ParseSshArgs(bad);
    EXPECT_FALSE(r.ok()) << bad;
  }
  auto pc = ParseSshArgs("-o ProxyCommand=nc");
  ASSERT_FALSE(pc.ok());
  EXPECT_NE(pc.error().context.find("ProxyJump"), std::string::npos) << pc.error().context;
  // From an inventory: refused with the position of the value.
  auto inv = ParseInventory("h1 ansible_ssh_extra_args='-o ProxyCommand=nc'\n", "x.ini");
  ASSERT_FALSE(inv.ok());
  EXPECT_EQ(inv.error().context.rfind("x.ini:1:27: ansible_ssh_extra_args: ", 0), 0u)
      << inv.error().context;
  auto good = ParseInventory(
      "h1 ansible_ssh_common_args='-o ServerAliveInterval=5' ansible_ssh_extra_args=-4\n", "g.ini");
  ASSERT_TRUE(good.ok()) << good.error().context;
  EXPECT_EQ(good->hosts[0].ssh_args,
            (std::vector<std::string>{"-o", "ServerAliveInterval=5", "-4"}));
}

TEST(InventoryPatterns, LimitTakesAnsiblePatterns) {
  auto inv = ParseInventory(
      "[osd]\nosd[1:4]\n[mon]\nmon1\nmon2\n[rack1]\nosd1\nosd2\nmon1\n[ceph:children]\nosd\nmon\n",
      "p.ini");
  ASSERT_TRUE(inv.ok()) << inv.error().context;
  using V = std::vector<std::string>;
  EXPECT_EQ(Names(*inv->Select("osd")), (V{"osd1", "osd2", "osd3", "osd4"}));
  EXPECT_EQ(Names(*inv->Select("mon1:osd3")), (V{"osd3", "mon1"}));  // inventory order
  EXPECT_EQ(Names(*inv->Select("mon1,osd3")), (V{"osd3", "mon1"}));
  EXPECT_EQ(Names(*inv->Select("ceph:&rack1")), (V{"osd1", "osd2", "mon1"}));
  EXPECT_EQ(Names(*inv->Select("ceph:!rack1")), (V{"osd3", "osd4", "mon2"}));
  EXPECT_EQ(Names(*inv->Select("osd:&rack1:!osd2")), (V{"osd1"}));
  EXPECT_EQ(Names(*inv->Select("mon*")), (V{"mon1", "mon2"}));
  EXPECT_EQ(Names(*inv->Select("osd[34]")), (V{"osd3", "osd4"}));
  EXPECT_EQ(Names(*inv->Select("~osd[12]")), (V{"osd1", "osd2"}));
  EXPECT_EQ(inv->Select("all")->size(), 6u);
  EXPECT_EQ(Names(*inv->Select("!osd")), (V{"mon1", "mon2"}));
  EXPECT_FALSE(inv->Select("nosuch").ok());
  EXPECT_FALSE(inv->Select("osd:&mon").ok());  // leaves no hosts
  EXPECT_NE(inv->Select("nosuch").error().context.find("groups: "), std::string::npos);
}

TEST(InventoryJson, ReadsAnsibleInventoryListOutput) {
  auto inv = ParseInventory(R"({
    "_meta": {"hostvars": {"osd1": {"ansible_host": "10.0.0.1", "ansible_port": 2222,
                                     "ansible_user": "ceph"},
                            "mon1": {"ansible_ssh_common_args": "-o ServerAliveInterval=5"}}},
    "all": {"children": ["ungrouped", "ceph"]},
    "ceph": {"children": ["osd", "mon"]},
    "osd": {"hosts": ["osd1"]},
    "mon": {"hosts": ["mon1"]}
  })",
                            "inv.json");
  ASSERT_TRUE(inv.ok()) << inv.error().context;
  ASSERT_EQ(inv->hosts.size(), 2u);
  EXPECT_EQ(inv->hosts[0].name, "osd1");
  EXPECT_EQ(inv->hosts[0].host, "10.0.0.1");
  EXPECT_EQ(inv->hosts[0].port, 2222);
  EXPECT_EQ(inv->Select("ceph")->size(), 2u);
  auto bad =
      ParseInventory(R"({"_meta": {"hostvars": {"h": {"ansible_host": ["a", "b"]}}}})", "bad.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().context.find("host h"), std::string::npos) << bad.error().context;
}

namespace {

// `ansible-inventory -i FILE --list` as Ansible itself reads FILE.
std::optional<std::string> AnsibleList(const std::string& file) {
  if (access("/usr/bin/ansible-inventory", X_OK) != 0) return std::nullopt;
  auto r = fwgate::testing::RunProcess({"/usr/bin/ansible-inventory", "-i", file, "--list"});
  if (r.exit_code != 0) return std::nullopt;
  return r.out;
}

}  // namespace

TEST(InventoryJson, BuiltInReaderAndAnsibleInventoryGiveTheSameHosts) {
  if (access("/usr/bin/ansible-inventory", X_OK) != 0)
    GTEST_SKIP() << "ansible-inventory not installed (ansible-core, scripts/setup.sh)";
  namespace fs = std::filesystem;
  fs::path d = fs::temp_directory_path() / ("fwgate-inv-" + std::to_string(getpid()));
  fs::create_directories(d / "tmp");
  // Nothing read from or written to the user's home.
  std::ofstream(d / "ansible.cfg") << "[defaults]\n";
  setenv("ANSIBLE_CONFIG", (d / "ansible.cfg").c_str(), 1);
  setenv("ANSIBLE_LOCAL_TEMP", (d / "tmp").c_str(), 1);
  setenv("ANSIBLE_HOME", (d / "home").c_str(), 1);
  const std::vector<std::pair<std::string, std::string>> files = {
      {"inv.ini",
       "bastion ansible_host=192.0.2.1\n"
       "[osd]\nosd[01:03] ansible_user=ceph\nosd04:2200\n"
       "mon1 ansible_host=\"10.0.0.5\" ansible_port='2222' unknown_var=x # comment\n"
       "[osd:vars]\nansible_port = 2201\nansible_ssh_common_args = -o ServerAliveInterval=15\n"
       "[storage:children]\nosd\n[storage:vars]\nansible_user=storage\n"
       "[all:vars]\nansible_user=root\n"},
      {"inv.yml",
       "all:\n  vars:\n    ansible_user: root\n  children:\n    ceph:\n      vars:\n"
       "        ansible_port: 2022\n      children:\n        osds:\n          hosts:\n"
       "            node[a:c]:\n              ansible_host: 10.1.0.1\n        mons:\n"
       "          hosts:\n            mon1:\n              ansible_host: fd00::1\n"
       "              ansible_user: admin\n"},
  };
  for (const auto& [name, text] : files) {
    std::ofstream(d / name) << text;
    auto listed = AnsibleList((d / name).string());
    ASSERT_TRUE(listed) << "ansible-inventory failed on " << name;
    auto mine = ParseInventory(text, name);
    auto theirs = ParseInventory(*listed, name + ".json");
    ASSERT_TRUE(mine.ok()) << mine.error().context;
    ASSERT_TRUE(theirs.ok()) << theirs.error().context << "\n" << *listed;
    ASSERT_EQ(mine->hosts.size(), theirs->hosts.size()) << name << "\n" << *listed;
    std::map<std::string, fwgate::probe::Target> by_name;
    for (const auto& t : theirs->hosts) by_name[t.name] = t;
    for (const auto& t : mine->hosts) {
      ASSERT_TRUE(by_name.count(t.name)) << t.name;
      const auto& o = by_name[t.name];
      EXPECT_EQ(t.host, o.host) << name << " " << t.name;
      EXPECT_EQ(t.port, o.port) << name << " " << t.name;
      EXPECT_EQ(t.user, o.user) << name << " " << t.name;
      EXPECT_EQ(t.ssh_args, o.ssh_args) << name << " " << t.name;
    }
    for (const auto& [g, hosts] : mine->groups) {
      if (g == "ungrouped" && hosts.empty()) continue;
      auto sel = theirs->Select(g);
      ASSERT_TRUE(sel.ok()) << g;
      EXPECT_EQ(sel->size(), hosts.size()) << name << " group " << g;
    }
  }
  fs::remove_all(d);
}
