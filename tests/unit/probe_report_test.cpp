// Probe renderings: the JSON contract and its round trip (--from), Prometheus exposition with
// escaped labels, the operator table; and the fleet runner's ordering and concurrency limit
// over a fake transport.
#include "report/probe_report.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "gate/probe/probe_script.h"
#include "gate/probe/prober.h"

using fwgate::probe::NodeFacts;
using nlohmann::json;

namespace {

NodeFacts Sample(const std::string& name) {
  NodeFacts n;
  n.name = name;
  n.reachable = true;
  n.transport = "ssh";
  n.kernel = "4.15.0-112-generic";
  n.sysctls = {{"nf_conntrack_tcp_be_liberal", 0},
               {"nf_conntrack_tcp_loose", 1},
               {"nf_conntrack_max", 65536},
               {"nf_conntrack_count", 100},
               {"nf_conntrack_buckets", 16384}};
  n.sysctls_readable = true;
  fwgate::sys::ConntrackStats s;
  s.counters = {{"invalid", 3}, {"drop", 0}};
  n.stats = s;
  n.conntrack_module = fwgate::probe::ModuleState::kLoadable;
  n.ruleset_text = "table inet t {\n}\n";
  return n;
}

}  // namespace

TEST(ProbeJson, HasTheContractKeysWithNumericSysctls) {
  auto r = fwgate::report::Judge({Sample("n1")});
  json j = fwgate::report::ProbeJson(r);
  const json& n = j["nodes"][0];
  for (const char* k :
       {"name", "reachable", "error", "kernel", "kernel_class", "sysctls", "conntrack", "stats",
        "findings", "ruleset_text", "conntrack_module", "backends", "services"})
    EXPECT_TRUE(n.contains(k)) << k;
  EXPECT_EQ(n["sysctls"]["nf_conntrack_tcp_be_liberal"], 0);
  EXPECT_TRUE(n["sysctls"]["nf_conntrack_tcp_be_liberal"].is_number_integer());
  EXPECT_EQ(n["conntrack"]["count"], 100);
  EXPECT_EQ(n["conntrack"]["max"], 65536);
  EXPECT_EQ(n["conntrack"]["buckets"], 16384);
  EXPECT_EQ(n["kernel_class"], "stale-gap");
  EXPECT_EQ(n["stats"]["invalid"], 3);
  ASSERT_FALSE(n["findings"].empty());
  for (const char* k : {"id", "severity", "message", "source"})
    EXPECT_TRUE(n["findings"][0].contains(k));
  EXPECT_EQ(n["findings"][0]["severity"], "blocking");
  EXPECT_TRUE(j["fleet_findings"].is_array());
}

TEST(ProbeJson, RoundTripsThroughNodeFactsFromJson) {
  auto r = fwgate::report::Judge({Sample("n1")});
  json j = fwgate::report::ProbeJson(r);
  auto back = fwgate::report::NodeFactsFromJson(j["nodes"][0]);
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_EQ(back->kernel, "4.15.0-112-generic");
  EXPECT_EQ(back->sysctls, Sample("n1").sysctls);
  EXPECT_EQ(back->conntrack_module, fwgate::probe::ModuleState::kLoadable);
  EXPECT_EQ(back->ruleset_text, "table inet t {\n}\n");
  auto again = fwgate::report::Judge({*back});
  EXPECT_EQ(fwgate::report::ProbeJson(again)["nodes"][0]["findings"], j["nodes"][0]["findings"]);
}

TEST(ProbeJson, RejectsWrongTypes) {
  EXPECT_FALSE(fwgate::report::NodeFactsFromJson(json::array()).ok());
  EXPECT_FALSE(fwgate::report::NodeFactsFromJson({{"name", "x"}}).ok());
  EXPECT_FALSE(fwgate::report::NodeFactsFromJson({{"name", 5}, {"reachable", true}}).ok());
  EXPECT_FALSE(fwgate::report::NodeFactsFromJson(
                   {{"name", "x"}, {"reachable", true}, {"sysctls", {{"nf_conntrack_max", "big"}}}})
                   .ok());
  EXPECT_FALSE(fwgate::report::NodeFactsFromJson(
                   {{"name", "x"}, {"reachable", true}, {"stats", {{"drop", -1}}}})
                   .ok());
}

