#include "sys/nft_netlink.h"

#include <endian.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <map>
#include <string_view>
#include <utility>
#include <vector>

#include "sys/netlink_socket.h"
#include "sys/nl_handles.h"

// libmnl's mnl_attr_for_each(_nested) do not compile as C++ (implicit void* casts,
// facts/netlink.md §4.5): the same walks with explicit casts.
#define mnl_attr_for_each_cxx(attr, nlh, offset)                                                \
  for ((attr) = static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset((nlh), (offset)));      \
       mnl_attr_ok((attr),                                                                      \
                   static_cast<int>(static_cast<const char*>(mnl_nlmsg_get_payload_tail(nlh)) - \
                                    reinterpret_cast<const char*>(attr)));                      \
       (attr) = mnl_attr_next(attr))
#define mnl_attr_for_each_nested_cxx(attr, nest)                                                \
  for ((attr) = static_cast<const nlattr*>(mnl_attr_get_payload(nest)); mnl_attr_ok(            \
           (attr), static_cast<int>(reinterpret_cast<const char*>(mnl_attr_get_payload(nest)) + \
                                    mnl_attr_get_payload_len(nest) -                            \
                                    reinterpret_cast<const char*>(attr)));                      \
       (attr) = mnl_attr_next(attr))

namespace fwgate::sys {

using namespace fwgate::nft;  // the model this file fills
namespace {

// How one expression attribute is read: an integer of the length libnftnl reports, a string, or
// raw register data.
enum class AttrKind { kInt, kStr, kData };
struct AttrSpec {
  uint16_t id;
  std::string_view name;
  AttrKind kind;
};
struct ExprSpec {
  std::string_view kind;
  std::vector<AttrSpec> attrs;
};

constexpr AttrKind I = AttrKind::kInt;
constexpr AttrKind S = AttrKind::kStr;
constexpr AttrKind D = AttrKind::kData;

// Attribute names are the NFTNL_EXPR_<KIND>_<NAME> suffixes in lower case (see ruleset.h).
const std::vector<ExprSpec>& ExprSpecs() {
  static const std::vector<ExprSpec> kSpecs = {
      {"payload",
       {{NFTNL_EXPR_PAYLOAD_DREG, "dreg", I},
        {NFTNL_EXPR_PAYLOAD_BASE, "base", I},
        {NFTNL_EXPR_PAYLOAD_OFFSET, "offset", I},
        {NFTNL_EXPR_PAYLOAD_LEN, "len", I},
        {NFTNL_EXPR_PAYLOAD_SREG, "sreg", I},
        {NFTNL_EXPR_PAYLOAD_CSUM_TYPE, "csum_type", I},
        {NFTNL_EXPR_PAYLOAD_CSUM_OFFSET, "csum_offset", I},
        {NFTNL_EXPR_PAYLOAD_FLAGS, "flags", I}}},
      {"numgen",
       {{NFTNL_EXPR_NG_DREG, "dreg", I},
        {NFTNL_EXPR_NG_MODULUS, "modulus", I},
        {NFTNL_EXPR_NG_TYPE, "type", I},
        {NFTNL_EXPR_NG_OFFSET, "offset", I}}},
      {"meta",
       {{NFTNL_EXPR_META_KEY, "key", I},
        {NFTNL_EXPR_META_DREG, "dreg", I},
        {NFTNL_EXPR_META_SREG, "sreg", I}}},
      {"rt", {{NFTNL_EXPR_RT_KEY, "key", I}, {NFTNL_EXPR_RT_DREG, "dreg", I}}},
      {"socket",
       {{NFTNL_EXPR_SOCKET_KEY, "key", I},
        {NFTNL_EXPR_SOCKET_DREG, "dreg", I},
        {NFTNL_EXPR_SOCKET_LEVEL, "level", I}}},
      {"tunnel", {{NFTNL_EXPR_TUNNEL_KEY, "key", I}, {NFTNL_EXPR_TUNNEL_DREG, "dreg", I}}},
      {"cmp",
       {{NFTNL_EXPR_CMP_SREG, "sreg", I},
        {NFTNL_EXPR_CMP_OP, "op", I},
        {NFTNL_EXPR_CMP_DATA, "data", D}}},
      {"range",
       {{NFTNL_EXPR_RANGE_SREG, "sreg", I},
        {NFTNL_EXPR_RANGE_OP, "op", I},
        {NFTNL_EXPR_RANGE_FROM_DATA, "from_data", D},
        {NFTNL_EXPR_RANGE_TO_DATA, "to_data", D}}},
      {"immediate",
       {{NFTNL_EXPR_IMM_DREG, "dreg", I},
        {NFTNL_EXPR_IMM_DATA, "data", D},
        {NFTNL_EXPR_IMM_VERDICT, "verdict", I},
        {NFTNL_EXPR_IMM_CHAIN, "chain", S}}},
      {"counter", {{NFTNL_EXPR_CTR_PACKETS, "packets", I}, {NFTNL_EXPR_CTR_BYTES, "bytes", I}}},
      {"connlimit",
       {{NFTNL_EXPR_CONNLIMIT_COUNT, "count", I}, {NFTNL_EXPR_CONNLIMIT_FLAGS, "flags", I}}},
      {"bitwise",
       {{NFTNL_EXPR_BITWISE_SREG, "sreg", I},
        {NFTNL_EXPR_BITWISE_DREG, "dreg", I},
        {NFTNL_EXPR_BITWISE_LEN, "len", I},
        {NFTNL_EXPR_BITWISE_MASK, "mask", D},
        {NFTNL_EXPR_BITWISE_XOR, "xor", D},
        {NFTNL_EXPR_BITWISE_OP, "op", I},
        {NFTNL_EXPR_BITWISE_DATA, "data", D}}},
      {"target",
       {{NFTNL_EXPR_TG_NAME, "name", S},
        {NFTNL_EXPR_TG_REV, "rev", I},
        {NFTNL_EXPR_TG_INFO, "info", D}}},
      {"match",
       {{NFTNL_EXPR_MT_NAME, "name", S},
        {NFTNL_EXPR_MT_REV, "rev", I},
        {NFTNL_EXPR_MT_INFO, "info", D}}},
      {"nat",
       {{NFTNL_EXPR_NAT_TYPE, "type", I},
        {NFTNL_EXPR_NAT_FAMILY, "family", I},
        {NFTNL_EXPR_NAT_REG_ADDR_MIN, "reg_addr_min", I},
        {NFTNL_EXPR_NAT_REG_ADDR_MAX, "reg_addr_max", I},
        {NFTNL_EXPR_NAT_REG_PROTO_MIN, "reg_proto_min", I},
        {NFTNL_EXPR_NAT_REG_PROTO_MAX, "reg_proto_max", I},
        {NFTNL_EXPR_NAT_FLAGS, "flags", I}}},
      {"tproxy",
       {{NFTNL_EXPR_TPROXY_FAMILY, "family", I},
        {NFTNL_EXPR_TPROXY_REG_ADDR, "reg_addr", I},
        {NFTNL_EXPR_TPROXY_REG_PORT, "reg_port", I}}},
      {"lookup",
       {{NFTNL_EXPR_LOOKUP_SREG, "sreg", I},
        {NFTNL_EXPR_LOOKUP_DREG, "dreg", I},
        {NFTNL_EXPR_LOOKUP_SET, "set", S},
        {NFTNL_EXPR_LOOKUP_FLAGS, "flags", I}}},
      {"dynset",
       {{NFTNL_EXPR_DYNSET_SREG_KEY, "sreg_key", I},
        {NFTNL_EXPR_DYNSET_SREG_DATA, "sreg_data", I},
        {NFTNL_EXPR_DYNSET_OP, "op", I},
        {NFTNL_EXPR_DYNSET_TIMEOUT, "timeout", I},
        {NFTNL_EXPR_DYNSET_SET_NAME, "set", S},
        {NFTNL_EXPR_DYNSET_FLAGS, "flags", I}}},
      {"log",
       {{NFTNL_EXPR_LOG_PREFIX, "prefix", S},
        {NFTNL_EXPR_LOG_GROUP, "group", I},
        {NFTNL_EXPR_LOG_SNAPLEN, "snaplen", I},
        {NFTNL_EXPR_LOG_QTHRESHOLD, "qthreshold", I},
        {NFTNL_EXPR_LOG_LEVEL, "level", I},
        {NFTNL_EXPR_LOG_FLAGS, "flags", I}}},
      {"exthdr",
       {{NFTNL_EXPR_EXTHDR_DREG, "dreg", I},
        {NFTNL_EXPR_EXTHDR_TYPE, "type", I},
        {NFTNL_EXPR_EXTHDR_OFFSET, "offset", I},
        {NFTNL_EXPR_EXTHDR_LEN, "len", I},
        {NFTNL_EXPR_EXTHDR_FLAGS, "flags", I},
        {NFTNL_EXPR_EXTHDR_OP, "op", I},
        {NFTNL_EXPR_EXTHDR_SREG, "sreg", I}}},
      {"ct",
       {{NFTNL_EXPR_CT_DREG, "dreg", I},
        {NFTNL_EXPR_CT_KEY, "key", I},
        {NFTNL_EXPR_CT_DIR, "dir", I},
        {NFTNL_EXPR_CT_SREG, "sreg", I}}},
      {"byteorder",
       {{NFTNL_EXPR_BYTEORDER_DREG, "dreg", I},
        {NFTNL_EXPR_BYTEORDER_SREG, "sreg", I},
        {NFTNL_EXPR_BYTEORDER_OP, "op", I},
        {NFTNL_EXPR_BYTEORDER_LEN, "len", I},
        {NFTNL_EXPR_BYTEORDER_SIZE, "size", I}}},
      {"limit",
       {{NFTNL_EXPR_LIMIT_RATE, "rate", I},
        {NFTNL_EXPR_LIMIT_UNIT, "unit", I},
        {NFTNL_EXPR_LIMIT_BURST, "burst", I},
        {NFTNL_EXPR_LIMIT_TYPE, "type", I},
        {NFTNL_EXPR_LIMIT_FLAGS, "flags", I}}},
      {"reject", {{NFTNL_EXPR_REJECT_TYPE, "type", I}, {NFTNL_EXPR_REJECT_CODE, "code", I}}},
      {"queue",
       {{NFTNL_EXPR_QUEUE_NUM, "num", I},
        {NFTNL_EXPR_QUEUE_TOTAL, "total", I},
        {NFTNL_EXPR_QUEUE_FLAGS, "flags", I},
        {NFTNL_EXPR_QUEUE_SREG_QNUM, "sreg_qnum", I}}},
      {"quota",
       {{NFTNL_EXPR_QUOTA_BYTES, "bytes", I},
        {NFTNL_EXPR_QUOTA_FLAGS, "flags", I},
        {NFTNL_EXPR_QUOTA_CONSUMED, "consumed", I}}},
      {"masq",
       {{NFTNL_EXPR_MASQ_FLAGS, "flags", I},
        {NFTNL_EXPR_MASQ_REG_PROTO_MIN, "reg_proto_min", I},
        {NFTNL_EXPR_MASQ_REG_PROTO_MAX, "reg_proto_max", I}}},
      {"redir",
       {{NFTNL_EXPR_REDIR_REG_PROTO_MIN, "reg_proto_min", I},
        {NFTNL_EXPR_REDIR_REG_PROTO_MAX, "reg_proto_max", I},
        {NFTNL_EXPR_REDIR_FLAGS, "flags", I}}},
      {"dup",
       {{NFTNL_EXPR_DUP_SREG_ADDR, "sreg_addr", I}, {NFTNL_EXPR_DUP_SREG_DEV, "sreg_dev", I}}},
      {"flow_offload", {{NFTNL_EXPR_FLOW_TABLE_NAME, "table_name", S}}},
      {"fwd",
       {{NFTNL_EXPR_FWD_SREG_DEV, "sreg_dev", I},
        {NFTNL_EXPR_FWD_SREG_ADDR, "sreg_addr", I},
        {NFTNL_EXPR_FWD_NFPROTO, "nfproto", I}}},
      {"hash",
       {{NFTNL_EXPR_HASH_SREG, "sreg", I},
        {NFTNL_EXPR_HASH_DREG, "dreg", I},
        {NFTNL_EXPR_HASH_LEN, "len", I},
        {NFTNL_EXPR_HASH_MODULUS, "modulus", I},
        {NFTNL_EXPR_HASH_SEED, "seed", I},
        {NFTNL_EXPR_HASH_OFFSET, "offset", I},
        {NFTNL_EXPR_HASH_TYPE, "type", I}}},
      {"fib",
       {{NFTNL_EXPR_FIB_DREG, "dreg", I},
        {NFTNL_EXPR_FIB_RESULT, "result", I},
        {NFTNL_EXPR_FIB_FLAGS, "flags", I}}},
      {"objref",
       {{NFTNL_EXPR_OBJREF_IMM_TYPE, "imm_type", I},
        {NFTNL_EXPR_OBJREF_IMM_NAME, "imm_name", S},
        {NFTNL_EXPR_OBJREF_SET_SREG, "set_sreg", I},
        {NFTNL_EXPR_OBJREF_SET_NAME, "set_name", S}}},
      {"osf",
       {{NFTNL_EXPR_OSF_DREG, "dreg", I},
        {NFTNL_EXPR_OSF_TTL, "ttl", I},
        {NFTNL_EXPR_OSF_FLAGS, "flags", I}}},
      {"xfrm",
       {{NFTNL_EXPR_XFRM_DREG, "dreg", I},
        {NFTNL_EXPR_XFRM_SREG, "sreg", I},
        {NFTNL_EXPR_XFRM_KEY, "key", I},
        {NFTNL_EXPR_XFRM_DIR, "dir", I},
        {NFTNL_EXPR_XFRM_SPNUM, "spnum", I}}},
      {"synproxy",
       {{NFTNL_EXPR_SYNPROXY_MSS, "mss", I},
        {NFTNL_EXPR_SYNPROXY_WSCALE, "wscale", I},
        {NFTNL_EXPR_SYNPROXY_FLAGS, "flags", I}}},
      {"last", {{NFTNL_EXPR_LAST_MSECS, "msecs", I}, {NFTNL_EXPR_LAST_SET, "set", I}}},
      {"notrack", {}},
  };
  return kSpecs;
}

const ExprSpec* FindSpec(std::string_view kind) {
  static const std::map<std::string_view, const ExprSpec*> kIndex = [] {
    std::map<std::string_view, const ExprSpec*> m;
    for (const auto& s : ExprSpecs()) m[s.kind] = &s;
    return m;
  }();
  auto it = kIndex.find(kind);
  return it == kIndex.end() ? nullptr : it->second;
}

uint64_t IntOfLen(const void* p, uint32_t len) {
  switch (len) {
    case 1:
      return *static_cast<const uint8_t*>(p);
    case 2: {
      uint16_t v;
      std::memcpy(&v, p, 2);
      return v;
    }
    case 4: {
      uint32_t v;
      std::memcpy(&v, p, 4);
      return v;
    }
    case 8: {
      uint64_t v;
      std::memcpy(&v, p, 8);
      return v;
    }
    default:
      return 0;
  }
}

int ConvertExprCb(nftnl_expr* e, void* data);

Expr ConvertExpr(const nftnl_expr* e) {
  Expr out;
  const char* kind = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
  out.kind = kind != nullptr ? kind : "unknown";
  const ExprSpec* spec = FindSpec(out.kind);
  if (spec == nullptr) {
    // An expression this build does not know: keep libnftnl's own rendering so the printer can
    // show it and the diff can compare it. Nothing is dropped.
    std::array<char, 4096> buf{};
    nftnl_expr_snprintf(buf.data(), buf.size(), e, NFTNL_OUTPUT_DEFAULT, 0);
    out.attrs.emplace_back("raw", std::string(buf.data()));
    return out;
  }
  out.attrs.reserve(spec->attrs.size());  // one allocation per expression, not one per growth
  for (const AttrSpec& a : spec->attrs) {
    if (!nftnl_expr_is_set(e, a.id)) continue;
    uint32_t len = 0;
    const void* p = nftnl_expr_get(e, a.id, &len);
    if (p == nullptr) continue;
    switch (a.kind) {
      case AttrKind::kInt:
        out.attrs.emplace_back(std::string(a.name), IntOfLen(p, len));
        break;
      case AttrKind::kStr:
        out.attrs.emplace_back(std::string(a.name), std::string(static_cast<const char*>(p)));
        break;
      case AttrKind::kData: {
        const auto* b = static_cast<const uint8_t*>(p);
        out.attrs.emplace_back(std::string(a.name), Bytes(b, b + len));
        break;
      }
    }
  }
  if (out.kind == "dynset") nftnl_expr_expr_foreach(e, ConvertExprCb, &out.nested);
  return out;
}

int ConvertExprCb(nftnl_expr* e, void* data) {
  static_cast<std::vector<Expr>*>(data)->push_back(ConvertExpr(e));
  return 0;
}

// The comment TLV (type `comment_type`) inside nft's userdata blob, or "".
std::string UdataComment(const void* data, uint32_t len, uint8_t comment_type) {
  std::string out;
  if (data == nullptr || len == 0) return out;
  const auto* p = static_cast<const uint8_t*>(data);
  // TLVs: type u8, len u8, value[len]. Walk defensively: userdata is whatever the writer put.
  uint32_t off = 0;
  while (off + 2 <= len) {
    uint8_t type = p[off];
    uint8_t l = p[off + 1];
    if (off + 2 + l > len) break;
    if (type == comment_type && l > 0) {
      const char* s = reinterpret_cast<const char*>(p + off + 2);
      out.assign(s, strnlen(s, l));
      break;
    }
    off += 2 + l;
  }
  return out;
}

Family FamilyOf(uint32_t f) { return static_cast<Family>(static_cast<uint8_t>(f)); }

std::string StrOr(const char* s) { return s != nullptr ? std::string(s) : std::string(); }

Error ParseError(std::string_view what) {
  return Error::FromErrno(EPROTO, "parsing " + std::string(what) + " message");
}

// libnftnl 1.2.4 parses an expression's kind with nftnl_expr_alloc(mnl_attr_get_str(name))
// without checking that the name attribute is there or terminated (nftnl_expr_parse); a malformed
// message would make it read through NULL. The kernel always sends both, so messages that lack
// them are refused before libnftnl sees them (found by tests/fuzz/netlink_fuzz).
bool ValidExpr(const nlattr* expr, int depth);

bool ValidExprList(const nlattr* list, int depth) {
  if (depth > 4) return false;
  bool ok = true;
  const nlattr* a;
  mnl_attr_for_each_nested_cxx(a, list) {
    if (mnl_attr_get_type(a) == NFTA_LIST_ELEM && !ValidExpr(a, depth)) ok = false;
  }
  return ok;
}

bool ValidExpr(const nlattr* expr, int depth) {
  const nlattr* name = nullptr;
  const nlattr* data = nullptr;
  const nlattr* a;
  mnl_attr_for_each_nested_cxx(a, expr) {
    if (mnl_attr_get_type(a) == NFTA_EXPR_NAME) name = a;
    if (mnl_attr_get_type(a) == NFTA_EXPR_DATA) data = a;
  }
  if (name == nullptr || mnl_attr_validate(name, MNL_TYPE_NUL_STRING) < 0 ||
      mnl_attr_get_payload_len(name) < 2) {
    return false;
  }
  // dynset carries expressions of its own.
  if (data != nullptr && std::string_view(mnl_attr_get_str(name)) == "dynset") {
    mnl_attr_for_each_nested_cxx(a, data) {
      uint16_t t = mnl_attr_get_type(a);
      if (t == NFTA_DYNSET_EXPR && !ValidExpr(a, depth + 1)) return false;
      if (t == NFTA_DYNSET_EXPRESSIONS && !ValidExprList(a, depth + 1)) return false;
    }
  }
  return true;
}

bool TopLevelTypesWithin(const nlmsghdr* nlh, uint16_t max);

// The expressions a message of `kind` carries at the top level: attribute numbers of a single
// expression and of an expression list (0: none).
bool ValidMessageExprs(const nlmsghdr* nlh, uint16_t single, uint16_t list) {
  bool ok = true;
  const nlattr* a;
  mnl_attr_for_each_cxx(a, nlh, sizeof(nfgenmsg)) {
    uint16_t t = mnl_attr_get_type(a);
    if (single != 0 && t == single && !ValidExpr(a, 0)) ok = false;
    if (list != 0 && t == list && !ValidExprList(a, 0)) ok = false;
  }
  return ok;
}

// Every attribute type of a set-element message is one the kernel defines (libnftnl 1.2.4
// overflows its stack in nftnl_set_elems_nlmsg_parse on larger ones, found by
// tests/fuzz/netlink_fuzz). Other messages' parsers skip unknown types, as they must for newer
// kernels.
bool TopLevelTypesWithin(const nlmsghdr* nlh, uint16_t max) {
  const nlattr* a;
  mnl_attr_for_each_cxx(a, nlh, sizeof(nfgenmsg)) {
    if (mnl_attr_get_type(a) > max) return false;
  }
  return true;
}

// Set element messages: the elements list, each element's attributes and expression(s).
bool ValidElemExprs(const nlmsghdr* nlh) {
  if (!TopLevelTypesWithin(nlh, NFTA_SET_ELEM_LIST_MAX)) return false;
  bool ok = true;
  const nlattr* a;
  mnl_attr_for_each_cxx(a, nlh, sizeof(nfgenmsg)) {
    if (mnl_attr_get_type(a) != NFTA_SET_ELEM_LIST_ELEMENTS) continue;
    const nlattr* e;
    mnl_attr_for_each_nested_cxx(e, a) {
      const nlattr* f;
      mnl_attr_for_each_nested_cxx(f, e) {
        uint16_t t = mnl_attr_get_type(f);
        if (t > NFTA_SET_ELEM_MAX) ok = false;
        if (t == NFTA_SET_ELEM_EXPR && !ValidExpr(f, 0)) ok = false;
        if (t == NFTA_SET_ELEM_EXPRESSIONS && !ValidExprList(f, 0)) ok = false;
      }
    }
  }
  return ok;
}
}  // namespace

// ----------------------------------------------------------------------------------------------
// Pure parsers
// ----------------------------------------------------------------------------------------------

Result<Table> ParseTableMessage(const nlmsghdr* nlh) {
  nl::TablePtr t(nftnl_table_alloc());
  if (!t || nftnl_table_nlmsg_parse(nlh, t.get()) < 0) return ParseError("table");
  if (!nftnl_table_is_set(t.get(), NFTNL_TABLE_NAME)) return ParseError("table (no name)");
  Table out;
  out.name = StrOr(nftnl_table_get_str(t.get(), NFTNL_TABLE_NAME));
  out.family = FamilyOf(nftnl_table_get_u32(t.get(), NFTNL_TABLE_FAMILY));
  if (nftnl_table_is_set(t.get(), NFTNL_TABLE_FLAGS))
    out.flags = nftnl_table_get_u32(t.get(), NFTNL_TABLE_FLAGS);
  if (nftnl_table_is_set(t.get(), NFTNL_TABLE_HANDLE))
    out.handle = nftnl_table_get_u64(t.get(), NFTNL_TABLE_HANDLE);
  if (nftnl_table_is_set(t.get(), NFTNL_TABLE_USERDATA)) {
    uint32_t len = 0;
    const void* ud = nftnl_table_get_data(t.get(), NFTNL_TABLE_USERDATA, &len);
    out.comment = UdataComment(ud, len, NFTNL_UDATA_TABLE_COMMENT);
  }
  return out;
}

Result<ParsedChain> ParseChainMessage(const nlmsghdr* nlh) {
  nl::ChainPtr c(nftnl_chain_alloc());
  if (!c || nftnl_chain_nlmsg_parse(nlh, c.get()) < 0) return ParseError("chain");
  if (!nftnl_chain_is_set(c.get(), NFTNL_CHAIN_NAME) ||
      !nftnl_chain_is_set(c.get(), NFTNL_CHAIN_TABLE))
    return ParseError("chain (no name or table)");
  ParsedChain out;
  out.family = FamilyOf(nftnl_chain_get_u32(c.get(), NFTNL_CHAIN_FAMILY));
  out.table = StrOr(nftnl_chain_get_str(c.get(), NFTNL_CHAIN_TABLE));
  Chain& ch = out.chain;
  ch.name = StrOr(nftnl_chain_get_str(c.get(), NFTNL_CHAIN_NAME));
  if (nftnl_chain_is_set(c.get(), NFTNL_CHAIN_HANDLE))
    ch.handle = nftnl_chain_get_u64(c.get(), NFTNL_CHAIN_HANDLE);
  if (nftnl_chain_is_set(c.get(), NFTNL_CHAIN_FLAGS))
    ch.flags = nftnl_chain_get_u32(c.get(), NFTNL_CHAIN_FLAGS);
  if (nftnl_chain_is_set(c.get(), NFTNL_CHAIN_HOOKNUM)) {
    BaseChain b;
    b.hook = nftnl_chain_get_u32(c.get(), NFTNL_CHAIN_HOOKNUM);
    if (nftnl_chain_is_set(c.get(), NFTNL_CHAIN_PRIO))
      b.priority = nftnl_chain_get_s32(c.get(), NFTNL_CHAIN_PRIO);
    if (nftnl_chain_is_set(c.get(), NFTNL_CHAIN_POLICY))
      b.policy = nftnl_chain_get_u32(c.get(), NFTNL_CHAIN_POLICY);
    b.type = StrOr(nftnl_chain_get_str(c.get(), NFTNL_CHAIN_TYPE));
    if (nftnl_chain_is_set(c.get(), NFTNL_CHAIN_DEVICES)) {
      const char* const* devs = nftnl_chain_get_array(c.get(), NFTNL_CHAIN_DEVICES);
      for (int i = 0; devs != nullptr && devs[i] != nullptr; ++i) b.devices.emplace_back(devs[i]);
    } else if (nftnl_chain_is_set(c.get(), NFTNL_CHAIN_DEV)) {
      b.devices.push_back(StrOr(nftnl_chain_get_str(c.get(), NFTNL_CHAIN_DEV)));
    }
    ch.base = std::move(b);
  }
  if (nftnl_chain_is_set(c.get(), NFTNL_CHAIN_USERDATA)) {
    uint32_t len = 0;
    const void* ud = nftnl_chain_get_data(c.get(), NFTNL_CHAIN_USERDATA, &len);
    ch.comment = UdataComment(ud, len, NFTNL_UDATA_CHAIN_COMMENT);
  }
  return out;
}

Result<ParsedRule> ParseRuleMessage(const nlmsghdr* nlh) {
  if (!ValidMessageExprs(nlh, 0, NFTA_RULE_EXPRESSIONS)) {
    return ParseError("rule (malformed attributes)");
  }
  nl::RulePtr r(nftnl_rule_alloc());
  if (!r || nftnl_rule_nlmsg_parse(nlh, r.get()) < 0) return ParseError("rule");
  if (!nftnl_rule_is_set(r.get(), NFTNL_RULE_TABLE) ||
      !nftnl_rule_is_set(r.get(), NFTNL_RULE_CHAIN))
    return ParseError("rule (no table or chain)");
  ParsedRule out;
  out.family = FamilyOf(nftnl_rule_get_u32(r.get(), NFTNL_RULE_FAMILY));
  out.table = StrOr(nftnl_rule_get_str(r.get(), NFTNL_RULE_TABLE));
  out.chain = StrOr(nftnl_rule_get_str(r.get(), NFTNL_RULE_CHAIN));
  if (nftnl_rule_is_set(r.get(), NFTNL_RULE_HANDLE))
    out.rule.handle = nftnl_rule_get_u64(r.get(), NFTNL_RULE_HANDLE);
  if (nftnl_rule_is_set(r.get(), NFTNL_RULE_POSITION))
    out.rule.position = nftnl_rule_get_u64(r.get(), NFTNL_RULE_POSITION);
  if (nftnl_rule_is_set(r.get(), NFTNL_RULE_USERDATA)) {
    uint32_t len = 0;
    const void* ud = nftnl_rule_get_data(r.get(), NFTNL_RULE_USERDATA, &len);
    out.rule.comment = UdataComment(ud, len, NFTNL_UDATA_RULE_COMMENT);
  }
  nl::ExprIterPtr it(nftnl_expr_iter_create(r.get()));
  if (!it) return Error::FromErrno(ENOMEM, "iterating rule expressions");
  for (nftnl_expr* e = nftnl_expr_iter_next(it.get()); e != nullptr;
       e = nftnl_expr_iter_next(it.get())) {
    out.rule.exprs.push_back(ConvertExpr(e));
  }
  return out;
}

Result<ParsedRule> ParseRuleOutlineMessage(const nlmsghdr* nlh) {
  if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(nfgenmsg))) return ParseError("rule (short)");
  const auto* nfg = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh));
  ParsedRule out;
  out.family = FamilyOf(nfg->nfgen_family);
  bool table = false, chain = false;
  const nlattr* a;
  mnl_attr_for_each_cxx(a, nlh, sizeof(nfgenmsg)) {
    switch (mnl_attr_get_type(a)) {
      case NFTA_RULE_TABLE:
      case NFTA_RULE_CHAIN: {
        if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0) return ParseError("rule (bad name)");
        bool is_table = mnl_attr_get_type(a) == NFTA_RULE_TABLE;
        (is_table ? out.table : out.chain) = mnl_attr_get_str(a);
        (is_table ? table : chain) = true;
        break;
      }
      case NFTA_RULE_HANDLE:
      case NFTA_RULE_POSITION: {
        if (mnl_attr_validate(a, MNL_TYPE_U64) < 0) return ParseError("rule (bad handle)");
        uint64_t v = be64toh(mnl_attr_get_u64(a));
        (mnl_attr_get_type(a) == NFTA_RULE_HANDLE ? out.rule.handle : out.rule.position) = v;
        break;
      }
      case NFTA_RULE_USERDATA:
        out.rule.comment = UdataComment(mnl_attr_get_payload(a), mnl_attr_get_payload_len(a),
                                        NFTNL_UDATA_RULE_COMMENT);
        break;
      default:
        break;
    }
  }
  if (!table || !chain) return ParseError("rule (no table or chain)");
  return out;
}

