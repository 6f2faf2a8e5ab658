// Declarations in nft syntax (tables, chains, sets, flowtables, objects) and the whole-ruleset
// layout of `nft list ruleset`. Rules are rendered by print_expr.cpp.
#include "gate/nft/printer.h"

#include <fmt/format.h>

#include <array>
#include <cstring>
#include <map>
#include <optional>

#include "gate/nft/print_internal.h"
#include "gate/nft/print_keys.h"

namespace fwgate::nft {

namespace pr = print;

std::string LowLevelText(const Expr& expr) {
  std::string out = "[" + expr.kind;
  for (const auto& [name, value] : expr.attrs) {
    out += " " + name + "=";
    if (const auto* i = std::get_if<uint64_t>(&value)) {
      out += std::to_string(*i);
    } else if (const auto* s = std::get_if<std::string>(&value)) {
      out += "\"" + *s + "\"";
    } else {
      out += "0x";
      for (uint8_t b : std::get<Bytes>(value)) out += fmt::format("{:02x}", b);
    }
  }
  for (const auto& n : expr.nested) out += " " + LowLevelText(n);
  return out + "]";
}

std::string RuleText(const Table& table, const Rule& rule, const PrintOptions& options) {
  return RenderRule(table, rule, options).text;
}

namespace {

struct StdPrio {
  std::string_view name;
  int32_t value;
  int hook;  // only valid for this hook; -1 for any
};

// nft's standard priority names (nftables src/rule.c std_prios / bridge_std_prios).
std::string PriorityText(Family family, uint32_t hook, int32_t prio) {
  static constexpr std::array kInet = {StdPrio{"raw", -300, -1},    StdPrio{"mangle", -150, -1},
                                       StdPrio{"dstnat", -100, 0},  StdPrio{"filter", 0, -1},
                                       StdPrio{"security", 50, -1}, StdPrio{"srcnat", 100, 4}};
  static constexpr std::array kBridge = {StdPrio{"dstnat", -300, 0}, StdPrio{"filter", -200, -1},
                                         StdPrio{"out", 100, 3}, StdPrio{"srcnat", 300, 4}};
  static constexpr std::array kFilterOnly = {StdPrio{"filter", 0, -1}};
  auto pick = [&](const auto& table) -> std::string {
    for (const StdPrio& p : table) {
      if (p.hook >= 0 && static_cast<uint32_t>(p.hook) != hook) continue;
      int64_t off = static_cast<int64_t>(prio) - p.value;
      if (off == 0) return std::string(p.name);
    }
    for (const StdPrio& p : table) {
      if (p.hook >= 0 && static_cast<uint32_t>(p.hook) != hook) continue;
      int64_t off = static_cast<int64_t>(prio) - p.value;
      if (off > 0 && off <= 10) return fmt::format("{} + {}", p.name, off);
      if (off < 0 && off >= -10) return fmt::format("{} - {}", p.name, -off);
    }
    return std::to_string(prio);
  };
  switch (family) {
    case Family::kIp:
    case Family::kIp6:
    case Family::kInet:
      return pick(kInet);
    case Family::kBridge:
      return pick(kBridge);
    case Family::kArp:
    case Family::kNetdev:
      return pick(kFilterOnly);
    default:
      return std::to_string(prio);
  }
}

std::string DevicesText(const std::vector<std::string>& devices) {
  if (devices.size() == 1) return " device " + pr::Quote(devices[0]);
  std::string s = " devices = { ";
  for (size_t i = 0; i < devices.size(); ++i) s += (i == 0 ? "" : ", ") + pr::Quote(devices[i]);
  return s + " }";
}

// Userdata TLVs (libnftnl udata.h): u8 type, u8 len, value; nested attributes are TLVs too.
// Calls fn(type, value, len) for each well-formed attribute of [p, p + n).
template <typename Fn>
void ForEachTlv(const uint8_t* p, size_t n, Fn&& fn) {
  size_t off = 0;
  while (off + 2 <= n) {
    uint8_t type = p[off];
    uint8_t len = p[off + 1];
    if (off + 2 + len > n) break;
    fn(type, p + off + 2, len);
    off += 2 + len;
  }
}

uint32_t TlvU32(const uint8_t* v, uint8_t len) {
  return len == 4 ? static_cast<uint32_t>(pr::BytesToInt(v, 4, false)) : ~0U;
}

// nft's proto_desc ids (include/proto.h enum proto_desc_id), as set userdata names headers.
constexpr std::array<std::string_view, 18> kProtoDescIds = {
    "",     "ah",   "esp", "comp", "icmp", "igmp",   "udp", "udplite", "tcp",
    "dccp", "sctp", "th",  "ip",   "ip6",  "icmpv6", "arp", "vlan",    "ether"};

// nft's expression type ids (include/expression.h enum expr_types) that typeof records.
constexpr uint32_t kExprPayload = 7;
constexpr uint32_t kExprMeta = 9;
constexpr uint32_t kExprCt = 12;
constexpr uint32_t kExprConcat = 13;

// One typeof expression: its type id and data (nftables' *_expr_build_udata), as nft prints it;
// nullopt for what this printer does not decode (then the set prints as `type`).
std::optional<std::string> TypeofExprText(uint32_t etype, const uint8_t* p, size_t n) {
  std::map<uint8_t, uint32_t> u32;
  std::vector<std::pair<const uint8_t*, uint8_t>> nests;
  ForEachTlv(p, n, [&](uint8_t t, const uint8_t* v, uint8_t len) {
    u32[t] = TlvU32(v, len);
    nests.emplace_back(v, len);
  });
  auto get = [&](uint8_t t) -> std::optional<uint32_t> {
    auto it = u32.find(t);
    if (it == u32.end() || it->second == ~0U) return std::nullopt;
    return it->second;
  };
  if (etype == kExprPayload) {  // PAYLOAD_DESC 0, PAYLOAD_TYPE 1 (template index from 1)
    auto desc = get(0);
    auto tmpl = get(1);
    if (!desc || !tmpl || *desc == 0 || *desc >= kProtoDescIds.size() || *tmpl == 0) return {};
    const pr::KeyFamily* proto = pr::Protocol(kProtoDescIds[*desc]);
    if (proto == nullptr || *tmpl > proto->keys.size()) return {};
    return fmt::format("{} {}", proto->prefix, proto->keys[*tmpl - 1].name);
  }
  if (etype == kExprMeta || etype == kExprCt) {  // META_KEY 0 / CT_KEY 0, CT_DIR 1
    auto key = get(0);
    const pr::KeyFamily* fam = pr::LoadFamily(etype == kExprMeta ? "meta" : "ct");
    const pr::KeyDef* k = key ? pr::FindKey(*fam, *key) : nullptr;
    if (k == nullptr) return {};
    if (etype == kExprMeta) {
      if ((k->flags & pr::kKeyUnqualified) != 0) return std::string(k->name);
      return "meta " + std::string(k->name);
    }
    auto dir = get(1);
    std::string d = dir == 0u ? "original " : dir == 1u ? "reply " : "";
    return "ct " + d + std::string(k->name);
  }
  if (etype == kExprConcat) {  // one nest per component: SUB_TYPE 0, SUB_DATA 1
    std::string out;
    for (const auto& [v, len] : nests) {
      std::optional<uint32_t> sub;
      const uint8_t* data = nullptr;
      uint8_t data_len = 0;
      ForEachTlv(v, len, [&](uint8_t t, const uint8_t* x, uint8_t l) {
        if (t == 0) sub = TlvU32(x, l);
        if (t == 1) {
          data = x;
          data_len = l;
        }
      });
      if (!sub || data == nullptr || *sub == kExprConcat) return {};
      auto part = TypeofExprText(*sub, data, data_len);
      if (!part) return {};
      out += (out.empty() ? "" : " . ") + *part;
    }
    if (out.empty()) return {};
    return out;
  }
  return {};
}

// A KEY_TYPEOF / DATA_TYPEOF attribute: TYPEOF_EXPR 0 (u32), TYPEOF_DATA 1 (nested).
std::optional<std::string> TypeofText(const std::vector<uint8_t>& attr) {
  std::optional<uint32_t> etype;
  const uint8_t* data = nullptr;
  uint8_t data_len = 0;
  ForEachTlv(attr.data(), attr.size(), [&](uint8_t t, const uint8_t* v, uint8_t len) {
    if (t == 0) etype = TlvU32(v, len);
    if (t == 1) {
      data = v;
      data_len = len;
    }
  });
  if (!etype || data == nullptr) return std::nullopt;
  return TypeofExprText(*etype, data, data_len);
}

// Set userdata (NFTNL_UDATA_SET_*).
struct SetUdata {
  std::optional<uint32_t> key_byteorder;  // BYTEORDER_HOST_ENDIAN 1, BIG 2
  std::optional<uint32_t> data_byteorder;
  std::vector<uint8_t> key_typeof;   // NFTNL_UDATA_SET_KEY_TYPEOF
  std::vector<uint8_t> data_typeof;  // NFTNL_UDATA_SET_DATA_TYPEOF
  std::string comment;
};

SetUdata ParseSetUdata(const Bytes& ud) {
  SetUdata out;
  ForEachTlv(ud.data(), ud.size(), [&](uint8_t type, const uint8_t* v, uint8_t len) {
    if ((type == 0 || type == 1) && len == 4) {
      (type == 0 ? out.key_byteorder : out.data_byteorder) = TlvU32(v, len);
    } else if (type == 3 || type == 4) {
      (type == 3 ? out.key_typeof : out.data_typeof).assign(v, v + len);
    } else if (type == 7 && len > 0) {  // NFTNL_UDATA_SET_COMMENT
      out.comment.assign(reinterpret_cast<const char*>(v),
                         strnlen(reinterpret_cast<const char*>(v), len));
    }
  });
  return out;
}

std::string TypeListText(uint32_t type) {
  std::string s;
  for (uint32_t id : pr::SplitConcatType(type)) {
    std::string_view n = pr::TypeName(id);
    if (!s.empty()) s += " . ";
    s += n.empty() ? fmt::format("{}", id) : std::string(n);
  }
  return s;
}

std::vector<std::string> SetLines(const Set& set) {
  std::vector<std::string> lines;
  // nft prints `typeof EXPR` when the set's userdata records the expressions it was declared
  // with (and all of them decode), else `type DATATYPES` (rule.c set_print_key_and_data).
  SetUdata ud = ParseSetUdata(set.userdata);
  std::optional<std::string> key_typeof = TypeofText(ud.key_typeof);
  std::optional<std::string> data_typeof;
  bool datamap = set.is_map() && !set.is_object_map();
  if (datamap) {
    data_typeof = set.data_type == pr::kVerdictDataType ? std::optional<std::string>("verdict")
                                                        : TypeofText(ud.data_typeof);
  }
  const bool use_typeof = key_typeof && (!datamap || data_typeof);
  std::string type = use_typeof ? "typeof " + *key_typeof : "type " + TypeListText(set.key_type);
  if (set.is_object_map()) {
    type += " : " + std::string(ObjectTypeName(set.obj_type));
  } else if (use_typeof && datamap) {
    type += " : " + *data_typeof;
  } else if (set.is_map()) {
    type +=
        set.data_type == pr::kVerdictDataType ? " : verdict" : " : " + TypeListText(set.data_type);
  }
  lines.push_back(type);
  if ((set.flags & 0x2) == 0) {  // NFT_SET_CONSTANT sets print neither policy nor size
    if (set.policy == 1) lines.push_back("policy memory");  // NFT_SET_POL_MEMORY
    if (set.desc_size != 0) lines.push_back(fmt::format("size {}", set.desc_size));
  }
  // A default timeout implies the "timeout" flag: alone it is not printed, beside other flags it
  // is (nft's set_print_declaration).
  uint32_t shown = set.timeout_ms != 0 ? set.flags & ~0x10U : set.flags;
  if (pr::FlagNames(pr::Names::kSetFlags, shown, ",").empty()) shown = 0;
  std::string names = pr::FlagNames(pr::Names::kSetFlags, shown != 0 ? set.flags : 0, ",");
  if (!names.empty()) lines.push_back("flags " + names);
  if (set.timeout_ms != 0) lines.push_back("timeout " + pr::TimeText(set.timeout_ms));
  if (set.gc_interval_ms != 0) lines.push_back("gc-interval " + pr::TimeText(set.gc_interval_ms));
  for (const Expr& e : set.exprs) {
    if (e.kind == "counter") {
      lines.push_back("counter");  // set-level statements are listed stateless
    } else {
      lines.push_back(LowLevelText(e));
    }
  }
  if (!ud.comment.empty()) lines.push_back("comment " + pr::Quote(ud.comment));
  return lines;
}

std::vector<std::string> ElementTextsWith(const Set& set, const PrintOptions& o) {
  std::vector<pr::KeyPart> key =
      pr::PartsFromType(set.key_type, set.key_len, set.field_lengths, set.is_interval());
  std::vector<pr::KeyPart> data;
  if (set.is_map() && set.data_type != pr::kVerdictDataType)
    data = pr::PartsFromType(set.data_type, set.data_len, {}, false);
  bool ok = true;
  return pr::ElementStrings(set, key, data, o, &ok);
}

std::string Join(const std::vector<std::string>& v, std::string_view sep) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i == 0 ? "" : std::string(sep)) + v[i];
  return s;
}