TEST(ProbePrometheus, UsesNodeExporterNamesAndEscapesLabels) {
  NodeFacts n = Sample("we\"ird\\node\nx");
  auto r = fwgate::report::Judge({n});
  std::string p = fwgate::report::ProbePrometheus(r);
  EXPECT_NE(p.find("# HELP node_nf_conntrack_entries "), std::string::npos);
  EXPECT_NE(p.find("# TYPE node_nf_conntrack_entries gauge"), std::string::npos);
  EXPECT_NE(p.find("node_nf_conntrack_entries{node=\"we\\\"ird\\\\node\\nx\"} 100"),
            std::string::npos)
      << p;
  EXPECT_NE(p.find("node_nf_conntrack_entries_limit{node="), std::string::npos);
  EXPECT_NE(p.find("node_nf_conntrack_stat_invalid{node="), std::string::npos);
  EXPECT_NE(p.find("fwgate_nf_conntrack_tcp_be_liberal{"), std::string::npos);
  EXPECT_NE(p.find("fwgate_nf_conntrack_tcp_loose{"), std::string::npos);
  EXPECT_NE(p.find("fwgate_nf_conntrack_buckets{"), std::string::npos);
  EXPECT_NE(p.find("class=\"stale-gap\"} 1"), std::string::npos);
  // Every sample line belongs to a family announced by HELP and TYPE just before.
  size_t types = 0, helps = 0;
  for (size_t pos = 0; (pos = p.find("# TYPE ", pos)) != std::string::npos; ++pos) ++types;
  for (size_t pos = 0; (pos = p.find("# HELP ", pos)) != std::string::npos; ++pos) ++helps;
  EXPECT_EQ(types, helps);
  EXPECT_EQ(p.find("\n\n"), std::string::npos);
}

TEST(ProbeTable, OneRowPerNodeWithWorstFinding) {
  NodeFacts dead;
  dead.name = "dead";
  dead.error = "Connection refused";
  auto r = fwgate::report::Judge({Sample("n1"), dead});
  std::string t = fwgate::report::ProbeTable(r);
  EXPECT_NE(t.find("NODE"), std::string::npos);
  EXPECT_NE(t.find("blocking stale-gap-strict"), std::string::npos) << t;
  EXPECT_NE(t.find("100/65536"), std::string::npos);
  EXPECT_NE(t.find("UNREACHABLE"), std::string::npos);
}

namespace {
// Answers with a canned probe output (the script's nonce is read back from the script) and
// records how many runs overlap.
class FakeTransport : public fwgate::probe::Transport {
 public:
  std::atomic<int> running{0}, peak{0};
  fwgate::Result<fwgate::probe::RunOutput> Run(const fwgate::probe::Target& t,
                                               std::string_view script, std::chrono::milliseconds,
                                               size_t) override {
    int now = ++running;
    int p = peak.load();
    while (now > p && !peak.compare_exchange_weak(p, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    --running;
    if (t.host == "refuse") return fwgate::Error::BadInput("connection refused");
    std::string nonce(script.substr(2, script.find('\n') - 2));
    fwgate::probe::RunOutput out;
    out.exit_code = 0;
    auto m = [&](const std::string& s) { return "\n==fwgate:" + nonce + ":section " + s + "==\n"; };
    out.out = m("version") + "1" + m("uname") + "5.10.0-21-amd64" + m("sysctls") +
              "nf_conntrack_max=1000\nnf_conntrack_tcp_be_liberal=0\n" + m("end");
    if (t.host == "truncated") out.out.resize(out.out.size() / 2);
    return out;
  }
};
}  // namespace

TEST(ProbeFleet, KeepsOrderHonoursConcurrencyAndReportsFailuresPerNode) {
  FakeTransport fake;
  std::vector<fwgate::probe::Target> targets;
  for (int i = 0; i < 20; ++i) targets.push_back({"n" + std::to_string(i), "ok"});
  targets[3].host = "refuse";
  targets[7].host = "truncated";
  fwgate::probe::ProbeOptions opt;
  opt.concurrency = 4;
  auto nodes = fwgate::probe::ProbeFleet(fake, targets, opt);
  ASSERT_EQ(nodes.size(), 20u);
  EXPECT_LE(fake.peak.load(), 4);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(nodes[i].name, "n" + std::to_string(i));
    EXPECT_EQ(nodes[i].reachable, i != 3 && i != 7) << i;
  }
  EXPECT_NE(nodes[7].error.find("truncated"), std::string::npos) << nodes[7].error;
  EXPECT_EQ(nodes[0].kernel, "5.10.0-21-amd64");
}
