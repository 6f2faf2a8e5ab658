#include "gate/diff/diff.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <map>
#include <unordered_map>

#include "gate/diff/align.h"
#include "gate/diff/identity.h"
#include "gate/diff/rule_model.h"
#include "gate/nft/printer.h"

namespace fwgate::diff {
namespace {

using nft::Table;

std::optional<uint64_t> HandleOf(uint64_t h) {
  return h != 0 ? std::optional<uint64_t>(h) : std::nullopt;
}

// --- nft-syntax texts of declarations ---

// "PREFIX { INNER }", or just PREFIX when there is nothing inside.
std::string Braced(std::string prefix, const std::string& inner) {
  if (inner.empty()) return prefix;
  return prefix + " { " + inner + " }";
}

std::string TableAttrText(const Table& t) {
  std::vector<std::string> flags;
  if ((t.flags & 1) != 0) flags.emplace_back("dormant");
  if ((t.flags & 2) != 0) flags.emplace_back("owner");
  if ((t.flags & 4) != 0) flags.emplace_back("persist");
  std::string out;
  if (!flags.empty()) out += fmt::format("flags {};", fmt::join(flags, ","));
  if (!t.comment.empty()) {
    if (!out.empty()) out += ' ';
    out += fmt::format("comment \"{}\";", t.comment);
  }
  return out;
}

std::string TableText(const Table& t) {
  return Braced(fmt::format("table {} {}", nft::FamilyName(t.family), t.name), TableAttrText(t));
}

std::string ChainAttrText(const Table& t, const nft::Chain& c) {
  std::string out = nft::ChainHeaderText(t, c);
  if (!c.comment.empty()) {
    if (!out.empty()) out += ' ';
    out += fmt::format("comment \"{}\";", c.comment);
  }
  return out;
}

std::string ChainText(const Table& t, const nft::Chain& c) {
  return Braced("chain " + c.name, ChainAttrText(t, c));
}

bool IsMap(const nft::Set& s) { return s.is_map() || s.is_object_map(); }

std::string SetText(const Table& t, const nft::Set& s) {
  return Braced(fmt::format("{} {}", IsMap(s) ? "map" : "set", s.name), nft::SetHeaderText(t, s));
}

std::string FlowtableDeclText(const Table& t, const nft::Flowtable& f) {
  return Braced("flowtable " + f.name, nft::FlowtableText(t, f));
}

nft::PrintOptions NoCounters() {
  nft::PrintOptions o;
  o.counters = false;
  return o;
}

std::string ObjectDeclText(const Table& t, const nft::Object& o) {
  return Braced(fmt::format("{} {}", nft::ObjectTypeName(o.type), o.name),
                nft::ObjectText(t, o, NoCounters()));
}

}  // namespace

std::string RuleTextWithBindings(const Table& t, const nft::Rule& r, int depth,
                                 const std::map<uint32_t, std::string>* interfaces) {
  nft::PrintOptions po = NoCounters();
  if (interfaces != nullptr) po.interface_names = *interfaces;
  std::string text = nft::RuleText(t, r, po);
  // The printer writes binding chains inline over several lines, as nft lists them; a plan
  // shows one rule per line: `jump { a; b; }`.
  if (text.find('\n') != std::string::npos) {
    std::vector<std::string> parts;
    size_t pos = 0;
    while (pos <= text.size()) {
      size_t nl = text.find('\n', pos);
      std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
      size_t b = line.find_first_not_of(" \t");
      if (b != std::string::npos) parts.push_back(line.substr(b));
      if (nl == std::string::npos) break;
      pos = nl + 1;
    }
    std::string one = parts.empty() ? std::string() : parts[0];
    for (size_t i = 1; i < parts.size(); ++i) {
      one += parts[i - 1].back() == '{' ? " " : "; ";
      one += parts[i];
    }
    text = one;
  }
  if (depth > 16) return text;
  // `jump __chain3` to a binding chain reads as the user wrote it: `jump { ...; }`.
  for (const auto& e : r.exprs) {
    if (e.kind != "immediate" || !e.Has("chain")) continue;
    const nft::Chain* c = t.FindChain(e.Str("chain"));
    if (c == nullptr || !IsBindingChain(*c)) continue;
    std::string inner;
    for (const auto& x : c->rules)
      inner += RuleTextWithBindings(t, x, depth + 1, interfaces) + "; ";
    for (const char* verb : {"jump ", "goto "}) {
      std::string from = verb + c->name;
      size_t pos = text.find(from);
      if (pos != std::string::npos) {
        text.replace(pos, from.size(), std::string(verb) + "{ " + inner + "}");
      }
    }
  }
  return text;
}

namespace {

// A rule's text with the interface names of its side (rules compare and print by name, as nft
// prints them) and binding chains written inline.
std::string PlainRuleText(const Table& t, const std::map<uint32_t, std::string>& interfaces,
                          const nft::Rule& r) {
  return RuleTextWithBindings(t, r, 0, &interfaces);
}

std::string HexFallback(const nft::SetElement& e) {
  std::string s = "0x";
  for (uint8_t b : e.key) s += fmt::format("{:02x}", b);
  return s;
}

// --- comparison keys of declarations ---

bool SameChainAttrs(const nft::Chain& a, const nft::Chain& b) {
  if (a.flags != b.flags || a.comment != b.comment || a.base.has_value() != b.base.has_value()) {
    return false;
  }
  if (!a.base) return true;
  nft::BaseChain x = *a.base, y = *b.base;
  std::sort(x.devices.begin(), x.devices.end());
  std::sort(y.devices.begin(), y.devices.end());
  return x == y;
}

bool SameFlowtable(const nft::Flowtable& a, const nft::Flowtable& b) {
  auto da = a.devices, db = b.devices;
  std::sort(da.begin(), da.end());
  std::sort(db.begin(), db.end());
  return a.hook == b.hook && a.priority == b.priority && a.flags == b.flags && da == db;
}

bool SameObject(const nft::Object& a, const nft::Object& b) {
  auto attrs = [](const nft::Object& o) {
    std::vector<std::pair<std::string, nft::AttrValue>> v;
    for (const auto& kv : o.attrs) {
      if (!IsUsageObjectAttr(o.type, kv.first)) v.push_back(kv);
    }
    std::sort(v.begin(), v.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
    return v;
  };
  return a.type == b.type && a.comment == b.comment && attrs(a) == attrs(b);
}

// Pairs objects of two lists by a key; visits them in key order.
template <typename T, typename KeyFn, typename Visit>
void Pair(const std::vector<T>& cur, const std::vector<T>& prop, KeyFn key, Visit visit) {
  using K = decltype(key(std::declval<const T&>()));
  std::map<K, std::pair<const T*, const T*>> m;
  for (const auto& x : cur) m[key(x)].first = &x;
  for (const auto& x : prop) m[key(x)].second = &x;
  for (const auto& [k, v] : m) visit(v.first, v.second);
}

// The traffic models of both rulesets, built when a gap needs them (rule pairing).
struct Models {
  const nft::Ruleset& cur;
  const nft::Ruleset& prop;
  traffic::KeyTable keys;
  std::optional<traffic::Model> mcur, mprop;
  traffic::Model& Of(bool proposed) {
    auto& m = proposed ? mprop : mcur;
    if (!m) m.emplace(proposed ? prop : cur, keys);
    return *m;
  }
  size_t TableIndex(bool proposed, const Table* t) const {
    const auto& rs = proposed ? prop : cur;
    return static_cast<size_t>(t - rs.tables.data());
  }
};

class TableDiffer {
 public:
  TableDiffer(const Table* cur, const Table* prop, const DiffOptions& options,
              const std::map<uint32_t, std::string>& cur_ifaces,
              const std::map<uint32_t, std::string>& prop_ifaces, std::vector<Change>& out,
              Models* models = nullptr)
      : cur_(cur),
        prop_(prop),
        options_(options),
        cur_ifaces_(cur_ifaces),
        prop_ifaces_(prop_ifaces),
        out_(out),
        models_(models) {
    const Table& any = cur != nullptr ? *cur : *prop;
    family_ = any.family;
    table_ = any.name;
  }

  void Run() {
    if (cur_ == nullptr) {
      Emit(Base(Op::kAdd, ObjectKind::kTable, TableText(*prop_), std::nullopt));
    } else if (prop_ == nullptr) {
      Emit(Base(Op::kRemove, ObjectKind::kTable, TableText(*cur_), HandleOf(cur_->handle)));
    } else if (cur_->flags != prop_->flags || cur_->comment != prop_->comment) {
      Change c = Base(Op::kChange, ObjectKind::kTable, TableText(*prop_), HandleOf(cur_->handle));
      c.before = TableAttrText(*cur_);
      c.after = TableAttrText(*prop_);
      Emit(std::move(c));
    }
    static const std::vector<nft::Chain> kNoChains;
    static const std::vector<nft::Set> kNoSets;
    static const std::vector<nft::Flowtable> kNoFlowtables;
    static const std::vector<nft::Object> kNoObjects;
    Pair(
        cur_ ? cur_->chains : kNoChains, prop_ ? prop_->chains : kNoChains,
        [](const nft::Chain& c) { return c.name; },
        [&](const nft::Chain* a, const nft::Chain* b) {
          if ((a != nullptr && IsBindingChain(*a)) || (b != nullptr && IsBindingChain(*b))) {
            return;  // part of the rules that jump to them
          }
          DiffChain(a, b);
        });
    Pair(
        cur_ ? cur_->sets : kNoSets, prop_ ? prop_->sets : kNoSets,
        [](const nft::Set& s) { return s.name; },
        [&](const nft::Set* a, const nft::Set* b) {
          if ((a != nullptr && a->anonymous()) || (b != nullptr && b->anonymous())) {
            return;  // part of the rules that use them
          }
          DiffSet(a, b);
        });
    Pair(
        cur_ ? cur_->flowtables : kNoFlowtables, prop_ ? prop_->flowtables : kNoFlowtables,
        [](const nft::Flowtable& f) { return f.name; },
        [&](const nft::Flowtable* a, const nft::Flowtable* b) { DiffFlowtable(a, b); });
    Pair(
        cur_ ? cur_->objects : kNoObjects, prop_ ? prop_->objects : kNoObjects,
        [](const nft::Object& o) { return std::make_pair(o.type, o.name); },
        [&](const nft::Object* a, const nft::Object* b) { DiffObject(a, b); });
  }

 private:
  Change Base(Op op, ObjectKind kind, std::string text, std::optional<uint64_t> handle) const {
    Change c;
    c.op = op;
    c.object = kind;
    c.family = family_;
    c.table = table_;
    c.text = std::move(text);
    c.handle = handle;
    if (kind == ObjectKind::kTable) c.name = table_;
    return c;
  }
  void Emit(Change c) { out_.push_back(std::move(c)); }

  IdentityContext& CurCtx() {
    if (!cur_ctx_) cur_ctx_.emplace(*cur_, &cur_ifaces_);
    return *cur_ctx_;
  }
  IdentityContext& PropCtx() {
    if (!prop_ctx_) prop_ctx_.emplace(*prop_, &prop_ifaces_);
    return *prop_ctx_;
  }

  Change RuleChange(Op op, const std::string& chain, std::string text,
                    std::optional<uint64_t> handle) const {
    Change c = Base(op, ObjectKind::kRule, std::move(text), handle);
    c.chain = chain;
    return c;
  }

  void DiffChain(const nft::Chain* a, const nft::Chain* b) {
    auto chain_change = [&](Op op, const nft::Chain& c, const Table& t, std::optional<uint64_t> h) {
      Change ch = Base(op, ObjectKind::kChain, ChainText(t, c), h);
      ch.chain = ch.name = c.name;
      return ch;
    };
    if (a == nullptr) {
      Emit(chain_change(Op::kAdd, *b, *prop_, std::nullopt));
      for (size_t j = 0; j < b->rules.size(); ++j) {
        Change c = RuleChange(Op::kAdd, b->name, PlainRuleText(*prop_, prop_ifaces_, b->rules[j]),
                              std::nullopt);
        c.index_after = j;
        Emit(std::move(c));
      }
      return;
    }
    if (b == nullptr) {
      Emit(chain_change(Op::kRemove, *a, *cur_, HandleOf(a->handle)));
      for (size_t i = 0; i < a->rules.size(); ++i) {
        Change c = RuleChange(Op::kRemove, a->name, PlainRuleText(*cur_, cur_ifaces_, a->rules[i]),
                              HandleOf(a->rules[i].handle));
        c.index_before = i;
        Emit(std::move(c));
      }
      return;
    }
    if (!SameChainAttrs(*a, *b)) {
      Change c = chain_change(Op::kChange, *b, *prop_, HandleOf(a->handle));
      c.before = ChainAttrText(*cur_, *a);
      c.after = ChainAttrText(*prop_, *b);
      Emit(std::move(c));
    }
    DiffRules(*a, *b);
  }

  struct RuleShape {
    std::string verdict;
    std::vector<size_t> exprs;  // sorted hashes of expression keys
  };
  static RuleShape Shape(IdentityContext& ctx, const nft::Rule& r) {
    RuleShape s;
    s.verdict = VerdictSignature(ctx, r);
    s.exprs.reserve(r.exprs.size());
    for (const auto& e : r.exprs) s.exprs.push_back(std::hash<std::string>{}(ctx.ExprKey(e)));
    std::sort(s.exprs.begin(), s.exprs.end());
    return s;
  }
  static double Similarity(const RuleShape& x, const RuleShape& y) {
    if (x.verdict != y.verdict) return 0;
    size_t longest = std::max(x.exprs.size(), y.exprs.size());
    if (longest == 0) return 1;
    size_t common = 0;
    for (size_t i = 0, j = 0; i < x.exprs.size() && j < y.exprs.size();) {
      if (x.exprs[i] == y.exprs[j]) {
        ++common;
        ++i;
        ++j;
      } else if (x.exprs[i] < y.exprs[j]) {
        ++i;
      } else {
        ++j;
      }
    }
    return static_cast<double>(common) / static_cast<double>(longest);
  }

  void DiffRules(const nft::Chain& ca, const nft::Chain& cb) {
    chain_a_ = &ca;
    chain_b_ = &cb;
    const auto& ra = ca.rules;
    const auto& rb = cb.rules;
    if (ra.empty() && rb.empty()) return;
    std::unordered_map<std::string, uint32_t> intern;
    intern.reserve(ra.size() + rb.size());
    auto ids = [&](IdentityContext& ctx, const std::vector<nft::Rule>& rules) {
      std::vector<uint32_t> v;
      v.reserve(rules.size());
      for (const auto& r : rules) {
        auto [it, inserted] =
            intern.try_emplace(ctx.RuleKey(r), static_cast<uint32_t>(intern.size()));
        v.push_back(it->second);
      }
      return v;
    };
    std::vector<uint32_t> a = ids(CurCtx(), ra);
    std::vector<uint32_t> b = ids(PropCtx(), rb);
    auto matched = AlignSequences(a, b);

    // State of every rule not kept in place: removed/added, or one side of a move or change.
    constexpr uint32_t kKept = UINT32_MAX - 1, kFree = UINT32_MAX;
    std::vector<uint32_t> a_peer(a.size(), kFree), b_peer(b.size(), kFree);
    std::vector<bool> b_is_move(b.size(), false);
    for (auto [i, j] : matched) a_peer[i] = b_peer[j] = kKept;

    // Moves: the same rule (by identity) removed in one place and added in another.
    std::unordered_map<uint32_t, std::vector<uint32_t>> unmatched_a;  // id -> a indices (reversed)
    for (uint32_t i = static_cast<uint32_t>(a.size()); i-- > 0;) {
      if (a_peer[i] == kFree) unmatched_a[a[i]].push_back(i);
    }
    if (!unmatched_a.empty()) {
      for (uint32_t j = 0; j < b.size(); ++j) {
        if (b_peer[j] != kFree) continue;
        auto it = unmatched_a.find(b[j]);
        if (it == unmatched_a.end() || it->second.empty()) continue;
        uint32_t i = it->second.back();
        it->second.pop_back();
        a_peer[i] = j;
        b_peer[j] = i;
        b_is_move[j] = true;
      }
    }

    // Walk the gaps between kept rules: pair similar remove/add as changes, emit in order.
    size_t ai = 0, bj = 0;
    for (size_t g = 0; g <= matched.size(); ++g) {
      size_t a_end = g < matched.size() ? matched[g].first : a.size();
      size_t b_end = g < matched.size() ? matched[g].second : b.size();
      std::vector<uint32_t> rem, add;
      for (size_t i = ai; i < a_end; ++i) {
        if (a_peer[i] == kFree) rem.push_back(static_cast<uint32_t>(i));
      }
      for (size_t j = bj; j < b_end; ++j) {
        if (b_peer[j] == kFree) add.push_back(static_cast<uint32_t>(j));
      }
      if (!rem.empty() && !add.empty()) PairChanges(ra, rb, rem, add, a_peer, b_peer);
      for (uint32_t i : rem) {
        if (a_peer[i] != kFree) continue;
        Change c = RuleChange(Op::kRemove, ca.name, PlainRuleText(*cur_, cur_ifaces_, ra[i]),
                              HandleOf(ra[i].handle));
        c.index_before = i;
        Emit(std::move(c));
      }
      for (size_t j = bj; j < b_end; ++j) {
        uint32_t peer = b_peer[j];
        if (peer == kKept) continue;
        if (peer == kFree) {
          Change c = RuleChange(Op::kAdd, cb.name, PlainRuleText(*prop_, prop_ifaces_, rb[j]),
                                std::nullopt);
          c.index_after = j;
          Emit(std::move(c));
          continue;
        }
        Op op = b_is_move[j] ? Op::kMove : Op::kChange;
        Change c = RuleChange(op, cb.name, PlainRuleText(*prop_, prop_ifaces_, rb[j]),
                              HandleOf(ra[peer].handle));
        c.index_before = peer;
        c.index_after = j;
        if (op == Op::kChange) {
          c.before = PlainRuleText(*cur_, cur_ifaces_, ra[peer]);
          c.after = c.text;
        }
        Emit(std::move(c));
      }
      ai = a_end + 1;
      bj = b_end + 1;
    }
  }

  // What a rule matches, as the traffic model sees it: its packets (both families) and its
  // service, the protocols and destination ports of those packets.
  struct Service {
    traffic::Space match;
    std::string key;  // canonical (l4proto, dport) projection; "" when unknown
  };
  Service ServiceOf(bool proposed, const nft::Chain& chain, size_t ri) {
    Service s;
    if (models_ == nullptr) return s;
    traffic::Model& m = models_->Of(proposed);
    size_t t = models_->TableIndex(proposed, proposed ? prop_ : cur_);
    int32_t ci = m.FindChain(t, chain.name);
    if (ci < 0) return s;
    const auto& mc = m.chains()[ci];
    std::vector<std::pair<std::string, std::string>> parts;
    for (bool v6 : {false, true}) {
      if (!(v6 ? mc.v6 : mc.v4)) continue;
      const traffic::CompiledRule& r = m.Rule(ci, ri, v6);
      traffic::Space acc{traffic::Box()};
      for (const auto& st : r.steps) {
        if (st.kind != traffic::StepKind::kMatch) break;
        traffic::Space cond = st.atom.sat;
        cond.insert(cond.end(), st.atom.unknown.begin(), st.atom.unknown.end());
        traffic::Space next;
        for (const auto& x : acc) {
          for (const auto& y : cond) {
            if (auto z = x.Intersect(y)) next.push_back(std::move(*z));
          }
        }
        acc = std::move(next);
        if (acc.size() > 256) return Service{};
      }
      for (auto& b : acc) {
        auto ivs = [](const traffic::IntervalSet& x) {
          std::string o;
          for (const auto& i : x.intervals()) {
            o += traffic::U128Text(i.lo) + "-" + traffic::U128Text(i.hi) + ",";
          }
          return o;
        };
        parts.push_back({ivs(b.Get(traffic::Field::kL4proto)), ivs(b.Get(traffic::Field::kDport))});
        s.match.push_back(std::move(b));
      }
    }
    std::sort(parts.begin(), parts.end());
    parts.erase(std::unique(parts.begin(), parts.end()), parts.end());
    for (const auto& [l4, port] : parts) s.key += l4 + "/" + port + ";";
    return s;
  }
  static bool Overlap(const Service& a, const Service& b) {
    for (const auto& x : a.match) {
      for (const auto& y : b.match) {
        if (x.Intersects(y)) return true;
      }
    }
    return false;
  }

  // Pairs removed and added rules of one gap as changes, the way an operator edits: a pair that
  // keeps the rule's service (protocol and ports) and verdict and changes its match first (the
  // pair whose matches overlap before one that only looks alike), then by expression
  // similarity.
  void PairChanges(const std::vector<nft::Rule>& ra, const std::vector<nft::Rule>& rb,
                   const std::vector<uint32_t>& rem, const std::vector<uint32_t>& add,
                   std::vector<uint32_t>& a_peer, std::vector<uint32_t>& b_peer) {
    std::vector<std::optional<RuleShape>> add_shapes(add.size());
    std::vector<std::optional<Service>> add_services(add.size());
    const size_t w = options_.change_window;
    for (size_t k = 0; k < rem.size(); ++k) {
      size_t lo = k > w ? k - w : 0;
      size_t hi = std::min(add.size(), k + w + 1);
      if (lo >= hi) continue;
      RuleShape rs = Shape(CurCtx(), ra[rem[k]]);
      std::optional<Service> rsv;
      std::tuple<bool, bool, double> best{false, false, 0.0};
      size_t best_l = hi;
      for (size_t l = lo; l < hi; ++l) {
        if (b_peer[add[l]] != UINT32_MAX) continue;  // already paired
        if (!add_shapes[l]) add_shapes[l] = Shape(PropCtx(), rb[add[l]]);
        double s = Similarity(rs, *add_shapes[l]);
        bool same_service = false, overlap = false;
        if (rs.verdict == add_shapes[l]->verdict && chain_a_ != nullptr) {
          if (!rsv) rsv = ServiceOf(false, *chain_a_, rem[k]);
          if (!add_services[l]) add_services[l] = ServiceOf(true, *chain_b_, add[l]);
          same_service = !rsv->key.empty() && rsv->key == add_services[l]->key;
          overlap = same_service && Overlap(*rsv, *add_services[l]);
        }
        bool eligible = s >= options_.change_similarity || (same_service && overlap && s > 0);
        std::tuple<bool, bool, double> score{same_service, overlap, s};
        if (eligible && (best_l == hi || score > best)) {
          best = score;
          best_l = l;
        }
      }
      if (best_l < hi) {
        a_peer[rem[k]] = add[best_l];
        b_peer[add[best_l]] = rem[k];
      }
    }
  }

  // The set without its elements: what the printer needs to render a few of them.
  static nft::Set Shell(const nft::Set& s) {
    nft::Set shell;
    shell.name = s.name;
    shell.handle = s.handle;
    shell.flags = s.flags;
    shell.key_type = s.key_type;
    shell.key_len = s.key_len;
    shell.data_type = s.data_type;
    shell.data_len = s.data_len;
    shell.obj_type = s.obj_type;
    shell.policy = s.policy;
    shell.desc_size = s.desc_size;
    shell.timeout_ms = s.timeout_ms;
    shell.gc_interval_ms = s.gc_interval_ms;
    shell.field_lengths = s.field_lengths;
    shell.userdata = s.userdata;
    shell.exprs = s.exprs;
    return shell;
  }

  // Element texts show interface names of the side `t` belongs to.
  nft::PrintOptions Names(const Table& t) const {
    nft::PrintOptions o;
    o.interface_names = &t == cur_ ? cur_ifaces_ : prop_ifaces_;
    return o;
  }

  std::string UnitText(const Table& t, const nft::Set& shell_src, nft::Set& shell,
                       const ElementUnit& u) const {
    shell.elements.clear();
    for (size_t i : u.indices) shell.elements.push_back(shell_src.elements[i]);
    auto texts = nft::ElementTexts(t, shell, Names(t));
    if (texts.empty()) return HexFallback(shell_src.elements[u.indices.front()]);
    return fmt::format("{}", fmt::join(texts, ", "));
  }

  void DiffSet(const nft::Set* a, const nft::Set* b) {
    const nft::Set& any = b != nullptr ? *b : *a;
    ObjectKind kind = IsMap(any) ? ObjectKind::kMap : ObjectKind::kSet;
    auto set_change = [&](Op op, std::string text, std::optional<uint64_t> h) {
      Change c = Base(op, kind, std::move(text), h);
      c.set = c.name = any.name;
      return c;
    };
    auto element = [&](Op op, std::string text) {
      Change c = Base(op, ObjectKind::kElement, std::move(text), std::nullopt);
      c.set = any.name;
      return c;
    };
    if (a == nullptr || b == nullptr) {
      const Table& t = a == nullptr ? *prop_ : *cur_;
      const nft::Set& s = a == nullptr ? *b : *a;
      Op op = a == nullptr ? Op::kAdd : Op::kRemove;
      Emit(set_change(op, SetText(t, s), a == nullptr ? std::nullopt : HandleOf(a->handle)));
      for (auto& text : nft::ElementTexts(t, s, Names(t))) Emit(element(op, std::move(text)));
      return;
    }
    if (SetDeclarationKey(*a) != SetDeclarationKey(*b)) {
      Change c = set_change(Op::kChange, SetText(*prop_, *b), HandleOf(a->handle));
      c.before = SetText(*cur_, *a);
      c.after = c.text;
      Emit(std::move(c));
    }
    if (a->elements == b->elements) return;
    auto ua = ElementUnits(*a, &cur_ifaces_);
    auto ub = ElementUnits(*b, &prop_ifaces_);
    std::optional<nft::Set> shell_a, shell_b;
    auto text_a = [&](const ElementUnit& u) {
      if (!shell_a) shell_a = Shell(*a);
      return UnitText(*cur_, *a, *shell_a, u);
    };
    auto text_b = [&](const ElementUnit& u) {
      if (!shell_b) shell_b = Shell(*b);
      return UnitText(*prop_, *b, *shell_b, u);
    };
    size_t i = 0, j = 0;
    while (i < ua.size() || j < ub.size()) {
      if (j == ub.size() || (i < ua.size() && ua[i].id < ub[j].id)) {
        Emit(element(Op::kRemove, text_a(ua[i++])));
      } else if (i == ua.size() || ub[j].id < ua[i].id) {
        Emit(element(Op::kAdd, text_b(ub[j++])));
      } else {
        if (ua[i].value != ub[j].value) {
          Change c = element(Op::kChange, text_b(ub[j]));
          c.before = text_a(ua[i]);
          c.after = c.text;
          Emit(std::move(c));
        }
        ++i;
        ++j;
      }
    }
  }

  void DiffFlowtable(const nft::Flowtable* a, const nft::Flowtable* b) {
    auto make = [&](Op op, const Table& t, const nft::Flowtable& f, std::optional<uint64_t> h) {
      Change c = Base(op, ObjectKind::kFlowtable, FlowtableDeclText(t, f), h);
      c.name = f.name;
      return c;
    };
    if (a == nullptr) return Emit(make(Op::kAdd, *prop_, *b, std::nullopt));
    if (b == nullptr) return Emit(make(Op::kRemove, *cur_, *a, HandleOf(a->handle)));
    if (SameFlowtable(*a, *b)) return;
    Change c = make(Op::kChange, *prop_, *b, HandleOf(a->handle));
    c.before = FlowtableDeclText(*cur_, *a);
    c.after = c.text;
    Emit(std::move(c));
  }

  void DiffObject(const nft::Object* a, const nft::Object* b) {
    auto make = [&](Op op, const Table& t, const nft::Object& o, std::optional<uint64_t> h) {
      Change c = Base(op, ObjectKind::kObject, ObjectDeclText(t, o), h);
      c.name = o.name;
      return c;
    };
    if (a == nullptr) return Emit(make(Op::kAdd, *prop_, *b, std::nullopt));
    if (b == nullptr) return Emit(make(Op::kRemove, *cur_, *a, HandleOf(a->handle)));
    if (SameObject(*a, *b)) return;
    Change c = make(Op::kChange, *prop_, *b, HandleOf(a->handle));
    c.before = ObjectDeclText(*cur_, *a);
    c.after = c.text;
    Emit(std::move(c));
  }

  const Table* cur_;
  const Table* prop_;
  const DiffOptions& options_;
  // The interface names of each side's namespace: rules compare and print by name.
  const std::map<uint32_t, std::string>& cur_ifaces_;
  const std::map<uint32_t, std::string>& prop_ifaces_;
  std::vector<Change>& out_;
  Models* models_;
  const nft::Chain* chain_a_ = nullptr;
  const nft::Chain* chain_b_ = nullptr;
  nft::Family family_ = nft::Family::kInet;
  std::string table_;
  std::optional<IdentityContext> cur_ctx_, prop_ctx_;
};

}  // namespace

std::string_view OpName(Op op) {
  switch (op) {
    case Op::kAdd:
      return "add";
    case Op::kRemove:
      return "remove";
    case Op::kChange:
      return "change";
    case Op::kMove:
      return "move";
  }
  return "unknown";
}

std::string_view ObjectKindName(ObjectKind k) {
  switch (k) {
    case ObjectKind::kTable:
      return "table";
    case ObjectKind::kChain:
      return "chain";
    case ObjectKind::kRule:
      return "rule";
    case ObjectKind::kSet:
      return "set";
    case ObjectKind::kMap:
      return "map";
    case ObjectKind::kElement:
      return "element";
    case ObjectKind::kFlowtable:
      return "flowtable";
    case ObjectKind::kObject:
      return "object";
  }
  return "unknown";
}

Plan DiffRulesets(const nft::Ruleset& current, const nft::Ruleset& proposed,
                  const DiffOptions& options) {
  Plan plan;
  Models models{current, proposed, {}, {}, {}};
  Pair(
      current.tables, proposed.tables,
      [](const Table& t) { return std::make_pair(std::string(nft::FamilyName(t.family)), t.name); },
      [&](const Table* a, const Table* b) {
        TableDiffer(a, b, options, current.interfaces, proposed.interfaces, plan.changes, &models)
            .Run();
      });
  for (const auto& c : plan.changes) {
    switch (c.op) {
      case Op::kAdd:
        ++plan.summary.add;
        break;
      case Op::kRemove:
        ++plan.summary.remove;
        break;
      case Op::kChange:
        ++plan.summary.change;
        break;
      case Op::kMove:
        ++plan.summary.move;
        break;
    }
  }
  return plan;
}

}  // namespace fwgate::diff
