// Sysctls of a network namespace (/proc/sys as seen from inside it). Reads work anywhere;
// writes refuse the host's own (initial) network namespace, so fwgate can never change the
// host's settings. Thread-safety: reentrant.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "base/result.h"
#include "sys/netns.h"

namespace fwgate::sys {

// `name` in dotted ("net.netfilter.nf_conntrack_max") or slash form; only [a-z0-9_.-/].
// The value with surrounding whitespace removed.
[[nodiscard]] Result<std::string> ReadSysctl(std::string_view name);  // calling thread's netns
[[nodiscard]] Result<std::string> ReadSysctlIn(const NetnsHandle& ns, std::string_view name);
[[nodiscard]] Result<int64_t> ReadSysctlIntIn(const NetnsHandle& ns, std::string_view name);
// Writes inside `ns`; an error for the namespace fwgate started in (never the host's settings).
[[nodiscard]] Status WriteSysctlIn(const NetnsHandle& ns, std::string_view name,
                                   std::string_view value);

// Every net.netfilter.nf_conntrack_* sysctl of the calling thread's namespace ("nf_conntrack_max"
// -> value); empty when conntrack is not loaded. Unparsable values are left out.
[[nodiscard]] std::map<std::string, int64_t> ReadConntrackSysctls();

// Whether `ns` is the network namespace this process started in (the caller's: the host's own
// for fwgate on a host) or PID 1's where that is visible. Such a namespace is never changed.
[[nodiscard]] Result<bool> IsInitialNetns(const NetnsHandle& ns);

}  // namespace fwgate::sys
