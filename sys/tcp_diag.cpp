#include "sys/tcp_diag.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "sys/netlink_socket.h"

namespace fwgate::sys {
namespace {
// include/net/tcp_states.h (not exported to user space with these names).
constexpr unsigned kTcpClose = 7, kTcpListen = 10;
}  // namespace

Result<TcpSocketInfo> ParseTcpSocket(const nlmsghdr* nlh) {
  if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
      nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(inet_diag_msg)) {
    return Error::Internal("not an inet_diag reply");
  }
  const auto* m = static_cast<const inet_diag_msg*>(mnl_nlmsg_get_payload(nlh));
  TcpSocketInfo s;
  s.family = m->idiag_family;
  if (s.family != AF_INET && s.family != AF_INET6) return Error::Internal("inet_diag: family");
  const size_t alen = s.family == AF_INET ? 4 : 16;
  std::memcpy(s.src.data(), m->id.idiag_src, alen);
  std::memcpy(s.dst.data(), m->id.idiag_dst, alen);
  s.sport = ntohs(m->id.idiag_sport);
  s.dport = ntohs(m->id.idiag_dport);
  s.state = m->idiag_state;
  struct Ctx {
    TcpSocketInfo* s;
  } ctx{&s};
  int r = mnl_attr_parse(
      nlh, sizeof(inet_diag_msg),
      [](const nlattr* attr, void* data) -> int {
        auto* c = static_cast<Ctx*>(data);
        if (mnl_attr_get_type(attr) != INET_DIAG_INFO) return MNL_CB_OK;
        // Older kernels send a shorter tcp_info: read what is there, zeros for the rest.
        tcp_info ti{};
        std::memcpy(&ti, mnl_attr_get_payload(attr),
                    std::min<size_t>(mnl_attr_get_payload_len(attr), sizeof(ti)));
        c->s->bytes_acked = ti.tcpi_bytes_acked;
        c->s->bytes_received = ti.tcpi_bytes_received;
        if (mnl_attr_get_payload_len(attr) >= offsetof(tcp_info, tcpi_snd_wnd) + 4) {
          c->s->snd_wnd = ti.tcpi_snd_wnd;
        }
        c->s->has_info = true;
        return MNL_CB_OK;
      },
      &ctx);
  if (r < 0) return Error::Internal("malformed inet_diag reply");
  return s;
}

Result<std::vector<TcpSocketInfo>> TcpSockets(const NetnsHandle& ns) {
  auto sock = NetlinkSocket::OpenIn(ns, NETLINK_SOCK_DIAG, NetlinkSocket::Options{});
  if (!sock) return sock.error().Wrap("sock_diag socket");
  std::vector<TcpSocketInfo> out;
  for (int family : {AF_INET, AF_INET6}) {
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
    nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    auto* req =
        static_cast<inet_diag_req_v2*>(mnl_nlmsg_put_extra_header(nlh, sizeof(inet_diag_req_v2)));
    req->sdiag_family = static_cast<uint8_t>(family);
    req->sdiag_protocol = IPPROTO_TCP;
    req->idiag_ext = 1U << (INET_DIAG_INFO - 1);
    // Every state but LISTEN and CLOSE.
    req->idiag_states = ~((1U << kTcpListen) | (1U << kTcpClose));
    Status st = sock->Request(nlh, "listing TCP sockets", [&](const nlmsghdr* m) -> Status {
      auto s = ParseTcpSocket(m);
      if (!s) return s.error();
      out.push_back(*s);
      return OkStatus();
    });
    if (!st) return st.error();
  }
  return out;
}

std::string TcpEndpoint(const TcpSocketInfo& s, bool remote) {
  char text[INET6_ADDRSTRLEN] = {};
  const auto& a = remote ? s.dst : s.src;
  (void)inet_ntop(s.family, a.data(), text, sizeof(text));
  const uint16_t port = remote ? s.dport : s.sport;
  return s.family == AF_INET6 ? "[" + std::string(text) + "]:" + std::to_string(port)
                              : std::string(text) + ":" + std::to_string(port);
}

}  // namespace fwgate::sys
