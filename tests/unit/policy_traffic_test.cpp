// Policy findings reconciled with the traffic comparison, on rulesets the kernel produced
// (tests/data/traffic/*.json): an equivalent rewrite is harmless although its text changes; a
// cut or an exposure the text heuristics name is confirmed and carries the regions and example
// packets; without the comparison the heuristics stand alone (docs/traffic-diff.md).
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "gate/diff/diff.h"
#include "gate/diff/traffic.h"
#include "gate/hazards/policy.h"
#include "tests/support/ruleset_json.h"

namespace fwgate::hazards {
namespace {

using testing::LoadFixture;
using testing::RulesetFixture;

struct Judged {
  std::vector<Finding> without_traffic;
  std::vector<Finding> with_traffic;
  traffic::TrafficDiff traffic;
};

Judged Judge(const std::string& a, const std::string& b) {
  RulesetFixture ca = LoadFixture(a);
  RulesetFixture cb = LoadFixture(b);
  diff::Plan plan = diff::DiffRulesets(ca.ruleset, cb.ruleset);
  traffic::TrafficOptions o;
  o.current_interfaces = ca.interface_names;
  o.proposed_interfaces = cb.interface_names;
  Judged j;
  j.traffic = traffic::CompareTraffic(ca.ruleset, cb.ruleset, plan, o);
  PolicyInput in;
  in.current = &ca.ruleset;
  in.proposed = &cb.ruleset;
  in.plan = &plan;
  in.proposed_file = b + ".nft";
  j.without_traffic = JudgeChange(in);
  in.traffic = &j.traffic;
  j.with_traffic = JudgeChange(in);
  return j;
}

std::set<std::string> Ids(const std::vector<Finding>& fs) {
  std::set<std::string> ids;
  for (const auto& f : fs) ids.insert(f.id);
  return ids;
}

const Finding* Find(const std::vector<Finding>& fs, const std::string& id) {
  auto it = std::find_if(fs.begin(), fs.end(), [&](const Finding& f) { return f.id == id; });
  return it == fs.end() ? nullptr : &*it;
}

TEST(PolicyTraffic, AnEquivalentRewriteIsHarmlessOnceTheTrafficIsCompared) {
  Judged j = Judge("rewrite_a", "rewrite_b");
  ASSERT_TRUE(j.traffic.complete);
  ASSERT_TRUE(j.traffic.empty());
  EXPECT_EQ(Ids(j.with_traffic), std::set<std::string>{"harmless-change"});
  const Finding* h = Find(j.with_traffic, "harmless-change");
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->severity, Severity::kInfo);
  EXPECT_NE(h->message.find("traffic comparison"), std::string::npos) << h->message;
  // Without the comparison the rewrite is not known to be harmless.
  EXPECT_FALSE(Ids(j.without_traffic).count("harmless-change"));
}

TEST(PolicyTraffic, RemovedEstablishedAcceptIsConfirmedWithRegionsAndExamples) {
  Judged j = Judge("established_a", "established_b");
  ASSERT_FALSE(j.traffic.empty());
  // The chain keeps no established accept at all: the structural rule names it, and the
  // comparison confirms it with the regions it cuts.
  const Finding* f = Find(j.with_traffic, "established-accept-lost");
  ASSERT_NE(f, nullptr) << ::testing::PrintToString(Ids(j.with_traffic));
  EXPECT_NE(f->message.find("(traffic t"), std::string::npos) << f->message;
  EXPECT_EQ(f->severity, Severity::kBlocking);
  ASSERT_FALSE(f->traffic.empty());
  for (const auto& ev : f->traffic) {
    EXPECT_FALSE(ev.region.empty());
    EXPECT_EQ(ev.before, "accept");
    EXPECT_TRUE(ev.after == "drop" || ev.after == "reject") << ev.after;
    EXPECT_TRUE(ev.ct_state == "established" || ev.ct_state == "related") << ev.ct_state;
    EXPECT_FALSE(ev.example.empty());
  }
  // Every blocking finding of the comparison rests on a region that really cuts.
  for (const auto& g : j.with_traffic) {
    if (g.severity != Severity::kBlocking) continue;
    for (const auto& ev : g.traffic) EXPECT_EQ(ev.before, "accept") << g.id;
  }
}

TEST(PolicyTraffic, OpeningThePolicyIsAnExposureWithEvidence) {
  Judged j = Judge("narrow_a", "policy_b");
  const Finding* f = Find(j.with_traffic, "exposure-policy-open");
  ASSERT_NE(f, nullptr) << ::testing::PrintToString(Ids(j.with_traffic));
  ASSERT_FALSE(f->traffic.empty());
  for (const auto& ev : f->traffic) {
    EXPECT_NE(ev.before, "accept");
    EXPECT_EQ(ev.after, "accept");
  }
  // Nothing established is cut by opening the policy.
  EXPECT_FALSE(Ids(j.with_traffic).count("established-traffic-cut"));
  EXPECT_FALSE(Ids(j.with_traffic).count("new-only-port"));
  EXPECT_TRUE(Ids(j.without_traffic).count("exposure-policy-open"));
}

TEST(PolicyTraffic, NarrowingARuleCutsOnlyWhatTheComparisonFinds) {
  Judged j = Judge("narrow_a", "narrow_b");
  // Established connections stay accepted by the first rule: no cut finding of either kind.
  for (const char* id : {"established-traffic-cut", "new-only-port", "established-accept-lost"}) {
    EXPECT_FALSE(Ids(j.with_traffic).count(id)) << id;
  }
  EXPECT_FALSE(Ids(j.with_traffic).count("harmless-change"));
}

TEST(PolicyTraffic, TheRuleTableListsTheTrafficRule) {
  bool found = false;
  for (const auto& r : PolicyRules()) found |= r.id == "established-traffic-cut";
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace fwgate::hazards
