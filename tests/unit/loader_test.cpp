// Loader pieces that need no kernel: nft error text to diagnostics, file pre-checks, the
// interface pre-scan and the unsupported/invalid classification.
#include "gate/nft/loader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace fwgate::nft {
namespace {

// Captured from `unshare -n nft -f` (nftables 1.0.6, kernel 6.18).
constexpr std::string_view kTwoSyntaxErrors =
    "e.nft:2:66-66: Error: syntax error, unexpected newline\n"
    "  chain c { type filter hook input priority 0; tcp dport 22 acept\n"
    "                                                                 ^\n"
    "e.nft:4:21-21: Error: syntax error, unexpected '}', expecting newline or semicolon\n"
    "  chain d { foo bar }\n"
    "                    ^\n";

TEST(NftErrorParser, ParsesEveryLocatedErrorWithSourceLine) {
  auto d = ParseNftErrors(kTwoSyntaxErrors, "fallback");
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].file, "e.nft");
  EXPECT_EQ(d[0].line, 2);
  EXPECT_EQ(d[0].column, 66);
  EXPECT_EQ(d[0].message, "Error: syntax error, unexpected newline");
  EXPECT_EQ(d[0].source_line, "  chain c { type filter hook input priority 0; tcp dport 22 acept");
  EXPECT_EQ(d[0].ToString(), "e.nft:2:66: Error: syntax error, unexpected newline");
  EXPECT_EQ(d[1].line, 4);
  EXPECT_EQ(d[1].column, 21);
}

TEST(NftErrorParser, KeepsUnderlinedTextForWideSpansWithTabs) {
  auto d = ParseNftErrors(
      "/x/secmark.nft:14:10-19: Error: Could not process rule: No such file or directory\n"
      "\tsecmark ssh_server {\n"
      "\t        ^^^^^^^^^^\n",
      "f");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].end_column, 19);
  EXPECT_EQ(d[0].LocatedText(), "ssh_server");
}

TEST(NftErrorParser, MessagesWithoutLocationGetTheDefaultFile) {
  auto d = ParseNftErrors(
      "internal:0:0-0: Error: Could not open file \"/nope.nft\": No such file or directory\n\n\n"
      "netlink: Error: cache initialization failed: Operation not permitted\n",
      "rules.nft");
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].file, "rules.nft");
  EXPECT_EQ(d[0].line, 0);
  EXPECT_EQ(d[0].ToString(),
            "rules.nft: Error: Could not open file \"/nope.nft\": No such file or directory");
  EXPECT_EQ(d[1].message, "netlink: Error: cache initialization failed: Operation not permitted");
}

TEST(NftErrorParser, FileNamesWithColonsAndMultiLineSpans) {
  auto d = ParseNftErrors(
      "dir:a/b.nft:3:5-4:2: Error: odd span\nsrc\n    ^\n"
      "c.nft:7:1: Warning: no end column\nsrc2\n^\n",
      "f");
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].file, "dir:a/b.nft");
  EXPECT_EQ(d[0].line, 3);
  EXPECT_EQ(d[0].column, 5);
  EXPECT_EQ(d[0].end_column, 0);  // spans lines: no single-line end
  EXPECT_EQ(d[1].message, "Warning: no end column");
}

TEST(NftErrorParser, SourceLineThatLooksLikeAnErrorIsNotAMessage) {
  auto d = ParseNftErrors(
      "f.nft:1:1-3: Error: real\n"
      "x.nft:9:9-9: Error: fake, this is the source line\n"
      "^^^\n",
      "f");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].message, "Error: real");
}

TEST(NftErrorParser, SurvivesHostileText) {
  std::string junk = "::::: Error: \n:99999999999999:1: Error: huge\n\x01\x02\xff\n";
  junk += std::string(10000, ':') + "1:2: Error: long\n";
  junk += "f:1:-5: Error: negative\n^^^^\n~~~\n";
  auto d = ParseNftErrors(junk, "f");
  EXPECT_FALSE(d.empty());
  for (const auto& x : d) {
    EXPECT_GE(x.line, 0);
    EXPECT_GE(x.column, 0);
    (void)x.LocatedText();  // must not read out of range
  }
  // Location past the end of the echoed line: no located text, no crash.
  Diagnostic out_of_range{"f", 1, 50, "Error: x", 60, "short"};
  EXPECT_EQ(out_of_range.LocatedText(), "");
}

