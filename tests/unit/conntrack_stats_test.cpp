// ParseProcConntrackStats on captured /proc/net/stat/nf_conntrack texts (4.x and 6.x headers) and
// on hostile text: truncated, garbage, huge.
#include "sys/conntrack_stats.h"

#include <gtest/gtest.h>

#include <string>

using fwgate::sys::ConntrackStats;
using fwgate::sys::ParseProcConntrackStats;

namespace {

// 4.15-era header (searched/delete_list columns still printed), two CPUs.
constexpr const char* k4xText =
    "entries  searched found new invalid ignore delete delete_list insert insert_failed drop "
    "early_drop icmp_error  expect_new expect_create expect_delete search_restart\n"
    "0000002a  00000000 00000010 00000000 00000003 00000005 00000000 00000000 00000000 00000000 "
    "00000001 00000000 00000002  00000000 00000000 00000000 00000004\n"
    "0000002a  00000000 000000f0 00000000 00000001 00000000 00000000 00000000 00000000 00000000 "
    "00000000 00000007 00000000  00000000 00000000 00000000 00000000\n";

// 6.18 header, captured from the lab machine, with non-zero values added.
constexpr const char* k6xText =
    "entries  clashres found new invalid ignore delete chainlength insert insert_failed drop "
    "early_drop icmp_error  expect_new expect_create expect_delete search_restart\n"
    "00000005  00000001 00000000 00000000 0000000b 00000000 00000000 00000002 00000000 00000000 "
    "00000000 00000000 00000000  00000000 00000000 00000000 00000000\n"
    "00000005  00000000 00000000 00000000 00000001 00000000 00000000 00000000 00000000 00000000 "
    "00000003 00000000 00000000  00000000 00000000 00000000 00000000\n";

}  // namespace

TEST(ConntrackStatsParse, Sums4xColumnsAcrossCpusAndTakesCountFromEntries) {
  auto s = ParseProcConntrackStats(k4xText);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  ASSERT_TRUE(s->count.has_value());
  EXPECT_EQ(*s->count, 42u);  // not 84: every row repeats the netns count
  EXPECT_EQ(s->Get("found"), 0x100u);
  EXPECT_EQ(s->Get("invalid"), 4u);
  EXPECT_EQ(s->Get("ignore"), 5u);
  EXPECT_EQ(s->Get("drop"), 1u);
  EXPECT_EQ(s->Get("early_drop"), 7u);
  EXPECT_EQ(s->Get("error"), 2u);  // icmp_error, named like conntrack -S
  EXPECT_EQ(s->Get("search_restart"), 4u);
  EXPECT_FALSE(s->max.has_value());
}

TEST(ConntrackStatsParse, Maps6xColumnNamesToConntrackSNames) {
  auto s = ParseProcConntrackStats(k6xText);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(s->count.value_or(0), 5u);
  EXPECT_EQ(s->Get("invalid"), 12u);
  EXPECT_EQ(s->Get("clash_resolve"), 1u);
  EXPECT_EQ(s->Get("chaintoolong"), 2u);
  EXPECT_EQ(s->Get("drop"), 3u);
  EXPECT_EQ(s->counters.count("clashres"), 0u);
  EXPECT_EQ(s->counters.count("chainlength"), 0u);
}

TEST(ConntrackStatsParse, AbsentCounterReadsZero) {
  auto s = ParseProcConntrackStats(k4xText);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->Get("chaintoolong"), 0u);
  EXPECT_EQ(s->counters.count("chaintoolong"), 0u);
}

TEST(ConntrackStatsParse, RejectsHeaderOnlyAsTruncated) {
  std::string text(k6xText);
  text = text.substr(0, text.find('\n') + 1);
  EXPECT_FALSE(ParseProcConntrackStats(text).ok());
  EXPECT_FALSE(ParseProcConntrackStats("").ok());
}

TEST(ConntrackStatsParse, RejectsRowCutMidLine) {
  std::string text(k6xText);
  text.resize(text.size() - 40);
  auto s = ParseProcConntrackStats(text);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().context.find("fields"), std::string::npos);
}

TEST(ConntrackStatsParse, RejectsGarbage) {
  for (const char* bad : {
           "hello world\nthis is not stats\n",
           "entries found\n0000zz01 00000000\n",
           "entries found\n-1 2\n",
           "<html><body>Not Found</body></html>\n",
           "entries found\n00000001 000000000000000000000001\n",
           "\x01\x02\x03\n\xff\xfe",
       }) {
    EXPECT_FALSE(ParseProcConntrackStats(bad).ok()) << bad;
  }
}

TEST(ConntrackStatsParse, RejectsMegabytesWithoutCrashing) {
  std::string huge = "entries found\n";
  while (huge.size() < (8u << 20)) huge += "00000001 00000001\n";
  EXPECT_FALSE(ParseProcConntrackStats(huge).ok());
  std::string one_line(3u << 20, 'a');
  EXPECT_FALSE(ParseProcConntrackStats(one_line).ok());
}

TEST(ConntrackStatsParse, SaturatesInsteadOfOverflowing) {
  auto s = ParseProcConntrackStats(
      "entries found\n00000001 ffffffffffffffff\n00000001 ffffffffffffffff\n");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->Get("found"), UINT64_MAX);
}

TEST(ConntrackStats, DeltaSinceSubtractsPerCounterAndSaturates) {
  ConntrackStats before;
  before.counters = {{"invalid", 10}, {"drop", 5}};
  ConntrackStats after;
  after.counters = {{"invalid", 25}, {"drop", 3}, {"early_drop", 2}};
  after.count = 7;
  after.max = 100;
  ConntrackStats d = after.DeltaSince(before);
  EXPECT_EQ(d.Get("invalid"), 15u);
  EXPECT_EQ(d.Get("drop"), 0u);  // counter went backwards (e.g. CPU offlined): no wrap
  EXPECT_EQ(d.Get("early_drop"), 2u);
  EXPECT_EQ(d.count.value_or(0), 7u);
  EXPECT_EQ(d.max.value_or(0), 100u);
}
