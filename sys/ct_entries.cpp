#include "sys/ct_entries.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack_tcp.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace fwgate::sys {
namespace {

struct CtFree {
  void operator()(nf_conntrack* ct) const { nfct_destroy(ct); }
};
using CtPtr = std::unique_ptr<nf_conntrack, CtFree>;
struct ExpFree {
  void operator()(nf_expect* e) const { nfexp_destroy(e); }
};
using ExpPtr = std::unique_ptr<nf_expect, ExpFree>;

// IP_CT_TCP_FLAG_BE_LIBERAL (linux/netfilter/nf_conntrack_tcp.h).
constexpr uint8_t kTcpFlagBeLiberal = 0x08;

void SetTuple(nf_conntrack* ct, const CtTuple& t, bool orig) {
  nfct_set_attr_u8(ct, orig ? ATTR_ORIG_L3PROTO : ATTR_REPL_L3PROTO,
                   static_cast<uint8_t>(t.family));
  if (t.family == AF_INET6) {
    nfct_set_attr(ct, orig ? ATTR_ORIG_IPV6_SRC : ATTR_REPL_IPV6_SRC, t.src.data());
    nfct_set_attr(ct, orig ? ATTR_ORIG_IPV6_DST : ATTR_REPL_IPV6_DST, t.dst.data());
  } else {
    uint32_t s, d;
    std::memcpy(&s, t.src.data(), 4);
    std::memcpy(&d, t.dst.data(), 4);
    nfct_set_attr_u32(ct, orig ? ATTR_ORIG_IPV4_SRC : ATTR_REPL_IPV4_SRC, s);
    nfct_set_attr_u32(ct, orig ? ATTR_ORIG_IPV4_DST : ATTR_REPL_IPV4_DST, d);
  }
  nfct_set_attr_u8(ct, orig ? ATTR_ORIG_L4PROTO : ATTR_REPL_L4PROTO, t.proto);
  if (t.proto == IPPROTO_ICMP || t.proto == IPPROTO_ICMPV6) {
    // libnetfilter_conntrack keeps one set of ICMP attributes (the original direction's).
    if (orig) {
      nfct_set_attr_u8(ct, ATTR_ICMP_TYPE, t.icmp_type);
      nfct_set_attr_u8(ct, ATTR_ICMP_CODE, t.icmp_code);
      nfct_set_attr_u16(ct, ATTR_ICMP_ID, htons(t.icmp_id));
    }
  } else {
    nfct_set_attr_u16(ct, orig ? ATTR_ORIG_PORT_SRC : ATTR_REPL_PORT_SRC, htons(t.sport));
    nfct_set_attr_u16(ct, orig ? ATTR_ORIG_PORT_DST : ATTR_REPL_PORT_DST, htons(t.dport));
  }
}

CtTuple GetTuple(const nf_conntrack* ct, bool orig) {
  CtTuple t;
  t.family = nfct_get_attr_u8(ct, orig ? ATTR_ORIG_L3PROTO : ATTR_REPL_L3PROTO);
  if (t.family == AF_INET6) {
    if (const void* p = nfct_get_attr(ct, orig ? ATTR_ORIG_IPV6_SRC : ATTR_REPL_IPV6_SRC)) {
      std::memcpy(t.src.data(), p, 16);
    }
    if (const void* p = nfct_get_attr(ct, orig ? ATTR_ORIG_IPV6_DST : ATTR_REPL_IPV6_DST)) {
      std::memcpy(t.dst.data(), p, 16);
    }
  } else {
    uint32_t s = nfct_get_attr_u32(ct, orig ? ATTR_ORIG_IPV4_SRC : ATTR_REPL_IPV4_SRC);
    uint32_t d = nfct_get_attr_u32(ct, orig ? ATTR_ORIG_IPV4_DST : ATTR_REPL_IPV4_DST);
    std::memcpy(t.src.data(), &s, 4);
    std::memcpy(t.dst.data(), &d, 4);
  }
  t.proto = nfct_get_attr_u8(ct, orig ? ATTR_ORIG_L4PROTO : ATTR_REPL_L4PROTO);
  if (t.proto == IPPROTO_ICMP || t.proto == IPPROTO_ICMPV6) {
    t.icmp_type = nfct_get_attr_u8(ct, ATTR_ICMP_TYPE);
    t.icmp_code = nfct_get_attr_u8(ct, ATTR_ICMP_CODE);
    t.icmp_id = ntohs(nfct_get_attr_u16(ct, ATTR_ICMP_ID));
  } else {
    t.sport = ntohs(nfct_get_attr_u16(ct, orig ? ATTR_ORIG_PORT_SRC : ATTR_REPL_PORT_SRC));
    t.dport = ntohs(nfct_get_attr_u16(ct, orig ? ATTR_ORIG_PORT_DST : ATTR_REPL_PORT_DST));
  }
  return t;
}

nlmsghdr* Header(char* buf, uint16_t msg, uint16_t flags, int family) {
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = static_cast<uint16_t>((NFNL_SUBSYS_CTNETLINK << 8) | msg);
  nlh->nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | flags);
  auto* g = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  g->nfgen_family = static_cast<uint8_t>(family);
  g->version = NFNETLINK_V0;
  g->res_id = 0;
  return nlh;
}

