#include "base/text.h"

namespace fwgate {
namespace {

// Length of the well-formed UTF-8 sequence at s[i], or 0 when the byte there starts none.
size_t SeqLen(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
  if (n == 0 || c > 0xF4 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k)
    if ((b(i + k) & 0xC0) != 0x80) return 0;
  unsigned char c1 = b(i + 1);
  if (c == 0xE0 && c1 < 0xA0) return 0;  // overlong
  if (c == 0xED && c1 > 0x9F) return 0;  // surrogate
  if (c == 0xF0 && c1 < 0x90) return 0;  // overlong
  if (c == 0xF4 && c1 > 0x8F) return 0;  // past U+10FFFF
  return n;
}

constexpr char kHex[] = "0123456789abcdef";
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

void Hex(std::string& o, unsigned char c) {
  o += "\\x";
  o += kHex[c >> 4];
  o += kHex[c & 15];
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t n = SeqLen(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string ValidUtf8(std::string_view s) {
  if (IsValidUtf8(s)) return std::string(s);
  std::string o;
  o.reserve(s.size() + 16);
  for (size_t i = 0; i < s.size();) {
    size_t n = SeqLen(s, i);
    if (n == 0) {
      o += kReplacement;
      ++i;
    } else {
      o.append(s.substr(i, n));
      i += n;
    }
  }
  return o;
}

std::string TerminalSafe(std::string_view in) {
  std::string s = ValidUtf8(in);
  std::string o;
  o.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\n') {
      o += "\\n";
    } else if (c == '\t') {
      o += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      Hex(o, c);
    } else if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) < 0xA0) {
      // C1 controls U+0080..U+009F (0xC2 0x80..0x9F): CSI and friends on some terminals.
      unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
      o += "\\u00";
      o += kHex[c1 >> 4];
      o += kHex[c1 & 15];
      ++i;
    } else {
      o += static_cast<char>(c);
    }
  }
  return o;
}

std::string PrometheusLabelValue(std::string_view in) {
  std::string s = ValidUtf8(in);
  std::string o;
  o.reserve(s.size());
  for (unsigned char c : s) {
    if (c == '\\') {
      o += "\\\\";
    } else if (c == '"') {
      o += "\\\"";
    } else if (c == '\n') {
      o += "\\n";
    } else if (c < 0x20 || c == 0x7f) {
      o += '\\';  // "\\xHH": a literal backslash, then the code, as text
      Hex(o, c);
    } else {
      o += static_cast<char>(c);
    }
  }
  return o;
}

std::string PrometheusHelp(std::string_view in) {
  std::string s = ValidUtf8(in);
  std::string o;
  o.reserve(s.size());
  for (unsigned char c : s) {
    if (c == '\\') {
      o += "\\\\";
    } else if (c == '\n') {
      o += "\\n";
    } else if (c < 0x20 || c == 0x7f) {
      o += '\\';
      Hex(o, c);
    } else {
      o += static_cast<char>(c);
    }
  }
  return o;
}

std::string ControlsAsText(std::string_view in, std::string_view keep) {
  std::string s = ValidUtf8(in);
  std::string o;
  o.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if ((c < 0x20 || c == 0x7f) && keep.find(static_cast<char>(c)) == std::string_view::npos) {
      Hex(o, c);
    } else if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) < 0xA0) {
      unsigned char c1 = static_cast<unsigned char>(s[i + 1]);  // C1 control U+0080..U+009F
      o += "\\u00";
      o += kHex[c1 >> 4];
      o += kHex[c1 & 15];
      ++i;
    } else {
      o += static_cast<char>(c);
    }
  }
  return o;
}

std::string XmlSafe(std::string_view in) {
  std::string s = ControlsAsText(in, "\t\n\r");  // the only controls XML 1.0 allows
  std::string o;
  o.reserve(s.size() + s.size() / 8);
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '&':
        o += "&amp;";
        break;
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '"':
        o += "&quot;";
        break;
      case '\'':
        o += "&#39;";
        break;
      default:
        if (c == 0xEF && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0xBF &&
            (static_cast<unsigned char>(s[i + 2]) == 0xBE ||
             static_cast<unsigned char>(s[i + 2]) == 0xBF)) {
          o += kReplacement;  // U+FFFE, U+FFFF: not XML 1.0 characters
          i += 2;
        } else {
          o += static_cast<char>(c);
        }
    }
  }
  return o;
}

std::string_view Utf8Prefix(std::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return s.substr(0, end);
}

std::string WrapText(std::string_view s, size_t width, size_t indent) {
  if (width <= indent + 10) width = indent + 10;
  auto columns = [](std::string_view w) {
    size_t n = 0;
    for (unsigned char c : w) n += (c & 0xC0) != 0x80;
    return n;
  };
  std::string o;
  size_t col = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t sp = s.find(' ', i);
    std::string_view word = s.substr(i, sp == std::string_view::npos ? s.size() - i : sp - i);
    i = sp == std::string_view::npos ? s.size() : sp + 1;
    if (word.empty()) continue;
    size_t wl = columns(word);
    if (col > 0 && col + 1 + wl > width) {
      o += '\n';
      o.append(indent, ' ');
      col = indent;
    } else if (col > 0) {
      o += ' ';
      ++col;
    }
    // A word wider than a whole line is cut at character boundaries.
    while (col + wl > width && wl > 0) {
      size_t room = width - col, bytes = 0, chars = 0;
      while (bytes < word.size() && chars < room) {
        ++bytes;
        while (bytes < word.size() && (static_cast<unsigned char>(word[bytes]) & 0xC0) == 0x80)
          ++bytes;
        ++chars;
      }
      o.append(word.substr(0, bytes));
      word.remove_prefix(bytes);
      wl = columns(word);
      o += '\n';
      o.append(indent, ' ');
      col = indent;
    }
    o.append(word);
    col += wl;
  }
  return o;
}

}  // namespace fwgate
