#include "gate/diff/rule_model.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <set>

namespace fwgate::traffic {
namespace {

using nft::Bytes;
using nft::Expr;

// nf_tables constants (linux/netfilter/nf_tables.h, linux/netfilter.h).
constexpr int32_t kNfDrop = 0, kNfAccept = 1, kNfQueue = 3;
constexpr int32_t kNftContinue = -1, kNftBreak = -2, kNftJump = -3, kNftGoto = -4, kNftReturn = -5;
constexpr uint32_t kElemIntervalEnd = 1, kElemCatchall = 2;
constexpr uint32_t kChainBinding = 4;
constexpr int kRegBytes = 64;  // NFT_REG32_00 .. NFT_REG32_15

uint32_t Bit(Field f) { return 1u << static_cast<int>(f); }

// What one register byte holds.
struct Tag {
  enum Kind : uint8_t { kConst, kField, kIfIndex, kUnknown };
  Kind kind = kConst;
  uint8_t value = 0;  // kConst: the byte; kUnknown: values of the known bits
  uint8_t known = 0;  // kUnknown: which bits are known
  Field field = Field::kMark;
  uint8_t index = 0;  // kField: big-endian byte of the field; kIfIndex: byte of the host-order u32
  bool in = true;     // kIfIndex: iif (true) or oif
  bool tcp_only = false;        // kField read from transport byte 13: TCP flags only for TCP
  uint8_t mask = 0xff, xr = 0;  // kField/kIfIndex: the byte is (source & mask) ^ xr
  uint32_t unknown = 0;         // kUnknown: the key naming what it is

  static Tag Const(uint8_t v) {
    Tag t;
    t.value = v;
    return t;
  }
  static Tag Unknown(uint32_t key, uint8_t known = 0, uint8_t value = 0) {
    Tag t;
    t.kind = kUnknown;
    t.unknown = key;
    t.known = known;
    t.value = value & known;
    return t;
  }
  static Tag Of(Field f, uint8_t index) {
    Tag t;
    t.kind = kField;
    t.field = f;
    t.index = index;
    return t;
  }
  // Fully determined: a constant, or unknown bits all masked away.
  [[nodiscard]] bool IsConst() const {
    return kind == kConst || (kind == kUnknown && known == 0xff) ||
           ((kind == kField || kind == kIfIndex) && mask == 0);
  }
  [[nodiscard]] uint8_t ConstValue() const {
    return kind == kConst || kind == kUnknown ? value : xr;
  }
};

void ApplyBitwise(Tag& t, uint8_t m, uint8_t x) {
  switch (t.kind) {
    case Tag::kConst:
      t.value = static_cast<uint8_t>((t.value & m) ^ x);
      break;
    case Tag::kUnknown:
      t.known = static_cast<uint8_t>(t.known | ~m);
      t.value = static_cast<uint8_t>(((t.value & m) ^ x) & t.known);
      break;
    case Tag::kField:
    case Tag::kIfIndex:
      t.xr = static_cast<uint8_t>((t.xr & m) ^ x);
      t.mask = static_cast<uint8_t>(t.mask & m);
      if (t.mask == 0) t = Tag::Const(t.xr);
      break;
  }
}

// A constraint on packets derived from register bytes.
struct Constraint {
  enum Kind { kFalse, kTrue, kBox, kUnknown };
  Kind kind = kTrue;
  Box box;                // kBox (kTrue: the whole space)
  uint32_t key = 0;       // kUnknown
  bool tcp_only = false;  // the box reads TCP flags: for other protocols the outcome is unknown
};

u128 FieldMax(Field f) {
  uint32_t b = FieldBits(f);
  return b >= 128 ? ~u128{0} : (u128{1} << b) - 1;
}

bool SmallDomain(Field f, u128 limit = 256) { return Domain(f).Count() <= limit; }

// Iterates the values of a small domain.
template <typename Fn>
void ForEachValue(const IntervalSet& s, Fn fn) {
  for (const auto& i : s.intervals()) {
    for (u128 v = i.lo;; ++v) {
      fn(v);
      if (v == i.hi) break;
    }
  }
}

// The register bytes `tags` produce for a packet whose field f has value v (other fields must
// not occur). ok=false when another field or an unknown byte is involved.
void BytesFor(const Tag* tags, size_t n, Field f, u128 v, uint8_t* out, bool* ok) {
  uint8_t fb[16] = {};
  uint32_t nb = FieldBytes(f);
  ToBytes(v, fb, nb);
  for (size_t i = 0; i < n; ++i) {
    const Tag& t = tags[i];
    if (t.IsConst()) {
      out[i] = t.ConstValue();
    } else if (t.kind == Tag::kField && t.field == f && t.index < nb) {
      out[i] = static_cast<uint8_t>((fb[t.index] & t.mask) ^ t.xr);
    } else {
      *ok = false;
      return;
    }
  }
}

// {v : v & M == C} over field f as intervals; nullopt when it needs more than `limit`.
std::optional<IntervalSet> PatternSet(Field f, u128 m, u128 c, size_t limit) {
  if ((c & ~m) != 0) return IntervalSet();
  if (m == 0) return Domain(f);
  uint32_t w = FieldBits(f);
  int p = 0;
  while (((m >> p) & 1) == 0) ++p;
  u128 low = p == 0 ? 0 : (u128{1} << p) - 1;
  u128 field = w >= 128 ? ~u128{0} : (u128{1} << w) - 1;
  u128 holes = ~m & field & ~low;  // free bits above the lowest constrained one
  if (holes == 0) {
    // A prefix (or an exact value): one interval.
    return IntervalSet::Of(c, c | low).Intersect(Domain(f));
  }
  int nholes = std::popcount(static_cast<uint64_t>(holes)) +
               std::popcount(static_cast<uint64_t>(holes >> 64));
  if (nholes > 20 || (size_t{1} << nholes) > limit) return std::nullopt;
  std::vector<int> free_bits;
  for (int q = p + 1; q < static_cast<int>(w); ++q) {
    if (((m >> q) & 1) == 0) free_bits.push_back(q);
  }
  if (free_bits.size() > 20 || (size_t{1} << free_bits.size()) > limit) return std::nullopt;
  std::vector<Interval> iv;
  size_t count = size_t{1} << free_bits.size();
  iv.reserve(count);
  for (size_t k = 0; k < count; ++k) {
    u128 base = c;
    for (size_t b = 0; b < free_bits.size(); ++b) {
      if ((k >> b) & 1) base |= u128{1} << free_bits[b];
    }
    iv.push_back({base, base | low});
  }
  return IntervalSet::FromIntervals(std::move(iv)).Intersect(Domain(f));
}

// Whether tags[0..n) are the top n bytes of one field, unmasked: a monotone view of it.
bool MonotoneWindow(const Tag* tags, size_t n, Field* f) {
  if (n == 0 || tags[0].kind != Tag::kField) return false;
  Field g = tags[0].field;
  if (n > FieldBytes(g)) return false;
  for (size_t i = 0; i < n; ++i) {
    const Tag& t = tags[i];
    if (t.kind != Tag::kField || t.field != g || t.index != i || t.mask != 0xff || t.xr != 0) {
      return false;
    }
  }
  *f = g;
  return true;
}

// Field interval of the register range [lo, hi] (n bytes each) through a monotone window.
IntervalSet WindowInterval(Field f, size_t n, const uint8_t* lo, const uint8_t* hi) {
  uint32_t shift = FieldBits(f) - static_cast<uint32_t>(8 * n);
  if (FieldBits(f) < 8 * n) shift = 0;
  u128 a = FromBytes(lo, n), b = FromBytes(hi, n);
  if (a > b) return IntervalSet();
  u128 low = shift == 0 ? 0 : (shift >= 128 ? ~u128{0} : (u128{1} << shift) - 1);
  u128 lo_v = shift >= 128 ? 0 : a << shift;
  u128 hi_v = shift >= 128 ? ~u128{0} : (b << shift) | low;
  return IntervalSet::Of(lo_v, std::min(hi_v, FieldMax(f))).Intersect(Domain(f));
}

int Memcmp(const uint8_t* a, const uint8_t* b, size_t n) {
  return n == 0 ? 0 : std::memcmp(a, b, n);
}

}  // namespace

// ---------------------------------------------------------------------------------------------

std::string_view PathName(Path p) {
  switch (p) {
    case Path::kInput:
      return "input";
    case Path::kForward:
      return "forward";
    case Path::kOutput:
      return "output";
  }
  return "?";
}

std::string_view HookText(Hook h) {
  switch (h) {
    case Hook::kIngress:
      return "ingress";
    case Hook::kPrerouting:
      return "prerouting";
    case Hook::kInput:
      return "input";
    case Hook::kForward:
      return "forward";
    case Hook::kOutput:
      return "output";
    case Hook::kPostrouting:
      return "postrouting";
    case Hook::kEgress:
      return "egress";
  }
  return "?";
}

const std::vector<Hook>& HooksOf(Path p) {
  static const std::vector<Hook> kIn = {Hook::kIngress, Hook::kPrerouting, Hook::kInput};
  static const std::vector<Hook> kFwd = {Hook::kIngress, Hook::kPrerouting, Hook::kForward,
                                         Hook::kPostrouting, Hook::kEgress};
  static const std::vector<Hook> kOut = {Hook::kOutput, Hook::kPostrouting, Hook::kEgress};
  switch (p) {
    case Path::kInput:
      return kIn;
    case Path::kForward:
      return kFwd;
    case Path::kOutput:
      return kOut;
  }
  return kIn;
}

std::string_view VerdictName(VerdictKind k) {
  switch (k) {
    case VerdictKind::kAccept:
      return "accept";
    case VerdictKind::kDrop:
      return "drop";
    case VerdictKind::kReject:
      return "reject";
    case VerdictKind::kQueue:
      return "queue";
    case VerdictKind::kUnknown:
      return "unknown";
  }
  return "?";
}

uint32_t KeyTable::Intern(const std::string& key, const std::string& description) {
  auto [it, inserted] = ids_.try_emplace(key, static_cast<uint32_t>(descriptions_.size()));
  if (inserted) descriptions_.push_back(description);
  return it->second;
}

const std::string& KeyTable::Describe(uint32_t id) const {
  static const std::string kNone;
  return id < descriptions_.size() ? descriptions_[id] : kNone;
}

// ---------------------------------------------------------------------------------------------
// Set elements as ranges
// ---------------------------------------------------------------------------------------------

std::vector<ElementRange> ElementRanges(const nft::Set& set,
                                        const std::vector<nft::SetElement>& els) {
  std::vector<ElementRange> out;
  bool pairs = set.is_interval() && std::none_of(els.begin(), els.end(),
                                                 [](const auto& e) { return !e.key_end.empty(); });
  for (const auto& e : els) {
    if ((e.flags & kElemCatchall) != 0) out.push_back({{}, {}, &e, true});
  }
  if (!pairs) {
    for (const auto& e : els) {
      if ((e.flags & kElemCatchall) != 0) continue;
      if ((e.flags & kElemIntervalEnd) != 0) continue;  // stray end of a non-interval dump
      out.push_back({e.key, e.key_end.empty() ? e.key : e.key_end, &e, false});
    }
    return out;
  }
  // Interval sets: the kernel matches a key when the greatest element <= key is a start (a start
  // wins over an end at the same key). Ends hold the first key after the interval.
  std::vector<const nft::SetElement*> order;
  for (const auto& e : els) {
    if ((e.flags & kElemCatchall) == 0) order.push_back(&e);
  }
  auto is_end = [](const nft::SetElement* e) { return (e->flags & kElemIntervalEnd) != 0; };
  std::stable_sort(order.begin(), order.end(), [&](const auto* a, const auto* b) {
    if (a->key != b->key) {
      return std::lexicographical_compare(a->key.begin(), a->key.end(), b->key.begin(),
                                          b->key.end());
    }
    return is_end(a) && !is_end(b);
  });
  const nft::SetElement* open = nullptr;
  for (const auto* e : order) {
    if (!is_end(e)) {
      if (open == nullptr) open = e;
      continue;
    }
    if (open == nullptr) continue;
    Bytes hi = e->key;
    bool zero = std::all_of(hi.begin(), hi.end(), [](uint8_t b) { return b == 0; });
    if (zero) {  // an end at key 0 closes nothing
      open = nullptr;
      continue;
    }
    for (size_t i = hi.size(); i > 0; --i) {
      if (hi[i - 1]-- != 0) break;
    }
    if (!std::lexicographical_compare(hi.begin(), hi.end(), open->key.begin(), open->key.end())) {
      out.push_back({open->key, hi, open, false});
    }
    open = nullptr;
  }
  if (open != nullptr) out.push_back({open->key, Bytes(open->key.size(), 0xff), open, false});
  return out;
}

namespace {

void AppendCanonical(std::string& out, const nft::Table& table, const Expr& e) {
  out += e.kind;
  out += '(';
  std::vector<const std::pair<std::string, nft::AttrValue>*> attrs;
  for (const auto& a : e.attrs) {
    if (e.kind == "counter" && (a.first == "packets" || a.first == "bytes")) continue;
    if (e.kind == "quota" && a.first == "consumed") continue;
    if (e.kind == "last") continue;
    attrs.push_back(&a);
  }
  std::sort(attrs.begin(), attrs.end(), [](auto* x, auto* y) { return x->first < y->first; });
  for (const auto* a : attrs) {
    out += a->first;
    out += '=';
    if (const auto* i = std::get_if<uint64_t>(&a->second)) {
      out += std::to_string(*i);
    } else if (const auto* s = std::get_if<std::string>(&a->second)) {
      const nft::Set* set =
          (a->first == "set" || a->first == "set_name") ? table.FindSet(*s) : nullptr;
      if (set != nullptr && set->anonymous()) {
        out += "{";
        for (const auto& el : set->elements) {
          for (uint8_t b : el.key) out += fmt::format("{:02x}", b);
          out += '-';
          for (uint8_t b : el.key_end) out += fmt::format("{:02x}", b);
          out += fmt::format("/{}/{}/{};", el.flags, el.verdict.value_or(99), el.chain);
        }
        out += "}";
      } else {
        out += '"' + *s + '"';
      }
    } else {
      for (uint8_t b : std::get<Bytes>(a->second)) out += fmt::format("{:02x}", b);
    }
    out += ',';
  }
  for (const auto& n : e.nested) AppendCanonical(out, table, n);
  out += ')';
}

}  // namespace

std::string ExprIdentity(const nft::Table& table, const Expr& expr) {
  std::string out;
  AppendCanonical(out, table, expr);
  return out;
}

// ---------------------------------------------------------------------------------------------
// The rule compiler: a symbolic run of the nf_tables register machine.
// ---------------------------------------------------------------------------------------------

class RuleCompiler {
 public:
  RuleCompiler(Model& model, size_t table, bool v6)
      : m_(model), table_(model.rs_.tables[table]), table_index_(table), v6_(v6) {
    for (auto& t : regs_) t = Tag::Const(0);
  }