bool ValidFamily(int f) { return f == AF_INET || f == AF_INET6; }

}  // namespace

CtTuple CtTuple::Reversed() const {
  CtTuple r = *this;
  r.src = dst;
  r.dst = src;
  r.sport = dport;
  r.dport = sport;
  if (proto == IPPROTO_ICMP && icmp_type == 8) r.icmp_type = 0;  // echo request -> reply
  if (proto == IPPROTO_ICMPV6 && icmp_type == 128) r.icmp_type = 129;
  return r;
}

Result<size_t> BuildCtCreate(const CtEntrySpec& spec, bool update, char* buf, size_t size) {
  if (size < static_cast<size_t>(MNL_SOCKET_BUFFER_SIZE))
    return Error::Internal("ctnetlink buffer too small");
  if (!ValidFamily(spec.orig.family)) return Error::BadInput("conntrack entry: unknown family");
  CtPtr ct(nfct_new());
  if (!ct) return Error::FromErrno(ENOMEM, "nfct_new");
  SetTuple(ct.get(), spec.orig, true);
  SetTuple(ct.get(), spec.reply.value_or(spec.orig.Reversed()), false);
  nfct_set_attr_u32(ct.get(), ATTR_STATUS, spec.status);
  nfct_set_attr_u32(ct.get(), ATTR_TIMEOUT, spec.timeout_s);
  if (spec.mark != 0) nfct_set_attr_u32(ct.get(), ATTR_MARK, spec.mark);
  if (spec.zone != 0) nfct_set_attr_u16(ct.get(), ATTR_ZONE, spec.zone);
  if (!spec.helper.empty()) nfct_set_attr(ct.get(), ATTR_HELPER_NAME, spec.helper.c_str());
  if (spec.orig.proto == IPPROTO_TCP) {
    auto st = spec.tcp_state.value_or(TcpState::kEstablished);
    nfct_set_attr_u8(ct.get(), ATTR_TCP_STATE, static_cast<uint8_t>(st));
    if (spec.tcp_liberal) {
      nfct_set_attr_u8(ct.get(), ATTR_TCP_FLAGS_ORIG, kTcpFlagBeLiberal);
      nfct_set_attr_u8(ct.get(), ATTR_TCP_MASK_ORIG, kTcpFlagBeLiberal);
      nfct_set_attr_u8(ct.get(), ATTR_TCP_FLAGS_REPL, kTcpFlagBeLiberal);
      nfct_set_attr_u8(ct.get(), ATTR_TCP_MASK_REPL, kTcpFlagBeLiberal);
    }
  }
  uint16_t flags = NLM_F_ACK | (update ? 0 : NLM_F_CREATE | NLM_F_EXCL);
  nlmsghdr* nlh = Header(buf, IPCTNL_MSG_CT_NEW, flags, spec.orig.family);
  if (nfct_nlmsg_build(nlh, ct.get()) < 0)
    return Error::FromErrno(errno, "building a conntrack entry");
  return static_cast<size_t>(nlh->nlmsg_len);
}