TEST(NftErrorParser, EmptyTextGivesNoDiagnostics) {
  EXPECT_TRUE(ParseNftErrors("", "f").empty());
  EXPECT_TRUE(ParseNftErrors("\n\n", "f").empty());
}

class PrecheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("fwgate-loader-unit-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& content) {
    auto p = dir_ / name;
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }
  static std::string MessageOf(const std::variant<PrecheckedFile, LoadResult>& v) {
    const auto* r = std::get_if<LoadResult>(&v);
    if (r == nullptr) return "<accepted>";
    EXPECT_EQ(r->status, LoadStatus::kInvalid);
    EXPECT_EQ(r->diagnostics.size(), 1u);
    EXPECT_EQ(r->diagnostics[0].line, 0);  // "FILE: message", never FILE:0:0
    return r->diagnostics[0].ToString();
  }
  std::filesystem::path dir_;
};

TEST_F(PrecheckTest, RejectsMissingFile) {
  std::string p = (dir_ / "nope.nft").string();
  EXPECT_EQ(MessageOf(PrecheckRulesetFile(p)), p + ": cannot open: No such file or directory");
}

TEST_F(PrecheckTest, RejectsDirectory) {
  EXPECT_EQ(MessageOf(PrecheckRulesetFile(dir_.string())),
            dir_.string() + ": is a directory, not a ruleset file");
}

TEST_F(PrecheckTest, RejectsEmptyAndCommentOnlyFiles) {
  EXPECT_NE(MessageOf(PrecheckRulesetFile(Write("e.nft", ""))).find("nothing to validate"),
            std::string::npos);
  EXPECT_NE(MessageOf(PrecheckRulesetFile(Write("c.nft", "  # a\n\n\t#b\n   \n")))
                .find("nothing to validate"),
            std::string::npos);
}

TEST_F(PrecheckTest, RejectsBinaryContent) {
  EXPECT_NE(MessageOf(PrecheckRulesetFile(Write("n.nft", std::string("table\0x", 7))))
                .find("NUL byte at offset 5"),
            std::string::npos);
  EXPECT_NE(MessageOf(PrecheckRulesetFile(Write("u.nft", "table inet t \xc3\x28 {}\n")))
                .find("invalid UTF-8 at byte offset 13"),
            std::string::npos);
  // Overlong encoding and a UTF-16 surrogate are not UTF-8 either.
  EXPECT_NE(MessageOf(PrecheckRulesetFile(Write("o.nft", "x \xc0\xaf\n"))).find("UTF-8"),
            std::string::npos);
  EXPECT_NE(MessageOf(PrecheckRulesetFile(Write("s.nft", "x \xed\xa0\x80\n"))).find("UTF-8"),
            std::string::npos);
}

TEST_F(PrecheckTest, AcceptsUtf8CommentsAndReturnsContent) {
  auto v = PrecheckRulesetFile(Write("ok.nft", "# réseau — Ceph\ntable inet t {}\n"));
  ASSERT_TRUE(std::holds_alternative<PrecheckedFile>(v));
  EXPECT_EQ(std::get<PrecheckedFile>(v).content, "# réseau — Ceph\ntable inet t {}\n");
}

TEST_F(PrecheckTest, RejectsFilesOverTheSizeLimit) {
  std::string p = Write("big.nft", "table inet t {}\n" + std::string(2000, '#'));
  EXPECT_NE(MessageOf(PrecheckRulesetFile(p, 1024)).find("too large"), std::string::npos);
  EXPECT_TRUE(std::holds_alternative<PrecheckedFile>(PrecheckRulesetFile(p, 1 << 20)));
}

TEST(InterfaceScan, FindsIifOifDeviceAndDevicesThroughDefines) {
  auto names = ScanInterfaceNames(
      "define uplinks = { \"ens1f0\", ens1f1 }\n"
      "define one = eth9\n"
      "table inet t {\n"
      "  flowtable f { hook ingress priority 0; devices = { eth0, \"eth1\" }; }\n"
      "  chain c { iif \"eth2\" accept; oif != eth3 drop; iif $uplinks accept\n"
      "            meta iif { $one, eth4 } accept\n"
      "            iifname \"notme\" accept  # iif commented\n"
      "            iif vmap { \"eth5\" : accept, eth6 : drop } }\n"
      "}\n"
      "table netdev n { chain i { type filter hook ingress device bond0 priority 0; } }\n");
  std::vector<std::string> want = {"eth0", "eth1", "eth2", "eth3", "ens1f0", "ens1f1",
                                   "eth9", "eth4", "eth5", "eth6", "bond0"};
  EXPECT_EQ(names, want);
}