std::string L3ProtoName(uint64_t v) {
  std::string_view n = pr::NameOf(pr::Names::kL3Proto, v);
  return n.empty() ? std::to_string(v) : std::string(n);
}

uint64_t ObjInt(const Object& o, std::string_view name, uint64_t fallback = 0) {
  for (const auto& [k, v] : o.attrs) {
    if (k == name) {
      if (const auto* i = std::get_if<uint64_t>(&v)) return *i;
    }
  }
  return fallback;
}
std::string ObjStr(const Object& o, std::string_view name) {
  for (const auto& [k, v] : o.attrs) {
    if (k == name) {
      if (const auto* s = std::get_if<std::string>(&v)) return *s;
    }
  }
  return {};
}
Bytes ObjData(const Object& o, std::string_view name) {
  for (const auto& [k, v] : o.attrs) {
    if (k == name) {
      if (const auto* b = std::get_if<Bytes>(&v)) return *b;
    }
  }
  return {};
}

struct TimeoutState {
  std::string_view name;
  uint32_t kernel_default;  // seconds; nft prints only states that differ from these
};
std::vector<TimeoutState> TimeoutStates(uint64_t l4proto) {
  switch (l4proto) {
    case 6:
      return {{"syn_sent", 120},  {"syn_recv", 60}, {"established", 432000}, {"fin_wait", 120},
              {"close_wait", 60}, {"last_ack", 30}, {"time_wait", 120},      {"close", 10},
              {"syn_sent2", 120}, {"retrans", 300}, {"unacknowledged", 300}};
    case 17:
    case 136:
      return {{"unreplied", 30}, {"replied", 120}};
    default:
      return {{"timeout", 30}};
  }
}

