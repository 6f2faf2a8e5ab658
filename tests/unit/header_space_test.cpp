// The header space: interval sets, boxes and their differences, merging, readable predicates
// and example packets.
#include "gate/diff/header_space.h"

#include <gtest/gtest.h>

#include "gate/diff/traffic.h"

namespace fwgate::traffic {
namespace {

IntervalSet S(std::vector<Interval> v) { return IntervalSet::FromIntervals(std::move(v)); }

TEST(IntervalSet, NormalisesOverlappingAndAdjacentIntervals) {
  IntervalSet s = S({{10, 20}, {5, 9}, {30, 40}, {35, 50}, {60, 59}});
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s.intervals()[0], (Interval{5, 20}));
  EXPECT_EQ(s.intervals()[1], (Interval{30, 50}));
  EXPECT_EQ(s.Count(), u128{16 + 21});
}

TEST(IntervalSet, IntersectUnionSubtract) {
  IntervalSet a = S({{0, 10}, {20, 30}});
  IntervalSet b = S({{5, 25}});
  EXPECT_EQ(a.Intersect(b), S({{5, 10}, {20, 25}}));
  EXPECT_EQ(a.Union(b), S({{0, 30}}));
  EXPECT_EQ(a.Subtract(b), S({{0, 4}, {26, 30}}));
  EXPECT_EQ(b.Subtract(a), S({{11, 19}}));
  EXPECT_TRUE(S({{6, 7}}).SubsetOf(a));
  EXPECT_FALSE(S({{9, 21}}).SubsetOf(a));
  EXPECT_TRUE(a.Intersects(b));
  EXPECT_FALSE(S({{11, 19}}).Intersects(a));
  EXPECT_TRUE(a.Contains(30));
  EXPECT_FALSE(a.Contains(31));
}

TEST(IntervalSet, WorksAtTheTopOf128Bits) {
  u128 max = ~u128{0};
  IntervalSet all = IntervalSet::Of(0, max);
  IntervalSet top = IntervalSet::Of(max - 1, max);
  EXPECT_EQ(all.Subtract(top), IntervalSet::Of(0, max - 2));
  EXPECT_EQ(all.Count(), max);  // saturates
  EXPECT_EQ(top.Union(IntervalSet::Of(0, max - 2)), all);
}

TEST(Box, SubtractGivesDisjointPiecesCoveringTheDifference) {
  Box a;
  a.Set(Field::kDport, IntervalSet::Of(0, 1000));
  a.Set(Field::kSaddr4, IntervalSet::Of(0, 255));
  Box b;
  b.Set(Field::kDport, IntervalSet::Of(100, 200));
  b.Set(Field::kSaddr4, IntervalSet::Of(10, 20));
  Space out;
  a.SubtractInto(b, out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_FALSE(out[0].Intersects(out[1]));
  for (const auto& p : out) EXPECT_FALSE(p.Intersects(b));
  // Volume: |a| - |a ∩ b|.
  auto vol = [](const Box& x) {
    return x.Get(Field::kDport).Count() * x.Get(Field::kSaddr4).Count();
  };
  EXPECT_EQ(vol(out[0]) + vol(out[1]), vol(a) - 101 * 11);
}

TEST(Box, FullDomainIsUnconstrained) {
  Box b;
  b.Set(Field::kNfproto, Domain(Field::kNfproto));
  EXPECT_FALSE(b.Constrained(Field::kNfproto));
  b.Set(Field::kCtState, IntervalSet::Of(0, 1000));  // cut to the five states
  EXPECT_FALSE(b.Constrained(Field::kCtState));
  b.Set(Field::kCtState, IntervalSet::Point(kCtNew));
  EXPECT_TRUE(b.Constrained(Field::kCtState));
  EXPECT_FALSE(b.Restrict(Field::kCtState, IntervalSet::Point(kCtEstablished)));
  EXPECT_TRUE(b.empty());
}

TEST(Space, MergeJoinsBoxesDifferingInOneField) {
  Space s;
  for (u128 p : {22, 23, 24}) {
    Box b;
    b.Set(Field::kDport, IntervalSet::Point(p));
    b.Set(Field::kL4proto, IntervalSet::Point(6));
    s.push_back(b);
  }
  Box other;
  other.Set(Field::kDport, IntervalSet::Point(53));
  other.Set(Field::kL4proto, IntervalSet::Point(17));
  s.push_back(other);
  MergeBoxes(s);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].Get(Field::kDport), IntervalSet::Of(22, 24));
}