  // Compiles `rule`; in key mode, only the key spaces of lookups into `key_set` are collected.
  CompiledRule Compile(const nft::Rule& rule) {
    rule_ = &rule;
    for (size_t i = 0; i < rule.exprs.size() && !done_; ++i) Handle(rule.exprs[i]);
    Flush();
    // Matches followed by nothing that acts (counters, logs): the rule changes no packet.
    if (!key_mode_ && std::all_of(out_.steps.begin(), out_.steps.end(),
                                  [](const Step& s) { return s.kind == StepKind::kMatch; })) {
      out_.steps.clear();
    }
    if (!done_) {
      // Falls through: NFT_CONTINUE.
    }
    return std::move(out_);
  }

  Space KeySpace(const nft::Rule& rule, const std::string& set_name,
                 const std::vector<nft::SetElement>& elements) {
    key_mode_ = true;
    key_set_ = &set_name;
    key_elements_ = &elements;
    Compile(rule);
    MergeBoxes(keys_);
    return std::move(keys_);
  }

 private:
  // --- helpers ---
  uint32_t Key(const std::string& kind, const Expr& e, const std::string& what) {
    return m_.keys_.Intern(kind + ":" + ExprIdentity(table_, e), what);
  }
  uint32_t KeyText(const std::string& key, const std::string& what) {
    return m_.keys_.Intern(key, what);
  }

  std::optional<int> Offset(uint64_t reg) const {
    if (reg >= 1 && reg <= 4) return static_cast<int>((reg - 1) * 16);
    if (reg >= 8 && reg <= 23) return static_cast<int>((reg - 8) * 4);
    return std::nullopt;
  }

  // Writes `tags` to register `reg`, zeroing the rest of the last 32-bit word (as the kernel's
  // loads do). False when out of range.
  bool Store(uint64_t reg, const std::vector<Tag>& tags) {
    auto off = Offset(reg);
    if (!off || *off + static_cast<int>(tags.size()) > kRegBytes) return false;
    for (size_t i = 0; i < tags.size(); ++i) regs_[*off + i] = tags[i];
    size_t end = *off + tags.size();
    while (end % 4 != 0 && end < kRegBytes) regs_[end++] = Tag::Const(0);
    return true;
  }
  std::optional<std::vector<Tag>> Load(uint64_t reg, size_t len) const {
    auto off = Offset(reg);
    if (!off || *off + static_cast<int>(len) > kRegBytes) return std::nullopt;
    return std::vector<Tag>(regs_.begin() + *off, regs_.begin() + *off + static_cast<long>(len));
  }
  std::vector<Tag> Unknowns(size_t len, uint32_t key) const {
    return std::vector<Tag>(len, Tag::Unknown(key));
  }

