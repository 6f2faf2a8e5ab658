// The rule delinearizer: turns a rule's raw expression list back into nft statements, tracking
// what each register holds, the protocol context and the protocol matches nft would hide, the
// way `nft list ruleset` does (nftables src/netlink_delinearize.c rule_parse_postprocess,
// src/payload.c payload_dependency_kill). Expression kinds and their keys are data
// (print_keys.h); each kind has one handler in a table.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <utility>

#include "gate/nft/print_internal.h"
#include "gate/nft/print_keys.h"
#include "gate/nft/printer.h"

namespace fwgate::nft {

using print::KeyDef;
using print::KeyFamily;
using print::Names;
using print::ValueType;
namespace pr = print;

namespace {

// Payload bases (NFT_PAYLOAD_*_HEADER), which index the protocol context.
constexpr int kLinkBase = 0;
constexpr int kNetBase = 1;
constexpr int kTransportBase = 2;
// nft's protocol bases (enum proto_bases), which index the stored dependencies: one above the
// payload base, 0 for keys of no layer (meta mark, ...).
constexpr int kDepNone = 0;
constexpr int kDepLink = 1;
constexpr int kDepNet = 2;
constexpr int kDepTransport = 3;
constexpr int kDepInner = 4;
constexpr int DepBase(int payload_base) { return payload_base + 1; }

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

// NFT_REG_1..4 are 16-byte registers overlaying the 4-byte NFT_REG32_00.. (8..23).
std::optional<int> Slot(uint64_t reg) {
  if (reg >= 1 && reg <= 4) return static_cast<int>(8 + (reg - 1) * 4);
  if (reg >= 8 && reg <= 23) return static_cast<int>(reg);
  return std::nullopt;
}

// What a register holds.
struct Reg {
  enum class Kind { kPayload, kValue, kImm };
  Kind kind = Kind::kValue;
  std::string text;  // kValue: the expression ("meta mark", "ip saddr map @m")
  ValueType vt;
  uint32_t len = 0;  // bytes held
  bool prefixable = false;
  // kValue loaded by a meta/ct key: the key, its family and nft's protocol base for it
  // (kDep*).
  const KeyDef* key = nullptr;
  std::string_view family;
  int key_base = 0;
  // kValue loaded by exthdr: 1 tcp option, 2 ipv6 extension header (they hide dependencies).
  int exthdr = 0;
  // kPayload
  int base = 0;
  uint32_t off_bits = 0;
  uint32_t len_bits = 0;
  const KeyFamily* proto = nullptr;  // protocol of this base from the context; null unknown
  // bitwise
  Bytes mask;
  Bytes xor_bits;
  // kImm
  Bytes data;
  std::vector<size_t> exprs;  // expressions that produced this value
};

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
  // Payload fields: the header and field, for dependency handling.
  const KeyFamily* proto = nullptr;
  const KeyDef* field = nullptr;
};

Described Named(const KeyFamily& proto, const KeyDef& f) {
  Described x;
  x.ok = true;
  x.text = fmt::format("{} {}", proto.prefix, f.name);
  x.vt = ValueType{f.type, true, 0, 0};
  x.prefixable = IsAddress(f.type);
  x.proto = &proto;
  x.field = &f;
  return x;
}

Described Raw(int base, uint32_t off, uint32_t bits) {
  static constexpr std::array<std::string_view, 4> kBase = {"@ll", "@nh", "@th", "@ih"};
  Described x;
  x.ok = base >= 0 && base < 4;
  x.text = fmt::format("{},{},{}", kBase[static_cast<size_t>(std::clamp(base, 0, 3))], off, bits);
  x.vt = ValueType{pr::kTypeInteger, true, 0, 0};
  return x;
}

// An address field starting at `off` that a shorter load (a prefix) reads the start of.
const KeyDef* AddressAt(const KeyFamily& proto, uint32_t off, uint32_t min_bits) {
  for (const KeyDef& f : proto.keys) {
    if (f.key == off && f.bits >= min_bits && IsAddress(f.type)) return &f;
  }
  return nullptr;
}

Described DescribePayload(const Reg& r) {
  if (!r.xor_bits.empty() && !AllZero(r.xor_bits)) return {};
  const KeyFamily* proto = r.proto;
  const uint32_t off = r.off_bits;
  const uint32_t len = r.len_bits;
  const bool masked = !r.mask.empty() && !AllOnes(r.mask);
  if (!masked) {
    if (proto != nullptr) {
      if (const KeyDef* f = pr::FieldAt(*proto, off, len)) return Named(*proto, *f);
      if (const KeyDef* f = AddressAt(*proto, off, len + 1); f != nullptr && len % 8 == 0) {
        Described x = Named(*proto, *f);
        x.prefix = static_cast<int>(len);
        return x;
      }
    }
    return Raw(r.base, off, len);
  }
  auto bits = ContiguousBits(r.mask, len);
  if (bits && proto != nullptr) {
    auto [a, b] = *bits;
    if (const KeyDef* f = pr::FieldAt(*proto, off + a, b - a)) {
      Described x = Named(*proto, *f);
      x.vt.shift = len - b;
      x.vt.bits = b - a;
      return x;
    }
    if (const KeyDef* f = AddressAt(*proto, off, len); f != nullptr && a == 0) {
      Described x = Named(*proto, *f);
      x.prefix = static_cast<int>(b);
      return x;
    }
  }
  if (const KeyDef* f = proto != nullptr ? pr::FieldAt(*proto, off, len) : nullptr) {
    Described x = Named(*proto, *f);
    x.mask = r.mask;
    x.flags_mask = pr::TypeIsBitmask(f->type);
    x.plain_mask = !x.flags_mask;
    return x;
  }
  if (bits) {
    auto [a, b] = *bits;
    Described x = Raw(r.base, off + a, b - a);
    x.vt.shift = len - b;
    x.vt.bits = b - a;
    return x;
  }
  Described x = Raw(r.base, off, len);
  x.mask = r.mask;
  x.plain_mask = true;
  return x;
}

Described Describe(const Reg& r) {
  if (r.kind == Reg::Kind::kImm) return {};
  if (r.kind == Reg::Kind::kPayload) return DescribePayload(r);
  Described d;
  d.ok = !r.text.empty();
  d.text = r.text;
  d.vt = r.vt;
  d.prefixable = r.prefixable;
  if (!r.mask.empty() && !AllOnes(r.mask)) {
    if (!AllZero(r.xor_bits)) return {};
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

// A value shown as itself: no mask, prefix or flags around it.
bool Plain(const Described& d) { return d.ok && d.prefix < 0 && !d.flags_mask && !d.plain_mask; }

std::string CmpOp(uint64_t op) {
  std::string_view s = pr::NameOf(Names::kCmpOp, op);
  return s.empty() ? std::string() : std::string(s) + " ";
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
  // nft lists elements sorted by value (mergesort.c expr_msort_cmp): a single key by its
  // numeric value; a concatenation as its components' bytes (unpadded, each in its own byte
  // order) read as one host-order (little-endian) number, so the last component weighs most.
  // The catch-all element comes last.
  auto concat_key = [&](const Bytes& k) {
    Bytes s;
    size_t pos = 0;
    for (const auto& p : key_parts) {
      for (size_t i = 0; i < p.len; ++i) s.push_back(pos + i < k.size() ? k[pos + i] : 0);
      pos += static_cast<size_t>((p.len + 3) / 4) * 4;
    }
    std::reverse(s.begin(), s.end());
    return s;
  };
  auto sort_key = [&](const SetElement* e) {
    return key_parts.size() > 1 ? concat_key(e->key) : numeric(e->key);
  };
  std::stable_sort(elems.begin(), elems.end(), [&](const SetElement* a, const SetElement* b) {
    bool ca = (a->flags & 2) != 0;  // NFT_SET_ELEM_CATCHALL
    bool cb = (b->flags & 2) != 0;
    if (ca != cb) return cb;
    return sort_key(a) < sort_key(b);
  });
  const bool single_interval = set.is_interval() && key_parts.size() == 1;
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
};

// A protocol match nft may hide when a later match implies it (nft's payload_dep_ctx).
struct Dep {
  int stmt = -1;
  bool payload = false;              // left side is a header field (else a meta/ct key)
  int base = 0;                      // header fields: nft's protocol base of the field
  const KeyFamily* proto = nullptr;  // header fields: their header
  std::string_view key;              // meta/ct keys: the key name
  uint64_t value = 0;                // the value it is compared with
  uint32_t bits = 0;
};

// What a statement does to the hidden-dependency state afterwards: matches keep it, every
// other statement ends it (nft's rule_maybe_reset_payload_deps).
enum class After { kKeepDeps, kResetDeps };

constexpr uint32_t kChainBinding = 0x4;  // NFT_CHAIN_BINDING

class RuleRenderer {
 public:
  RuleRenderer(const Table& table, const Rule& rule, const PrintOptions& o)
      : table_(table), rule_(rule), o_(o) {
    covered_.assign(rule.exprs.size(), false);
    // nft's proto_ctx_init: the family's hook protocol (hook_proto_desc).
    struct HookProto {
      Family family;
      int base;
      std::string_view proto;
    };
    static constexpr std::array kHookProtos = {
        HookProto{Family::kIp, kNetBase, "ip"}, HookProto{Family::kIp6, kNetBase, "ip6"},
        HookProto{Family::kArp, kNetBase, "arp"}, HookProto{Family::kBridge, kLinkBase, "ether"}};
    for (const HookProto& h : kHookProtos) {
      if (h.family == table.family) proto_[static_cast<size_t>(h.base)] = pr::Protocol(h.proto);
    }
  }

  RuleRendering Run() {
    for (size_t i = 0; i < rule_.exprs.size(); ++i) Handle(i);
    RuleRendering out;
    out.covered = covered_;
    for (size_t i = 0; i < covered_.size(); ++i) {
      if (!covered_[i]) {
        stmts_.push_back(Stmt{LowLevelText(rule_.exprs[i]), i});
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
  using Handler = void (RuleRenderer::*)(size_t, const Expr&);

  // One handler per expression kind.
  static const std::map<std::string_view, Handler>& Handlers() {
    static const std::map<std::string_view, Handler> kHandlers = {
        {"payload", &RuleRenderer::Payload},
        {"meta", &RuleRenderer::Load},
        {"ct", &RuleRenderer::Load},
        {"rt", &RuleRenderer::Load},
        {"socket", &RuleRenderer::Load},
        {"osf", &RuleRenderer::Load},
        {"fib", &RuleRenderer::Load},
        {"numgen", &RuleRenderer::Load},
        {"hash", &RuleRenderer::Hash},
        {"exthdr", &RuleRenderer::Exthdr},
        {"immediate", &RuleRenderer::Immediate},
        {"cmp", &RuleRenderer::Cmp},
        {"range", &RuleRenderer::Range},
        {"bitwise", &RuleRenderer::Bitwise},
        {"byteorder", &RuleRenderer::Byteorder},
        {"lookup", &RuleRenderer::Lookup},
        {"counter", &RuleRenderer::Simple},
        {"notrack", &RuleRenderer::Simple},
        {"log", &RuleRenderer::Simple},
        {"limit", &RuleRenderer::Simple},
        {"quota", &RuleRenderer::Simple},
        {"connlimit", &RuleRenderer::Simple},
        {"synproxy", &RuleRenderer::Simple},
        {"last", &RuleRenderer::Simple},
        {"flow_offload", &RuleRenderer::Simple},
        {"reject", &RuleRenderer::Reject},
        {"nat", &RuleRenderer::Nat},
        {"masq", &RuleRenderer::MasqRedir},
        {"redir", &RuleRenderer::MasqRedir},
        {"objref", &RuleRenderer::Objref},
        {"dynset", &RuleRenderer::Dynset},
        {"queue", &RuleRenderer::Queue},
        {"dup", &RuleRenderer::Dup},
        {"fwd", &RuleRenderer::Fwd},
        {"match", &RuleRenderer::Xt},
        {"target", &RuleRenderer::Xt},
    };
    return kHandlers;
  }

  void Handle(size_t i) {
    const Expr& e = rule_.exprs[i];
    auto it = Handlers().find(e.kind);
    // Anything without a handler stays uncovered: low-level form, counted as fallback.
    if (it != Handlers().end()) (this->*(it->second))(i, e);
  }

  // Emits a statement built from expression `i` and the registers in `regs`. Reading a header
  // field or an extension header makes the dependency it implies redundant (nft's
  // payload_dependency_kill / exthdr_dependency_kill).
  size_t Emit(std::string text, size_t i, const std::vector<const Reg*>& regs, After after) {
    covered_[i] = true;
    for (const Reg* r : regs) {
      for (size_t x : r->exprs) covered_[x] = true;
      Consume(*r);
    }
    stmts_.push_back(Stmt{std::move(text), i});
    if (after == After::kResetDeps) deps_ = {};
    return stmts_.size() - 1;
  }

  void Consume(const Reg& r) {
    if (r.kind == Reg::Kind::kPayload) {
      Described d = Describe(r);
      KillFor(DepBase(r.base), d.proto, d.field);
    } else if (r.exthdr == 1) {
      Release(kDepTransport);
    } else if (r.exthdr == 2) {
      Release(kDepNet);
    }
  }

  // --- hidden protocol dependencies (nftables src/payload.c) ------------------------------------
  // `base` is one of nft's protocol bases (kDep*) throughout.
  const Dep* DepFor(int base) const {
    if (base < 0 || base > kDepInner) return nullptr;
    if (deps_[static_cast<size_t>(base)].stmt >= 0) return &deps_[static_cast<size_t>(base)];
    if (base == kDepTransport && deps_[kDepInner].stmt >= 0) return &deps_[kDepInner];
    return nullptr;
  }

  void Release(int base) {
    if (base < 0 || base > kDepInner) return;
    Dep* d = &deps_[static_cast<size_t>(base)];
    if (d->stmt < 0 && base == kDepTransport) d = &deps_[kDepInner];
    if (d->stmt < 0) return;
    stmts_[static_cast<size_t>(d->stmt)].consumed = true;
    *d = Dep{};
  }

  bool MultiFamily() const {
    return table_.family == Family::kInet || table_.family == Family::kBridge ||
           table_.family == Family::kNetdev;
  }

  // payload_may_dependency_kill: may a read of `field` (of header `proto` at `base`) hide the
  // dependency stored for its base?
  bool MayKill(int base, const KeyFamily* proto, const KeyDef* field) const {
    const Dep& dep = *DepFor(base);
    const bool protocol_key = field != nullptr && (field->flags & pr::kKeyProtocol) != 0;
    if (MultiFamily() && dep.payload) {
      // `ip protocol`/`ip6 nexthdr` restrict the family in inet/bridge/netdev: kept.
      if (dep.base == kDepNet && dep.proto != nullptr &&
          (dep.proto->kind == "ip" || dep.proto->kind == "ip6") && base == kDepTransport)
        return false;
      if (base == dep.base) {
        if (protocol_key) return false;
        if (base == kDepLink) {
          if (dep.proto != nullptr && dep.proto->kind == "vlan") return false;
          if (dep.proto != nullptr && dep.proto->kind == "ether" && dep.bits == 16)
            return dep.value == 0x8100;
        }
      }
    }
    if (base != kDepTransport) return true;
    // A meta/ct dependency reads as base 0 here in nft (its payload fields alias the key).
    if (!dep.payload || dep.base != kDepTransport) return true;
    if (dep.proto != nullptr && (dep.proto->kind == "icmp" || dep.proto->kind == "icmpv6")) {
      if (field == nullptr || field->icmp_dep == 0 || dep.proto != proto) return false;
      return icmp_type_ == field->icmp_dep;
    }
    return true;
  }

  void KillFor(int base, const KeyFamily* proto, const KeyDef* field) {
    if (proto == nullptr) return;
    if (DepFor(base) != nullptr && MayKill(base, proto, field)) Release(base);
  }

  // payload_dependency_store: remember a protocol match at `base` (the base of its left side).
  void Store(Dep dep, int base) {
    if (dep.payload && dep.bits == 8 && dep.proto != nullptr) {
      if (dep.proto->kind == "icmp") {
        uint8_t type = dep.value == 0 ? 8 : static_cast<uint8_t>(dep.value);  // echo-reply: echo
        icmp_type_ = type;
        if (type == 8) return;
      } else if (dep.proto->kind == "icmpv6") {
        icmp_type_ = static_cast<uint8_t>(dep.value);
        if (dep.value == 128 || dep.value == 129) return;
      }
    }
    if (base >= 0 && base + 1 <= kDepInner) deps_[static_cast<size_t>(base) + 1] = dep;
  }

  // meta_may_dependency_kill: may a meta/ct protocol match hide the network dependency?
  bool MetaMayKill(const Reg& r, uint64_t value) const {
    const Dep* dep = DepFor(kDepNet);
    if (dep == nullptr) return true;
    uint64_t nfproto = 0;
    if (!dep->payload && dep->key == "nfproto") {
      nfproto = dep->value;
    } else if ((!dep->payload && dep->key == "protocol") ||
               (dep->payload && dep->base == kDepLink && dep->bits == 16 && dep->proto != nullptr &&
                dep->proto->kind == "ether")) {
      nfproto = dep->value == 0x0800 ? 2 : dep->value == 0x86dd ? 10 : 0;
    } else {
      return true;
    }
    if (table_.family == Family::kIp || table_.family == Family::kIp6)
      return static_cast<uint64_t>(table_.family) == nfproto;
    if (!MultiFamily()) return true;
    if (r.key == nullptr || r.family != "meta" || r.key->name != "l4proto") return true;
    if (value != 1 && value != 58) return false;
    return !((nfproto == 2 && value == 58) || (nfproto == 10 && value == 1));
  }

  // relational_expr_pctx_update: an equality on a protocol key names the upper protocol.
  void SetUpper(int base, std::string_view key, uint64_t value) {
    const KeyFamily* upper = nullptr;
    int upper_base = base + 1;
    if (key == "nfproto") {
      upper = pr::Protocol(value == 2 ? "ip" : value == 10 ? "ip6" : "");
      upper_base = kNetBase;
    } else if (key == "protocol" || key == "ethertype") {  // meta protocol, ether/vlan type
      for (const KeyFamily& p : pr::Protocols()) {
        if ((p.base == kNetBase || p.kind == "vlan") && p.id == value) upper = &p;
      }
      if (upper != nullptr) upper_base = upper->base;
    } else if (key == "l4proto" || key == "nexthdr" || key == "ipproto") {
      upper = pr::TransportByNumber(value);
      upper_base = kTransportBase;
    } else if (key == "iiftype") {
      if (value == 1) upper = pr::Protocol("ether");
      upper_base = kLinkBase;
    }
    if (upper != nullptr) proto_[static_cast<size_t>(upper_base)] = upper;
  }

  // After an equality match: protocol context and dependency bookkeeping.
  void AfterMatch(size_t idx, const Reg& r, const Described& d, uint64_t op, const Bytes& data) {
    if (op != 0 || !Plain(d) || d.vt.shift != 0) return;
    uint64_t v = pr::BytesToInt(data.data(), data.size(), d.vt.big_endian);
    if (r.kind == Reg::Kind::kPayload && d.field != nullptr && d.proto != nullptr) {
      if ((d.field->flags & pr::kKeyProtocol) == 0) return;
      std::string_view key = d.field->name;
      if (d.proto->kind == "ether" || d.proto->kind == "vlan") key = "ethertype";
      if (d.proto->kind == "ip" || d.proto->kind == "ip6" || d.proto->kind == "ah") key = "ipproto";
      int base = DepBase(r.base);
      // A stacked header (ether type vlan): the dependency stays at its own base.
      if (key == "ethertype" && v == 0x8100) --base;
      SetUpper(r.base, key, v);
      Store(Dep{static_cast<int>(idx), true, DepBase(r.base), d.proto, {}, v, d.field->bits}, base);
      return;
    }
    if (r.key == nullptr) return;
    const bool ct_l4 = r.family == "ct" && r.key->name == "protocol";
    SetUpper(r.key_base - 1, ct_l4 ? "l4proto" : r.key->name, v);
    if (r.key_base >= kDepTransport) return;
    if (DepFor(r.key_base) != nullptr && MetaMayKill(r, v)) Release(r.key_base);
    if ((r.key->flags & pr::kKeyProtocol) != 0)
      Store(Dep{static_cast<int>(idx), false, 0, nullptr, r.key->name, v, r.key->bits}, r.key_base);
  }

  // --- registers ---------------------------------------------------------------------------------
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
    if (got != len && parts.size() != 1) return std::nullopt;
    return parts;
  }

  // Text of a register used as the value of a statement (set, nat ...), formatted as `vt`.
  std::optional<std::string> ValueText(const Reg& r, const ValueType& vt) const {
    if (r.kind == Reg::Kind::kImm) return pr::FormatValue(vt, r.data, o_);
    Described d = Describe(r);
    if (!Plain(d)) return std::nullopt;
    return d.text;
  }

  std::optional<std::string> ValueOf(const Expr& e, std::string_view attr, const ValueType& vt,
                                     std::vector<const Reg*>& used) const {
    const Reg* r = Get(e.Int(attr, 999));
    if (r == nullptr) return std::nullopt;
    auto v = ValueText(*r, vt);
    if (v) used.push_back(r);
    return v;
  }

  // "lo-hi" from a pair of register attributes (a single value when both name one register).
  std::optional<std::string> RangeOf(const Expr& e, std::string_view lo, std::string_view hi,
                                     const ValueType& vt, std::vector<const Reg*>& used) const {
    auto a = ValueOf(e, lo, vt, used);
    if (!a) return std::nullopt;
    if (!e.Has(hi) || e.Int(hi) == e.Int(lo)) return a;
    auto b = ValueOf(e, hi, vt, used);
    if (!b) return std::nullopt;
    return *a + "-" + *b;
  }

  // "X set VALUE" for load expressions used as a store (meta mark set, ct mark set, ...).
  void StoreTo(size_t i, const Expr& e, const std::string& target, const ValueType& vt) {
    std::vector<const Reg*> used;
    auto v = ValueOf(e, "sreg", vt, used);
    if (!v) return;
    Emit(target + " set " + *v, i, used, After::kResetDeps);
  }

  // --- loads -------------------------------------------------------------------------------------
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
    if (r.base >= kLinkBase && r.base <= kTransportBase) {
      r.proto = proto_[static_cast<size_t>(r.base)];
      if (r.proto == nullptr && r.base == kTransportBase) r.proto = pr::Protocol("th");
    }
    if (e.Has("sreg")) {  // payload write: "ip daddr set VALUE"
      Described d = Describe(r);
      if (!d.ok || d.prefix >= 0 || d.plain_mask) return;
      std::vector<const Reg*> used;
      auto v = ValueOf(e, "sreg", d.vt, used);
      if (!v) return;
      Consume(r);
      Emit(d.text + " set " + *v, i, used, After::kResetDeps);
      return;
    }
    if (e.Has("dreg")) Put(e.Int("dreg"), std::move(r));
  }

  // meta, ct, rt, socket, osf, fib, numgen: one key of a family (print_keys.h) into a
  // register, or (meta, ct) a register into the key.
  void Load(size_t i, const Expr& e) {
    const KeyFamily* fam = pr::LoadFamily(e.kind);
    if (fam == nullptr) return;
    uint64_t keyid = e.kind == "fib"      ? e.Int("result", 999)
                     : e.kind == "numgen" ? e.Int("type", 999)
                     : e.kind == "osf"    ? (e.Int("flags") & 1)
                                          : e.Int("key", 999);
    const KeyDef* key = pr::FindKey(*fam, keyid);
    if (key == nullptr) return;
    ValueType vt{key->type, key->big_endian, 0, 0};
    uint32_t len = (key->bits + 7) / 8;
    std::string name(key->name);
    if ((key->flags & pr::kKeyFamilyAddr) != 0) {
      // NFT_CT_SRC/DST: the address family from the context. nft prints "ct original ip
      // saddr"; in ip/ip6 tables that text reloads as NFT_CT_SRC_IP, so the plain form is kept.
      bool v6 = proto_[kNetBase] != nullptr && proto_[kNetBase]->kind == "ip6";
      bool plain = table_.family == Family::kIp || table_.family == Family::kIp6;
      if (!plain) name = std::string(v6 ? "ip6 " : "ip ") + name;
      vt.type = v6 ? pr::kTypeIp6addr : pr::kTypeIpaddr;
      len = v6 ? 16 : 4;
    }
    std::string text = LoadText(*fam, *key, name, e);
    if (text.empty()) return;
    if (e.Has("sreg")) return StoreTo(i, e, e.kind == "meta" ? "meta " + name : text, vt);
    if (!e.Has("dreg")) return;
    Reg r;
    r.text = std::move(text);
    r.vt = vt;
    r.len = len;
    r.prefixable = IsAddress(vt.type);
    r.key = key;
    r.family = fam->kind;
    r.key_base = KeyBase(*fam, *key);
    r.exprs = {i};
    if (e.kind == "fib" && (e.Int("flags") & 32) != 0) {  // NFTA_FIB_F_PRESENT
      r.vt = ValueType{pr::kTypeBoolean, false, 0, 0};
    }
    Put(e.Int("dreg"), std::move(r));
  }

  // nft's protocol base of a meta/ct key (meta.c meta_expr_alloc, ct.c ct_expr_alloc).
  static int KeyBase(const KeyFamily& fam, const KeyDef& key) {
    if (fam.kind == "meta") {
      if (key.name == "l4proto") return kDepNet;
      if (key.name == "nfproto" || key.name == "protocol") return kDepLink;
      return kDepNone;
    }
    if (fam.kind != "ct") return kDepNone;
    if (key.name == "proto-src" || key.name == "proto-dst") return kDepTransport;
    if ((key.flags & pr::kKeyFamilyAddr) != 0 || key.name == "protocol") return kDepNet;
    return kDepNone;
  }

  // The text of a load: prefix and key name, with what the family adds around them.
  static std::string LoadText(const KeyFamily& fam, const KeyDef& key, const std::string& name,
                              const Expr& e) {
    if (fam.kind == "ct") {
      std::string dir;
      if (e.Has("dir")) dir = e.Int("dir") == 0 ? "original " : "reply ";
      return "ct " + dir + name;
    }
    if (fam.kind == "fib") {
      std::string in = pr::FlagNames(Names::kFibFlags, e.Int("flags"), " . ");
      return "fib " + in + " " + name;
    }
    if (fam.kind == "numgen") {
      std::string s = fmt::format("numgen {} mod {}", name, e.Int("modulus"));
      if (e.Int("offset") != 0) s += fmt::format(" offset {}", e.Int("offset"));
      return s;
    }
    if (fam.kind == "osf") {
      std::string_view ttl = pr::NameOf(Names::kOsfTtl, e.Int("ttl"));
      return ttl.empty() ? "osf " + name : fmt::format("osf ttl {} {}", ttl, name);
    }
    if ((key.flags & pr::kKeyUnqualified) != 0) return name;
    return std::string(fam.prefix) + " " + name;
  }

  void Hash(size_t i, const Expr& e) {
    const KeyFamily* fam = pr::LoadFamily("hash");
    const KeyDef* key = pr::FindKey(*fam, e.Int("type", 999));
    if (key == nullptr || !e.Has("dreg")) return;
    Reg r;
    r.exprs = {i};
    r.text = std::string(key->name);
    if (e.Int("type") == 0) {  // NFT_HASH_JENKINS hashes a key in registers
      auto regs = Key(e.Int("sreg", 999), static_cast<uint32_t>(e.Int("len")));
      if (!regs) return;
      auto lhs = KeyExprText(*regs);
      if (!lhs) return;
      r.text += " " + *lhs;
      for (const Reg* k : *regs) {
        r.exprs.insert(r.exprs.end(), k->exprs.begin(), k->exprs.end());
        Consume(*k);
      }
    }
    r.text += fmt::format(" mod {}", e.Int("modulus"));
    if (e.Int("seed") != 0) r.text += fmt::format(" seed 0x{:x}", e.Int("seed"));
    if (e.Int("offset") != 0) r.text += fmt::format(" offset {}", e.Int("offset"));
    r.vt = ValueType{key->type, key->big_endian, 0, 0};
    r.len = 4;
    Put(e.Int("dreg"), std::move(r));
  }

  void Exthdr(size_t i, const Expr& e) {
    const uint64_t op = e.Int("op");
    const uint64_t type = e.Int("type");
    const bool present = (e.Int("flags") & 1) != 0;  // NFT_EXTHDR_F_PRESENT
    std::span<const KeyFamily> families;
    if (op == 1) {
      families = pr::TcpOptions();  // NFT_EXTHDR_OP_TCPOPT
    } else if (op == 0) {
      families = pr::Ipv6ExtHeaders();  // NFT_EXTHDR_OP_IPV6
    }
    const KeyFamily* fam = nullptr;
    for (const KeyFamily& f : families) {
      if (f.id == type) fam = &f;
    }
    if (fam == nullptr) return;
    Reg r;
    r.exthdr = op == 1 ? 1 : 2;
    std::string prefix = op == 1 ? std::string(fam->prefix) : "exthdr " + std::string(fam->prefix);
    if (present) {
      r.text = prefix;
      r.vt = {pr::kTypeBoolean, false, 0, 0};
      r.len = 1;
    } else {
      const KeyDef* f = pr::FieldAt(*fam, static_cast<uint32_t>(e.Int("offset") * 8),
                                    static_cast<uint32_t>(e.Int("len") * 8));
      if (f == nullptr) return;
      r.text = prefix + " " + std::string(f->name);
      r.vt = {f->type, true, 0, 0};
      r.len = static_cast<uint32_t>(e.Int("len"));
    }
    if (e.Has("sreg")) {
      if (present) return;
      Consume(r);
      return StoreTo(i, e, r.text, r.vt);
    }
    if (!e.Has("dreg")) return;
    r.exprs = {i};
    Put(e.Int("dreg"), std::move(r));
  }

  void Immediate(size_t i, const Expr& e) {
    uint64_t dreg = e.Int("dreg", 999);
    if (dreg == 0) {  // NFT_REG_VERDICT
      if (!e.Has("verdict")) return;
      auto v = static_cast<int32_t>(static_cast<uint32_t>(e.Int("verdict")));
      const std::string chain = e.Str("chain");
      if ((v == -3 || v == -4) && chain.empty()) return;
      const Chain* bound = table_.FindChain(chain);
      if (v == -3 && bound != nullptr && (bound->flags & kChainBinding) != 0) {
        // An anonymous chain (`jump { ... }`): its rules inline, as nft lists them.
        std::string s = "jump {";
        for (const Rule& r : bound->rules) s += "\n\t\t\t" + RenderRule(table_, r, o_).text;
        Emit(s + "\n\t\t}", i, {}, After::kResetDeps);
        return;
      }
      Emit(pr::VerdictText(v, chain), i, {}, After::kResetDeps);
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
    if (AllZero(xr)) return Put(e.Int("dreg"), std::move(r));
    // "meta mark | 0x10" (mask == ~xor) or "^ x" (mask all ones): only as a value for set.
    Described d = Describe(*src);
    if (!d.ok || d.prefix >= 0 || r.kind == Reg::Kind::kPayload) return;
    Bytes inv = xr;
    for (auto& b : inv) b = static_cast<uint8_t>(~b);
    std::string_view op = inv == mask ? " | " : AllOnes(mask) ? " ^ " : "";
    if (op.empty()) return;
    ValueType xvt{d.vt.type == pr::kTypeMark ? pr::kTypeMark : pr::kTypeInteger, d.vt.big_endian, 0,
                  0};
    Reg v;
    v.text = d.text + std::string(op) + pr::FormatValue(xvt, xr, o_);
    v.vt = d.vt;
    v.len = src->len;
    v.exprs = r.exprs;
    Put(e.Int("dreg"), std::move(v));
  }

  void Byteorder(size_t i, const Expr& e) {
    const Reg* src = Get(e.Int("sreg", 999));
    if (src == nullptr || !e.Has("dreg") || src->kind != Reg::Kind::kValue) return;
    Reg r = *src;
    r.vt.big_endian = e.Int("op") == 1;  // NFT_BYTEORDER_HTON
    r.exprs.push_back(i);
    Put(e.Int("dreg"), std::move(r));
  }

  // --- matches -----------------------------------------------------------------------------------
  void Cmp(size_t i, const Expr& e) {
    if (std::find(skip_.begin(), skip_.end(), i) != skip_.end()) return;
    const Reg* r = Get(e.Int("sreg", 999));
    Bytes data = e.Data("data");
    if (r == nullptr || data.empty() || r->kind == Reg::Kind::kImm) return;
    const uint64_t op = e.Int("op", 99);
    if (op > 5) return;
    Described d = Describe(*r);
    if (!d.ok) return;
    // Two cmps gte/lte on the same register: a range "lo-hi".
    if (op == 5 && i + 1 < rule_.exprs.size()) {
      const Expr& n = rule_.exprs[i + 1];
      Bytes hi = n.Data("data");
      if (n.kind == "cmp" && n.Int("op", 99) == 3 && n.Int("sreg", 998) == e.Int("sreg", 999) &&
          Plain(d) && hi.size() == data.size()) {
        covered_[i + 1] = true;
        skip_.push_back(i + 1);
        Emit(d.text + " " + Value(d, data) + "-" + Value(d, hi), i, {r}, After::kKeepDeps);
        return;
      }
    }
    std::string text;
    if (r->kind == Reg::Kind::kValue && d.vt.type == pr::kTypeCtLabel && !d.mask.empty() &&
        AllZero(data) && op == 1) {
      // "ct label N": bit N of the 128-bit label (host order) is set.
      int bit = -1;
      for (size_t b = 0; b < d.mask.size() * 8; ++b) {
        if ((d.mask[b / 8] >> (b % 8)) & 1) bit = bit < 0 ? static_cast<int>(b) : -2;
      }
      if (bit < 0) return;
      Emit(fmt::format("{} {}", d.text, bit), i, {r}, After::kKeepDeps);
      return;
    }
    if (d.flags_mask) {
      std::string mask_names = pr::BitmaskNames(
          d.vt.type, pr::BytesToInt(d.mask.data(), d.mask.size(), d.vt.big_endian));
      if (mask_names.empty() || op > 1) return;
      if (AllZero(data)) {
        text = d.text + (op == 1 ? " " : " ! ") + mask_names;
      } else {
        text = d.text + " " + CmpOp(op) + Value(d, data) + " / " + mask_names;
      }
    } else if (d.plain_mask) {
      text = d.text + " & " + pr::FormatValue(d.vt, d.mask, o_) + " " +
             (op == 0 ? std::string("== ") : CmpOp(op)) + Value(d, data);
    } else if (d.prefix >= 0) {
      if (op > 1) return;
      // The value is the field's width: pad the compared bytes with zeros.
      uint32_t width = d.vt.type == pr::kTypeIp6addr ? 16 : d.vt.type == pr::kTypeEtheraddr ? 6 : 4;
      if (r->kind != Reg::Kind::kPayload) width = static_cast<uint32_t>(data.size());
      Bytes full = data;
      full.resize(std::max<size_t>(width, data.size()), 0);
      text = d.text + " " + CmpOp(op) + Value(d, full) + fmt::format("/{}", d.prefix);
    } else if ((d.vt.type == pr::kTypeIfname || d.vt.type == pr::kTypeString) &&
               data.size() < r->len && op <= 1 && data.back() != 0) {
      // A shorter compare of a string is nft's wildcard: iifname "eth*".
      std::string s(data.begin(), data.end());
      text = d.text + " " + CmpOp(op) + pr::Quote(s + "*");
    } else {
      // An equality on a bitmask type prints its "==" (nft's must_print_eq_op).
      bool eq = op == 0 && pr::TypeIsBitmask(d.vt.type);
      text = d.text + " " + (eq ? std::string("== ") : CmpOp(op)) + Value(d, data);
    }
    const Reg reg = *r;
    size_t idx = Emit(text, i, {r}, After::kKeepDeps);
    AfterMatch(idx, reg, d, op, data);
  }

  std::string Value(const Described& d, const Bytes& data) const {
    return pr::FormatValue(d.vt, data, o_);
  }

  void Range(size_t i, const Expr& e) {
    const Reg* r = Get(e.Int("sreg", 999));
    Bytes lo = e.Data("from_data");
    Bytes hi = e.Data("to_data");
    uint64_t op = e.Int("op", 99);
    if (r == nullptr || lo.empty() || hi.size() != lo.size() || op > 1) return;
    Described d = Describe(*r);
    if (!Plain(d)) return;
    Emit(d.text + " " + CmpOp(op) + Value(d, lo) + "-" + Value(d, hi), i, {r}, After::kKeepDeps);
  }

  // "@name" or the anonymous set's elements inline.
  std::optional<std::string> SetRef(const Set& set, const std::vector<const Reg*>& key) const {
    if (!set.anonymous()) return "@" + set.name;
    std::vector<pr::KeyPart> parts =
        pr::PartsFromType(set.key_type, set.key_len, set.field_lengths, set.is_interval());
    // Format elements like the left-hand side when it is one known value.
    if (key.size() == parts.size()) {
      for (size_t k = 0; k < key.size(); ++k) {
        Described d = Describe(*key[k]);
        if (!d.ok) continue;
        parts[k].vt = d.vt;
        parts[k].prefixable = d.prefixable || d.prefix >= 0;
        if (key.size() == 1) {
          parts[k].len = set.key_len;
        } else if (parts[k].len == 0) {
          parts[k].len = key[k]->len;
        }
      }
    }
    std::vector<pr::KeyPart> data_parts;
    if (set.is_map() && set.data_type != pr::kVerdictDataType)
      data_parts = pr::PartsFromType(set.data_type, set.data_len, {}, false);
    bool ok = true;
    std::vector<std::string> elems = pr::ElementStrings(set, parts, data_parts, o_, &ok);
    if (!ok) return std::nullopt;
    std::string s = "{ ";
    for (size_t k = 0; k < elems.size(); ++k) s += (k == 0 ? "" : ", ") + elems[k];
    return s + " }";
  }

  std::optional<std::string> KeyExprText(const std::vector<const Reg*>& key) const {
    std::string text;
    for (const Reg* r : key) {
      Described d = Describe(*r);
      if (!Plain(d)) return std::nullopt;
      if (!text.empty()) text += " . ";
      text += d.text;
    }
    return text;
  }

  // The key registers of a set reference and their texts.
  struct SetUse {
    const Set* set = nullptr;
    std::vector<const Reg*> key;
    std::string lhs;
    std::string ref;
  };
  std::optional<SetUse> UseSet(const std::string& name, uint64_t sreg) const {
    SetUse u;
    u.set = table_.FindSet(name);
    if (u.set == nullptr) return std::nullopt;
    auto key = Key(sreg, u.set->key_len);
    if (!key) return std::nullopt;
    u.key = *key;
    auto lhs = KeyExprText(u.key);
    auto ref = SetRef(*u.set, u.key);
    if (!lhs || !ref) return std::nullopt;
    u.lhs = *lhs;
    u.ref = *ref;
    return u;
  }

  void Lookup(size_t i, const Expr& e) {
    auto u = UseSet(e.Str("set"), e.Int("sreg", 999));
    if (!u) return;
    bool inv = (e.Int("flags") & 1) != 0;  // NFT_LOOKUP_F_INV
    if (!e.Has("dreg")) {
      Emit(u->lhs + " " + (inv ? "!= " : "") + u->ref, i, u->key, After::kKeepDeps);
      return;
    }
    uint64_t dreg = e.Int("dreg");
    if (dreg == 0) {
      Emit(u->lhs + " vmap " + u->ref, i, u->key, After::kKeepDeps);
      return;
    }
    Reg r;
    r.text = u->lhs + " map " + u->ref;
    r.vt = ValueType{u->set->data_type, pr::TypeBigEndian(u->set->data_type), 0, 0};
    r.len = u->set->data_len;
    r.exprs = {i};
    for (const Reg* k : u->key) {
      r.exprs.insert(r.exprs.end(), k->exprs.begin(), k->exprs.end());
      Consume(*k);
    }
    Put(dreg, std::move(r));
  }

  // --- statements --------------------------------------------------------------------------------
  // Statements that read no register: their text is a function of their attributes.
  void Simple(size_t i, const Expr& e) {
    std::string text = SimpleText(e);
    if (!text.empty()) Emit(text, i, {}, After::kResetDeps);
  }

  std::string SimpleText(const Expr& e) const {
    const std::string& k = e.kind;
    if (k == "counter") {
      return o_.counters
                 ? fmt::format("counter packets {} bytes {}", e.Int("packets"), e.Int("bytes"))
                 : "counter";
    }
    if (k == "notrack") return "notrack";
    if (k == "log") return LogText(e);
    if (k == "limit") return LimitText(e);
    if (k == "quota") return QuotaText(e);
    if (k == "connlimit")
      return fmt::format("ct count {}{}", (e.Int("flags") & 1) ? "over " : "", e.Int("count"));
    if (k == "synproxy") return SynproxyText(e);
    if (k == "flow_offload")
      return e.Str("table_name").empty() ? "" : "flow add @" + e.Str("table_name");
    if (k == "last") {
      return e.Int("set") != 0 ? fmt::format("last used {}", pr::TimeText(e.Int("msecs")))
                               : "last used never";
    }
    return {};
  }

  static std::string LogText(const Expr& e) {
    std::string s = "log";
    if (e.Has("prefix")) s += " prefix " + pr::Quote(e.Str("prefix"));
    if (e.Has("group")) s += fmt::format(" group {}", e.Int("group"));
    if (e.Has("snaplen")) s += fmt::format(" snaplen {}", e.Int("snaplen"));
    if (e.Has("qthreshold")) s += fmt::format(" queue-threshold {}", e.Int("qthreshold"));
    if (e.Has("level") && e.Int("level") != 4) {  // NFT_LOGLEVEL_WARNING is the default
      std::string_view l = pr::NameOf(Names::kLogLevel, e.Int("level"));
      s += " level " + (l.empty() ? std::to_string(e.Int("level")) : std::string(l));
    }
    uint64_t f = e.Int("flags");
    if ((f & 0x2f) == 0x2f) return s + " flags all";  // NF_LOG_MASK
    if ((f & 3) == 3) {
      s += " flags tcp sequence,options";
      f &= ~uint64_t{3};
    }
    for (const pr::Named& n : pr::NameTable(Names::kLogFlags)) {
      if ((f & n.value) != 0) s += " flags " + std::string(n.name);
    }
    return s;
  }

  static std::string LimitText(const Expr& e) {
    bool over = (e.Int("flags") & 1) != 0;  // NFT_LIMIT_F_INV
    uint64_t burst = e.Int("burst");
    std::string unit(pr::RateUnitName(e.Int("unit", 1)));
    if (e.Int("type") == 1) {  // NFT_LIMIT_PKT_BYTES
      std::string s = fmt::format("limit rate {}{}/{}", over ? "over " : "",
                                  pr::ByteAmount(e.Int("rate")), unit);
      if (burst != 0) s += " burst " + pr::ByteAmount(burst);
      return s;
    }
    std::string s = fmt::format("limit rate {}{}/{}", over ? "over " : "", e.Int("rate"), unit);
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
    std::string f = pr::FlagNames(Names::kSynproxyFlags, e.Int("flags"), " ");
    return f.empty() ? s : s + " " + f;
  }

  // nft's stmt_reject_postprocess and reject_stmt_print.
  void Reject(size_t i, const Expr& e) {
    const uint64_t type = e.Int("type", 99);
    const uint64_t code = e.Int("code");
    std::string_view kind = pr::NameOf(Names::kRejectType, type);
    if (kind.empty()) return;
    const bool plain_family = table_.family == Family::kIp || table_.family == Family::kIp6;
    uint8_t c = static_cast<uint8_t>(code);
    std::string text = "reject";
    if (type == 1) {  // NFT_REJECT_TCP_RST
      text += " with tcp reset";
      if (plain_family) Release(kDepTransport);
    } else if (type == 2) {  // NFT_REJECT_ICMPX_UNREACH; port-unreachable is the default
      if (code != 1)
        text += " with icmpx " + pr::FormatValue({pr::kTypeIcmpxCode, true, 0, 0}, &c, 1, o_);
    } else {  // NFT_REJECT_ICMP_UNREACH: the family decides icmp or icmpv6
      const KeyFamily* net = proto_[kNetBase];
      bool v6 = net != nullptr && net->kind == "ip6";
      bool v4 = net != nullptr && net->kind == "ip";
      if (v4 || v6) {
        bool dflt = v6 ? code == 4 : code == 3;
        if (!(dflt && plain_family)) {
          text += std::string(" with ") + (v6 ? "icmpv6 " : "icmp ") +
                  pr::FormatValue({v6 ? pr::kTypeIcmpv6Code : pr::kTypeIcmpCode, true, 0, 0}, &c, 1,
                                  o_);
        }
      }
    }
    if (!plain_family && type != 2) Release(kDepNet);
    Emit(text, i, {}, After::kResetDeps);
  }

  void Nat(size_t i, const Expr& e) {
    uint64_t type = e.Int("type", 99);
    if (type > 1) return;  // NFT_NAT_SNAT 0, NFT_NAT_DNAT 1
    uint64_t fam = e.Int("family", table_.family == Family::kIp6 ? 10 : 2);
    bool v6 = fam == 10;
    std::string s = type == 0 ? "snat" : "dnat";
    if (table_.family == Family::kInet) s += v6 ? " ip6" : " ip";
    std::vector<const Reg*> used;
    std::string target;
    if (e.Has("reg_addr_min")) {
      auto a = RangeOf(e, "reg_addr_min", "reg_addr_max",
                       {v6 ? pr::kTypeIp6addr : pr::kTypeIpaddr, true, 0, 0}, used);
      if (!a) return;
      target = (v6 && e.Has("reg_proto_min")) ? "[" + *a + "]" : *a;
    }
    if (e.Has("reg_proto_min")) {
      auto p =
          RangeOf(e, "reg_proto_min", "reg_proto_max", {pr::kTypeInetService, true, 0, 0}, used);
      if (!p) return;
      target += ":" + *p;
    }
    if (!target.empty()) s += " to " + target;
    Emit(s + NatFlags(e.Int("flags")), i, used, After::kResetDeps);
  }

  static std::string NatFlags(uint64_t f) {
    std::string s = pr::FlagNames(Names::kNatFlags, f, ",");
    return s.empty() ? s : " " + s;
  }

  void MasqRedir(size_t i, const Expr& e) {
    std::string s = e.kind == "masq" ? "masquerade" : "redirect";
    std::vector<const Reg*> used;
    if (e.Has("reg_proto_min")) {
      auto p =
          RangeOf(e, "reg_proto_min", "reg_proto_max", {pr::kTypeInetService, true, 0, 0}, used);
      if (!p) return;
      s += " to :" + *p;
    }
    Emit(s + NatFlags(e.Int("flags")), i, used, After::kResetDeps);
  }

  void Objref(size_t i, const Expr& e) {
    if (e.Has("imm_name")) {
      std::string_view verb = pr::NameOf(Names::kObjrefVerb, e.Int("imm_type"));
      if (verb.empty()) return;
      Emit(std::string(verb) + " " + pr::Quote(e.Str("imm_name")), i, {}, After::kResetDeps);
      return;
    }
    auto u = UseSet(e.Str("set_name"), e.Int("set_sreg", 999));
    if (!u) return;
    std::string_view verb = pr::NameOf(Names::kObjrefVerb, u->set->obj_type);
    if (verb.empty()) return;
    Emit(std::string(verb) + " " + u->lhs + " map " + u->ref, i, u->key, After::kResetDeps);
  }

  void Dynset(size_t i, const Expr& e) {
    const Set* set = table_.FindSet(e.Str("set"));
    std::string_view op = pr::NameOf(Names::kDynsetOp, e.Int("op", 99));
    if (set == nullptr || op.empty()) return;
    auto key = Key(e.Int("sreg_key", 999), set->key_len);
    if (!key) return;
    auto lhs = KeyExprText(*key);
    if (!lhs) return;
    std::vector<const Reg*> used = *key;
    std::string s = fmt::format("{} @{} {{ {}", op, set->name, *lhs);
    if (e.Int("timeout") != 0) s += " timeout " + pr::TimeText(e.Int("timeout"));
    for (const Expr& n : e.nested) {
      std::string t = SimpleText(n);
      if (t.empty()) return;
      s += " " + t;
    }
    if (e.Has("sreg_data")) {
      auto v = ValueOf(e, "sreg_data",
                       ValueType{set->data_type, pr::TypeBigEndian(set->data_type), 0, 0}, used);
      if (!v) return;
      s += " : " + *v;
    }
    Emit(s + " }", i, used, After::kResetDeps);
  }

  void Queue(size_t i, const Expr& e) {
    std::string s = "queue";
    std::string flags = pr::FlagNames(Names::kQueueFlags, e.Int("flags"), ",");
    if (!flags.empty()) s += " flags " + flags;
    std::vector<const Reg*> used;
    if (e.Has("sreg_qnum")) {
      auto v = ValueOf(e, "sreg_qnum", {pr::kTypeInteger, false, 0, 0}, used);
      if (!v) return;
      s += " to " + *v;
    } else {
      uint64_t num = e.Int("num");
      uint64_t total = e.Int("total", 1);
      s += total > 1 ? fmt::format(" to {}-{}", num, num + total - 1) : fmt::format(" to {}", num);
    }
    Emit(s, i, used, After::kResetDeps);
  }

  ValueType AddrType(bool v6) const {
    return {v6 ? pr::kTypeIp6addr : pr::kTypeIpaddr, true, 0, 0};
  }

  void Dup(size_t i, const Expr& e) {
    std::vector<const Reg*> used;
    std::string s = "dup";
    if (e.Has("sreg_addr")) {
      const Reg* a = Get(e.Int("sreg_addr"));
      bool v6 = (proto_[kNetBase] != nullptr && proto_[kNetBase]->kind == "ip6") ||
                (a != nullptr && a->len == 16);
      auto v = ValueOf(e, "sreg_addr", AddrType(v6), used);
      if (!v) return;
      s += " to " + *v;
    }
    if (e.Has("sreg_dev")) {
      auto v = ValueOf(e, "sreg_dev", {pr::kTypeIfindex, false, 0, 0}, used);
      if (!v) return;
      s += " device " + *v;
    }
    Emit(s, i, used, After::kResetDeps);
  }

  void Fwd(size_t i, const Expr& e) {
    std::vector<const Reg*> used;
    auto dev = ValueOf(e, "sreg_dev", {pr::kTypeIfindex, false, 0, 0}, used);
    if (!dev) return;
    std::string s = "fwd";
    if (e.Has("sreg_addr")) {
      bool v6 = e.Int("nfproto") == 10;
      auto v = ValueOf(e, "sreg_addr", AddrType(v6), used);
      if (!v) return;
      s += std::string(v6 ? " ip6" : " ip") + " to " + *v + " device " + *dev;
    } else {
      s += " to " + *dev;
    }
    Emit(s, i, used, After::kResetDeps);
  }

  // iptables-nft's xt matches and targets, translated as nft does (libxtables' xlate); nft's
  // own "xt match NAME" text when there is no translation.
  void Xt(size_t i, const Expr& e) {
    XtStatement x;
    x.target = e.kind == "target";
    x.name = e.Str("name");
    x.revision = static_cast<uint32_t>(e.Int("rev"));
    x.family = table_.family;
    x.info = e.Data("info");
    // nft's xt_proto: the protocol the translation may assume.
    if (table_.family == Family::kBridge) {
      const KeyFamily* net = proto_[kNetBase];
      if (net != nullptr && (net->kind == "ip" || net->kind == "ip6")) x.proto = net->id;
    } else if (const KeyFamily* t = proto_[kTransportBase]) {
      static constexpr std::array<std::string_view, 7> kKnown = {"tcp",  "udp", "udplite", "sctp",
                                                                 "dccp", "esp", "ah"};
      if (std::find(kKnown.begin(), kKnown.end(), t->kind) != kKnown.end()) x.proto = t->id;
    }
    std::string kind = x.target ? "target" : "match";
    // Bridge log/nflog targets are ebtables watchers.
    if (x.target && table_.family == Family::kBridge && (x.name == "log" || x.name == "nflog"))
      kind = "watcher";
    std::optional<std::string> text = TranslateXt(x);
    Emit(text ? *text : "xt " + kind + " " + x.name, i, {}, After::kResetDeps);
  }

  const Table& table_;
  const Rule& rule_;
  const PrintOptions& o_;
  std::vector<bool> covered_;
  std::vector<Stmt> stmts_;
  std::map<int, Reg> regs_;
  std::vector<size_t> skip_;
  std::array<const KeyFamily*, 3> proto_{};  // protocol context: link, network, transport
  std::array<Dep, 5> deps_{};                // stored dependencies by nft base (pdeps)
  uint8_t icmp_type_ = 0;
};

}  // namespace

RuleRendering RenderRule(const Table& table, const Rule& rule, const PrintOptions& options) {
  return RuleRenderer(table, rule, options).Run();
}

}  // namespace fwgate::nft
