// Reload procedures and emulation plans, checked as values (no kernel).
#include <gtest/gtest.h>

#include "simulator/reload/procedure.h"

namespace fwgate::reload {
namespace {

using hazards::Emulation;

const ProposedRuleset kNew{"flush ruleset\ntable inet t {\n}\n", "/r/new.nft"};

TEST(ReloadProcedure, ParsesTheThreeForms) {
  auto a = ParseProcedure("atomic");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->style, Style::kAtomic);
  auto f = ParseProcedure("flush-then-load");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->style, Style::kFlushThenLoad);
  auto c = ParseProcedure("command:/usr/sbin/nft -f {}");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->style, Style::kCommand);
  EXPECT_EQ(c->argv, (std::vector<std::string>{"/usr/sbin/nft", "-f", "{}"}));
}

TEST(ReloadProcedure, RejectsUnknownFormListingValidOnes) {
  auto p = ParseProcedure("restart");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().context.find("atomic, flush-then-load, command:"), std::string::npos);
  EXPECT_FALSE(ParseProcedure("command:").ok());
  EXPECT_FALSE(ParseProcedure("command:nft 'unterminated").ok());
}

TEST(ReloadProcedure, QuotesGroupWordsWithoutShellExpansion) {
  auto w = SplitWords("sh -c 'echo $HOME; rm x'  \"a b\"");
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(*w, (std::vector<std::string>{"sh", "-c", "echo $HOME; rm x", "a b"}));
}

TEST(ReloadProcedure, SubstitutesEveryBracePair) {
  auto v = SubstitutePath({"reload", "--file={}", "{}.bak", "x"}, "/p/new.nft");
  EXPECT_EQ(v, (std::vector<std::string>{"reload", "--file=/p/new.nft", "/p/new.nft.bak", "x"}));
}

TEST(ReloadPlan, AtomicIsOneTransactionWhateverTheEmulation) {
  Procedure p;
  for (auto e : {Emulation::kNative, Emulation::kContinuous, Emulation::kStaleGap}) {
    Plan plan = PlanReload(p, e, kNew);
    ASSERT_EQ(plan.steps.size(), 1u);
    EXPECT_EQ(plan.steps[0].kind, Step::Kind::kNftText);
    EXPECT_EQ(plan.steps[0].text, kNew.text);
    EXPECT_NE(plan.note.find("§7"), std::string::npos);
  }
}

TEST(ReloadPlan, FlushThenLoadNativeFlushesWaitsGapThenLoads) {
  Procedure p;
  p.style = Style::kFlushThenLoad;
  p.gap = std::chrono::milliseconds(750);
  Plan plan = PlanReload(p, Emulation::kNative, kNew);
  ASSERT_EQ(plan.steps.size(), 2u);
  EXPECT_EQ(plan.steps[0].text, "flush ruleset\n");
  EXPECT_EQ(plan.steps[1].wait_before, std::chrono::milliseconds(750));
  EXPECT_EQ(plan.steps[1].text, kNew.text);
}

TEST(ReloadPlan, ContinuousPinsConntrackInTheFlushTransaction) {
  Procedure p;
  p.style = Style::kFlushThenLoad;
  Plan plan = PlanReload(p, Emulation::kContinuous, kNew);
  ASSERT_EQ(plan.steps.size(), 2u);
  const std::string& t = plan.steps[0].text;
  EXPECT_EQ(t.rfind("flush ruleset", 0), 0u);
  EXPECT_NE(t.find("table inet fwgate_pin"), std::string::npos);
  EXPECT_NE(t.find("ct state"), std::string::npos);
  EXPECT_EQ(t.find("notrack"), std::string::npos);
  EXPECT_EQ(plan.emulation, Emulation::kContinuous);
}

TEST(ReloadPlan, StaleGapPinsHooksAndBypassesConntrackAtRawPriority) {
  Procedure p;
  p.style = Style::kFlushThenLoad;
  Plan plan = PlanReload(p, Emulation::kStaleGap, kNew);
  ASSERT_EQ(plan.steps.size(), 2u);
  const std::string& t = plan.steps[0].text;
  EXPECT_EQ(t.rfind("flush ruleset", 0), 0u);
  EXPECT_NE(t.find("table inet fwgate_pin"), std::string::npos);
  EXPECT_NE(t.find("hook prerouting priority -300"), std::string::npos);
  EXPECT_NE(t.find("hook output priority -300"), std::string::npos);
  EXPECT_NE(t.find("notrack"), std::string::npos);
  EXPECT_EQ(plan.steps[1].kind, Step::Kind::kNftText);
  EXPECT_EQ(plan.steps[1].text, kNew.text);
}

TEST(ReloadPlan, NonNftLoadIsFollowedByDroppingThePinAndGapTables) {
  // iptables-nft-restore replaces only its own tables: the emulation's tables must go after it.
  const ProposedRuleset ipt{"*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n", "/r/rules.v4",
                            sys::RulesetFormat::kIptables};
  Procedure p;
  p.style = Style::kFlushThenLoad;
  Plan plan = PlanReload(p, Emulation::kStaleGap, ipt);
  ASSERT_EQ(plan.steps.size(), 3u);
  EXPECT_EQ(plan.steps[1].format, sys::RulesetFormat::kIptables);
  EXPECT_EQ(plan.steps[1].text, ipt.text);
  EXPECT_EQ(plan.steps[2].format, sys::RulesetFormat::kNft);
  EXPECT_EQ(plan.steps[2].wait_before.count(), 0);
  EXPECT_NE(plan.steps[2].text.find("delete table inet fwgate_pin"), std::string::npos);
  EXPECT_NE(plan.steps[2].text.find("delete table inet fwgate_gap"), std::string::npos);
  // Native flush-then-load and atomic reloads add nothing; nft text drops them itself.
  EXPECT_EQ(PlanReload(p, Emulation::kNative, ipt).steps.size(), 2u);
  EXPECT_EQ(PlanReload(p, Emulation::kStaleGap, kNew).steps.size(), 2u);
  EXPECT_EQ(PlanReload(Procedure{}, Emulation::kStaleGap, ipt).steps.size(), 1u);
}

TEST(ReloadPlan, CommandRunsAsWrittenAndSaysEmulationDidNotApply) {
  auto p = ParseProcedure("command:nft -f {}");
  ASSERT_TRUE(p.ok());
  Plan plan = PlanReload(*p, Emulation::kStaleGap, kNew);
  ASSERT_EQ(plan.steps.size(), 1u);
  EXPECT_EQ(plan.steps[0].argv, (std::vector<std::string>{"nft", "-f", "/r/new.nft"}));
  EXPECT_EQ(plan.steps[0].working_dir, "/r");
  EXPECT_EQ(plan.emulation, Emulation::kNative);
  EXPECT_NE(plan.note.find("natively"), std::string::npos);
}

}  // namespace
}  // namespace fwgate::reload
