// The gate's reports opened by the real programs that read them: the HTML page in headless
// Chromium (Debian's chromium: screenshot, DOM, console, and no network), the SARIF logs in the
// official SARIF multitool (@microsoft/sarif-multitool from the npm registry, through
// scripts/sarif-validate.sh, with GitHub's ingestion rules), the JUnit XML in libxml2's xmllint.
// Needs no namespaces (Chromium runs in an empty network namespace when one can be made, else
// with every request resolved to nowhere). Skips, with the reason, only when a program is absent;
// scripts/setup.sh installs them all. The last test renders the real `fwgate check` of the bundled
// example (a git repository it makes; that one needs namespaces for the lab).
// FWGATE_CHECK_ARTIFACTS =DIR keeps every page, screenshot and log in DIR.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "report/check_report.h"
#include "sys/netns.h"
#include "tests/support/check_fixtures.h"
#include "tests/support/subprocess.h"

namespace {

namespace fs = std::filesystem;
namespace fx = fwgate::testing;
using fwgate::testing::ProcessResult;
using fwgate::testing::RunProcess;
using nlohmann::json;

const std::string kChromium = "/usr/bin/chromium";
const std::string kXmllint = "/usr/bin/xmllint";
const std::string kRoot = "/work/firewall";

bool Executable(const std::string& p) { return ::access(p.c_str(), X_OK) == 0; }

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void Write(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }

// A scratch directory, removed at the end unless FWGATE_CHECK_ARTIFACTS names one to keep.
class Scratch {
 public:
  Scratch() {
    if (const char* keep = std::getenv("FWGATE_CHECK_ARTIFACTS"); keep && *keep) {
      dir_ = keep;
      keep_ = true;
      fs::create_directories(dir_);
      return;
    }
    std::string tmpl = (fs::temp_directory_path() / "fwgate-check-render-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) != nullptr) dir_ = tmpl;
  }
  ~Scratch() {
    std::error_code ec;
    if (!keep_ && !dir_.empty()) fs::remove_all(dir_, ec);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  [[nodiscard]] const fs::path& dir() const { return dir_; }

 private:
  fs::path dir_;
  bool keep_ = false;
};

std::vector<std::pair<std::string, fwgate::check::CheckReport>> Reports() {
  return {{"safe-change", fx::SafeChangeReport()},
          {"no-established", fx::NoEstablishedReport()},
          {"fleet-2019", fx::Fleet2019Report()},
          {"unreachable", fx::UnreachableReport()},
          {"hostile", fx::HostileReport()}};
}

// --- Chromium ----------------------------------------------------------------------------------

struct Page {
  ProcessResult run;
  std::string png;                   // the screenshot's bytes
  std::vector<std::string> console;  // the page's console messages (errors, CSP refusals)
  std::vector<std::string> network;  // network use seen in the net log
  bool netlog_read = false;
};

bool CanUnshareNet() {
  static const bool ok = Executable("/usr/bin/unshare") &&
                         RunProcess({"/usr/bin/unshare", "-n", "/bin/true"}).exit_code == 0;
  return ok;
}

// What in a Chromium net log touched the network: DNS queries, TCP connects to anything but
// loopback, bytes sent on a socket.
std::vector<std::string> NetworkUse(const json& log) {
  std::map<int, std::string> names;
  for (const auto& [name, id] : log["constants"]["logEventTypes"].items()) {
    names[id.get<int>()] = name;
  }
  std::vector<std::string> out;
  for (const auto& e : log["events"]) {
    std::string t = names[e["type"].get<int>()];
    const json params = e.value("params", json::object());
    std::string address = params.value("address", "");
    bool loopback = address.starts_with("127.") || address.starts_with("[::1]");
    if (t == "DNS_TRANSACTION" || t == "SOCKET_BYTES_SENT" || t == "UDP_BYTES_SENT" ||
        ((t == "TCP_CONNECT" || t == "TCP_CONNECT_ATTEMPT") && !address.empty() && !loopback)) {
      out.push_back(t + " " + params.dump());
    }
  }
  return out;
}

Page OpenInChromium(const fs::path& dir, const std::string& name, const fs::path& html) {
  fs::path home = dir / ("chromium-" + name);
  fs::create_directories(home);
  fs::path png = dir / (name + ".png");
  fs::path netlog = dir / (name + ".netlog.json");
  std::error_code ec;
  fs::remove(png, ec);
  std::vector<std::string> args = {"/usr/bin/timeout", "-k", "10", "120"};
  // An empty network namespace when the test may make one: the page, and Chromium's own
  // background services, then have no network to touch. Without one the flags below still keep
  // it off the network (every host name resolves to nothing, every request goes to a closed
  // loopback proxy); the net log shows it either way.
  if (CanUnshareNet()) args.insert(args.end(), {"/usr/bin/unshare", "-n"});
  args.insert(args.end(), {"/usr/bin/env",
                           "HOME=" + home.string(),
                           "XDG_CONFIG_HOME=" + (home / "config").string(),
                           "XDG_CACHE_HOME=" + (home / "cache").string(),
                           kChromium,
                           "--headless",
                           "--no-sandbox",
                           "--disable-gpu",
                           "--disable-quic",
                           "--no-first-run",
                           "--disable-background-networking",
                           "--disable-component-update",
                           "--disable-sync",
                           "--disable-extensions",
                           "--disable-default-apps",
                           "--no-pings",
                           "--disable-domain-reliability",
                           "--metrics-recording-only",
                           "--proxy-server=127.0.0.1:9",
                           "--proxy-bypass-list=<-loopback>",
                           "--host-resolver-rules=MAP * ~NOTFOUND",
                           "--user-data-dir=" + (home / "profile").string(),
                           "--enable-logging=stderr",
                           "--v=0",
                           "--log-net-log=" + netlog.string(),
                           "--window-size=1280,2000",
                           "--screenshot=" + png.string(),
                           "--dump-dom",
                           "file://" + html.string()});
  Page p;
  p.run = RunProcess(args);
  p.png = Slurp(png);
  // Console messages of the page itself (Chromium's own chrome:// pages log some of their own).
  std::istringstream err(p.run.err);
  for (std::string line; std::getline(err, line);) {
    if (line.find(":CONSOLE") != std::string::npos &&
        line.find("source: file://") != std::string::npos) {
      p.console.push_back(line);
    }
  }
  std::string log = Slurp(netlog);
  // Chromium may stop before closing the log's JSON array; close it the way its viewer does.
  if (!log.empty() && log.find("\"events\"") != std::string::npos) {
    json j = json::parse(log, nullptr, false);
    if (j.is_discarded()) {
      while (!log.empty() && (log.back() == '\n' || log.back() == ',')) log.pop_back();
      j = json::parse(log + "]}", nullptr, false);
    }
    if (!j.is_discarded()) {
      p.netlog_read = true;
      p.network = NetworkUse(j);
    }
  }
  fs::remove_all(home, ec);
  return p;
}

// Width and height from a PNG's IHDR chunk; {0, 0} when `png` is not a PNG.
std::pair<uint32_t, uint32_t> PngSize(const std::string& png) {
  static const std::string kSig = "\x89PNG\r\n\x1a\n";
  if (png.size() < 24 || png.compare(0, 8, kSig) != 0 || png.compare(12, 4, "IHDR") != 0) {
    return {0, 0};
  }
  auto be32 = [&](size_t at) {
    uint32_t v = 0;
    for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(png[at + i]);
    return v;
  };
  return {be32(16), be32(20)};
}

size_t Count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t i = s.find(what); i != std::string::npos; i = s.find(what, i + what.size())) ++n;
  return n;
}

class CheckBrowser : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!Executable(kChromium)) {
      GTEST_SKIP() << kChromium << " is not installed (scripts/setup.sh installs Debian's "
                   << "chromium)";
    }
    ASSERT_FALSE(scratch_.dir().empty());
  }
  Scratch scratch_;
};