Result<ParsedSet> ParseSetMessage(const nlmsghdr* nlh) {
  if (!ValidMessageExprs(nlh, NFTA_SET_EXPR, NFTA_SET_EXPRESSIONS)) {
    return ParseError("set (malformed attributes)");
  }
  nl::SetPtr s(nftnl_set_alloc());
  if (!s || nftnl_set_nlmsg_parse(nlh, s.get()) < 0) return ParseError("set");
  if (!nftnl_set_is_set(s.get(), NFTNL_SET_NAME) || !nftnl_set_is_set(s.get(), NFTNL_SET_TABLE))
    return ParseError("set (no name or table)");
  ParsedSet out;
  out.family = FamilyOf(nftnl_set_get_u32(s.get(), NFTNL_SET_FAMILY));
  out.table = StrOr(nftnl_set_get_str(s.get(), NFTNL_SET_TABLE));
  Set& set = out.set;
  set.name = StrOr(nftnl_set_get_str(s.get(), NFTNL_SET_NAME));
  auto u32 = [&](uint16_t attr) {
    return nftnl_set_is_set(s.get(), attr) ? nftnl_set_get_u32(s.get(), attr) : 0U;
  };
  set.flags = u32(NFTNL_SET_FLAGS);
  set.key_type = u32(NFTNL_SET_KEY_TYPE);
  set.key_len = u32(NFTNL_SET_KEY_LEN);
  set.data_type = u32(NFTNL_SET_DATA_TYPE);
  set.data_len = u32(NFTNL_SET_DATA_LEN);
  set.obj_type = u32(NFTNL_SET_OBJ_TYPE);
  set.policy = u32(NFTNL_SET_POLICY);
  set.desc_size = u32(NFTNL_SET_DESC_SIZE);
  set.gc_interval_ms = u32(NFTNL_SET_GC_INTERVAL);
  if (nftnl_set_is_set(s.get(), NFTNL_SET_HANDLE))
    set.handle = nftnl_set_get_u64(s.get(), NFTNL_SET_HANDLE);
  if (nftnl_set_is_set(s.get(), NFTNL_SET_TIMEOUT))
    set.timeout_ms = nftnl_set_get_u64(s.get(), NFTNL_SET_TIMEOUT);
  if (nftnl_set_is_set(s.get(), NFTNL_SET_DESC_CONCAT)) {
    uint32_t len = 0;
    const auto* p =
        static_cast<const uint8_t*>(nftnl_set_get_data(s.get(), NFTNL_SET_DESC_CONCAT, &len));
    if (p != nullptr) set.field_lengths.assign(p, p + len);
  }
  if (nftnl_set_is_set(s.get(), NFTNL_SET_USERDATA)) {
    uint32_t len = 0;
    const auto* p =
        static_cast<const uint8_t*>(nftnl_set_get_data(s.get(), NFTNL_SET_USERDATA, &len));
    if (p != nullptr) set.userdata.assign(p, p + len);
  }
  nftnl_set_expr_foreach(s.get(), ConvertExprCb, &set.exprs);
  return out;
}

