// Sharding the workload over worker processes, without processes: the listener packing plan, the
// front end <-> worker message format (round trips and hostile input) and timeline merging.
#include <gtest/gtest.h>

#include <numeric>

#include "simulator/workload/shard_plan.h"
#include "simulator/workload/wire.h"

namespace fwgate::workload {
namespace {

using std::chrono::milliseconds;

std::vector<std::string> Names(size_t n) {
  std::vector<std::string> v;
  for (size_t i = 0; i < n; ++i) v.push_back("node1 10.0.0.1:" + std::to_string(6800 + i));
  return v;
}

TEST(PlanShards, CephShapedNodesFitTheFewestBalancedWorkers) {
  // 8 nodes x 8 OSD ports x 750 connections = 48,000; ~19,700 descriptors per process.
  std::vector<size_t> per(64, 750);
  auto plan = PlanShards(per, Names(64), 19'700);
  ASSERT_TRUE(plan.ok()) << plan.error().ToString();
  // 64 x 1501 fds = 96,064: at least 5 workers; 13 listeners (19,513) fit, 14 do not.
  ASSERT_EQ(plan->size(), 5u);
  std::vector<int> seen(64, 0);
  size_t total = 0;
  for (const Shard& s : *plan) {
    EXPECT_LE(s.fds, 19'700u);
    EXPECT_GE(s.listeners.size(), 12u);
    EXPECT_LE(s.listeners.size(), 13u);
    EXPECT_TRUE(std::is_sorted(s.listeners.begin(), s.listeners.end()));
    for (uint32_t l : s.listeners) ++seen[l];
    total += s.connections;
  }
  EXPECT_EQ(total, 48'000u);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), 64);
}

TEST(PlanShards, EverythingFitsOneShardWhenTheBudgetAllows) {
  auto plan = PlanShards({10, 0, 5}, Names(3), 1000);
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->size(), 1u);
  EXPECT_EQ((*plan)[0].listeners, (std::vector<uint32_t>{0, 1, 2}));
  EXPECT_EQ((*plan)[0].fds, 33u);
}

TEST(PlanShards, AddsShardsWhenTheLowerBoundDoesNotPack) {
  // Three listeners of 21 fds, budget 40: the bound says 2 shards, packing needs 3.
  auto plan = PlanShards({10, 10, 10}, Names(3), 40);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->size(), 3u);
}

TEST(PlanShards, OverFullListenerAsksForMoreListenerPorts) {
  auto plan = PlanShards({5, 30, 5}, Names(3), 50);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.error().context,
            "listener node1 10.0.0.1:6801 has 30 connections but one worker process can hold at "
            "most 24 (both ends of a connection live in the worker that owns its listener; 50 "
            "descriptors per process): spread the connections over more listener ports (e.g. "
            "more OSD ports per node)");
}

TEST(WorkerWire, ReportSurvivesTheRoundTrip) {
  wire::WorkerReport in;
  in.mark_received = 123'456'789;
  in.report.loop_max_latency = milliseconds(7);
  in.report.timeline.bucket = milliseconds(50);
  in.report.timeline.mark_bucket = 3;
  in.report.timeline.series = {{ConnClass::kReplication, {1, 2, 3, 4}},
                               {ConnClass::kMon, {0, 0, 0, 9}}};
  ConnResult a;
  a.id = 0;
  a.cls = ConnClass::kHeartbeat;
  a.from_node = "node1";
  a.to_node = "node2";
  a.fwd_bytes_before = 1ULL << 40;
  a.fwd_bytes_after = 5;
  a.rev_bytes_before = 6;
  a.rev_bytes_after = 7;
  a.max_stall_after_mark = milliseconds(1500);
  a.reset = true;
  a.retransmits = 42;
  a.error = "connect node1 -> node2 10.0.0.2:6800: recv at node2: Connection reset by peer";
  ConnResult b;
  b.id = 1;
  b.cls = ConnClass::kClient;
  b.closed = true;
  in.report.connections = {a, b};

  auto out = wire::DecodeReport(wire::EncodeReport(in));
  ASSERT_TRUE(out.ok()) << out.error().ToString();
  EXPECT_EQ(out->mark_received, in.mark_received);
  EXPECT_EQ(out->report.loop_max_latency, milliseconds(7));
  EXPECT_EQ(out->report.timeline.bucket, milliseconds(50));
  EXPECT_EQ(out->report.timeline.mark_bucket, 3);
  EXPECT_EQ(out->report.timeline.series, in.report.timeline.series);
  ASSERT_EQ(out->report.connections.size(), 2u);
  const ConnResult& x = out->report.connections[0];
  EXPECT_EQ(x.cls, ConnClass::kHeartbeat);
  EXPECT_EQ(x.from_node, "node1");
  EXPECT_EQ(x.to_node, "node2");
  EXPECT_EQ(x.fwd_bytes_before, 1ULL << 40);
  EXPECT_EQ(x.fwd_bytes_after, 5u);
  EXPECT_EQ(x.rev_bytes_before, 6u);
  EXPECT_EQ(x.rev_bytes_after, 7u);
  EXPECT_EQ(x.max_stall_after_mark, milliseconds(1500));
  EXPECT_TRUE(x.reset);
  EXPECT_FALSE(x.closed);
  EXPECT_EQ(x.retransmits, 42u);
  EXPECT_EQ(x.error, a.error);
  EXPECT_EQ(out->report.connections[1].id, 1u);
  EXPECT_TRUE(out->report.connections[1].closed);
}

TEST(WorkerWire, TruncatedOrPaddedReportIsRejected) {
  wire::WorkerReport in;
  in.report.connections.resize(3);
  std::string bytes = wire::EncodeReport(in);
  for (size_t cut : {size_t{0}, size_t{7}, bytes.size() / 2, bytes.size() - 1}) {
    auto r = wire::DecodeReport(std::string_view(bytes).substr(0, cut));
    ASSERT_FALSE(r.ok()) << cut;
    EXPECT_NE(r.error().context.find("truncated or malformed"), std::string::npos);
  }
  EXPECT_FALSE(wire::DecodeReport(bytes + "x").ok());
  // A connection count far beyond the payload does not make the decoder allocate for it.
  std::string huge = bytes;
  size_t count_at = 8 * 4 + 4;  // after mark, latency, bucket, mark bucket and series count
  huge[count_at] = huge[count_at + 1] = huge[count_at + 2] = huge[count_at + 3] = '\xff';
  EXPECT_FALSE(wire::DecodeReport(huge).ok());
}

TEST(WorkerWire, StatusesAndEstablishRepliesKeepTheWorkersMessage) {
  wire::EstablishReply in;
  in.status = Error::FromErrno(ECONNREFUSED, "connect a -> b 10.0.0.2:6800");
  in.queued = 100;
  in.failed = 2;
  in.first_failed = 17;
  in.first_error = "connect a -> b 10.0.0.2:6800: Connection refused";
  auto out = wire::DecodeEstablish(wire::EncodeEstablish(in));
  ASSERT_TRUE(out.ok());
  ASSERT_FALSE(out->status.ok());
  EXPECT_EQ(out->status.error().ToString(), "connect a -> b 10.0.0.2:6800: Connection refused");
  EXPECT_EQ(out->queued, 100u);
  EXPECT_EQ(out->failed, 2u);
  EXPECT_EQ(out->first_failed, 17u);
  EXPECT_EQ(out->first_error, in.first_error);
  auto ok = wire::DecodeStatus(wire::EncodeStatus(OkStatus()));
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->ok());
}

TEST(WorkerWire, FrameHeaderRejectsUnknownTypesAndHugeLengths) {
  std::string f = wire::Frame(wire::Type::kMark, wire::EncodeTime(99));
  auto h = wire::ParseHeader(std::string_view(f).substr(0, wire::kHeaderBytes));
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->first, wire::Type::kMark);
  EXPECT_EQ(h->second, 8u);
  auto t = wire::DecodeTime(std::string_view(f).substr(wire::kHeaderBytes));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, 99);
  EXPECT_FALSE(wire::ParseHeader(std::string("\x09\x00\x00\x00\x00", 5)).ok());
  EXPECT_FALSE(wire::ParseHeader(std::string("\x01\xff\xff\xff\xff", 5)).ok());
  EXPECT_FALSE(wire::ParseHeader("\x01").ok());
}

