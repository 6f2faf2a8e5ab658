#include "gate/diff/identity.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>

namespace fwgate::diff {
namespace {

using nft::AttrValue;
using nft::Bytes;
using nft::Expr;

constexpr uint32_t kElemIntervalEnd = 1;  // NFT_SET_ELEM_INTERVAL_END
constexpr uint32_t kElemCatchall = 2;     // NFT_SET_ELEM_CATCHALL

void AppendLen(std::string& out, size_t n) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, end);
  out += ':';
}
void AppendStr(std::string& out, std::string_view s) {
  out += 's';
  AppendLen(out, s.size());
  out += s;
}
void AppendInt(std::string& out, uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out += 'i';
  out.append(buf, end);
  out += ';';
}
void AppendBytes(std::string& out, const Bytes& b) {
  out += 'b';
  AppendLen(out, b.size());
  out.append(reinterpret_cast<const char*>(b.data()), b.size());
}
void AppendValue(std::string& out, const AttrValue& v) {
  if (const auto* i = std::get_if<uint64_t>(&v)) {
    AppendInt(out, *i);
  } else if (const auto* s = std::get_if<std::string>(&v)) {
    AppendStr(out, *s);
  } else {
    AppendBytes(out, std::get<Bytes>(v));
  }
}

// Attributes naming a set the expression reads or writes.
bool IsSetRefAttr(std::string_view kind, std::string_view attr) {
  return ((kind == "lookup" || kind == "dynset") && attr == "set") ||
         (kind == "objref" && attr == "set_name");
}

const std::string& NoChains(const std::string&) {
  static const std::string kEmpty;
  return kEmpty;
}

// Serialises one expression; `resolve` maps a referenced set name to the canonical content of
// an anonymous set (empty for named sets), `chains` a jumped-to chain name to a binding chain's
// content (empty for named chains).
template <typename Resolve, typename Chains>
void AppendExprImpl(std::string& out, const Expr& e, Resolve&& resolve, Chains&& chains) {
  out += 'E';
  AppendStr(out, e.kind);
  // Attributes in name order, usage values left out (no allocation for the usual few).
  using AttrPtr = const std::pair<std::string, AttrValue>*;
  constexpr size_t kInline = 16;
  std::array<AttrPtr, kInline> inline_attrs{};
  std::vector<AttrPtr> heap_attrs;
  AttrPtr* attrs = inline_attrs.data();
  if (e.attrs.size() > kInline) {
    heap_attrs.resize(e.attrs.size());
    attrs = heap_attrs.data();
  }
  size_t count = 0;
  for (const auto& a : e.attrs) {
    if (!IsUsageAttr(e.kind, a.first)) attrs[count++] = &a;
  }
  std::sort(attrs, attrs + count, [](AttrPtr x, AttrPtr y) { return x->first < y->first; });
  for (size_t k = 0; k < count; ++k) {
    AttrPtr a = attrs[k];
    AppendStr(out, a->first);
    const auto* name = std::get_if<std::string>(&a->second);
    if (name != nullptr && e.kind == "immediate" && a->first == "chain") {
      const std::string& content = chains(*name);
      if (!content.empty()) {
        out += 'B';  // binding chain: its content stands for its (load-dependent) name
        AppendLen(out, content.size());
        out += content;
        continue;
      }
    }
    if (name != nullptr && IsSetRefAttr(e.kind, a->first)) {
      const std::string& content = resolve(*name);
      if (!content.empty()) {
        out += 'A';  // anonymous set: its content stands for its (load-dependent) name
        AppendLen(out, content.size());
        out += content;
        continue;
      }
    }
    AppendValue(out, a->second);
  }
  out += 'N';
  AppendLen(out, e.nested.size());
  for (const auto& n : e.nested) AppendExprImpl(out, n, resolve, chains);
  out += 'e';
}

const std::string& NoSets(const std::string&) {
  static const std::string kEmpty;
  return kEmpty;
}

std::string ElementValue(const nft::SetElement& e) {
  std::string v;
  // Plain set elements (the 100k-address case) carry nothing besides their key.
  if (e.data.empty() && !e.verdict && e.chain.empty() && e.objref.empty() && e.timeout_ms == 0 &&
      e.comment.empty() && (e.flags & ~(kElemIntervalEnd | kElemCatchall)) == 0 &&
      e.exprs.empty()) {
    return v;
  }
  AppendBytes(v, e.data);
  if (e.verdict) {
    v += 'V';
    AppendInt(v, static_cast<uint32_t>(*e.verdict));
  }
  AppendStr(v, e.chain);
  AppendStr(v, e.objref);
  AppendInt(v, e.timeout_ms);
  AppendStr(v, e.comment);
  AppendInt(v, e.flags & ~(kElemIntervalEnd | kElemCatchall));
  for (const auto& x : e.exprs) AppendExprImpl(v, x, NoSets, NoChains);
  return v;
}

std::string KeyId(const Bytes& key) {
  std::string id = "K";
  AppendBytes(id, key);
  return id;
}