Result<size_t> BuildCtGet(const CtTuple& tuple, bool del, char* buf, size_t size) {
  if (size < static_cast<size_t>(MNL_SOCKET_BUFFER_SIZE))
    return Error::Internal("ctnetlink buffer too small");
  if (!ValidFamily(tuple.family)) return Error::BadInput("conntrack tuple: unknown family");
  CtPtr ct(nfct_new());
  if (!ct) return Error::FromErrno(ENOMEM, "nfct_new");
  SetTuple(ct.get(), tuple, true);
  nlmsghdr* nlh =
      Header(buf, del ? IPCTNL_MSG_CT_DELETE : IPCTNL_MSG_CT_GET, NLM_F_ACK, tuple.family);
  if (nfct_nlmsg_build(nlh, ct.get()) < 0)
    return Error::FromErrno(errno, "building a conntrack tuple");
  return static_cast<size_t>(nlh->nlmsg_len);
}

Result<size_t> BuildCtSetTcpState(const CtTuple& orig, TcpState state, char* buf, size_t size) {
  if (size < static_cast<size_t>(MNL_SOCKET_BUFFER_SIZE))
    return Error::Internal("ctnetlink buffer too small");
  if (!ValidFamily(orig.family) || orig.proto != IPPROTO_TCP) {
    return Error::BadInput("conntrack tuple: not a TCP tuple");
  }
  CtPtr ct(nfct_new());
  if (!ct) return Error::FromErrno(ENOMEM, "nfct_new");
  SetTuple(ct.get(), orig, true);
  nfct_set_attr_u8(ct.get(), ATTR_TCP_STATE, static_cast<uint8_t>(state));
  nlmsghdr* nlh = Header(buf, IPCTNL_MSG_CT_NEW, NLM_F_ACK, orig.family);
  if (nfct_nlmsg_build(nlh, ct.get()) < 0) {
    return Error::FromErrno(errno, "building a conntrack state update");
  }
  return static_cast<size_t>(nlh->nlmsg_len);
}

Result<size_t> BuildCtExpect(const CtExpectSpec& spec, char* buf, size_t size) {
  if (size < static_cast<size_t>(MNL_SOCKET_BUFFER_SIZE)) {
    return Error::Internal("ctnetlink buffer too small");
  }
  if (!ValidFamily(spec.master.family) || spec.expected.family != spec.master.family) {
    return Error::BadInput("expectation: unknown or mixed families");
  }
  CtPtr master(nfct_new()), expected(nfct_new()), mask(nfct_new());
  ExpPtr exp(nfexp_new());
  if (!master || !expected || !mask || !exp) return Error::FromErrno(ENOMEM, "nfexp_new");
  SetTuple(master.get(), spec.master, true);
  SetTuple(expected.get(), spec.expected, true);
  CtTuple all = spec.expected;
  all.src.fill(0xff);
  all.dst.fill(0xff);
  all.sport = all.dport = 0xffff;
  SetTuple(mask.get(), all, true);
  nfexp_set_attr(exp.get(), ATTR_EXP_MASTER, master.get());
  nfexp_set_attr(exp.get(), ATTR_EXP_EXPECTED, expected.get());
  nfexp_set_attr(exp.get(), ATTR_EXP_MASK, mask.get());
  nfexp_set_attr_u32(exp.get(), ATTR_EXP_TIMEOUT, spec.timeout_s);
  if (!spec.helper.empty()) nfexp_set_attr(exp.get(), ATTR_EXP_HELPER_NAME, spec.helper.c_str());
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = static_cast<uint16_t>((NFNL_SUBSYS_CTNETLINK_EXP << 8) | IPCTNL_MSG_EXP_NEW);
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK;
  auto* g = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  g->nfgen_family = static_cast<uint8_t>(spec.master.family);
  g->version = NFNETLINK_V0;
  g->res_id = 0;
  if (nfexp_nlmsg_build(nlh, exp.get()) < 0)
    return Error::FromErrno(errno, "building an expectation");
  return static_cast<size_t>(nlh->nlmsg_len);
}

size_t BuildCtDump(int family, bool flush, char* buf, size_t /*size*/) {
  nlmsghdr* nlh = Header(buf, flush ? IPCTNL_MSG_CT_DELETE : IPCTNL_MSG_CT_GET,
                         flush ? NLM_F_ACK : NLM_F_DUMP, family);
  return nlh->nlmsg_len;
}

