// The gate's CI and page renderings (report/check_report.h: JUnit, SARIF, GitHub workflow
// commands, Markdown, HTML) of realistic gate reports: what each format says for a safe change, a
// removed established accept, the 2019 fleet's reload and an unreachable node, and that text from
// users' files cannot break out of any of them. Pure: no browser, no validator (see
// tests/lab/check_browser_test.cpp for those).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>

#include "base/text.h"
#include "report/check_common.h"
#include "report/check_report.h"
#include "tests/support/check_fixtures.h"

namespace {

using fwgate::Outcome;
using fwgate::report::CheckToGithub;
using fwgate::report::CheckToHtml;
using fwgate::report::CheckToJunit;
using fwgate::report::CheckToMarkdown;
using fwgate::report::CheckToSarif;
using nlohmann::json;
namespace fx = fwgate::testing;

const std::string kRoot = "/work/firewall";

size_t Count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t i = s.find(what); i != std::string::npos; i = s.find(what, i + what.size())) ++n;
  return n;
}

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t nl = s.find('\n', i);
    if (nl == std::string::npos) nl = s.size();
    out.push_back(s.substr(i, nl - i));
    i = nl + 1;
  }
  return out;
}

// No byte XML 1.0 (or an HTML parser) would reject, and valid UTF-8.
void ExpectCleanMarkup(const std::string& s) {
  EXPECT_TRUE(fwgate::IsValidUtf8(s));
  for (unsigned char c : s) {
    if (c < 0x20) {
      EXPECT_TRUE(c == '\n' || c == '\t' || c == '\r') << "control byte " << int(c);
    }
  }
  EXPECT_EQ(s.find("\xef\xbf\xbe"), std::string::npos);  // U+FFFE
  EXPECT_EQ(s.find("\xc2\x85"), std::string::npos);      // C1 NEL
}

// --- helpers -----------------------------------------------------------------------------------

