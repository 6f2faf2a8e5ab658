// The TCP sockets of a network namespace as the kernel's sock_diag interface reports them
// (NETLINK_SOCK_DIAG, inet_diag with tcp_info): addresses, ports and the byte counts and
// advertised window the lab uses to judge window overshoots (docs/replay-fidelity.md). Parsers
// are pure; TcpSockets() is thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "sys/netns.h"

struct nlmsghdr;

namespace fwgate::sys {

struct TcpSocketInfo {
  int family = 0;                        // AF_INET | AF_INET6
  std::array<uint8_t, 16> src{}, dst{};  // local and remote address (4 bytes used for AF_INET)
  uint16_t sport = 0, dport = 0;         // local and remote port, host order
  uint8_t state = 0;                     // TCP_ESTABLISHED, ...
  uint64_t bytes_acked = 0;              // sent by this socket and acknowledged by the peer
  uint64_t bytes_received = 0;           // received in order from the peer
  uint32_t snd_wnd = 0;                  // the peer's advertised receive window, scaled (bytes)
  bool has_info = false;                 // the tcp_info attribute was present
};

// One inet_diag reply message; an error for a message that is not one.
[[nodiscard]] Result<TcpSocketInfo> ParseTcpSocket(const nlmsghdr* nlh);

// Every connected TCP socket (not listening, not closed) of both families in `ns`.
[[nodiscard]] Result<std::vector<TcpSocketInfo>> TcpSockets(const NetnsHandle& ns);

// "10.0.0.1:40000" / "[fd00::1]:40000" for the local (`remote` false) or remote end.
[[nodiscard]] std::string TcpEndpoint(const TcpSocketInfo& s, bool remote);

}  // namespace fwgate::sys