TEST(Space, DisjointRemovesOverlaps) {
  Box a, b;
  a.Set(Field::kDport, IntervalSet::Of(0, 100));
  b.Set(Field::kDport, IntervalSet::Of(50, 150));
  auto d = Disjoint({a, b});
  ASSERT_TRUE(d);
  u128 total = 0;
  for (const auto& x : *d) total += x.Get(Field::kDport).Count();
  EXPECT_EQ(total, u128{151});
}

TEST(Predicate, ReadsLikeTheRule) {
  Box b;
  b.Set(Field::kL4proto, IntervalSet::Point(6));
  b.Set(Field::kDport, IntervalSet::Point(22));
  b.Set(Field::kSaddr4,
        IntervalSet::Of(0x0a0a0000, 0x0a0a00ff).Subtract(IntervalSet::Point(0x0a0a0005)));
  EXPECT_EQ(PredicateText(b), "tcp to port 22 from 10.10.0.0/24 except 10.10.0.5");
}

TEST(Predicate, PortRangesSetsAndComplements) {
  Box b;
  b.Set(Field::kL4proto, IntervalSet::Point(6));
  b.Set(Field::kDport, IntervalSet::Of(6800, 7300));
  EXPECT_EQ(PredicateText(b), "tcp to ports 6800-7300");
  b.Set(Field::kDport, S({{22, 22}, {9100, 9100}}));
  EXPECT_EQ(PredicateText(b), "tcp to ports 22, 9100");
  b.Set(Field::kDport, Domain(Field::kDport).Subtract(IntervalSet::Point(22)));
  EXPECT_EQ(PredicateText(b), "tcp to any port except 22");
}

TEST(Predicate, InterfacesWildcardsAndIcmp) {
  Box b;
  b.Set(Field::kIifname,
        IntervalSet::Of(IfnameValue("eth"), IfnameValue("eth") | ((u128{1} << 104) - 1)));
  EXPECT_EQ(PredicateText(b), "in on \"eth*\"");
  Box i;
  i.Set(Field::kL4proto, IntervalSet::Point(1));
  i.Set(Field::kSport, IntervalSet::Of(0x0800, 0x08ff));
  EXPECT_EQ(PredicateText(i), "icmp type echo-request");
  EXPECT_EQ(PredicateText(Box()), "all traffic");
}

TEST(Predicate, Ipv6Prefixes) {
  Box b;
  u128 base = u128{0x20010db8} << 96;
  b.Set(Field::kSaddr6, IntervalSet::Of(base, base | ((u128{1} << 80) - 1)));
  EXPECT_EQ(PredicateText(b), "from 2001:db8::/48");
}

TEST(ExamplePacket, LiesInItsBoxWithOrdinaryValues) {
  Box b;
  b.Set(Field::kNfproto, IntervalSet::Point(kNfprotoIpv4));
  b.Set(Field::kL4proto, IntervalSet::Point(6));
  b.Set(Field::kDport, IntervalSet::Point(22));
  b.Set(Field::kCtState, IntervalSet::Point(kCtNew));
  b.Set(Field::kSaddr4, IntervalSet::Of(0x0a0a0000, 0x0a0a00ff));
  b.Set(Field::kIifname, Domain(Field::kIifname).Subtract(IntervalSet::Point(0)));
  b.Set(Field::kOifname, IntervalSet::Point(0));
  Packet p = ExamplePacket(b, Path::kInput);
  EXPECT_TRUE(b.Contains(p.v));
  EXPECT_EQ(p.Get(Field::kTcpFlags), u128{0x02});  // a SYN opens a connection
  EXPECT_EQ(Ipv4Text(p.Get(Field::kSaddr4)), "10.10.0.1");
  EXPECT_EQ(IfnameText(p.Get(Field::kIifname)), "eth0");
  EXPECT_EQ(PacketText(p, Path::kInput),
            "tcp 10.10.0.1:40000 -> 198.51.100.1:22 [syn], in on \"eth0\", ct state new");
  b.Set(Field::kCtState, IntervalSet::Point(kCtEstablished));
  EXPECT_EQ(ExamplePacket(b, Path::kInput).Get(Field::kTcpFlags), u128{0x10});
}

TEST(Formatting, Addresses) {
  EXPECT_EQ(Ipv6Text(u128{1}), "::1");
  EXPECT_EQ(Ipv6Text((u128{0x20010db8} << 96) | 2), "2001:db8::2");
  EXPECT_EQ(Ipv4Text(0xc0000201), "192.0.2.1");
  EXPECT_EQ(IfnameText(IfnameValue("bond0")), "bond0");
}

}  // namespace
}  // namespace fwgate::traffic
