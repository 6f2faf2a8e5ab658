// The scenario table: the bundled one parses with both incidents, and hostile or wrong tables are
// bad input naming FILE:LINE:COL.
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "simulator/scenarios/run.h"
#include "simulator/scenarios/scenario.h"

namespace {

using fwgate::scenarios::Kind;
using fwgate::scenarios::ParseScenarios;

TEST(ScenarioTable, BundledTableHoldsBothIncidents) {
  auto t = ParseScenarios(fwgate::scenarios::BundledScenarios(), "bundled");
  ASSERT_TRUE(t) << t.error().ToString();
  ASSERT_EQ(t->size(), 2u);
  const auto& reload = (*t)[0];
  EXPECT_EQ(reload.name, "2019-reload");
  EXPECT_EQ(reload.kind, Kind::kReload);
  EXPECT_EQ(reload.reload_runs.size(), 4u);
  const auto& storm = (*t)[1];
  EXPECT_EQ(storm.name, "2014-restart-storm");
  EXPECT_EQ(storm.kind, Kind::kStorm);
  // The incident's scale: 8 daemons, about 6000 sessions on the restarted host.
  EXPECT_EQ(storm.host.daemons, 8);
  EXPECT_EQ(storm.host.daemons * storm.host.sessions_per_daemon, 6000);
  ASSERT_GE(storm.storm_runs.size(), 4u);
  EXPECT_TRUE(storm.storm_runs[0].expect_drops);
  EXPECT_EQ(storm.storm_runs[0].table_size, 65536u);  // docs/kernel-conntrack.md §4.1
  for (size_t i = 1; i < storm.storm_runs.size(); ++i) {
    EXPECT_FALSE(storm.storm_runs[i].expect_drops) << storm.storm_runs[i].name;
  }
}

void ExpectBad(const std::string& text, const std::string& pattern) {
  auto t = ParseScenarios(text, "my.json");
  ASSERT_FALSE(t) << text;
  EXPECT_TRUE(std::regex_search(t.error().context, std::regex(pattern))) << t.error().context;
}

TEST(ScenarioTable, BadTablesNameThePlace) {
  ExpectBad("{\"schema_version\": 1, \"scenarios\": [", "^my\\.json:1:[0-9]+: ");
  ExpectBad("[]", "^my\\.json:1:1: a scenario table is a JSON object");
  ExpectBad("{\"schema_version\": 2, \"scenarios\": []}", "schema_version");
  ExpectBad(
      "{\"schema_version\": 1, \"scenarios\": [\n {\"name\": \"x\", \"kind\": \"storm\", \"runs\": "
      "[{\"name\": \"a\", \"table_size\": 1, \"expect\": {\"drops\": true}}]}]}",
      "^my\\.json:2:[0-9]+: .*table_size.*outside");
  ExpectBad(
      "{\"schema_version\": 1, \"scenarios\": [\n {\"name\": \"x\", \"kind\": \"storm\", \"runs\": "
      "[{\"name\": \"a\", \"bogus\": 1, \"expect\": {\"drops\": true}}]}]}",
      "unknown key 'bogus'");
  ExpectBad(
      "{\"schema_version\": 1, \"scenarios\": [\n {\"name\": \"x\", \"kind\": \"storm\", \"runs\": "
      "[{\"name\": \"a\", \"timeouts\": {\"nope\": 3}, \"expect\": {\"drops\": true}}]}]}",
      "unknown timeout 'nope'");
  ExpectBad(
      "{\"schema_version\": 1, \"scenarios\": [\n {\"name\": \"x\", \"kind\": \"reload\", "
      "\"runs\": [{\"name\": \"a\", \"expect\": {\"verdict\": \"maybe\"}}]}]}",
      "verdict must be");
  ExpectBad(
      "{\"schema_version\": 1, \"scenarios\": [{\"name\": \"x\", \"kind\": \"reload\", \"runs\": "
      "[{\"name\": \"a\", \"expect\": {\"verdict\": \"survived\"}}]}, {\"name\": \"x\", "
      "\"kind\": \"reload\", \"runs\": []}]}",
      "twice");
  std::string deep(100000, '[');
  ExpectBad(deep, "^my\\.json:");
}

}  // namespace

// The scenario verdict from its runs: a difference wins over an undecided run, an undecided run
// (the lab could not measure it) is never a difference and never "reproduced".
TEST(ScenarioVerdict, UndecidedRunsLeaveTheScenarioUndecided) {
  using fwgate::scenarios::RunOutcome;
  using fwgate::scenarios::ScenarioResult;
  auto run = [](const std::string& name, bool as_expected, bool undecided) {
    RunOutcome r;
    r.name = name;
    r.as_expected = as_expected;
    r.undecided = undecided;
    r.attempts = undecided ? 3 : 1;
    r.expected = "e";
    r.observed = "o";
    return r;
  };
  ScenarioResult all;
  all.runs = {run("a", true, false), run("b", true, false)};
  fwgate::scenarios::Conclude(all);
  EXPECT_EQ(all.outcome, fwgate::Outcome::kPass);
  EXPECT_EQ(all.verdict, "reproduced");

  ScenarioResult undecided;
  undecided.runs = {run("a", true, false), run("b", false, true)};
  fwgate::scenarios::Conclude(undecided);
  EXPECT_EQ(undecided.outcome, fwgate::Outcome::kUndecided);
  EXPECT_EQ(undecided.verdict, "could not decide");
  EXPECT_NE(undecided.reason.find("run b could not be measured after 3 attempts"),
            std::string::npos)
      << undecided.reason;

  ScenarioResult differed;
  differed.runs = {run("a", false, true), run("b", false, false)};
  fwgate::scenarios::Conclude(differed);
  EXPECT_EQ(differed.outcome, fwgate::Outcome::kFail);
  EXPECT_NE(differed.reason.find("run b differed"), std::string::npos) << differed.reason;
}