  // The current match conjunction, and the steps so far.
  void AddAtom(Atom a) {
    if (done_) return;
    if (!have_atom_) {
      atom_ = std::move(a);
      have_atom_ = true;
      if (atom_.sat.empty() && atom_.unknown.empty() && !key_mode_) {
        Flush();
        done_ = true;
      }
      return;
    }
    if (!atom_.known() && !a.known() && atom_.key != a.key) {
      Flush();
      atom_ = std::move(a);
      have_atom_ = true;
      return;
    }
    Atom r;
    r.key = atom_.known() ? a.key : atom_.key;
    r.sat = Product(atom_.sat, a.sat);
    Space u1 = Product(atom_.sat, a.unknown);
    Space u2 = Product(atom_.unknown, a.sat);
    Space u3 = Product(atom_.unknown, a.unknown);
    for (auto* u : {&u1, &u2, &u3}) {
      for (auto& b : *u) r.unknown.push_back(std::move(b));
    }
    if (r.unknown.empty()) r.key = 0;
    atom_ = std::move(r);
    // Nothing can match any more (an IPv4 match in the IPv6 view): the rest of the rule is
    // never reached, so it is not compiled.
    if (atom_.sat.empty() && atom_.unknown.empty() && !key_mode_) {
      Flush();
      done_ = true;
    }
  }
  Space Product(const Space& a, const Space& b) {
    Space out;
    for (const Box& x : a) {
      for (const Box& y : b) {
        if (auto z = x.Intersect(y)) out.push_back(std::move(*z));
      }
    }
    if (out.size() > m_.options_.max_set_boxes) {
      too_complex_ = true;
      out.clear();
    }
    return out;
  }
  void Flush() {
    if (!have_atom_) return;
    have_atom_ = false;
    if (too_complex_) {
      too_complex_ = false;
      atom_.sat.clear();
      atom_.unknown = {Box()};
      atom_.key = KeyText("complex:" + RuleIdentity(), "a match too complex to compare exactly");
    }
    // A match that holds everywhere is no step at all.
    if (atom_.known() && atom_.sat.size() == 1 && atom_.sat[0] == Box()) return;
    Step s;
    s.kind = StepKind::kMatch;
    s.atom = std::move(atom_);
    out_.steps.push_back(std::move(s));
  }
  void Emit(Step s) {
    if (done_) return;
    Flush();
    out_.steps.push_back(std::move(s));
  }
  void EmitVerdict(VerdictKind k, uint32_t key = 0) {
    Step s;
    s.kind = StepKind::kVerdict;
    s.verdict = {k, key};
    Emit(std::move(s));
    done_ = true;
  }
  void Unknown(const Expr& e, const std::string& what, bool per_rule = false) {
    Atom a;
    a.unknown = {Box()};
    a.key = per_rule ? KeyText("cond:" + RuleIdentity() + "@" + ExprIdentity(table_, e), what)
                     : Key("cond", e, what);
    AddAtom(std::move(a));
  }
  // Rules with the same content have the same identity (in both rulesets of a comparison).
  const std::string& RuleIdentity() {
    if (rule_identity_.empty()) {
      for (const auto& x : rule_->exprs) rule_identity_ += ExprIdentity(table_, x);
      rule_identity_ += "#" + rule_->comment;
    }
    return rule_identity_;
  }
  void UnknownVerdict(const Expr& e, const std::string& what) {
    EmitVerdict(VerdictKind::kUnknown, Key("verdict", e, what));
  }
  std::string Describe(const Expr& e) const { return e.kind; }

  static Atom FromConstraint(const Constraint& c, uint32_t tcp_key) {
    Atom a;
    switch (c.kind) {
      case Constraint::kFalse:
        break;
      case Constraint::kTrue:
        a.sat = {Box()};
        break;
      case Constraint::kBox:
        if (c.tcp_only) {
          Box t = c.box;
          t.Restrict(Field::kL4proto, IntervalSet::Point(6));
          if (!t.empty()) a.sat = {t};
          Box u = c.box;
          u.Clear(Field::kTcpFlags);
          if (u.Restrict(Field::kL4proto,
                         Domain(Field::kL4proto).Subtract(IntervalSet::Point(6)))) {
            a.unknown = {u};
            a.key = tcp_key;
          }
        } else {
          a.sat = {c.box};
        }
        break;
      case Constraint::kUnknown:
        a.unknown = {Box()};
        a.key = c.key;
        break;
    }
    return a;
  }
  // The complement of a constraint's sat part (its unknown part stays unknown).
  static Atom Negate(const Atom& a) {
    Atom r;
    r.key = a.key;
    r.unknown = a.unknown;
    Space cover = a.sat;
    for (auto& u : a.unknown) cover.push_back(u);
    auto rest = SubtractSpace(Box(), cover);
    if (rest) r.sat = std::move(*rest);
    return r;
  }
  uint32_t TcpKey() {
    if (m_.tcp_key_ == 0) {
      m_.tcp_key_ = KeyText("th13", "transport byte 13 of a packet that is not TCP");
    }
    return m_.tcp_key_;
  }

  // Packets where (register bytes tags[0..n) & ...) equal `data` exactly.
  Constraint Exact(const Tag* tags, size_t n, const uint8_t* data) {
    Constraint c;
    struct Pat {
      u128 m = 0, c = 0;
      uint8_t n = 0;
      std::array<std::array<uint8_t, 3>, 16> bytes{};  // index, mask, want (first n)
    };
    std::array<Pat, kFieldCount> pats;
    uint32_t used = 0;
    uint32_t unknown = 0;  // the first unknown key met
    bool any_unknown = false;
    uint8_t ifb[2][4] = {};
    int ifcount[2] = {0, 0};
    bool if_bad = false;
    for (size_t i = 0; i < n; ++i) {
      const Tag& t = tags[i];
      uint8_t d = data[i];
      if (t.kind == Tag::kConst) {
        if (t.value != d) return {Constraint::kFalse};
        continue;
      }
      if (t.kind == Tag::kUnknown) {
        if (((t.value ^ d) & t.known) != 0) return {Constraint::kFalse};
        if (t.known != 0xff && !any_unknown) {
          unknown = t.unknown;
          any_unknown = true;
        }
        continue;
      }
      uint8_t want = static_cast<uint8_t>(d ^ t.xr);
      if ((want & ~t.mask) != 0) return {Constraint::kFalse};
      if (t.kind == Tag::kIfIndex) {
        if (t.mask != 0xff || t.index > 3) {
          if_bad = true;
          continue;
        }
        ifb[t.in ? 0 : 1][t.index] = want;
        ++ifcount[t.in ? 0 : 1];
        continue;
      }
      Pat& p = pats[static_cast<size_t>(t.field)];
      used |= 1u << static_cast<int>(t.field);
      uint32_t nb = FieldBytes(t.field);
      uint32_t shift = (nb - 1 - t.index) * 8;
      u128 bm = u128{t.mask} << shift;
      u128 bv = u128{want} << shift;
      if (((p.c ^ bv) & p.m & bm) != 0) return {Constraint::kFalse};
      p.m |= bm;
      p.c |= bv;
      if (p.n < p.bytes.size()) p.bytes[p.n++] = {t.index, t.mask, want};
      if (t.tcp_only) c.tcp_only = true;
    }
    if (any_unknown || if_bad) {
      c.kind = Constraint::kUnknown;
      c.key =
          !any_unknown ? KeyText("ifindex-partial", "a partial interface index compare") : unknown;
      return c;
    }
    c.kind = Constraint::kBox;
    for (int d = 0; d < 2; ++d) {
      if (ifcount[d] == 0) continue;
      if (ifcount[d] != 4) {
        return {Constraint::kUnknown, Box(),
                KeyText("ifindex-partial", "a partial interface index")};
      }
      uint32_t idx = static_cast<uint32_t>(ifb[d][0]) | (static_cast<uint32_t>(ifb[d][1]) << 8) |
                     (static_cast<uint32_t>(ifb[d][2]) << 16) |
                     (static_cast<uint32_t>(ifb[d][3]) << 24);
      auto it = m_.options_.interface_names.find(idx);
      if (it == m_.options_.interface_names.end()) {
        return {Constraint::kUnknown, Box(),
                KeyText(fmt::format("ifindex:{}", idx),
                        fmt::format("interface index {} (name unknown)", idx))};
      }
      if (!c.box.Restrict(d == 0 ? Field::kIifname : Field::kOifname,
                          IntervalSet::Point(IfnameValue(it->second)))) {
        return {Constraint::kFalse};
      }
    }
    for (Field f : kAllFields) {
      if (!(used & (1u << static_cast<int>(f)))) continue;
      const Pat& p = pats[static_cast<size_t>(f)];
      // The pattern as intervals when that is a few; values of a small domain one by one
      // otherwise (ct state bits under a mask).
      std::optional<IntervalSet> s = PatternSet(f, p.m, p.c, 64);
      if (!s && SmallDomain(f)) {
        std::vector<Interval> iv;
        uint8_t fb[16];
        ForEachValue(Domain(f), [&](u128 v) {
          ToBytes(v, fb, FieldBytes(f));
          for (uint8_t k = 0; k < p.n; ++k) {
            if ((fb[p.bytes[k][0]] & p.bytes[k][1]) != p.bytes[k][2]) return;
          }
          iv.push_back({v, v});
        });
        s = IntervalSet::FromIntervals(std::move(iv));
      } else if (!s) {
        s = PatternSet(f, p.m, p.c, m_.options_.max_pattern_intervals);
      }
      if (!s) {
        return {
            Constraint::kUnknown, Box(),
            KeyText(fmt::format("pattern:{}", FieldName(f)),
                    fmt::format("a masked compare of {} too fragmented to model", FieldName(f)))};
      }
      if (!c.box.Restrict(f, *s)) return {Constraint::kFalse};
    }
    if (c.box.constrained_mask() == 0) c.kind = Constraint::kTrue;
    return c;
  }

