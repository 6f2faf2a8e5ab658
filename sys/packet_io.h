// One crafted packet, built and sent: IPv4/IPv6 with a TCP, UDP or ICMP/ICMPv6 header (or an
// ICMP error quoting another packet), checksums computed, optionally malformed the way that makes
// conntrack class it INVALID; sent as a frame through a link of a namespace (AF_PACKET, so any
// source address works and nothing is resolved) or from a namespace's own stack (a raw socket
// with the IP header included, so the packet traverses that namespace's output path). The
// builders and the parser are pure. Thread-safety: reentrant.
#pragma once

#include <netinet/in.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "sys/netns.h"

namespace fwgate::sys {

struct PacketSpec {
  int family = AF_INET;                  // AF_INET or AF_INET6
  std::array<uint8_t, 16> src{}, dst{};  // network byte order (IPv4: first 4 bytes)
  uint8_t proto = IPPROTO_TCP;
  uint16_t sport = 0, dport = 0;  // TCP/UDP
  uint8_t tcp_flags = 0x02;
  uint32_t tcp_seq = 1000, tcp_ack = 0;
  uint8_t icmp_type = 8, icmp_code = 0;  // ICMP/ICMPv6
  uint16_t icmp_id = 1, icmp_seq = 1;
  // Marks the packet so it can be told apart: the IPv4 identification or the IPv6 flow label.
  uint32_t marker = 0;
  uint8_t ttl = 64;
  size_t payload = 0;  // zero bytes after the transport header
  // ICMP errors (destination unreachable, time exceeded, ...): the packet they quote.
  std::vector<uint8_t> quoted;
  // Malformations conntrack marks INVALID (kernel-conntrack.md §3: tcp_error/udp_error):
  enum class Malformed : uint8_t {
    kNone,
    kTcpDataOffset,  // TCP data offset below 5 words
    kUdpLength,      // UDP length field larger than the datagram
  };
  Malformed malformed = Malformed::kNone;
};

// The packet's IP header onwards.
[[nodiscard]] std::vector<uint8_t> CraftPacket(const PacketSpec& spec);
// Reads back what CraftPacket wrote (for tests and for matching trace events); nullopt for a
// packet it cannot read.
[[nodiscard]] std::optional<PacketSpec> ParsePacket(const std::vector<uint8_t>& bytes);
// The Internet checksum (RFC 1071) of `data`, starting from `sum`.
[[nodiscard]] uint16_t InetChecksum(const uint8_t* data, size_t len, uint32_t sum = 0);

// Sends `ip_packet` as one frame out of `ifname` in `ns` to `dst_mac` (AF_PACKET).
[[nodiscard]] Status SendFrame(const NetnsHandle& ns, std::string_view ifname,
                               const std::array<uint8_t, 6>& dst_mac,
                               const std::vector<uint8_t>& ip_packet);
// Sends `ip_packet` from the stack of `ns` (raw socket, header included): it traverses the
// output and postrouting hooks of `ns`.
[[nodiscard]] Status SendRawIp(const NetnsHandle& ns, const std::vector<uint8_t>& ip_packet);
// The link-layer address of `ifname` in `ns`.
[[nodiscard]] Result<std::array<uint8_t, 6>> LinkAddress(const NetnsHandle& ns,
                                                         std::string_view ifname);

}  // namespace fwgate::sys
