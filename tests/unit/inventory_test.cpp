// Ansible inventories (INI, YAML) to validated targets; hostile values rejected as FILE:LINE:COL.
#include "gate/probe/inventory.h"

#include <gtest/gtest.h>

#include "gate/probe/transport.h"

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