Status ParseSetElemsMessage(const nlmsghdr* nlh, Set& set) {
  if (!ValidElemExprs(nlh)) return ParseError("set elements (malformed attributes)");
  nl::SetPtr s(nftnl_set_alloc());
  if (!s || nftnl_set_elems_nlmsg_parse(nlh, s.get()) < 0) return ParseError("set element");
  nl::ElemIterPtr it(nftnl_set_elems_iter_create(s.get()));
  if (!it) return Error::FromErrno(ENOMEM, "iterating set elements");
  for (nftnl_set_elem* e = nftnl_set_elems_iter_next(it.get()); e != nullptr;
       e = nftnl_set_elems_iter_next(it.get())) {
    SetElement el;
    auto bytes = [&](uint16_t attr) {
      Bytes b;
      if (!nftnl_set_elem_is_set(e, attr)) return b;
      uint32_t len = 0;
      const auto* p = static_cast<const uint8_t*>(nftnl_set_elem_get(e, attr, &len));
      if (p != nullptr) b.assign(p, p + len);
      return b;
    };
    el.key = bytes(NFTNL_SET_ELEM_KEY);
    el.key_end = bytes(NFTNL_SET_ELEM_KEY_END);
    el.data = bytes(NFTNL_SET_ELEM_DATA);
    if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS))
      el.flags = nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS);
    if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_VERDICT))
      el.verdict = static_cast<int32_t>(nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_VERDICT));
    if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_CHAIN))
      el.chain = StrOr(nftnl_set_elem_get_str(e, NFTNL_SET_ELEM_CHAIN));
    if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_OBJREF))
      el.objref = StrOr(nftnl_set_elem_get_str(e, NFTNL_SET_ELEM_OBJREF));
    if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_TIMEOUT))
      el.timeout_ms = nftnl_set_elem_get_u64(e, NFTNL_SET_ELEM_TIMEOUT);
    if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_USERDATA)) {
      uint32_t len = 0;
      const void* ud = nftnl_set_elem_get(e, NFTNL_SET_ELEM_USERDATA, &len);
      el.comment = UdataComment(ud, len, NFTNL_UDATA_SET_ELEM_COMMENT);
    }
    nftnl_set_elem_expr_foreach(e, ConvertExprCb, &el.exprs);
    set.elements.push_back(std::move(el));
  }
  return OkStatus();
}

