#include "sys/rtnl.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <cctype>
#include <ctime>
#include <vector>

namespace fwgate::sys {

RtnlSocket::RtnlSocket(NetlinkSocket s) : sock_(std::move(s)) {}

Result<RtnlSocket> RtnlSocket::Open() {
  auto s = NetlinkSocket::Open(NETLINK_ROUTE);
  if (!s) return s.error().Wrap("rtnetlink");
  return RtnlSocket(std::move(*s));
}

Status RtnlSocket::Transact(void* buf, std::string_view what) {
  auto* nlh = static_cast<nlmsghdr*>(buf);
  nlh->nlmsg_flags |= NLM_F_ACK;
  return sock_.Request(nlh, what);
}

Status RtnlSocket::CreateLink(std::string_view ifname, std::string_view kind, std::string_view peer,
                              int peer_ns_fd) {
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
    // veth: IFLA_INFO_DATA { VETH_INFO_PEER { ifinfomsg, IFLA_IFNAME, [IFLA_NET_NS_FD] } }
    nlattr* data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
    nlattr* p = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
    auto* pifm = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
    pifm->ifi_family = AF_UNSPEC;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, std::string(peer).c_str());
    if (peer_ns_fd >= 0) mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, static_cast<uint32_t>(peer_ns_fd));
    mnl_attr_nest_end(nlh, p);
    mnl_attr_nest_end(nlh, data);
  }
  mnl_attr_nest_end(nlh, linkinfo);
  std::string what = "creating " + std::string(kind) + " link " + std::string(ifname);
  if (!peer.empty()) what += "/" + std::string(peer);
  return Transact(nlh, what);
}

Status RtnlSocket::CreatePlaceholder(std::string_view ifname) {
  if (!IsValidIfname(ifname)) {
    return Error::BadInput("invalid interface name '" + std::string(ifname) + "'");
  }
  if (IndexOf(ifname).ok()) return OkStatus();
  // Kernels without the dummy driver (module-less builds) still have ifb or veth.
  Status st = CreateLink(ifname, "dummy", "");
  if (st.ok()) return st;
  st = CreateLink(ifname, "ifb", "");
  if (st.ok()) return st;
  // veth needs a peer name; derive one that fits IFNAMSIZ and is unlikely to collide.
  static std::atomic<uint32_t> counter{0};  // RtnlSockets live on many namespace threads
  std::string peer = "fwgp" + std::to_string(++counter);
  return CreateLink(ifname, "veth", peer);
}

Result<int> RtnlSocket::IndexOf(std::string_view ifname) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_GETLINK;
  auto* ifm = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifm->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, std::string(ifname).c_str());
  int index = -1;
  Status st = sock_.RequestOne(
      nlh, "looking up link " + std::string(ifname), [&](const nlmsghdr* reply) -> Status {
        if (reply->nlmsg_type == RTM_NEWLINK) {
          const auto* info = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(reply));
          index = info->ifi_index;
        }
        return OkStatus();
      });
  if (!st || index < 0) return Error::FromErrno(ENODEV, "link " + std::string(ifname));
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

}  // namespace fwgate::sys

namespace fwgate::sys {

Result<RtnlSocket> RtnlSocket::OpenIn(const NetnsHandle& ns) {
  auto s = NetlinkSocket::OpenIn(ns, NETLINK_ROUTE, {});
  if (!s) return s.error().Wrap("rtnetlink");
  return RtnlSocket(std::move(*s));
}

Result<Cidr> ParseCidr(std::string_view text) {
  Cidr c;
  std::string s(text);
  std::string addr = s;
  int prefix = -1;
  if (auto slash = s.find('/'); slash != std::string::npos) {
    addr = s.substr(0, slash);
    std::string p = s.substr(slash + 1);
    if (p.empty() || p.size() > 3 || p.find_first_not_of("0123456789") != std::string::npos) {
      return Error::BadInput("invalid prefix length in '" + s + "'");
    }
    prefix = std::stoi(p);
  }
  if (inet_pton(AF_INET, addr.c_str(), c.addr) == 1) {
    c.family = AF_INET;
  } else if (inet_pton(AF_INET6, addr.c_str(), c.addr) == 1) {
    c.family = AF_INET6;
  } else {
    return Error::BadInput("invalid address '" + s + "' (expected e.g. 10.20.0.0/24)");
  }
  int max = c.family == AF_INET ? 32 : 128;
  if (prefix < 0) prefix = max;
  if (prefix > max) return Error::BadInput("prefix length out of range in '" + s + "'");
  c.prefix = prefix;
  return c;
}

Status RtnlSocket::CreateVethPair(std::string_view name, std::string_view peer, int peer_ns_fd) {
  if (!IsValidIfname(name) || !IsValidIfname(peer)) {
    return Error::BadInput("invalid interface name '" + std::string(name) + "'/'" +
                           std::string(peer) + "'");
  }
  return CreateLink(name, "veth", peer, peer_ns_fd);
}

Status RtnlSocket::CreateBridge(std::string_view name) {
  if (!IsValidIfname(name)) {
    return Error::BadInput("invalid interface name '" + std::string(name) + "'");
  }
  return CreateLink(name, "bridge", "");
}

namespace {
// RTM_NEWLINK on an existing link (by name) with one u32 attribute.
void PutLinkChange(nlmsghdr* nlh, std::string_view ifname) {
  nlh->nlmsg_type = RTM_NEWLINK;
  auto* ifm = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifm->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, std::string(ifname).c_str());
}
}  // namespace