TEST_F(CheckBrowser, EveryReportRendersWithItsPlotAndNoConsoleErrorOrNetwork) {
  fs::path blank = scratch_.dir() / "blank.html";
  Write(blank, "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body></body></html>\n");
  Page empty = OpenInChromium(scratch_.dir(), "blank", blank);
  ASSERT_EQ(empty.run.exit_code, 0) << empty.run.err;
  ASSERT_EQ(PngSize(empty.png), (std::pair<uint32_t, uint32_t>{1280, 2000})) << empty.run.err;

  for (const auto& [name, report] : Reports()) {
    SCOPED_TRACE(name);
    fs::path html = scratch_.dir() / (name + ".html");
    Write(html, fwgate::report::CheckToHtml(report));
    Page page = OpenInChromium(scratch_.dir(), name, html);
    ASSERT_EQ(page.run.exit_code, 0) << page.run.err;
    // A screenshot of the page, far more than an empty page's.
    EXPECT_EQ(PngSize(page.png), (std::pair<uint32_t, uint32_t>{1280, 2000}));
    EXPECT_GT(page.png.size(), 8 * empty.png.size())
        << page.png.size() << " bytes vs an empty page's " << empty.png.size();
    EXPECT_TRUE(page.console.empty()) << page.console.front();
    EXPECT_TRUE(page.netlog_read);
    EXPECT_TRUE(page.network.empty()) << page.network.front();
    // The DOM as Chromium built it: the banner, both charts with their reload marker, a line per
    // class with every bucket, the findings; no element from the reports' text.
    const std::string& dom = page.run.out;
    EXPECT_NE(dom.find("<header class=\""), std::string::npos);
    EXPECT_EQ(Count(dom, "<svg class=\"chart\""), 2u);
    EXPECT_EQ(Count(dom, "<g class=\"reload\">"), 2u);
    for (const char* cls : {"replication", "heartbeat", "client", "mon"}) {
      EXPECT_EQ(Count(dom, std::string("data-class=\"") + cls + "\" data-points=\"89\""), 2u)
          << cls;
    }
    EXPECT_NE(dom.find("<section id=\"findings\">"), std::string::npos);
    EXPECT_NE(dom.find("<section id=\"nodes\">"), std::string::npos);
    EXPECT_NE(dom.find("<section id=\"plan\">"), std::string::npos);
    EXPECT_EQ(dom.find("<script"), std::string::npos);
    EXPECT_EQ(dom.find("<img"), std::string::npos);
  }
}