  // Packets whose register bytes tags[0..n), read big-endian, lie in [lo, hi].
  Constraint Range(const Tag* tags, size_t n, const uint8_t* lo, const uint8_t* hi) {
    if (Memcmp(lo, hi, n) == 0) return Exact(tags, n, lo);
    if (Memcmp(lo, hi, n) > 0) return {Constraint::kFalse};
    // Constant bytes only.
    bool all_const = true;
    std::optional<Field> only;
    bool several = false, unknown = false, tcp = false;
    uint32_t ukey = 0;
    for (size_t i = 0; i < n; ++i) {
      const Tag& t = tags[i];
      if (t.IsConst()) continue;
      all_const = false;
      if (t.kind == Tag::kUnknown) {
        unknown = true;
        ukey = t.unknown;
      } else if (t.kind == Tag::kIfIndex) {
        unknown = true;
        ukey = KeyText("ifindex-range", "a range over an interface index");
      } else {
        if (only && *only != t.field) several = true;
        only = t.field;
        tcp |= t.tcp_only;
      }
    }
    if (all_const) {
      uint8_t v[64];
      for (size_t i = 0; i < n; ++i) v[i] = tags[i].ConstValue();
      bool in = Memcmp(v, lo, n) >= 0 && Memcmp(v, hi, n) <= 0;
      return {in ? Constraint::kTrue : Constraint::kFalse};
    }
    if (unknown) return {Constraint::kUnknown, Box(), ukey};
    Constraint c;
    c.tcp_only = tcp;
    Field f;
    if (MonotoneWindow(tags, n, &f)) {
      c.kind = Constraint::kBox;
      c.box.Set(f, WindowInterval(f, n, lo, hi));
      return c;
    }
    if (!several && SmallDomain(*only, 65536)) {
      std::vector<Interval> iv;
      uint8_t v[64];
      ForEachValue(Domain(*only), [&](u128 x) {
        bool ok = true;
        BytesFor(tags, n, *only, x, v, &ok);
        if (ok && Memcmp(v, lo, n) >= 0 && Memcmp(v, hi, n) <= 0) iv.push_back({x, x});
      });
      c.kind = Constraint::kBox;
      c.box.Set(*only, IntervalSet::FromIntervals(std::move(iv)));
      return c;
    }
    return {Constraint::kUnknown, Box(),
            KeyText("range-complex", "a range compare over bytes fwgate does not model")};
  }

  // --- expressions ---
  void Handle(const Expr& e) {
    const std::string& k = e.kind;
    if (k == "payload") return Payload(e);
    if (k == "meta") return Meta(e);
    if (k == "ct") return Ct(e);
    if (k == "immediate") return Immediate(e);
    if (k == "cmp") return Cmp(e);
    if (k == "range") return RangeExpr(e);
    if (k == "bitwise") return Bitwise(e);
    if (k == "byteorder") return Byteorder(e);
    if (k == "lookup") return Lookup(e);
    if (k == "counter" || k == "log" || k == "last" || k == "dup" || k == "flow_offload") return;
    if (k == "notrack") {
      Step s;
      s.kind = StepKind::kNotrack;
      out_.rewrites |= Bit(Field::kCtState);
      return Emit(std::move(s));
    }
    if (k == "limit" || k == "quota" || k == "connlimit") {
      return Unknown(e,
                     k == "limit"   ? "a rate limit (limit rate)"
                     : k == "quota" ? "a byte quota"
                                    : "a connection count limit (ct count)",
                     true);
    }
    if (k == "reject") return EmitVerdict(VerdictKind::kReject);
    if (k == "nat" || k == "masq" || k == "redir") return Nat(e);
    if (k == "queue") {
      return EmitVerdict(VerdictKind::kQueue, Key("queue", e, "queued to userspace (nfqueue)"));
    }
    if (k == "objref") return Objref(e);
    if (k == "dynset") return Dynset(e);
    if (k == "exthdr") return Exthdr(e);
    if (k == "fib" || k == "numgen" || k == "hash" || k == "rt" || k == "socket" || k == "osf" ||
        k == "xfrm" || k == "tunnel") {
      if (!e.Has("dreg")) return UnknownVerdict(e, k);
      size_t len = k == "fib" && e.Int("result") == 2 ? 16 : 4;
      if (k == "rt" && e.Int("key") == 2) len = 16;
      if (k == "osf") len = 16;
      if (k == "socket" && e.Int("key") != 1) len = 1;
      uint32_t key = Key("load", e, k + " expression");
      if (!Store(e.Int("dreg"), Unknowns(len, key))) UnknownVerdict(e, k);
      return;
    }
    if (k == "match") return Unknown(e, "an xtables match (" + e.Str("name") + ")");
    if (k == "synproxy" || k == "tproxy" || k == "fwd" || k == "target") {
      return UnknownVerdict(e, k == "target" ? "an xtables target (" + e.Str("name") + ")" : k);
    }
    UnknownVerdict(e, "expression " + k);
  }

  void Payload(const Expr& e) {
    uint64_t base = e.Int("base", 99), off = e.Int("offset"), len = e.Int("len");
    if (e.Has("sreg")) {
      // A payload write: modelled header fields change for the rest of the path.
      for (uint64_t i = 0; i < len; ++i) {
        Tag t = HeaderByte(base, off + i);
        if (t.kind == Tag::kField) Forget(t.field, e);
      }
      return;
    }
    if (!e.Has("dreg") || len == 0 || len > 64) return UnknownVerdict(e, "payload load");
    std::vector<Tag> tags;
    for (uint64_t i = 0; i < len; ++i) tags.push_back(HeaderByte(base, off + i));
    if (!Store(e.Int("dreg"), tags)) UnknownVerdict(e, "payload load");
  }

  // What byte `off` of header `base` holds, for this table's family view (IPv4 header of 20
  // bytes, IPv6 header of 40, no extension headers).
  Tag HeaderByte(uint64_t base, uint64_t off) {
    auto unknown = [&](const std::string& what, uint8_t known = 0, uint8_t value = 0) {
      return Tag::Unknown(KeyText(fmt::format("hdr:{}:{}:{}", base, v6_ ? 6 : 4, off), what), known,
                          value);
    };
    if (base == 1) {  // network header
      if (!v6_) {
        if (off == 0) return Tag::Const(0x45);
        if (off == 6) return unknown("the IPv4 DF bit", 0xbf, 0);  // no fragments
        if (off == 7) return Tag::Const(0);
        if (off == 9) return Tag::Of(Field::kL4proto, 0);
        if (off >= 12 && off < 16) return Tag::Of(Field::kSaddr4, static_cast<uint8_t>(off - 12));
        if (off >= 16 && off < 20) return Tag::Of(Field::kDaddr4, static_cast<uint8_t>(off - 16));
        return unknown(fmt::format("IPv4 header byte {}", off));
      }
      if (off == 0) return unknown("the IPv6 traffic class", 0xf0, 0x60);
      if (off == 6) return Tag::Of(Field::kL4proto, 0);
      if (off >= 8 && off < 24) return Tag::Of(Field::kSaddr6, static_cast<uint8_t>(off - 8));
      if (off >= 24 && off < 40) return Tag::Of(Field::kDaddr6, static_cast<uint8_t>(off - 24));
      return unknown(fmt::format("IPv6 header byte {}", off));
    }
    if (base == 2) {  // transport header
      if (off < 2) return Tag::Of(Field::kSport, static_cast<uint8_t>(off));
      if (off < 4) return Tag::Of(Field::kDport, static_cast<uint8_t>(off - 2));
      if (off == 13) {
        Tag t = Tag::Of(Field::kTcpFlags, 0);
        t.tcp_only = true;
        return t;
      }
      return unknown(fmt::format("transport header byte {}", off));
    }
    if (base == 0) return unknown(fmt::format("link-layer header byte {}", off));
    return unknown(fmt::format("header base {} byte {}", base, off));
  }