Status RtnlSocket::SetMaster(std::string_view ifname, std::string_view master) {
  auto idx = IndexOf(master);
  if (!idx) return idx.error();
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  PutLinkChange(nlh, ifname);
  mnl_attr_put_u32(nlh, IFLA_MASTER, static_cast<uint32_t>(*idx));
  return Transact(nlh, "attaching " + std::string(ifname) + " to " + std::string(master));
}

Status RtnlSocket::MoveToNetns(std::string_view ifname, int ns_fd) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  PutLinkChange(nlh, ifname);
  mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, static_cast<uint32_t>(ns_fd));
  return Transact(nlh, "moving " + std::string(ifname) + " to another namespace");
}

Status RtnlSocket::AddAddress(std::string_view ifname, std::string_view cidr) {
  auto c = ParseCidr(cidr);
  if (!c) return c.error();
  auto idx = IndexOf(ifname);
  if (!idx) return idx.error();
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_NEWADDR;
  nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  ifa->ifa_family = static_cast<unsigned char>(c->family);
  ifa->ifa_prefixlen = static_cast<unsigned char>(c->prefix);
  ifa->ifa_index = static_cast<unsigned>(*idx);
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  if (c->family == AF_INET6) ifa->ifa_flags = IFA_F_NODAD;  // usable at once
  mnl_attr_put(nlh, IFA_LOCAL, c->AddrLen(), c->addr);
  mnl_attr_put(nlh, IFA_ADDRESS, c->AddrLen(), c->addr);
  return Transact(nlh, "adding address " + std::string(cidr) + " to " + std::string(ifname));
}

Status RtnlSocket::AddRoute(std::string_view dst_cidr, std::string_view gateway,
                            std::string_view ifname) {
  auto dst = ParseCidr(dst_cidr);
  if (!dst) return dst.error();
  auto idx = IndexOf(ifname);
  if (!idx) return idx.error();
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_NEWROUTE;
  nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = static_cast<unsigned char>(dst->family);
  rtm->rtm_dst_len = static_cast<unsigned char>(dst->prefix);
  rtm->rtm_table = RT_TABLE_MAIN;
  rtm->rtm_protocol = RTPROT_STATIC;
  rtm->rtm_type = RTN_UNICAST;
  rtm->rtm_scope = gateway.empty() ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
  if (dst->prefix > 0) mnl_attr_put(nlh, RTA_DST, dst->AddrLen(), dst->addr);
  if (!gateway.empty()) {
    auto gw = ParseCidr(gateway);
    if (!gw) return gw.error();
    if (gw->family != dst->family)
      return Error::Unavailable("gateway family differs from destination");
    mnl_attr_put(nlh, RTA_GATEWAY, gw->AddrLen(), gw->addr);
  }
  mnl_attr_put_u32(nlh, RTA_OIF, static_cast<uint32_t>(*idx));
  return Transact(nlh, "adding route " + std::string(dst_cidr) + " via " + std::string(ifname));
}

Status RtnlSocket::AddNetemDelay(std::string_view ifname, uint32_t delay_us) {
  auto idx = IndexOf(ifname);
  if (!idx) return idx.error();
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_NEWQDISC;
  nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
  auto* tcm = static_cast<tcmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(tcmsg)));
  tcm->tcm_family = AF_UNSPEC;
  tcm->tcm_ifindex = *idx;
  tcm->tcm_handle = 0x10000;  // 1:
  tcm->tcm_parent = TC_H_ROOT;
  mnl_attr_put_strz(nlh, TCA_KIND, "netem");
  // TCA_OPTIONS for netem: a struct tc_netem_qopt followed by netem attributes.
  nlattr* opts = mnl_attr_nest_start(nlh, TCA_OPTIONS);
  auto* q = static_cast<tc_netem_qopt*>(mnl_nlmsg_put_extra_header(nlh, sizeof(tc_netem_qopt)));
  q->limit = 10000;
  q->latency = delay_us;  // ignored when LATENCY64 is present
  mnl_attr_put_u64(nlh, TCA_NETEM_LATENCY64, static_cast<uint64_t>(delay_us) * 1000);
  mnl_attr_nest_end(nlh, opts);
  Status st = Transact(nlh, "adding netem delay on " + std::string(ifname));
  if (!st && (st.error().code.value() == ENOENT || st.error().code.value() == EOPNOTSUPP)) {
    return Error{ErrorKind::kUnavailable, st.error().code,
                 "this kernel has no sch_netem (CONFIG_NET_SCH_NETEM), so --delay cannot be "
                 "emulated"};
  }
  return st;
}

}  // namespace fwgate::sys
