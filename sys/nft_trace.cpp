#include "sys/nft_trace.h"

#include <libmnl/libmnl.h>
#include <libnftnl/trace.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace fwgate::sys {
namespace {

struct TraceFree {
  void operator()(nftnl_trace* t) const { nftnl_trace_free(t); }
};

std::vector<uint8_t> Data(const nftnl_trace* t, uint16_t attr) {
  if (!nftnl_trace_is_set(t, attr)) return {};
  uint32_t len = 0;
  const void* p = nftnl_trace_get_data(t, attr, &len);
  if (p == nullptr) return {};
  const auto* b = static_cast<const uint8_t*>(p);
  return std::vector<uint8_t>(b, b + len);
}

}  // namespace

Result<TraceEvent> ParseTraceEvent(const nlmsghdr* nlh) {
  if ((nlh->nlmsg_type >> 8) != NFNL_SUBSYS_NFTABLES || (nlh->nlmsg_type & 0xff) != NFT_MSG_TRACE) {
    return Error::Internal("not an nftables trace message");
  }
  std::unique_ptr<nftnl_trace, TraceFree> t(nftnl_trace_alloc());
  if (!t) return Error::FromErrno(ENOMEM, "nftnl_trace_alloc");
  if (nftnl_trace_nlmsg_parse(nlh, t.get()) < 0)
    return Error::FromErrno(errno, "parsing a trace event");
  TraceEvent e;
  const nftnl_trace* p = t.get();
  switch (nftnl_trace_get_u32(p, NFTNL_TRACE_TYPE)) {
    case NFT_TRACETYPE_POLICY:
      e.type = TraceEvent::Type::kPolicy;
      break;
    case NFT_TRACETYPE_RETURN:
      e.type = TraceEvent::Type::kReturn;
      break;
    case NFT_TRACETYPE_RULE:
      e.type = TraceEvent::Type::kRule;
      break;
    default:
      e.type = TraceEvent::Type::kUnknown;
  }
  e.id = nftnl_trace_get_u32(p, NFTNL_TRACE_ID);
  e.family = static_cast<uint8_t>(nftnl_trace_get_u32(p, NFTNL_TRACE_FAMILY));
  if (nftnl_trace_is_set(p, NFTNL_TRACE_NFPROTO)) {
    e.nfproto = static_cast<uint8_t>(nftnl_trace_get_u32(p, NFTNL_TRACE_NFPROTO));
  }
  if (nftnl_trace_is_set(p, NFTNL_TRACE_TABLE)) e.table = nftnl_trace_get_str(p, NFTNL_TRACE_TABLE);
  if (nftnl_trace_is_set(p, NFTNL_TRACE_CHAIN)) e.chain = nftnl_trace_get_str(p, NFTNL_TRACE_CHAIN);
  if (nftnl_trace_is_set(p, NFTNL_TRACE_RULE_HANDLE)) {
    e.rule_handle = nftnl_trace_get_u64(p, NFTNL_TRACE_RULE_HANDLE);
  }
  if (nftnl_trace_is_set(p, NFTNL_TRACE_VERDICT)) {
    e.verdict = static_cast<int32_t>(nftnl_trace_get_u32(p, NFTNL_TRACE_VERDICT));
  }
  if (nftnl_trace_is_set(p, NFTNL_TRACE_POLICY)) {
    e.verdict = static_cast<int32_t>(nftnl_trace_get_u32(p, NFTNL_TRACE_POLICY));
  }
  if (nftnl_trace_is_set(p, NFTNL_TRACE_JUMP_TARGET)) {
    e.jump_target = nftnl_trace_get_str(p, NFTNL_TRACE_JUMP_TARGET);
  }
  if (nftnl_trace_is_set(p, NFTNL_TRACE_IIF)) e.iif = nftnl_trace_get_u32(p, NFTNL_TRACE_IIF);
  if (nftnl_trace_is_set(p, NFTNL_TRACE_OIF)) e.oif = nftnl_trace_get_u32(p, NFTNL_TRACE_OIF);
  if (nftnl_trace_is_set(p, NFTNL_TRACE_MARK)) e.mark = nftnl_trace_get_u32(p, NFTNL_TRACE_MARK);
  e.network_header = Data(p, NFTNL_TRACE_NETWORK_HEADER);
  e.transport_header = Data(p, NFTNL_TRACE_TRANSPORT_HEADER);
  return e;
}

Result<TraceListener> TraceListener::OpenIn(const NetnsHandle& ns) {
  NetlinkSocket::Options o;
  o.receive_buffer = 1 << 22;
  auto s = NetlinkSocket::OpenIn(ns, NETLINK_NETFILTER, o);
  if (!s) return s.error().Wrap("trace socket");
  if (auto st = s->JoinGroup(NFNLGRP_NFTRACE); !st)
    return st.error().Wrap("joining NFNLGRP_NFTRACE");
  return TraceListener(std::move(*s));
}

Result<std::vector<TraceEvent>> TraceListener::Collect(
    std::chrono::milliseconds timeout, const std::function<bool(const TraceEvent&)>& done) {
  std::vector<TraceEvent> out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool finished = false;
  while (!finished) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    auto got = sock_.ReceiveEvents(left, [&](const nlmsghdr* m) -> Status {
      if (finished) return OkStatus();
      auto e = ParseTraceEvent(m);
      if (!e) return OkStatus();  // other nftables messages on the group: ignored
      out.push_back(std::move(*e));
      if (done && done(out.back())) finished = true;
      return OkStatus();
    });
    if (!got) return got.error();
    if (!*got) break;
  }
  return out;
}

}  // namespace fwgate::sys
