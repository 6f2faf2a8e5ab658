#include "gate/diff/packet_eval.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <optional>

namespace fwgate::traffic {
namespace {

using nft::Bytes;
using nft::Expr;

constexpr int32_t kDrop = 0, kAccept = 1, kQueue = 3;
constexpr int32_t kContinue = -1, kBreak = -2, kJump = -3, kGoto = -4, kReturn = -5;

struct Regs {
  uint8_t data[64] = {};
  uint8_t unknown[64] = {};  // bits whose value is not known
  std::string why[64];       // what an unknown byte holds
};

std::optional<int> Off(uint64_t reg) {
  if (reg >= 1 && reg <= 4) return static_cast<int>((reg - 1) * 16);
  if (reg >= 8 && reg <= 23) return static_cast<int>((reg - 8) * 4);
  return std::nullopt;
}

std::string Canon(const nft::Table& t, const Expr& e) { return ExprIdentity(t, e); }

class Run {
 public:
  Run(const nft::Ruleset& rs, Path path, const Packet& p, const ConcreteOptions& o,
      const std::map<std::string, bool>& assumed)
      : rs_(rs), path_(path), p_(p), o_(o), assumed_(assumed) {
    bytes_ = PacketBytes(p, &th_);
    v6_ = p.Get(Field::kNfproto) == kNfprotoIpv6;
    mark_ = static_cast<uint32_t>(p.Get(Field::kMark));
    pkttype_ = static_cast<uint8_t>(p.Get(Field::kPkttype));
  }

  ConcreteOutcome Go() {
    for (Hook h : HooksOf(path_)) {
      hook_ = h;
      for (const auto& [t, c] : BaseChains(h)) {
        bool applies = Applies(rs_.tables[t], *c);
        if (!need_.empty()) return std::move(out_);
        if (!applies) continue;
        auto r = RunBase(t, *c);
        if (!need_.empty()) return std::move(out_);
        out_.trail.push_back(r.step);
        if (translated_) {
          out_.verdict = VerdictKind::kUnknown;
          return std::move(out_);
        }
        if (r.verdict != VerdictKind::kAccept) {
          out_.verdict = r.verdict;
          return std::move(out_);
        }
      }
    }
    out_.verdict = VerdictKind::kAccept;
    return std::move(out_);
  }

  ConcreteOutcome out_;
  std::string need_;  // set when the run stopped at a condition without an assumption

 private:
  struct BaseOut {
    VerdictKind verdict = VerdictKind::kAccept;
    ConcreteOutcome::Step step;
  };

  std::vector<std::pair<size_t, const nft::Chain*>> BaseChains(Hook h) const {
    struct Item {
      int32_t prio;
      size_t t;
      const nft::Chain* c;
    };
    std::vector<Item> items;
    for (size_t t = 0; t < rs_.tables.size(); ++t) {
      const auto& table = rs_.tables[t];
      if ((table.flags & 1) != 0) continue;  // dormant
      bool fam_ok = table.family == nft::Family::kInet || table.family == nft::Family::kNetdev ||
                    (table.family == nft::Family::kIp && !v6_) ||
                    (table.family == nft::Family::kIp6 && v6_);
      if (!fam_ok) continue;
      for (const auto& c : table.chains) {
        if (!c.base) continue;
        std::optional<Hook> hk;
        uint32_t n = c.base->hook;
        if (table.family == nft::Family::kNetdev) {
          if (n == 0) hk = Hook::kIngress;
          if (n == 1) hk = Hook::kEgress;
        } else {
          static constexpr Hook kInet[] = {Hook::kPrerouting, Hook::kInput,       Hook::kForward,
                                           Hook::kOutput,     Hook::kPostrouting, Hook::kIngress};
          if (n < 5 || (n == 5 && table.family == nft::Family::kInet)) hk = kInet[n];
        }
        if (hk == h) items.push_back({c.base->priority, t, &c});
      }
    }
    std::stable_sort(items.begin(), items.end(),
                     [](const Item& a, const Item& b) { return a.prio < b.prio; });
    std::vector<std::pair<size_t, const nft::Chain*>> out;
    out.reserve(items.size());
    for (const auto& i : items) out.push_back({i.t, i.c});
    return out;
  }

