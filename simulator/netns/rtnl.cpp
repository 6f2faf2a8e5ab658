#include "simulator/netns/rtnl.h"

#include <libmnl/libmnl.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cctype>
#include <ctime>
#include <vector>

namespace fwgate::netns {

void RtnlSocket::Closer::operator()(mnl_socket* s) const { mnl_socket_close(s); }

RtnlSocket::RtnlSocket(mnl_socket* s)
    : sock_(s), portid_(mnl_socket_get_portid(s)), seq_(static_cast<uint32_t>(time(nullptr))) {}

Result<RtnlSocket> RtnlSocket::Open() {
  mnl_socket* s = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
  if (s == nullptr) return Error::FromErrno(errno, "opening rtnetlink socket");
  if (mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0) {
    int err = errno;
    mnl_socket_close(s);
    return Error::FromErrno(err, "binding rtnetlink socket");
  }
  timeval tv{5, 0};  // a lost reply must not hang the caller
  setsockopt(mnl_socket_get_fd(s), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return RtnlSocket(s);
}

bool IsValidIfname(std::string_view name) {
  if (name.empty() || name.size() >= IFNAMSIZ || name == "." || name == "..") return false;
  for (unsigned char c : name) {
    if (c == '/' || c == ':' || std::isspace(c) || c == 0) return false;
  }
  return true;
}

Status RtnlSocket::Transact(void* buf, std::string_view what) {
  auto* nlh = static_cast<nlmsghdr*>(buf);
  nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
  nlh->nlmsg_seq = ++seq_;
  if (mnl_socket_sendto(sock_.get(), nlh, nlh->nlmsg_len) < 0) {
    return Error::FromErrno(errno, std::string(what));
  }
  std::vector<char> rbuf(MNL_SOCKET_BUFFER_SIZE);
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(sock_.get(), rbuf.data(), rbuf.size());
    if (n < 0) return Error::FromErrno(errno, std::string(what));
    int ret = mnl_cb_run(rbuf.data(), n, nlh->nlmsg_seq, portid_, nullptr, nullptr);
    if (ret < 0) return Error::FromErrno(errno, std::string(what));
    if (ret == MNL_CB_STOP) return OkStatus();
  }
}

Status RtnlSocket::CreateLink(std::string_view ifname, std::string_view kind,
                              std::string_view peer) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_NEWLINK;
  nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
  auto* ifm = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifm->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, std::string(ifname).c_str());
  nlattr* linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
  mnl_attr_put_strz(nlh, IFLA_INFO_KIND, std::string(kind).c_str());
  if (!peer.empty()) {
    // veth: IFLA_INFO_DATA { VETH_INFO_PEER { ifinfomsg, IFLA_IFNAME } }
    nlattr* data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
    nlattr* p = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
    auto* pifm = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
    pifm->ifi_family = AF_UNSPEC;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, std::string(peer).c_str());
    mnl_attr_nest_end(nlh, p);
    mnl_attr_nest_end(nlh, data);
  }
  mnl_attr_nest_end(nlh, linkinfo);
  return Transact(nlh, "creating " + std::string(kind) + " link " + std::string(ifname));
}

Status RtnlSocket::CreatePlaceholder(std::string_view ifname) {
  if (!IsValidIfname(ifname)) {
    return Error::Msg("invalid interface name '" + std::string(ifname) + "'");
  }
  if (IndexOf(ifname).ok()) return OkStatus();
  // Kernels without the dummy driver (module-less builds) still have ifb or veth.
  Status st = CreateLink(ifname, "dummy", "");
  if (st.ok()) return st;
  st = CreateLink(ifname, "ifb", "");
  if (st.ok()) return st;
  // veth needs a peer name; derive one that fits IFNAMSIZ and is unlikely to collide.
  static uint32_t counter = 0;
  std::string peer = "fwgp" + std::to_string(++counter);
  return CreateLink(ifname, "veth", peer);
}

Result<int> RtnlSocket::IndexOf(std::string_view ifname) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_GETLINK;
  nlh->nlmsg_flags = NLM_F_REQUEST;
  nlh->nlmsg_seq = ++seq_;
  auto* ifm = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifm->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, std::string(ifname).c_str());
  if (mnl_socket_sendto(sock_.get(), nlh, nlh->nlmsg_len) < 0) {
    return Error::FromErrno(errno, "looking up link " + std::string(ifname));
  }
  std::vector<char> rbuf(MNL_SOCKET_BUFFER_SIZE);
  ssize_t n = mnl_socket_recvfrom(sock_.get(), rbuf.data(), rbuf.size());
  if (n < 0) return Error::FromErrno(errno, "looking up link " + std::string(ifname));
  int index = -1;
  int ret = mnl_cb_run(
      rbuf.data(), n, nlh->nlmsg_seq, portid_,
      [](const nlmsghdr* reply, void* data) -> int {
        const auto* info = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(reply));
        *static_cast<int*>(data) = info->ifi_index;
        return MNL_CB_STOP;
      },
      &index);
  if (ret < 0 || index < 0) return Error::FromErrno(ENODEV, "link " + std::string(ifname));
  return index;
}

Status RtnlSocket::SetUp(std::string_view ifname) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_NEWLINK;
  auto* ifm = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifm->ifi_family = AF_UNSPEC;
  ifm->ifi_change = IFF_UP;
  ifm->ifi_flags = IFF_UP;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, std::string(ifname).c_str());
  return Transact(nlh, "setting link " + std::string(ifname) + " up");
}

}  // namespace fwgate::netns
