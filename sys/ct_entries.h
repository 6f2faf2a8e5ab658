// Conntrack entries over ctnetlink (libnetfilter_conntrack's message builder and parser, sent
// through the one netlink socket owner): create an entry for a tuple in a given state (TCP
// state, status bits such as ASSURED and SEEN_REPLY, liberal window tracking, timeout, mark,
// zone), update its state, read one, list, delete and flush them. For the lab and the traffic
// diff's kernel confirmation: flip entry states, fill tables with ASSURED filler entries, make a
// packet "established" without a handshake. The builders and parser are pure (no kernel).
// Thread-safety: a CtEntries object belongs to one thread at a time; separate objects are
// independent.
#pragma once

#include <netinet/in.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "sys/netlink_socket.h"
#include "sys/netns.h"

namespace fwgate::sys {

// One direction of a connection: addresses in network byte order (IPv4 in the first 4 bytes),
// ports in host order; ICMP uses type/code/id instead of ports.
struct CtTuple {
  int family = AF_INET;  // AF_INET or AF_INET6
  std::array<uint8_t, 16> src{}, dst{};
  uint8_t proto = IPPROTO_TCP;
  uint16_t sport = 0, dport = 0;
  uint8_t icmp_type = 0, icmp_code = 0;
  uint16_t icmp_id = 0;
  bool operator==(const CtTuple&) const = default;
  // The reply direction of this tuple (addresses and ports swapped; ICMP echo request ->
  // reply).
  [[nodiscard]] CtTuple Reversed() const;
};

// TCP conntrack states (TCP_CONNTRACK_* in linux/netfilter/nf_conntrack_tcp.h).
enum class TcpState : uint8_t {
  kNone = 0,
  kSynSent = 1,
  kSynRecv = 2,
  kEstablished = 3,
  kFinWait = 4,
  kCloseWait = 5,
  kLastAck = 6,
  kTimeWait = 7,
  kClose = 8,
};

// Status bits (IPS_* in linux/netfilter/nf_conntrack_common.h).
inline constexpr uint32_t kCtStatusSeenReply = 1u << 1;
inline constexpr uint32_t kCtStatusAssured = 1u << 2;
inline constexpr uint32_t kCtStatusConfirmed = 1u << 3;

struct CtEntrySpec {
  CtTuple orig;
  std::optional<CtTuple> reply;  // default: orig.Reversed()
  uint32_t status = kCtStatusSeenReply | kCtStatusAssured;
  std::optional<TcpState> tcp_state;  // TCP only; default established
  // Both directions tracked liberally (no window checks): a made-up entry has no real window.
  bool tcp_liberal = true;
  uint32_t timeout_s = 300;
  uint32_t mark = 0;
  uint16_t zone = 0;
  // A conntrack helper to attach ("ftp"): entries with a helper can hold expectations.
  std::string helper;
};

// An expected connection: the first packet matching `expected` (exactly) is RELATED to the
// master entry. The master must have been created with a helper.
struct CtExpectSpec {
  CtTuple master;
  CtTuple expected;
  std::string helper = "ftp";
  uint32_t timeout_s = 60;
};

// An entry as the kernel lists it.
struct CtEntry {
  CtTuple orig, reply;
  uint32_t status = 0;
  std::optional<TcpState> tcp_state;
  uint32_t timeout_s = 0;
  uint32_t mark = 0;
  uint16_t zone = 0;
  uint32_t id = 0;
};

// --- pure message builders and parser (no kernel) ---
// Each writes one complete netlink message into `buf` (at least 4096 bytes) and returns its
// length; the sequence number is set when it is sent.
[[nodiscard]] Result<size_t> BuildCtCreate(const CtEntrySpec& spec, bool update, char* buf,
                                           size_t size);
[[nodiscard]] Result<size_t> BuildCtGet(const CtTuple& tuple, bool del, char* buf, size_t size);
// An update of the TCP state alone of the entry whose original tuple is `orig`.
[[nodiscard]] Result<size_t> BuildCtSetTcpState(const CtTuple& orig, TcpState state, char* buf,
                                                size_t size);
[[nodiscard]] size_t BuildCtDump(int family, bool flush, char* buf, size_t size);
[[nodiscard]] Result<size_t> BuildCtExpect(const CtExpectSpec& spec, char* buf, size_t size);
// One IPCTNL_MSG_CT_NEW message (a reply to a get or a dump).
[[nodiscard]] Result<CtEntry> ParseCtEntry(const nlmsghdr* nlh);

class CtEntries {
 public:
  // A ctnetlink socket acting on namespace `ns`.
  static Result<CtEntries> OpenIn(const NetnsHandle& ns);

  // Creates the entry (EEXIST when one exists for the tuple).
  Status Create(const CtEntrySpec& spec);
  // Changes an existing entry's state, status, timeout or mark.
  Status Update(const CtEntrySpec& spec);
  // Sets the TCP state of the entry whose original tuple is `orig`, and nothing else: its
  // windows, flags, status and timeout stay as they are (ENOENT when it is gone).
  Status SetTcpState(const CtTuple& orig, TcpState state);
  // Creates an expectation (a RELATED connection to come).
  Status Expect(const CtExpectSpec& spec);
  // The entry holding `tuple` (in either direction); ENOENT when none.
  Result<CtEntry> Get(const CtTuple& tuple);
  Status Delete(const CtTuple& tuple);
  // Every entry (of `family`, AF_UNSPEC for all).
  Result<std::vector<CtEntry>> List(int family = AF_UNSPEC);
  // Deletes every entry (of `family`).
  Status Flush(int family = AF_UNSPEC);

 private:
  explicit CtEntries(NetlinkSocket s) : sock_(std::move(s)) {}
  NetlinkSocket sock_;
};

}  // namespace fwgate::sys
