// Lab addressing as the rulesets expect it, computed without a kernel.
#include <gtest/gtest.h>

#include "simulator/lab/topology.h"
#include "sys/rtnl.h"

namespace fwgate::lab {
namespace {

TEST(TopologyPlan, NodesGetElevenOnwardOnBothNetsAndClientTwoHundred) {
  TopologyOptions o;
  o.nodes = 3;
  auto p = PlanTopology(o);
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  ASSERT_EQ(p->nodes.size(), 3u);
  EXPECT_EQ(p->nodes[0].name, "node1");
  EXPECT_EQ(p->nodes[0].public_addr, "10.20.0.11");
  EXPECT_EQ(p->nodes[2].cluster_addr, "10.30.0.13");
  EXPECT_EQ(p->client.public_addr, "10.20.0.200");
  EXPECT_TRUE(p->client.cluster_addr.empty());
}

TEST(TopologyPlan, MasksHostBitsOfTheNetwork) {
  TopologyOptions o;
  o.public_net = "10.20.0.77/24";
  auto p = PlanTopology(o);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->nodes[0].public_addr, "10.20.0.11");
}

TEST(TopologyPlan, RejectsOverlappingNetworks) {
  TopologyOptions o;
  o.cluster_net = "10.20.0.0/16";
  auto p = PlanTopology(o);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().context.find("overlap"), std::string::npos);
}

TEST(TopologyPlan, RejectsTooManyNodesForClientAddress) {
  TopologyOptions o;
  o.nodes = 64;
  o.client_host = 50;
  EXPECT_FALSE(PlanTopology(o).ok());
}

TEST(TopologyPlan, RejectsNetworkTooSmall) {
  TopologyOptions o;
  o.public_net = "10.20.0.0/28";
  auto p = PlanTopology(o);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().context.find("--public-net"), std::string::npos);
}

TEST(TopologyPlan, RejectsGarbageCidr) {
  TopologyOptions o;
  o.cluster_net = "10.30.0.0/abc";
  EXPECT_FALSE(PlanTopology(o).ok());
  o.cluster_net = "not-an-address";
  EXPECT_FALSE(PlanTopology(o).ok());
  o.cluster_net = "fd00::/64";
  EXPECT_FALSE(PlanTopology(o).ok());
}

TEST(TopologyPlan, LossTableDropsOnEveryLegWithNumgen) {
  TopologyOptions o;
  o.nodes = 2;
  auto p = PlanTopology(o);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(LossTableText(*p, 0), "");
  std::string t = LossTableText(*p, 2.5);
  EXPECT_NE(t.find("table bridge"), std::string::npos);
  EXPECT_NE(t.find("numgen random mod 10000 < 250"), std::string::npos);
  EXPECT_NE(t.find("\"n2c\""), std::string::npos);
  EXPECT_NE(t.find("\"clp\""), std::string::npos);
}

TEST(Cidr, ParsesV4AndV6AndDefaultsPrefix) {
  auto a = sys::ParseCidr("10.20.0.11/24");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->family, AF_INET);
  EXPECT_EQ(a->prefix, 24);
  EXPECT_EQ(a->addr[3], 11);
  auto b = sys::ParseCidr("fd00::1");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->family, AF_INET6);
  EXPECT_EQ(b->prefix, 128);
  EXPECT_FALSE(sys::ParseCidr("10.0.0.1/33").ok());
  EXPECT_FALSE(sys::ParseCidr("10.0.0.1/").ok());
}

}  // namespace
}  // namespace fwgate::lab
