// The kernel log as a reader sees it (/dev/kmsg opened read-only from its end: nothing is
// cleared or consumed for anyone else), and the conntrack "table full" line in its two forms
// (docs/kernel-conntrack.md §4.3: 6.18 names the namespace by inode). Parsing is pure.
// Thread-safety: one KernelLog belongs to one thread at a time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "sys/fd.h"
#include "sys/netns.h"

namespace fwgate::sys {

// "nf_conntrack: table full in netns 4026532510, dropping packet" -> 4026532510;
// "nf_conntrack: table full, dropping packet" (no namespace named) -> 0; else nullopt.
// `line` may carry the /dev/kmsg prefix ("4,1234,5678,-;").
[[nodiscard]] std::optional<uint64_t> ParseTableFull(std::string_view line);

// The inode number the kernel uses for `ns` in its messages.
[[nodiscard]] Result<uint64_t> NetnsInode(const NetnsHandle& ns);

class KernelLog {
 public:
  // Opens /dev/kmsg positioned after the last record (only new lines are read).
  static Result<KernelLog> OpenAtEnd();
  // Every record logged since the last call (message text only), non-blocking.
  Result<std::vector<std::string>> ReadNew();

 private:
  explicit KernelLog(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace fwgate::sys