TEST_F(CheckBrowser, TheChecksSeeScriptErrorsAndBlockedLoads) {
  // The same page with an image from the network and a failing script injected: Chromium must
  // report both (the page's Content-Security-Policy refuses them), or the test above proves
  // nothing.
  std::string page = fwgate::report::CheckToHtml(fx::NoEstablishedReport());
  size_t body = page.rfind("</body>");
  ASSERT_NE(body, std::string::npos);
  page.insert(body, "<img src=\"http://example.invalid/x.png\"><script>null.f();</script>");
  fs::path html = scratch_.dir() / "injected.html";
  Write(html, page);
  Page p = OpenInChromium(scratch_.dir(), "injected", html);
  ASSERT_EQ(p.run.exit_code, 0) << p.run.err;
  std::string all;
  for (const auto& line : p.console) all += line + "\n";
  EXPECT_TRUE(std::regex_search(
      all, std::regex("image 'http://example.invalid/x.png'.*Content Security Policy")))
      << p.run.err;
  EXPECT_TRUE(std::regex_search(all, std::regex("inline script.*Content Security Policy")))
      << p.run.err;
  EXPECT_TRUE(p.network.empty()) << p.network.front();
}

// --- SARIF multitool ---------------------------------------------------------------------------

const std::string kValidate = std::string(FWGATE_SOURCE_DIR) + "/scripts/sarif-validate.sh";

// Installs the multitool (once); the reason when it cannot be had.
std::optional<std::string> MultitoolMissing() {
  static const std::optional<std::string> missing = []() -> std::optional<std::string> {
    ProcessResult install = RunProcess({"/bin/bash", kValidate, "--install"});
    if (install.exit_code == 0) return std::nullopt;
    return "the SARIF multitool is not available (exit " + std::to_string(install.exit_code) +
           "): " + install.err;
  }();
  return missing;
}

