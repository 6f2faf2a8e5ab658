// The ruleset input formats a node really has, and applying one inside a network namespace as
// one transaction: nft text and `nft -j` JSON through the libnftables runner (sys/nft_runner.h),
// iptables-save/iptables-restore files through Debian's iptables-nft-restore or
// ip6tables-nft-restore started in that namespace (sys/spawn.h), so the kernel is the parser
// either way. The host's own namespace is refused. Thread-safety: callable from any thread.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"
#include "sys/netns.h"
#include "sys/nft_runner.h"

namespace fwgate::sys {

enum class RulesetFormat {
  kNft,        // nft's own text (nft -f)
  kNftJson,    // an `nft -j list ruleset` document, or any libnftables JSON ({"nftables":[...]})
  kIptables,   // iptables-save / iptables-restore text (IPv4): iptables-nft-restore
  kIp6tables,  // the same for IPv6: ip6tables-nft-restore
};
// "nft", "nft-json", "iptables", "ip6tables" (the JSON `format` value).
[[nodiscard]] std::string_view RulesetFormatName(RulesetFormat f);

struct RestoreResult {
  bool ok = false;
  std::string errors;     // the tool's stderr (its diagnostics, "Error occurred at line: N")
  std::string limit_hit;  // set when a bound ended the run (ok is false)
};

// The restore program for `ipv6` (an absolute path, found in PATH or /usr/sbin, /sbin); an
// unavailable error naming the Debian package when it is not installed.
[[nodiscard]] Result<std::string> IptablesRestoreProgram(bool ipv6);

// Runs (ip6)iptables-nft-restore inside `ns` with `text` on stdin: it flushes and replaces the
// tables the text names, in one nftables transaction. Bounded by `limits` (time, memory).
// Error only when it could not run at all (missing program, the host's namespace).
[[nodiscard]] Result<RestoreResult> RunIptablesRestore(const NetnsHandle& ns,
                                                       const std::string& text, bool ipv6,
                                                       const NftLimits& limits = {});

// Applies `text` of format `format` inside `ns` as one transaction; the error carries the
// tool's diagnostics. `what` names the step in errors ("load proposed"). `finished`, when
// given, gets the moment libnftables had the kernel's answer (nft text and JSON; unset for the
// iptables restore programs, which do not say).
[[nodiscard]] Status ApplyRulesetText(
    const NetnsHandle& ns, RulesetFormat format, const std::string& text, const std::string& what,
    const NftLimits& limits = {},
    std::optional<std::chrono::steady_clock::time_point>* finished = nullptr);

}  // namespace fwgate::sys
