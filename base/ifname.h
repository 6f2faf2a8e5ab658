// The Linux interface-name rule, used wherever a name from a ruleset or a flag becomes a link
// name. Pure; thread-safe.
#pragma once

#include <cctype>
#include <string_view>

namespace fwgate {

// 1..15 bytes, no '/', ':', NUL or whitespace, not "." or "..".
[[nodiscard]] inline bool IsValidIfname(std::string_view name) {
  if (name.empty() || name.size() >= 16 || name == "." || name == "..") return false;
  for (unsigned char c : name) {
    if (c == '/' || c == ':' || std::isspace(c) != 0 || c == 0) return false;
  }
  return true;
}

}  // namespace fwgate