TEST(CheckRender, XmlSafeEscapesMarkupAndDropsWhatXmlForbids) {
  EXPECT_EQ(fwgate::XmlSafe("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
  EXPECT_EQ(fwgate::XmlSafe("a\x01"
                            "b\tc\nd"),
            "a\\x01b\tc\nd");
  EXPECT_EQ(fwgate::XmlSafe("\xc2\x9b"
                            "x"),
            "\\u009bx");
  EXPECT_EQ(fwgate::XmlSafe("\xef\xbf\xbe\xef\xbf\xbf"), "\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(fwgate::XmlSafe("\xff"), "\xef\xbf\xbd");
  EXPECT_EQ(fwgate::XmlSafe("caf\xc3\xa9 \xc2\xa0 \xef\xbf\xbd"),
            "caf\xc3\xa9 \xc2\xa0 \xef\xbf\xbd");
}

TEST(CheckRender, ControlsAsTextKeepsOnlyWhatIsAsked) {
  EXPECT_EQ(fwgate::ControlsAsText("a\nb\tc\x1b"
                                   "d\x7f",
                                   "\n"),
            "a\nb\\x09c\\x1bd\\x7f");
  EXPECT_EQ(fwgate::ControlsAsText("\xc2\x85x\xff", ""), "\\u0085x\xef\xbf\xbd");
  EXPECT_EQ(fwgate::ControlsAsText("caf\xc3\xa9 \xc2\xa0", ""), "caf\xc3\xa9 \xc2\xa0");
}

TEST(CheckRender, RepoRelativeKeepsOnlyWorkTreeFiles) {
  using fwgate::report::check_render::RepoRelative;
  EXPECT_EQ(RepoRelative("/work/firewall/fw/storage.nft", kRoot), "fw/storage.nft");
  EXPECT_EQ(RepoRelative("/work/firewall/./fw/../fw/storage.nft", kRoot + "/"), "fw/storage.nft");
  EXPECT_EQ(RepoRelative("fw/storage.nft", kRoot), "fw/storage.nft");
  EXPECT_EQ(RepoRelative("./fw/storage.nft", ""), "fw/storage.nft");
  EXPECT_EQ(RepoRelative("origin/main:fw/storage.nft", kRoot), std::nullopt);
  EXPECT_EQ(RepoRelative("/tmp/fwgate-base-1/fw/storage.nft", kRoot), std::nullopt);
  EXPECT_EQ(RepoRelative("/work/firewall-other/x.nft", kRoot), std::nullopt);
  EXPECT_EQ(RepoRelative("../x.nft", kRoot), std::nullopt);
  EXPECT_EQ(RepoRelative("/work/firewall/fw/x.nft", ""), std::nullopt);
  EXPECT_EQ(RepoRelative("", kRoot), std::nullopt);
}

// --- JUnit -------------------------------------------------------------------------------------

TEST(CheckJunit, SafeChangeIsOneSuiteOfPassingStagesAndNodes) {
  std::string x = CheckToJunit(fx::SafeChangeReport());
  EXPECT_TRUE(x.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites "));
  EXPECT_EQ(Count(x, "<testsuite "), 1u);
  EXPECT_NE(x.find("tests=\"9\" failures=\"0\" errors=\"0\" skipped=\"0\""), std::string::npos)
      << x;
  for (const char* stage : {"validate", "plan", "policy", "reload-lint", "fleet", "replay"}) {
    EXPECT_NE(x.find("classname=\"fwgate.check.stages\" name=\"" + std::string(stage) + "\""),
              std::string::npos)
        << stage;
  }
  for (const char* node : {"storage-01", "storage-02", "storage-03"}) {
    EXPECT_NE(x.find("classname=\"fwgate.check.nodes\" name=\"" + std::string(node) + "\""),
              std::string::npos);
  }
  EXPECT_NE(x.find("name=\"replay\" time=\"21.304\""), std::string::npos);
  EXPECT_NE(x.find("<property name=\"verdict\" value=\"pass\"/>"), std::string::npos);
  // The info finding is in the policy case's output, not a failure.
  EXPECT_NE(x.find("[info] port-opened-restricted"), std::string::npos);
  EXPECT_EQ(x.find("<failure"), std::string::npos);
}

TEST(CheckJunit, RemovedEstablishedAcceptFailsPolicyAndReplayWithTheFindingAndFix) {
  std::string x = CheckToJunit(fx::NoEstablishedReport());
  EXPECT_NE(x.find("failures=\"2\" errors=\"0\""), std::string::npos) << x;
  std::regex policy(
      "name=\"policy\"[^>]*>\\s*<failure type=\"fail\" message=\"established-accept-lost: inet "
      "storage input[^\"]*\">");
  EXPECT_TRUE(std::regex_search(x, policy)) << x;
  EXPECT_NE(x.find("at rulesets/ceph-node-no-established.nft:45:2"), std::string::npos);
  EXPECT_NE(x.find("see origin/main:rulesets/ceph-node.nft:47:3: the removed rule"),
            std::string::npos);
  EXPECT_NE(x.find("fix: put `ct state established,related accept` back"), std::string::npos);
  EXPECT_NE(x.find("why: docs/kernel-conntrack.md §5"), std::string::npos);
  EXPECT_NE(x.find("<failure type=\"fail\" message=\"connections-broken: 21 of 21"),
            std::string::npos);
  EXPECT_NE(x.find("<property name=\"cause\" value=\"change\"/>"), std::string::npos);
}

TEST(CheckJunit, Fleet2019FailsReloadLintAndNodeWithTheSysctlFix) {
  std::string x = CheckToJunit(fx::Fleet2019Report());
  // reload-lint, fleet, replay, and node storage-04 fail.
  EXPECT_NE(x.find("tests=\"10\" failures=\"4\" errors=\"0\""), std::string::npos) << x;
  std::regex node(
      "name=\"storage-04\"[^>]*>\\s*<failure type=\"fail\" message=\"two-step-stale-gap");
  EXPECT_TRUE(std::regex_search(x, node)) << x;
  EXPECT_NE(x.find("  sysctl -w net.netfilter.nf_conntrack_tcp_be_liberal=1"), std::string::npos);
  EXPECT_NE(
      x.find("/etc/sysctl.d/90-conntrack.conf: net.netfilter.nf_conntrack_tcp_be_liberal = 1"),
      std::string::npos);
  EXPECT_NE(x.find("<property name=\"cause\" value=\"reload-procedure\"/>"), std::string::npos);
  EXPECT_NE(x.find("The reload procedure breaks open connections whatever the change"),
            std::string::npos);
}

TEST(CheckJunit, UnreachableNodeIsAnErrorNeverAPass) {
  std::string x = CheckToJunit(fx::UnreachableReport());
  EXPECT_NE(x.find("failures=\"0\" errors=\"2\""), std::string::npos) << x;
  std::regex node(
      "name=\"storage-07\"[^>]*>\\s*<error type=\"undecided\" message=\"could not "
      "decide: node unreachable: ssh: connect to host storage-07");
  EXPECT_TRUE(std::regex_search(x, node)) << x;
  std::regex fleet(
      "name=\"fleet\"[^>]*>\\s*<error type=\"undecided\" message=\"could not "
      "decide: probe-failed: node could not be probed");
  EXPECT_TRUE(std::regex_search(x, fleet)) << x;
}

TEST(CheckJunit, SkippedStagesAreSkippedWithTheReason) {
  auto r = fx::NoEstablishedReport();
  r.stages[3] = fx::Skipped(fwgate::check::StageId::kReloadLint, "--no-lint given");
  std::string x = CheckToJunit(r);
  EXPECT_NE(x.find("skipped=\"1\""), std::string::npos);
  EXPECT_NE(x.find("<skipped message=\"--no-lint given\"/>"), std::string::npos);
}

TEST(CheckJunit, AVerdictNoCaseShowsStillFailsTheReport) {
  auto r = fx::SafeChangeReport();
  r.verdict = Outcome::kUndecided;
  r.reasons = {"replay: the lab could not be built"};
  std::string x = CheckToJunit(r);
  EXPECT_NE(x.find("classname=\"fwgate.check\" name=\"verdict\""), std::string::npos);
  EXPECT_NE(x.find("errors=\"1\""), std::string::npos);
}

TEST(CheckJunit, HostileTextIsEscaped) {
  std::string x = CheckToJunit(fx::HostileReport());
  ExpectCleanMarkup(x);
  EXPECT_EQ(x.find("<script>"), std::string::npos);
  EXPECT_EQ(x.find("]]>"), std::string::npos);
  EXPECT_NE(x.find("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"),
            std::string::npos);
  EXPECT_NE(x.find("\\x1b[31mred"), std::string::npos);
  // Attribute values stay on one line.
  std::regex multiline_attr("message=\"[^\"]*\n");
  EXPECT_FALSE(std::regex_search(x, multiline_attr));
}

// --- SARIF -------------------------------------------------------------------------------------

json Sarif(const fwgate::check::CheckReport& r) { return json::parse(CheckToSarif(r, kRoot)); }

TEST(CheckSarif, ShapeIsSarif210WithOneRunOfFwgate) {
  json j = Sarif(fx::NoEstablishedReport());
  EXPECT_EQ(j["version"], "2.1.0");
  EXPECT_EQ(j["$schema"], "https://json.schemastore.org/sarif-2.1.0.json");
  ASSERT_EQ(j["runs"].size(), 1u);
  const json& d = j["runs"][0]["tool"]["driver"];
  EXPECT_EQ(d["name"], "fwgate");
  EXPECT_TRUE(
      std::regex_match(d["version"].get<std::string>(), std::regex("[0-9]+\\.[0-9]+\\.[0-9]+")));
  EXPECT_EQ(d["semanticVersion"], d["version"]);
  EXPECT_FALSE(d.contains("informationUri"));
  std::set<std::string> ids;
  for (const auto& rule : d["rules"]) {
    EXPECT_TRUE(ids.insert(rule["id"]).second);
    EXPECT_FALSE(rule["shortDescription"]["text"].get<std::string>().empty());
    EXPECT_FALSE(rule["fullDescription"]["text"].get<std::string>().empty());
    EXPECT_FALSE(rule["help"]["text"].get<std::string>().empty());
    EXPECT_FALSE(rule.contains("helpUri"));
  }
  EXPECT_EQ(ids, (std::set<std::string>{"established-accept-lost", "connections-broken",
                                        "replies-reach-final-drop"}));
  for (const auto& res : j["runs"][0]["results"]) {
    EXPECT_EQ(d["rules"][res["ruleIndex"].get<size_t>()]["id"], res["ruleId"]);
  }
  EXPECT_TRUE(j["runs"][0]["invocations"][0]["executionSuccessful"]);
}

TEST(CheckSarif, RemovedAcceptIsAnErrorOnTheProposedFileWithTheFix) {
  json j = Sarif(fx::NoEstablishedReport());
  const json* res = nullptr;
  for (const auto& x : j["runs"][0]["results"]) {
    if (x["ruleId"] == "established-accept-lost") res = &x;
  }
  ASSERT_NE(res, nullptr);
  EXPECT_EQ((*res)["level"], "error");
  const json& pl = (*res)["locations"][0]["physicalLocation"];
  EXPECT_EQ(pl["artifactLocation"]["uri"], "rulesets/ceph-node-no-established.nft");
  EXPECT_EQ(pl["artifactLocation"]["uriBaseId"], "%SRCROOT%");
  EXPECT_EQ(pl["region"], (json{{"startLine", 45}, {"startColumn", 2}, {"endLine", 57}}));
  std::string msg = (*res)["message"]["text"];
  EXPECT_NE(msg.find("no longer accepts ct state established,related"), std::string::npos);
  EXPECT_NE(msg.find("Fix: put `ct state established,related accept` back"), std::string::npos);
  // The removed rule is in the base revision: named in the text, not a location GitHub would
  // resolve to this revision's file.
  EXPECT_NE(msg.find("See origin/main:rulesets/ceph-node.nft:47:3 (the removed rule)."),
            std::string::npos);
  EXPECT_FALSE(res->contains("relatedLocations"));
}

TEST(CheckSarif, RelatedPlacesInTheWorkTreeAreLinkedLocations) {
  json j = Sarif(fx::NoEstablishedReport());
  const json* res = nullptr;
  for (const auto& x : j["runs"][0]["results"]) {
    if (x["ruleId"] == "replies-reach-final-drop") res = &x;
  }
  ASSERT_NE(res, nullptr);
  EXPECT_EQ((*res)["level"], "warning");
  ASSERT_EQ((*res)["relatedLocations"].size(), 1u);
  const json& rel = (*res)["relatedLocations"][0];
  EXPECT_EQ(rel["id"], 1);
  EXPECT_EQ(rel["physicalLocation"]["region"]["startLine"], 45);
  std::string msg = (*res)["message"]["text"];
  EXPECT_NE(msg.find("See [the chain without the accept](1)."), std::string::npos) << msg;
}

TEST(CheckSarif, FleetFindingsWithoutALineGoOnTheProposedFilesFirstLine) {
  json j = Sarif(fx::Fleet2019Report());
  const json& results = j["runs"][0]["results"];
  const json* gap = nullptr;
  for (const auto& x : results) {
    if (x["ruleId"] == "two-step-stale-gap") gap = &x;
  }
  ASSERT_NE(gap, nullptr);
  EXPECT_EQ((*gap)["level"], "error");
  const json& pl = (*gap)["locations"][0]["physicalLocation"];
  EXPECT_EQ(pl["artifactLocation"]["uri"], "rulesets/ceph-node-safe-change.nft");
  EXPECT_EQ(pl["region"], (json{{"startLine", 1}, {"endLine", 1}}));
  EXPECT_TRUE((*gap)["properties"]["anchored_to_file"]);
  std::string msg = (*gap)["message"]["text"];
  EXPECT_TRUE(msg.starts_with("storage-04: flush-then-load commits twice")) << msg;
  EXPECT_NE(msg.find("Commands: sysctl -w net.netfilter.nf_conntrack_tcp_be_liberal=1."),
            std::string::npos);
  EXPECT_EQ(j["runs"][0]["properties"]["cause"], "reload-procedure");
  EXPECT_TRUE(j["runs"][0]["invocations"][0]["executionSuccessful"]);
}

TEST(CheckSarif, TwoFindingsOfOneRuleOnOneLineAreOneResult) {
  auto r = fx::Fleet2019Report();
  auto second = r.stages[3].findings[0];
  second.node = "storage-09";
  r.stages[3].findings.push_back(second);
  json j = json::parse(CheckToSarif(r, kRoot));
  int n = 0;
  for (const auto& x : j["runs"][0]["results"]) {
    if (x["ruleId"] != "two-step-stale-gap") continue;
    ++n;
    std::string msg = x["message"]["text"];
    EXPECT_TRUE(msg.starts_with("2 findings of this rule here.")) << msg;
    EXPECT_NE(msg.find("storage-04: "), std::string::npos);
    EXPECT_NE(msg.find("storage-09: "), std::string::npos);
    EXPECT_EQ(x["properties"]["nodes"], (json{"storage-04", "storage-09"}));
  }
  EXPECT_EQ(n, 1);
}

TEST(CheckSarif, UndecidedRunIsNotSuccessfulAndNamesTheNode) {
  json j = Sarif(fx::UnreachableReport());
  const json& inv = j["runs"][0]["invocations"][0];
  EXPECT_FALSE(inv["executionSuccessful"]);
  ASSERT_EQ(inv["toolExecutionNotifications"].size(), 1u);
  const json& n = inv["toolExecutionNotifications"][0];
  EXPECT_EQ(n["level"], "error");
  EXPECT_EQ(n["associatedRule"]["id"], "probe-failed");
  std::string text = n["message"]["text"];
  EXPECT_TRUE(text.starts_with("storage-07: node could not be probed: ssh: connect to host"))
      << text;
  for (const auto& x : j["runs"][0]["results"]) EXPECT_NE(x["ruleId"], "probe-failed");
}

TEST(CheckSarif, HostileTextAndPathsStayValid) {
  std::string s = CheckToSarif(fx::HostileReport(), kRoot);
  EXPECT_TRUE(fwgate::IsValidUtf8(s));
  json j = json::parse(s);
  bool found = false;
  for (const auto& x : j["runs"][0]["results"]) {
    std::string uri = x["locations"][0]["physicalLocation"]["artifactLocation"]["uri"];
    EXPECT_EQ(uri.find(' '), std::string::npos);
    if (x["ruleId"] == "established-accept-lost") {
      found = true;
      EXPECT_EQ(uri, "rulesets/we%20ird%231%20%5Bx%5D.nft");
      std::string msg = x["message"]["text"];
      // Square brackets are escaped: no link but the ones fwgate writes.
      EXPECT_NE(msg.find("\\[link\\](http://example.invalid)"), std::string::npos) << msg;
    }
  }
  EXPECT_TRUE(found);
}

// --- GitHub workflow commands ------------------------------------------------------------------

TEST(CheckGithub, OneCommandPerFindingAfterTheVerdict) {
  auto r = fx::NoEstablishedReport();
  std::string g = CheckToGithub(r, kRoot);
  auto lines = Lines(g);
  ASSERT_EQ(lines.size(), 1 + r.AllFindings().size()) << g;
  EXPECT_TRUE(lines[0].starts_with("::error title=fwgate check%3A fail::the gate says no%0A"))
      << lines[0];
  EXPECT_EQ(lines[1].rfind("::error file=rulesets/ceph-node-no-established.nft,line=45,"
                           "endLine=57,col=2,title=fwgate policy%3A established-accept-lost::",
                           0),
            0u)
      << lines[1];
  EXPECT_NE(lines[1].find("%0Afix: put `ct state established,related accept` back"),
            std::string::npos);
  EXPECT_TRUE(lines[2].starts_with("::error title=fwgate replay%3A connections-broken::"))
      << lines[2];
  EXPECT_TRUE(lines[3].starts_with("::warning file=rulesets/ceph-node-no-established.nft,line=55,"))
      << lines[3];
}

TEST(CheckGithub, FleetFindingsHaveNoFileAndUndecidedIsAnError) {
  std::string g = CheckToGithub(fx::Fleet2019Report(), kRoot);
  EXPECT_NE(g.find("::error title=fwgate reload-lint%3A two-step-stale-gap on storage-04::"),
            std::string::npos)
      << g;
  std::string u = CheckToGithub(fx::UnreachableReport(), kRoot);
  EXPECT_TRUE(u.starts_with("::error title=fwgate check%3A undecided::could not decide"));
  EXPECT_NE(u.find("::error title=fwgate fleet%3A probe-failed on storage-07::"),
            std::string::npos);
  std::string p = CheckToGithub(fx::SafeChangeReport(), kRoot);
  EXPECT_TRUE(p.starts_with("::notice title=fwgate check%3A pass::")) << p;
  EXPECT_NE(p.find("\n::notice file=rulesets/ceph-node-safe-change.nft,line=55,endLine=55,col=3,"
                   "title=fwgate policy%3A port-opened-restricted::"),
            std::string::npos)
      << p;
}

TEST(CheckGithub, EscapingFollowsTheRunnerRules) {
  std::string g = CheckToGithub(fx::HostileReport(), kRoot);
  for (const auto& line : Lines(g)) {
    EXPECT_TRUE(line.starts_with("::error ") || line.starts_with("::warning ") ||
                line.starts_with("::notice "))
        << line;
    EXPECT_EQ(line.find('\r'), std::string::npos);
  }
  EXPECT_TRUE(fwgate::IsValidUtf8(g));
  for (unsigned char c : g) {
    if (c < 0x20) {
      EXPECT_EQ(c, '\n');
    }
  }
  // In data: %, CR, LF escaped; ':' and ',' left alone.
  EXPECT_NE(g.find("100%25 done%0D%0A::error::injected, a:b"), std::string::npos) << g;
  // In properties: ':' and ',' escaped too.
  EXPECT_NE(g.find("file=rulesets/we ird#1 [x].nft,line=45"), std::string::npos);
  EXPECT_NE(g.find("title=fwgate check%3A fail::"), std::string::npos);
}

// --- Markdown ----------------------------------------------------------------------------------

TEST(CheckMarkdown, VerdictAndCauseComeFirst) {
  std::string m = CheckToMarkdown(fx::Fleet2019Report());
  auto lines = Lines(m);
  ASSERT_GT(lines.size(), 3u);
  EXPECT_EQ(lines[0], "## \xE2\x9D\x8C fwgate check: **fail** \xE2\x80\x94 the gate says no");
  EXPECT_TRUE(
      lines[2].starts_with("> **The reload procedure breaks open connections whatever "
                           "the change"))
      << lines[2];
  EXPECT_LT(m.find("### Blocking findings (3)"), m.find("### Stages"));
  EXPECT_NE(m.find("`two-step-stale-gap`** \xC2\xB7 reload-lint \xC2\xB7 node storage-04"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("     ```sh\n     sysctl -w net.netfilter.nf_conntrack_tcp_be_liberal=1\n"),
            std::string::npos);
  EXPECT_NE(m.find("| 4 | reload-lint | \xE2\x9D\x8C fail | two-step reload on a 4.15 node"),
            std::string::npos);
  EXPECT_NE(m.find("| storage-04 | `4.15.0-213-generic` | stale-gap | 0 | node2 |"),
            std::string::npos);
  EXPECT_NE(m.find("| replication | **4 of 6** | 5.0 s | **4 of 6** | 5.0 s |"), std::string::npos)
      << m;
}

TEST(CheckMarkdown, BlockingFindingsCarryTheirFileAndLine) {
  std::string m = CheckToMarkdown(fx::NoEstablishedReport());
  EXPECT_NE(m.find("1. **`established-accept-lost`** \xC2\xB7 policy \xC2\xB7 "
                   "`rulesets/ceph-node-no-established.nft:45:2`"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("   - see `origin/main:rulesets/ceph-node.nft:47:3`: the removed rule"),
            std::string::npos);
  EXPECT_NE(m.find("   - **Fix:** put `ct state established,related accept` back as the first "
                   "rule of inet storage input\n"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("<details><summary>Warnings and notes (1)</summary>"), std::string::npos);
  EXPECT_NE(m.find("| remove | rule | inet storage input | `ct state established,related accept"),
            std::string::npos);
}

TEST(CheckMarkdown, UndecidedHasItsOwnSection) {
  std::string m = CheckToMarkdown(fx::UnreachableReport());
  EXPECT_TRUE(m.starts_with("## \xE2\x9A\xA0\xEF\xB8\x8F fwgate check: **undecided**"));
  EXPECT_NE(m.find("### Could not decide (1)"), std::string::npos);
  EXPECT_NE(m.find("| storage-07 | unknown |  | ? |  | \xE2\x9A\xA0\xEF\xB8\x8F undecided | "
                   "unreachable: ssh: connect to host storage-07 port 22: Connection timed out |"),
            std::string::npos)
      << m;
}

TEST(CheckMarkdown, HostileTextCannotFormatLinkMentionOrSplitCells) {
  std::string m = CheckToMarkdown(fx::HostileReport());
  EXPECT_TRUE(fwgate::IsValidUtf8(m));
  // Outside code spans and blocks (where GFM takes text literally), nothing is live.
  std::string prose;
  std::string fence;
  for (const auto& line : Lines(m)) {
    std::string t = line.substr(std::min(line.find_first_not_of(' '), line.size()));
    if (fence.empty() && t.starts_with("```")) {
      fence = t.substr(0, t.find_first_not_of('`'));
    } else if (!fence.empty() && t == fence) {
      fence.clear();
    } else if (fence.empty()) {
      prose += line + "\n";
    }
  }
  prose = std::regex_replace(prose, std::regex("``.*?``|`[^`\n]*`"), "");
  EXPECT_EQ(prose.find("<script>"), std::string::npos);
  EXPECT_NE(prose.find("\\<script\\>"), std::string::npos);
  EXPECT_NE(prose.find("\\[link\\](http://example.invalid)"), std::string::npos);
  EXPECT_EQ(prose.find("@storage-team"), std::string::npos);
  EXPECT_NE(prose.find("@\xE2\x80\x8Bstorage-team"), std::string::npos);
  // Every table row keeps its column count: no unescaped '|' from the text.
  for (const auto& line : Lines(m)) {
    if (!line.starts_with("| storage-01 ")) continue;
    size_t pipes = 0;
    for (size_t i = 0; i < line.size(); ++i)
      pipes += line[i] == '|' && (i == 0 || line[i - 1] != '\\');
    EXPECT_EQ(pipes, 8u) << line;
  }
  // A fence longer than any backtick run in the command.
  EXPECT_NE(m.find("     ````sh\n"), std::string::npos);
}

TEST(CheckMarkdown, OnlyRealMentionsAreDefused) {
  auto r = fx::SafeChangeReport();
  r.reasons = {"ask @storage-team, accept from @mgmt_nets, mail admin@example.com or @org/ceph."};
  std::string m = CheckToMarkdown(r);
  EXPECT_NE(m.find("1. ask @\xE2\x80\x8Bstorage-team, accept from @mgmt_nets, mail "
                   "admin@example.com or @\xE2\x80\x8Borg/ceph.\n"),
            std::string::npos)
      << m;
}

// --- HTML --------------------------------------------------------------------------------------

TEST(CheckHtml, OnePageWithoutScriptOrNetwork) {
  std::string h = CheckToHtml(fx::NoEstablishedReport());
  EXPECT_TRUE(h.starts_with("<!DOCTYPE html>"));
  EXPECT_EQ(h.find("<script"), std::string::npos);
  EXPECT_NE(h.find("Content-Security-Policy\" content=\"default-src 'none'"), std::string::npos);
  // The only URL is the SVG namespace name (an identifier, never fetched).
  std::regex url("(https?|ftp)://");
  std::string no_ns = std::regex_replace(h, std::regex("http://www\\.w3\\.org/2000/svg"), "");
  EXPECT_FALSE(std::regex_search(no_ns, url));
  EXPECT_EQ(h.find(" src="), std::string::npos);
  EXPECT_EQ(h.find("<link"), std::string::npos);
  ExpectCleanMarkup(h);
}

TEST(CheckHtml, BannerFindingsPlanNodesAndStages) {
  std::string h = CheckToHtml(fx::NoEstablishedReport());
  EXPECT_NE(h.find("<header class=\"fail\">"), std::string::npos);
  EXPECT_NE(h.find("<div class=\"verdict\">fail</div><h1>fwgate check: the gate says no</h1>"),
            std::string::npos);
  EXPECT_NE(h.find("This change breaks open connections"), std::string::npos);
  EXPECT_NE(h.find("<code class=\"fid\">established-accept-lost</code>"), std::string::npos);
  EXPECT_NE(h.find("<code class=\"loc\">rulesets/ceph-node-no-established.nft:45:2</code>"),
            std::string::npos);
  EXPECT_NE(h.find("<div class=\"fixlabel\">Fix</div><p>put <code>ct state established,related "
                   "accept</code> back"),
            std::string::npos);
  // Warnings fold away under the blocking findings.
  EXPECT_LT(h.find("<details><summary>Warnings and notes (1)</summary>"),
            h.find("replies-reach-final-drop</code>"));
  EXPECT_NE(h.find("<tr class=\"op-remove\"><td><strong>remove</strong></td><td>rule</td>"),
            std::string::npos);
  EXPECT_NE(h.find("<td><strong>storage-02</strong></td>"), std::string::npos);
  EXPECT_NE(h.find("<td><strong>reload-lint</strong></td>"), std::string::npos);
  // Blocking findings first.
  EXPECT_LT(h.find("established-accept-lost</code>"), h.find("replies-reach-final-drop</code>"));
  EXPECT_LT(h.find("connections-broken</code>"), h.find("replies-reach-final-drop</code>"));
}

// The y of each point of one class's line in one run's chart.
std::vector<double> SeriesY(const std::string& h, const std::string& run, const std::string& cls) {
  size_t at = h.find("data-run=\"" + run + "\">\n");  // the <svg> element's attribute
  std::vector<double> ys;
  if (at == std::string::npos) return ys;
  size_t p = h.find("data-class=\"" + cls + "\"", at);
  size_t pts = h.find(" points=\"", p) + 9;
  std::string list = h.substr(pts, h.find('"', pts) - pts);
  std::regex pair("([0-9.]+),([0-9.]+)");
  for (auto it = std::sregex_iterator(list.begin(), list.end(), pair); it != std::sregex_iterator();
       ++it) {
    ys.push_back(std::stod((*it)[2]));
  }
  return ys;
}

TEST(CheckHtml, ThroughputChartsShowTheStallAfterTheReload) {
  std::string h = CheckToHtml(fx::NoEstablishedReport());
  EXPECT_EQ(Count(h, "<svg class=\"chart\""), 2u);
  EXPECT_EQ(Count(h, "<g class=\"reload\">"), 2u);
  EXPECT_EQ(Count(h, ">MB/s (log scale)</text>"), 2u);
  EXPECT_EQ(Count(h, ">seconds from the reload</text>"), 2u);
  for (const char* cls : {"replication", "heartbeat", "client", "mon"}) {
    EXPECT_EQ(Count(h, "<polyline class=\"series\" data-class=\"" + std::string(cls) +
                           "\" data-points=\"89\""),
              2u)
        << cls;
    auto base = SeriesY(h, "baseline", cls);
    auto prop = SeriesY(h, "proposed", cls);
    ASSERT_EQ(base.size(), 89u) << cls;  // the last, partial bucket is not drawn
    ASSERT_EQ(prop.size(), 89u) << cls;
    const double zero_row = 280.0;
    // Before the reload both runs carry traffic; from 0.3 s after it (past the 0.5 s mean) the
    // proposed run carries none (every connection stalled) and the baseline still does.
    for (size_t i = 0; i < 28; ++i) {
      EXPECT_LT(base[i], zero_row) << cls << " " << i;
      EXPECT_LT(prop[i], zero_row) << cls << " " << i;
    }
    for (size_t i = 33; i < 89; ++i) {
      EXPECT_DOUBLE_EQ(prop[i], zero_row) << cls << " " << i;
      EXPECT_LT(base[i], zero_row) << cls << " " << i;
    }
  }
  EXPECT_NE(h.find("<g class=\"legend\">"), std::string::npos);
}

TEST(CheckHtml, Fleet2019ChartsShowBothRunsDippingAfterTheGap) {
  std::string h = CheckToHtml(fx::Fleet2019Report());
  EXPECT_NE(h.find("The reload procedure breaks open connections whatever the change"),
            std::string::npos);
  auto base = SeriesY(h, "baseline", "replication");
  auto prop = SeriesY(h, "proposed", "replication");
  ASSERT_EQ(base.size(), 89u);
  // Two thirds of replication runs on: lower (larger y) than before, but above the 0 row.
  EXPECT_GT(base[60], base[10]);
  EXPECT_LT(base[60], 280.0);
  EXPECT_EQ(base, prop);
  EXPECT_NE(h.find("<td><code>node2</code></td><td>storage-04</td><td>stale-gap</td>"),
            std::string::npos);
}

TEST(CheckHtml, LongReplaysAreAveragedToABoundedNumberOfPoints) {
  auto r = fx::NoEstablishedReport();
  for (auto* run : {&*r.baseline, &*r.proposed_run}) {
    auto& tl = run->report.timeline;
    for (auto& [cls, buckets] : tl.series) {
      std::vector<uint64_t> longer;
      for (int k = 0; k < 100; ++k) longer.insert(longer.end(), buckets.begin(), buckets.end());
      buckets = longer;  // 9000 buckets: 15 minutes
    }
  }
  std::string h = CheckToHtml(r);
  EXPECT_EQ(Count(h, "data-class=\"replication\" data-points=\"1125\""), 2u);
  EXPECT_LT(h.size(), 600000u);
}

TEST(CheckHtml, MissingReplaySaysWhy) {
  auto r = fx::NoEstablishedReport();
  r.baseline.reset();
  r.proposed_run.reset();
  r.stages[5] = fx::Skipped(fwgate::check::StageId::kReplay, "the policy stage already says no");
  std::string h = CheckToHtml(r);
  EXPECT_EQ(h.find("<svg"), std::string::npos);
  EXPECT_NE(h.find("No lab replay ran: the policy stage already says no."), std::string::npos);
  EXPECT_NE(h.find("<span class=\"pill skipped\">skipped</span>"), std::string::npos);
}

TEST(CheckHtml, HostileTextIsEscapedEverywhere) {
  std::string h = CheckToHtml(fx::HostileReport());
  ExpectCleanMarkup(h);
  EXPECT_EQ(h.find("<script"), std::string::npos);
  EXPECT_EQ(Count(h, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"),
            Count(h, "&lt;script&gt;"));
  EXPECT_GE(Count(h, "&lt;script&gt;"), 8u);
  EXPECT_EQ(h.find("href="), std::string::npos);
}

}  // namespace