  void Forget(Field f, const Expr& e) {
    Step s;
    s.kind = StepKind::kForgetField;
    s.field = f;
    s.key = Key("rewrite", e, fmt::format("{} rewritten by the ruleset", FieldName(f)));
    out_.rewrites |= Bit(f);
    Emit(std::move(s));
  }

  std::vector<Tag> FieldTags(Field f, bool host_order, size_t len) {
    std::vector<Tag> t;
    uint32_t nb = FieldBytes(f);
    for (size_t i = 0; i < len; ++i) {
      size_t idx = host_order ? nb - 1 - i : i;
      t.push_back(idx < nb ? Tag::Of(f, static_cast<uint8_t>(idx)) : Tag::Const(0));
    }
    return t;
  }

  void Meta(const Expr& e) {
    uint64_t key = e.Int("key", 999);
    if (e.Has("sreg")) {
      auto src = Load(e.Int("sreg"), key == 3 || key == 19 ? (key == 3 ? 4 : 1) : 4);
      if (key == 3 || key == 19) {  // mark, pkttype
        Field f = key == 3 ? Field::kMark : Field::kPkttype;
        bool all_const =
            src && std::all_of(src->begin(), src->end(), [](const Tag& t) { return t.IsConst(); });
        if (all_const) {
          Step s;
          s.kind = StepKind::kSetField;
          s.field = f;
          u128 v = 0;
          for (size_t i = src->size(); i > 0; --i) v = (v << 8) | (*src)[i - 1].ConstValue();
          s.value = v;  // host order bytes
          out_.rewrites |= Bit(f);
          Emit(std::move(s));
        } else {
          Forget(f, e);
        }
      }
      return;  // priority, nftrace, secmark, ...: no effect on the modelled fields
    }
    if (!e.Has("dreg")) return UnknownVerdict(e, "meta");
    std::vector<Tag> tags;
    switch (key) {
      case 15:  // nfproto
        tags = {Tag::Const(v6_ ? kNfprotoIpv6 : kNfprotoIpv4)};
        break;
      case 16:  // l4proto
        tags = {Tag::Of(Field::kL4proto, 0)};
        break;
      case 1:  // protocol (ethertype, big-endian)
        tags = v6_ ? std::vector<Tag>{Tag::Const(0x86), Tag::Const(0xdd)}
                   : std::vector<Tag>{Tag::Const(0x08), Tag::Const(0x00)};
        break;
      case 3:  // mark, host order
        tags = FieldTags(Field::kMark, true, 4);
        break;
      case 19:  // pkttype
        tags = {Tag::Of(Field::kPkttype, 0)};
        break;
      case 6:  // iifname
        tags = FieldTags(Field::kIifname, false, 16);
        break;
      case 7:  // oifname
        tags = FieldTags(Field::kOifname, false, 16);
        break;
      case 4:    // iif
      case 5: {  // oif: the load itself fails where the packet has no such device
        bool in = key == 4;
        Atom dev;
        Box b;
        b.Set(in ? Field::kIifname : Field::kOifname,
              Domain(Field::kIifname).Subtract(IntervalSet::Point(0)));
        dev.sat = {b};
        AddAtom(std::move(dev));
        for (uint8_t i = 0; i < 4; ++i) {
          Tag t;
          t.kind = Tag::kIfIndex;
          t.in = in;
          t.index = i;
          tags.push_back(t);
        }
        break;
      }
      default: {
        static const std::map<uint64_t, std::string> kNames = {
            {0, "meta length"},   {2, "meta priority"},   {8, "meta iiftype"},
            {9, "meta oiftype"},  {10, "meta skuid"},     {11, "meta skgid"},
            {12, "meta nftrace"}, {13, "meta rtclassid"}, {14, "meta secmark"},
            {20, "meta cpu"},     {21, "meta iifgroup"},  {22, "meta oifgroup"},
            {23, "meta cgroup"},  {24, "meta random"},    {25, "meta ipsec"},
            {26, "meta iifkind"}, {27, "meta oifkind"},   {31, "meta time"},
            {32, "meta day"},     {33, "meta hour"}};
        auto it = kNames.find(key);
        std::string what = it != kNames.end() ? it->second : fmt::format("meta key {}", key);
        size_t len = key == 26 || key == 27 || key == 17 || key == 18 || key == 35 ? 16
                     : key == 31                                                   ? 8
                                                                                   : 4;
        tags = Unknowns(len, Key("load", e, what));
      }
    }
    if (!Store(e.Int("dreg"), tags)) UnknownVerdict(e, "meta load");
  }

  void Ct(const Expr& e) {
    uint64_t key = e.Int("key", 999);
    if (e.Has("sreg")) {
      if (key == 17) Forget(Field::kCtState, e);  // ct zone set: another zone, another entry
      return;  // ct mark/label/helper/event/expectation set: no effect on this packet's verdict
    }
    if (!e.Has("dreg")) return UnknownVerdict(e, "ct");
    std::vector<Tag> tags;
    if (key == 0 && !e.Has("dir")) {
      tags = FieldTags(Field::kCtState, true, 4);
    } else {
      static const std::map<uint64_t, std::string> kNames = {
          {1, "ct direction"},  {2, "ct status"},     {3, "ct mark"},       {4, "ct secmark"},
          {5, "ct expiration"}, {6, "ct helper"},     {7, "ct l3proto"},    {8, "ct saddr"},
          {9, "ct daddr"},      {10, "ct protocol"},  {11, "ct proto-src"}, {12, "ct proto-dst"},
          {13, "ct label"},     {14, "ct packets"},   {15, "ct bytes"},     {16, "ct avgpkt"},
          {17, "ct zone"},      {18, "ct event"},     {19, "ct ip saddr"},  {20, "ct ip daddr"},
          {21, "ct ip6 saddr"}, {22, "ct ip6 daddr"}, {23, "ct id"}};
      auto it = kNames.find(key);
      std::string what = it != kNames.end() ? it->second : fmt::format("ct key {}", key);
      size_t len = key == 13 || key == 6 || key == 21 || key == 22 || (key >= 8 && key <= 9) ? 16
                   : key >= 14 && key <= 16                                                  ? 8
                                                                                             : 4;
      tags = Unknowns(len, Key("load", e, what));
    }
    if (!Store(e.Int("dreg"), tags)) UnknownVerdict(e, "ct load");
  }

  void Immediate(const Expr& e) {
    uint64_t dreg = e.Int("dreg", 999);
    if (dreg == 0) {
      auto v = static_cast<int32_t>(static_cast<uint32_t>(e.Int("verdict")));
      OnVerdict(v, e.Str("chain"), e);
      return;
    }
    Bytes d = e.Data("data");
    std::vector<Tag> tags;
    for (uint8_t b : d) tags.push_back(Tag::Const(b));
    if (!Store(dreg, tags)) UnknownVerdict(e, "immediate");
  }

  // A verdict code (from an immediate or a verdict map element) as a step.
  Step VerdictStep(int32_t v, const std::string& chain, const Expr& e) {
    Step s;
    switch (v) {
      case kNfAccept:
        s.kind = StepKind::kVerdict;
        s.verdict = {VerdictKind::kAccept, 0};
        break;
      case kNfDrop:
        s.kind = StepKind::kVerdict;
        s.verdict = {VerdictKind::kDrop, 0};
        break;
      case kNfQueue:
        s.kind = StepKind::kVerdict;
        s.verdict = {VerdictKind::kQueue, Key("queue", e, "queued to userspace")};
        break;
      case kNftJump:
      case kNftGoto: {
        int32_t c = m_.FindChain(table_index_, chain);
        if (c < 0) {
          s.kind = StepKind::kVerdict;
          s.verdict = {VerdictKind::kUnknown, Key("verdict", e, "jump to a missing chain")};
        } else {
          s.kind = v == kNftJump ? StepKind::kJump : StepKind::kGoto;
          s.chain = c;
        }
        break;
      }
      case kNftReturn:
        s.kind = StepKind::kReturn;
        break;
      case kNftContinue:
      case kNftBreak:
        s.kind = StepKind::kMatch;  // no step: falls through / breaks
        break;
      default:
        s.kind = StepKind::kVerdict;
        s.verdict = {VerdictKind::kUnknown, Key("verdict", e, fmt::format("verdict code {}", v))};
    }
    return s;
  }