Result<ParsedFlowtable> ParseFlowtableMessage(const nlmsghdr* nlh) {
  nl::FlowtablePtr f(nftnl_flowtable_alloc());
  if (!f || nftnl_flowtable_nlmsg_parse(nlh, f.get()) < 0) return ParseError("flowtable");
  if (!nftnl_flowtable_is_set(f.get(), NFTNL_FLOWTABLE_NAME) ||
      !nftnl_flowtable_is_set(f.get(), NFTNL_FLOWTABLE_TABLE))
    return ParseError("flowtable (no name or table)");
  ParsedFlowtable out;
  out.family = FamilyOf(nftnl_flowtable_get_u32(f.get(), NFTNL_FLOWTABLE_FAMILY));
  out.table = StrOr(nftnl_flowtable_get_str(f.get(), NFTNL_FLOWTABLE_TABLE));
  Flowtable& ft = out.flowtable;
  ft.name = StrOr(nftnl_flowtable_get_str(f.get(), NFTNL_FLOWTABLE_NAME));
  if (nftnl_flowtable_is_set(f.get(), NFTNL_FLOWTABLE_HOOKNUM))
    ft.hook = nftnl_flowtable_get_u32(f.get(), NFTNL_FLOWTABLE_HOOKNUM);
  if (nftnl_flowtable_is_set(f.get(), NFTNL_FLOWTABLE_PRIO))
    ft.priority = nftnl_flowtable_get_s32(f.get(), NFTNL_FLOWTABLE_PRIO);
  if (nftnl_flowtable_is_set(f.get(), NFTNL_FLOWTABLE_FLAGS))
    ft.flags = nftnl_flowtable_get_u32(f.get(), NFTNL_FLOWTABLE_FLAGS);
  if (nftnl_flowtable_is_set(f.get(), NFTNL_FLOWTABLE_HANDLE))
    ft.handle = nftnl_flowtable_get_u64(f.get(), NFTNL_FLOWTABLE_HANDLE);
  if (nftnl_flowtable_is_set(f.get(), NFTNL_FLOWTABLE_DEVICES)) {
    const char* const* devs = nftnl_flowtable_get_array(f.get(), NFTNL_FLOWTABLE_DEVICES);
    for (int i = 0; devs != nullptr && devs[i] != nullptr; ++i) ft.devices.emplace_back(devs[i]);
  }
  return out;
}

