#include "sys/nft_monitor.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <cerrno>
#include <cstring>

#include "sys/nft_netlink.h"
#include "sys/nl_handles.h"

namespace fwgate::sys {
namespace {

uint8_t MsgType(const nlmsghdr* nlh) { return static_cast<uint8_t>(nlh->nlmsg_type & 0xff); }
bool IsNftables(const nlmsghdr* nlh) { return (nlh->nlmsg_type >> 8) == NFNL_SUBSYS_NFTABLES; }

nft::Family FamilyOf(const nlmsghdr* nlh) {
  const auto* g = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh));
  return static_cast<nft::Family>(g->nfgen_family);
}

// The string attributes `first` and `second` of a message (table and set/flowtable name).
Status Names(const nlmsghdr* nlh, uint16_t first, uint16_t second, std::string& a, std::string& b) {
  if (nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(nfgenmsg)) {
    return Error::Internal("nftables notification too short");
  }
  struct Ctx {
    uint16_t first, second;
    std::string *a, *b;
  } ctx{first, second, &a, &b};
  int r = mnl_attr_parse(
      nlh, sizeof(nfgenmsg),
      [](const nlattr* attr, void* data) -> int {
        auto* c = static_cast<Ctx*>(data);
        uint16_t t = mnl_attr_get_type(attr);
        if ((t == c->first || t == c->second) &&
            mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0) {
          (t == c->first ? *c->a : *c->b) = mnl_attr_get_str(attr);
        }
        return MNL_CB_OK;
      },
      &ctx);
  if (r < 0) return Error::Internal("malformed nftables notification");
  return OkStatus();
}

}  // namespace

std::string_view NftChangeWhatName(NftChange::What w) {
  switch (w) {
    case NftChange::What::kTable:
      return "table";
    case NftChange::What::kChain:
      return "chain";
    case NftChange::What::kRule:
      return "rule";
    case NftChange::What::kSet:
      return "set";
    case NftChange::What::kSetElement:
      return "set element";
    case NftChange::What::kObject:
      return "object";
    case NftChange::What::kFlowtable:
      return "flowtable";
  }
  return "?";
}

bool IsNftGenerationMessage(const nlmsghdr* nlh) {
  return IsNftables(nlh) && MsgType(nlh) == NFT_MSG_NEWGEN;
}

Result<NftGeneration> ParseNftGeneration(const nlmsghdr* nlh) {
  if (!IsNftGenerationMessage(nlh)) return Error::Internal("not an nftables generation message");
  if (nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(nfgenmsg)) {
    return Error::Internal("nftables generation message too short");
  }
  NftGeneration g;
  bool have_id = false;
  struct Ctx {
    NftGeneration* g;
    bool* have_id;
  } ctx{&g, &have_id};
  int r = mnl_attr_parse(
      nlh, sizeof(nfgenmsg),
      [](const nlattr* attr, void* data) -> int {
        auto* c = static_cast<Ctx*>(data);
        switch (mnl_attr_get_type(attr)) {
          case NFTA_GEN_ID:
            if (mnl_attr_validate(attr, MNL_TYPE_U32) == 0) {
              c->g->id = ntohl(mnl_attr_get_u32(attr));
              *c->have_id = true;
            }
            break;
          case NFTA_GEN_PROC_PID:
            if (mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
              c->g->pid = ntohl(mnl_attr_get_u32(attr));
            break;
          case NFTA_GEN_PROC_NAME:
            if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0) {
              c->g->process = std::string(mnl_attr_get_str(attr)).substr(0, 64);
            }
            break;
          default:
            break;
        }
        return MNL_CB_OK;
      },
      &ctx);
  if (r < 0 || !have_id) return Error::Internal("malformed nftables generation message");
  return g;
}

