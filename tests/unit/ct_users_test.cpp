// Which rules and objects hold a conntrack reference, per family and kernel class, and the
// ledger that follows them across commits (docs/kernel-conntrack.md §2.1). No kernel.
#include "gate/hazards/ct_users.h"

#include <gtest/gtest.h>

#include "simulator/reload/commit_follower.h"

namespace fwgate {
namespace {

using hazards::CtFamily;
using nft::Expr;

nft::Rule RuleOf(std::vector<Expr> exprs, uint64_t handle) {
  nft::Rule r;
  r.handle = handle;
  r.exprs = std::move(exprs);
  return r;
}

Expr Kind(const std::string& k) {
  Expr e;
  e.kind = k;
  return e;
}

TEST(CtUsers, CtNatMasqRedirAreUsersNotrackAndCountersAreNot) {
  EXPECT_TRUE(hazards::CtUseOfExpr(Kind("ct")).has_value());
  EXPECT_TRUE(hazards::CtUseOfExpr(Kind("nat")).has_value());
  EXPECT_TRUE(hazards::CtUseOfExpr(Kind("masq")).has_value());
  EXPECT_TRUE(hazards::CtUseOfExpr(Kind("redir")).has_value());
  EXPECT_FALSE(hazards::CtUseOfExpr(Kind("notrack")).has_value());
  EXPECT_FALSE(hazards::CtUseOfExpr(Kind("counter")).has_value());
  EXPECT_FALSE(hazards::CtUseOfExpr(Kind("payload")).has_value());
  Expr notrack_target = Kind("target");
  notrack_target.Set("name", std::string("NOTRACK"));
  EXPECT_FALSE(hazards::CtUseOfExpr(notrack_target).has_value());
  Expr xt_state = Kind("match");
  xt_state.Set("name", std::string("conntrack"));
  EXPECT_TRUE(hazards::CtUseOfExpr(xt_state).has_value());
}

TEST(CtUsers, ObjectsAndConnlimitCountOnlyOnNewerKernels) {
  for (uint32_t t : {3u, 7u, 9u}) {
    auto u = hazards::CtUseOfObject(t);
    ASSERT_TRUE(u.has_value());
    EXPECT_TRUE(u->newer_kernels_only);
  }
  EXPECT_FALSE(hazards::CtUseOfObject(1).has_value());  // counter
  auto c = hazards::CtUseOfExpr(Kind("connlimit"));
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->newer_kernels_only);
}

TEST(CtUsers, NestedDynsetExpressionsCount) {
  Expr dynset = Kind("dynset");
  dynset.nested.push_back(Kind("connlimit"));
  auto u = hazards::CtUseOfRule(RuleOf({Kind("payload"), dynset}, 1));
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->what, "ct count");
}

TEST(CtUsers, FamiliesAreCountedSeparatelyAndInetFeedsBoth) {
  EXPECT_EQ(hazards::CtFamiliesOf(nft::Family::kIp), std::vector<CtFamily>{CtFamily::kIpv4});
  EXPECT_EQ(hazards::CtFamiliesOf(nft::Family::kIp6), std::vector<CtFamily>{CtFamily::kIpv6});
  EXPECT_EQ(hazards::CtFamiliesOf(nft::Family::kInet),
            (std::vector<CtFamily>{CtFamily::kIpv4, CtFamily::kIpv6}));
  EXPECT_TRUE(hazards::CtFamiliesOf(nft::Family::kNetdev).empty());
}

nft::Ruleset OneTable(nft::Family f, const std::string& name, std::vector<nft::Rule> rules) {
  nft::Ruleset rs;
  nft::Table t;
  t.family = f;
  t.name = name;
  nft::Chain c;
  c.name = "input";
  c.rules = std::move(rules);
  t.chains.push_back(c);
  rs.tables.push_back(t);
  return rs;
}

sys::NftChange Change(sys::NftChange::Op op, sys::NftChange::What what, nft::Family f,
                      const std::string& table, const std::string& name = "") {
  sys::NftChange c;
  c.op = op;
  c.what = what;
  c.family = f;
  c.table = table;
  c.name = name;
  return c;
}

TEST(CtUserLedger, AnIpv6OnlyCtRuleLeavesIpv4WithoutUsers) {
  reload::CtUserLedger l;
  l.Seed(OneTable(nft::Family::kIp6, "v6", {RuleOf({Kind("ct")}, 4)}));
  auto c = l.Counts(false);
  EXPECT_EQ(c[CtFamily::kIpv4], 0);
  EXPECT_EQ(c[CtFamily::kIpv6], 1);
}

TEST(CtUserLedger, FollowsDeletesAndAddsAcrossCommits) {
  using Op = sys::NftChange::Op;
  using What = sys::NftChange::What;
  reload::CtUserLedger l;
  l.Seed(OneTable(nft::Family::kInet, "storage",
                  {RuleOf({Kind("ct")}, 4), RuleOf({Kind("counter")}, 5)}));
  EXPECT_EQ(l.Counts(false)[CtFamily::kIpv4], 1);
  sys::NftCommit flush;
  auto del = Change(Op::kDelete, What::kRule, nft::Family::kInet, "storage", "input");
  del.rule.handle = 4;
  flush.changes.push_back(del);
  flush.changes.push_back(Change(Op::kDelete, What::kTable, nft::Family::kInet, "storage"));
  l.Apply(flush);
  EXPECT_EQ(l.Counts(false)[CtFamily::kIpv4], 0);
  EXPECT_EQ(l.Counts(false)[CtFamily::kIpv6], 0);
  sys::NftCommit load;
  auto add = Change(Op::kAdd, What::kRule, nft::Family::kIp, "filter", "input");
  add.rule = RuleOf({Kind("masq")}, 9);
  load.changes.push_back(add);
  l.Apply(load);
  EXPECT_EQ(l.Counts(false)[CtFamily::kIpv4], 1);
  EXPECT_EQ(l.Counts(false)[CtFamily::kIpv6], 0);
}

TEST(CtUserLedger, ATableDeletionTakesItsRulesEvenWithoutRuleEvents) {
  reload::CtUserLedger l;
  l.Seed(OneTable(nft::Family::kInet, "storage", {RuleOf({Kind("ct")}, 4)}));
  sys::NftCommit c;
  c.changes.push_back(Change(sys::NftChange::Op::kDelete, sys::NftChange::What::kTable,
                             nft::Family::kInet, "storage"));
  l.Apply(c);
  EXPECT_EQ(l.Counts(false)[CtFamily::kIpv4], 0);
}

TEST(CtUserLedger, OlderKernelsDoNotCountCtObjectsAndLabTablesNeverCount) {
  nft::Ruleset rs = OneTable(nft::Family::kInet, "fwgate_pin", {RuleOf({Kind("ct")}, 1)});
  nft::Table t;
  t.family = nft::Family::kInet;
  t.name = "helpers";
  nft::Object o;
  o.name = "ftp";
  o.type = 3;
  t.objects.push_back(o);
  rs.tables.push_back(t);
  reload::CtUserLedger l;
  l.Seed(rs);
  EXPECT_EQ(l.Counts(false)[CtFamily::kIpv4], 1);  // the helper object, on the lab kernel
  EXPECT_EQ(l.Counts(true)[CtFamily::kIpv4], 0);   // 4.14-4.18: no user
}

}  // namespace
}  // namespace fwgate