Result<ParsedObject> ParseObjectMessage(const nlmsghdr* nlh) {
  nl::ObjPtr o(nftnl_obj_alloc());
  if (!o || nftnl_obj_nlmsg_parse(nlh, o.get()) < 0) return ParseError("object");
  if (!nftnl_obj_is_set(o.get(), NFTNL_OBJ_NAME) || !nftnl_obj_is_set(o.get(), NFTNL_OBJ_TABLE))
    return ParseError("object (no name or table)");
  ParsedObject out;
  out.family = FamilyOf(nftnl_obj_get_u32(o.get(), NFTNL_OBJ_FAMILY));
  out.table = StrOr(nftnl_obj_get_str(o.get(), NFTNL_OBJ_TABLE));
  Object& obj = out.object;
  obj.name = StrOr(nftnl_obj_get_str(o.get(), NFTNL_OBJ_NAME));
  obj.type = nftnl_obj_get_u32(o.get(), NFTNL_OBJ_TYPE);
  if (nftnl_obj_is_set(o.get(), NFTNL_OBJ_HANDLE))
    obj.handle = nftnl_obj_get_u64(o.get(), NFTNL_OBJ_HANDLE);
  if (nftnl_obj_is_set(o.get(), NFTNL_OBJ_USERDATA)) {
    uint32_t len = 0;
    const void* ud = nftnl_obj_get_data(o.get(), NFTNL_OBJ_USERDATA, &len);
    obj.comment = UdataComment(ud, len, NFTNL_UDATA_OBJ_COMMENT);
  }
  struct ObjAttr {
    uint16_t id;
    std::string_view name;
    AttrKind kind;
  };
  static const std::map<uint32_t, std::vector<ObjAttr>> kObjAttrs = {
      {NFT_OBJECT_COUNTER, {{NFTNL_OBJ_CTR_PKTS, "pkts", I}, {NFTNL_OBJ_CTR_BYTES, "bytes", I}}},
      {NFT_OBJECT_QUOTA,
       {{NFTNL_OBJ_QUOTA_BYTES, "bytes", I},
        {NFTNL_OBJ_QUOTA_CONSUMED, "consumed", I},
        {NFTNL_OBJ_QUOTA_FLAGS, "flags", I}}},
      {NFT_OBJECT_CT_HELPER,
       {{NFTNL_OBJ_CT_HELPER_NAME, "name", S},
        {NFTNL_OBJ_CT_HELPER_L3PROTO, "l3proto", I},
        {NFTNL_OBJ_CT_HELPER_L4PROTO, "l4proto", I}}},
      {NFT_OBJECT_LIMIT,
       {{NFTNL_OBJ_LIMIT_RATE, "rate", I},
        {NFTNL_OBJ_LIMIT_UNIT, "unit", I},
        {NFTNL_OBJ_LIMIT_BURST, "burst", I},
        {NFTNL_OBJ_LIMIT_TYPE, "type", I},
        {NFTNL_OBJ_LIMIT_FLAGS, "flags", I}}},
      {NFT_OBJECT_CT_TIMEOUT,
       {{NFTNL_OBJ_CT_TIMEOUT_L3PROTO, "l3proto", I},
        {NFTNL_OBJ_CT_TIMEOUT_L4PROTO, "l4proto", I},
        {NFTNL_OBJ_CT_TIMEOUT_ARRAY, "array", D}}},
      {NFT_OBJECT_SECMARK, {{NFTNL_OBJ_SECMARK_CTX, "ctx", S}}},
      {NFT_OBJECT_CT_EXPECT,
       {{NFTNL_OBJ_CT_EXPECT_L3PROTO, "l3proto", I},
        {NFTNL_OBJ_CT_EXPECT_L4PROTO, "l4proto", I},
        {NFTNL_OBJ_CT_EXPECT_DPORT, "dport", I},
        {NFTNL_OBJ_CT_EXPECT_TIMEOUT, "timeout", I},
        {NFTNL_OBJ_CT_EXPECT_SIZE, "size", I}}},
      {NFT_OBJECT_SYNPROXY,
       {{NFTNL_OBJ_SYNPROXY_MSS, "mss", I},
        {NFTNL_OBJ_SYNPROXY_WSCALE, "wscale", I},
        {NFTNL_OBJ_SYNPROXY_FLAGS, "flags", I}}},
  };
  auto it = kObjAttrs.find(obj.type);
  if (it != kObjAttrs.end()) {
    for (const ObjAttr& a : it->second) {
      if (!nftnl_obj_is_set(o.get(), a.id)) continue;
      uint32_t len = 0;
      const void* p = nftnl_obj_get_data(o.get(), a.id, &len);
      if (p == nullptr) continue;
      switch (a.kind) {
        case AttrKind::kInt:
          obj.attrs.emplace_back(std::string(a.name), IntOfLen(p, len));
          break;
        case AttrKind::kStr:
          obj.attrs.emplace_back(std::string(a.name), std::string(static_cast<const char*>(p)));
          break;
        case AttrKind::kData: {
          const auto* b = static_cast<const uint8_t*>(p);
          obj.attrs.emplace_back(std::string(a.name), Bytes(b, b + len));
          break;
        }
      }
    }
  }
  return out;
}