  uint32_t CtState() const {
    if (notracked_) return kCtUntracked;
    if (PreConntrack()) return kCtInvalid;
    return static_cast<uint32_t>(p_.Get(Field::kCtState));
  }
  bool PreConntrack() const {
    return hook_ == Hook::kIngress ||
           ((hook_ == Hook::kPrerouting || hook_ == Hook::kOutput) && prio_ < -200);
  }
  bool HasIif() const { return path_ != Path::kOutput; }
  bool HasOif() const {
    if (path_ == Path::kInput) return false;
    if (path_ == Path::kForward && (hook_ == Hook::kPrerouting || hook_ == Hook::kIngress)) {
      return false;
    }
    return true;
  }

  bool Applies(const nft::Table& t, const nft::Chain& c) {
    if (c.base->type == "nat") {
      uint32_t st = notracked_ ? kCtUntracked : static_cast<uint32_t>(p_.Get(Field::kCtState));
      if (ct_unknown_ && !Assume("ctzone")) return false;
      if (st != kCtNew && st != kCtRelated) return false;
    }
    bool dev_hook =
        t.family == nft::Family::kNetdev || (t.family == nft::Family::kInet && c.base->hook == 5);
    if (dev_hook) {
      bool in = !(t.family == nft::Family::kNetdev && c.base->hook == 1);
      std::string name = IfnameText(p_.Get(in ? Field::kIifname : Field::kOifname));
      return std::find(c.base->devices.begin(), c.base->devices.end(), name) !=
             c.base->devices.end();
    }
    return true;
  }

  BaseOut RunBase(size_t t, const nft::Chain& c) {
    prio_ = c.base->priority;
    struct Frame {
      const nft::Chain* chain;
      size_t next;
    };
    std::vector<Frame> stack;
    const nft::Chain* cur = &c;
    size_t ri = 0;
    const nft::Table& table = rs_.tables[t];
    auto step = [&](uint64_t handle, const nft::Chain& where, VerdictKind v) {
      return BaseOut{v, {table.name, where.name, handle, v}};
    };
    for (;;) {
      if (ri >= cur->rules.size()) {
        // Implicit return.
        if (stack.empty()) {
          VerdictKind pol = c.base->policy == 0 ? VerdictKind::kDrop : VerdictKind::kAccept;
          return step(0, c, pol);
        }
        cur = stack.back().chain;
        ri = stack.back().next;
        stack.pop_back();
        continue;
      }
      const nft::Rule& rule = cur->rules[ri];
      int32_t verdict = kContinue;
      std::string target;
      bool reject = false, queue = false, unknown = false;
      RuleResult rr = RunRule(table, rule, &verdict, &target, &reject, &queue, &unknown);
      if (!need_.empty()) return step(rule.handle, *cur, VerdictKind::kUnknown);
      if (rr == RuleResult::kStopped || verdict == kContinue || verdict == kBreak) {
        ++ri;
        continue;
      }
      if (unknown) return step(rule.handle, *cur, VerdictKind::kUnknown);
      if (translated_) return step(rule.handle, *cur, VerdictKind::kAccept);
      switch (verdict) {
        case kAccept:
          return step(rule.handle, *cur, VerdictKind::kAccept);
        case kDrop:
          return step(rule.handle, *cur, reject ? VerdictKind::kReject : VerdictKind::kDrop);
        case kQueue:
          return step(rule.handle, *cur, VerdictKind::kQueue);
        case kJump:
        case kGoto: {
          const nft::Chain* to = table.FindChain(target);
          if (to == nullptr) return step(rule.handle, *cur, VerdictKind::kUnknown);
          if (verdict == kJump) {
            if (stack.size() >= 16) return step(rule.handle, *cur, VerdictKind::kDrop);
            stack.push_back({cur, ri + 1});
          }
          cur = to;
          ri = 0;
          continue;
        }
        case kReturn:
          if (stack.empty()) {
            VerdictKind pol = c.base->policy == 0 ? VerdictKind::kDrop : VerdictKind::kAccept;
            return step(0, c, pol);
          }
          cur = stack.back().chain;
          ri = stack.back().next;
          stack.pop_back();
          continue;
        default:
          return step(rule.handle, *cur, VerdictKind::kUnknown);
      }
    }
  }

  enum class RuleResult { kRan, kStopped };

  // The outcome assumed for an unknown condition; a missing assumption stops the run (the
  // driver runs it again once per outcome).
  bool Assume(const std::string& key) {
    auto it = assumed_.find(key);
    if (it == assumed_.end()) {
      if (need_.empty()) need_ = key;
      return false;
    }
    out_.assumed.push_back({key, it->second});
    return it->second;
  }