  void OnVerdict(int32_t v, const std::string& chain, const Expr& e) {
    if (v == kNftBreak) {  // the rule stops here without effect
      Atom never;
      AddAtom(std::move(never));
      Flush();
      done_ = true;
      return;
    }
    if (v == kNftContinue) return;
    Step s = VerdictStep(v, chain, e);
    Emit(std::move(s));
    done_ = true;
  }

  void Cmp(const Expr& e) {
    Bytes data = e.Data("data");
    auto tags = Load(e.Int("sreg", 999), data.size());
    uint64_t op = e.Int("op", 99);
    if (!tags || data.empty() || op > 5) return Unknown(e, "a compare fwgate cannot read");
    Constraint c;
    size_t n = data.size();
    if (op == 0 || op == 1) {
      c = Exact(tags->data(), n, data.data());
    } else {
      Bytes lo(n, 0), hi(n, 0xff);
      auto dec = [](Bytes b) {
        for (size_t i = b.size(); i > 0; --i) {
          if (b[i - 1]-- != 0) return std::optional<Bytes>(b);
        }
        return std::optional<Bytes>();
      };
      auto inc = [](Bytes b) {
        for (size_t i = b.size(); i > 0; --i) {
          if (b[i - 1]++ != 0xff) return std::optional<Bytes>(b);
        }
        return std::optional<Bytes>();
      };
      std::optional<Bytes> bound;
      switch (op) {
        case 2:  // lt
          bound = dec(data);
          if (!bound) return AddAtom(Atom{});
          hi = *bound;
          break;
        case 3:  // lte
          hi = data;
          break;
        case 4:  // gt
          bound = inc(data);
          if (!bound) return AddAtom(Atom{});
          lo = *bound;
          break;
        default:  // gte
          lo = data;
      }
      c = Range(tags->data(), n, lo.data(), hi.data());
    }
    if (c.kind == Constraint::kUnknown) c.key = CondKey(c.key, e);
    Atom a = FromConstraint(c, c.tcp_only ? TcpKey() : 0);
    if (op == 1) a = Negate(a);
    AddAtom(std::move(a));
  }

  // Unknown conditions are named by what is unknown and how it is compared.
  uint32_t CondKey(uint32_t what, const Expr& cmp) {
    return KeyText(fmt::format("cond:{}:{}", what, ExprIdentity(table_, cmp)),
                   m_.keys_.Describe(what));
  }

  void RangeExpr(const Expr& e) {
    Bytes lo = e.Data("from_data"), hi = e.Data("to_data");
    auto tags = Load(e.Int("sreg", 999), lo.size());
    uint64_t op = e.Int("op", 99);
    if (!tags || lo.empty() || hi.size() != lo.size() || op > 1) {
      return Unknown(e, "a range fwgate cannot read");
    }
    Constraint c = Range(tags->data(), lo.size(), lo.data(), hi.data());
    if (c.kind == Constraint::kUnknown) c.key = CondKey(c.key, e);
    Atom a = FromConstraint(c, c.tcp_only ? TcpKey() : 0);
    if (op == 1) a = Negate(a);
    AddAtom(std::move(a));
  }

  void Bitwise(const Expr& e) {
    uint64_t len = e.Int("len");
    auto src = Load(e.Int("sreg", 999), len);
    if (!src || !e.Has("dreg")) return UnknownVerdict(e, "bitwise");
    uint64_t op = e.Int("op", 0);
    if (op == 0) {
      Bytes mask = e.Data("mask"), xr = e.Data("xor");
      for (size_t i = 0; i < src->size(); ++i) {
        ApplyBitwise((*src)[i], i < mask.size() ? mask[i] : 0xff, i < xr.size() ? xr[i] : 0);
      }
    } else {
      // Shifts are not modelled, of constants either (nft folds those itself).
      src = Unknowns(len, Key("load", e, "a shifted value"));
    }
    if (!Store(e.Int("dreg"), *src)) UnknownVerdict(e, "bitwise");
  }

  void Byteorder(const Expr& e) {
    uint64_t len = e.Int("len"), size = e.Int("size");
    auto src = Load(e.Int("sreg", 999), len);
    if (!src || !e.Has("dreg") || (size != 2 && size != 4 && size != 8)) {
      return UnknownVerdict(e, "byteorder");
    }
    // On a little-endian host both directions swap each `size`-byte group.
    for (size_t g = 0; g + size <= src->size(); g += size) {
      std::reverse(src->begin() + static_cast<long>(g), src->begin() + static_cast<long>(g + size));
    }
    if (!Store(e.Int("dreg"), *src)) UnknownVerdict(e, "byteorder");
  }

  // The set a lookup names, with the elements this compilation uses.
  const nft::Set* FindSet(const std::string& name, const std::vector<nft::SetElement>** els) {
    const nft::Set* s = table_.FindSet(name);
    if (s == nullptr) return nullptr;
    *els = (key_mode_ && name == *key_set_) ? key_elements_ : &s->elements;
    return s;
  }

  struct Membership {
    Space keys;     // where the key is in the set
    Space unknown;  // where fwgate cannot tell
    uint32_t key = 0;
    // Per element (for maps): its key space.
    std::vector<std::pair<const ElementRange*, Space>> per_element;
  };

  // Where the key in `tags` is found among `ranges`. per_element collects each element's space
  // (maps need it).
  Membership Members(const nft::Set& set, const std::vector<Tag>& tags,
                     const std::vector<ElementRange>& ranges, bool per_element) {
    Membership m;
    // Components of the key (concatenations: each field padded to 4 bytes).
    std::vector<std::pair<size_t, size_t>> comps;  // offset, length
    if (set.field_lengths.size() > 1) {
      size_t pos = 0;
      for (uint8_t l : set.field_lengths) {
        comps.push_back({pos, l});
        pos += static_cast<size_t>((l + 3u) / 4u) * 4u;
      }
      if (pos > tags.size()) comps = {{0, tags.size()}};
    } else {
      comps = {{0, tags.size()}};
    }
    const Tag* t = tags.data();
    Field f;
    bool fast = comps.size() == 1 && comps[0].second > 0;
    bool mono = fast && MonotoneWindow(t, comps[0].second, &f);
    bool perm = false;
    if (fast && !mono && !set.is_interval()) {
      // A plain set over all bytes of one field in any byte order (host-order marks).
      Field g = t[0].kind == Tag::kField ? t[0].field : Field::kMark;
      size_t n = comps[0].second;
      perm = t[0].kind == Tag::kField && n == FieldBytes(g) && !SmallDomain(g);
      std::vector<bool> seen(n, false);
      for (size_t i = 0; perm && i < n; ++i) {
        if (t[i].kind != Tag::kField || t[i].field != g || t[i].mask != 0xff || t[i].xr != 0 ||
            t[i].index >= n || seen[t[i].index]) {
          perm = false;
        } else {
          seen[t[i].index] = true;
        }
      }
      if (perm) f = g;
    }
    bool any_catchall = false;
    if ((mono || perm) && !per_element) {
      size_t n = comps[0].second;
      std::vector<Interval> iv;
      iv.reserve(ranges.size());
      uint8_t lo[16], hi[16];
      for (const auto& r : ranges) {
        if (r.catchall) {
          any_catchall = true;
          continue;
        }
        if (r.lo.size() < n || r.hi.size() < n) continue;
        if (mono) {
          IntervalSet w = WindowInterval(f, n, r.lo.data(), r.hi.data());
          for (const auto& x : w.intervals()) iv.push_back(x);
        } else {
          for (size_t i = 0; i < n; ++i) {
            lo[t[i].index] = r.lo[i];
            hi[t[i].index] = r.hi[i];
          }
          iv.push_back({FromBytes(lo, n), FromBytes(hi, n)});
        }
      }
      Box b;
      b.Set(f, IntervalSet::FromIntervals(std::move(iv)));
      if (any_catchall) b = Box();
      if (!b.empty()) m.keys = {b};
      return m;
    }
    std::set<uint32_t> unknown;
    for (const auto& r : ranges) {
      if (r.catchall) {
        any_catchall = true;
        continue;
      }
      Box b;
      bool empty = false, unk = false, tcp = false;
      for (const auto& [off, len] : comps) {
        if (off + len > r.lo.size() || off + len > r.hi.size() || off + len > tags.size()) {
          empty = true;
          break;
        }
        Constraint c = Range(t + off, len, r.lo.data() + off, r.hi.data() + off);
        if (c.kind == Constraint::kFalse) {
          empty = true;
          break;
        }
        if (c.kind == Constraint::kUnknown) {
          unk = true;
          unknown.insert(c.key);
          continue;
        }
        tcp |= c.tcp_only;
        if (c.kind == Constraint::kBox) {
          for (Field g : kAllFields) {
            if (c.box.Constrained(g) && !b.Restrict(g, c.box.Get(g))) empty = true;
          }
        }
        if (empty) break;
      }
      if (empty) continue;
      if (unk) {
        m.unknown.push_back(b);
        continue;
      }
      if (tcp) {
        Box nt = b;
        nt.Clear(Field::kTcpFlags);
        if (nt.Restrict(Field::kL4proto, Domain(Field::kL4proto).Subtract(IntervalSet::Point(6)))) {
          m.unknown.push_back(nt);
          unknown.insert(TcpKey());
        }
        if (!b.Restrict(Field::kL4proto, IntervalSet::Point(6))) continue;
      }
      if (per_element) m.per_element.push_back({&r, {b}});
      m.keys.push_back(std::move(b));
      if (m.keys.size() > m_.options_.max_set_boxes) {
        too_complex_ = true;
        return m;
      }
    }
    if (any_catchall) {
      m.keys = {Box()};
      m.unknown.clear();
    }
    MergeBoxes(m.keys);
    // Elements of one set are disjoint keys; their boxes overlap only through masks or constant
    // key bytes, which costs duplicate work in the evaluator, never a wrong verdict. Small
    // spaces are made disjoint anyway.
    if (m.keys.size() <= 256) {
      if (auto d = Disjoint(m.keys)) m.keys = std::move(*d);
    }
    if (!m.unknown.empty()) {
      m.key = unknown.size() == 1 ? *unknown.begin()
                                  : KeyText("set-key:" + set.name,
                                            "a set key fwgate does not model (@" + set.name + ")");
      auto rest = Disjoint(m.unknown, m_.options_.max_set_boxes);
      Space u;
      if (rest) {
        for (const Box& b : *rest) {
          auto pieces = SubtractSpace(b, m.keys);
          if (pieces) {
            for (auto& p : *pieces) u.push_back(std::move(p));
          }
        }
      }
      m.unknown = std::move(u);
    }
    return m;
  }