std::vector<std::string> ObjectLines(const Object& obj, const PrintOptions& o) {
  std::vector<std::string> lines;
  if (!obj.comment.empty()) lines.push_back("comment " + pr::Quote(obj.comment));
  uint8_t proto = static_cast<uint8_t>(ObjInt(obj, "l4proto"));
  switch (obj.type) {
    case 1:  // counter
      if (o.counters) {
        lines.push_back(
            fmt::format("packets {} bytes {}", ObjInt(obj, "pkts"), ObjInt(obj, "bytes")));
      }
      break;
    case 2: {  // quota
      std::string s = fmt::format("{}{}", (ObjInt(obj, "flags") & 1) ? "over " : "",
                                  pr::ByteAmount(ObjInt(obj, "bytes")));
      if (o.counters && ObjInt(obj, "consumed") != 0)
        s += " used " + pr::ByteAmount(ObjInt(obj, "consumed"));
      lines.push_back(s);
      break;
    }
    case 3:  // ct helper
      lines.push_back(fmt::format("type {} protocol {}", pr::Quote(ObjStr(obj, "name")),
                                  pr::ProtocolName(proto)));
      lines.push_back("l3proto " + L3ProtoName(ObjInt(obj, "l3proto")));
      break;
    case 4: {  // limit
      bool over = (ObjInt(obj, "flags") & 1) != 0;
      uint64_t burst = ObjInt(obj, "burst");
      std::string unit(print::RateUnitName(ObjInt(obj, "unit", 1)));
      if (ObjInt(obj, "type") == 1) {
        std::string s = fmt::format("rate {}{}/{}", over ? "over " : "",
                                    pr::ByteAmount(ObjInt(obj, "rate")), unit);
        if (burst != 0) s += " burst " + pr::ByteAmount(burst);
        lines.push_back(s);
      } else {
        std::string s = fmt::format("rate {}{}/{}", over ? "over " : "", ObjInt(obj, "rate"), unit);
        if (burst != 0 && burst != 5) s += fmt::format(" burst {} packets", burst);
        lines.push_back(s);
      }
      break;
    }
    case 7: {  // ct timeout
      lines.push_back("protocol " + pr::ProtocolName(proto));
      lines.push_back("l3proto " + L3ProtoName(ObjInt(obj, "l3proto")));
      Bytes arr = ObjData(obj, "array");
      std::vector<TimeoutState> states = TimeoutStates(proto);
      std::string pol;
      for (size_t i = 0; i < states.size() && (i + 1) * 4 <= arr.size(); ++i) {
        uint64_t v = pr::BytesToInt(arr.data() + i * 4, 4, false);
        if (v == 0 || v == states[i].kernel_default) continue;
        pol += (pol.empty() ? "" : ", ") + fmt::format("{} : {}", states[i].name, v);
      }
      if (!pol.empty()) lines.push_back("policy = { " + pol + " }");
      break;
    }
    case 8:  // secmark
      lines.push_back(pr::Quote(ObjStr(obj, "ctx")));
      break;
    case 9:  // ct expectation
      lines.push_back("protocol " + pr::ProtocolName(proto));
      lines.push_back(fmt::format("dport {}", ObjInt(obj, "dport")));
      lines.push_back("timeout " + pr::TimeText(ObjInt(obj, "timeout")));
      lines.push_back(fmt::format("size {}", ObjInt(obj, "size")));
      lines.push_back("l3proto " + L3ProtoName(ObjInt(obj, "l3proto")));
      break;
    case 10: {  // synproxy: NF_SYNPROXY_OPT_MSS 1, WSCALE 2, SACK_PERM 4, TIMESTAMP 8
      uint64_t f = ObjInt(obj, "flags");
      if (f & 1) lines.push_back(fmt::format("mss {}", ObjInt(obj, "mss")));
      if (f & 2) lines.push_back(fmt::format("wscale {}", ObjInt(obj, "wscale")));
      if (f & 0xc) {
        lines.push_back(
            fmt::format("{} {}", (f & 8) ? "timestamp" : "", (f & 4) ? "sack-perm" : ""));
      }
      break;
    }
    default:
      break;
  }
  return lines;
}

