#include "sys/packet_io.h"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "sys/fd.h"

namespace fwgate::sys {
namespace {

void Put16(std::vector<uint8_t>& b, size_t off, uint16_t v) {
  b[off] = static_cast<uint8_t>(v >> 8);
  b[off + 1] = static_cast<uint8_t>(v);
}
void Put32(std::vector<uint8_t>& b, size_t off, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[off + i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}
uint16_t Get16(const std::vector<uint8_t>& b, size_t off) {
  return static_cast<uint16_t>((b[off] << 8) | b[off + 1]);
}
uint32_t Get32(const std::vector<uint8_t>& b, size_t off) {
  return (uint32_t{b[off]} << 24) | (uint32_t{b[off + 1]} << 16) | (uint32_t{b[off + 2]} << 8) |
         b[off + 3];
}

// The sum of the pseudo header for transport checksums.
uint32_t PseudoSum(const PacketSpec& s, size_t l4len) {
  uint32_t sum = 0;
  size_t alen = s.family == AF_INET6 ? 16 : 4;
  for (size_t i = 0; i < alen; i += 2) {
    sum += (uint32_t{s.src[i]} << 8) | s.src[i + 1];
    sum += (uint32_t{s.dst[i]} << 8) | s.dst[i + 1];
  }
  sum += s.proto;
  sum += static_cast<uint32_t>(l4len & 0xffff);
  sum += static_cast<uint32_t>(l4len >> 16);
  return sum;
}

}  // namespace

uint16_t InetChecksum(const uint8_t* data, size_t len, uint32_t sum) {
  for (size_t i = 0; i + 1 < len; i += 2) sum += (uint32_t{data[i]} << 8) | data[i + 1];
  if (len % 2 == 1) sum += uint32_t{data[len - 1]} << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

std::vector<uint8_t> CraftPacket(const PacketSpec& s) {
  bool v6 = s.family == AF_INET6;
  size_t ip = v6 ? 40 : 20;
  size_t l4;
  bool icmp = s.proto == IPPROTO_ICMP || s.proto == IPPROTO_ICMPV6;
  if (s.proto == IPPROTO_TCP) {
    l4 = 20;
  } else if (s.proto == IPPROTO_UDP || icmp) {
    l4 = 8;
  } else {
    l4 = 0;
  }
  size_t body = icmp && !s.quoted.empty() ? s.quoted.size() : s.payload;
  std::vector<uint8_t> b(ip + l4 + body, 0);
  size_t total = b.size();
  if (!v6) {
    b[0] = 0x45;
    Put16(b, 2, static_cast<uint16_t>(total));
    Put16(b, 4, static_cast<uint16_t>(s.marker));
    b[8] = s.ttl;
    b[9] = s.proto;
    std::memcpy(&b[12], s.src.data(), 4);
    std::memcpy(&b[16], s.dst.data(), 4);
    Put16(b, 10, InetChecksum(b.data(), 20));
  } else {
    Put32(b, 0, (6u << 28) | (s.marker & 0xfffff));
    Put16(b, 4, static_cast<uint16_t>(l4 + body));
    b[6] = s.proto;
    b[7] = s.ttl;
    std::memcpy(&b[8], s.src.data(), 16);
    std::memcpy(&b[24], s.dst.data(), 16);
  }
  uint8_t* t = b.data() + ip;
  size_t tl = l4 + body;
  if (icmp && !s.quoted.empty()) std::memcpy(t + 8, s.quoted.data(), s.quoted.size());
  if (s.proto == IPPROTO_TCP) {
    Put16(b, ip, s.sport);
    Put16(b, ip + 2, s.dport);
    Put32(b, ip + 4, s.tcp_seq);
    Put32(b, ip + 8, s.tcp_ack);
    b[ip + 12] = s.malformed == PacketSpec::Malformed::kTcpDataOffset ? 0x40 : 0x50;
    b[ip + 13] = s.tcp_flags;
    Put16(b, ip + 14, 65535);
    Put16(b, ip + 16, InetChecksum(t, tl, PseudoSum(s, tl)));
  } else if (s.proto == IPPROTO_UDP) {
    Put16(b, ip, s.sport);
    Put16(b, ip + 2, s.dport);
    uint16_t len = static_cast<uint16_t>(tl);
    if (s.malformed == PacketSpec::Malformed::kUdpLength) len = static_cast<uint16_t>(tl + 64);
    Put16(b, ip + 4, len);
    uint16_t c = InetChecksum(t, tl, PseudoSum(s, tl));
    Put16(b, ip + 6, c == 0 ? 0xffff : c);
  } else if (icmp) {
    b[ip] = s.icmp_type;
    b[ip + 1] = s.icmp_code;
    bool error = !s.quoted.empty();
    if (!error) {
      Put16(b, ip + 4, s.icmp_id);
      Put16(b, ip + 6, s.icmp_seq);
    }
    uint16_t c = v6 ? InetChecksum(t, tl, PseudoSum(s, tl)) : InetChecksum(t, tl);
    Put16(b, ip + 2, c);
  }
  return b;
}

std::optional<PacketSpec> ParsePacket(const std::vector<uint8_t>& b) {
  if (b.empty()) return std::nullopt;
  PacketSpec s;
  size_t ip;
  if ((b[0] >> 4) == 4) {
    if (b.size() < 20) return std::nullopt;
    s.family = AF_INET;
    ip = static_cast<size_t>(b[0] & 0xf) * 4;
    s.marker = Get16(b, 4);
    s.ttl = b[8];
    s.proto = b[9];
    std::memcpy(s.src.data(), &b[12], 4);
    std::memcpy(s.dst.data(), &b[16], 4);
  } else if ((b[0] >> 4) == 6) {
    if (b.size() < 40) return std::nullopt;
    s.family = AF_INET6;
    ip = 40;
    s.marker = Get32(b, 0) & 0xfffff;
    s.proto = b[6];
    s.ttl = b[7];
    std::memcpy(s.src.data(), &b[8], 16);
    std::memcpy(s.dst.data(), &b[24], 16);
  } else {
    return std::nullopt;
  }
  if (s.proto == IPPROTO_TCP && b.size() >= ip + 20) {
    s.sport = Get16(b, ip);
    s.dport = Get16(b, ip + 2);
    s.tcp_seq = Get32(b, ip + 4);
    s.tcp_ack = Get32(b, ip + 8);
    s.tcp_flags = b[ip + 13];
    if ((b[ip + 12] >> 4) < 5) s.malformed = PacketSpec::Malformed::kTcpDataOffset;
    s.payload = b.size() - ip - 20;
  } else if (s.proto == IPPROTO_UDP && b.size() >= ip + 8) {
    s.sport = Get16(b, ip);
    s.dport = Get16(b, ip + 2);
    if (Get16(b, ip + 4) > b.size() - ip) s.malformed = PacketSpec::Malformed::kUdpLength;
    s.payload = b.size() - ip - 8;
  } else if ((s.proto == IPPROTO_ICMP || s.proto == IPPROTO_ICMPV6) && b.size() >= ip + 8) {
    s.icmp_type = b[ip];
    s.icmp_code = b[ip + 1];
    bool error = s.proto == IPPROTO_ICMP
                     ? (s.icmp_type == 3 || s.icmp_type == 4 || s.icmp_type == 5 ||
                        s.icmp_type == 11 || s.icmp_type == 12)
                     : s.icmp_type < 128;
    if (error) {
      s.quoted.assign(b.begin() + static_cast<long>(ip + 8), b.end());
    } else {
      s.icmp_id = Get16(b, ip + 4);
      s.icmp_seq = Get16(b, ip + 6);
      s.payload = b.size() - ip - 8;
    }
  }
  return s;
}

Status SendFrame(const NetnsHandle& ns, std::string_view ifname,
                 const std::array<uint8_t, 6>& dst_mac, const std::vector<uint8_t>& pkt) {
  if (pkt.empty()) return Error::Internal("empty packet");
  Status out = OkStatus();
  std::string name(ifname);
  auto st = RunInNetns(ns, [&] {
    unsigned idx = if_nametoindex(name.c_str());
    if (idx == 0) {
      out = Error::FromErrno(errno, "interface " + name);
      return;
    }
    bool v6 = (pkt[0] >> 4) == 6;
    uint16_t proto = htons(v6 ? ETH_P_IPV6 : ETH_P_IP);
    UniqueFd fd(socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, proto));
    if (!fd) {
      out = Error::FromErrno(errno, "AF_PACKET socket");
      return;
    }
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = proto;
    sll.sll_ifindex = static_cast<int>(idx);
    sll.sll_halen = 6;
    std::memcpy(sll.sll_addr, dst_mac.data(), 6);
    if (sendto(fd.get(), pkt.data(), pkt.size(), 0, reinterpret_cast<sockaddr*>(&sll), sizeof sll) <
        0) {
      out = Error::FromErrno(errno, "sending a frame on " + name);
    }
  });
  if (!st) return st;
  return out;
}

Status SendRawIp(const NetnsHandle& ns, const std::vector<uint8_t>& pkt) {
  auto spec = ParsePacket(pkt);
  if (!spec) return Error::Internal("SendRawIp: not an IP packet");
  Status out = OkStatus();
  auto st = RunInNetns(ns, [&] {
    bool v6 = spec->family == AF_INET6;
    UniqueFd fd(socket(v6 ? AF_INET6 : AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW));
    if (!fd) {
      out = Error::FromErrno(errno, "raw socket");
      return;
    }
    ssize_t n;
    if (v6) {
      sockaddr_in6 a{};
      a.sin6_family = AF_INET6;
      std::memcpy(&a.sin6_addr, spec->dst.data(), 16);
      n = sendto(fd.get(), pkt.data(), pkt.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
    } else {
      sockaddr_in a{};
      a.sin_family = AF_INET;
      std::memcpy(&a.sin_addr, spec->dst.data(), 4);
      n = sendto(fd.get(), pkt.data(), pkt.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
    }
    // A drop in the output path makes the send fail with EPERM: the packet was sent.
    if (n < 0 && errno != EPERM) out = Error::FromErrno(errno, "sending a raw packet");
  });
  if (!st) return st;
  return out;
}

Result<std::array<uint8_t, 6>> LinkAddress(const NetnsHandle& ns, std::string_view ifname) {
  Result<std::array<uint8_t, 6>> out = Error::Internal("not run");
  std::string name(ifname);
  auto st = RunInNetns(ns, [&] {
    UniqueFd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd) {
      out = Error::FromErrno(errno, "socket");
      return;
    }
    ifreq ifr{};
    if (name.size() >= IFNAMSIZ) {
      out = Error::BadInput("interface name too long: " + name);
      return;
    }
    std::memcpy(ifr.ifr_name, name.c_str(), name.size());
    if (ioctl(fd.get(), SIOCGIFHWADDR, &ifr) < 0) {
      out = Error::FromErrno(errno, "link address of " + name);
      return;
    }
    std::array<uint8_t, 6> mac{};
    std::memcpy(mac.data(), ifr.ifr_hwaddr.sa_data, 6);
    out = mac;
  });
  if (!st) return st.error();
  return out;
}

}  // namespace fwgate::sys
