// Structural diff on hand-built models: rule alignment (insert, remove, move, change,
// duplicates), anonymous sets, usage values, set elements, chain headers, JSON contract.
#include "gate/diff/diff.h"

#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "gate/diff/align.h"
#include "gate/diff/identity.h"
#include "gate/nft/printer.h"
#include "report/diff_report.h"

namespace fwgate::diff {
namespace {

using nft::AttrValue;
using nft::Bytes;
using nft::Expr;
using nft::Rule;
using nft::Ruleset;

Expr Make(std::string kind, std::vector<std::pair<std::string, AttrValue>> attrs) {
  Expr e;
  e.kind = std::move(kind);
  e.attrs = std::move(attrs);
  return e;
}
Expr Accept() { return Make("immediate", {{"dreg", uint64_t{0}}, {"verdict", uint64_t{1}}}); }
Expr Drop() { return Make("immediate", {{"dreg", uint64_t{0}}, {"verdict", uint64_t{0}}}); }
Expr Counter(uint64_t packets = 0) {
  return Make("counter", {{"packets", packets}, {"bytes", packets * 60}});
}
Bytes Port(uint16_t p) { return {static_cast<uint8_t>(p >> 8), static_cast<uint8_t>(p & 0xff)}; }
Bytes Addr(uint8_t a, uint8_t b, uint8_t c, uint8_t d) { return {a, b, c, d}; }

std::vector<Expr> TcpDportPrefix() {
  return {Make("meta", {{"key", uint64_t{16}}, {"dreg", uint64_t{1}}}),
          Make("cmp", {{"sreg", uint64_t{1}}, {"op", uint64_t{0}}, {"data", Bytes{6}}}),
          Make("payload", {{"dreg", uint64_t{1}},
                           {"base", uint64_t{2}},
                           {"offset", uint64_t{2}},
                           {"len", uint64_t{2}}})};
}

// `tcp dport PORT [counter] accept`
Rule TcpDport(uint16_t port, uint64_t handle = 0, bool counter = false, uint64_t packets = 0) {
  Rule r;
  r.handle = handle;
  r.exprs = TcpDportPrefix();
  r.exprs.push_back(
      Make("cmp", {{"sreg", uint64_t{1}}, {"op", uint64_t{0}}, {"data", Port(port)}}));
  if (counter) r.exprs.push_back(Counter(packets));
  r.exprs.push_back(Accept());
  return r;
}

// `ip saddr A.B.C.D tcp dport PORT accept` (sets need not exist: used for the big chains)
Rule SaddrDport(uint32_t n, uint16_t port) {
  Rule r;
  r.exprs = {Make("meta", {{"key", uint64_t{15}}, {"dreg", uint64_t{1}}}),
             Make("cmp", {{"sreg", uint64_t{1}}, {"op", uint64_t{0}}, {"data", Bytes{2}}}),
             Make("payload", {{"dreg", uint64_t{1}},
                              {"base", uint64_t{1}},
                              {"offset", uint64_t{12}},
                              {"len", uint64_t{4}}}),
             Make("cmp", {{"sreg", uint64_t{1}},
                          {"op", uint64_t{0}},
                          {"data", Addr(10, static_cast<uint8_t>(n >> 16),
                                        static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n))}})};
  auto tail = TcpDport(port);
  r.exprs.insert(r.exprs.end(), tail.exprs.begin(), tail.exprs.end());
  return r;
}

// `ct state established,related accept`
Rule CtEstablished(uint64_t handle = 0) {
  Rule r;
  r.handle = handle;
  r.exprs = {Make("ct", {{"key", uint64_t{0}}, {"dreg", uint64_t{1}}}),
             Make("bitwise", {{"sreg", uint64_t{1}},
                              {"dreg", uint64_t{1}},
                              {"len", uint64_t{4}},
                              {"mask", Bytes{0x06, 0, 0, 0}},
                              {"xor", Bytes{0, 0, 0, 0}}}),
             Make("cmp", {{"sreg", uint64_t{1}}, {"op", uint64_t{1}}, {"data", Bytes{0, 0, 0, 0}}}),
             Accept()};
  return r;
}

// `tcp dport @SETNAME accept` (lookup into a set)
Rule TcpDportInSet(const std::string& set) {
  Rule r;
  r.exprs = TcpDportPrefix();
  r.exprs.push_back(Make("lookup", {{"sreg", uint64_t{1}}, {"set", set}, {"flags", uint64_t{0}}}));
  r.exprs.push_back(Accept());
  return r;
}

nft::Set PortSet(const std::string& name, std::vector<uint16_t> ports, bool anonymous) {
  nft::Set s;
  s.name = name;
  s.flags = anonymous ? 0x3 : 0;
  s.key_type = 13;  // inet_service
  s.key_len = 2;
  for (uint16_t p : ports) s.elements.push_back({.key = Port(p)});
  return s;
}

nft::Table StorageTable(std::vector<Rule> rules, uint32_t policy = 0) {
  nft::Table t;
  t.family = nft::Family::kInet;
  t.name = "storage";
  t.handle = 1;
  nft::Chain c;
  c.name = "input";
  c.handle = 2;
  c.base = nft::BaseChain{.type = "filter", .hook = 1, .priority = 0, .policy = policy};
  c.rules = std::move(rules);
  t.chains.push_back(std::move(c));
  return t;
}

Ruleset OneChain(std::vector<Rule> rules, uint32_t policy = 0) {
  Ruleset rs;
  rs.tables.push_back(StorageTable(std::move(rules), policy));
  return rs;
}

std::string TextOf(const nft::Table& t, const Rule& r) {
  nft::PrintOptions o;
  o.counters = false;
  return nft::RuleText(t, r, o);
}

TEST(RulesetDiff, ReportsRemovedEstablishedAccept) {
  Ruleset cur = OneChain({CtEstablished(7), TcpDport(22, 8), TcpDport(6789, 9)});
  Ruleset prop = OneChain({TcpDport(22), TcpDport(6789)});
  Plan plan = DiffRulesets(cur, prop);
  ASSERT_EQ(plan.changes.size(), 1u);
  const Change& c = plan.changes[0];
  EXPECT_EQ(c.op, Op::kRemove);
  EXPECT_EQ(c.object, ObjectKind::kRule);
  EXPECT_EQ(c.family, nft::Family::kInet);
  EXPECT_EQ(c.table, "storage");
  EXPECT_EQ(c.chain, "input");
  EXPECT_EQ(c.handle, 7u);
  EXPECT_EQ(c.text, TextOf(cur.tables[0], CtEstablished()));
  EXPECT_EQ(plan.summary, (Summary{.add = 0, .remove = 1, .change = 0, .move = 0}));
}

TEST(RulesetDiff, IdenticalRulesetsWithDifferentHandlesHaveNoChanges) {
  Ruleset cur = OneChain({CtEstablished(3), TcpDport(22, 4)});
  Ruleset prop = OneChain({CtEstablished(30), TcpDport(22, 40)});
  prop.tables[0].handle = 99;
  prop.tables[0].chains[0].handle = 98;
  Plan plan = DiffRulesets(cur, prop);
  EXPECT_TRUE(plan.empty());
  EXPECT_EQ(report::PlanToText(plan), "No changes.\n");
}

TEST(RulesetDiff, InsertedRuleLeavesNeighboursUntouched) {
  Ruleset cur = OneChain({CtEstablished(), TcpDport(22), TcpDport(6789), TcpDport(3300)});
  Ruleset prop =
      OneChain({CtEstablished(), TcpDport(22), TcpDport(6800), TcpDport(6789), TcpDport(3300)});
  Plan plan = DiffRulesets(cur, prop);
  ASSERT_EQ(plan.changes.size(), 1u);
  EXPECT_EQ(plan.changes[0].op, Op::kAdd);
  EXPECT_EQ(plan.changes[0].index_after, 2u);
  EXPECT_FALSE(plan.changes[0].handle.has_value());
  EXPECT_EQ(plan.changes[0].text, TextOf(prop.tables[0], TcpDport(6800)));
}

TEST(RulesetDiff, ReportsRelocatedRuleAsMove) {
  Ruleset cur = OneChain({CtEstablished(1), TcpDport(22, 2), TcpDport(6789, 3), TcpDport(3300, 4)});
  Ruleset prop = OneChain({TcpDport(22), TcpDport(6789), CtEstablished(), TcpDport(3300)});
  Plan plan = DiffRulesets(cur, prop);
  ASSERT_EQ(plan.changes.size(), 1u);
  const Change& c = plan.changes[0];
  EXPECT_EQ(c.op, Op::kMove);
  EXPECT_EQ(c.handle, 1u);
  EXPECT_EQ(c.index_before, 0u);
  EXPECT_EQ(c.index_after, 2u);
  EXPECT_EQ(plan.summary.move, 1u);
}

TEST(RulesetDiff, ReportsModifiedRuleInPlaceAsChangeWithBeforeAndAfter) {
  Ruleset cur = OneChain({CtEstablished(), TcpDport(22, 5), TcpDport(3300)});
  Ruleset prop = OneChain({CtEstablished(), TcpDport(2222), TcpDport(3300)});
  Plan plan = DiffRulesets(cur, prop);
  ASSERT_EQ(plan.changes.size(), 1u);
  const Change& c = plan.changes[0];
  EXPECT_EQ(c.op, Op::kChange);
  EXPECT_EQ(c.handle, 5u);
  EXPECT_EQ(c.before, TextOf(cur.tables[0], TcpDport(22)));
  EXPECT_EQ(c.after, TextOf(prop.tables[0], TcpDport(2222)));
  EXPECT_EQ(c.text, c.after);
}

TEST(RulesetDiff, DissimilarReplacementIsRemoveAndAdd) {
  Ruleset cur = OneChain({TcpDport(22), CtEstablished(), TcpDport(3300)});
  Rule drop = TcpDport(23);
  drop.exprs.back() = Drop();
  Ruleset prop = OneChain({TcpDport(22), drop, TcpDport(3300)});
  Plan plan = DiffRulesets(cur, prop);
  EXPECT_EQ(plan.summary, (Summary{.add = 1, .remove = 1, .change = 0, .move = 0}));
}

TEST(RulesetDiff, AnonymousSetsWithSameContentAreEqualDespiteNames) {
  nft::Table cur_t = StorageTable({TcpDportInSet("__set0")});
  cur_t.sets.push_back(PortSet("__set0", {22, 6789}, true));
  nft::Table prop_t = StorageTable({TcpDportInSet("__set7")});
  prop_t.sets.push_back(PortSet("__set7", {6789, 22}, true));
  Ruleset cur, prop;
  cur.tables.push_back(cur_t);
  prop.tables.push_back(prop_t);
  EXPECT_TRUE(DiffRulesets(cur, prop).empty());

  prop.tables[0].sets[0] = PortSet("__set7", {6789, 23}, true);
  Plan plan = DiffRulesets(cur, prop);
  ASSERT_EQ(plan.changes.size(), 1u);
  EXPECT_EQ(plan.changes[0].op, Op::kChange);
  EXPECT_EQ(plan.changes[0].object, ObjectKind::kRule);  // anonymous sets are not reported apart
}

TEST(RulesetDiff, NamedSetReferenceIsComparedByName) {
  nft::Table cur_t = StorageTable({TcpDportInSet("ports")});
  cur_t.sets.push_back(PortSet("ports", {22}, false));
  nft::Table prop_t = StorageTable({TcpDportInSet("ports2")});
  prop_t.sets.push_back(PortSet("ports2", {22}, false));
  Ruleset cur, prop;
  cur.tables.push_back(cur_t);
  prop.tables.push_back(prop_t);
  Plan plan = DiffRulesets(cur, prop);
  // The rule now looks up another set (change), one set removed, one added (with its element).
  EXPECT_EQ(plan.summary, (Summary{.add = 2, .remove = 2, .change = 1, .move = 0}));
}

TEST(RulesetDiff, IgnoresCounterAndQuotaUsageValues) {
  Ruleset cur = OneChain({TcpDport(22, 1, true, 100)});
  Ruleset prop = OneChain({TcpDport(22, 1, true, 5)});
  nft::Object ctr{.name = "c", .type = 1, .attrs = {{"pkts", uint64_t{7}}, {"bytes", uint64_t{9}}}};
  nft::Object quota{
      .name = "q", .type = 2, .attrs = {{"bytes", uint64_t{1000}}, {"consumed", uint64_t{5}}}};
  cur.tables[0].objects = {ctr, quota};
  ctr.attrs = {{"pkts", uint64_t{1}}, {"bytes", uint64_t{2}}};
  quota.attrs = {{"bytes", uint64_t{1000}}, {"consumed", uint64_t{999}}};
  prop.tables[0].objects = {ctr, quota};
  EXPECT_TRUE(DiffRulesets(cur, prop).empty());

  // The quota's limit is configuration, not usage.
  prop.tables[0].objects[1].attrs[0].second = uint64_t{2000};
  Plan plan = DiffRulesets(cur, prop);
  ASSERT_EQ(plan.changes.size(), 1u);
  EXPECT_EQ(plan.changes[0].object, ObjectKind::kObject);
  EXPECT_EQ(plan.changes[0].op, Op::kChange);
  EXPECT_EQ(plan.changes[0].name, "q");
}

TEST(RulesetDiff, AddingACounterIsAChange) {
  Ruleset cur = OneChain({TcpDport(22)});
  Ruleset prop = OneChain({TcpDport(22, 0, true)});
  Plan plan = DiffRulesets(cur, prop);
  ASSERT_EQ(plan.changes.size(), 1u);
  EXPECT_EQ(plan.changes[0].op, Op::kChange);
}

TEST(RulesetDiff, DiffsSetElementsOneByOne) {
  Ruleset cur = OneChain({});
  Ruleset prop = OneChain({});
  cur.tables[0].sets.push_back(PortSet("ceph", {3300, 6789, 6800}, false));
  prop.tables[0].sets.push_back(PortSet("ceph", {3300, 6800, 7300}, false));
  Plan plan = DiffRulesets(cur, prop);
  ASSERT_EQ(plan.changes.size(), 2u);
  EXPECT_EQ(plan.changes[0].op, Op::kRemove);
  EXPECT_EQ(plan.changes[0].object, ObjectKind::kElement);
  EXPECT_EQ(plan.changes[0].set, "ceph");
  EXPECT_EQ(plan.changes[0].text,
            nft::ElementTexts(cur.tables[0], PortSet("ceph", {6789}, false)).at(0));
  EXPECT_EQ(plan.changes[1].op, Op::kAdd);
  EXPECT_EQ(plan.changes[1].text,
            nft::ElementTexts(prop.tables[0], PortSet("ceph", {7300}, false)).at(0));
}

TEST(RulesetDiff, IntervalElementIsOneUnit) {
  // [6800, 7301) as the kernel holds it: a start element and an end element (key = last + 1).
  auto ranges = [](uint16_t end) {
    nft::Set s = PortSet("osd", {}, false);
    s.flags = 0x4;
    s.elements = {{.key = Port(3300)},
                  {.key = Port(3301), .flags = 1},
                  {.key = Port(end + 1), .flags = 1},
                  {.key = Port(6800)}};
    return s;
  };
  Ruleset cur = OneChain({});
  Ruleset prop = OneChain({});
  cur.tables[0].sets.push_back(ranges(7300));
  prop.tables[0].sets.push_back(ranges(7568));
  Plan plan = DiffRulesets(cur, prop);
  EXPECT_EQ(plan.summary, (Summary{.add = 1, .remove = 1, .change = 0, .move = 0}));
  auto units = ElementUnits(ranges(7300));
  ASSERT_EQ(units.size(), 2u);
  EXPECT_EQ(units[1].indices.size(), 2u);
}

TEST(RulesetDiff, MapElementWithNewValueIsAChange) {
  auto vmap = [](int32_t verdict) {
    nft::Set s = PortSet("svc", {}, false);
    s.flags = 0x8;
    s.data_type = 0xffffff00;
    s.elements = {{.key = Port(22), .verdict = 1}, {.key = Port(80), .verdict = verdict}};
    return s;
  };
  Ruleset cur = OneChain({});
  Ruleset prop = OneChain({});
  cur.tables[0].sets.push_back(vmap(1));
  prop.tables[0].sets.push_back(vmap(0));
  Plan plan = DiffRulesets(cur, prop);
  ASSERT_EQ(plan.changes.size(), 1u);
  EXPECT_EQ(plan.changes[0].op, Op::kChange);
  EXPECT_EQ(plan.changes[0].object, ObjectKind::kElement);
  EXPECT_EQ(plan.changes[0].set, "svc");
}

TEST(RulesetDiff, SetDeclarationChangeIsASetChange) {
  Ruleset cur = OneChain({});
  Ruleset prop = OneChain({});
  cur.tables[0].sets.push_back(PortSet("ceph", {3300}, false));
  nft::Set s = PortSet("ceph", {3300}, false);
  s.timeout_ms = 60000;
  prop.tables[0].sets.push_back(s);
  Plan plan = DiffRulesets(cur, prop);
  ASSERT_EQ(plan.changes.size(), 1u);
  EXPECT_EQ(plan.changes[0].op, Op::kChange);
  EXPECT_EQ(plan.changes[0].object, ObjectKind::kSet);
}

TEST(RulesetDiff, BaseChainPolicyChangeIsAChainChange) {
  Ruleset cur = OneChain({CtEstablished()}, /*policy=*/1);
  Ruleset prop = OneChain({CtEstablished()}, /*policy=*/0);
  Plan plan = DiffRulesets(cur, prop);
  ASSERT_EQ(plan.changes.size(), 1u);
  const Change& c = plan.changes[0];
  EXPECT_EQ(c.op, Op::kChange);
  EXPECT_EQ(c.object, ObjectKind::kChain);
  EXPECT_EQ(c.chain, "input");
  EXPECT_EQ(c.handle, 2u);
  EXPECT_EQ(c.before, nft::ChainHeaderText(cur.tables[0], cur.tables[0].chains[0]));
  EXPECT_EQ(c.after, nft::ChainHeaderText(prop.tables[0], prop.tables[0].chains[0]));
  EXPECT_NE(c.before, c.after);
}

TEST(RulesetDiff, DuplicateRulesAreCountedAsAMultiset) {
  Plan removed = DiffRulesets(OneChain({TcpDport(22), TcpDport(22), TcpDport(80)}),
                              OneChain({TcpDport(22), TcpDport(80)}));
  EXPECT_EQ(removed.summary, (Summary{.add = 0, .remove = 1, .change = 0, .move = 0}));
  Plan added = DiffRulesets(OneChain({TcpDport(22), TcpDport(80)}),
                            OneChain({TcpDport(22), TcpDport(80), TcpDport(22)}));
  EXPECT_EQ(added.summary, (Summary{.add = 1, .remove = 0, .change = 0, .move = 0}));
  Plan same = DiffRulesets(OneChain({TcpDport(22), TcpDport(22), TcpDport(22)}),
                           OneChain({TcpDport(22), TcpDport(22), TcpDport(22)}));
  EXPECT_TRUE(same.empty());
  Plan swapped = DiffRulesets(OneChain({TcpDport(22), TcpDport(80), TcpDport(22), TcpDport(80)}),
                              OneChain({TcpDport(80), TcpDport(22), TcpDport(80), TcpDport(22)}));
  EXPECT_EQ(swapped.summary.total(), swapped.summary.move + swapped.summary.add +
                                         swapped.summary.remove + swapped.summary.change);
  EXPECT_EQ(swapped.summary.add, swapped.summary.remove);
  EXPECT_LE(swapped.summary.total(), 2u);
}

TEST(RulesetDiff, EmptyVersusFullRuleset) {
  Ruleset full = OneChain({CtEstablished(1), TcpDport(22, 2), TcpDport(80, 3)});
  full.tables[0].sets.push_back(PortSet("ceph", {3300, 6789}, false));
  Plan add = DiffRulesets(Ruleset{}, full);
  // table + chain + 3 rules + set + 2 elements
  EXPECT_EQ(add.summary, (Summary{.add = 8, .remove = 0, .change = 0, .move = 0}));
  EXPECT_EQ(add.changes[0].object, ObjectKind::kTable);
  EXPECT_EQ(add.changes[1].object, ObjectKind::kChain);
  EXPECT_EQ(add.changes[2].object, ObjectKind::kRule);
  Plan remove = DiffRulesets(full, Ruleset{});
  EXPECT_EQ(remove.summary, (Summary{.add = 0, .remove = 8, .change = 0, .move = 0}));
  EXPECT_EQ(remove.changes[0].handle, 1u);  // the table's handle
  EXPECT_TRUE(DiffRulesets(Ruleset{}, Ruleset{}).empty());
}

TEST(RulesetDiff, OrdersChangesByTableThenChainThenPosition) {
  Ruleset cur, prop;
  for (const char* name : {"zeta", "alpha"}) {
    nft::Table t = StorageTable({TcpDport(22), TcpDport(80)});
    t.name = name;
    cur.tables.push_back(t);
    t.chains[0].rules = {TcpDport(80), TcpDport(443)};
    prop.tables.push_back(t);
  }
  Plan plan = DiffRulesets(cur, prop);
  ASSERT_EQ(plan.changes.size(), 4u);
  EXPECT_EQ(plan.changes[0].table, "alpha");
  EXPECT_EQ(plan.changes[0].op, Op::kRemove);
  EXPECT_EQ(plan.changes[1].table, "alpha");
  EXPECT_EQ(plan.changes[1].op, Op::kAdd);
  EXPECT_EQ(plan.changes[2].table, "zeta");
}

TEST(RulesetDiff, JsonHasTheContractShape) {
  Ruleset cur = OneChain({CtEstablished(7), TcpDport(22, 8), TcpDport(80, 9)}, 1);
  Ruleset prop = OneChain({TcpDport(2222), TcpDport(80), TcpDport(443)}, 0);
  Plan plan = DiffRulesets(cur, prop);
  nlohmann::json j = report::PlanToJson(plan);
  ASSERT_TRUE(j.is_object());
  ASSERT_TRUE(j["changes"].is_array());
  ASSERT_TRUE(j["summary"].is_object());
  for (const char* k : {"add", "remove", "change", "move"}) {
    ASSERT_TRUE(j["summary"][k].is_number_unsigned()) << k;
  }
  EXPECT_EQ(j["summary"]["add"], plan.summary.add);
  EXPECT_EQ(j["summary"]["remove"], plan.summary.remove);
  EXPECT_EQ(j["summary"]["change"], plan.summary.change);
  EXPECT_EQ(j["changes"].size(), plan.summary.total());
  // chain policy change, remove established, change 22 -> 2222, add 443
  EXPECT_EQ(plan.summary, (Summary{.add = 1, .remove = 1, .change = 2, .move = 0}));
  size_t counted[4] = {};
  for (const auto& c : j["changes"]) {
    for (const char* k : {"op", "object", "family", "table", "text"}) {
      ASSERT_TRUE(c.contains(k) && c[k].is_string()) << k << " in " << c.dump();
    }
    EXPECT_EQ(c["family"], "inet");
    EXPECT_EQ(c["table"], "storage");
    std::string op = c["op"];
    if (op == "add") ++counted[0];
    if (op == "remove") ++counted[1];
    if (op == "change") {
      ++counted[2];
      EXPECT_TRUE(c["before"].is_string());
      EXPECT_TRUE(c["after"].is_string());
    } else {
      EXPECT_FALSE(c.contains("before"));
    }
    if (c["object"] == "rule" || c["object"] == "chain") {
      EXPECT_EQ(c["chain"], "input");
    }
    if (op == "add") {
      EXPECT_FALSE(c.contains("handle"));
    } else {
      EXPECT_TRUE(c["handle"].is_number_unsigned()) << c.dump();
    }
  }
  EXPECT_EQ(counted[0], 1u);
  EXPECT_EQ(counted[1], 1u);
  EXPECT_EQ(counted[2], 2u);
  EXPECT_EQ(j["changes"][0]["object"], "chain");
}

TEST(RulesetDiff, HumanPlanGroupsUnderContextAndSummarises) {
  Ruleset cur = OneChain({CtEstablished(7), TcpDport(22, 8)});
  Ruleset prop = OneChain({TcpDport(22)});
  std::string text = report::PlanToText(DiffRulesets(cur, prop));
  EXPECT_NE(text.find("table inet storage\n  chain input\n    - "), std::string::npos) << text;
  EXPECT_NE(text.find("Plan: 0 to add, 1 to remove, 0 to change, 0 to move.\n"), std::string::npos);
  EXPECT_EQ(text.find("\x1b["), std::string::npos);
  EXPECT_NE(report::PlanToText(DiffRulesets(cur, prop), true).find("\x1b[31m"), std::string::npos);
}

TEST(RulesetDiff, TenThousandRuleChainWithOneChangeReportsExactlyOne) {
  std::vector<Rule> rules;
  for (uint32_t i = 0; i < 10000; ++i) rules.push_back(SaddrDport(i, 6800 + i % 500));
  Ruleset cur = OneChain(rules);
  rules[5000] = SaddrDport(5000, 22);
  Ruleset prop = OneChain(rules);
  Plan plan = DiffRulesets(cur, prop);
  ASSERT_EQ(plan.changes.size(), 1u);
  EXPECT_EQ(plan.changes[0].op, Op::kChange);
  EXPECT_EQ(plan.changes[0].index_after, 5000u);
}

TEST(RulesetDiff, EverythingChangedStaysBounded) {
  std::vector<Rule> a, b;
  for (uint32_t i = 0; i < 5000; ++i) {
    a.push_back(SaddrDport(i, 80));
    b.push_back(SaddrDport(i + 100000, 443));
  }
  Plan plan = DiffRulesets(OneChain(a), OneChain(b));
  EXPECT_EQ(plan.summary.change + plan.summary.remove, 5000u);
  EXPECT_EQ(plan.summary.change + plan.summary.add, 5000u);
}

TEST(SequenceAlignment, MatchesDuplicatesWithoutUniqueAnchors) {
  std::vector<uint32_t> a = {1, 2, 1, 2, 1}, b = {2, 1, 2, 1, 2};
  auto m = AlignSequences(a, b);
  EXPECT_EQ(m.size(), 4u);  // LCS length
  for (size_t k = 1; k < m.size(); ++k) {
    EXPECT_LT(m[k - 1].first, m[k].first);
    EXPECT_LT(m[k - 1].second, m[k].second);
  }
}

TEST(SequenceAlignment, LargeRegionWithoutUniqueItemsUsesBoundedFallback) {
  std::vector<uint32_t> a(5000), b(5000);
  for (size_t i = 0; i < a.size(); ++i) {
    a[i] = static_cast<uint32_t>(i % 7);
    b[i] = static_cast<uint32_t>((i + 3) % 7);
  }
  auto m = AlignSequences(a, b);
  EXPECT_GT(m.size(), 4000u);
  for (auto [i, j] : m) EXPECT_EQ(a[i], b[j]);
}

TEST(RuleIdentity, KeyIgnoresHandlesAndCounterValuesButNotComments) {
  nft::Table t = StorageTable({});
  IdentityContext ctx(t);
  EXPECT_EQ(ctx.RuleKey(TcpDport(22, 1, true, 5)), ctx.RuleKey(TcpDport(22, 9, true, 500)));
  Rule commented = TcpDport(22);
  commented.comment = "ssh";
  EXPECT_NE(ctx.RuleKey(commented), ctx.RuleKey(TcpDport(22)));
  // Attribute order does not matter.
  Rule reordered = TcpDport(22);
  std::reverse(reordered.exprs[0].attrs.begin(), reordered.exprs[0].attrs.end());
  EXPECT_EQ(ctx.RuleKey(reordered), ctx.RuleKey(TcpDport(22)));
}

}  // namespace
}  // namespace fwgate::diff