bool BytesLess(const Bytes& a, const Bytes& b) {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end());
}

void AppendSetCommon(std::string& out, const nft::Set& s) {
  AppendInt(out, s.flags);
  AppendInt(out, s.key_type);
  AppendInt(out, s.key_len);
  AppendInt(out, s.data_type);
  AppendInt(out, s.data_len);
  AppendInt(out, s.obj_type);
  AppendInt(out, s.timeout_ms);
  AppendBytes(out, Bytes(s.field_lengths.begin(), s.field_lengths.end()));
  out += 'X';
  AppendLen(out, s.exprs.size());
  for (const auto& x : s.exprs) AppendExprImpl(out, x, NoSets, NoChains);
}

}  // namespace

namespace {

constexpr uint32_t kTypeIfindex = 20;  // nft's iface_index datatype

// NFT_REG_1..4 overlay NFT_REG32_00..: one number per 4-byte register slot.
uint64_t RegSlot(uint64_t reg) { return reg >= 1 && reg <= 4 ? 8 + (reg - 1) * 4 : reg; }

// A load of an interface index: meta iif/oif/sdif (NFT_META_IIF 4, OIF 5, SDIF 33) or fib's
// output interface (NFT_FIB_RESULT_OIF 1).
bool LoadsIfindex(const Expr& e) {
  if (!e.Has("dreg")) return false;
  if (e.kind == "meta") return e.Int("key") == 4 || e.Int("key") == 5 || e.Int("key") == 33;
  if (e.kind == "fib") return e.Int("result") == 1;
  return false;
}

// The interface name an index's register bytes (host order) name, or "" when unknown.
std::string IfnameOf(const Bytes& b, const std::map<uint32_t, std::string>& names) {
  if (b.size() != 4) return {};
  uint32_t index = 0;
  std::memcpy(&index, b.data(), 4);
  auto it = names.find(index);
  return it == names.end() ? std::string() : it->second;
}

}  // namespace

bool IsUsageAttr(std::string_view kind, std::string_view attr) {
  if (kind == "counter") return attr == "packets" || attr == "bytes";
  if (kind == "quota") return attr == "consumed";
  if (kind == "last") return attr == "msecs" || attr == "set";
  return false;
}

bool IsUsageObjectAttr(uint32_t type, std::string_view attr) {
  if (type == 1) return attr == "pkts" || attr == "bytes";  // NFT_OBJECT_COUNTER
  if (type == 2) return attr == "consumed";                 // NFT_OBJECT_QUOTA
  return false;
}

std::vector<ElementUnit> ElementUnits(const nft::Set& set,
                                      const std::map<uint32_t, std::string>* interfaces) {
  if (interfaces != nullptr && set.key_type == kTypeIfindex) {
    // Interface sets count by name: each known index becomes its name's bytes.
    nft::Set by_name = set;
    for (auto& el : by_name.elements) {
      std::string name = IfnameOf(el.key, *interfaces);
      if (!name.empty()) el.key.assign(name.begin(), name.end());
    }
    return ElementUnits(by_name, nullptr);
  }
  std::vector<ElementUnit> units;
  const auto& els = set.elements;
  units.reserve(els.size());
  auto single = [&](size_t i, std::string id) {
    units.push_back({std::move(id), ElementValue(els[i]), {i}});
  };
  bool pair = set.is_interval() && std::none_of(els.begin(), els.end(),
                                                [](const auto& e) { return !e.key_end.empty(); });
  if (!pair) {
    for (size_t i = 0; i < els.size(); ++i) {
      const auto& e = els[i];
      if ((e.flags & kElemCatchall) != 0) {
        single(i, "C");
        continue;
      }
      std::string id = KeyId(e.key);
      if (!e.key_end.empty()) {
        id += 'R';
        AppendBytes(id, e.key_end);
      }
      single(i, std::move(id));
    }
  } else {
    // Interval sets hold [start, end) as a start element and an end element (flag
    // INTERVAL_END, key = last + 1). Sorted by key with ends first on equal keys, each start is
    // followed by its end; a start without an end runs to the top of the key space.
    std::vector<size_t> order;
    order.reserve(els.size());
    for (size_t i = 0; i < els.size(); ++i) {
      if ((els[i].flags & kElemCatchall) != 0) {
        single(i, "C");
      } else {
        order.push_back(i);
      }
    }
    auto is_end = [&](size_t i) { return (els[i].flags & kElemIntervalEnd) != 0; };
    std::sort(order.begin(), order.end(), [&](size_t x, size_t y) {
      if (els[x].key != els[y].key) return BytesLess(els[x].key, els[y].key);
      return is_end(x) && !is_end(y);
    });
    constexpr size_t kNone = SIZE_MAX;
    size_t pending = kNone;
    for (size_t i : order) {
      if (is_end(i)) {
        if (pending != kNone) {
          std::string id = KeyId(els[pending].key);
          id += 'R';
          AppendBytes(id, els[i].key);
          units.push_back({std::move(id),
                           ElementValue(els[pending]),
                           {std::min(pending, i), std::max(pending, i)}});
          pending = kNone;
        } else {
          std::string id = "E";
          AppendBytes(id, els[i].key);
          single(i, std::move(id));
        }
      } else {
        if (pending != kNone) single(pending, KeyId(els[pending].key));
        pending = i;
      }
    }
    if (pending != kNone) single(pending, KeyId(els[pending].key));
  }
  std::sort(units.begin(), units.end(),
            [](const ElementUnit& a, const ElementUnit& b) { return a.id < b.id; });
  return units;
}

