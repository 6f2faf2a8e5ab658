// Probe renderings: the JSON contract and its round trip (--from), Prometheus exposition with
// escaped labels, the operator table; and the fleet runner's ordering and concurrency limit
// over a fake transport.
#include "report/probe_report.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
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
  auto back = fwgate::probe::NodeFactsFromJson(j["nodes"][0]);
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_EQ(back->kernel, "4.15.0-112-generic");
  EXPECT_EQ(back->sysctls, Sample("n1").sysctls);
  EXPECT_EQ(back->conntrack_module, fwgate::probe::ModuleState::kLoadable);
  EXPECT_EQ(back->ruleset_text, "table inet t {\n}\n");
  auto again = fwgate::report::Judge({*back});
  EXPECT_EQ(fwgate::report::ProbeJson(again)["nodes"][0]["findings"], j["nodes"][0]["findings"]);
}

TEST(ProbeJson, RejectsWrongTypes) {
  EXPECT_FALSE(fwgate::probe::NodeFactsFromJson(json::array()).ok());
  EXPECT_FALSE(fwgate::probe::NodeFactsFromJson({{"name", "x"}}).ok());
  EXPECT_FALSE(fwgate::probe::NodeFactsFromJson({{"name", 5}, {"reachable", true}}).ok());
  EXPECT_FALSE(fwgate::probe::NodeFactsFromJson(
                   {{"name", "x"}, {"reachable", true}, {"sysctls", {{"nf_conntrack_max", "big"}}}})
                   .ok());
  EXPECT_FALSE(fwgate::probe::NodeFactsFromJson(
                   {{"name", "x"}, {"reachable", true}, {"stats", {{"drop", -1}}}})
                   .ok());
}

TEST(ProbePrometheus, UsesItsOwnNamesAndEscapesLabels) {
  NodeFacts n = Sample("we\"ird\\node\nx\x1b[31m");
  auto r = fwgate::report::Judge({n});
  std::string p = fwgate::report::ProbePrometheus(r);
  EXPECT_NE(p.find("# TYPE fwgate_nf_conntrack_entries gauge"), std::string::npos);
  EXPECT_NE(p.find("fwgate_nf_conntrack_entries{node=\"we\\\"ird\\\\node\\nx\\\\x1b[31m\"} 100"),
            std::string::npos)
      << p;
  EXPECT_EQ(p.find('\x1b'), std::string::npos);
  EXPECT_NE(p.find("fwgate_nf_conntrack_entries_limit{node="), std::string::npos);
  EXPECT_NE(p.find("fwgate_nf_conntrack_stat_invalid{node="), std::string::npos);
  EXPECT_NE(p.find("fwgate_nf_conntrack_tcp_be_liberal{"), std::string::npos);
  EXPECT_NE(p.find("fwgate_nf_conntrack_tcp_loose{"), std::string::npos);
  EXPECT_NE(p.find("fwgate_nf_conntrack_buckets{"), std::string::npos);
  EXPECT_NE(p.find("class=\"stale-gap\"} 1"), std::string::npos);
  EXPECT_NE(p.find("fwgate_restart_storm_entries{"), std::string::npos);
  EXPECT_NE(
      p.find("fwgate_finding{node=\"we\\\"ird\\\\node\\nx\\\\x1b[31m\",id=\"stale-gap-strict\","
             "severity=\"blocking\",undecided=\"false\"} 1"),
      std::string::npos)
      << p;
  // Nothing under node_exporter's names: its textfile collector would clash with its own.
  for (size_t pos = 0; (pos = p.find('\n', pos)) != std::string::npos; ++pos) {
    std::string_view rest = std::string_view(p).substr(pos + 1);
    if (rest.empty()) break;
    EXPECT_TRUE(rest.rfind("fwgate_", 0) == 0 || rest.rfind("# HELP fwgate_", 0) == 0 ||
                rest.rfind("# TYPE fwgate_", 0) == 0)
        << rest.substr(0, 80);
  }
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
  // Unreachable is undecided, never labelled blocking.
  EXPECT_NE(t.find("dead: [undecided] probe-failed"), std::string::npos) << t;
  EXPECT_EQ(t.find("[blocking] probe-failed"), std::string::npos) << t;
  EXPECT_NE(t.find("      run: sysctl -w net.netfilter.nf_conntrack_tcp_be_liberal=1"),
            std::string::npos)
      << t;
}

namespace {
size_t LongestLine(const std::string& t) {
  size_t longest = 0, pos = 0;
  while (pos < t.size()) {
    size_t nl = t.find('\n', pos);
    std::string_view line = std::string_view(t).substr(pos, nl - pos);
    size_t cols = 0;
    for (unsigned char c : line) cols += (c & 0xC0) != 0x80;
    longest = std::max(longest, cols);
    pos = nl == std::string::npos ? t.size() : nl + 1;
  }
  return longest;
}
}  // namespace

TEST(ProbeTable, FitsHundredColumnsPrintsSharedFindingsOnceAndEscapesNames) {
  std::vector<NodeFacts> nodes;
  for (int i = 0; i < 3; ++i) {
    NodeFacts n = Sample("storage-node-" + std::to_string(i));
    n.sysctls["nf_conntrack_log_invalid"] = 0;
    nodes.push_back(n);
  }
  nodes[1].name = std::string("evil\x1b]0;title\x07") + std::string(300, 'x');
  nodes[2].kernel = std::string(400, '9');
  auto r = fwgate::report::Judge(nodes);
  std::string t = fwgate::report::ProbeTable(r);
  EXPECT_LE(LongestLine(t), 100u) << t;
  EXPECT_EQ(t.find('\x1b'), std::string::npos);
  EXPECT_EQ(t.find('\x07'), std::string::npos);
  EXPECT_NE(t.find("evil\\x1b]0;title\\x07"), std::string::npos) << t;
  // log-invalid-off is the same on every node: printed once, under the shared heading.
  size_t count = 0;
  for (size_t pos = 0; (pos = t.find("log-invalid-off", pos)) != std::string::npos; ++pos) ++count;
  EXPECT_EQ(count, 1u) << t;
  EXPECT_NE(t.find("On every reachable node (3):"), std::string::npos) << t;
}

