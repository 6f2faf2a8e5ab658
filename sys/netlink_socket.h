// One netlink socket owner for every netlink user (nftables dump and monitor, ctnetlink,
// rtnetlink): opened close-on-exec and bound in the calling thread's network namespace, with a
// receive timeout, and the one request/receive loop (sequence and port checks, ACKs, errors,
// interrupted dumps). Thread-safety: one socket belongs to one thread at a time.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "sys/netns.h"

struct mnl_socket;
struct nlmsghdr;

namespace fwgate::sys {

class NetlinkSocket {
 public:
  struct Options {
    // Per receive, so a lost reply cannot hang the caller.
    std::chrono::milliseconds timeout{5000};
    // SO_RCVBUFFORCE (bytes) for large dumps and busy multicast groups; 0 keeps the default.
    int receive_buffer = 0;
  };

  // A socket of `protocol` (NETLINK_NETFILTER, NETLINK_ROUTE, ...) in the calling thread's
  // namespace.
  static Result<NetlinkSocket> Open(int protocol, const Options& options);
  static Result<NetlinkSocket> Open(int protocol) { return Open(protocol, Options{}); }
  // The same, bound inside `ns` (opened on a thread that joined it); requests sent on it act on
  // `ns` whichever thread sends them.
  static Result<NetlinkSocket> OpenIn(const NetnsHandle& ns, int protocol, const Options& options);

  NetlinkSocket(NetlinkSocket&&) noexcept;
  NetlinkSocket& operator=(NetlinkSocket&&) noexcept;
  ~NetlinkSocket();

  // Called once per reply message; returns an error to stop the exchange with it.
  using MessageFn = std::function<Status(const nlmsghdr*)>;

  // Gives `nlmsg` (a complete message in a caller buffer) the next sequence number, sends it and
  // feeds every reply to `on_message` until the kernel ends the exchange (NLMSG_DONE, an ACK, or
  // a callback that asked to stop). Errors: the kernel's errno ("what: strerror"); ETIMEDOUT
  // when no reply came within the timeout; EINTR when a dump was interrupted by a concurrent
  // change (NLM_F_DUMP_INTR) and should be redone.
  Status Request(nlmsghdr* nlmsg, std::string_view what, const MessageFn& on_message = {});
  // Like Request, for a GET whose single reply is the answer: stops after the first message.
  Status RequestOne(nlmsghdr* nlmsg, std::string_view what, const MessageFn& on_message);

  // Multicast: subscribe to `group` (NFNLGRP_*, RTNLGRP_*).
  Status JoinGroup(unsigned group);
  // Waits up to `timeout` for event messages and feeds each to `on_message`. Returns false when
  // nothing arrived in time. ENOBUFS (events were lost) is an error the caller must treat as
  // "could not follow".
  Result<bool> ReceiveEvents(std::chrono::milliseconds timeout, const MessageFn& on_message);

  [[nodiscard]] uint32_t portid() const;
  [[nodiscard]] int fd() const;
  // For sys/ code that drives libmnl directly (mnl_socket_* calls).
  [[nodiscard]] mnl_socket* raw() const { return sock_.get(); }

 private:
  struct Closer {
    void operator()(mnl_socket* s) const;
  };
  explicit NetlinkSocket(mnl_socket* s);
  Status Exchange(nlmsghdr* nlmsg, std::string_view what, const MessageFn& on_message,
                  bool first_only);

  // Zeros after the received bytes: libnftnl reads string attributes with strcmp/strdup without
  // checking their terminating NUL (libnftnl 1.2.4 nftnl_expr_parse, found by
  // tests/fuzz/netlink_fuzz); a malformed reply then reads into these zeros, never past the
  // buffer.
  static constexpr size_t kGuardBytes = 4096;
  // One read takes the largest dump part the kernel builds (it sizes a dump's parts by the
  // reader's largest recvmsg, up to 32 KiB less overhead: af_netlink.c netlink_recvmsg). A
  // resumed nf_tables rule dump walks the chain again from its start, so fewer, larger parts
  // make a 10k-rule dump markedly cheaper.
  static constexpr size_t kReceiveBytes = 32768;
  void Guard(size_t received) {
    std::fill(buf_.begin() + static_cast<std::ptrdiff_t>(received),
              buf_.begin() + static_cast<std::ptrdiff_t>(received + kGuardBytes), 0);
  }

  std::unique_ptr<mnl_socket, Closer> sock_;
  uint32_t seq_ = 0;
  std::vector<char> buf_;
};

}  // namespace fwgate::sys
