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

TEST(ReloadPlan, EmulationNeverChangesTheUsersSteps) {
  // The emulation acts around the reload (simulator/reload/emulation.h), not inside it.
  Procedure p;
  p.style = Style::kFlushThenLoad;
  for (auto e : {Emulation::kNative, Emulation::kContinuous, Emulation::kStaleGap}) {
    Plan plan = PlanReload(p, e, kNew);
    ASSERT_EQ(plan.steps.size(), 2u);
    EXPECT_EQ(plan.steps[0].text, "flush ruleset\n");
    EXPECT_EQ(plan.steps[1].text, kNew.text);
    EXPECT_EQ(plan.emulation, e);
    for (const auto& s : plan.steps) {
      EXPECT_EQ(s.text.find("fwgate_"), std::string::npos) << s.text;
      EXPECT_EQ(s.text.find("notrack"), std::string::npos) << s.text;
    }
  }
}

TEST(ReloadPlan, FlushThenLoadOfAFileWithoutFlushRulesetDeletesOnlyItsOwnTables) {
  ProposedRuleset own{"table inet storage {\n}\n", "/r/own.nft"};
  own.flushes_ruleset = false;
  own.tables = {"inet storage", "ip6 extra"};
  Procedure p;
  p.style = Style::kFlushThenLoad;
  Plan plan = PlanReload(p, Emulation::kStaleGap, own);
  ASSERT_EQ(plan.steps.size(), 2u);
  EXPECT_EQ(plan.steps[0].text,
            "add table inet storage\ndelete table inet storage\n"
            "add table ip6 extra\ndelete table ip6 extra\n");
  EXPECT_EQ(plan.steps[0].text.find("flush ruleset"), std::string::npos);
  EXPECT_NE(plan.note.find("other tables stay"), std::string::npos);
  EXPECT_EQ(plan.steps[1].text, own.text);
}

TEST(ReloadPlan, IptablesRestoreFileReplacesOnlyTheTablesItNames) {
  ProposedRuleset ipt{"*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n", "/r/rules.v4",
                      sys::RulesetFormat::kIptables};
  ipt.flushes_ruleset = false;
  ipt.tables = {"ip filter"};
  Procedure p;
  p.style = Style::kFlushThenLoad;
  Plan plan = PlanReload(p, Emulation::kStaleGap, ipt);
  ASSERT_EQ(plan.steps.size(), 2u);
  EXPECT_EQ(plan.steps[0].text, "add table ip filter\ndelete table ip filter\n");
  EXPECT_EQ(plan.steps[1].format, sys::RulesetFormat::kIptables);
  EXPECT_EQ(PlanReload(Procedure{}, Emulation::kStaleGap, ipt).steps.size(), 1u);
}

TEST(ReloadPlan, CommandRunsAsWrittenUnderTheNodesEmulation) {
  auto p = ParseProcedure("command:nft -f {}");
  ASSERT_TRUE(p.ok());
  Plan plan = PlanReload(*p, Emulation::kStaleGap, kNew);
  ASSERT_EQ(plan.steps.size(), 1u);
  EXPECT_EQ(plan.steps[0].argv, (std::vector<std::string>{"nft", "-f", "/r/new.nft"}));
  EXPECT_EQ(plan.steps[0].working_dir, "/r");
  // No longer forced native: the lab follows the command's commits.
  EXPECT_EQ(plan.emulation, Emulation::kStaleGap);
  EXPECT_NE(plan.note.find("follows its commits"), std::string::npos);
}

}  // namespace
}  // namespace fwgate::reload