// ----------------------------------------------------------------------------------------------
// Talking to the kernel
// ----------------------------------------------------------------------------------------------
namespace {

// Every dump request gets a fresh socket per attempt (DumpRuleset): an interrupted dump leaves
// unread replies queued on the old one.
Result<NetlinkSocket> OpenNftSocket(std::chrono::milliseconds timeout) {
  NetlinkSocket::Options o;
  o.timeout = timeout;
  // Large dumps (100k set elements) arrive faster than we parse; a bigger buffer avoids ENOBUFS.
  o.receive_buffer = 4 << 20;
  return NetlinkSocket::Open(NETLINK_NETFILTER, o);
}

nlmsghdr* BuildHeader(std::vector<char>& buf, uint16_t type, uint16_t family, uint16_t flags) {
  return nftnl_nlmsg_build_hdr(buf.data(), type, family, flags, 0);
}

Result<uint32_t> GetGeneration(NetlinkSocket& sock) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = BuildHeader(buf, NFT_MSG_GETGEN, NFPROTO_UNSPEC, NLM_F_ACK);
  uint32_t gen = 0;
  bool got = false;
  Status st = sock.Request(nlh, "reading the nftables generation", [&](const nlmsghdr* m) {
    nl::GenPtr g(nftnl_gen_alloc());
    if (!g || nftnl_gen_nlmsg_parse(m, g.get()) < 0) return Status(ParseError("generation"));
    gen = nftnl_gen_get_u32(g.get(), NFTNL_GEN_ID);
    got = true;
    return OkStatus();
  });
  if (!st.ok()) return st.error();
  if (!got) return Error::FromErrno(EPROTO, "reading the nftables generation (no reply)");
  return gen;
}

