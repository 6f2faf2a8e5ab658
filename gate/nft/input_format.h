// Which ruleset format a file is in, told from its content (nft text, an `nft -j` JSON ruleset,
// an iptables-save/iptables-restore file for IPv4 or IPv6), and the pure parts of loading the
// non-nft formats: JSON syntax errors and iptables-nft-restore messages as FILE:LINE:COL
// diagnostics. No kernel; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gate/nft/diagnostics.h"
#include "sys/ruleset_apply.h"

namespace fwgate::nft {

// From the content alone:
// - JSON when the first non-blank character is '{' (nft's own syntax never starts so);
// - iptables-restore when the first line that is not blank or a comment is a table header
//   (`*filter`, `*nat`, ...), which nft's syntax has no use for;
// - IPv6 (ip6tables) when an `ip6tables-save`/`ip6tables-restore` header comment says so, or,
//   with no header naming iptables-save, when rules use IPv6 addresses or IPv6-only matches
//   (ipv6-icmp, icmp6 rejects, ipv6header/frag/rt/hbh/mh/dst matches) and no IPv4 address;
//   otherwise IPv4;
// - else nft text.
[[nodiscard]] sys::RulesetFormat DetectRulesetFormat(std::string_view text);

// Why `text` is a firewall configuration fwgate does not read, when it is one: a firewalld zone,
// service, policy or direct-rules XML file (firewalld generates its nftables rules from these,
// so the ruleset a node runs is firewalld's output, not this file). nullopt otherwise.
[[nodiscard]] std::optional<std::string> UnsupportedInputReason(std::string_view text);

// The JSON document's syntax and top-level shape ({"nftables": [...]}); nullopt when fine,
// else one diagnostic at the 1-based line and column where the parser stopped.
[[nodiscard]] std::optional<Diagnostic> CheckNftJson(std::string_view text,
                                                     std::string_view display);

// Interface names a JSON ruleset binds to by index (`iif`/`oif` matches, a chain's or
// flowtable's `dev`), at most `max`: the throwaway namespace gets placeholder links for them,
// as for nft text (gate/nft/interface_scan.h). Empty for text that is not valid JSON.
[[nodiscard]] std::vector<std::string> JsonInterfaceNames(std::string_view text, size_t max);

// Whether a JSON ruleset holds a `{"flush": {"ruleset": ...}}` command (it then replaces every
// table, as `flush ruleset` does in nft text). False for text that is not valid JSON.
[[nodiscard]] bool NftJsonFlushesRuleset(std::string_view text);

// Whether loading `text` (in `format`) replaces the whole ruleset: a top-level `flush ruleset` in
// nft text, a flush-ruleset command in JSON; never for iptables-restore files (each replaces
// only the tables it names).
[[nodiscard]] bool FlushesRuleset(std::string_view text, sys::RulesetFormat format);

// The commands of a JSON ruleset (the elements of its "nftables" array), as spans of `text`
// with the 1-based line and column each starts at. Empty when `text` has no such array. For
// locating the command libnftables refused (its JSON errors carry no position).
struct JsonCommandSpan {
  size_t begin = 0, end = 0;  // [begin, end) in text
  int line = 1, column = 1;
};
[[nodiscard]] std::vector<JsonCommandSpan> NftJsonCommands(std::string_view text);
// A JSON ruleset of the first `count` commands of `commands` (spans of `text`).
[[nodiscard]] std::string NftJsonPrefix(std::string_view text,
                                        const std::vector<JsonCommandSpan>& commands, size_t count);

// iptables-nft-restore's stderr ("...: unknown option \"--dportz\"", "Error occurred at line: 9",
// "COMMIT expected at line 4", "line 3 failed") as diagnostics on `display`, located on the
// line it names (column of the quoted token when the line holds it; a token it names that is
// not on that line, such as the missing chain of a jump checked at COMMIT, moves the diagnostic
// to the last line before it that holds the token as a word; else the line's first non-blank
// character; the line as source). Usage hints are dropped. Never empty when `errors`
// holds text.
[[nodiscard]] std::vector<Diagnostic> ParseIptablesRestoreErrors(std::string_view errors,
                                                                 std::string_view text,
                                                                 std::string_view display);

}  // namespace fwgate::nft