// The multitool's findings about `files` (its own SARIF log), written to `out`.
json RunMultitool(const std::vector<fs::path>& files, const fs::path& out, ProcessResult* run) {
  std::vector<std::string> args = {"/bin/bash", kValidate, out.string()};
  for (const auto& f : files) args.push_back(f.string());
  *run = RunProcess(args);
  return json::parse(Slurp(out), nullptr, false);
}

// The multitool's errors and warnings, but for the one accepted warning: no informationUri, as
// fwgate has no public page to name (a relative path is not a valid value there). Notes (advice
// on optional properties: snippets, message ids, the rule id format) are counted in `notes`.
std::vector<std::string> MultitoolComplaints(const json& log, int* notes) {
  std::vector<std::string> out;
  for (const auto& r : log["runs"][0]["results"]) {
    std::string level = r.value("level", "warning");
    if (level == "note") {
      ++*notes;
      continue;
    }
    if (level == "warning" && r["ruleId"] == "SARIF2005") continue;
    out.push_back(
        level + " " + r["ruleId"].get<std::string>() + " in " +
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].get<std::string>() + ": " +
        r["message"].dump());
  }
  return out;
}

class CheckSarifValidator : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(scratch_.dir().empty());
    if (auto why = MultitoolMissing()) GTEST_SKIP() << *why;
  }
  json Validate(const std::vector<fs::path>& files, ProcessResult* run) {
    return RunMultitool(files, scratch_.dir() / "multitool.sarif", run);
  }
  Scratch scratch_;
};

TEST_F(CheckSarifValidator, OfficialMultitoolAcceptsEveryReport) {
  std::vector<fs::path> files;
  for (const auto& [name, report] : Reports()) {
    files.push_back(scratch_.dir() / (name + ".sarif"));
    Write(files.back(), fwgate::report::CheckToSarif(report, kRoot));
  }
  ProcessResult run;
  json log = Validate(files, &run);
  ASSERT_FALSE(log.is_discarded()) << run.out << run.err;
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  int notes = 0;
  for (const auto& c : MultitoolComplaints(log, &notes)) ADD_FAILURE() << c;
  std::cout << "multitool notes (advice on optional properties): " << notes << "\n";
}

