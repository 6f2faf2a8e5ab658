// The rule delinearizer: turns a rule's raw expression list back into nft statements, tracking
// what each register holds and the protocol context, the way `nft list ruleset` does.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <tuple>
#include <utility>

#include "gate/nft/print_internal.h"
#include "gate/nft/printer.h"

namespace fwgate::nft {

using print::ValueType;
namespace pr = print;

namespace {

// ---------------------------------------------------------------------------------------------
// Protocol header fields (bit offsets as nft's proto.c describes them).
// ---------------------------------------------------------------------------------------------
struct FieldDef {
  std::string_view name;
  uint32_t off;
  uint32_t bits;
  uint32_t type;
};
struct ProtoDef {
  std::string_view name;
  int base;  // NFT_PAYLOAD_LL_HEADER 0, NETWORK 1, TRANSPORT 2
  std::vector<FieldDef> fields;
};

const std::vector<ProtoDef>& Protos() {
  static const std::vector<ProtoDef> kProtos = {
      {"ether",
       0,
       {{"daddr", 0, 48, pr::kTypeEtheraddr},
        {"saddr", 48, 48, pr::kTypeEtheraddr},
        {"type", 96, 16, pr::kTypeEthertype}}},
      {"ip",
       1,
       {{"version", 0, 4, pr::kTypeInteger},
        {"hdrlength", 4, 4, pr::kTypeInteger},
        {"dscp", 8, 6, pr::kTypeDscp},
        {"ecn", 14, 2, pr::kTypeEcn},
        {"length", 16, 16, pr::kTypeInteger},
        {"id", 32, 16, pr::kTypeInteger},
        {"frag-off", 48, 16, pr::kTypeInteger},
        {"ttl", 64, 8, pr::kTypeInteger},
        {"protocol", 72, 8, pr::kTypeInetProtocol},
        {"checksum", 80, 16, pr::kTypeInteger},
        {"saddr", 96, 32, pr::kTypeIpaddr},
        {"daddr", 128, 32, pr::kTypeIpaddr}}},
      {"ip6",
       1,
       {{"version", 0, 4, pr::kTypeInteger},
        {"dscp", 4, 6, pr::kTypeDscp},
        {"ecn", 10, 2, pr::kTypeEcn},
        {"flowlabel", 12, 20, pr::kTypeInteger},
        {"length", 32, 16, pr::kTypeInteger},
        {"nexthdr", 48, 8, pr::kTypeInetProtocol},
        {"hoplimit", 56, 8, pr::kTypeInteger},
        {"saddr", 64, 128, pr::kTypeIp6addr},
        {"daddr", 192, 128, pr::kTypeIp6addr}}},
      {"arp",
       1,
       {{"htype", 0, 16, pr::kTypeInteger},
        {"ptype", 16, 16, pr::kTypeEthertype},
        {"hlen", 32, 8, pr::kTypeInteger},
        {"plen", 40, 8, pr::kTypeInteger},
        {"operation", 48, 16, pr::kTypeArpop}}},
      {"tcp",
       2,
       {{"sport", 0, 16, pr::kTypeInetService},
        {"dport", 16, 16, pr::kTypeInetService},
        {"sequence", 32, 32, pr::kTypeInteger},
        {"ackseq", 64, 32, pr::kTypeInteger},
        {"doff", 96, 4, pr::kTypeInteger},
        {"reserved", 100, 4, pr::kTypeInteger},
        {"flags", 104, 8, pr::kTypeTcpFlag},
        {"window", 112, 16, pr::kTypeInteger},
        {"checksum", 128, 16, pr::kTypeInteger},
        {"urgptr", 144, 16, pr::kTypeInteger}}},
      {"udp",
       2,
       {{"sport", 0, 16, pr::kTypeInetService},
        {"dport", 16, 16, pr::kTypeInetService},
        {"length", 32, 16, pr::kTypeInteger},
        {"checksum", 48, 16, pr::kTypeInteger}}},
      {"udplite",
       2,
       {{"sport", 0, 16, pr::kTypeInetService},
        {"dport", 16, 16, pr::kTypeInetService},
        {"csumcov", 32, 16, pr::kTypeInteger},
        {"checksum", 48, 16, pr::kTypeInteger}}},
      {"icmp",
       2,
       {{"type", 0, 8, pr::kTypeIcmpType},
        {"code", 8, 8, pr::kTypeIcmpCode},
        {"checksum", 16, 16, pr::kTypeInteger},
        {"id", 32, 16, pr::kTypeInteger},
        {"sequence", 48, 16, pr::kTypeInteger},
        {"gateway", 32, 32, pr::kTypeInteger}}},
      {"icmpv6",
       2,
       {{"type", 0, 8, pr::kTypeIcmp6Type},
        {"code", 8, 8, pr::kTypeIcmpv6Code},
        {"checksum", 16, 16, pr::kTypeInteger},
        {"parameter-problem", 32, 32, pr::kTypeInteger},
        {"id", 32, 16, pr::kTypeInteger},
        {"sequence", 48, 16, pr::kTypeInteger}}},
      {"sctp",
       2,
       {{"sport", 0, 16, pr::kTypeInetService},
        {"dport", 16, 16, pr::kTypeInetService},
        {"vtag", 32, 32, pr::kTypeInteger},
        {"checksum", 64, 32, pr::kTypeInteger}}},
      {"dccp",
       2,
       {{"sport", 0, 16, pr::kTypeInetService}, {"dport", 16, 16, pr::kTypeInetService}}},
      {"esp", 2, {{"spi", 0, 32, pr::kTypeInteger}, {"sequence", 32, 32, pr::kTypeInteger}}},
      {"ah",
       2,
       {{"nexthdr", 0, 8, pr::kTypeInetProtocol},
        {"hdrlength", 8, 8, pr::kTypeInteger},
        {"reserved", 16, 16, pr::kTypeInteger},
        {"spi", 32, 32, pr::kTypeInteger},
        {"sequence", 64, 32, pr::kTypeInteger}}},
      {"igmp",
       2,
       {{"type", 0, 8, pr::kTypeIgmpType},
        {"mrt", 8, 8, pr::kTypeInteger},
        {"checksum", 16, 16, pr::kTypeInteger},
        {"group", 32, 32, pr::kTypeIpaddr}}},
      // Transport header without a known protocol.
      {"th", 2, {{"sport", 0, 16, pr::kTypeInetService}, {"dport", 16, 16, pr::kTypeInetService}}},
  };
  return kProtos;
}

const ProtoDef* FindProto(std::string_view name) {
  for (const auto& p : Protos()) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

std::string_view TransportName(uint64_t proto) {
  switch (proto) {
    case 6:
      return "tcp";
    case 17:
      return "udp";
    case 1:
      return "icmp";
    case 58:
      return "icmpv6";
    case 132:
      return "sctp";
    case 33:
      return "dccp";
    case 50:
      return "esp";
    case 51:
      return "ah";
    case 2:
      return "igmp";
    case 136:
      return "udplite";
    default:
      return {};
  }
}

// ---------------------------------------------------------------------------------------------
// meta / ct keys
// ---------------------------------------------------------------------------------------------
struct KeyDef {
  std::string_view name;
  uint32_t type;
  bool big_endian;
  uint32_t len;
  bool unqualified;  // printed without the "meta " prefix
};

const KeyDef* MetaKey(uint64_t key) {
  static const std::vector<KeyDef> kKeys = {
      {"length", pr::kTypeInteger, false, 4, false},
      {"protocol", pr::kTypeEthertype, true, 2, false},
      {"priority", pr::kTypeClassid, false, 4, false},
      {"mark", pr::kTypeMark, false, 4, false},
      {"iif", pr::kTypeIfindex, false, 4, true},
      {"oif", pr::kTypeIfindex, false, 4, true},
      {"iifname", pr::kTypeIfname, false, 16, true},
      {"oifname", pr::kTypeIfname, false, 16, true},
      {"iiftype", pr::kTypeArphrd, false, 2, false},
      {"oiftype", pr::kTypeArphrd, false, 2, false},
      {"skuid", pr::kTypeUid, false, 4, false},
      {"skgid", pr::kTypeGid, false, 4, false},
      {"nftrace", pr::kTypeInteger, false, 1, false},
      {"rtclassid", pr::kTypeRealm, false, 4, false},
      {"secmark", pr::kTypeInteger, false, 4, false},
      {"nfproto", pr::kTypeNfproto, false, 1, false},
      {"l4proto", pr::kTypeInetProtocol, false, 1, false},
      {"ibrname", pr::kTypeIfname, false, 16, false},
      {"obrname", pr::kTypeIfname, false, 16, false},
      {"pkttype", pr::kTypePkttype, false, 1, false},
      {"cpu", pr::kTypeInteger, false, 4, false},
      {"iifgroup", pr::kTypeDevgroup, false, 4, true},
      {"oifgroup", pr::kTypeDevgroup, false, 4, true},
      {"cgroup", pr::kTypeInteger, false, 4, false},
      {"random", pr::kTypeInteger, true, 4, false},
      {"ipsec", pr::kTypeBoolean, false, 1, false},
      {"iifkind", pr::kTypeIfname, false, 16, false},
      {"oifkind", pr::kTypeIfname, false, 16, false},
      {"ibrpvid", pr::kTypeInteger, false, 2, false},
      {"ibrvproto", pr::kTypeEthertype, true, 2, false},
      {"time", pr::kTypeInteger, false, 8, false},
      {"day", pr::kTypeInteger, false, 1, false},
      {"hour", pr::kTypeInteger, false, 4, false},
      {"sdif", pr::kTypeIfindex, false, 4, false},
      {"sdifname", pr::kTypeIfname, false, 16, false},
      {"broute", pr::kTypeBoolean, false, 1, false},
  };
  return key < kKeys.size() ? &kKeys[key] : nullptr;
}

const KeyDef* CtKey(uint64_t key) {
  static const std::vector<KeyDef> kKeys = {
      {"state", pr::kTypeCtState, false, 4, false},
      {"direction", pr::kTypeCtDir, false, 1, false},
      {"status", pr::kTypeCtStatus, false, 4, false},
      {"mark", pr::kTypeMark, false, 4, false},
      {"secmark", pr::kTypeInteger, false, 4, false},
      {"expiration", pr::kTypeTime, false, 4, false},
      {"helper", pr::kTypeString, false, 16, false},
      {"l3proto", pr::kTypeNfproto, false, 1, false},
      {"saddr", pr::kTypeIpaddr, true, 4, false},
      {"daddr", pr::kTypeIpaddr, true, 4, false},
      {"protocol", pr::kTypeInetProtocol, true, 1, false},
      {"proto-src", pr::kTypeInetService, true, 2, false},
      {"proto-dst", pr::kTypeInetService, true, 2, false},
      {"label", pr::kTypeCtLabel, false, 16, false},
      {"packets", pr::kTypeInteger, false, 8, false},
      {"bytes", pr::kTypeInteger, false, 8, false},
      {"avgpkt", pr::kTypeInteger, false, 8, false},
      {"zone", pr::kTypeInteger, false, 2, false},
      {"event", pr::kTypeCtEventbit, false, 4, false},
      {"ip saddr", pr::kTypeIpaddr, true, 4, false},
      {"ip daddr", pr::kTypeIpaddr, true, 4, false},
      {"ip6 saddr", pr::kTypeIp6addr, true, 16, false},
      {"ip6 daddr", pr::kTypeIp6addr, true, 16, false},
      {"id", pr::kTypeInteger, true, 4, false},
  };
  return key < kKeys.size() ? &kKeys[key] : nullptr;
}

// ---------------------------------------------------------------------------------------------
// Registers
// ---------------------------------------------------------------------------------------------

// NFT_REG_1..4 are 16-byte registers overlaying the 4-byte NFT_REG32_00.. (8..23).
std::optional<int> Slot(uint64_t reg) {
  if (reg >= 1 && reg <= 4) return static_cast<int>(8 + (reg - 1) * 4);
  if (reg >= 8 && reg <= 23) return static_cast<int>(reg);
  return std::nullopt;
}

struct Reg {
  enum class Kind { kPayload, kValue, kImm };
  Kind kind = Kind::kValue;
  std::string text;  // kValue: the expression ("meta mark", "ip saddr map @m")
  ValueType vt;
  uint32_t len = 0;  // bytes held
  bool prefixable = false;
  // kPayload
  int base = 0;
  uint32_t off_bits = 0;
  uint32_t len_bits = 0;
  std::string_view proto;  // resolved protocol for this base, "" when unknown
  // bitwise
  Bytes mask;
  Bytes xor_bits;
  // kImm
  Bytes data;
  std::vector<size_t> exprs;  // expressions that produced this value
};

bool AllOnes(const Bytes& b) {
  return std::all_of(b.begin(), b.end(), [](uint8_t x) { return x == 0xff; });
}
bool AllZero(const Bytes& b) {
  return std::all_of(b.begin(), b.end(), [](uint8_t x) { return x == 0; });
}
bool IsAddress(uint32_t type) {
  return type == pr::kTypeIpaddr || type == pr::kTypeIp6addr || type == pr::kTypeEtheraddr;
}

// Bit range [first, last) of the set bits of a big-endian mask; nullopt unless contiguous.
std::optional<std::pair<uint32_t, uint32_t>> ContiguousBits(const Bytes& mask, uint32_t nbits) {
  int first = -1;
  int last = -1;
  for (uint32_t i = 0; i < nbits && i / 8 < mask.size(); ++i) {
    bool set = (mask[i / 8] >> (7 - i % 8)) & 1;
    if (set) {
      if (first < 0) first = static_cast<int>(i);
      if (last >= 0 && last != static_cast<int>(i)) return std::nullopt;
      last = static_cast<int>(i) + 1;
    }
  }
  if (first < 0) return std::nullopt;
  return std::make_pair(static_cast<uint32_t>(first), static_cast<uint32_t>(last));
}

// What a register value looks like as an nft expression.
struct Described {
  bool ok = false;
  std::string text;
  ValueType vt;
  int prefix = -1;          // value is shown as value/prefix
  bool flags_mask = false;  // bitmask type with a mask: mask shown as flags
  bool plain_mask = false;  // "text & mask"
  bool prefixable = false;
  Bytes mask;
};

Described Describe(const Reg& r, const PrintOptions& /*o*/) {
  Described d;
  if (r.kind == Reg::Kind::kImm) {
    return d;
  }
  if (r.kind == Reg::Kind::kValue) {
    d.ok = !r.text.empty();
    d.text = r.text;
    d.vt = r.vt;
    d.prefixable = r.prefixable;
    if (!r.mask.empty() && !AllOnes(r.mask)) {
      if (!AllZero(r.xor_bits)) return Described{};
      d.mask = r.mask;
      if (pr::TypeIsBitmask(r.vt.type)) {
        d.flags_mask = true;
      } else if (r.prefixable) {
        auto bits = ContiguousBits(r.mask, static_cast<uint32_t>(r.mask.size() * 8));
        if (bits && bits->first == 0 && r.vt.big_endian) {
          d.prefix = static_cast<int>(bits->second);
        } else {
          d.plain_mask = true;
        }
      } else {
        d.plain_mask = true;
      }
    }
    return d;
  }
  // Payload.
  if (!r.xor_bits.empty() && !AllZero(r.xor_bits)) return d;
  const ProtoDef* proto = r.proto.empty() ? nullptr : FindProto(r.proto);
  auto raw = [&](uint32_t off, uint32_t bits) {
    static constexpr std::array<std::string_view, 4> kBase = {"@ll", "@nh", "@th", "@ih"};
    Described x;
    x.ok = r.base >= 0 && r.base < 4;
    x.text =
        fmt::format("{},{},{}", kBase[static_cast<size_t>(std::clamp(r.base, 0, 3))], off, bits);
    x.vt = ValueType{pr::kTypeInteger, true, 0, 0};
    return x;
  };
  auto field_at = [&](uint32_t off, uint32_t bits) -> const FieldDef* {
    if (proto == nullptr) return nullptr;
    for (const auto& f : proto->fields) {
      if (f.off == off && f.bits == bits) return &f;
    }
    return nullptr;
  };
  auto named = [&](const FieldDef& f) {
    Described x;
    x.ok = true;
    x.text = fmt::format("{} {}", proto->name, f.name);
    x.vt = ValueType{f.type, true, 0, 0};
    x.prefixable = IsAddress(f.type);
    return x;
  };
  const uint32_t off = r.off_bits;
  const uint32_t len = r.len_bits;
  bool masked = !r.mask.empty() && !AllOnes(r.mask);
  if (!masked) {
    if (const FieldDef* f = field_at(off, len)) return named(*f);
    if (proto != nullptr) {
      for (const auto& f : proto->fields) {
        if (f.off == off && f.bits > len && IsAddress(f.type) && len % 8 == 0) {
          Described x = named(f);
          x.prefix = static_cast<int>(len);
          return x;
        }
      }
    }
    return raw(off, len);
  }
  auto bits = ContiguousBits(r.mask, len);
  if (bits) {
    auto [a, b] = *bits;
    if (const FieldDef* f = field_at(off + a, b - a)) {
      Described x = named(*f);
      x.vt.shift = len - b;
      x.vt.bits = b - a;
      return x;
    }
    if (proto != nullptr && a == 0) {
      for (const auto& f : proto->fields) {
        if (f.off == off && f.bits >= len && IsAddress(f.type)) {
          Described x = named(f);
          x.prefix = static_cast<int>(b);
          return x;
        }
      }
    }
  }
  if (const FieldDef* f = field_at(off, len)) {
    Described x = named(*f);
    x.mask = r.mask;
    if (pr::TypeIsBitmask(f->type)) {
      x.flags_mask = true;
    } else {
      x.plain_mask = true;
    }
    return x;
  }
  if (bits) {
    auto [a, b] = *bits;
    Described x = raw(off + a, b - a);
    x.vt.shift = len - b;
    x.vt.bits = b - a;
    return x;
  }
  Described x = raw(off, len);
  x.mask = r.mask;
  x.plain_mask = true;
  return x;
}

std::string_view CmpOp(uint64_t op) {
  switch (op) {
    case 0:
      return "";  // NFT_CMP_EQ
    case 1:
      return "!= ";
    case 2:
      return "< ";
    case 3:
      return "<= ";
    case 4:
      return "> ";
    case 5:
      return ">= ";
    default:
      return "?";
  }
}

// Decrements a big-endian byte string by one (interval ends are exclusive).
Bytes Decrement(Bytes b) {
  for (size_t i = b.size(); i > 0; --i) {
    if (b[i - 1]-- != 0) break;
  }
  return b;
}

// Prefix length when [lo, hi] is exactly one prefix block, else -1.
int PrefixLen(const Bytes& lo, const Bytes& hi) {
  if (lo.size() != hi.size()) return -1;
  const size_t nbits = lo.size() * 8;
  size_t plen = nbits;
  // Trailing bits: lo must be 0 and hi must be 1 over the host part.
  while (plen > 0) {
    size_t i = plen - 1;
    bool lb = (lo[i / 8] >> (7 - i % 8)) & 1;
    bool hb = (hi[i / 8] >> (7 - i % 8)) & 1;
    if (!lb && hb) {
      --plen;
    } else {
      break;
    }
  }
  for (size_t i = 0; i < plen; ++i) {
    bool lb = (lo[i / 8] >> (7 - i % 8)) & 1;
    bool hb = (hi[i / 8] >> (7 - i % 8)) & 1;
    if (lb != hb) return -1;
  }
  return static_cast<int>(plen);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Set elements (shared with printer.cpp through print_internal.h users)
// ---------------------------------------------------------------------------------------------
namespace print {

std::vector<KeyPart> PartsFromType(uint32_t type, uint32_t total_len,
                                   const std::vector<uint8_t>& field_lengths, bool interval) {
  std::vector<KeyPart> parts;
  std::vector<uint32_t> ids = SplitConcatType(type);
  for (size_t i = 0; i < ids.size(); ++i) {
    KeyPart p;
    p.vt.type = ids[i];
    p.vt.big_endian = TypeBigEndian(ids[i]) || interval;
    p.len = TypeSize(ids[i]);
    if (i < field_lengths.size()) p.len = field_lengths[i];
    if (ids.size() == 1 && (p.len == 0 || p.len > total_len)) p.len = total_len;
    if (ids.size() == 1 && total_len != 0) p.len = total_len;
    p.prefixable = IsAddress(ids[i]);
    parts.push_back(p);
  }
  return parts;
}

// Text of one key (possibly concatenated) or key range.
namespace {
std::string KeyText(const std::vector<KeyPart>& parts, const Bytes& key, const Bytes* key_end,
                    const PrintOptions& o, bool* ok) {
  std::string out;
  size_t pos = 0;
  const bool concat = parts.size() > 1;
  for (size_t i = 0; i < parts.size(); ++i) {
    uint32_t len = parts[i].len;
    size_t step = concat ? (len + 3) / 4 * 4 : len;
    if (len == 0 || pos + len > key.size()) {
      *ok = false;
      return out;
    }
    Bytes lo(key.begin() + static_cast<long>(pos), key.begin() + static_cast<long>(pos + len));
    if (!out.empty()) out += " . ";
    out += FormatValue(parts[i].vt, lo, o);
    if (key_end != nullptr && pos + len <= key_end->size()) {
      Bytes hi(key_end->begin() + static_cast<long>(pos),
               key_end->begin() + static_cast<long>(pos + len));
      if (hi != lo) {
        int plen = parts[i].prefixable ? PrefixLen(lo, hi) : -1;
        if (plen >= 0) {
          out += fmt::format("/{}", plen);
        } else {
          out += "-" + FormatValue(parts[i].vt, hi, o);
        }
      }
    }
    pos += step;
  }
  return out;
}

std::string DataText(const Set& set, const SetElement& e, const std::vector<KeyPart>& data_parts,
                     const PrintOptions& o, bool* ok) {
  if (e.verdict) return VerdictText(*e.verdict, e.chain);
  if (!e.objref.empty()) return Quote(e.objref);
  if (data_parts.empty()) {
    *ok = false;
    return "?";
  }
  (void)set;
  return KeyText(data_parts, e.data, nullptr, o, ok);
}

}  // namespace

std::vector<std::string> ElementStrings(const Set& set, const std::vector<KeyPart>& key_parts,
                                        const std::vector<KeyPart>& data_parts,
                                        const PrintOptions& o, bool* ok) {
  struct Item {
    Bytes sort_key;
    std::string text;
  };
  std::vector<const SetElement*> elems;
  for (const auto& e : set.elements) elems.push_back(&e);
  auto numeric = [&](const Bytes& k) {
    // Sort key: each part made big-endian so byte order compares numerically.
    Bytes s;
    size_t pos = 0;
    const bool concat = key_parts.size() > 1;
    for (const auto& p : key_parts) {
      size_t step = concat ? (p.len + 3) / 4 * 4 : p.len;
      for (size_t i = 0; i < p.len; ++i) {
        size_t idx = p.vt.big_endian ? pos + i : pos + p.len - 1 - i;
        s.push_back(idx < k.size() ? k[idx] : 0);
      }
      pos += step;
    }
    return s;
  };
  std::stable_sort(elems.begin(), elems.end(), [&](const SetElement* a, const SetElement* b) {
    return numeric(a->key) < numeric(b->key);
  });
  auto extras = [&](const SetElement& e) {
    std::string s;
    if (e.timeout_ms != 0 && e.timeout_ms != set.timeout_ms)
      s += " timeout " + TimeText(e.timeout_ms);
    for (const auto& x : e.exprs) {
      if (x.kind == "counter") {
        s += o.counters
                 ? fmt::format(" counter packets {} bytes {}", x.Int("packets"), x.Int("bytes"))
                 : " counter";
      } else {
        s += " " + LowLevelText(x);
        *ok = false;
      }
    }
    if (!e.comment.empty()) s += " comment " + Quote(e.comment);
    if (set.is_map() || set.is_object_map()) s += " : " + DataText(set, e, data_parts, o, ok);
    return s;
  };
  std::vector<Item> items;
  const bool single_interval = set.is_interval() && key_parts.size() == 1;
  for (size_t i = 0; i < elems.size(); ++i) {
    const SetElement& e = *elems[i];
    if (e.flags & 2) {  // NFT_SET_ELEM_CATCHALL
      items.push_back({Bytes(64, 0xff), "*" + extras(e)});
      continue;
    }
    if (!e.key_end.empty()) {
      items.push_back({numeric(e.key), KeyText(key_parts, e.key, &e.key_end, o, ok) + extras(e)});
      continue;
    }
    if (single_interval) {
      if (e.flags & 1) continue;  // an end without a start: the leading gap
      Bytes hi;
      if (i + 1 < elems.size() && (elems[i + 1]->flags & 1)) {
        hi = Decrement(elems[i + 1]->key);
        ++i;
      } else {
        hi = Bytes(e.key.size(), 0xff);  // open-ended up to the maximum
      }
      items.push_back({numeric(e.key), KeyText(key_parts, e.key, &hi, o, ok) + extras(e)});
      continue;
    }
    items.push_back({numeric(e.key), KeyText(key_parts, e.key, nullptr, o, ok) + extras(e)});
  }
  std::vector<std::string> out;
  out.reserve(items.size());
  for (auto& it : items) out.push_back(std::move(it.text));
  return out;
}

}  // namespace print

// ---------------------------------------------------------------------------------------------
// The rule delinearizer
// ---------------------------------------------------------------------------------------------
namespace {

struct Stmt {
  std::string text;
  size_t pos;
  bool consumed = false;
  bool fallback = false;
};

class RuleRenderer {
 public:
  RuleRenderer(const Table& table, const Rule& rule, const PrintOptions& o)
      : table_(table), rule_(rule), o_(o) {
    covered_.assign(rule.exprs.size(), false);
    switch (table.family) {
      case Family::kIp:
        net_ = "ip";
        break;
      case Family::kIp6:
        net_ = "ip6";
        break;
      case Family::kArp:
        net_ = "arp";
        break;
      case Family::kBridge:
        link_ = "ether";
        break;
      default:
        break;
    }
  }

  RuleRendering Run() {
    for (size_t i = 0; i < rule_.exprs.size(); ++i) Handle(i);
    RuleRendering out;
    out.covered = covered_;
    for (size_t i = 0; i < covered_.size(); ++i) {
      if (!covered_[i]) {
        stmts_.push_back(Stmt{LowLevelText(rule_.exprs[i]), i, false, true});
        ++out.fallback_exprs;
      }
    }
    std::stable_sort(stmts_.begin(), stmts_.end(),
                     [](const Stmt& a, const Stmt& b) { return a.pos < b.pos; });
    for (const auto& s : stmts_) {
      if (s.consumed || s.text.empty()) continue;
      if (!out.text.empty()) out.text += " ";
      out.text += s.text;
    }
    if (!rule_.comment.empty()) {
      if (!out.text.empty()) out.text += " ";
      out.text += "comment " + pr::Quote(rule_.comment);
    }
    if (o_.handles) out.text += fmt::format(" # handle {}", rule_.handle);
    return out;
  }

 private:
  // Emits a statement built from expression `i` and the registers in `regs`.
  size_t Emit(std::string text, size_t i, const std::vector<const Reg*>& regs = {}) {
    covered_[i] = true;
    for (const Reg* r : regs) {
      for (size_t x : r->exprs) covered_[x] = true;
    }
    stmts_.push_back(Stmt{std::move(text), i});
    return stmts_.size() - 1;
  }

  const Reg* Get(uint64_t reg) const {
    auto s = Slot(reg);
    if (!s) return nullptr;
    auto it = regs_.find(*s);
    return it == regs_.end() ? nullptr : &it->second;
  }

  void Put(uint64_t reg, Reg r) {
    auto s = Slot(reg);
    if (!s) return;
    // A value overwrites every 4-byte slot it spans.
    uint32_t slots = std::max<uint32_t>(1, (r.len + 3) / 4);
    for (uint32_t k = 0; k < slots; ++k) regs_.erase(*s + static_cast<int>(k));
    regs_[*s] = std::move(r);
  }

  // The key in registers starting at `reg` spanning `len` bytes: one or more values.
  std::optional<std::vector<const Reg*>> Key(uint64_t reg, uint32_t len) const {
    auto s = Slot(reg);
    if (!s) return std::nullopt;
    std::vector<const Reg*> parts;
    int slot = *s;
    uint32_t got = 0;
    while (got < len) {
      auto it = regs_.find(slot);
      if (it == regs_.end() || it->second.len == 0) return std::nullopt;
      parts.push_back(&it->second);
      uint32_t padded = (it->second.len + 3) / 4 * 4;
      if (parts.size() == 1 && it->second.len >= len) {
        got = len;
        break;
      }
      got += padded;
      slot += static_cast<int>(padded / 4);
    }
    if (got != len && !(parts.size() == 1)) return std::nullopt;
    return parts;
  }

  // Dependencies: a pending protocol match nft inserted implicitly, consumed when a later
  // payload expression of the upper layer needs it (nft's payload_dependency_kill).
  void ConsumeDep(int& dep) {
    if (dep >= 0) stmts_[static_cast<size_t>(dep)].consumed = true;
    dep = -1;
  }

  void Handle(size_t i) {
    const Expr& e = rule_.exprs[i];
    const std::string& k = e.kind;
    if (k == "payload") return Payload(i, e);
    if (k == "meta") return Meta(i, e);
    if (k == "ct") return Ct(i, e);
    if (k == "immediate") return Immediate(i, e);
    if (k == "cmp") return Cmp(i, e);
    if (k == "range") return Range(i, e);
    if (k == "bitwise") return Bitwise(i, e);
    if (k == "byteorder") return Byteorder(i, e);
    if (k == "lookup") return Lookup(i, e);
    if (k == "counter") {
      return void(Emit(
          o_.counters ? fmt::format("counter packets {} bytes {}", e.Int("packets"), e.Int("bytes"))
                      : "counter",
          i));
    }
    if (k == "notrack") return void(Emit("notrack", i));
    if (k == "log") return void(Emit(LogText(e), i));
    if (k == "limit") return void(Emit(LimitText(e), i));
    if (k == "quota") return void(Emit(QuotaText(e), i));
    if (k == "connlimit") {
      return void(Emit(
          fmt::format("ct count {}{}", (e.Int("flags") & 1) ? "over " : "", e.Int("count")), i));
    }
    if (k == "reject") return Reject(i, e);
    if (k == "nat") return Nat(i, e);
    if (k == "masq" || k == "redir") return MasqRedir(i, e);
    if (k == "objref") return Objref(i, e);
    if (k == "dynset") return Dynset(i, e);
    if (k == "fib") return Fib(i, e);
    if (k == "numgen") return Numgen(i, e);
    if (k == "hash") return Hash(i, e);
    if (k == "rt") return Rt(i, e);
    if (k == "socket") return Socket(i, e);
    if (k == "osf") return Osf(i, e);
    if (k == "exthdr") return Exthdr(i, e);
    if (k == "flow_offload") {
      if (e.Str("table_name").empty()) return;
      return void(Emit("flow add @" + e.Str("table_name"), i));
    }
    if (k == "queue") return Queue(i, e);
    if (k == "synproxy") return void(Emit(SynproxyText(e), i));
    if (k == "dup") return Dup(i, e);
    if (k == "fwd") return Fwd(i, e);
    if (k == "last") {
      return void(Emit(e.Int("set") != 0 ? fmt::format("last used {}", pr::TimeText(e.Int("msecs")))
                                         : "last used never",
                       i));
    }
    // Anything else stays uncovered: low-level form, counted as fallback.
  }

  // --- loads -----------------------------------------------------------------------------------
  void Payload(size_t i, const Expr& e) {
    if (!e.Has("base") || !e.Has("offset") || !e.Has("len")) return;
    Reg r;
    r.kind = Reg::Kind::kPayload;
    r.base = static_cast<int>(e.Int("base"));
    r.off_bits = static_cast<uint32_t>(e.Int("offset") * 8);
    r.len = static_cast<uint32_t>(e.Int("len"));
    r.len_bits = r.len * 8;
    if (r.len == 0 || r.len > 64) return;
    r.exprs = {i};
    switch (r.base) {
      case 0:
        r.proto = link_;
        if (!link_.empty()) ConsumeDep(link_dep_);
        break;
      case 1:
        r.proto = net_;
        if (!net_.empty()) ConsumeDep(net_dep_);
        break;
      case 2:
        r.proto = trans_.empty() ? std::string_view("th") : trans_;
        if (!trans_.empty()) {
          bool family_specific = trans_ == "icmp" || trans_ == "icmpv6" || trans_ == "igmp";
          // nft adds "meta nfproto" before an icmp/icmpv6/igmp match in inet/bridge/netdev
          // tables. Without it the user wrote "meta l4proto icmp" explicitly; nft would hide
          // that too, but then the text no longer loads to the same rule, so we keep it.
          bool keep = family_specific && net_.empty();
          if (!keep) ConsumeDep(trans_dep_);
          if (family_specific) ConsumeDep(net_dep_);
        }
        break;
      default:
        break;
    }
    if (e.Has("sreg")) {  // payload write: "ip daddr set VALUE"
      Reg target = r;
      Described d = Describe(target, o_);
      const Reg* src = Get(e.Int("sreg"));
      if (!d.ok || d.prefix >= 0 || d.plain_mask || src == nullptr) return;
      auto v = ValueText(*src, d.vt);
      if (!v) return;
      Emit(d.text + " set " + *v, i, {src});
      return;
    }
    if (!e.Has("dreg")) return;
    Put(e.Int("dreg"), std::move(r));
  }

  void Meta(size_t i, const Expr& e) {
    const KeyDef* key = MetaKey(e.Int("key", 999));
    if (key == nullptr) return;
    std::string name = key->unqualified ? std::string(key->name) : "meta " + std::string(key->name);
    ValueType vt{key->type, key->big_endian, 0, 0};
    if (e.Has("sreg")) {
      const Reg* src = Get(e.Int("sreg"));
      if (src == nullptr) return;
      auto v = ValueText(*src, vt);
      if (!v) return;
      Emit("meta " + std::string(key->name) + " set " + *v, i, {src});
      return;
    }
    if (!e.Has("dreg")) return;
    Reg r;
    r.text = name;
    r.vt = vt;
    r.len = key->len;
    r.exprs = {i};
    Put(e.Int("dreg"), std::move(r));
  }

  void Ct(size_t i, const Expr& e) {
    uint64_t keyid = e.Int("key", 999);
    const KeyDef* key = CtKey(keyid);
    if (key == nullptr) return;
    std::string dir;
    if (e.Has("dir")) dir = e.Int("dir") == 0 ? "original " : "reply ";
    std::string kname(key->name);
    ValueType vt{key->type, key->big_endian, 0, 0};
    uint32_t len = key->len;
    if (keyid == 8 || keyid == 9) {  // NFT_CT_SRC/DST: address family from context
      bool v6 = net_ == "ip6";
      // nft prints "ct original ip saddr" here, which reloads as NFT_CT_SRC_IP (key 19); in
      // ip/ip6 tables "ct original saddr" reloads as this very key, so we print that.
      bool plain = table_.family == Family::kIp || table_.family == Family::kIp6;
      if (!plain) kname = std::string(v6 ? "ip6 " : "ip ") + kname;
      vt.type = v6 ? pr::kTypeIp6addr : pr::kTypeIpaddr;
      len = v6 ? 16 : 4;
    }
    std::string name = "ct " + dir + kname;
    if (e.Has("sreg")) {
      const Reg* src = Get(e.Int("sreg"));
      if (src == nullptr) return;
      auto v = ValueText(*src, vt);
      if (!v) return;
      Emit(name + " set " + *v, i, {src});
      return;
    }
    if (!e.Has("dreg")) return;
    Reg r;
    r.text = name;
    r.vt = vt;
    r.len = len;
    r.prefixable = IsAddress(vt.type);
    r.exprs = {i};
    Put(e.Int("dreg"), std::move(r));
  }

  void Immediate(size_t i, const Expr& e) {
    uint64_t dreg = e.Int("dreg", 999);
    if (dreg == 0) {  // NFT_REG_VERDICT
      if (!e.Has("verdict")) return;
      auto v = static_cast<int32_t>(static_cast<uint32_t>(e.Int("verdict")));
      if ((v == -3 || v == -4) && e.Str("chain").empty()) return;
      Emit(pr::VerdictText(v, e.Str("chain")), i);
      return;
    }
    if (!e.Has("data")) return;
    Reg r;
    r.kind = Reg::Kind::kImm;
    r.data = e.Data("data");
    r.len = static_cast<uint32_t>(r.data.size());
    if (r.len == 0) return;
    r.exprs = {i};
    Put(dreg, std::move(r));
  }

  void Bitwise(size_t i, const Expr& e) {
    const Reg* src = Get(e.Int("sreg", 999));
    if (src == nullptr || src->kind == Reg::Kind::kImm || !e.Has("dreg")) return;
    if (e.Int("op", 0) != 0) return;  // shifts: low-level form
    Bytes mask = e.Data("mask");
    Bytes xr = e.Data("xor");
    if (mask.empty() || mask.size() > src->len || !src->mask.empty()) return;
    Reg r = *src;
    r.mask = mask;
    r.xor_bits = xr;
    r.exprs.push_back(i);
    if (!AllZero(xr)) {
      // "meta mark | 0x10" (mask == ~xor) or "^ x" (mask all ones): only as a value for set.
      Described d = Describe(*src, o_);
      if (!d.ok || d.prefix >= 0 || r.kind == Reg::Kind::kPayload) return;
      Bytes inv = xr;
      for (auto& b : inv) b = static_cast<uint8_t>(~b);
      std::string text;
      if (inv == mask) {
        text =
            d.text + " | " +
            pr::FormatValue(ValueType{d.vt.type == pr::kTypeMark ? pr::kTypeMark : pr::kTypeInteger,
                                      d.vt.big_endian, 0, 0},
                            xr, o_);
      } else if (AllOnes(mask)) {
        text =
            d.text + " ^ " +
            pr::FormatValue(ValueType{d.vt.type == pr::kTypeMark ? pr::kTypeMark : pr::kTypeInteger,
                                      d.vt.big_endian, 0, 0},
                            xr, o_);
      } else {
        return;
      }
      Reg v;
      v.text = text;
      v.vt = d.vt;
      v.len = src->len;
      v.exprs = r.exprs;
      Put(e.Int("dreg"), std::move(v));
      return;
    }
    Put(e.Int("dreg"), std::move(r));
  }

  void Byteorder(size_t i, const Expr& e) {
    const Reg* src = Get(e.Int("sreg", 999));
    if (src == nullptr || !e.Has("dreg") || src->kind != Reg::Kind::kValue) return;
    Reg r = *src;
    r.vt.big_endian = e.Int("op") == 1;  // NFT_BYTEORDER_HTON
    r.exprs.push_back(i);
    Put(e.Int("dreg"), std::move(r));
  }

  // --- matches ---------------------------------------------------------------------------------
  // Value text of `n` bytes compared against `d`.
  std::string Value(const Described& d, const Bytes& data) const {
    if (d.flags_mask) return pr::FormatValue(d.vt, data, o_);
    return pr::FormatValue(d.vt, data, o_);
  }

  // Text of a register used as the value of a statement (set, nat ...), formatted as `vt`.
  std::optional<std::string> ValueText(const Reg& r, const ValueType& vt) const {
    if (r.kind == Reg::Kind::kImm) {
      ValueType v = vt;
      if (v.type == pr::kTypeIfname || v.type == pr::kTypeString)
        return pr::FormatValue(v, r.data, o_);
      return pr::FormatValue(v, r.data, o_);
    }
    Described d = Describe(r, o_);
    if (!d.ok || d.prefix >= 0 || d.flags_mask || d.plain_mask) return std::nullopt;
    return d.text;
  }

  void Cmp(size_t i, const Expr& e) {
    const Reg* r = Get(e.Int("sreg", 999));
    Bytes data = e.Data("data");
    if (r == nullptr || data.empty() || r->kind == Reg::Kind::kImm) return;
    uint64_t op = e.Int("op", 99);
    if (op > 5) return;
    // Two cmps gte/lte on the same register: a range "lo-hi".
    if (op == 5 && i + 1 < rule_.exprs.size()) {
      const Expr& n = rule_.exprs[i + 1];
      if (n.kind == "cmp" && n.Int("op", 99) == 3 && n.Int("sreg", 998) == e.Int("sreg", 999)) {
        Described d = Describe(*r, o_);
        Bytes hi = n.Data("data");
        if (d.ok && d.prefix < 0 && !d.flags_mask && !d.plain_mask && hi.size() == data.size()) {
          covered_[i + 1] = true;
          Emit(d.text + " " + Value(d, data) + "-" + Value(d, hi), i, {r});
          skip_.push_back(i + 1);
          return;
        }
      }
    }
    if (std::find(skip_.begin(), skip_.end(), i) != skip_.end()) return;
    Described d = Describe(*r, o_);
    if (!d.ok) return;
    std::string text;
    if (d.flags_mask) {
      std::string mask_names = pr::BitmaskNames(
          d.vt.type, pr::BytesToInt(d.mask.data(), d.mask.size(), d.vt.big_endian));
      if (mask_names.empty()) return;
      if (AllZero(data) && op == 1) {
        text = d.text + " " + mask_names;
      } else if (AllZero(data) && op == 0) {
        text = d.text + " ! " + mask_names;
      } else if (op == 0 || op == 1) {
        text = d.text + " " + std::string(CmpOp(op)) + Value(d, data) + " / " + mask_names;
      } else {
        return;
      }
    } else if (d.plain_mask) {
      ValueType mvt = d.vt;
      text = d.text + " & " + pr::FormatValue(mvt, d.mask, o_) + " " +
             (op == 0 ? std::string("== ") : std::string(CmpOp(op))) + Value(d, data);
    } else if (d.prefix >= 0) {
      if (op > 1) return;
      // The value is the field's width: pad the compared bytes with zeros.
      uint32_t width = d.vt.type == pr::kTypeIp6addr ? 16 : d.vt.type == pr::kTypeEtheraddr ? 6 : 4;
      Bytes full = data;
      if (r->kind != Reg::Kind::kPayload) width = static_cast<uint32_t>(data.size());
      full.resize(std::max<size_t>(width, data.size()), 0);
      text = d.text + " " + std::string(CmpOp(op)) + Value(d, full) + fmt::format("/{}", d.prefix);
    } else if ((d.vt.type == pr::kTypeIfname || d.vt.type == pr::kTypeString) &&
               data.size() < r->len && op <= 1 && data.back() != 0) {
      // A shorter compare of a string is nft's wildcard: iifname "eth*".
      std::string s(data.begin(), data.end());
      text = d.text + " " + std::string(CmpOp(op)) + pr::Quote(s + "*");
    } else {
      text = d.text + " " + std::string(CmpOp(op)) + Value(d, data);
    }
    size_t idx = Emit(text, i, {r});
    // Protocol context from dependency-style matches.
    if (op == 0 && !d.flags_mask && !d.plain_mask && d.prefix < 0 && d.vt.shift == 0) {
      uint64_t v = pr::BytesToInt(data.data(), data.size(), d.vt.big_endian);
      if (d.text == "meta nfproto") {
        SetNet(v == 2 ? "ip" : v == 10 ? "ip6" : "", idx);
      } else if (d.text == "meta protocol" || d.text == "ether type") {
        SetNet(v == 0x0800 ? "ip" : v == 0x86dd ? "ip6" : v == 0x0806 ? "arp" : "", idx);
      } else if (d.text == "meta l4proto" || d.text == "ip protocol" || d.text == "ip6 nexthdr") {
        trans_ = TransportName(v);
        trans_dep_ = trans_.empty() ? -1 : static_cast<int>(idx);
      } else if (d.text == "meta iiftype") {
        if (v == 1) {
          link_ = "ether";
          link_dep_ = static_cast<int>(idx);
        }
      }
    }
  }

  void SetNet(std::string_view net, size_t idx) {
    if (net.empty()) return;
    net_ = net;
    net_dep_ = static_cast<int>(idx);
  }

  void Range(size_t i, const Expr& e) {
    const Reg* r = Get(e.Int("sreg", 999));
    Bytes lo = e.Data("from_data");
    Bytes hi = e.Data("to_data");
    uint64_t op = e.Int("op", 99);
    if (r == nullptr || lo.empty() || hi.size() != lo.size() || op > 1) return;
    Described d = Describe(*r, o_);
    if (!d.ok || d.prefix >= 0 || d.flags_mask || d.plain_mask) return;
    Emit(d.text + " " + std::string(CmpOp(op)) + Value(d, lo) + "-" + Value(d, hi), i, {r});
  }

  // "@name" or the anonymous set's elements inline.
  std::optional<std::string> SetRef(const std::string& name, const std::vector<const Reg*>& key,
                                    const Set** out_set = nullptr) const {
    const Set* set = table_.FindSet(name);
    if (out_set != nullptr) *out_set = set;
    if (set == nullptr) return std::nullopt;
    if (!set->anonymous()) return "@" + name;
    std::vector<pr::KeyPart> parts =
        pr::PartsFromType(set->key_type, set->key_len, set->field_lengths, set->is_interval());
    // Format elements like the left-hand side when it is one known value.
    if (key.size() == parts.size()) {
      for (size_t k = 0; k < key.size(); ++k) {
        Described d = Describe(*key[k], o_);
        if (!d.ok) continue;
        parts[k].vt = d.vt;
        parts[k].prefixable = d.prefixable || d.prefix >= 0;
        if (key.size() == 1)
          parts[k].len = set->key_len;
        else if (parts[k].len == 0)
          parts[k].len = key[k]->len;
      }
    }
    std::vector<pr::KeyPart> data_parts;
    if (set->is_map() && set->data_type != pr::kVerdictDataType)
      data_parts = pr::PartsFromType(set->data_type, set->data_len, {}, false);
    bool ok = true;
    std::vector<std::string> elems = pr::ElementStrings(*set, parts, data_parts, o_, &ok);
    if (!ok) return std::nullopt;
    std::string s = "{ ";
    for (size_t k = 0; k < elems.size(); ++k) s += (k == 0 ? "" : ", ") + elems[k];
    return s + " }";
  }

  std::optional<std::string> KeyExprText(const std::vector<const Reg*>& key) const {
    std::string text;
    for (const Reg* r : key) {
      Described d = Describe(*r, o_);
      if (!d.ok || d.prefix >= 0 || d.flags_mask || d.plain_mask) return std::nullopt;
      if (!text.empty()) text += " . ";
      text += d.text;
    }
    return text;
  }

  void Lookup(size_t i, const Expr& e) {
    const Set* set = table_.FindSet(e.Str("set"));
    if (set == nullptr) return;
    auto key = Key(e.Int("sreg", 999), set->key_len);
    if (!key) return;
    auto lhs = KeyExprText(*key);
    auto ref = SetRef(set->name, *key);
    if (!lhs || !ref) return;
    bool inv = (e.Int("flags") & 1) != 0;  // NFT_LOOKUP_F_INV
    if (!e.Has("dreg")) {
      Emit(*lhs + " " + (inv ? "!= " : "") + *ref, i, *key);
      return;
    }
    uint64_t dreg = e.Int("dreg");
    if (dreg == 0) {
      Emit(*lhs + " vmap " + *ref, i, *key);
      return;
    }
    Reg r;
    r.text = *lhs + " map " + *ref;
    r.vt = ValueType{set->data_type, pr::TypeBigEndian(set->data_type), 0, 0};
    r.len = set->data_len;
    r.exprs = {i};
    for (const Reg* k : *key) r.exprs.insert(r.exprs.end(), k->exprs.begin(), k->exprs.end());
    Put(dreg, std::move(r));
  }

  // --- statements ------------------------------------------------------------------------------
  static std::string LogText(const Expr& e) {
    static constexpr std::array<std::string_view, 9> kLevels = {
        "emerg", "alert", "crit", "err", "warn", "notice", "info", "debug", "audit"};
    std::string s = "log";
    if (e.Has("prefix")) s += " prefix " + pr::Quote(e.Str("prefix"));
    if (e.Has("group")) s += fmt::format(" group {}", e.Int("group"));
    if (e.Has("snaplen")) s += fmt::format(" snaplen {}", e.Int("snaplen"));
    if (e.Has("qthreshold")) s += fmt::format(" queue-threshold {}", e.Int("qthreshold"));
    if (e.Has("level") && e.Int("level") != 4) {
      uint64_t l = e.Int("level");
      s += " level " + (l < kLevels.size() ? std::string(kLevels[l]) : std::to_string(l));
    }
    uint64_t f = e.Int("flags");
    if ((f & 0x2f) == 0x2f) {
      s += " flags all";
    } else {
      if ((f & 3) == 3)
        s += " flags tcp sequence,options";
      else if (f & 1)
        s += " flags tcp sequence";
      else if (f & 2)
        s += " flags tcp options";
      if (f & 4) s += " flags ip options";
      if (f & 8) s += " flags skuid";
      if (f & 0x20) s += " flags ether";
    }
    return s;
  }

  static std::string LimitText(const Expr& e) {
    bool over = (e.Int("flags") & 1) != 0;
    uint64_t rate = e.Int("rate");
    uint64_t burst = e.Int("burst");
    std::string unit(pr::RateUnitName(e.Int("unit", 1)));
    if (e.Int("type") == 1) {  // NFT_LIMIT_PKT_BYTES
      std::string s =
          fmt::format("limit rate {}{}/{}", over ? "over " : "", pr::ByteAmount(rate), unit);
      if (burst != 0) s += " burst " + pr::ByteAmount(burst);
      return s;
    }
    std::string s = fmt::format("limit rate {}{}/{}", over ? "over " : "", rate, unit);
    if (burst != 5) s += fmt::format(" burst {} packets", burst);
    return s;
  }

  std::string QuotaText(const Expr& e) const {
    std::string s = fmt::format("quota {}{}", (e.Int("flags") & 1) ? "over " : "",
                                pr::ByteAmount(e.Int("bytes")));
    if (o_.counters && e.Int("consumed") != 0) s += " used " + pr::ByteAmount(e.Int("consumed"));
    return s;
  }

  static std::string SynproxyText(const Expr& e) {
    std::string s = "synproxy";
    if (e.Has("mss")) s += fmt::format(" mss {}", e.Int("mss"));
    if (e.Has("wscale")) s += fmt::format(" wscale {}", e.Int("wscale"));
    uint64_t f = e.Int("flags");
    if (f & 1) s += " timestamp";
    if (f & 2) s += " sack-perm";
    return s;
  }

  void Reject(size_t i, const Expr& e) {
    uint64_t type = e.Int("type", 99);
    uint64_t code = e.Int("code");
    std::string text;
    if (type == 1) {
      text = "reject with tcp reset";
    } else if (type == 2) {  // NFT_REJECT_ICMPX_UNREACH
      ValueType vt{pr::kTypeIcmpxCode, true, 0, 0};
      uint8_t c = static_cast<uint8_t>(code);
      text = code == 1 ? "reject" : "reject with icmpx " + pr::FormatValue(vt, &c, 1, o_);
    } else if (type == 0) {  // NFT_REJECT_ICMP_UNREACH: the family decides icmp or icmpv6
      bool v6 = net_ == "ip6";
      if (net_ != "ip" && net_ != "ip6") return;
      ConsumeDep(net_dep_);
      uint8_t c = static_cast<uint8_t>(code);
      ValueType vt{v6 ? pr::kTypeIcmpv6Code : pr::kTypeIcmpCode, true, 0, 0};
      bool dflt = v6 ? code == 4 : code == 3;
      bool plain_family = table_.family == Family::kIp || table_.family == Family::kIp6;
      if (dflt && plain_family) {
        text = "reject";
      } else {
        text = std::string("reject with ") + (v6 ? "icmpv6 " : "icmp ") +
               pr::FormatValue(vt, &c, 1, o_);
      }
    } else {
      return;
    }
    Emit(text, i);
  }

  static std::string NatFlags(uint64_t f) {
    std::string s;
    auto add = [&](std::string_view n) { s += (s.empty() ? " " : ",") + std::string(n); };
    if (f & 0x4) add("random");
    if (f & 0x10) add("fully-random");
    if (f & 0x8) add("persistent");
    return s;
  }

  // "10.0.0.1-10.0.0.5" / "[fe80::1]" from the registers of a nat-style statement.
  std::optional<std::string> AddrText(const Expr& e, std::string_view min_attr,
                                      std::string_view max_attr, bool v6,
                                      std::vector<const Reg*>& used) const {
    const Reg* lo = Get(e.Int(min_attr, 999));
    if (lo == nullptr) return std::nullopt;
    ValueType vt{v6 ? pr::kTypeIp6addr : pr::kTypeIpaddr, true, 0, 0};
    auto a = ValueText(*lo, vt);
    if (!a) return std::nullopt;
    used.push_back(lo);
    std::string s = *a;
    if (e.Has(max_attr) && e.Int(max_attr) != e.Int(min_attr)) {
      const Reg* hi = Get(e.Int(max_attr));
      if (hi == nullptr) return std::nullopt;
      auto b = ValueText(*hi, vt);
      if (!b) return std::nullopt;
      used.push_back(hi);
      s += "-" + *b;
    }
    return s;
  }

  std::optional<std::string> PortText(const Expr& e, std::vector<const Reg*>& used) const {
    const Reg* lo = Get(e.Int("reg_proto_min", 999));
    if (lo == nullptr) return std::nullopt;
    ValueType vt{pr::kTypeInetService, true, 0, 0};
    auto a = ValueText(*lo, vt);
    if (!a) return std::nullopt;
    used.push_back(lo);
    std::string s = *a;
    if (e.Has("reg_proto_max") && e.Int("reg_proto_max") != e.Int("reg_proto_min")) {
      const Reg* hi = Get(e.Int("reg_proto_max"));
      if (hi == nullptr) return std::nullopt;
      auto b = ValueText(*hi, vt);
      if (!b) return std::nullopt;
      used.push_back(hi);
      s += "-" + *b;
    }
    return s;
  }

  void Nat(size_t i, const Expr& e) {
    uint64_t type = e.Int("type", 99);
    if (type > 1) return;
    uint64_t fam = e.Int("family", table_.family == Family::kIp6 ? 10 : 2);
    bool v6 = fam == 10;
    std::string s = type == 0 ? "snat" : "dnat";
    if (table_.family == Family::kInet) s += v6 ? " ip6" : " ip";
    std::vector<const Reg*> used;
    std::string target;
    if (e.Has("reg_addr_min")) {
      auto a = AddrText(e, "reg_addr_min", "reg_addr_max", v6, used);
      if (!a) return;
      target = (v6 && e.Has("reg_proto_min")) ? "[" + *a + "]" : *a;
    }
    if (e.Has("reg_proto_min")) {
      auto p = PortText(e, used);
      if (!p) return;
      target += ":" + *p;
    }
    if (!target.empty()) s += " to " + target;
    s += NatFlags(e.Int("flags"));
    Emit(s, i, used);
  }

  void MasqRedir(size_t i, const Expr& e) {
    std::string s = e.kind == "masq" ? "masquerade" : "redirect";
    std::vector<const Reg*> used;
    if (e.Has("reg_proto_min")) {
      auto p = PortText(e, used);
      if (!p) return;
      s += " to :" + *p;
    }
    s += NatFlags(e.Int("flags"));
    Emit(s, i, used);
  }

  static std::string ObjrefVerb(uint64_t type) {
    switch (type) {
      case 1:
        return "counter name";
      case 2:
        return "quota name";
      case 3:
        return "ct helper set";
      case 4:
        return "limit name";
      case 7:
        return "ct timeout set";
      case 8:
        return "meta secmark set";
      case 9:
        return "ct expectation set";
      case 10:
        return "synproxy name";
      default:
        return {};
    }
  }

  void Objref(size_t i, const Expr& e) {
    if (e.Has("imm_name")) {
      std::string verb = ObjrefVerb(e.Int("imm_type"));
      if (verb.empty()) return;
      Emit(verb + " " + pr::Quote(e.Str("imm_name")), i);
      return;
    }
    const Set* set = table_.FindSet(e.Str("set_name"));
    if (set == nullptr) return;
    std::string verb = ObjrefVerb(set->obj_type);
    auto key = Key(e.Int("set_sreg", 999), set->key_len);
    if (verb.empty() || !key) return;
    auto lhs = KeyExprText(*key);
    auto ref = SetRef(set->name, *key);
    if (!lhs || !ref) return;
    Emit(verb + " " + *lhs + " map " + *ref, i, *key);
  }

  void Dynset(size_t i, const Expr& e) {
    const Set* set = table_.FindSet(e.Str("set"));
    if (set == nullptr) return;
    static constexpr std::array<std::string_view, 3> kOps = {"add", "update", "delete"};
    uint64_t op = e.Int("op", 99);
    if (op >= kOps.size()) return;
    auto key = Key(e.Int("sreg_key", 999), set->key_len);
    if (!key) return;
    auto lhs = KeyExprText(*key);
    if (!lhs) return;
    std::vector<const Reg*> used = *key;
    std::string s = fmt::format("{} @{} {{ {}", kOps[op], set->name, *lhs);
    if (e.Int("timeout") != 0) s += " timeout " + pr::TimeText(e.Int("timeout"));
    for (const Expr& n : e.nested) {
      if (n.kind == "counter") {
        s += o_.counters
                 ? fmt::format(" counter packets {} bytes {}", n.Int("packets"), n.Int("bytes"))
                 : " counter";
      } else if (n.kind == "limit") {
        s += " " + LimitText(n);
      } else if (n.kind == "connlimit") {
        s += fmt::format(" ct count {}{}", (n.Int("flags") & 1) ? "over " : "", n.Int("count"));
      } else if (n.kind == "quota") {
        s += " " + QuotaText(n);
      } else {
        return;
      }
    }
    if (e.Has("sreg_data")) {
      const Reg* d = Get(e.Int("sreg_data"));
      if (d == nullptr) return;
      auto v = ValueText(*d, ValueType{set->data_type, pr::TypeBigEndian(set->data_type), 0, 0});
      if (!v) return;
      s += " : " + *v;
      used.push_back(d);
    }
    Emit(s + " }", i, used);
  }

  void Fib(size_t i, const Expr& e) {
    uint64_t f = e.Int("flags");
    uint64_t result = e.Int("result");
    std::string s = "fib";
    std::string sep = " ";
    auto add = [&](std::string_view n) {
      s += sep + std::string(n);
      sep = " . ";
    };
    if (f & 1) add("saddr");
    if (f & 2) add("daddr");
    if (f & 4) add("mark");
    if (f & 8) add("iif");
    if (f & 16) add("oif");
    Reg r;
    switch (result) {
      case 1:
        s += " oif";
        r.vt = ValueType{pr::kTypeIfindex, false, 0, 0};
        r.len = 4;
        break;
      case 2:
        s += " oifname";
        r.vt = ValueType{pr::kTypeIfname, false, 0, 0};
        r.len = 16;
        break;
      case 3:
        s += " type";
        r.vt = ValueType{pr::kTypeFibAddr, false, 0, 0};
        r.len = 4;
        break;
      default:
        return;
    }
    if (f & 32) {  // NFTA_FIB_F_PRESENT
      r.vt = ValueType{pr::kTypeBoolean, false, 0, 0};
      r.len = result == 2 ? 16 : 4;
    }
    if (!e.Has("dreg")) return;
    r.text = s;
    r.exprs = {i};
    Put(e.Int("dreg"), std::move(r));
  }

  void Numgen(size_t i, const Expr& e) {
    if (!e.Has("dreg")) return;
    std::string s =
        fmt::format("numgen {} mod {}", e.Int("type") == 0 ? "inc" : "random", e.Int("modulus"));
    if (e.Int("offset") != 0) s += fmt::format(" offset {}", e.Int("offset"));
    Reg r;
    r.text = s;
    r.vt = ValueType{pr::kTypeInteger, false, 0, 0};
    r.len = 4;
    r.exprs = {i};
    Put(e.Int("dreg"), std::move(r));
  }

  void Hash(size_t i, const Expr& e) {
    if (!e.Has("dreg")) return;
    Reg r;
    r.exprs = {i};
    if (e.Int("type") == 1) {  // NFT_HASH_SYM
      r.text = fmt::format("symhash mod {}", e.Int("modulus"));
    } else {
      auto key = Key(e.Int("sreg", 999), static_cast<uint32_t>(e.Int("len")));
      if (!key) return;
      auto lhs = KeyExprText(*key);
      if (!lhs) return;
      r.text = fmt::format("jhash {} mod {}", *lhs, e.Int("modulus"));
      if (e.Int("seed") != 0) r.text += fmt::format(" seed 0x{:x}", e.Int("seed"));
      for (const Reg* k : *key) r.exprs.insert(r.exprs.end(), k->exprs.begin(), k->exprs.end());
    }
    if (e.Int("offset") != 0) r.text += fmt::format(" offset {}", e.Int("offset"));
    r.vt = ValueType{pr::kTypeInteger, false, 0, 0};
    r.len = 4;
    Put(e.Int("dreg"), std::move(r));
  }

  void Rt(size_t i, const Expr& e) {
    if (!e.Has("dreg")) return;
    Reg r;
    switch (e.Int("key", 99)) {
      case 0:
        r.text = "rt classid";
        r.vt = {pr::kTypeRealm, false, 0, 0};
        r.len = 4;
        break;
      case 1:
        r.text = "rt ip nexthop";
        r.vt = {pr::kTypeIpaddr, true, 0, 0};
        r.len = 4;
        break;
      case 2:
        r.text = "rt ip6 nexthop";
        r.vt = {pr::kTypeIp6addr, true, 0, 0};
        r.len = 16;
        break;
      case 3:
        r.text = "rt mtu";
        r.vt = {pr::kTypeInteger, false, 0, 0};
        r.len = 2;
        break;
      case 4:
        r.text = "rt ipsec";
        r.vt = {pr::kTypeBoolean, false, 0, 0};
        r.len = 1;
        break;
      default:
        return;
    }
    r.exprs = {i};
    Put(e.Int("dreg"), std::move(r));
  }

  void Socket(size_t i, const Expr& e) {
    if (!e.Has("dreg")) return;
    Reg r;
    switch (e.Int("key", 99)) {
      case 0:
        r.text = "socket transparent";
        r.vt = {pr::kTypeInteger, false, 0, 0};
        r.len = 1;
        break;
      case 1:
        r.text = "socket mark";
        r.vt = {pr::kTypeMark, false, 0, 0};
        r.len = 4;
        break;
      case 2:
        r.text = "socket wildcard";
        r.vt = {pr::kTypeInteger, false, 0, 0};
        r.len = 1;
        break;
      default:
        return;
    }
    r.exprs = {i};
    Put(e.Int("dreg"), std::move(r));
  }

  void Osf(size_t i, const Expr& e) {
    if (!e.Has("dreg")) return;
    Reg r;
    r.text = "osf";
    uint64_t ttl = e.Int("ttl");
    if (ttl == 1) r.text += " ttl loose";
    if (ttl == 2) r.text += " ttl skip";
    r.text += (e.Int("flags") & 1) ? " version" : " name";
    r.vt = {pr::kTypeString, false, 0, 0};
    r.len = 16;
    r.exprs = {i};
    Put(e.Int("dreg"), std::move(r));
  }

  void Exthdr(size_t i, const Expr& e) {
    uint64_t op = e.Int("op");
    uint64_t type = e.Int("type");
    uint64_t off = e.Int("offset");
    uint64_t len = e.Int("len");
    bool present = (e.Int("flags") & 1) != 0;
    Reg r;
    if (op == 1) {  // NFT_EXTHDR_OP_TCPOPT
      struct Opt {
        uint64_t type;
        std::string_view name;
        std::vector<std::tuple<uint64_t, uint64_t, std::string_view>> fields;
      };
      static const std::vector<Opt> kOpts = {
          {0, "eol", {{0, 1, "kind"}}},
          {1, "nop", {{0, 1, "kind"}}},
          {2, "maxseg", {{0, 1, "kind"}, {1, 1, "length"}, {2, 2, "size"}}},
          {3, "window", {{0, 1, "kind"}, {1, 1, "length"}, {2, 1, "count"}}},
          {4, "sack-perm", {{0, 1, "kind"}, {1, 1, "length"}}},
          {5, "sack", {{0, 1, "kind"}, {1, 1, "length"}, {2, 4, "left"}, {6, 4, "right"}}},
          {8, "timestamp", {{0, 1, "kind"}, {1, 1, "length"}, {2, 4, "tsval"}, {6, 4, "tsecr"}}},
      };
      const Opt* opt = nullptr;
      for (const auto& o : kOpts) {
        if (o.type == type) opt = &o;
      }
      if (opt == nullptr) return;
      if (present) {
        r.text = "tcp option " + std::string(opt->name);
        r.vt = {pr::kTypeBoolean, false, 0, 0};
        r.len = 1;
      } else {
        for (const auto& [fo, fl, fname] : opt->fields) {
          if (fo == off && fl == len) {
            r.text = fmt::format("tcp option {} {}", opt->name, fname);
            r.vt = {pr::kTypeInteger, true, 0, 0};
            r.len = static_cast<uint32_t>(len);
          }
        }
        if (r.text.empty()) return;
      }
    } else if (op == 0 && present) {  // IPv6 extension header presence
      std::string_view name;
      switch (type) {
        case 0:
          name = "hbh";
          break;
        case 43:
          name = "rt";
          break;
        case 44:
          name = "frag";
          break;
        case 60:
          name = "dst";
          break;
        case 135:
          name = "mh";
          break;
        default:
          return;
      }
      r.text = "exthdr " + std::string(name);
      r.vt = {pr::kTypeBoolean, false, 0, 0};
      r.len = 1;
    } else {
      return;
    }
    if (e.Has("sreg")) {
      const Reg* src = Get(e.Int("sreg"));
      if (src == nullptr || present) return;
      auto v = ValueText(*src, r.vt);
      if (!v) return;
      Emit(r.text + " set " + *v, i, {src});
      return;
    }
    if (!e.Has("dreg")) return;
    r.exprs = {i};
    Put(e.Int("dreg"), std::move(r));
  }

  void Queue(size_t i, const Expr& e) {
    std::string s = "queue";
    uint64_t f = e.Int("flags");
    if (f & 3) {
      s += " flags ";
      if (f & 1) s += "bypass";
      if (f & 2) s += (f & 1) ? ",fanout" : "fanout";
    }
    std::vector<const Reg*> used;
    if (e.Has("sreg_qnum")) {
      const Reg* r = Get(e.Int("sreg_qnum"));
      if (r == nullptr) return;
      auto v = ValueText(*r, ValueType{pr::kTypeInteger, false, 0, 0});
      if (!v) return;
      used.push_back(r);
      s += " to " + *v;
    } else {
      uint64_t num = e.Int("num");
      uint64_t total = e.Int("total", 1);
      if (total > 1) {
        s += fmt::format(" to {}-{}", num, num + total - 1);
      } else {
        s += fmt::format(" to {}", num);
      }
    }
    Emit(s, i, used);
  }

  void Dup(size_t i, const Expr& e) {
    std::vector<const Reg*> used;
    std::string s = "dup";
    if (e.Has("sreg_addr")) {
      const Reg* a = Get(e.Int("sreg_addr"));
      if (a == nullptr) return;
      bool v6 = net_ == "ip6" || a->len == 16;
      auto v = ValueText(*a, ValueType{v6 ? pr::kTypeIp6addr : pr::kTypeIpaddr, true, 0, 0});
      if (!v) return;
      used.push_back(a);
      s += " to " + *v;
    }
    if (e.Has("sreg_dev")) {
      const Reg* d = Get(e.Int("sreg_dev"));
      if (d == nullptr) return;
      auto v = ValueText(*d, ValueType{pr::kTypeIfindex, false, 0, 0});
      if (!v) return;
      used.push_back(d);
      s += " device " + *v;
    }
    Emit(s, i, used);
  }

  void Fwd(size_t i, const Expr& e) {
    std::vector<const Reg*> used;
    const Reg* d = Get(e.Int("sreg_dev", 999));
    if (d == nullptr) return;
    auto dev = ValueText(*d, ValueType{pr::kTypeIfindex, false, 0, 0});
    if (!dev) return;
    used.push_back(d);
    std::string s = "fwd";
    if (e.Has("sreg_addr")) {
      const Reg* a = Get(e.Int("sreg_addr"));
      if (a == nullptr) return;
      bool v6 = e.Int("nfproto") == 10;
      auto v = ValueText(*a, ValueType{v6 ? pr::kTypeIp6addr : pr::kTypeIpaddr, true, 0, 0});
      if (!v) return;
      used.push_back(a);
      s += std::string(v6 ? " ip6" : " ip") + " to " + *v + " device " + *dev;
    } else {
      s += " to " + *dev;
    }
    Emit(s, i, used);
  }

  const Table& table_;
  const Rule& rule_;
  const PrintOptions& o_;
  std::vector<bool> covered_;
  std::vector<Stmt> stmts_;
  std::map<int, Reg> regs_;
  std::vector<size_t> skip_;
  std::string_view link_;
  std::string_view net_;
  std::string_view trans_;
  int link_dep_ = -1;
  int net_dep_ = -1;
  int trans_dep_ = -1;
};

}  // namespace

RuleRendering RenderRule(const Table& table, const Rule& rule, const PrintOptions& options) {
  return RuleRenderer(table, rule, options).Run();
}

}  // namespace fwgate::nft