Result<std::optional<NftChange>> ParseNftChange(const nlmsghdr* nlh) {
  if (!IsNftables(nlh) || nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(nfgenmsg)) {
    return std::optional<NftChange>{};
  }
  NftChange c;
  c.family = FamilyOf(nlh);
  switch (MsgType(nlh)) {
    case NFT_MSG_NEWTABLE:
    case NFT_MSG_DELTABLE: {
      c.what = NftChange::What::kTable;
      c.op = MsgType(nlh) == NFT_MSG_NEWTABLE ? NftChange::Op::kAdd : NftChange::Op::kDelete;
      auto t = ParseTableMessage(nlh);
      if (!t) return t.error();
      c.table = t->name;
      c.table_flags = t->flags;
      break;
    }
    case NFT_MSG_NEWCHAIN:
    case NFT_MSG_DELCHAIN: {
      c.what = NftChange::What::kChain;
      c.op = MsgType(nlh) == NFT_MSG_NEWCHAIN ? NftChange::Op::kAdd : NftChange::Op::kDelete;
      auto ch = ParseChainMessage(nlh);
      if (!ch) return ch.error();
      c.table = ch->table;
      c.name = ch->chain.name;
      break;
    }
    case NFT_MSG_NEWRULE:
    case NFT_MSG_DELRULE: {
      c.what = NftChange::What::kRule;
      c.op = MsgType(nlh) == NFT_MSG_NEWRULE ? NftChange::Op::kAdd : NftChange::Op::kDelete;
      auto r = ParseRuleMessage(nlh);
      if (!r) return r.error();
      c.table = r->table;
      c.name = r->chain;
      c.rule = std::move(r->rule);
      break;
    }
    case NFT_MSG_NEWOBJ:
    case NFT_MSG_DELOBJ: {
      c.what = NftChange::What::kObject;
      c.op = MsgType(nlh) == NFT_MSG_NEWOBJ ? NftChange::Op::kAdd : NftChange::Op::kDelete;
      auto o = ParseObjectMessage(nlh);
      if (!o) return o.error();
      c.table = o->table;
      c.name = o->object.name;
      c.object_type = o->object.type;
      break;
    }
    case NFT_MSG_NEWSET:
    case NFT_MSG_DELSET:
      c.what = NftChange::What::kSet;
      c.op = MsgType(nlh) == NFT_MSG_NEWSET ? NftChange::Op::kAdd : NftChange::Op::kDelete;
      if (auto st = Names(nlh, NFTA_SET_TABLE, NFTA_SET_NAME, c.table, c.name); !st) {
        return st.error();
      }
      break;
    case NFT_MSG_NEWSETELEM:
    case NFT_MSG_DELSETELEM:
      c.what = NftChange::What::kSetElement;
      c.op = MsgType(nlh) == NFT_MSG_NEWSETELEM ? NftChange::Op::kAdd : NftChange::Op::kDelete;
      if (auto st = Names(nlh, NFTA_SET_ELEM_LIST_TABLE, NFTA_SET_ELEM_LIST_SET, c.table, c.name);
          !st) {
        return st.error();
      }
      break;
    case NFT_MSG_NEWFLOWTABLE:
    case NFT_MSG_DELFLOWTABLE:
      c.what = NftChange::What::kFlowtable;
      c.op = MsgType(nlh) == NFT_MSG_NEWFLOWTABLE ? NftChange::Op::kAdd : NftChange::Op::kDelete;
      if (auto st = Names(nlh, NFTA_FLOWTABLE_TABLE, NFTA_FLOWTABLE_NAME, c.table, c.name); !st) {
        return st.error();
      }
      break;
    default:
      return std::optional<NftChange>{};
  }
  return std::optional<NftChange>(std::move(c));
}

Result<NftMonitor> NftMonitor::OpenIn(const NetnsHandle& ns, int receive_buffer) {
  NetlinkSocket::Options o;
  o.receive_buffer = receive_buffer;
  auto s = NetlinkSocket::OpenIn(ns, NETLINK_NETFILTER, o);
  if (!s) return s.error().Wrap("nftables monitor socket");
  if (auto st = s->JoinGroup(NFNLGRP_NFTABLES); !st) return st.error();
  return NftMonitor(std::move(*s));
}

Status NftMonitor::Poll(std::chrono::milliseconds timeout, std::vector<NftCommit>& out) {
  auto on_message = [&](const nlmsghdr* m) -> Status {
    if (IsNftGenerationMessage(m)) {
      auto g = ParseNftGeneration(m);
      if (!g) return g.error();
      pending_.generation = g->id;
      pending_.pid = g->pid;
      pending_.process = g->process;
      pending_.received = std::chrono::steady_clock::now();
      out.push_back(std::move(pending_));
      pending_ = NftCommit{};
      return OkStatus();
    }
    auto c = ParseNftChange(m);
    if (!c) return c.error();
    if (*c) pending_.changes.push_back(std::move(**c));
    return OkStatus();
  };
  auto wait = timeout;
  for (;;) {
    auto got = sock_.ReceiveEvents(wait, on_message);
    if (!got) return got.error();
    if (!*got) return OkStatus();
    wait = std::chrono::milliseconds(0);  // drain what is queued, then return
  }
}