namespace fwgate::diff {
namespace {

// `iif IDX accept` in a storage table of a ruleset whose namespace names interface IDX `name`.
Ruleset IifAccept(uint32_t index, const std::string& name) {
  Rule r;
  Bytes idx(4);
  std::memcpy(idx.data(), &index, 4);
  r.exprs = {Make("meta", {{"key", uint64_t{4}}, {"dreg", uint64_t{1}}}),
             Make("cmp", {{"sreg", uint64_t{1}}, {"op", uint64_t{0}}, {"data", idx}}), Accept()};
  Ruleset rs = OneChain({r});
  rs.interfaces[index] = name;
  return rs;
}

TEST(RulesetDiff, InterfaceMatchesCompareByNameNotIndex) {
  // The same rule on two hosts where bond0 has different indexes: no change.
  Plan same = DiffRulesets(IifAccept(3, "bond0"), IifAccept(7, "bond0"));
  EXPECT_TRUE(same.changes.empty());
  // The same index naming different interfaces: a change, shown by name.
  Plan other = DiffRulesets(IifAccept(3, "bond0"), IifAccept(3, "bond1"));
  ASSERT_FALSE(other.changes.empty());
  std::string texts;
  for (const auto& c : other.changes) texts += c.text + "|" + c.before + "|" + c.after + "\n";
  EXPECT_NE(texts.find("iif \"bond1\" accept"), std::string::npos) << texts;
  EXPECT_EQ(texts.find("iif 3"), std::string::npos) << texts;
}

}  // namespace
}  // namespace fwgate::diff