std::string SetDeclarationKey(const nft::Set& s) {
  std::string out;
  AppendSetCommon(out, s);
  AppendInt(out, s.policy);
  AppendInt(out, s.desc_size);
  AppendInt(out, s.gc_interval_ms);
  AppendBytes(out, s.userdata);
  return out;
}

IdentityContext::IdentityContext(const nft::Table& table,
                                 const std::map<uint32_t, std::string>* interfaces)
    : interfaces_(interfaces) {
  for (const auto& s : table.sets) sets_.emplace(s.name, &s);
  for (const auto& c : table.chains) {
    if (IsBindingChain(c)) bindings_.emplace(c.name, &c);
  }
}

const std::string& IdentityContext::BindingChainContent(const std::string& name) {
  static const std::string kEmpty;
  auto it = bindings_.find(name);
  if (it == bindings_.end() || binding_depth_ > 16) return kEmpty;
  auto cached = binding_cache_.find(name);
  if (cached != binding_cache_.end()) return cached->second;
  ++binding_depth_;
  std::string out = "C";
  const nft::Chain& c = *it->second;
  AppendLen(out, c.rules.size());
  for (const auto& r : c.rules) {
    std::string k = RuleKey(r);
    AppendLen(out, k.size());
    out += k;
  }
  --binding_depth_;
  return binding_cache_.emplace(name, std::move(out)).first->second;
}

const std::string& IdentityContext::AnonymousSetContent(const std::string& name) {
  static const std::string kEmpty;
  auto it = sets_.find(name);
  if (it == sets_.end() || !it->second->anonymous()) return kEmpty;
  auto cached = anon_cache_.find(name);
  if (cached != anon_cache_.end()) return cached->second;
  const nft::Set& s = *it->second;
  std::string out = "S";
  AppendSetCommon(out, s);
  auto units = ElementUnits(s, interfaces_);
  AppendLen(out, units.size());
  for (const auto& u : units) {
    AppendLen(out, u.id.size());
    out += u.id;
    AppendLen(out, u.value.size());
    out += u.value;
  }
  return anon_cache_.emplace(name, std::move(out)).first->second;
}

void IdentityContext::AppendExpr(std::string& out, const Expr& expr) {
  AppendExprImpl(
      out, expr,
      [this](const std::string& n) -> const std::string& { return AnonymousSetContent(n); },
      [this](const std::string& n) -> const std::string& { return BindingChainContent(n); });
}

std::string IdentityContext::ExprKey(const Expr& expr) {
  std::string out;
  AppendExpr(out, expr);
  return out;
}

std::string IdentityContext::RuleKey(const nft::Rule& rule) {
  std::string out;
  out.reserve(64 * rule.exprs.size() + 16);
  std::vector<uint64_t> ifindex_regs;  // register slots holding an interface index
  for (const auto& e : rule.exprs) {
    if (interfaces_ != nullptr) {
      auto held = std::find(ifindex_regs.begin(), ifindex_regs.end(), RegSlot(e.Int("sreg", 0)));
      if (e.kind == "cmp" && held != ifindex_regs.end()) {
        std::string name = IfnameOf(e.Data("data"), *interfaces_);
        if (!name.empty()) {
          Expr by_name = e;
          by_name.Set("data", name);  // a string: never equal to raw index bytes
          AppendExpr(out, by_name);
          continue;
        }
      }
      if (e.Has("dreg")) std::erase(ifindex_regs, RegSlot(e.Int("dreg")));
      if (LoadsIfindex(e)) ifindex_regs.push_back(RegSlot(e.Int("dreg")));
    }
    AppendExpr(out, e);
  }
  out += 'C';
  AppendStr(out, rule.comment);
  return out;
}

std::string VerdictSignature(IdentityContext& ctx, const nft::Rule& rule) {
  if (rule.exprs.empty()) return {};
  const Expr& last = rule.exprs.back();
  static constexpr std::string_view kTerminal[] = {"reject", "queue",  "nat", "masq",
                                                   "redir",  "tproxy", "fwd", "synproxy"};
  bool verdict = false;
  if (last.kind == "immediate" || last.kind == "lookup") {
    verdict = last.Has("dreg") && last.Int("dreg", 1) == 0;  // NFT_REG_VERDICT
  } else {
    verdict =
        std::find(std::begin(kTerminal), std::end(kTerminal), last.kind) != std::end(kTerminal);
  }
  return verdict ? ctx.ExprKey(last) : std::string();
}

}  // namespace fwgate::diff