template <typename Parsed, typename ParseFn, typename Sink>
Status DumpObjects(NetlinkSocket& sock, uint16_t type, std::string_view what, ParseFn parse,
                   Sink sink) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = BuildHeader(buf, type, NFPROTO_UNSPEC, NLM_F_DUMP);
  return sock.Request(nlh, "dumping " + std::string(what), [&](const nlmsghdr* m) -> Status {
    Result<Parsed> p = parse(m);
    if (!p.ok()) return p.error();
    sink(std::move(p.value()));
    return OkStatus();
  });
}

Table* FindTableMut(Ruleset& rs, Family family, const std::string& name) {
  for (auto& t : rs.tables) {
    if (t.family == family && t.name == name) return &t;
  }
  return nullptr;
}

Result<Ruleset> DumpOnce(NetlinkSocket& sock, const DumpOptions& options) {
  Ruleset rs;
  Status st = DumpObjects<Table>(sock, NFT_MSG_GETTABLE, "tables", ParseTableMessage,
                                 [&](Table t) { rs.tables.push_back(std::move(t)); });
  if (!st.ok()) return st.error();

  st = DumpObjects<ParsedChain>(sock, NFT_MSG_GETCHAIN, "chains", ParseChainMessage,
                                [&](ParsedChain c) {
                                  if (Table* t = FindTableMut(rs, c.family, c.table))
                                    t->chains.push_back(std::move(c.chain));
                                });
  if (!st.ok()) return st.error();

  st = DumpObjects<ParsedSet>(sock, NFT_MSG_GETSET, "sets", ParseSetMessage, [&](ParsedSet s) {
    if (Table* t = FindTableMut(rs, s.family, s.table)) t->sets.push_back(std::move(s.set));
  });
  if (!st.ok()) return st.error();

  for (Table& t : rs.tables) {
    for (Set& s : t.sets) {
      if (options.outline_only || (!s.anonymous() && !options.named_set_elements)) continue;
      nl::SetPtr req(nftnl_set_alloc());
      if (!req) return Error::FromErrno(ENOMEM, "allocating set request");
      nftnl_set_set_str(req.get(), NFTNL_SET_TABLE, t.name.c_str());
      nftnl_set_set_str(req.get(), NFTNL_SET_NAME, s.name.c_str());
      std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
      nlmsghdr* nlh = BuildHeader(buf, NFT_MSG_GETSETELEM, static_cast<uint16_t>(t.family),
                                  NLM_F_DUMP | NLM_F_ACK);
      nftnl_set_elems_nlmsg_build_payload(nlh, req.get());
      std::string what = "dumping elements of set " + s.name + " in table " +
                         std::string(FamilyName(t.family)) + " " + t.name;
      st = sock.Request(nlh, what, [&](const nlmsghdr* m) { return ParseSetElemsMessage(m, s); });
      if (!st.ok()) return st.error();
    }
  }

  st = DumpObjects<ParsedRule>(sock, NFT_MSG_GETRULE, "rules",
                               options.outline_only ? ParseRuleOutlineMessage : ParseRuleMessage,
                               [&](ParsedRule r) {
                                 Table* t = FindTableMut(rs, r.family, r.table);
                                 if (t == nullptr) return;
                                 for (Chain& c : t->chains) {
                                   if (c.name == r.chain) {
                                     c.rules.push_back(std::move(r.rule));
                                     return;
                                   }
                                 }
                               });
  if (!st.ok()) return st.error();

  st = DumpObjects<ParsedFlowtable>(sock, NFT_MSG_GETFLOWTABLE, "flowtables", ParseFlowtableMessage,
                                    [&](ParsedFlowtable f) {
                                      if (Table* t = FindTableMut(rs, f.family, f.table))
                                        t->flowtables.push_back(std::move(f.flowtable));
                                    });
  if (!st.ok()) return st.error();

  st = DumpObjects<ParsedObject>(sock, NFT_MSG_GETOBJ, "objects", ParseObjectMessage,
                                 [&](ParsedObject o) {
                                   if (Table* t = FindTableMut(rs, o.family, o.table))
                                     t->objects.push_back(std::move(o.object));
                                 });
  if (!st.ok()) return st.error();
  return rs;
}

