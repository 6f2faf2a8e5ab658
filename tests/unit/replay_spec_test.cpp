// Replay inputs and judgement without a kernel: per-node flags, the workload shape, the
// connection rule, the verdict and the JSON contract.
#include <gtest/gtest.h>

#include <set>

#include "report/replay_report.h"
#include "simulator/replay/replay.h"
#include "simulator/replay/spec.h"
#include "simulator/replay/verdict.h"
#include "simulator/replay/workload_shape.h"
#include "tests/support/json_schema.h"

namespace fwgate::replay {
namespace {

using std::chrono::milliseconds;
using workload::ConnClass;

TEST(KernelSpec, OneVersionAppliesToEveryNode) {
  auto k = ParseKernelSpec("4.15", 3);
  ASSERT_TRUE(k.ok()) << k.error().context;
  ASSERT_TRUE(k->For("node2").has_value());
  EXPECT_EQ(k->For("node2")->minor, 15);
}

TEST(KernelSpec, PerNodeLeavesOthersUnset) {
  auto k = ParseKernelSpec("node1=4.15,node3=4.4.0-210-generic", 3);
  ASSERT_TRUE(k.ok()) << k.error().context;
  EXPECT_EQ(k->For("node1")->minor, 15);
  EXPECT_FALSE(k->For("node2").has_value());
  EXPECT_EQ(k->For("node3")->minor, 4);
}

TEST(KernelSpec, UnknownVersionListsValidForms) {
  auto k = ParseKernelSpec("linux-latest", 3);
  ASSERT_FALSE(k.ok());
  EXPECT_NE(k.error().context.find("valid forms"), std::string::npos);
  EXPECT_NE(k.error().context.find("node1=VERSION"), std::string::npos);
}

TEST(KernelSpec, RejectsNodesOutsideTheLab) {
  EXPECT_FALSE(ParseKernelSpec("node4=4.15", 3).ok());
  EXPECT_FALSE(ParseKernelSpec("node0=4.15", 3).ok());
  EXPECT_FALSE(ParseKernelSpec("osd1=4.15", 3).ok());
  EXPECT_FALSE(ParseKernelSpec("node1=4.15,node1=4.4", 3).ok());
  EXPECT_FALSE(ParseKernelSpec("node1=", 3).ok());
  EXPECT_FALSE(ParseKernelSpec("", 3).ok());
}

TEST(BeLiberalSpec, AcceptsZeroOneAndPerNode) {
  auto all = ParseBeLiberalSpec("1", 3);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->For("node3"), 1);
  auto per = ParseBeLiberalSpec("node2=1", 3);
  ASSERT_TRUE(per.ok());
  EXPECT_EQ(per->For("node2"), 1);
  EXPECT_FALSE(per->For("node1").has_value());
  EXPECT_FALSE(ParseBeLiberalSpec("yes", 3).ok());
  EXPECT_FALSE(ParseBeLiberalSpec("node1=2", 3).ok());
}

TEST(WorkloadShape, CephShapeOnTheRightNetworksAndPorts) {
  WorkloadPlan p = PlanWorkload(3, 2);
  std::map<ConnClass, int> count;
  for (const auto& c : p.conns) {
    ++count[c.cls];
    switch (c.cls) {
      case ConnClass::kReplication:
        EXPECT_TRUE(c.cluster);
        EXPECT_NE(c.from, c.to);
        EXPECT_EQ(c.buffer, 4 << 20);
        EXPECT_EQ(c.forward.kind, workload::Flow::Kind::kBulk);
        break;
      case ConnClass::kClient:
        EXPECT_EQ(c.from, kClientIndex);
        EXPECT_FALSE(c.cluster);
        break;
      case ConnClass::kMon:
        EXPECT_EQ(c.to, 0);
        EXPECT_EQ(c.port, kMonPort);
        break;
      case ConnClass::kHeartbeat:
        EXPECT_EQ(c.forward.kind, workload::Flow::Kind::kPeriodic);
        break;
    }
    if (c.cls != ConnClass::kMon) {
      EXPECT_GE(c.port, 6800);
      EXPECT_LE(c.port, 7300);
    }
  }
  EXPECT_EQ(count[ConnClass::kReplication], 6);
  EXPECT_EQ(count[ConnClass::kClient], 6);
  EXPECT_EQ(count[ConnClass::kHeartbeat], 6);
  EXPECT_EQ(count[ConnClass::kMon], 3);  // node2, node3 and the client
  // Every connection has a listener.
  for (const auto& c : p.conns) {
    bool found = false;
    for (const auto& l : p.listeners) {
      found |= l.node == c.to && l.cluster == c.cluster && l.port == c.port;
    }
    EXPECT_TRUE(found);
  }
}

TEST(WorkloadShape, ReplicationSpreadsOverPeers) {
  WorkloadPlan p = PlanWorkload(4, 3);
  std::set<int> peers;
  for (const auto& c : p.conns) {
    if (c.cls == ConnClass::kReplication && c.from == 0) peers.insert(c.to);
  }
  EXPECT_EQ(peers, (std::set<int>{1, 2, 3}));
}

TEST(WorkloadShape, BeyondTheBulkStreamsConnectionsAreQuietSessions) {
  WorkloadPlan p = PlanWorkload(8, 3000);
  int bulk = 0;
  int sessions = 0;
  for (const auto& c : p.conns) {
    if (c.cls != ConnClass::kReplication || c.from != 0) continue;
    if (c.forward.kind == workload::Flow::Kind::kBulk) {
      ++bulk;
    } else {
      ++sessions;
      EXPECT_EQ(c.forward.kind, workload::Flow::Kind::kPeriodic);
      EXPECT_EQ(c.reverse.kind, workload::Flow::Kind::kPeriodic);
    }
  }
  EXPECT_EQ(bulk, kBulkStreamsPerNode);
  EXPECT_EQ(sessions, 3000 - kBulkStreamsPerNode);
}

TEST(WorkloadShape, SingleNodeHasOnlyClientTraffic) {
  WorkloadPlan p = PlanWorkload(1, 2);
  for (const auto& c : p.conns) EXPECT_EQ(c.from, kClientIndex);
}

workload::ConnResult Conn(const char* from, const char* to, int stall_ms, bool reset = false) {
  workload::ConnResult r;
  r.cls = ConnClass::kReplication;
  r.from_node = from;
  r.to_node = to;
  r.fwd_bytes_before = 1000;
  r.max_stall_after_mark = milliseconds(stall_ms);
  r.reset = reset;
  return r;
}

TEST(JudgeConnection, StallBeyondThresholdOrResetBreaks) {
  EXPECT_FALSE(JudgeConnection(Conn("node1", "node2", 1400), milliseconds(2000)).broken);
  auto s = JudgeConnection(Conn("node1", "node2", 2600), milliseconds(2000));
  EXPECT_TRUE(s.broken);
  EXPECT_EQ(s.reason, "stall");
  auto r = JudgeConnection(Conn("node1", "node2", 0, true), milliseconds(2000));
  EXPECT_TRUE(r.broken);
  EXPECT_EQ(r.reason, "reset");
}

ReplayReport ReportWith(const std::vector<workload::ConnResult>& conns) {
  ReplayReport rep;
  rep.reload = "flush-then-load (gap 1000 ms)";
  for (const char* n : {"node1", "node2"}) {
    NodeReport nr;
    nr.name = n;
    nr.kernel_class = "stale-gap";
    nr.emulation = "stale-gap";
    rep.nodes.push_back(nr);
  }
  for (const auto& c : conns) rep.connections.push_back(JudgeConnection(c, milliseconds(2000)));
  Summarize(rep);
  return rep;
}

TEST(Summarize, AnyBrokenConnectionMeansBroken) {
  auto rep = ReportWith({Conn("node1", "node2", 10), Conn("client", "node1", 3000)});
  EXPECT_EQ(rep.verdict, Verdict::kBroken);
  EXPECT_EQ(rep.max_stall_ms, 3000);
  EXPECT_EQ(rep.nodes[0].conns_total, 2);
  EXPECT_EQ(rep.nodes[0].conns_broken, 1);
  EXPECT_EQ(rep.nodes[1].conns_broken, 0);
}

TEST(Summarize, AllKeptGoingMeansSurvived) {
  EXPECT_EQ(ReportWith({Conn("node1", "node2", 10)}).verdict, Verdict::kSurvived);
}

TEST(Summarize, NoConnectionsOrNoTrafficBeforeTheMarkIsUnknown) {
  EXPECT_EQ(ReportWith({}).verdict, Verdict::kUnknown);
  auto idle = Conn("node1", "node2", 0);
  idle.fwd_bytes_before = 0;
  auto rep = ReportWith({idle, Conn("node2", "node1", 5000)});
  EXPECT_EQ(rep.verdict, Verdict::kUnknown);
  EXPECT_NE(rep.reason.find("no data before the reload"), std::string::npos);
}

TEST(Summarize, CommitsThatCouldNotBeFollowedAreUndecidedNeverAPass) {
  ReplayReport rep;
  NodeReport nr;
  nr.name = "node1";
  nr.commits_followed = false;
  nr.follow_failure = "the kernel dropped nftables events (ENOBUFS)";
  rep.nodes.push_back(nr);
  rep.connections.push_back(JudgeConnection(Conn("node1", "client", 10), milliseconds(2000)));
  Summarize(rep);
  EXPECT_EQ(rep.verdict, Verdict::kUnknown);
  EXPECT_NE(rep.reason.find("could not follow the commits of node1"), std::string::npos);
  EXPECT_NE(rep.reason.find("ENOBUFS"), std::string::npos);
}

TEST(Summarize, AConnectionBeyondItsStaleWindowIsBrokenAndSaysSo) {
  auto rep = ReportWith({Conn("node1", "node2", 10)});
  rep.connections[0].broken = true;
  rep.connections[0].reason = "beyond-stale-window";
  rep.connections[0].kernel_note =
      "broken on 4.15: moved 5000000 bytes beyond the stale window; this lab kernel tolerates it";
  Summarize(rep);
  EXPECT_EQ(rep.verdict, Verdict::kBroken);
  EXPECT_NE(rep.reason.find("1 moved beyond their stale window"), std::string::npos) << rep.reason;
  auto j = report::ReplayToJson(rep);
  EXPECT_EQ(j["broken_connections"][0]["reason"], "beyond-stale-window");
  EXPECT_NE(j["broken_connections"][0]["kernel_note"].get<std::string>().find("broken on 4.15"),
            std::string::npos);
  EXPECT_NE(report::ReplayToText(rep).find("broken on 4.15: moved 5000000 bytes"),
            std::string::npos);
}

TEST(ReplayJson, CarriesTheCommitsAndTheGapsWithoutConntrackUsers) {
  auto rep = ReportWith({Conn("node1", "node2", 10)});
  rep.nodes[0].commits.push_back({7, 12, "nft", "-1 table, -3 chains", {{"ipv4", 0}, {"ipv6", 0}}});
  rep.nodes[0].commits.push_back({8, 1015, "nft", "+1 table", {{"ipv4", 2}, {"ipv6", 2}}});
  rep.nodes[0].no_ct_user.push_back({"ipv4", 12, 1015});
  rep.nodes[0].no_ct_user.push_back({"ipv6", 12, -1});
  rep.nodes[0].tables_after = {"inet storage"};
  auto j = report::ReplayToJson(rep);
  const auto& n = j["nodes"][0];
  EXPECT_EQ(n["commits_followed"], true);
  ASSERT_EQ(n["commits"].size(), 2u);
  EXPECT_EQ(n["commits"][1]["generation"], 8);
  EXPECT_EQ(n["commits"][0]["ct_users"]["ipv4"], 0);
  EXPECT_EQ(n["no_ct_user"][0]["to_ms"], 1015);
  EXPECT_TRUE(n["no_ct_user"][1]["to_ms"].is_null());
  EXPECT_EQ(n["tables_after"][0], "inet storage");
  EXPECT_EQ(fwgate::testing::JsonSchemaErrors(j.dump(), "replay.schema.json"), "");
  std::string t = report::ReplayToText(rep);
  EXPECT_NE(t.find("node1 commit 7 at +12 ms by nft: -1 table, -3 chains; ct users ipv4 0, ipv6 0"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("node1 ipv4: no conntrack user from +12 ms to +1015 ms (1003 ms)"),
            std::string::npos)
      << t;
}

TEST(ReplayJson, CarriesEachNodesMeasuredReloadTimes) {
  auto rep = ReportWith({Conn("node1", "node2", 10)});
  rep.nodes[0].reload_timing.push_back({"load proposed", 3, 151, 155});
  rep.nodes[0].reload_timing.push_back({"reload command", 160, std::nullopt, 400});
  rep.nodes[0].reload_start_ms = 3;
  rep.nodes[0].reload_end_ms = 400;
  auto j = report::ReplayToJson(rep);
  const auto& n = j["nodes"][0];
  EXPECT_EQ(n["reload_start_ms"], 3);
  EXPECT_EQ(n["reload_end_ms"], 400);
  ASSERT_EQ(n["reload_step_times"].size(), 2u);
  EXPECT_EQ(n["reload_step_times"][0]["label"], "load proposed");
  EXPECT_EQ(n["reload_step_times"][0]["start_ms"], 3);
  EXPECT_EQ(n["reload_step_times"][0]["commit_ms"], 151);
  EXPECT_EQ(n["reload_step_times"][0]["end_ms"], 155);
  EXPECT_TRUE(n["reload_step_times"][1]["commit_ms"].is_null());
  // A node without steps says so with null, not a made-up 0.
  EXPECT_TRUE(j["nodes"][1]["reload_start_ms"].is_null());
  EXPECT_EQ(fwgate::testing::JsonSchemaErrors(j.dump(), "replay.schema.json"), "");
  std::string t = report::ReplayToText(rep);
  EXPECT_NE(
      t.find("node1 reload: load proposed started +3 ms, committed +151 ms, returned +155 ms"),
      std::string::npos)
      << t;
  EXPECT_NE(t.find("node1 reload: reload command started +160 ms, returned +400 ms"),
            std::string::npos)
      << t;
}

TEST(ReplayJson, CarriesTheContractKeys) {
  auto rep = ReportWith({Conn("node1", "node2", 3000), Conn("node2", "node1", 10)});
  rep.timeline.bucket = milliseconds(100);
  rep.timeline.series.push_back({ConnClass::kReplication, {1, 2, 3}});
  auto j = report::ReplayToJson(rep);
  EXPECT_EQ(j["verdict"], "broken");
  EXPECT_EQ(j["reload"], "flush-then-load (gap 1000 ms)");
  ASSERT_EQ(j["nodes"].size(), 2u);
  const auto& n = j["nodes"][0];
  for (const char* key : {"name", "kernel_class", "emulation", "emulation_reason", "be_liberal",
                          "conntrack", "connections"}) {
    EXPECT_TRUE(n.contains(key)) << key;
  }
  for (const char* key : {"invalid", "drop", "early_drop", "insert_failed", "count"}) {
    EXPECT_TRUE(n["conntrack"].contains(key)) << key;
  }
  EXPECT_EQ(n["connections"]["total"], 2);
  EXPECT_EQ(n["connections"]["broken"], 1);
  EXPECT_EQ(j["connections"]["total"], 2);
  EXPECT_EQ(j["connections"]["survived"], 1);
  EXPECT_EQ(j["connections"]["broken"], 1);
  EXPECT_EQ(j["max_stall_ms"], 3000);
  ASSERT_EQ(j["broken_connections"].size(), 1u);
  EXPECT_EQ(j["broken_connections"][0]["from"], "node1");
  EXPECT_EQ(j["broken_connections"][0]["to"], "node2");
  EXPECT_EQ(j["broken_connections"][0]["class"], "replication");
  EXPECT_EQ(j["broken_connections"][0]["reason"], "stall");
  EXPECT_EQ(j["timeline"]["bucket_ms"], 100);
  EXPECT_EQ(j["timeline"]["series"][0]["class"], "replication");
}

TEST(ReplayJson, CarriesItsSchemaVersionAndMatchesTheSchema) {
  auto rep = ReportWith({Conn("node1", "node2", 3000), Conn("node2", "node1", 10)});
  rep.timeline.bucket = milliseconds(100);
  rep.timeline.series.push_back({ConnClass::kReplication, {1, 2, 3}});
  auto j = report::ReplayToJson(rep);
  EXPECT_EQ(j["schema_version"], 1);
  EXPECT_EQ(fwgate::testing::JsonSchemaErrors(j.dump(), "replay.schema.json"), "");
}

TEST(ReplayText, EndsWithTheVerdictInOneLine) {
  auto rep = ReportWith({Conn("node1", "node2", 3000)});
  std::string t = report::ReplayToText(rep);
  EXPECT_NE(t.find("\nverdict: BROKEN: 1 of 1 connections broke"), std::string::npos) << t;
  EXPECT_NE(t.find("node1 -> node2 replication (stalled 3000 ms)"), std::string::npos) << t;
}

TEST(AfterMarkTime, LongEnoughToSeeAStallAfterTheLastReloadStep) {
  ReplayOptions o;
  o.duration = milliseconds(3000);
  o.warmup = milliseconds(1000);
  o.procedure.style = reload::Style::kFlushThenLoad;
  o.procedure.gap = milliseconds(1000);
  o.rolling = milliseconds(500);
  // gap 1000 + rolling 2 x 500 + threshold 2000 + 1000 margin
  EXPECT_EQ(AfterMarkTime(o, 3), milliseconds(5000));
  o.duration = milliseconds(20000);
  EXPECT_EQ(AfterMarkTime(o, 3), milliseconds(19000));
}

}  // namespace
}  // namespace fwgate::replay
