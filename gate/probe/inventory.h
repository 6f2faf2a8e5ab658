// Ansible inventories (INI, YAML, and `ansible-inventory --list` JSON) read into validated probe
// targets, and Ansible host patterns (--limit) over them. Every value that will reach ssh's
// argument vector is checked here: host names / IP addresses, users, ports, key files, ssh
// arguments; anything option-like or with shell metacharacters is rejected as FILE:LINE:COL.
// Parsing is linear in the input and bounded in memory (hosts, groups and YAML alias expansion
// are capped). Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "gate/probe/transport.h"

namespace fwgate::probe {

// Limits that keep a hostile inventory from costing unbounded time or memory.
inline constexpr size_t kMaxInventoryBytes = 16u << 20;
inline constexpr size_t kMaxInventoryHosts = 250000;
inline constexpr size_t kMaxInventoryGroups = 100000;
inline constexpr size_t kMaxInventoryMemberships = 4000000;  // host-in-group and group-in-group
// YAML nodes after alias expansion (Ansible's loader builds the expanded tree in memory; a small
// file whose aliases fan out to millions of nodes is refused instead).
inline constexpr size_t kMaxYamlExpandedNodes = 2000000;

struct Inventory {
  std::vector<Target> hosts;  // in first-seen order
  // group -> host names with children folded in, in inventory order ("all" and "ungrouped"
  // included).
  std::map<std::string, std::vector<std::string>> groups;

  // Hosts matching an Ansible host pattern, in inventory order: names, groups, globs (`*`,
  // `?`, `[...]`), `~regex`, joined by `:` or `,` (union), `:&` (intersection), `:!`
  // (exclusion); "all", "*" and "" select every host. A plain name or group that matches
  // nothing, or a pattern that leaves no host, is bad input naming the known groups.
  [[nodiscard]] Result<std::vector<Target>> Select(std::string_view pattern) const;
};

// Parses `text` (file name `path` for messages). JSON when the text is an object (the output
// of `ansible-inventory --list`); YAML when the file name ends in .yml/.yaml or the text looks
// like YAML (first significant line ends with ':' and has no '['); INI otherwise.
[[nodiscard]] Result<Inventory> ParseInventory(std::string_view text, std::string_view path);
[[nodiscard]] Result<Inventory> LoadInventory(const std::string& path);

// `ansible-inventory -i SRC --list` output (hostvars already merged by Ansible). Lets dynamic
// inventories and inventory plugins feed the probe.
[[nodiscard]] Result<Inventory> ParseAnsibleInventoryJson(std::string_view text,
                                                          std::string_view path);

// Validators (exposed for tests and the CLI).
// RFC 1123 name, IPv4, or IPv6 literal with an optional %scope (interface name or number).
[[nodiscard]] bool IsValidHost(std::string_view host);
[[nodiscard]] bool IsValidUser(std::string_view user);  // [A-Za-z0-9_][A-Za-z0-9._-]{0,31}
[[nodiscard]] bool IsValidKeyPath(std::string_view path);

// ansible_ssh_common_args / ansible_ssh_extra_args: split as Ansible does (POSIX shell words,
// no shell run) and checked option by option. Allowed: -4 -6 -A -a -C -q -T -v -x -k,
// -o KEY=VALUE for a fixed set of harmless ssh_config keys, -J/-i/-p/-l/-F/-c with a validated
// value. Refused with the reason: anything else, notably options that run local commands
// (ProxyCommand, LocalCommand, KnownHostsCommand, Match) or change what runs remotely.
[[nodiscard]] Result<std::vector<std::string>> ParseSshArgs(std::string_view text);

// POSIX shell word splitting without a shell (Python's shlex.split(comments=True) rules):
// quotes, backslash escapes, '#' comments. Error on an unterminated quote or trailing '\'.
[[nodiscard]] Result<std::vector<std::string>> ShellWords(std::string_view text);

// Expands "node[01:03]" / "n[a:c]" patterns (Ansible host ranges); the name itself otherwise.
[[nodiscard]] Result<std::vector<std::string>> ExpandHostPattern(std::string_view pattern);

}  // namespace fwgate::probe