// The calling thread's namespace's interfaces by index (if_nameindex reads them over a netlink
// socket, which belongs to the namespace of the thread that opens it).
std::map<uint32_t, std::string> InterfaceNames() {
  std::map<uint32_t, std::string> out;
  if (struct if_nameindex* ni = if_nameindex()) {
    for (struct if_nameindex* p = ni; p->if_index != 0; ++p) out[p->if_index] = p->if_name;
    if_freenameindex(ni);
  }
  return out;
}

}  // namespace

Result<uint32_t> ReadGeneration(std::chrono::milliseconds timeout) {
  auto sock = OpenNftSocket(timeout);
  if (!sock.ok()) return sock.error();
  return GetGeneration(*sock);
}

Result<Ruleset> DumpRuleset(const DumpOptions& options) {
  for (int attempt = 0; attempt < options.max_attempts; ++attempt) {
    // A fresh socket per attempt: an interrupted dump leaves unread replies queued on the old
    // one, which the next request would otherwise read as out-of-sequence (EPROTO).
    auto sock = OpenNftSocket(options.timeout);
    if (!sock.ok()) return sock.error();
    auto before = GetGeneration(*sock);
    if (!before.ok()) return before.error();
    auto rs = DumpOnce(*sock, options);
    if (!rs.ok()) {
      // NLM_F_DUMP_INTR (libmnl reports EINTR) or an object that vanished between two requests
      // (ENOENT) means the ruleset changed while we read it: read it again.
      int err = rs.error().Errno();
      if (err == EINTR || err == ENOENT) continue;
      return rs.error();
    }
    auto after = GetGeneration(*sock);
    if (!after.ok()) return after.error();
    if (*before == *after) {
      rs->generation = *after;
      rs->interfaces = InterfaceNames();
      return rs;
    }
  }
  return Error::FromErrno(EAGAIN, "dumping the ruleset: it kept changing while being read");
}

}  // namespace fwgate::sys
