// Conntrack statistics and table count of one network namespace: over ctnetlink (libmnl) when we
// run there, or parsed from /proc/net/stat/nf_conntrack text (remote probes). facts/netlink.md
// §4.4.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace fwgate::sys {

// Sums over all CPUs. Counters a kernel does not send are absent (facts/netlink.md §4.6).
struct ConntrackStats {
  std::map<std::string, uint64_t> counters;  // "found", "invalid", "drop", "early_drop",
                                             // "insert_failed", "search_restart", "clash_resolve",
                                             // "chaintoolong", "error", "ignore", ...
  std::optional<uint64_t> count;             // entries now (CTA_STATS_GLOBAL_ENTRIES)
  std::optional<uint64_t> max;               // nf_conntrack_max when the kernel sends it

  [[nodiscard]] uint64_t Get(std::string_view name) const;  // 0 when absent
  // this - earlier, per counter (saturating at 0); count/max taken from this.
  [[nodiscard]] ConntrackStats DeltaSince(const ConntrackStats& earlier) const;
};

// Reads the calling thread's network namespace over ctnetlink (IPCTNL_MSG_CT_GET_STATS_CPU dump
// plus IPCTNL_MSG_CT_GET_STATS). Falls back to /proc/thread-self/net/stat/nf_conntrack and the
// nf_conntrack_count sysctl when netlink fails.
[[nodiscard]] Result<ConntrackStats> ReadConntrackStats();

// Parses the text of /proc/net/stat/nf_conntrack (header row names the columns; one hex row per
// CPU; columns differ by kernel). Hostile or truncated text gives an error, never a crash.
[[nodiscard]] Result<ConntrackStats> ParseProcConntrackStats(std::string_view text);

}  // namespace fwgate::sys
