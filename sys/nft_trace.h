// nftables trace events (`meta nftrace set 1`): each base chain and rule a traced packet meets
// is reported on the NFNLGRP_NFTRACE multicast group of its network namespace, with the verdict.
// A pure parser of the events (libnftnl's nftnl_trace) and a listener on the one netlink socket
// owner. Thread-safety: a TraceListener belongs to one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "sys/netlink_socket.h"
#include "sys/netns.h"

namespace fwgate::sys {

struct TraceEvent {
  enum class Type : uint8_t { kUnknown, kPolicy, kReturn, kRule };  // NFT_TRACETYPE_*
  Type type = Type::kUnknown;
  uint32_t id = 0;      // the same for every event of one packet
  uint8_t family = 0;   // the table's family (NFPROTO_*)
  uint8_t nfproto = 0;  // the packet's
  std::string table, chain;
  std::optional<uint64_t> rule_handle;  // kRule
  // The verdict a rule or a policy gave (NF_DROP 0, NF_ACCEPT 1, NF_QUEUE 3, NFT_CONTINUE -1,
  // NFT_JUMP -3, ...), and a jump or goto target.
  std::optional<int32_t> verdict;
  std::string jump_target;
  uint32_t iif = 0, oif = 0, mark = 0;
  std::vector<uint8_t> network_header, transport_header;
};

// One NFT_MSG_TRACE message.
[[nodiscard]] Result<TraceEvent> ParseTraceEvent(const nlmsghdr* nlh);

class TraceListener {
 public:
  // Subscribed to trace events of namespace `ns`.
  static Result<TraceListener> OpenIn(const NetnsHandle& ns);
  // Collects events until `done` says so (checked after each event) or `timeout` passes.
  Result<std::vector<TraceEvent>> Collect(std::chrono::milliseconds timeout,
                                          const std::function<bool(const TraceEvent&)>& done);

 private:
  explicit TraceListener(NetlinkSocket s) : sock_(std::move(s)) {}
  NetlinkSocket sock_;
};

}  // namespace fwgate::sys