  bool Dynamic(const nft::Set& set) const {
    const auto& dyn = m_.dynamic_sets_[table_index_];
    for (size_t i = 0; i < table_.sets.size(); ++i) {
      if (&table_.sets[i] == &set) return dyn[i];
    }
    return false;
  }

  // Adds the dynamic-set rule: membership beyond the listed elements is unknown.
  void AddDynamic(const nft::Set& set, Membership& m) {
    if (!Dynamic(set)) return;
    Space cover = m.keys;
    for (auto& u : m.unknown) cover.push_back(u);
    auto rest = SubtractSpace(Box(), cover);
    if (!rest) return;
    for (auto& b : *rest) m.unknown.push_back(std::move(b));
    m.key = KeyText("dynamic:" + set.name,
                    "the contents of set @" + set.name + ", which the ruleset updates");
  }

  void Lookup(const Expr& e) {
    const std::vector<nft::SetElement>* els = nullptr;
    const nft::Set* set = FindSet(e.Str("set"), &els);
    if (set == nullptr) return UnknownVerdict(e, "lookup into a missing set");
    auto tags = Load(e.Int("sreg", 999), set->key_len);
    if (!tags) return UnknownVerdict(e, "lookup key");
    bool in_key_set = key_mode_ && set->name == *key_set_;
    auto ranges = ElementRanges(*set, *els);
    bool vmap = e.Has("dreg") && e.Int("dreg") == 0;
    Membership m = Members(*set, *tags, ranges, vmap);
    if (in_key_set) {
      for (auto& b : m.keys) keys_.push_back(b);
      for (auto& b : m.unknown) keys_.push_back(b);
      if (vmap) done_ = true;
      if (e.Has("dreg") && e.Int("dreg") != 0) {
        Store(e.Int("dreg"),
              Unknowns(set->data_len, KeyText("mapval:" + set->name, "a map value")));
      }
      return;
    }
    AddDynamic(*set, m);
    if (too_complex_) {
      Flush();
      return;
    }
    bool inv = (e.Int("flags") & 1) != 0;
    if (!vmap) {
      Atom a;
      a.sat = std::move(m.keys);
      a.unknown = std::move(m.unknown);
      a.key = a.unknown.empty() ? 0 : m.key;
      if (inv) a = Negate(a);
      AddAtom(std::move(a));
      if (e.Has("dreg")) {
        // A data map: the value is not modelled.
        uint32_t key = KeyText("mapval:" + table_.name + ":" + set->name,
                               "a value looked up in map @" + set->name);
        if (!Store(e.Int("dreg"), Unknowns(std::max<uint32_t>(set->data_len, 4), key))) {
          UnknownVerdict(e, "map value");
        }
      }
      return;
    }
    // Verdict map: one branch per distinct verdict.
    Step s;
    s.kind = StepKind::kVmap;
    std::map<std::pair<int32_t, std::string>, size_t> by_verdict;
    for (auto& [range, space] : m.per_element) {
      const nft::SetElement* el = range->element;
      int32_t v = el->verdict.value_or(kNftContinue);
      auto [it, inserted] = by_verdict.try_emplace({v, el->chain}, s.branches.size());
      if (inserted) {
        Step vs = VerdictStep(v, el->chain, e);
        Branch b;
        b.kind = vs.kind;
        b.verdict = vs.verdict;
        b.chain = vs.chain;
        s.branches.push_back(std::move(b));
      }
      for (auto& bx : space) s.branches[it->second].keys.push_back(std::move(bx));
    }
    for (const auto& r : ranges) {
      if (!r.catchall) continue;
      // Catch-all: every key no other element holds.
      Space all;
      for (const auto& b : s.branches) all.insert(all.end(), b.keys.begin(), b.keys.end());
      for (auto& u : m.unknown) all.push_back(u);
      auto rest = SubtractSpace(Box(), all);
      Step vs = VerdictStep(r.element->verdict.value_or(kNftContinue), r.element->chain, e);
      Branch b;
      b.kind = vs.kind;
      b.verdict = vs.verdict;
      b.chain = vs.chain;
      if (rest) b.keys = std::move(*rest);
      s.branches.push_back(std::move(b));
    }
    for (auto& b : s.branches) {
      MergeBoxes(b.keys);
      if (auto d = Disjoint(b.keys)) b.keys = std::move(*d);
    }
    s.atom.unknown = std::move(m.unknown);
    s.atom.key = s.atom.unknown.empty() ? 0 : m.key;
    Emit(std::move(s));
    done_ = true;
  }

  void Nat(const Expr& e) {
    Step s;
    s.kind = StepKind::kTranslate;
    s.key = Key("nat", e, e.kind == "masq" ? "masquerade" : e.kind == "redir" ? "redirect" : "nat");
    uint64_t type = e.Int("type", 99);
    if (e.kind == "masq" || type == 0) {
      out_.rewrites |= Bit(Field::kSaddr4) | Bit(Field::kSaddr6) | Bit(Field::kSport);
    } else {
      out_.rewrites |= Bit(Field::kDaddr4) | Bit(Field::kDaddr6) | Bit(Field::kDport);
    }
    Emit(std::move(s));
    done_ = true;
  }

  void Objref(const Expr& e) {
    if (e.Has("imm_name")) {
      uint64_t type = e.Int("imm_type");
      if (type == 2 || type == 4) {
        return Unknown(e, type == 2 ? "a named quota" : "a named limit", true);
      }
      if (type == 10) return UnknownVerdict(e, "synproxy");
      return;  // counter, ct helper/timeout/expectation, secmark: no effect on the verdict
    }
    const std::vector<nft::SetElement>* els = nullptr;
    const nft::Set* set = FindSet(e.Str("set_name"), &els);
    if (set == nullptr) return UnknownVerdict(e, "object map");
    auto tags = Load(e.Int("set_sreg", 999), set->key_len);
    if (!tags) return UnknownVerdict(e, "object map key");
    auto ranges = ElementRanges(*set, *els);
    Membership m = Members(*set, *tags, ranges, false);
    if (key_mode_ && set->name == *key_set_) {
      for (auto& b : m.keys) keys_.push_back(b);
      for (auto& b : m.unknown) keys_.push_back(b);
      return;
    }
    AddDynamic(*set, m);
    Atom a;
    a.sat = std::move(m.keys);
    a.unknown = std::move(m.unknown);
    a.key = a.unknown.empty() ? 0 : m.key;
    AddAtom(std::move(a));
    if (set->obj_type == 2 || set->obj_type == 4) Unknown(e, "a quota or limit from an object map");
    if (set->obj_type == 10) UnknownVerdict(e, "synproxy");
  }