  void SetUnknown(int off, size_t len, const std::string& why) {
    for (size_t i = 0; i < len && off + static_cast<int>(i) < 64; ++i) {
      regs_.data[off + i] = 0;
      regs_.unknown[off + i] = 0xff;
      regs_.why[off + i] = why;
    }
  }
  void Store(int off, const uint8_t* src, size_t len) {
    for (size_t i = 0; i < len && off + static_cast<int>(i) < 64; ++i) {
      regs_.data[off + i] = src[i];
      regs_.unknown[off + i] = 0;
    }
    size_t end = off + len;
    while (end % 4 != 0 && end < 64) {
      regs_.data[end] = 0;
      regs_.unknown[end] = 0;
      ++end;
    }
  }
  void StoreU32(int off, uint32_t v) {
    uint8_t b[4];
    std::memcpy(b, &v, 4);
    Store(off, b, 4);
  }

  // The rule's expressions; verdict out. kBreak: the rule stopped (no match).
  RuleResult RunRule(const nft::Table& table, const nft::Rule& rule, int32_t* verdict,
                     std::string* target, bool* reject, bool* queue, bool* unknown) {
    rule_id_.clear();
    for (const auto& x : rule.exprs) rule_id_ += Canon(table, x);
    rule_id_ += "#" + rule.comment;
    for (const Expr& e : rule.exprs) {
      if (!need_.empty()) return RuleResult::kStopped;
      const std::string& k = e.kind;
      if (k == "payload") {
        uint64_t base = e.Int("base", 9), off = e.Int("offset"), len = e.Int("len");
        if (e.Has("sreg")) {
          auto o = Off(e.Int("sreg"));
          size_t start = base == 1 ? 0 : base == 2 ? th_ : SIZE_MAX;
          if (!o || start == SIZE_MAX || start + off + len > bytes_.size() ||
              static_cast<size_t>(*o) + len > sizeof(regs_.data)) {
            continue;
          }
          for (size_t i = 0; i < len; ++i) {
            if (regs_.unknown[*o + i] != 0) packet_unknown_ = true;
            bytes_[start + off + i] = regs_.data[*o + i];
          }
          continue;
        }
        auto o = Off(e.Int("dreg", 99));
        if (!o || len > 64) {
          *unknown = true;
          *verdict = kDrop;
          return RuleResult::kRan;
        }
        if (base == 0 || base > 2) {
          SetUnknown(*o, len, "ll");
          continue;
        }
        size_t start = base == 1 ? 0 : th_;
        size_t end = base == 1 ? th_ : bytes_.size();
        if (start + off + len > end) return RuleResult::kStopped;
        Store(*o, bytes_.data() + start + off, len);
        if (packet_unknown_) SetUnknown(*o, len, "rewritten payload");
        continue;
      }
      if (k == "meta") {
        uint64_t key = e.Int("key", 999);
        if (e.Has("sreg")) {
          auto o = Off(e.Int("sreg"));
          if (!o) continue;
          if (key == 3) {
            if (regs_.unknown[*o] | regs_.unknown[*o + 1] | regs_.unknown[*o + 2] |
                regs_.unknown[*o + 3]) {
              mark_unknown_ = "mark:" + Canon(table, e);
            } else {
              std::memcpy(&mark_, regs_.data + *o, 4);
              mark_unknown_.clear();
            }
          } else if (key == 19) {
            pkttype_ = regs_.data[*o];
          }
          continue;
        }
        auto o = Off(e.Int("dreg", 99));
        if (!o) return RuleResult::kStopped;
        switch (key) {
          case 15: {
            uint8_t v = v6_ ? 10 : 2;
            Store(*o, &v, 1);
            break;
          }
          case 16: {
            auto v = static_cast<uint8_t>(p_.Get(Field::kL4proto));
            Store(*o, &v, 1);
            break;
          }
          case 1: {
            uint8_t v[2] = {static_cast<uint8_t>(v6_ ? 0x86 : 0x08),
                            static_cast<uint8_t>(v6_ ? 0xdd : 0x00)};
            Store(*o, v, 2);
            break;
          }
          case 3:
            StoreU32(*o, mark_);
            if (!mark_unknown_.empty()) SetUnknown(*o, 4, mark_unknown_);
            break;
          case 19:
            Store(*o, &pkttype_, 1);
            break;
          case 6:
          case 7: {
            bool in = key == 6;
            uint8_t name[16] = {};
            if (in ? HasIif() : HasOif()) {
              ToBytes(p_.Get(in ? Field::kIifname : Field::kOifname), name, 16);
            }
            Store(*o, name, 16);
            break;
          }
          case 4:
          case 5: {
            bool in = key == 4;
            if (!(in ? HasIif() : HasOif())) return RuleResult::kStopped;
            std::string name = IfnameText(p_.Get(in ? Field::kIifname : Field::kOifname));
            uint32_t idx = 0x7fffffff;  // an interface the ruleset cannot name
            for (const auto& [i, n] : o_.interface_names) {
              if (n == name) idx = i;
            }
            StoreU32(*o, idx);
            break;
          }
          default:
            SetUnknown(*o, key == 26 || key == 27 || key == 17 || key == 18 ? 16 : 4,
                       fmt::format("meta:{}", key));
        }
        continue;
      }
      if (k == "ct") {
        uint64_t key = e.Int("key", 999);
        if (e.Has("sreg")) {
          if (key == 17) ct_unknown_ = true;
          continue;
        }
        auto o = Off(e.Int("dreg", 99));
        if (!o) return RuleResult::kStopped;
        if (key == 0 && !e.Has("dir")) {
          if (ct_unknown_) {
            SetUnknown(*o, 4, "ctzone");
          } else {
            StoreU32(*o, CtState());
          }
        } else {
          SetUnknown(*o, 16, fmt::format("ct:{}:{}", key, e.Int("dir", 9)));
        }
        continue;
      }
      if (k == "immediate") {
        uint64_t dreg = e.Int("dreg", 99);
        if (dreg == 0) {
          *verdict = static_cast<int32_t>(static_cast<uint32_t>(e.Int("verdict")));
          *target = e.Str("chain");
          if (*verdict == kBreak) return RuleResult::kStopped;
          if (*verdict == kContinue) continue;
          return RuleResult::kRan;
        }
        auto o = Off(dreg);
        Bytes d = e.Data("data");
        if (o) Store(*o, d.data(), d.size());
        continue;
      }
      if (k == "cmp") {
        auto o = Off(e.Int("sreg", 99));
        Bytes d = e.Data("data");
        if (!o) return RuleResult::kStopped;
        uint64_t op = e.Int("op");
        bool known = true;
        std::string why;
        for (size_t i = 0; i < d.size(); ++i) {
          if (regs_.unknown[*o + i] != 0) {
            known = false;
            why = regs_.why[*o + i];
          }
        }
        bool holds;
        if (!known) {
          // Known bits that already differ decide an equality.
          bool differ = false;
          for (size_t i = 0; i < d.size(); ++i) {
            uint8_t kb = static_cast<uint8_t>(~regs_.unknown[*o + i]);
            if (((regs_.data[*o + i] ^ d[i]) & kb) != 0) differ = true;
          }
          if ((op == 0 || op == 1) && differ) {
            holds = op == 1;
          } else {
            holds = Assume("cond:" + why + ":" + Canon(table, e));
          }
        } else {
          int c = std::memcmp(regs_.data + *o, d.data(), d.size());
          switch (op) {
            case 0:
              holds = c == 0;
              break;
            case 1:
              holds = c != 0;
              break;
            case 2:
              holds = c < 0;
              break;
            case 3:
              holds = c <= 0;
              break;
            case 4:
              holds = c > 0;
              break;
            default:
              holds = c >= 0;
          }
        }
        if (!holds) return RuleResult::kStopped;
        continue;
      }
      if (k == "range") {
        auto o = Off(e.Int("sreg", 99));
        Bytes lo = e.Data("from_data"), hi = e.Data("to_data");
        if (!o) return RuleResult::kStopped;
        bool known = true;
        std::string why;
        for (size_t i = 0; i < lo.size(); ++i) {
          if (regs_.unknown[*o + i] != 0) {
            known = false;
            why = regs_.why[*o + i];
          }
        }
        bool in;
        if (!known) {
          in = Assume("cond:" + why + ":" + Canon(table, e));
        } else {
          in = std::memcmp(regs_.data + *o, lo.data(), lo.size()) >= 0 &&
               std::memcmp(regs_.data + *o, hi.data(), hi.size()) <= 0;
        }
        bool holds = e.Int("op") == 0 ? in : !in;
        if (!holds) return RuleResult::kStopped;
        continue;
      }
      if (k == "bitwise") {
        auto s = Off(e.Int("sreg", 99)), d = Off(e.Int("dreg", 99));
        uint64_t len = e.Int("len");
        if (!s || !d) return RuleResult::kStopped;
        if (e.Int("op", 0) != 0) {
          SetUnknown(*d, len, "shift:" + Canon(table, e));
          continue;
        }
        Bytes m = e.Data("mask"), x = e.Data("xor");
        uint8_t buf[64], unk[64];
        std::string why[64];
        for (size_t i = 0; i < len; ++i) {
          uint8_t mi = i < m.size() ? m[i] : 0xff, xi = i < x.size() ? x[i] : 0;
          buf[i] = static_cast<uint8_t>((regs_.data[*s + i] & mi) ^ xi);
          unk[i] = static_cast<uint8_t>(regs_.unknown[*s + i] & mi);
          why[i] = regs_.why[*s + i];
        }
        for (size_t i = 0; i < len; ++i) {
          regs_.data[*d + i] = buf[i];
          regs_.unknown[*d + i] = unk[i];
          regs_.why[*d + i] = why[i];
        }
        continue;
      }
      if (k == "byteorder") {
        auto s = Off(e.Int("sreg", 99)), d = Off(e.Int("dreg", 99));
        uint64_t len = e.Int("len"), size = e.Int("size");
        // Register bounds (the kernel checks them on load; a dump is still input).
        if (!s || !d || size == 0 || len > sizeof(regs_.data) ||
            static_cast<size_t>(*s) + len > sizeof(regs_.data) ||
            static_cast<size_t>(*d) + len > sizeof(regs_.data)) {
          return RuleResult::kStopped;
        }
        uint8_t buf[64] = {}, unk[64] = {};
        std::string why[64];
        for (size_t g = 0; g + size <= len; g += size) {
          for (size_t i = 0; i < size; ++i) {
            buf[g + i] = regs_.data[*s + g + size - 1 - i];
            unk[g + i] = regs_.unknown[*s + g + size - 1 - i];
            why[g + i] = regs_.why[*s + g + size - 1 - i];
          }
        }
        for (size_t i = 0; i < len; ++i) {
          regs_.data[*d + i] = buf[i];
          regs_.unknown[*d + i] = unk[i];
          regs_.why[*d + i] = why[i];
        }
        continue;
      }
      if (k == "lookup" || k == "objref") {
        bool objref = k == "objref";
        if (objref && e.Has("imm_name")) {
          uint64_t type = e.Int("imm_type");
          if (type == 2 || type == 4) {
            if (!Assume("stateful:" + rule_id_ + "@" + Canon(table, e)))
              return RuleResult::kStopped;
          }
          if (type == 10) {
            *unknown = true;
            *verdict = kDrop;
            return RuleResult::kRan;
          }
          continue;
        }
        const nft::Set* set = table.FindSet(e.Str(objref ? "set_name" : "set"));
        auto o = Off(e.Int(objref ? "set_sreg" : "sreg", 99));
        if (set == nullptr || !o) {
          *unknown = true;
          *verdict = kDrop;
          return RuleResult::kRan;
        }
        bool known = true;
        std::string why;
        for (size_t i = 0; i < set->key_len; ++i) {
          if (regs_.unknown[*o + i] != 0) {
            known = false;
            why = regs_.why[*o + i];
          }
        }
        const nft::SetElement* hit = nullptr;
        bool found;
        if (!known) {
          found = Assume("lookup:" + why + ":" + set->name);
        } else {
          hit = Find(*set, regs_.data + *o);
          found = hit != nullptr;
          if (!found && Dynamic(table, *set)) found = Assume("dynamic:" + set->name);
        }
        bool inv = !objref && (e.Int("flags") & 1) != 0;
        if (found == inv) return RuleResult::kStopped;
        if (objref) {
          if (set->obj_type == 2 || set->obj_type == 4) {
            if (!Assume("stateful:" + rule_id_ + "@" + Canon(table, e)))
              return RuleResult::kStopped;
          }
          continue;
        }
        if (e.Has("dreg")) {
          uint64_t dreg = e.Int("dreg");
          if (dreg == 0) {
            if (hit == nullptr) {  // known only through an assumption: which verdict is unknown
              *unknown = true;
              *verdict = kDrop;
              return RuleResult::kRan;
            }
            *verdict = hit->verdict.value_or(kContinue);
            *target = hit->chain;
            if (*verdict == kContinue || *verdict == kBreak) return RuleResult::kStopped;
            return RuleResult::kRan;
          }
          auto d = Off(dreg);
          if (!d) return RuleResult::kStopped;
          if (hit == nullptr) {
            SetUnknown(*d, std::max<uint32_t>(set->data_len, 4), "mapval");
          } else {
            Store(*d, hit->data.data(), hit->data.size());
          }
        }
        continue;
      }
      if (k == "counter" || k == "log" || k == "last" || k == "dup" || k == "flow_offload")
        continue;
      if (k == "notrack") {
        notracked_ = true;
        continue;
      }
      if (k == "limit" || k == "quota" || k == "connlimit") {
        if (!Assume("stateful:" + rule_id_ + "@" + Canon(table, e))) return RuleResult::kStopped;
        continue;
      }
      if (k == "dynset") {
        for (const auto& n : e.nested) {
          if (n.kind == "limit" || n.kind == "quota" || n.kind == "connlimit") {
            if (!Assume("stateful:" + rule_id_ + "@" + Canon(table, e))) {
              return RuleResult::kStopped;
            }
            break;
          }
        }
        continue;
      }
      if (k == "reject") {
        *reject = true;
        *verdict = kDrop;
        return RuleResult::kRan;
      }
      if (k == "queue") {
        *queue = true;
        *verdict = kQueue;
        return RuleResult::kRan;
      }
      if (k == "nat" || k == "masq" || k == "redir") {
        translated_ = true;
        *verdict = kAccept;
        return RuleResult::kRan;
      }
      if (k == "fib" || k == "numgen" || k == "hash" || k == "rt" || k == "socket" || k == "osf" ||
          k == "xfrm" || k == "tunnel" || (k == "exthdr" && !e.Has("sreg"))) {
        auto o = Off(e.Int("dreg", 99));
        if (!o) {
          *unknown = true;
          *verdict = kDrop;
          return RuleResult::kRan;
        }
        SetUnknown(*o, 16, k + ":" + Canon(table, e));
        continue;
      }
      if (k == "exthdr") continue;  // option rewrite
      if (k == "match") {
        if (!Assume("match:" + Canon(table, e))) return RuleResult::kStopped;
        continue;
      }
      *unknown = true;  // synproxy, tproxy, fwd, target, anything else
      *verdict = kDrop;
      return RuleResult::kRan;
    }
    *verdict = kContinue;
    return RuleResult::kRan;
  }

