// `fwgate probe` outputs as other tools consume them: probe JSON validated against
// docs/schemas/probe.schema.json with Debian's python3-jsonschema (a real --local probe inside a
// namespace the test creates, --from fixtures, --parse-output); Prometheus text scraped by a real
// node_exporter (Debian prometheus-node-exporter, textfile collector, loopback only) beside its
// own conntrack series; --from failing closed; hostile bytes; memory per node.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gate/probe/transport.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct CmdRun {
  int rc = -1;
  std::string out, err;
};

CmdRun RunCmd(const std::string& program, const std::vector<std::string>& args,
              const std::string& input = "", int timeout_s = 120) {
  auto r =
      fwgate::probe::RunProcess(program, args, input, std::chrono::seconds(timeout_s), 256u << 20);
  if (!r) return {};
  return {r->exit_code, r->out, r->err};
}

CmdRun Fwgate(const std::vector<std::string>& args) { return RunCmd(FWGATE_BINARY, args); }

fs::path TempDir(const std::string& tag) {
  fs::path p = fs::temp_directory_path() / ("fwgate-fleet-" + tag + "-" + std::to_string(getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

void WriteFile(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
}

std::string Fixture() { return std::string(FWGATE_SOURCE_DIR) + "/tests/data/probe/node-4.15.txt"; }
constexpr const char* kFixtureNonce = "fixture0nonce01";

// Validates `doc` against the probe schema with python3-jsonschema; "" when valid, else the
// validator's messages.
std::string SchemaErrors(const std::string& doc, const fs::path& dir) {
  WriteFile(dir / "doc.json", doc);
  static const char* kCheck =
      "import json, sys, jsonschema\n"
      "schema = json.load(open(sys.argv[1]))\n"
      "cls = jsonschema.validators.validator_for(schema)\n"
      "cls.check_schema(schema)\n"
      "errors = [e.json_path + ': ' + e.message for e in "
      "cls(schema).iter_errors(json.load(open(sys.argv[2])))]\n"
      "print('\\n'.join(errors[:20]))\n"
      "sys.exit(1 if errors else 0)\n";
  CmdRun r =
      RunCmd("/usr/bin/python3",
             {"-c", kCheck, std::string(FWGATE_SOURCE_DIR) + "/docs/schemas/probe.schema.json",
              (dir / "doc.json").string()});
  if (r.rc == 0) return "";
  return "rc " + std::to_string(r.rc) + ": " + r.out + r.err;
}

bool HaveJsonschema() { return RunCmd("/usr/bin/python3", {"-c", "import jsonschema"}).rc == 0; }

}  // namespace

TEST(ProbeSchema, RealProbeOutputsValidateAgainstTheSchema) {
  if (!HaveJsonschema()) GTEST_SKIP() << "python3-jsonschema not installed (scripts/setup.sh)";
  fs::path d = TempDir("schema");
  std::vector<std::pair<std::string, std::string>> docs;
  // A real --local probe, inside a network namespace made for it.
  CmdRun local = RunCmd("/usr/bin/unshare", {"-n", FWGATE_BINARY, "probe", "--local", "--json",
                                             "--name", "netns-here"});
  if (local.out.empty()) GTEST_SKIP() << "cannot create a network namespace: " << local.err;
  docs.emplace_back("--local", local.out);
  CmdRun parsed = Fwgate({"probe", "--parse-output", Fixture(), "--nonce", kFixtureNonce, "--name",
                          "storage-07", "--json"});
  ASSERT_FALSE(parsed.out.empty()) << parsed.err;
  docs.emplace_back("--parse-output", parsed.out);
  fs::create_directories(d / "from");
  WriteFile(d / "from" / "here.json", local.out);
  WriteFile(d / "from" / "storage-07.json", parsed.out);
  WriteFile(d / "from" / "broken.json", "{\"nodes\": [");
  fs::create_directory(d / "from" / "dir.json");
  CmdRun from = Fwgate({"probe", "--from", (d / "from").string(), "--json"});
  ASSERT_FALSE(from.out.empty()) << from.err;
  docs.emplace_back("--from", from.out);
  for (const auto& [what, doc] : docs) {
    EXPECT_EQ(SchemaErrors(doc, d), "") << what << "\n" << doc.substr(0, 2000);
    json j = json::parse(doc);
    EXPECT_EQ(j["schema_version"], 1) << what;
  }
  // The schema is not a rubber stamp: a wrong type fails it.
  json bad = json::parse(parsed.out);
  bad["nodes"][0]["reachable"] = "yes";
  EXPECT_NE(SchemaErrors(bad.dump(), d), "");
  bad = json::parse(parsed.out);
  bad["nodes"][0]["findings"][0]["severity"] = "fatal";
  EXPECT_NE(SchemaErrors(bad.dump(), d), "");
  fs::remove_all(d);
}

TEST(ProbeFromCli, UnreadableEntriesAreNodesAndTheRunExitsThree) {
  fs::path d = TempDir("from");
  fs::create_symlink(d / "nowhere", d / "dangling.json");
  ASSERT_EQ(mkfifo((d / "fifo.json").c_str(), 0600), 0);  // must not block the run
  fs::create_directory(d / "x.json");
  WriteFile(d / "wrong.json", R"({"name": "w", "reachable": true, "readable": "yes"})");
  auto t0 = std::chrono::steady_clock::now();
  CmdRun r = Fwgate({"probe", "--from", d.string(), "--json"});
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(30));
  EXPECT_EQ(r.rc, 3) << r.err;
  json j = json::parse(r.out);
  std::set<std::string> names;
  for (const json& n : j["nodes"]) {
    names.insert(n["name"].get<std::string>());
    EXPECT_FALSE(n["reachable"].get<bool>());
    EXPECT_EQ(n["state"], "unreadable");
    EXPECT_FALSE(n["error"].get<std::string>().empty());
    EXPECT_EQ(n["findings"][0]["id"], "probe-failed");
    EXPECT_NE(n["findings"][0]["severity"], "blocking");
  }
  EXPECT_EQ(names, (std::set<std::string>{"dangling", "fifo", "x", "wrong"}));
  CmdRun text = Fwgate({"probe", "--from", d.string()});
  EXPECT_EQ(text.rc, 3);
  EXPECT_NE(text.out.find("UNREADABLE"), std::string::npos) << text.out;
  fs::remove_all(d);
}

TEST(ProbeFromCli, BytesFromOutsideNeverBreakJsonTerminalOrPrometheus) {
  fs::path d = TempDir("bytes");
  std::ifstream in(Fixture(), std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string out = ss.str();
  // A Latin-1 ruleset comment and an escape sequence in the kernel release.
  size_t at = out.find("table ");
  ASSERT_NE(at, std::string::npos);
  out.insert(at, "# caf\xe9 \xff\n");
  size_t k = out.find("4.15.0-112-generic");
  out.replace(k, 18, "4.15.0-112-\x1b[2J\xff");
  WriteFile(d / "raw.out", out);
  std::vector<std::string> base = {"probe",     "--parse-output", (d / "raw.out").string(),
                                   "--nonce",   kFixtureNonce,    "--name",
                                   "n\x1b[31m1"};
  auto with = [&](const char* flag) {
    auto a = base;
    if (*flag) a.push_back(flag);
    return Fwgate(a);
  };
  CmdRun j = with("--json");
  ASSERT_FALSE(j.out.empty()) << j.err;
  EXPECT_EQ(j.err.find("internal error"), std::string::npos) << j.err;
  json doc = json::parse(j.out);  // throws on invalid UTF-8
  EXPECT_NE(doc["nodes"][0]["ruleset_text"].get<std::string>().find("caf\xef\xbf\xbd"),
            std::string::npos);
  CmdRun t = with("");
  EXPECT_EQ(t.out.find('\x1b'), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("n\\x1b[31m1"), std::string::npos) << t.out;
  CmdRun p = with("--prometheus");
  EXPECT_EQ(p.out.find('\x1b'), std::string::npos);
  EXPECT_EQ(p.out.find('\xff'), std::string::npos);
  fs::remove_all(d);
}

TEST(ProbeMemory, ANodeOf31MiBCostsASmallMultipleOfItsOutput) {
  fs::path d = TempDir("mem");
  const std::string n = "memtest0nonce01";
  auto m = [&](const std::string& s) { return "\n==fwgate:" + n + ":section " + s + "==\n"; };
  std::string out = m("version") + "1" + m("uname") + "5.10.0" + m("sysctls") +
                    "nf_conntrack_max=65536\nnf_conntrack_count=10\n" + m("nft");
  const size_t target = 31u << 20;
  for (size_t i = 0; out.size() < target; ++i)
    out += "table inet t" + std::to_string(i) +
           " {\n chain c {\n  type filter hook input priority 0;\n  ct state established "
           "accept comment \"x\"\n }\n}\n";
  out += m("nft.rc") + "0" + m("end");
  WriteFile(d / "big.out", out);
  for (const char* mode : {"--json", "--prometheus", ""}) {
    std::vector<std::string> args = {
        FWGATE_BINARY, "probe", "--parse-output", (d / "big.out").string(),
        "--name",      "big",   "--nonce",        n};
    if (*mode) args.push_back(mode);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    pid_t pid = -1;
    ASSERT_EQ(posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    int status = 0;
    rusage ru{};
    ASSERT_EQ(wait4(pid, &status, 0, &ru), pid);
    ASSERT_TRUE(WIFEXITED(status));
    double rss_mib = static_cast<double>(ru.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB
    // 2.4 GB before in JSON mode; the output is read, kept once as text, and written once.
    EXPECT_LT(rss_mib, 8.0 * 31) << mode << ": " << rss_mib << " MiB";
  }
  fs::remove_all(d);
}

// --- node_exporter ---------------------------------------------------------------------------

namespace {

int FreePort() {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  close(s);
  return ntohs(a.sin_port);
}

// GET http://127.0.0.1:PORT/metrics; empty when nothing answers. Loopback only.
std::string Scrape(int port) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{10, 0};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    close(s);
    return "";
  }
  std::string req = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (write(s, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    close(s);
    return "";
  }
  std::string resp;
  char buf[65536];
  for (ssize_t got; (got = read(s, buf, sizeof(buf))) > 0;) resp.append(buf, got);
  close(s);
  size_t body = resp.find("\r\n\r\n");
  if (resp.rfind("HTTP/1.", 0) != 0 || body == std::string::npos) return "";
  return resp.substr(body + 4);
}

// Metric family names (sample lines only) that start with `prefix`.
std::set<std::string> Families(const std::string& text, const std::string& prefix) {
  std::set<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) != 0) continue;
    out.insert(line.substr(0, line.find_first_of("{ ")));
  }
  return out;
}

std::string ValueOf(const std::string& text, const std::string& series) {
  size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return "";
  size_t b = at + series.size() + 2;
  return text.substr(b, text.find('\n', b) - b);
}

// node_exporter on 127.0.0.1:PORT with its textfile collector on `dir`; stopped (and reaped)
// by the destructor.
class NodeExporter {
 public:
  NodeExporter(const fs::path& dir, const fs::path& log) {
    port_ = FreePort();
    std::vector<std::string> args = {"/usr/bin/prometheus-node-exporter",
                                     "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                                     "--collector.textfile.directory=" + dir.string()};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    if (posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
  }
  ~NodeExporter() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }
  // The first successful scrape within ~15 s.
  std::string WaitAndScrape() const {
    for (int i = 0; i < 150 && pid_ > 0; ++i) {
      std::string body = Scrape(port_);
      if (!body.empty()) return body;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return "";
  }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST(ProbePrometheus, NodeExporterScrapesFwgateBesideItsOwnConntrackSeries) {
  if (access("/usr/bin/prometheus-node-exporter", X_OK) != 0)
    GTEST_SKIP() << "prometheus-node-exporter not installed (scripts/setup.sh)";
  if (access("/proc/sys/net/netfilter/nf_conntrack_count", R_OK) != 0)
    GTEST_SKIP() << "nf_conntrack not loaded: node_exporter has no conntrack series to keep";
  fs::path d = TempDir("prom");
  fs::create_directories(d / "empty");
  fs::create_directories(d / "textfile");
  CmdRun prom = Fwgate({"probe", "--parse-output", Fixture(), "--nonce", kFixtureNonce, "--name",
                        "storage-07", "--prometheus"});
  ASSERT_FALSE(prom.out.empty()) << prom.err;
  WriteFile(d / "textfile" / "fwgate.prom", prom.out);

  // Baseline: node_exporter alone, with an empty textfile directory.
  std::string alone;
  {
    NodeExporter ne(d / "empty", d / "alone.log");
    alone = ne.WaitAndScrape();
  }
  ASSERT_FALSE(alone.empty()) << ReadAll(d / "alone.log");
  std::set<std::string> own = Families(alone, "node_nf_conntrack_");
  ASSERT_GE(own.size(), 2u) << "node_exporter exports no conntrack series here";

  std::string with;
  {
    NodeExporter ne(d / "textfile", d / "with.log");
    with = ne.WaitAndScrape();
  }
  ASSERT_FALSE(with.empty()) << ReadAll(d / "with.log");
  EXPECT_EQ(ValueOf(with, "node_textfile_scrape_error"), "0") << ReadAll(d / "with.log");
  // node_exporter logs a clash with its own metrics as "error gathering metrics" and drops the
  // clashing series; other errors (no udev, no systemd here) are not about the textfile.
  std::string log = ReadAll(d / "with.log");
  EXPECT_EQ(log.find("error gathering metrics"), std::string::npos) << log;
  EXPECT_EQ(Families(with, "fwgate_"), Families(prom.out, "fwgate_"));  // every family scraped
  EXPECT_EQ(Families(with, "node_nf_conntrack_"), own);  // its own series are all still there
  EXPECT_NE(with.find("fwgate_probe_success{node=\"storage-07\"} 1"), std::string::npos);
  EXPECT_NE(with.find("fwgate_nf_conntrack_entries{node=\"storage-07\"} 5800"), std::string::npos);
  EXPECT_NE(with.find("fwgate_finding{id=\"stale-gap-strict\",node=\"storage-07\","
                      "severity=\"blocking\",undecided=\"false\"} 1"),
            std::string::npos)
      << with.substr(with.find("fwgate_finding"), 400);
  EXPECT_NE(with.find("fwgate_restart_storm_entries{node=\"storage-07\"}"), std::string::npos);

  // The control: node_exporter's own names with other HELP texts break its scrape (what fwgate's
  // file did before it used its own prefix).
  WriteFile(d / "textfile" / "fwgate.prom",
            "# HELP node_nf_conntrack_entries Number of entries.\n"
            "# TYPE node_nf_conntrack_entries gauge\nnode_nf_conntrack_entries{node=\"x\"} 1\n");
  std::string clash;
  {
    NodeExporter ne(d / "textfile", d / "clash.log");
    clash = ne.WaitAndScrape();
  }
  bool broken = clash.empty() || ValueOf(clash, "node_textfile_scrape_error") == "1" ||
                Families(clash, "node_nf_conntrack_") != own ||
                ReadAll(d / "clash.log").find("error gathering metrics") != std::string::npos;
  EXPECT_TRUE(broken) << "the control did not clash; the test would not see a regression";
  fs::remove_all(d);
}