TEST_F(CheckSarifValidator, MultitoolRejectsABrokenLog) {
  // A result without message text and with a region starting at line 0: both rejected by GitHub.
  json bad = json::parse(fwgate::report::CheckToSarif(fx::NoEstablishedReport(), kRoot));
  bad["runs"][0]["results"][0]["message"].erase("text");
  bad["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0;
  fs::path file = scratch_.dir() / "broken.sarif";
  Write(file, bad.dump(2));
  ProcessResult run;
  json log = Validate({file}, &run);
  ASSERT_FALSE(log.is_discarded()) << run.out << run.err;
  EXPECT_EQ(run.exit_code, 1);
  int errors = 0;
  for (const auto& r : log["runs"][0]["results"]) errors += r.value("level", "warning") == "error";
  EXPECT_GE(errors, 2) << log.dump(1);
}

// --- JUnit through libxml2 ---------------------------------------------------------------------

std::string XPath(const fs::path& file, const std::string& expr) {
  ProcessResult r = RunProcess({kXmllint, "--xpath", expr, file.string()});
  if (r.exit_code != 0) return "xmllint failed: " + r.err;
  while (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
  return r.out;
}

TEST(CheckJunitXml, LibxmlParsesEveryReportAndTheCountsAgree) {
  if (!Executable(kXmllint)) {
    GTEST_SKIP() << kXmllint << " is not installed (scripts/setup.sh installs libxml2-utils)";
  }
  Scratch scratch;
  ASSERT_FALSE(scratch.dir().empty());
  for (const auto& [name, report] : Reports()) {
    SCOPED_TRACE(name);
    fs::path file = scratch.dir() / (name + ".junit.xml");
    Write(file, fwgate::report::CheckToJunit(report));
    ProcessResult wellformed = RunProcess({kXmllint, "--noout", file.string()});
    ASSERT_EQ(wellformed.exit_code, 0) << wellformed.err;
    EXPECT_EQ(XPath(file, "count(/testsuites/testsuite)"), "1");
    for (const char* what : {"failure", "error", "skipped"}) {
      std::string attr = std::string(what) == "failure" ? "failures"
                         : std::string(what) == "error" ? "errors"
                                                        : "skipped";
      EXPECT_EQ(XPath(file, "count(//testcase/" + std::string(what) + ")"),
                XPath(file, "string(/testsuites/testsuite/@" + attr + ")"))
          << what;
    }
    EXPECT_EQ(XPath(file, "count(//testcase)"),
              XPath(file, "string(/testsuites/testsuite/@tests)"));
    EXPECT_EQ(XPath(file, "count(//testcase[@classname='fwgate.check.stages'])"), "6");
    EXPECT_EQ(XPath(file, "count(//testcase[@classname='fwgate.check.nodes'])"),
              std::to_string(report.nodes.size()));
  }
  // The hostile report's text survives as text.
  fs::path hostile = scratch.dir() / "hostile.junit.xml";
  std::string value = XPath(hostile, "string(//property[@name='reason.3']/@value)");
  EXPECT_NE(value.find("<script>alert('x')</script> & \"q\" ]]>"), std::string::npos) << value;
}

// --- The real gate on the bundled example ------------------------------------------------------

// `fwgate check` of a firewall repository (the bundled baseline with its include as the base
// commit, `change` as the change commit), every format written to `out`; its JSON report.
json RealCheck(const fs::path& repo, const std::string& change, std::vector<std::string> extra,
               const fs::path& out, ProcessResult* run) {
  const fs::path rules = fs::path(FWGATE_SOURCE_DIR) / "rulesets";
  auto g = [&](const std::vector<std::string>& args) {
    ProcessResult r = fwgate::testing::RunGit(repo.string(), args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
  };
  fs::remove_all(repo);
  fs::create_directories(repo / "firewall");
  g({"init", "-q", "-b", "main"});
  Write(repo / "firewall/storage.nft", Slurp(rules / "ceph-node.nft"));
  Write(repo / "firewall/ceph-networks.nft", Slurp(rules / "ceph-networks.nft"));
  g({"add", "-A"});
  g({"commit", "-q", "-m", "base"});
  Write(repo / "firewall/storage.nft", Slurp(rules / change));
  g({"commit", "-q", "-a", "-m", "change"});
  std::vector<std::string> args = {
      "check",   "--base",       "HEAD~1",    "--proposed", "firewall/storage.nft",
      "--quiet", "--output-dir", out.string()};
  for (const char* f : {"json", "junit", "sarif", "markdown", "html", "github"}) {
    args.insert(args.end(), {"--format", f});
  }
  args.insert(args.end(), extra.begin(), extra.end());
  *run = fwgate::testing::RunFwgate(args, repo.string());
  return json::parse(Slurp(out / "fwgate-check.json"), nullptr, false);
}

TEST(CheckRealReports, BundledExampleRendersForEveryReader) {
  if (auto st = fwgate::sys::CanCreateNamespaces(); !st) {
    GTEST_SKIP() << "the lab replays need namespaces: " << st.error().ToString();
  }
  if (fwgate::testing::GitProgram().empty())
    GTEST_SKIP() << "git is not installed (scripts/setup.sh installs it)";
  if (!Executable(kChromium)) GTEST_SKIP() << kChromium << " is not installed";
  if (!Executable(kXmllint)) GTEST_SKIP() << kXmllint << " is not installed";
  if (auto why = MultitoolMissing()) GTEST_SKIP() << *why;
  Scratch scratch;
  ASSERT_FALSE(scratch.dir().empty());
  const fs::path repo = scratch.dir() / "repo";
  struct Case {
    std::string name, change;
    std::vector<std::string> extra;
    int exit_code;
    std::string cause;
  };
  const std::vector<Case> cases = {
      {"real-no-established", "ceph-node-no-established.nft", {}, 1, "change"},
      {"real-fleet-2019",
       "ceph-node-safe-change.nft",
       {"--kernel", "node1=4.15,node2=4.4,node3=4.4", "--be-liberal", "0", "--reload",
        "flush-then-load"},
       1,
       "reload-procedure"}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    fs::path out = scratch.dir() / c.name;
    ProcessResult run;
    json j = RealCheck(repo, c.change, c.extra, out, &run);
    ASSERT_FALSE(j.is_discarded()) << run.err << run.out;
    ASSERT_EQ(run.exit_code, c.exit_code) << run.err << run.out;
    EXPECT_EQ(j["cause"], c.cause);

    // SARIF: valid for the multitool and GitHub's rules; every located finding of the proposed
    // file is a result on its line.
    ProcessResult mt;
    json log = RunMultitool({out / "fwgate-check.sarif"}, out / "multitool.sarif", &mt);
    ASSERT_FALSE(log.is_discarded()) << mt.out << mt.err;
    int notes = 0;
    for (const auto& complaint : MultitoolComplaints(log, &notes)) ADD_FAILURE() << complaint;
    json sarif = json::parse(Slurp(out / "fwgate-check.sarif"));
    for (const auto& stage : j["stages"]) {
      for (const auto& f : stage["findings"]) {
        if (!f.contains("location") || f["location"].is_null()) continue;
        if (f["location"]["file"] != "firewall/storage.nft") continue;
        bool found = false;
        for (const auto& r : sarif["runs"][0]["results"]) {
          const json& pl = r["locations"][0]["physicalLocation"];
          found = found || (r["ruleId"] == f["id"] &&
                            pl["artifactLocation"]["uri"] == "firewall/storage.nft" &&
                            pl["region"]["startLine"] == f["location"]["line"]);
        }
        EXPECT_TRUE(found) << f.dump();
      }
    }
    // JUnit: well-formed, one case per stage.
    ProcessResult xml =
        RunProcess({kXmllint, "--noout", (out / "fwgate-check.junit.xml").string()});
    EXPECT_EQ(xml.exit_code, 0) << xml.err;
    EXPECT_EQ(XPath(out / "fwgate-check.junit.xml",
                    "count(//testcase[@classname='fwgate.check.stages'])"),
              "6");
    // HTML: renders with both charts, no console error, no network.
    Page page = OpenInChromium(out, "page", out / "fwgate-check.html");
    ASSERT_EQ(page.run.exit_code, 0) << page.run.err;
    EXPECT_EQ(PngSize(page.png), (std::pair<uint32_t, uint32_t>{1280, 2000}));
    EXPECT_TRUE(page.console.empty()) << page.console.front();
    EXPECT_TRUE(page.network.empty()) << page.network.front();
    EXPECT_EQ(Count(page.run.out, "<svg class=\"chart\""), 2u);
    EXPECT_EQ(Count(page.run.out, "<polyline class=\"series\""), 8u);
    if (c.name == "real-no-established") {
      // On GitHub Actions the annotations come on stderr, so a report on stdout stays whole.
      ProcessResult gha = RunProcess(
          {"/usr/bin/env", "GITHUB_ACTIONS=true", FWGATE_BINARY, "check", "--base", "HEAD~1",
           "--proposed", "firewall/storage.nft", "--quiet", "--no-lab", "--format", "json"},
          repo.string());
      EXPECT_EQ(gha.exit_code, 1) << gha.err;
      EXPECT_FALSE(json::parse(gha.out, nullptr, false).is_discarded()) << gha.out;
      EXPECT_NE(gha.err.find("\n::error file=firewall/storage.nft,line="), std::string::npos)
          << gha.err;
    }
    // Markdown and GitHub commands: the verdict first.
    EXPECT_TRUE(
        Slurp(out / "fwgate-check.md").starts_with("## \xE2\x9D\x8C fwgate check: **fail**"));
    EXPECT_TRUE(
        Slurp(out / "fwgate-check.github.txt").starts_with("::error title=fwgate check%3A fail::"));
  }
}

}  // namespace
