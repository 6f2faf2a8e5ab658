// Text from outside fwgate (node output, rulesets, file and host names) made safe for each place
// it is shown: valid UTF-8 for JSON, no control characters for a terminal, escaped for Prometheus.
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace fwgate {

// True when `s` is well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
[[nodiscard]] bool IsValidUtf8(std::string_view s);

// `s` with every byte that is not part of a well-formed UTF-8 sequence replaced by U+FFFD.
[[nodiscard]] std::string ValidUtf8(std::string_view s);

// For a terminal: ValidUtf8, then every control character (C0, DEL, C1) shown as an escape
// ("\x1b", "\n", "\t", "\u009b"), so no text from outside can move the cursor or set colours.
[[nodiscard]] std::string TerminalSafe(std::string_view s);

// A Prometheus label value (text format 0.0.4): ValidUtf8, backslash, double quote and newline
// escaped as the format wants, other control characters shown as "\\xHH" text.
[[nodiscard]] std::string PrometheusLabelValue(std::string_view s);

// A Prometheus HELP text: ValidUtf8, backslash and newline escaped, other controls as text.
[[nodiscard]] std::string PrometheusHelp(std::string_view s);

// ValidUtf8, then every control character (C0, DEL, C1) except those in `keep` shown as escape
// text ("\x1b", "\u009b"), for formats that quote text from outside in their own syntax.
[[nodiscard]] std::string ControlsAsText(std::string_view s, std::string_view keep);

// For XML 1.0 and HTML, in text and in quoted attribute values: ValidUtf8; control characters
// (C0 but tab, newline and carriage return, which XML 1.0 forbids; DEL; C1) shown as escape text
// ("\x1b", "\u0085"), U+FFFE and U+FFFF as U+FFFD; & < > " ' as character references.
[[nodiscard]] std::string XmlSafe(std::string_view s);

// At most `max_bytes` bytes of `s`, cut at a UTF-8 character boundary.
[[nodiscard]] std::string_view Utf8Prefix(std::string_view s, size_t max_bytes);

// `s` wrapped at spaces into lines of at most `width` columns (counting UTF-8 characters);
// continuation lines start with `indent` spaces. A word longer than a line is cut.
[[nodiscard]] std::string WrapText(std::string_view s, size_t width, size_t indent);

}  // namespace fwgate