Result<OwnedCtPin> OwnedCtPin::CreateIn(const NetnsHandle& ns, std::string_view name,
                                        nft::Family family) {
  auto s = NetlinkSocket::OpenIn(ns, NETLINK_NETFILTER, NetlinkSocket::Options{});
  if (!s) return s.error().Wrap("conntrack pin socket");
  const std::string table(name);
  const uint16_t fam = static_cast<uint16_t>(family);
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE * 2);
  mnl_nlmsg_batch* batch = mnl_nlmsg_batch_start(buf.data(), buf.size());
  uint32_t seq = 1;
  nftnl_batch_begin(static_cast<char*>(mnl_nlmsg_batch_current(batch)), seq++);
  mnl_nlmsg_batch_next(batch);

  nl::TablePtr t(nftnl_table_alloc());
  nl::ChainPtr c(nftnl_chain_alloc());
  nl::RulePtr r(nftnl_rule_alloc());
  nftnl_expr* e = nftnl_expr_alloc("ct");
  if (!t || !c || !r || e == nullptr) {
    mnl_nlmsg_batch_stop(batch);
    if (e != nullptr) nftnl_expr_free(e);
    return Error::FromErrno(ENOMEM, "building the conntrack pin table");
  }
  nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, table.c_str());
  nftnl_table_set_u32(t.get(), NFTNL_TABLE_FAMILY, fam);
  nftnl_table_set_u32(t.get(), NFTNL_TABLE_FLAGS, NFT_TABLE_F_OWNER);
  nlmsghdr* nlh =
      nftnl_nlmsg_build_hdr(static_cast<char*>(mnl_nlmsg_batch_current(batch)), NFT_MSG_NEWTABLE,
                            fam, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, seq++);
  nftnl_table_nlmsg_build_payload(nlh, t.get());
  mnl_nlmsg_batch_next(batch);

  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, table.c_str());
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_NAME, "pin");
  nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_FAMILY, fam);
  nlh = nftnl_nlmsg_build_hdr(static_cast<char*>(mnl_nlmsg_batch_current(batch)), NFT_MSG_NEWCHAIN,
                              fam, NLM_F_CREATE | NLM_F_ACK, seq++);
  nftnl_chain_nlmsg_build_payload(nlh, c.get());
  mnl_nlmsg_batch_next(batch);

  // One expression loading the entry's state into register 1: the rule sits in an unhooked
  // chain, so it never runs; what matters is that nft_ct_get_init took the reference.
  nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, table.c_str());
  nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, "pin");
  nftnl_rule_set_u32(r.get(), NFTNL_RULE_FAMILY, fam);
  nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
  nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
  nftnl_rule_add_expr(r.get(), e);  // the rule owns it now
  nlh = nftnl_nlmsg_build_hdr(static_cast<char*>(mnl_nlmsg_batch_current(batch)), NFT_MSG_NEWRULE,
                              fam, NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK, seq++);
  nftnl_rule_nlmsg_build_payload(nlh, r.get());
  mnl_nlmsg_batch_next(batch);

  nftnl_batch_end(static_cast<char*>(mnl_nlmsg_batch_current(batch)), seq++);
  mnl_nlmsg_batch_next(batch);
  ssize_t sent =
      mnl_socket_sendto(s->raw(), mnl_nlmsg_batch_head(batch), mnl_nlmsg_batch_size(batch));
  int send_errno = errno;
  mnl_nlmsg_batch_stop(batch);
  if (sent < 0) return Error::FromErrno(send_errno, "sending the conntrack pin table");

  // Three ACKs (table, chain, rule), or the first error.
  int acks = 0;
  std::vector<char> rbuf(MNL_SOCKET_BUFFER_SIZE);
  while (acks < 3) {
    ssize_t n = mnl_socket_recvfrom(s->raw(), rbuf.data(), rbuf.size());
    if (n < 0) {
      int err = errno == EAGAIN || errno == EWOULDBLOCK ? ETIMEDOUT : errno;
      return Error::FromErrno(err, "loading the conntrack pin table");
    }
    auto* m = reinterpret_cast<nlmsghdr*>(rbuf.data());
    int len = static_cast<int>(n);
    for (; mnl_nlmsg_ok(m, len); m = mnl_nlmsg_next(m, &len)) {
      if (m->nlmsg_type != NLMSG_ERROR) continue;
      if (m->nlmsg_len < NLMSG_HDRLEN + sizeof(nlmsgerr)) {
        return Error::Internal("short netlink error message");
      }
      const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(m));
      if (err->error != 0) {
        return Error::FromErrno(-err->error, "loading the conntrack pin table " + table);
      }
      ++acks;
    }
  }
  return OwnedCtPin(std::move(*s));
}

}  // namespace fwgate::sys
