// Text made safe for JSON (valid UTF-8), terminals (no control characters) and Prometheus
// (escaped label values and HELP), plus wrapping to a width.
#include "base/text.h"

#include <gtest/gtest.h>

using namespace fwgate;

TEST(Text, ValidUtf8ReplacesEveryBadByteAndKeepsGoodText) {
  EXPECT_EQ(ValidUtf8("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(ValidUtf8("caf\xe9"), "caf\xef\xbf\xbd");  // Latin-1
  EXPECT_EQ(ValidUtf8("\xff\xfe"), "\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(ValidUtf8("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd");                  // overlong '/'
  EXPECT_EQ(ValidUtf8("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // surrogate
  EXPECT_EQ(ValidUtf8("a\xe2\x82"), "a\xef\xbf\xbd\xef\xbf\xbd");  // truncated sequence
  EXPECT_TRUE(IsValidUtf8("\xf0\x9f\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // past U+10FFFF
}

TEST(Text, TerminalSafeShowsControlsAsEscapes) {
  EXPECT_EQ(TerminalSafe("a\x1b[31mb"), "a\\x1b[31mb");
  EXPECT_EQ(TerminalSafe("l1\nl2\t\x7f"), "l1\\nl2\\t\\x7f");
  EXPECT_EQ(TerminalSafe("\xc2\x9b"
                         "2J"),
            "\\u009b2J");  // C1 CSI
  EXPECT_EQ(TerminalSafe("\xff"), "\xef\xbf\xbd");
  EXPECT_EQ(TerminalSafe("\xc2\xa0ok"), "\xc2\xa0ok");  // U+00A0 is not a control
}

TEST(Text, PrometheusEscapes) {
  EXPECT_EQ(PrometheusLabelValue("a\"b\\c\nd\x01\xff"), "a\\\"b\\\\c\\nd\\\\x01\xef\xbf\xbd");
  EXPECT_EQ(PrometheusHelp("x\\y\nz\"q"), "x\\\\y\\nz\"q");
}

TEST(Text, Utf8PrefixCutsAtACharacterBoundary) {
  EXPECT_EQ(Utf8Prefix("ab\xc3\xa9", 3), "ab");
  EXPECT_EQ(Utf8Prefix("abc", 10), "abc");
}

TEST(Text, WrapTextKeepsLinesWithinTheWidth) {
  std::string long_text;
  for (int i = 0; i < 50; ++i) long_text += "word" + std::to_string(i) + " ";
  long_text += std::string(250, 'x');
  std::string w = WrapText(long_text, 40, 4);
  size_t pos = 0;
  while (pos < w.size()) {
    size_t nl = w.find('\n', pos);
    std::string line = w.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    EXPECT_LE(line.size(), 40u) << line;
    if (pos > 0) EXPECT_EQ(line.rfind("    ", 0), 0u) << line;
    pos = nl == std::string::npos ? w.size() : nl + 1;
  }
  EXPECT_EQ(WrapText("short text", 40, 4), "short text");
}