TEST(MergeTimelines, SumsSeriesPerClassAndBucket) {
  Timeline a{
      milliseconds(100), 4, {{ConnClass::kReplication, {1, 1, 1}}, {ConnClass::kMon, {0, 0, 0}}}};
  Timeline b{milliseconds(100),
             4,
             {{ConnClass::kReplication, {10, 10, 10, 10, 10}}, {ConnClass::kMon, {1, 0, 0, 0, 0}}}};
  auto m = wire::MergeTimelines({a, b});
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->bucket, milliseconds(100));
  EXPECT_EQ(m->mark_bucket, 4);
  ASSERT_EQ(m->series.size(), 2u);
  EXPECT_EQ(m->series[0].first, ConnClass::kReplication);
  EXPECT_EQ(m->series[0].second, (std::vector<uint64_t>{11, 11, 11, 10, 10}));
  EXPECT_EQ(m->series[1].second, (std::vector<uint64_t>{1, 0, 0, 0, 0}));
}

TEST(MergeTimelines, RefusesDifferentBucketSizes) {
  Timeline a{milliseconds(100), -1, {}};
  Timeline b{milliseconds(50), -1, {}};
  EXPECT_FALSE(wire::MergeTimelines({a, b}).ok());
}

}  // namespace
}  // namespace fwgate::workload