Result<CtEntry> ParseCtEntry(const nlmsghdr* nlh) {
  if ((nlh->nlmsg_type & 0xff) != IPCTNL_MSG_CT_NEW ||
      (nlh->nlmsg_type >> 8) != NFNL_SUBSYS_CTNETLINK) {
    return Error::Internal("not a conntrack entry message");
  }
  CtPtr ct(nfct_new());
  if (!ct) return Error::FromErrno(ENOMEM, "nfct_new");
  if (nfct_nlmsg_parse(nlh, ct.get()) < 0)
    return Error::FromErrno(errno, "parsing a conntrack entry");
  CtEntry e;
  e.orig = GetTuple(ct.get(), true);
  e.reply = GetTuple(ct.get(), false);
  e.status = nfct_get_attr_u32(ct.get(), ATTR_STATUS);
  if (nfct_attr_is_set(ct.get(), ATTR_TCP_STATE) > 0) {
    e.tcp_state = static_cast<TcpState>(nfct_get_attr_u8(ct.get(), ATTR_TCP_STATE));
  }
  e.timeout_s = nfct_get_attr_u32(ct.get(), ATTR_TIMEOUT);
  e.mark = nfct_get_attr_u32(ct.get(), ATTR_MARK);
  e.zone = nfct_get_attr_u16(ct.get(), ATTR_ZONE);
  e.id = nfct_get_attr_u32(ct.get(), ATTR_ID);
  return e;
}

Result<CtEntries> CtEntries::OpenIn(const NetnsHandle& ns) {
  auto s = NetlinkSocket::OpenIn(ns, NETLINK_NETFILTER, NetlinkSocket::Options{});
  if (!s) return s.error().Wrap("ctnetlink socket");
  return CtEntries(std::move(*s));
}

Status CtEntries::Create(const CtEntrySpec& spec) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  auto n = BuildCtCreate(spec, false, buf.data(), buf.size());
  if (!n) return n.error();
  return sock_.Request(reinterpret_cast<nlmsghdr*>(buf.data()), "creating a conntrack entry");
}

Status CtEntries::Update(const CtEntrySpec& spec) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  auto n = BuildCtCreate(spec, true, buf.data(), buf.size());
  if (!n) return n.error();
  return sock_.Request(reinterpret_cast<nlmsghdr*>(buf.data()), "updating a conntrack entry");
}

Status CtEntries::SetTcpState(const CtTuple& orig, TcpState state) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  auto n = BuildCtSetTcpState(orig, state, buf.data(), buf.size());
  if (!n) return n.error();
  return sock_.Request(reinterpret_cast<nlmsghdr*>(buf.data()), "setting a conntrack TCP state");
}

Status CtEntries::Expect(const CtExpectSpec& spec) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  auto n = BuildCtExpect(spec, buf.data(), buf.size());
  if (!n) return n.error();
  return sock_.Request(reinterpret_cast<nlmsghdr*>(buf.data()), "creating an expectation");
}

Result<CtEntry> CtEntries::Get(const CtTuple& tuple) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  auto n = BuildCtGet(tuple, false, buf.data(), buf.size());
  if (!n) return n.error();
  std::optional<CtEntry> got;
  Status st = sock_.Request(reinterpret_cast<nlmsghdr*>(buf.data()), "reading a conntrack entry",
                            [&](const nlmsghdr* m) -> Status {
                              auto e = ParseCtEntry(m);
                              if (!e) return e.error();
                              got = *e;
                              return OkStatus();
                            });
  if (!st) return st.error();
  if (!got) return Error::FromErrno(ENOENT, "reading a conntrack entry");
  return *got;
}

Status CtEntries::Delete(const CtTuple& tuple) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  auto n = BuildCtGet(tuple, true, buf.data(), buf.size());
  if (!n) return n.error();
  return sock_.Request(reinterpret_cast<nlmsghdr*>(buf.data()), "deleting a conntrack entry");
}

Result<std::vector<CtEntry>> CtEntries::List(int family) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  (void)BuildCtDump(family, false, buf.data(), buf.size());
  std::vector<CtEntry> out;
  Status st = sock_.Request(reinterpret_cast<nlmsghdr*>(buf.data()), "listing conntrack entries",
                            [&](const nlmsghdr* m) -> Status {
                              auto e = ParseCtEntry(m);
                              if (!e) return e.error();
                              out.push_back(*e);
                              return OkStatus();
                            });
  if (!st) return st.error();
  return out;
}

Status CtEntries::Flush(int family) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  (void)BuildCtDump(family, true, buf.data(), buf.size());
  return sock_.Request(reinterpret_cast<nlmsghdr*>(buf.data()), "flushing conntrack entries");
}

}  // namespace fwgate::sys