TEST(InterfaceScan, IgnoresFibResultsSetReferencesAndInvalidNames) {
  auto names = ScanInterfaceNames(
      "chain c { fib saddr . iif oif missing drop\n"
      "  iif @allowed accept\n"
      "  iif \"bad/name\" accept\n"
      "  oif \"averyveryverylongname\" accept\n"
      "  iif 3 accept }\n");
  EXPECT_TRUE(names.empty()) << names.front();
}

TEST(InterfaceScan, NamesFromInterfaceDoesNotExistErrors) {
  auto d = ParseNftErrors(
      "d.nft:3:75-80: Error: Interface does not exist\n"
      "  chain c { type filter hook input priority 0; oifname \"eth0\" accept; iif \"eth7\" "
      "accept\n"
      "                                                                          ^^^^^^\n"
      "d.nft:4:7-16: Error: Interface does not exist\n"
      "  iif \"bad/name\" accept\n"
      "      ^^^^^^^^^^\n"
      "d.nft:1:16-21: Error: Interface does not exist\n"
      "define ifs = { \"eth4\", eth5 }\n"
      "               ^^^^^^\n"
      "d.nft:6:7-10: Error: Interface does not exist\n"
      "  oif eth8 accept\n"
      "      ^^^^\n",
      "d.nft");
  EXPECT_EQ(MissingInterfacesFromDiagnostics(d),
            (std::vector<std::string>{"eth7", "eth4", "eth8"}));
}

TEST(MissingTables, DeleteOfAnAbsentTableNamesIt) {
  auto d = ParseNftErrors(
      "s.nft:22:14-19: Error: No such file or directory; did you mean table 'filter' in family "
      "ip?\n"
      "delete table filter\n"
      "             ^^^^^^\n"
      "s.nft:23:18-21: Error: No such file or directory\n"
      "flush table inet host;\n"
      "                 ^^^^\n"
      "s.nft:24:1-4: Error: No such file or directory\n"
      "add rule inet x y accept\n"
      "^^^^\n",
      "s.nft");
  EXPECT_EQ(MissingTablesFromDiagnostics(d), (std::vector<std::string>{"ip filter", "inet host"}));
}

Diagnostic Kernel(std::string source, int col, int end, std::string msg) {
  return Diagnostic{"f.nft", 3, col, std::move(msg), end, std::move(source)};
}

TEST(Classify, SecmarkDeclarationWithoutLsmIsUnsupported) {
  auto why = UnsupportedReason(Kernel("\tsecmark ssh_server {", 10, 19,
                                      "Error: Could not process rule: No such file or directory"));
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("secmark"), std::string::npos);
  EXPECT_NE(why->find("ssh_server"), std::string::npos);
}

TEST(Classify, JumpToMissingChainIsTheFilesFault) {
  EXPECT_FALSE(UnsupportedReason(Kernel("\t\ttcp dport 22 jump ssh_checks", 21, 30,
                                        "Error: Could not process rule: No such file or directory"))
                   .has_value());
  EXPECT_FALSE(UnsupportedReason(Kernel("  goto nothere", 8, 14,
                                        "Error: Could not process rule: No such file or directory"))
                   .has_value());
  // A reference to a set or object the file does not define, too.
  EXPECT_FALSE(UnsupportedReason(Kernel("  flow add @ft", 3, 14,
                                        "Error: Could not process rule: No such file or directory"))
                   .has_value());
  EXPECT_FALSE(UnsupportedReason(Kernel("  tcp dport 22 acept", 16, 20,
                                        "Error: syntax error, unexpected newline"))
                   .has_value());
}

TEST(Classify, NotSupportedAndMissingModulesAreUnsupported) {
  auto eop = UnsupportedReason(Kernel("\tchain prerouting {", 8, 17,
                                      "Error: Could not process rule: Operation not supported"));
  ASSERT_TRUE(eop.has_value());
  EXPECT_NE(eop->find("chain 'prerouting'"), std::string::npos);
  EXPECT_TRUE(UnsupportedReason(Kernel("  meta mark set numgen inc mod 2", 17, 32,
                                       "Error: Could not process rule: No such file or directory"))
                  .has_value());
  EXPECT_TRUE(UnsupportedReason(Kernel("\tflowtable ft {", 12, 13,
                                       "Error: Could not process rule: No such file or directory"))
                  .has_value());
}

}  // namespace
}  // namespace fwgate::nft