  bool Dynamic(const nft::Table& t, const nft::Set& s) const {
    if ((s.flags & 0x20) != 0) return true;
    for (const auto& c : t.chains) {
      for (const auto& r : c.rules) {
        for (const auto& e : r.exprs) {
          if (e.kind == "dynset" && e.Str("set") == s.name && e.Int("op") != 2) return true;
        }
      }
    }
    return false;
  }

  // The element matching `key` (set->key_len bytes), or null.
  static const nft::SetElement* Find(const nft::Set& s, const uint8_t* key) {
    const size_t n = s.key_len;
    const nft::SetElement* catchall = nullptr;
    auto cmp = [&](const Bytes& b) { return std::memcmp(key, b.data(), std::min(n, b.size())); };
    bool has_end = std::any_of(s.elements.begin(), s.elements.end(),
                               [](const auto& e) { return !e.key_end.empty(); });
    if (s.is_interval() && !has_end) {
      // Greatest element with key <= lookup key; a start wins a tie with an end.
      const nft::SetElement* best = nullptr;
      for (const auto& e : s.elements) {
        if (e.flags & 2) {
          catchall = &e;
          continue;
        }
        if (e.key.size() < n || cmp(e.key) < 0) continue;
        if (best == nullptr) {
          best = &e;
          continue;
        }
        int c = std::memcmp(e.key.data(), best->key.data(), n);
        if (c > 0 || (c == 0 && (best->flags & 1) && !(e.flags & 1))) best = &e;
      }
      if (best != nullptr && !(best->flags & 1)) return best;
      return catchall;
    }
    // Per-field ranges (concatenations with ranges) or exact keys.
    std::vector<std::pair<size_t, size_t>> comps;
    if (s.field_lengths.size() > 1) {
      size_t pos = 0;
      for (uint8_t l : s.field_lengths) {
        comps.push_back({pos, l});
        pos += static_cast<size_t>((l + 3u) / 4u) * 4u;
      }
    } else {
      comps = {{0, n}};
    }
    for (const auto& e : s.elements) {
      if (e.flags & 2) {
        catchall = &e;
        continue;
      }
      if (e.flags & 1) continue;
      const Bytes& hi = e.key_end.empty() ? e.key : e.key_end;
      bool ok = true;
      for (const auto& [off, len] : comps) {
        if (off + len > e.key.size() || off + len > hi.size()) {
          ok = false;
          break;
        }
        if (std::memcmp(key + off, e.key.data() + off, len) < 0 ||
            std::memcmp(key + off, hi.data() + off, len) > 0) {
          ok = false;
          break;
        }
      }
      if (ok) return &e;
    }
    return catchall;
  }