  void Dynset(const Expr& e) {
    // Adding/updating the set does not change this packet's verdict; nested statements
    // (limit, quota, ct count) are conditions fwgate does not model.
    const nft::Set* set = table_.FindSet(e.Str("set"));
    if (key_mode_ && set != nullptr && set->name == *key_set_) {
      auto tags = Load(e.Int("sreg_key", 999), set->key_len);
      if (tags) {
        const std::vector<nft::SetElement>* els = key_elements_;
        auto ranges = ElementRanges(*set, *els);
        Membership m = Members(*set, *tags, ranges, false);
        for (auto& b : m.keys) keys_.push_back(b);
        for (auto& b : m.unknown) keys_.push_back(b);
      }
    }
    for (const auto& n : e.nested) {
      if (n.kind == "limit" || n.kind == "quota" || n.kind == "connlimit") {
        Unknown(e, "a " + n.kind + " kept per element of @" + e.Str("set"), true);
        return;
      }
    }
  }

  void Exthdr(const Expr& e) {
    if (e.Has("sreg")) return;  // tcp option rewrite: no modelled field changes
    if (!e.Has("dreg")) return UnknownVerdict(e, "exthdr");
    uint64_t len = e.Int("len");
    if ((e.Int("flags") & 1) != 0) len = 1;
    if (len == 0 || len > 64) len = 4;
    uint32_t key = Key("load", e, "an extension header or TCP option");
    if (!Store(e.Int("dreg"), Unknowns(len, key))) UnknownVerdict(e, "exthdr");
  }

  Model& m_;
  const nft::Table& table_;
  size_t table_index_;
  bool v6_;
  const nft::Rule* rule_ = nullptr;
  std::array<Tag, kRegBytes> regs_;
  CompiledRule out_;
  Atom atom_;
  bool have_atom_ = false;
  bool done_ = false;
  bool too_complex_ = false;
  bool key_mode_ = false;
  const std::string* key_set_ = nullptr;
  const std::vector<nft::SetElement>* key_elements_ = nullptr;
  Space keys_;
  std::string rule_identity_;
};

// ---------------------------------------------------------------------------------------------
// Model
// ---------------------------------------------------------------------------------------------

namespace {

std::optional<Hook> HookOf(nft::Family fam, uint32_t hook) {
  switch (fam) {
    case nft::Family::kIp:
    case nft::Family::kIp6:
    case nft::Family::kInet:
      switch (hook) {
        case 0:
          return Hook::kPrerouting;
        case 1:
          return Hook::kInput;
        case 2:
          return Hook::kForward;
        case 3:
          return Hook::kOutput;
        case 4:
          return Hook::kPostrouting;
        case 5:
          return fam == nft::Family::kInet ? std::optional(Hook::kIngress) : std::nullopt;
        default:
          return std::nullopt;
      }
    case nft::Family::kNetdev:
      if (hook == 0) return Hook::kIngress;
      if (hook == 1) return Hook::kEgress;
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

bool RefersTo(const Expr& e, const std::string& set_name) {
  for (const auto& [k, v] : e.attrs) {
    if ((k == "set" || k == "set_name") && std::holds_alternative<std::string>(v) &&
        std::get<std::string>(v) == set_name) {
      return true;
    }
  }
  return false;
}

}  // namespace

Model::Model(const nft::Ruleset& ruleset, KeyTable& keys, ModelOptions options)
    : rs_(ruleset), keys_(keys), options_(std::move(options)) {
  for (size_t t = 0; t < rs_.tables.size(); ++t) {
    const nft::Table& table = rs_.tables[t];
    std::vector<bool> dyn(table.sets.size(), false);
    for (size_t s = 0; s < table.sets.size(); ++s) {
      dyn[s] = (table.sets[s].flags & 0x20) != 0;  // NFT_SET_EVAL: "flags dynamic"
    }
    for (const auto& c : table.chains) {
      for (const auto& r : c.rules) {
        for (const auto& e : r.exprs) {
          if (e.kind != "dynset") continue;
          for (size_t s = 0; s < table.sets.size(); ++s) {
            if (table.sets[s].name == e.Str("set") && e.Int("op") != 2) dyn[s] = true;
          }
        }
      }
    }
    dynamic_sets_.push_back(std::move(dyn));
    for (const auto& c : table.chains) {
      ModelChain mc;
      mc.table = t;
      mc.chain = &c;
      mc.v4 = table.family != nft::Family::kIp6;
      mc.v6 = table.family != nft::Family::kIp;
      bool dormant = (table.flags & 1) != 0;
      if (c.base) {
        mc.base = true;
        auto h = HookOf(table.family, c.base->hook);
        mc.hooked = h.has_value() && !dormant;
        if (h) mc.hook = *h;
        mc.priority = c.base->priority;
        mc.policy = c.base->policy == 0 ? VerdictKind::kDrop : VerdictKind::kAccept;
        mc.nat = c.base->type == "nat";
        mc.devices = c.base->devices;
        // Conntrack assigns a state at priority -200 (NF_IP_PRI_CONNTRACK) in prerouting and
        // output; ingress runs before it.
        mc.pre_conntrack =
            mc.hook == Hook::kIngress ||
            ((mc.hook == Hook::kPrerouting || mc.hook == Hook::kOutput) && mc.priority < -200);
      }
      by_name_[{t, c.name}] = static_cast<int32_t>(chains_.size());
      chains_.push_back(std::move(mc));
    }
  }
  for (auto& v : compiled_) {
    v.resize(chains_.size());
    for (size_t c = 0; c < chains_.size(); ++c) v[c].resize(chains_[c].chain->rules.size());
  }
}

int32_t Model::FindChain(size_t table, std::string_view name) const {
  auto it = by_name_.find(std::make_pair(table, std::string(name)));
  return it == by_name_.end() ? -1 : it->second;
}

std::vector<int32_t> Model::BaseChains(Hook h, bool v6) const {
  std::vector<int32_t> out;
  for (size_t i = 0; i < chains_.size(); ++i) {
    const auto& c = chains_[i];
    if (c.hooked && c.hook == h && (v6 ? c.v6 : c.v4)) out.push_back(static_cast<int32_t>(i));
  }
  std::stable_sort(out.begin(), out.end(),
                   [&](int32_t a, int32_t b) { return chains_[a].priority < chains_[b].priority; });
  return out;
}

const CompiledRule& Model::Rule(int32_t chain, size_t rule, bool v6) {
  auto& slot = compiled_[v6 ? 1 : 0][chain][rule];
  if (!slot) {
    const ModelChain& mc = chains_[chain];
    RuleCompiler rc(*this, mc.table, v6);
    slot = std::make_unique<CompiledRule>(rc.Compile(mc.chain->rules[rule]));
  }
  return *slot;
}

uint32_t Model::rewritten_fields() {
  if (rewritten_) return *rewritten_;
  // The statements that rewrite modelled fields, found by kind (as the compiler records them,
  // without compiling every rule): a superset is harmless (seeds only widen).
  uint32_t m = 0;
  auto bit = [](Field f) { return 1u << static_cast<int>(f); };
  for (const auto& t : rs_.tables) {
    for (const auto& c : t.chains) {
      for (const auto& r : c.rules) {
        for (const auto& e : r.exprs) {
          if (e.kind == "meta" && e.Has("sreg")) {
            if (e.Int("key") == 3) m |= bit(Field::kMark);
            if (e.Int("key") == 19) m |= bit(Field::kPkttype);
          } else if (e.kind == "notrack" ||
                     (e.kind == "ct" && e.Has("sreg") && e.Int("key") == 17)) {
            m |= bit(Field::kCtState);
          } else if (e.kind == "nat" || e.kind == "masq" || e.kind == "redir") {
            m |= bit(Field::kSaddr4) | bit(Field::kSaddr6) | bit(Field::kSport) |
                 bit(Field::kDaddr4) | bit(Field::kDaddr6) | bit(Field::kDport);
          } else if (e.kind == "payload" && e.Has("sreg")) {
            uint64_t base = e.Int("base"), off = e.Int("offset"), len = e.Int("len");
            if (base == 2 && off < 4) m |= bit(Field::kSport) | bit(Field::kDport);
            if (base == 2 && off <= 13 && off + len > 13) m |= bit(Field::kTcpFlags);
            if (base == 1) {
              m |= bit(Field::kSaddr4) | bit(Field::kDaddr4) | bit(Field::kSaddr6) |
                   bit(Field::kDaddr6) | bit(Field::kL4proto);
            }
          }
        }
      }
    }
  }
  rewritten_ = m;
  return m;
}

Space Model::LookupKeys(int32_t chain, size_t rule, bool v6, const std::string& set_name,
                        const std::vector<nft::SetElement>& elements) {
  const ModelChain& mc = chains_[chain];
  RuleCompiler rc(*this, mc.table, v6);
  return rc.KeySpace(mc.chain->rules[rule], set_name, elements);
}

bool Model::References(const nft::Rule& rule, const std::string& set_name) {
  for (const auto& e : rule.exprs) {
    if (RefersTo(e, set_name)) return true;
  }
  return false;
}

}  // namespace fwgate::traffic
