// The traffic comparison on rulesets the kernel produced (tests/data/traffic/*.nft, kept as
// fixtures by tests/lab/traffic_fixtures_test.cpp): equivalent rewrites change nothing; each
// nftables construct changes exactly the traffic it should, per conntrack state; every example
// packet lies in its region and gets the region's verdicts from the concrete evaluator (an
// independent interpreter of the same expressions); the policy queries find what the gate asks.
#include "gate/diff/traffic.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "gate/diff/diff.h"
#include "gate/diff/packet_eval.h"
#include "report/diff_report.h"
#include "tests/support/ruleset_json.h"

namespace fwgate::traffic {
namespace {

using testing::LoadFixture;
using testing::RulesetFixture;

struct Compared {
  RulesetFixture a, b;
  diff::Plan plan;
  TrafficDiff diff;
};

Compared Compare(const std::string& a, const std::string& b) {
  Compared c{LoadFixture(a), LoadFixture(b), {}, {}};
  c.plan = diff::DiffRulesets(c.a.ruleset, c.b.ruleset);
  TrafficOptions o;
  o.current_interfaces = c.a.interface_names;
  o.proposed_interfaces = c.b.interface_names;
  c.diff = CompareTraffic(c.a.ruleset, c.b.ruleset, c.plan, o);
  return c;
}

// Every region's example lies in the region, and the concrete evaluator gives it the region's
// before and after verdicts (for certain regions: exactly; for uncertain ones: among the
// outcomes it finds).
void CheckExamples(const Compared& c) {
  for (const Region& r : c.diff.regions) {
    SCOPED_TRACE(r.id + ": " + r.predicate + " / " + r.example_text);
    bool inside = false;
    for (const Box& b : r.boxes) inside |= b.Contains(r.example.v);
    EXPECT_TRUE(inside);
    ConcreteOptions oa, ob;
    oa.interface_names = c.a.interface_names;
    ob.interface_names = c.b.interface_names;
    auto before = EvaluatePacket(c.a.ruleset, r.path, r.example, oa);
    auto after = EvaluatePacket(c.b.ruleset, r.path, r.example, ob);
    ASSERT_FALSE(before.empty());
    ASSERT_FALSE(after.empty());
    if (r.certain) {
      ASSERT_EQ(before.size(), 1u);
      ASSERT_EQ(after.size(), 1u);
      EXPECT_EQ(before[0].verdict, r.before.verdict);
      EXPECT_EQ(after[0].verdict, r.after.verdict);
    } else {
      bool found_b = false, found_a = false;
      for (const auto& o : before)
        found_b |= o.verdict == r.before.verdict || r.before.verdict == VerdictKind::kUnknown;
      for (const auto& o : after)
        found_a |= o.verdict == r.after.verdict || r.after.verdict == VerdictKind::kUnknown;
      EXPECT_TRUE(found_b);
      EXPECT_TRUE(found_a);
    }
  }
}

std::vector<const Region*> Where(const TrafficDiff& d, Path path, uint32_t state) {
  std::vector<const Region*> out;
  for (const auto& r : d.regions) {
    if (r.path == path && r.ct_state == state) out.push_back(&r);
  }
  return out;
}

std::string Dump(const TrafficDiff& d) { return report::TrafficToText(d); }

TEST(TrafficDiff, SelfComparisonIsEmpty) {
  for (const char* name : {"rewrite_a", "concat_a", "vmap_a", "chains_a", "binding", "nat_a"}) {
    Compared c = Compare(name, name);
    EXPECT_TRUE(c.plan.empty()) << name;
    EXPECT_TRUE(c.diff.empty()) << name << Dump(c.diff);
  }
}

TEST(TrafficDiff, EquivalentRewritesChangeNoTraffic) {
  // Set inlined, ports merged into an anonymous set, non-overlapping rules reordered, ct state
  // bits as a set: the structural plan has changes, the traffic none.
  Compared c = Compare("rewrite_a", "rewrite_b");
  EXPECT_FALSE(c.plan.empty());
  EXPECT_TRUE(c.diff.empty()) << Dump(c.diff);
  EXPECT_TRUE(c.diff.complete);
  EXPECT_EQ(report::TrafficToText(c.diff), "No traffic changes.\n");
}

TEST(TrafficDiff, NarrowedSshAndNewPortReadAsTheyHappened) {
  Compared c = Compare("narrow_a", "narrow_b");
  CheckExamples(c);
  auto news = Where(c.diff, Path::kInput, kCtNew);
  ASSERT_EQ(news.size(), 2u) << Dump(c.diff);
  const Region* ssh = nullptr;
  const Region* exporter = nullptr;
  for (const Region* r : news) (r->predicate.find("22") != std::string::npos ? ssh : exporter) = r;
  ASSERT_NE(ssh, nullptr);
  ASSERT_NE(exporter, nullptr);
  EXPECT_EQ(ssh->predicate, "tcp to port 22 from 10.10.0.0/24 except 10.10.0.5");
  EXPECT_EQ(ssh->before.verdict, VerdictKind::kAccept);
  EXPECT_EQ(ssh->after.verdict, VerdictKind::kDrop);
  EXPECT_EQ(ssh->consequence,
            "new connections refused; existing sessions keep going until they close");
  EXPECT_EQ(ssh->family, 4);
  EXPECT_EQ(exporter->predicate, "tcp to port 9100 from 10.10.0.0/24");
  EXPECT_EQ(exporter->before.verdict, VerdictKind::kDrop);
  EXPECT_EQ(exporter->after.verdict, VerdictKind::kAccept);
  // Established traffic is accepted first in both: no established region.
  EXPECT_TRUE(Where(c.diff, Path::kInput, kCtEstablished).empty());
  // The deciding rules: the /24 rule before, the policy after.
  ASSERT_FALSE(ssh->before.decided_by.empty());
  EXPECT_EQ(ssh->before.decided_by.back().text, "ip saddr 10.10.0.0/24 tcp dport 22 accept");
  EXPECT_FALSE(ssh->after.decided_by.back().handle.has_value());
  EXPECT_EQ(ssh->after.decided_by.back().text, "policy drop");
}

TEST(TrafficDiff, RemovedEstablishedAcceptCutsOpenConnections) {
  Compared c = Compare("established_a", "established_b");
  CheckExamples(c);
  auto cut = EstablishedCut(c.diff);
  ASSERT_FALSE(cut.empty()) << Dump(c.diff);
  // All established traffic is cut (one region), and inside it the daemon ports still accept
  // new connections: ports that work for new connections only.
  bool daemon = false;
  for (const Region* r : cut) {
    if (r->ct_state != kCtEstablished) continue;
    EXPECT_NE(r->predicate.find("all traffic except"), std::string::npos) << r->predicate;
    ASSERT_EQ(r->new_only.size(), 1u);
    EXPECT_EQ(r->new_only[0], "tcp to ports 6800-7300");
    daemon = true;
    EXPECT_EQ(r->consequence,
              "open connections matching this will be cut; tcp to ports 6800-7300 is accepted for "
              "new connections only");
  }
  EXPECT_TRUE(daemon) << Dump(c.diff);
  auto new_only = NewOnlyPorts(c.diff);
  ASSERT_EQ(new_only.size(), 1u) << Dump(c.diff);
  EXPECT_EQ(new_only[0].ports, std::vector<std::string>{"6800-7300"});
  // Established ssh and http are cut too; related as well.
  EXPECT_FALSE(Where(c.diff, Path::kInput, kCtRelated).empty());
}

TEST(TrafficDiff, OpenedPolicyIsExposureFromAnySource) {
  Compared c = Compare("established_a", "policy_b");
  CheckExamples(c);
  auto opened = PolicyOpened(c.diff);
  ASSERT_FALSE(opened.empty()) << Dump(c.diff);
  auto any = NewlyAccepted(c.diff, true);
  ASSERT_FALSE(any.empty());
  for (const Region* r : any) {
    EXPECT_EQ(r->after.verdict, VerdictKind::kAccept);
    EXPECT_EQ(r->after.decided_by.back().text, "policy accept");
  }
  // One region per state, read as "all traffic except what was accepted before".
  auto news = Where(c.diff, Path::kInput, kCtNew);
  ASSERT_EQ(news.size(), 1u) << Dump(c.diff);
  EXPECT_EQ(news[0]->family, 0);
  EXPECT_NE(news[0]->predicate.find("all traffic except"), std::string::npos) << news[0]->predicate;
  EXPECT_EQ(news[0]->consequence, "new connections now accepted from any source");
}

TEST(TrafficDiff, JumpGotoAndReturn) {
  Compared c = Compare("chains_a", "chains_b");
  CheckExamples(c);
  // 10.0.0.2 returned from admin and was accepted by the next rule; now admin drops it.
  bool admin = false, web = false;
  for (const Region& r : c.diff.regions) {
    if (r.ct_state != kCtNew) continue;
    if (r.predicate == "tcp to port 22 from 10.0.0.2") {
      admin = true;
      EXPECT_EQ(r.before.verdict, VerdictKind::kAccept);
      EXPECT_EQ(r.after.verdict, VerdictKind::kDrop);
      EXPECT_EQ(r.after.decided_by.back().chain, "admin");
    }
    // 8080 went to web by goto and fell off its end: back in input's caller -> policy drop.
    if (r.predicate == "tcp to port 8080") {
      web = true;
      EXPECT_EQ(r.before.verdict, VerdictKind::kDrop);
      EXPECT_EQ(r.after.verdict, VerdictKind::kAccept);
    }
  }
  EXPECT_TRUE(admin) << Dump(c.diff);
  EXPECT_TRUE(web) << Dump(c.diff);
}

TEST(TrafficDiff, AcceptEndsOnlyItsBaseChain) {
  Compared c = Compare("tables_a", "tables_b");
  CheckExamples(c);
  // ssh accepted by the first table still met the second table's drop policy before.
  auto news = Where(c.diff, Path::kInput, kCtNew);
  ASSERT_EQ(news.size(), 1u) << Dump(c.diff);
  EXPECT_EQ(news[0]->predicate, "tcp to port 22");
  EXPECT_EQ(news[0]->before.verdict, VerdictKind::kDrop);
  EXPECT_EQ(news[0]->after.verdict, VerdictKind::kAccept);
  ASSERT_EQ(news[0]->after.decided_by.size(), 2u);
  EXPECT_EQ(news[0]->after.decided_by[0].table, "first");
  EXPECT_EQ(news[0]->after.decided_by[1].table, "second");
  // Port 23 is dropped by the first table in both: no region.
  for (const auto& r : c.diff.regions) EXPECT_EQ(r.predicate.find("23"), std::string::npos);
}

TEST(TrafficDiff, VerdictMapsAndCtStateVmap) {
  Compared c = Compare("vmap_a", "vmap_b");
  CheckExamples(c);
  // related: accept -> falls through to the port map; 443 now accepted; 25 now falls to policy.
  bool related = false, https = false;
  for (const Region& r : c.diff.regions) {
    if (r.ct_state == kCtRelated && r.before.verdict == VerdictKind::kAccept) related = true;
    if (r.ct_state == kCtNew && r.predicate == "tcp to port 443") {
      https = true;
      EXPECT_EQ(r.before.verdict, VerdictKind::kDrop);
      EXPECT_EQ(r.after.verdict, VerdictKind::kAccept);
    }
  }
  EXPECT_TRUE(related) << Dump(c.diff);
  EXPECT_TRUE(https) << Dump(c.diff);
  // 25 was dropped by the map, now by the policy: same verdict, no region.
  for (const auto& r : c.diff.regions) {
    if (r.ct_state == kCtNew) {
      EXPECT_EQ(r.predicate.find("port 25"), std::string::npos) << r.predicate;
    }
  }
}

TEST(TrafficDiff, ConcatenatedIntervalSetElements) {
  Compared c = Compare("concat_a", "concat_b");
  CheckExamples(c);
  bool narrowed = false, added = false;
  for (const Region& r : c.diff.regions) {
    if (r.ct_state != kCtNew) continue;
    if (r.predicate == "tcp to ports 8051-8100 from 10.1.0.1")
      narrowed = r.after.verdict == VerdictKind::kDrop;
    if (r.predicate == "tcp to port 25 from 10.3.0.7")
      added = r.after.verdict == VerdictKind::kAccept;
  }
  EXPECT_TRUE(narrowed) << Dump(c.diff);
  EXPECT_TRUE(added) << Dump(c.diff);
}

TEST(TrafficDiff, RateLimitsMakeRegionsUncertainOnlyWhereTheyMatter) {
  Compared c = Compare("limit_a", "limit_b");
  CheckExamples(c);
  for (const Region& r : c.diff.regions) {
    // Port 22 over the limit was dropped by the policy, now by the rule: same verdicts.
    EXPECT_EQ(r.predicate.find("port 22"), std::string::npos) << Dump(c.diff);
  }
  auto news = Where(c.diff, Path::kInput, kCtNew);
  ASSERT_EQ(news.size(), 1u) << Dump(c.diff);
  EXPECT_EQ(news[0]->predicate, "tcp to port 24");
  EXPECT_FALSE(news[0]->certain);
  ASSERT_EQ(news[0]->depends_on.size(), 1u);
  EXPECT_NE(news[0]->depends_on[0].find("rate limit"), std::string::npos);
  EXPECT_EQ(news[0]->consequence, "may change: depends on what fwgate does not model");
}

TEST(TrafficDiff, MarksSetEarlierDecideLaterMatches) {
  Compared c = Compare("mark_a", "mark_b");
  CheckExamples(c);
  auto news = Where(c.diff, Path::kInput, kCtNew);
  ASSERT_EQ(news.size(), 1u) << Dump(c.diff);
  EXPECT_EQ(news[0]->predicate, "tcp to port 8080 in on \"eth2\" mark != 0x1");
  EXPECT_EQ(news[0]->after.verdict, VerdictKind::kAccept);
}

TEST(TrafficDiff, NotrackMakesPacketsUntracked) {
  Compared c = Compare("notrack_a", "notrack_b");
  CheckExamples(c);
  // DNS was notracked and accepted as untracked; now it is tracked: new DNS is dropped.
  bool dns = false;
  for (const Region& r : c.diff.regions) {
    if (r.ct_state == kCtNew && r.predicate == "udp to port 53") {
      dns = true;
      EXPECT_EQ(r.before.verdict, VerdictKind::kAccept);
      EXPECT_EQ(r.after.verdict, VerdictKind::kDrop);
    }
  }
  EXPECT_TRUE(dns) << Dump(c.diff);
}

TEST(TrafficDiff, ForwardAndOutputPaths) {
  Compared c = Compare("paths_a", "paths_b");
  CheckExamples(c);
  bool fwd = false, out = false;
  for (const Region& r : c.diff.regions) {
    if (r.path == Path::kForward && r.ct_state == kCtNew &&
        r.before.verdict == VerdictKind::kAccept) {
      fwd = true;
      EXPECT_NE(r.predicate.find("in on \"lan0\""), std::string::npos) << r.predicate;
      EXPECT_NE(r.predicate.find("out on \"wan0\""), std::string::npos) << r.predicate;
    }
    if (r.path == Path::kOutput && r.ct_state == kCtNew) out = true;
  }
  EXPECT_TRUE(fwd) << Dump(c.diff);
  EXPECT_TRUE(out) << Dump(c.diff);
  for (const Region& r : c.diff.regions) {
    // Output packets have no input interface; input packets no output one.
    if (r.path == Path::kOutput) {
      EXPECT_EQ(r.example.Get(Field::kIifname), u128{0});
    }
  }
}

TEST(TrafficDiff, Ipv6PrefixesAndIcmpv6Types) {
  Compared c = Compare("ipv6_a", "ipv6_b");
  CheckExamples(c);
  bool echo = false, ssh = false;
  for (const Region& r : c.diff.regions) {
    EXPECT_EQ(r.family, 6);
    if (r.ct_state != kCtNew) continue;
    if (r.predicate == "icmpv6 type echo-request") echo = r.after.verdict == VerdictKind::kDrop;
    if (r.predicate == "tcp to port 22 from 2001:db8:1::/48 except 2001:db8:1::/64") ssh = true;
  }
  EXPECT_TRUE(echo) << Dump(c.diff);
  EXPECT_TRUE(ssh) << Dump(c.diff);
}

TEST(TrafficDiff, NatMakesLaterVerdictsUnknown) {
  Compared c = Compare("nat_a", "nat_b");
  // New 8080 is translated before the filter: unknown on both sides, reported as may change.
  bool translated = false;
  for (const Region& r : c.diff.regions) {
    if (r.ct_state == kCtNew && r.predicate == "tcp to port 8080") {
      translated = true;
      EXPECT_FALSE(r.certain);
      EXPECT_EQ(r.before.verdict, VerdictKind::kUnknown);
    }
    // Established 8080 packets skip the nat chain: the filter's change is certain.
    if (r.ct_state == kCtEstablished && r.predicate == "tcp to port 8080") {
      EXPECT_TRUE(r.certain);
      EXPECT_EQ(r.after.verdict, VerdictKind::kDrop);
    }
  }
  EXPECT_TRUE(translated) << Dump(c.diff);
}

TEST(TrafficDiff, RejectIsNotDrop) {
  Compared c = Compare("reject_a", "reject_b");
  CheckExamples(c);
  auto news = Where(c.diff, Path::kInput, kCtNew);
  ASSERT_EQ(news.size(), 1u) << Dump(c.diff);
  EXPECT_EQ(news[0]->after.verdict, VerdictKind::kReject);
  EXPECT_NE(news[0]->consequence.find("rejected"), std::string::npos);
}

TEST(TrafficDiff, InterfaceNamesWildcardsIndexesAndFlags) {
  Compared c = Compare("iface_a", "iface_b");
  CheckExamples(c);
  // iif "lo" == iifname "lo": no change there. eth* narrowed to eth0. flags & (syn|ack) == syn
  // vs flags syn (any packet with syn set): syn+ack now accepted on bond0.
  bool narrowed = false, synack = false;
  for (const Region& r : c.diff.regions) {
    EXPECT_EQ(r.predicate.find("\"lo\""), std::string::npos) << r.predicate;
    if (r.predicate.find("\"eth*\" except in on \"eth0\"") != std::string::npos ||
        r.predicate.find("except \"eth0\"") != std::string::npos) {
      narrowed = true;
    }
    if (r.predicate.find("bond0") != std::string::npos)
      synack = r.after.verdict == VerdictKind::kAccept;
  }
  EXPECT_TRUE(narrowed) << Dump(c.diff);
  EXPECT_TRUE(synack) << Dump(c.diff);
}

TEST(TrafficDiff, SetElementChangesOnly) {
  Compared c = Compare("bigset_a", "bigset_b");
  CheckExamples(c);
  size_t unblocked = 0, blocked = 0;
  for (const Region& r : c.diff.regions) {
    if (r.ct_state != kCtNew) continue;
    if (r.after.verdict == VerdictKind::kAccept) unblocked++;
    if (r.after.verdict == VerdictKind::kDrop) blocked++;
  }
  EXPECT_EQ(unblocked, 1u) << Dump(c.diff);
  EXPECT_EQ(blocked, 1u) << Dump(c.diff);
}

TEST(TrafficDiff, BindingChainsRenumberedAreTheSame) {
  RulesetFixture a = LoadFixture("binding");
  RulesetFixture b = a;
  // Another load numbers the anonymous chains differently.
  for (auto& t : b.ruleset.tables) {
    for (auto& ch : t.chains) {
      if (ch.name.rfind("__chain", 0) == 0) ch.name = "__chain" + std::to_string(40 + ch.handle);
      for (auto& r : ch.rules) {
        for (auto& e : r.exprs) {
          for (auto& [k, v] : e.attrs) {
            if (k == "chain" && std::get<std::string>(v).rfind("__chain", 0) == 0) {
              for (const auto& target : a.ruleset.tables[0].chains) {
                if (target.name == std::get<std::string>(v)) {
                  v = "__chain" + std::to_string(40 + target.handle);
                }
              }
            }
          }
        }
      }
    }
  }
  diff::Plan plan = diff::DiffRulesets(a.ruleset, b.ruleset);
  EXPECT_TRUE(plan.empty()) << report::PlanToText(plan);
  EXPECT_TRUE(CompareTraffic(a.ruleset, b.ruleset, plan).empty());
}

TEST(StructuralPlan, PairsEditsThatKeepTheServiceAndVerdict) {
  // ssh narrowed to one host, node_exporter added for the /24: the 9100 rule looks more like the
  // old ssh rule (only the port differs), but the edit kept ssh's service and changed its match.
  Compared c = Compare("narrow_a", "narrow_b");
  ASSERT_EQ(c.plan.summary.change, 1u) << report::PlanToText(c.plan);
  ASSERT_EQ(c.plan.summary.add, 1u);
  for (const auto& ch : c.plan.changes) {
    if (ch.op == diff::Op::kChange) {
      EXPECT_EQ(ch.before, "ip saddr 10.10.0.0/24 tcp dport 22 accept");
      EXPECT_EQ(ch.after, "ip saddr 10.10.0.5 tcp dport 22 accept");
    }
    if (ch.op == diff::Op::kAdd) {
      EXPECT_EQ(ch.text, "ip saddr 10.10.0.0/24 tcp dport 9100 accept");
    }
  }
}

TEST(StructuralPlan, BindingChainsShowTheirContent) {
  Compared c = Compare("binding", "binding");
  EXPECT_TRUE(c.plan.empty());
  const auto& t = c.a.ruleset.tables[0];
  const nft::Chain* input = t.FindChain("input");
  ASSERT_NE(input, nullptr);
  EXPECT_EQ(diff::RuleTextWithBindings(t, input->rules[0]),
            "tcp dport 22 jump { ip saddr 10.0.0.0/8 accept; ip saddr 192.168.0.0/16 accept; }");
}

TEST(TrafficDiff, JsonCarriesRegions) {
  Compared c = Compare("narrow_a", "narrow_b");
  nlohmann::json j = report::TrafficToJson(c.diff);
  ASSERT_TRUE(j["regions"].is_array());
  ASSERT_FALSE(j["regions"].empty());
  const auto& r = j["regions"][0];
  for (const char* k : {"id", "path", "family", "ct_state", "predicate", "match", "before", "after",
                        "certain", "consequence", "example", "as_new", "as_established"}) {
    EXPECT_TRUE(r.contains(k)) << k;
  }
  EXPECT_TRUE(r["example"].contains("saddr"));
  EXPECT_TRUE(r["before"]["decided_by"].is_array());
  EXPECT_EQ(j["summary"]["regions"], c.diff.regions.size());
}

}  // namespace
}  // namespace fwgate::traffic