  const nft::Ruleset& rs_;
  Path path_;
  const Packet& p_;
  const ConcreteOptions& o_;
  const std::map<std::string, bool>& assumed_;
  std::vector<uint8_t> bytes_;
  size_t th_ = 0;
  bool v6_ = false;
  Hook hook_ = Hook::kInput;
  int32_t prio_ = 0;
  Regs regs_;
  uint32_t mark_ = 0;
  std::string mark_unknown_;
  uint8_t pkttype_ = 0;
  bool notracked_ = false, translated_ = false, ct_unknown_ = false, packet_unknown_ = false;
  std::string rule_id_;
};

}  // namespace

std::vector<uint8_t> PacketBytes(const Packet& p, size_t* th) {
  std::vector<uint8_t> b;
  bool v6 = p.Get(Field::kNfproto) == kNfprotoIpv6;
  auto l4 = static_cast<uint8_t>(p.Get(Field::kL4proto));
  // 20 bytes either way: a TCP header, or an 8-byte UDP/ICMP header and 12 payload bytes.
  size_t tl = 20;
  if (!v6) {
    b.resize(20);
    b[0] = 0x45;
    uint16_t len = static_cast<uint16_t>(20 + tl);
    b[2] = static_cast<uint8_t>(len >> 8);
    b[3] = static_cast<uint8_t>(len);
    b[8] = 64;
    b[9] = l4;
    ToBytes(p.Get(Field::kSaddr4), b.data() + 12, 4);
    ToBytes(p.Get(Field::kDaddr4), b.data() + 16, 4);
  } else {
    b.resize(40);
    b[0] = 0x60;
    b[5] = static_cast<uint8_t>(tl);
    b[6] = l4;
    b[7] = 64;
    ToBytes(p.Get(Field::kSaddr6), b.data() + 8, 16);
    ToBytes(p.Get(Field::kDaddr6), b.data() + 24, 16);
  }
  *th = b.size();
  size_t t0 = b.size();
  b.resize(t0 + tl, 0);
  ToBytes(p.Get(Field::kSport), b.data() + t0, 2);
  ToBytes(p.Get(Field::kDport), b.data() + t0 + 2, 2);
  if (l4 == 6) {
    b[t0 + 12] = 0x50;
    b[t0 + 13] = static_cast<uint8_t>(p.Get(Field::kTcpFlags));
    b[t0 + 14] = 0xff;
  } else if (l4 == 17) {
    b[t0 + 4] = 0;
    b[t0 + 5] = static_cast<uint8_t>(tl);
  }
  return b;
}

std::vector<ConcreteOutcome> EvaluatePacket(const nft::Ruleset& rs, Path path, const Packet& p,
                                            const ConcreteOptions& o) {
  std::vector<ConcreteOutcome> out;
  std::vector<std::map<std::string, bool>> work{{}};
  size_t runs = 0;
  while (!work.empty()) {
    auto assumed = std::move(work.back());
    work.pop_back();
    if (++runs > o.max_forks) {
      ConcreteOutcome u;
      u.verdict = VerdictKind::kUnknown;
      out.push_back(std::move(u));
      break;
    }
    Run r(rs, path, p, o, assumed);
    ConcreteOutcome res = r.Go();
    if (r.need_.empty()) {
      out.push_back(std::move(res));
      continue;
    }
    auto yes = assumed, no = assumed;
    yes[r.need_] = true;
    no[r.need_] = false;
    work.push_back(std::move(no));
    work.push_back(std::move(yes));
  }
  return out;
}

}  // namespace fwgate::traffic
