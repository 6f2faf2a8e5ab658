// Stall accounting, timeline bucketing and the periodic-send heap of the workload engine, without
// sockets or clocks.
#include <gtest/gtest.h>

#include "simulator/workload/accounting.h"

namespace fwgate::workload {
namespace {

constexpr Nanos kMs = 1'000'000;

TEST(DirectionProgress, SplitsBytesAtTheMark) {
  DirectionProgress d;
  d.OnBytes(100 * kMs, 10, 0);          // no mark yet
  d.OnBytes(200 * kMs, 20, 250 * kMs);  // before the mark
  d.OnBytes(250 * kMs, 30, 250 * kMs);  // at the mark counts as after
  d.OnBytes(300 * kMs, 40, 250 * kMs);
  EXPECT_EQ(d.bytes_before, 30u);
  EXPECT_EQ(d.bytes_after, 70u);
}

TEST(DirectionProgress, StallBeforeTheMarkIsIgnored) {
  DirectionProgress d;
  d.OnBytes(100 * kMs, 1, 0);
  // 5 s of silence, mostly before the mark at 5000 ms; progress resumes 20 ms after it.
  d.OnBytes(5020 * kMs, 1, 5000 * kMs);
  EXPECT_EQ(d.StallAfterMark(6000 * kMs, 5000 * kMs, true, 0), 980 * kMs);  // open gap at Stop
  d.OnBytes(5990 * kMs, 1, 5000 * kMs);
  EXPECT_EQ(d.StallAfterMark(6000 * kMs, 5000 * kMs, true, 0), 970 * kMs);
}

TEST(DirectionProgress, LongestGapAfterTheMarkWins) {
  DirectionProgress d;
  const Nanos mark = 1000 * kMs;
  d.OnBytes(990 * kMs, 1, mark);
  d.OnBytes(1010 * kMs, 1, mark);  // 10 ms from the mark
  d.OnBytes(2510 * kMs, 1, mark);  // 1500 ms gap
  d.OnBytes(2520 * kMs, 1, mark);
  EXPECT_EQ(d.StallAfterMark(2530 * kMs, mark, true, 0), 1500 * kMs);
}

TEST(DirectionProgress, StallStillRunningAtStopCounts) {
  DirectionProgress d;
  const Nanos mark = 1000 * kMs;
  d.OnBytes(1100 * kMs, 1, mark);
  EXPECT_EQ(d.StallAfterMark(4100 * kMs, mark, true, 0), 3000 * kMs);
}

TEST(DirectionProgress, NeverProgressingAfterTheMarkStallsFromTheMark) {
  DirectionProgress d;
  d.OnBytes(100 * kMs, 1, 0);
  EXPECT_EQ(d.StallAfterMark(3000 * kMs, 1000 * kMs, true, 0), 2000 * kMs);
}

TEST(DirectionProgress, PeriodicIntervalIsSubtracted) {
  DirectionProgress d;
  const Nanos mark = 1000 * kMs;
  for (Nanos t = 0; t <= 3000 * kMs; t += 100 * kMs) d.OnBytes(t + 3 * kMs, 64, mark);
  // Gaps of 100 ms are the flow's rhythm: no stall.
  EXPECT_EQ(d.StallAfterMark(3050 * kMs, mark, true, 100 * kMs), 0);
  d.OnBytes(3800 * kMs, 64, mark);  // one 797 ms gap
  EXPECT_EQ(d.StallAfterMark(3850 * kMs, mark, true, 100 * kMs), 697 * kMs);
}

TEST(DirectionProgress, NoStallWithoutMarkOrWithoutFlow) {
  DirectionProgress d;
  d.OnBytes(100 * kMs, 1, 0);
  EXPECT_EQ(d.StallAfterMark(9000 * kMs, 0, true, 0), 0);
  EXPECT_EQ(d.StallAfterMark(9000 * kMs, 1000 * kMs, false, 0), 0);
}

TEST(TimelineAccumulator, BucketsBytesPerClassAndMarksTheMarkBucket) {
  const Nanos start = 10'000 * kMs;
  TimelineAccumulator t(start, 100 * kMs);
  t.Add(ConnClass::kReplication, start + 5 * kMs, 100);
  t.Add(ConnClass::kReplication, start + 99 * kMs, 1);
  t.Add(ConnClass::kReplication, start + 100 * kMs, 7);
  t.Add(ConnClass::kHeartbeat, start + 350 * kMs, 64);
  Timeline tl = t.Finish(start + 420 * kMs, start + 250 * kMs);
  EXPECT_EQ(tl.bucket, std::chrono::milliseconds(100));
  EXPECT_EQ(tl.mark_bucket, 2);
  ASSERT_EQ(tl.series.size(), 4u);
  EXPECT_EQ(tl.series[0].first, ConnClass::kReplication);
  EXPECT_EQ(tl.series[0].second, (std::vector<uint64_t>{101, 7, 0, 0, 0}));
  EXPECT_EQ(tl.series[1].first, ConnClass::kHeartbeat);
  EXPECT_EQ(tl.series[1].second, (std::vector<uint64_t>{0, 0, 0, 64, 0}));
  EXPECT_EQ(tl.series[3].second.size(), 5u);
}

TEST(TimelineAccumulator, NoMarkGivesMinusOne) {
  TimelineAccumulator t(0, 100 * kMs);
  EXPECT_EQ(t.Finish(50 * kMs, 0).mark_bucket, -1);
}

TEST(TimerHeap, PopsInDueOrder) {
  TimerHeap h;
  h.Push({30, 3, 0});
  h.Push({10, 1, 1});
  h.Push({20, 2, 0});
  h.Push({10, 4, 0});
  std::vector<Nanos> dues;
  while (!h.empty()) dues.push_back(h.Pop().due);
  EXPECT_EQ(dues, (std::vector<Nanos>{10, 10, 20, 30}));
}

TEST(NextDue, KeepsRhythmWhenOnTimeAndSkipsMissedSlotsWhenLate) {
  EXPECT_EQ(NextDue(1000, 1003, 100), 1100);
  EXPECT_EQ(NextDue(1000, 1250, 100), 1350);  // no burst of catch-up sends
}

TEST(ConnClassName, NamesEveryClass) {
  EXPECT_EQ(ConnClassName(ConnClass::kReplication), "replication");
  EXPECT_EQ(ConnClassName(ConnClass::kHeartbeat), "heartbeat");
  EXPECT_EQ(ConnClassName(ConnClass::kClient), "client");
  EXPECT_EQ(ConnClassName(ConnClass::kMon), "mon");
}

}  // namespace
}  // namespace fwgate::workload
