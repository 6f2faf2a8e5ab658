// The lab judges only what it can see: JudgeLabHealth from measured numbers, ApplyLabHealth on a
// report, and the replay window sized from what the verdict needs.
#include "simulator/replay/lab_health.h"

#include <gtest/gtest.h>

#include "simulator/replay/verdict.h"
#include "simulator/replay/window.h"
#include "simulator/replay/workload_shape.h"

namespace fwgate::replay {
namespace {

using std::chrono::milliseconds;

LabMeasurements Healthy() {
  LabMeasurements m;
  m.loop_lateness = milliseconds(8);
  m.stall_threshold = milliseconds(2000);
  m.longest_interval = milliseconds(1000);
  m.watched_after_reload = milliseconds(3500);
  return m;
}

TEST(LabHealth, SmallLatenessDecides) {
  LabHealth h = JudgeLabHealth(Healthy());
  EXPECT_TRUE(h.judged);
  EXPECT_FALSE(h.overloaded) << h.reason;
  EXPECT_EQ(h.resolution, milliseconds(26));  // 2 x 8 + 10
  EXPECT_EQ(h.resolution_limit, milliseconds(500));
  EXPECT_TRUE(h.reason.empty());
}

// The incident: 835 ms lateness against a 2000 ms threshold returned BROKEN for a safe change.
TEST(LabHealth, IncidentLatenessIsOverloadedWithAdvice) {
  LabMeasurements m = Healthy();
  m.loop_lateness = milliseconds(835);
  m.watched_after_reload = milliseconds(20000);  // even a long window does not help
  LabHealth h = JudgeLabHealth(m);
  EXPECT_TRUE(h.overloaded);
  EXPECT_EQ(h.resolution, milliseconds(1680));
  EXPECT_EQ(h.resolution_limit, milliseconds(1000));  // half the threshold
  EXPECT_EQ(h.reason.rfind("lab overloaded: lateness 835 ms against threshold 2000 ms", 0), 0u)
      << h.reason;
  EXPECT_NE(h.reason.find("reduce --connections-per-node or raise --stall-threshold"),
            std::string::npos);
}

// Median real-replay lateness at 48k connections (~100-148 ms) still decides at 2000 ms when the
// window leaves the slack for it; it does not when the window is cut to one threshold.
TEST(LabHealth, WindowSlackBoundsTheResolution) {
  LabMeasurements m = Healthy();
  m.loop_lateness = milliseconds(148);
  m.watched_after_reload = milliseconds(3500);
  EXPECT_FALSE(JudgeLabHealth(m).overloaded);
  m.watched_after_reload = milliseconds(3200);  // slack 200 < resolution 306
  LabHealth h = JudgeLabHealth(m);
  EXPECT_TRUE(h.overloaded);
  EXPECT_EQ(h.resolution_limit, milliseconds(200));
  m.watched_after_reload = milliseconds(2500);  // less than threshold + interval: no slack
  EXPECT_EQ(JudgeLabHealth(m).resolution_limit, milliseconds(0));
}

TEST(LabHealth, ReloadsStartedFarApartAreOverloaded) {
  LabMeasurements m = Healthy();
  m.reload_start_spread = milliseconds(1900);
  EXPECT_FALSE(JudgeLabHealth(m).overloaded);
  m.reload_start_spread = milliseconds(3000);
  LabHealth h = JudgeLabHealth(m);
  EXPECT_TRUE(h.overloaded);
  EXPECT_NE(h.reason.find("started 3000 ms apart"), std::string::npos) << h.reason;
}

ReplayReport Judged(bool broken) {
  ReplayReport r;
  workload::ConnResult c;
  c.fwd_bytes_before = 100;
  c.max_stall_after_mark = milliseconds(broken ? 5000 : 10);
  r.connections.push_back(JudgeConnection(c, r.stall_threshold));
  Summarize(r);
  return r;
}

TEST(ApplyLabHealth, OverloadTurnsBrokenAndSurvivedIntoUnknown) {
  LabMeasurements m = Healthy();
  m.loop_lateness = milliseconds(900);
  for (bool broken : {true, false}) {
    ReplayReport r = Judged(broken);
    ASSERT_EQ(r.verdict, broken ? Verdict::kBroken : Verdict::kSurvived);
    ApplyLabHealth(r, JudgeLabHealth(m));
    EXPECT_EQ(r.verdict, Verdict::kUnknown);
    EXPECT_EQ(r.reason.rfind("lab overloaded:", 0), 0u) << r.reason;
    EXPECT_TRUE(r.lab_health.overloaded);
  }
}

TEST(ApplyLabHealth, HealthyLabKeepsTheVerdict) {
  ReplayReport r = Judged(true);
  std::string reason = r.reason;
  ApplyLabHealth(r, JudgeLabHealth(Healthy()));
  EXPECT_EQ(r.verdict, Verdict::kBroken);
  EXPECT_EQ(r.reason, reason);
  EXPECT_TRUE(r.lab_health.judged);
}

TEST(ApplyLabHealth, UnknownKeepsItsReasonAfterTheOverload) {
  ReplayReport r;
  Summarize(r);  // no connections: unknown
  LabMeasurements m = Healthy();
  m.loop_lateness = milliseconds(900);
  ApplyLabHealth(r, JudgeLabHealth(m));
  EXPECT_EQ(r.verdict, Verdict::kUnknown);
  EXPECT_NE(r.reason.find("; also: no connections were measured"), std::string::npos) << r.reason;
}

TEST(ReplayWindow, SizedFromThresholdIntervalAndMargin) {
  // Two connections per node: bulk, heartbeats (200 ms) and mon sessions (500 ms).
  EXPECT_EQ(LongestInterval(PlanWorkload(3, 2)), milliseconds(500));
  // More: session messages once a second.
  EXPECT_EQ(LongestInterval(PlanWorkload(3, 10)), milliseconds(kSessionIntervalMs));
  EXPECT_EQ(WatchAfterReload(milliseconds(2000), milliseconds(500)), milliseconds(3000));
  EXPECT_EQ(LongestInterval(WorkloadPlan{}), milliseconds(0));
}

}  // namespace
}  // namespace fwgate::replay