std::vector<std::string> FlowtableLines(const Table& table, const Flowtable& ft) {
  std::vector<std::string> lines;
  lines.push_back(fmt::format("hook {} priority {}", HookName(Family::kNetdev, ft.hook),
                              PriorityText(Family::kNetdev, ft.hook, ft.priority)));
  if (!ft.devices.empty()) {
    std::string s = "devices = { ";
    for (size_t i = 0; i < ft.devices.size(); ++i) s += (i == 0 ? "" : ", ") + ft.devices[i];
    lines.push_back(s + " }");
  }
  if (ft.flags & 1) lines.push_back("flags offload");
  (void)table;
  return lines;
}

std::string HandleSuffix(const PrintOptions& o, uint64_t handle) {
  return o.handles ? fmt::format(" # handle {}", handle) : std::string();
}

}  // namespace

std::string ChainHeaderText(const Table& table, const Chain& chain) {
  if (!chain.base) return {};
  const BaseChain& b = *chain.base;
  std::string s = fmt::format("type {} hook {}", b.type.empty() ? "filter" : b.type,
                              HookName(table.family, b.hook));
  if (!b.devices.empty()) s += DevicesText(b.devices);
  s += fmt::format(" priority {}; policy {};", PriorityText(table.family, b.hook, b.priority),
                   b.policy == 0 ? "drop" : "accept");
  return s;
}

