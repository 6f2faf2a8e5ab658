// The lab scenario page (report::ScenarioToHtml) opened by a real browser: Debian's headless
// Chromium renders it without network (an empty network namespace), the DOM keeps one chart
// per storm run with its budget line and every sample, and a screenshot is produced. The
// result rendered is built here (no lab run), so the test is about the page only.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "report/scenario_report.h"
#include "tests/support/subprocess.h"

namespace {

namespace fs = std::filesystem;
using fwgate::scenarios::RunOutcome;
using fwgate::scenarios::ScenarioResult;
using fwgate::scenarios::StormRunResult;

const std::string kChromium = "/usr/bin/chromium";

size_t Count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t i = s.find(what); i != std::string::npos; i = s.find(what, i + what.size())) ++n;
  return n;
}

RunOutcome StormRun(const std::string& name, uint64_t budget, bool overflow) {
  RunOutcome r;
  r.name = name;
  r.description = "a <storm> & its \"fix\"";
  r.expected = overflow ? "table full" : "no drop";
  r.observed = overflow ? "peak at the budget" : "no drop";
  r.as_expected = true;
  StormRunResult s;
  s.budget = budget;
  s.baseline_entries = 6000;
  for (int i = 0; i <= 80; ++i) {
    fwgate::scenarios::StormSample p;
    p.t_ms = static_cast<int64_t>(i) * 250;
    p.entries = std::min<uint64_t>(budget, 6000 + static_cast<uint64_t>(i) * 1300);
    p.drop = overflow && p.entries == budget ? static_cast<uint64_t>(i) * 100 : 0;
    s.samples.push_back(p);
    s.peak_entries = std::max(s.peak_entries, p.entries);
  }
  s.drops = s.samples.back().drop;
  r.storm = s;
  return r;
}

TEST(ScenarioPage, RendersInHeadlessChromiumWithOneChartPerStormRun) {
  if (::access(kChromium.c_str(), X_OK) != 0) {
    GTEST_SKIP() << kChromium << " is not installed (scripts/setup.sh installs chromium)";
  }
  ScenarioResult r;
  r.scenario.name = "2014-restart-storm";
  r.scenario.title = "All 8 OSDs of a host restarted at once";
  r.scenario.kind = fwgate::scenarios::Kind::kStorm;
  r.verdict = "reproduced";
  r.reason = "every run gave its expected outcome (2 runs)";
  r.runs.push_back(StormRun("all-at-once", 65536, true));
  r.runs.push_back(StormRun("doubled-table", 131072, false));
  const std::string html = fwgate::report::ScenarioToHtml(r);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org/2000/svg"));  // nothing fetched
  EXPECT_NE(html.find("a &lt;storm&gt; &amp; its"), std::string::npos);

  fs::path dir = fs::temp_directory_path() / ("fwgate-scenario-page-" + std::to_string(getpid()));
  fs::create_directories(dir);
  fs::path page = dir / "page.html";
  std::ofstream(page, std::ios::binary) << html;
  fs::path png = dir / "page.png";
  fs::path home = dir / "home";
  auto run = fwgate::testing::RunProcess({"/usr/bin/timeout",
                                          "-k",
                                          "10",
                                          "120",
                                          "/usr/bin/unshare",
                                          "-n",
                                          "/usr/bin/env",
                                          "HOME=" + home.string(),
                                          "XDG_CONFIG_HOME=" + (home / "config").string(),
                                          "XDG_CACHE_HOME=" + (home / "cache").string(),
                                          kChromium,
                                          "--headless",
                                          "--no-sandbox",
                                          "--disable-gpu",
                                          "--no-first-run",
                                          "--disable-background-networking",
                                          "--disable-component-update",
                                          "--disable-sync",
                                          "--disable-extensions",
                                          "--user-data-dir=" + (home / "profile").string(),
                                          "--window-size=1280,1600",
                                          "--screenshot=" + png.string(),
                                          "--dump-dom",
                                          "file://" + page.string()});
  std::error_code ec;
  uintmax_t png_size = fs::file_size(png, ec);
  fs::remove_all(dir, ec);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const std::string& dom = run.out;
  EXPECT_NE(dom.find("data-verdict=\"reproduced\""), std::string::npos) << dom.substr(0, 2000);
  EXPECT_EQ(Count(dom, "<svg class=\"chart\""), 2u);
  EXPECT_EQ(Count(dom, "class=\"budget\""), 2u);
  EXPECT_EQ(Count(dom, "data-points=\"81\""), 2u);
  EXPECT_GT(Count(dom, "class=\"drops\""), 0u);  // the overflow run's drops are shaded
  EXPECT_EQ(Count(dom, "<tr data-run="), 2u);
  EXPECT_GT(png_size, 10000u);
}

}  // namespace