TEST(ProbeJson, EveryStringIsValidUtf8AndTheDocumentHasASchemaVersion) {
  NodeFacts n = Sample(
      "n\xff"
      "1");
  n.ruleset_text = "table inet t { # caf\xe9 (Latin-1)\n}\n";
  n.error = "ssh: \xff\xfe stderr";
  n.backends.notes.push_back("note \xc3");
  auto r = fwgate::report::Judge({n});
  json j = fwgate::report::ProbeJson(r);
  EXPECT_EQ(j["schema_version"], 1);
  std::string dumped;
  EXPECT_NO_THROW(dumped = j.dump(2));  // type_error.316 before: the whole output lost
  EXPECT_NE(dumped.find("caf\xef\xbf\xbd"), std::string::npos);
  EXPECT_EQ(j["nodes"][0]["state"], "ok");
  EXPECT_EQ(j["nodes"][0]["readable"], true);
  const json& storm = j["nodes"][0]["restart_storm"];
  for (const char* k : {"recommended_max", "recommended_hashsize", "stagger_s", "target"})
    EXPECT_TRUE(storm.contains(k)) << k;
}

TEST(ProbeJson, AWrongTypeMakesOneNodeUnreadableNeverAnException) {
  auto r = fwgate::report::Judge({Sample("n1")});
  json good = fwgate::report::ProbeJson(r)["nodes"][0];
  std::vector<std::pair<std::string, json>> edits = {
      {"/readable", "yes"},
      {"/backends/nftables/readable", "yes"},
      {"/backends/nftables/tables", json::array({1})},
      {"/backends", "x"},
      {"/services", json::array({"x"})},
      {"/services/0", {{"name", 5}}},
      {"/enable_hooks", "no"},
      {"/conntrack/count", "many"},
      {"/stats", json::array()},
      {"/backends/iptables_legacy/ct_users/ipv4", json::array({1})},
  };
  for (const auto& [ptr, value] : edits) {
    json bad = good;
    bad["services"] = json::array({{{"name", "nftables"}}});
    bad[json::json_pointer(ptr)] = value;
    fwgate::Result<NodeFacts> n = fwgate::Error::Internal("not run");
    EXPECT_NO_THROW(n = fwgate::probe::NodeFactsFromJson(bad)) << ptr;
    EXPECT_FALSE(n.ok()) << ptr;
  }
}

TEST(ProbeFromDir, EveryEntryThatCannotBeReadIsAnUnreadableNodeAndNothingBlocks) {
  namespace fs = std::filesystem;
  fs::path d = fs::temp_directory_path() / ("fwgate-from-" + std::to_string(getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  auto r = fwgate::report::Judge({Sample("good")});
  std::ofstream(d / "good.json") << fwgate::report::ProbeJson(r).dump();
  fs::create_symlink(d / "missing-target", d / "dangling.json");
  ASSERT_EQ(mkfifo((d / "pipe.json").c_str(), 0600), 0);
  fs::create_directory(d / "dir.json");
  std::ofstream(d / "wrongtype.json") << R"({"name": "w", "reachable": true, "readable": "yes"})";
  std::ofstream(d / "notes.txt") << "ignored: not *.json";
  auto start = std::chrono::steady_clock::now();
  auto loaded = fwgate::probe::LoadProbeDir(d.string());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  ASSERT_TRUE(loaded.ok()) << loaded.error().ToString();
  std::map<std::string, NodeFacts> by;
  for (const auto& n : *loaded) by[n.name] = n;
  ASSERT_EQ(by.size(), 5u);
  EXPECT_TRUE(by["good"].reachable);
  for (const char* bad : {"dangling", "pipe", "dir", "wrongtype"}) {
    EXPECT_FALSE(by[bad].reachable) << bad;
    EXPECT_FALSE(by[bad].readable) << bad;
    EXPECT_FALSE(by[bad].error.empty()) << bad;
  }
  EXPECT_NE(by["dangling"].error.find("broken symbolic link"), std::string::npos);
  EXPECT_NE(by["pipe"].error.find("FIFO"), std::string::npos);
  EXPECT_NE(by["dir"].error.find("directory"), std::string::npos);
  EXPECT_NE(by["wrongtype"].error.find("readable"), std::string::npos);
  auto judged = fwgate::report::Judge(*loaded);
  EXPECT_EQ(fwgate::hazards::ProbeOutcome(judged.node_findings, judged.fleet_findings),
            fwgate::Outcome::kFail);  // "good" (4.15, be_liberal 0) blocks; else undecided
  std::vector<NodeFacts> only_bad;
  for (const auto& n : *loaded)
    if (!n.reachable) only_bad.push_back(n);
  auto ub = fwgate::report::Judge(only_bad);
  EXPECT_EQ(fwgate::hazards::ProbeOutcome(ub.node_findings, ub.fleet_findings),
            fwgate::Outcome::kUndecided);
  EXPECT_EQ(fwgate::report::ProbeJson(ub)["nodes"][0]["state"], "unreadable");
  fs::remove_all(d);
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