std::vector<std::string> ElementTexts(const Table& /*table*/, const Set& set,
                                      const PrintOptions& options) {
  return ElementTextsWith(set, options);
}

std::string SetHeaderText(const Table& /*table*/, const Set& set) {
  return Join(SetLines(set), "; ") + ";";
}

std::string FlowtableText(const Table& table, const Flowtable& flowtable) {
  return Join(FlowtableLines(table, flowtable), "; ");
}

std::string ObjectText(const Table& /*table*/, const Object& object, const PrintOptions& options) {
  return Join(ObjectLines(object, options), "; ");
}

std::string RulesetText(const Ruleset& ruleset, const PrintOptions& given) {
  PrintOptions options = given;
  if (options.interface_names.empty()) options.interface_names = ruleset.interfaces;
  std::string out;
  for (const auto& t : ruleset.tables) {
    out += fmt::format("table {} {} {{{}\n", FamilyName(t.family), t.name,
                       HandleSuffix(options, t.handle));
    if (t.flags & 1) out += "\tflags dormant\n";
    if (!t.comment.empty()) out += "\tcomment " + pr::Quote(t.comment) + "\n";
    std::vector<std::string> blocks;
    for (const auto& o : t.objects) {
      std::string b = fmt::format("\t{} {} {{{}\n", ObjectTypeName(o.type), o.name,
                                  HandleSuffix(options, o.handle));
      for (const auto& l : ObjectLines(o, options)) b += "\t\t" + l + "\n";
      blocks.push_back(b + "\t}\n");
    }
    for (const auto& s : t.sets) {
      if (s.anonymous()) continue;
      std::string b = fmt::format("\t{} {} {{{}\n", s.is_map() || s.is_object_map() ? "map" : "set",
                                  s.name, HandleSuffix(options, s.handle));
      for (const auto& l : SetLines(s)) b += "\t\t" + l + "\n";
      std::vector<std::string> elems = ElementTextsWith(s, options);
      if (!elems.empty()) b += "\t\telements = { " + Join(elems, ", ") + " }\n";
      blocks.push_back(b + "\t}\n");
    }
    for (const auto& f : t.flowtables) {
      std::string b = fmt::format("\tflowtable {} {{{}\n", f.name, HandleSuffix(options, f.handle));
      for (const auto& l : FlowtableLines(t, f)) b += "\t\t" + l + "\n";
      blocks.push_back(b + "\t}\n");
    }
    for (const auto& c : t.chains) {
      if (c.flags & 0x4) continue;  // NFT_CHAIN_BINDING: printed inline by the rule jumping to it
      std::string b = fmt::format("\tchain {} {{{}\n", c.name, HandleSuffix(options, c.handle));
      if (!c.comment.empty()) b += "\t\tcomment " + pr::Quote(c.comment) + "\n";
      if (c.base) b += "\t\t" + ChainHeaderText(t, c) + "\n";
      for (const auto& r : c.rules) b += "\t\t" + RuleText(t, r, options) + "\n";
      blocks.push_back(b + "\t}\n");
    }
    out += Join(blocks, "\n");
    out += "}\n";
  }
  return out;
}

}  // namespace fwgate::nft
