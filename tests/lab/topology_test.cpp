// Lab topology against the real kernel: namespaces, bridges in the switch namespace, veth legs,
// addresses; TCP reaches across both networks; nothing appears in the host's namespace.
#include "simulator/lab/topology.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>
#include <string>

#include "sys/netns.h"
#include "sys/rtnl.h"

namespace fwgate::lab {
namespace {

std::set<std::string> HostLinks() {
  std::set<std::string> out;
  struct if_nameindex* names = if_nameindex();
  if (names != nullptr) {
    for (auto* p = names; p->if_index != 0; ++p) out.insert(p->if_name);
    if_freenameindex(names);
  }
  return out;
}

// Listens on addr:port in `server`, connects from `client`, sends one byte each way.
bool TcpReaches(const sys::NetnsHandle& server, const sys::NetnsHandle& client,
                const std::string& addr, uint16_t port) {
  int lfd = -1;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  inet_pton(AF_INET, addr.c_str(), &sa.sin_addr);
  (void)sys::RunInNetns(server, [&] {
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(lfd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 || listen(lfd, 4) != 0) {
      close(lfd);
      lfd = -1;
    }
  });
  if (lfd < 0) return false;
  bool ok = false;
  (void)sys::RunInNetns(client, [&] {
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{3, 0};
    setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(c, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0) {
      int a = accept(lfd, nullptr, nullptr);
      char b = 'x';
      ok = a >= 0 && write(c, &b, 1) == 1 && read(a, &b, 1) == 1 && write(a, &b, 1) == 1 &&
           read(c, &b, 1) == 1;
      if (a >= 0) close(a);
    }
    close(c);
  });
  close(lfd);
  return ok;
}

class TopologyLab : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto st = sys::CanCreateNamespaces(); !st) GTEST_SKIP() << st.error().ToString();
  }
};

TEST_F(TopologyLab, NodesReachEachOtherOnBothNetworksAndClientOnPublic) {
  auto before = HostLinks();
  {
    TopologyOptions o;
    o.nodes = 3;
    auto t = Topology::Build(o);
    ASSERT_TRUE(t.ok()) << t.error().ToString();
    auto& n = (*t)->nodes();
    ASSERT_EQ(n.size(), 3u);
    EXPECT_EQ(n[1].plan.cluster_addr, "10.30.0.12");
    EXPECT_TRUE(TcpReaches(n[1].ns, n[0].ns, "10.30.0.12", 6801));
    EXPECT_TRUE(TcpReaches(n[2].ns, n[0].ns, "10.20.0.13", 6800));
    EXPECT_TRUE(TcpReaches(n[0].ns, (*t)->client().ns, "10.20.0.11", 3300));
    EXPECT_EQ(HostLinks(), before) << "the lab must not create links in the host namespace";
  }
  EXPECT_EQ(HostLinks(), before);
}

TEST_F(TopologyLab, ClientHasNoClusterLeg) {
  TopologyOptions o;
  o.nodes = 1;
  auto t = Topology::Build(o);
  ASSERT_TRUE(t.ok()) << t.error().ToString();
  bool has_cluster = true;
  (void)sys::RunInNetns((*t)->client().ns,
                          [&] { has_cluster = if_nametoindex(kClusterIf) != 0; });
  EXPECT_FALSE(has_cluster);
  EXPECT_FALSE(TcpReaches((*t)->nodes()[0].ns, (*t)->client().ns, "10.30.0.11", 6801));
}

TEST_F(TopologyLab, HonoursCustomNetworks) {
  TopologyOptions o;
  o.nodes = 2;
  o.public_net = "192.168.50.0/24";
  o.cluster_net = "172.16.9.0/24";
  auto t = Topology::Build(o);
  ASSERT_TRUE(t.ok()) << t.error().ToString();
  EXPECT_TRUE(TcpReaches((*t)->nodes()[1].ns, (*t)->nodes()[0].ns, "172.16.9.12", 6801));
  EXPECT_TRUE(TcpReaches((*t)->nodes()[1].ns, (*t)->client().ns, "192.168.50.12", 6800));
}

TEST_F(TopologyLab, LossTableLoadsInSwitchNamespace) {
  TopologyOptions o;
  o.nodes = 2;
  o.loss_percent = 1.0;
  auto t = Topology::Build(o);
  ASSERT_TRUE(t.ok()) << t.error().ToString();
  // 1 % loss still lets TCP through (retransmission).
  EXPECT_TRUE(TcpReaches((*t)->nodes()[1].ns, (*t)->nodes()[0].ns, "10.30.0.12", 6801));
}

TEST_F(TopologyLab, DelayWithoutNetemFailsWithClearReason) {
  TopologyOptions o;
  o.nodes = 1;
  o.delay = std::chrono::milliseconds(5);
  auto t = Topology::Build(o);
  if (t.ok()) GTEST_SKIP() << "this kernel has sch_netem; delay works";
  EXPECT_NE(t.error().ToString().find("netem"), std::string::npos) << t.error().ToString();
}

TEST_F(TopologyLab, AddRouteInstallsRouteInsideNode) {
  TopologyOptions o;
  o.nodes = 1;
  auto t = Topology::Build(o);
  ASSERT_TRUE(t.ok()) << t.error().ToString();
  auto s = sys::RtnlSocket::OpenIn((*t)->nodes()[0].ns);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->AddRoute("10.40.0.0/24", "10.20.0.1", kPublicIf).ok());
  EXPECT_TRUE(s->AddRoute("0.0.0.0/0", "", kClusterIf).ok());
}

}  // namespace
}  // namespace fwgate::lab
