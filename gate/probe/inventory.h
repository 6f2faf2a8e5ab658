// Ansible inventories (INI and YAML) read into validated probe targets. Every value that will
// reach ssh's argument vector is checked here: host names / IP addresses, users, ports, key
// files; anything option-like or with shell metacharacters is rejected as FILE:LINE:COL.
// Thread-safety: pure functions.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "gate/probe/transport.h"

namespace fwgate::probe {

struct Inventory {
  std::vector<Target> hosts;  // in first-seen order
  std::map<std::string, std::vector<std::string>>
      groups;  // group -> host names (children folded in)

  // Hosts of `group` ("all" or empty: every host); error naming the known groups otherwise.
  [[nodiscard]] Result<std::vector<Target>> Select(std::string_view group) const;
};

// Parses `text` (file name `path` for messages). YAML when the file name ends in .yml/.yaml or the
// text looks like YAML (first significant line ends with ':' and has no '['); INI otherwise.
[[nodiscard]] Result<Inventory> ParseInventory(std::string_view text, std::string_view path);
[[nodiscard]] Result<Inventory> LoadInventory(const std::string& path);

// Validators (exposed for tests and the CLI).
[[nodiscard]] bool IsValidHost(std::string_view host);  // RFC 1123 name, IPv4 or IPv6 literal
[[nodiscard]] bool IsValidUser(std::string_view user);  // [A-Za-z0-9_][A-Za-z0-9._-]{0,31}
[[nodiscard]] bool IsValidKeyPath(std::string_view path);

// Expands "node[01:03]" / "n[a:c]" patterns (Ansible host ranges); the name itself otherwise.
[[nodiscard]] Result<std::vector<std::string>> ExpandHostPattern(std::string_view pattern);

}  // namespace fwgate::probe
