#include "gate/diff/evaluate.h"

#include <algorithm>

namespace fwgate::traffic {
namespace {

constexpr int kMaxDepth = 16;  // NFT_JUMP_STACK_SIZE
// Unknown conditions one result may depend on; beyond, the verdict is unknown.
constexpr size_t kMaxDecisions = 4;

struct State {
  Box box;
  uint32_t fixed_mask = 0;  // fields rewritten to a constant
  std::array<u128, kFieldCount> fixed{};
  uint32_t forgot_mask = 0;  // fields rewritten to something unknown
  std::array<uint32_t, kFieldCount> forgot{};
  bool notracked = false;
  uint32_t translated = 0;  // NAT key
  std::vector<ChainDecision> trail;
  std::vector<Decision> decisions;
};

// What a regular or base chain evaluation hands back.
struct Out {
  enum Kind { kReturn, kAccept, kFinal };
  Kind kind = kReturn;
  State st;
  Verdict verdict;         // kFinal
  ChainDecision decision;  // kAccept / kFinal: the rule that decided
};

uint32_t Bit(Field f) { return 1u << static_cast<int>(f); }

class Evaluator {
 public:
  Evaluator(Model& m, Path p, bool v6, const EvalOptions& o) : m_(m), path_(p), v6_(v6), o_(o) {}

  EvalResult Run(const Space& region) {
    std::vector<State> states;
    Box dom = PathDomain(path_, v6_);
    for (const Box& b : region) {
      if (auto x = b.Intersect(dom)) {
        State s;
        s.box = std::move(*x);
        states.push_back(std::move(s));
      }
    }
    for (Hook h : HooksOf(path_)) {
      if (states.empty()) break;
      hook_ = h;
      for (int32_t c : m_.BaseChains(h, v6_)) {
        if (states.empty()) break;
        states = RunBase(c, std::move(states));
        // After a translation, later chains see rewritten headers (and the route may change):
        // not modelled.
        std::vector<State> keep;
        for (auto& s : states) {
          if (s.translated != 0) {
            uint32_t key = s.translated;
            Finish(std::move(s), {VerdictKind::kUnknown, key});
          } else {
            keep.push_back(std::move(s));
          }
        }
        states.swap(keep);
      }
    }
    for (auto& s : states) Finish(std::move(s), {VerdictKind::kAccept, 0});
    return std::move(res_);
  }

 private:
  void Finish(State s, Verdict v) {
    PathResult r;
    r.box = std::move(s.box);
    r.verdict = v;
    r.trail = std::move(s.trail);
    r.decisions = std::move(s.decisions);
    res_.results.push_back(std::move(r));
  }

  bool OverBudget(size_t pending) {
    if (pending + live_ <= o_.max_states) return false;
    return true;
  }

  // The chain's view of the packet: fields whose value the chain reads differently from the
  // packet's own (ct state before conntrack, no output device before routing).
  void View(const ModelChain& c, const State& s, uint32_t* fixed_mask,
            std::array<u128, kFieldCount>* fixed, uint32_t* forgot_mask) const {
    *fixed_mask = s.fixed_mask;
    *fixed = s.fixed;
    *forgot_mask = s.forgot_mask;
    size_t ct = static_cast<size_t>(Field::kCtState);
    if (s.notracked) {
      *fixed_mask |= Bit(Field::kCtState);
      (*fixed)[ct] = kCtUntracked;
      *forgot_mask &= ~Bit(Field::kCtState);
    } else if (c.pre_conntrack && !(s.forgot_mask & Bit(Field::kCtState))) {
      *fixed_mask |= Bit(Field::kCtState);
      (*fixed)[ct] = kCtInvalid;
    }
    if (path_ == Path::kForward && (hook_ == Hook::kPrerouting || hook_ == Hook::kIngress)) {
      *fixed_mask |= Bit(Field::kOifname);
      (*fixed)[static_cast<size_t>(Field::kOifname)] = 0;
      *forgot_mask &= ~Bit(Field::kOifname);
    }
  }

  // The atom as seen through the view: boxes constraining a fixed field hold or not by the
  // fixed value; those constraining a forgotten field become unknown.
  struct Seen {
    Space sat, unknown;
    uint32_t key = 0, forgot_key = 0;
    bool modified = false;
  };
  Seen Substitute(const Atom& a, uint32_t fixed_mask, const std::array<u128, kFieldCount>& fixed,
                  uint32_t forgot_mask, const State& s) const {
    Seen out;
    out.key = a.key;
    auto fields_of = [](const Space& sp) {
      uint32_t m = 0;
      for (const Box& b : sp) m |= b.constrained_mask();
      return m;
    };
    uint32_t touched = (fields_of(a.sat) | fields_of(a.unknown)) & (fixed_mask | forgot_mask);
    if (touched == 0) {
      out.sat = a.sat;
      out.unknown = a.unknown;
      return out;
    }
    out.modified = true;
    auto map = [&](const Space& sp, Space& to, Space& unk) {
      for (const Box& b0 : sp) {
        Box b = b0;
        bool drop = false, forgotten = false;
        for (Field f : kAllFields) {
          uint32_t bit = Bit(f);
          if (!(touched & bit) || !b.Constrained(f)) continue;
          if (fixed_mask & bit) {
            if (!b.Get(f).Contains(fixed[static_cast<size_t>(f)])) drop = true;
            b.Clear(f);
          } else {
            forgotten = true;
            out.forgot_key = s.forgot[static_cast<size_t>(f)];
            b.Clear(f);
          }
        }
        if (drop) continue;
        (forgotten ? unk : to).push_back(std::move(b));
      }
    };
    Space unk_from_sat;
    map(a.sat, out.sat, unk_from_sat);
    map(a.unknown, out.unknown, out.unknown);
    if (!unk_from_sat.empty()) {
      for (auto& b : unk_from_sat) out.unknown.push_back(std::move(b));
      if (out.key == 0) out.key = out.forgot_key;
    }
    if (auto d = Disjoint(out.sat)) out.sat = std::move(*d);
    Space unk = std::move(out.unknown);
    out.unknown.clear();
    for (const Box& b : unk) {
      if (auto rest = SubtractSpace(b, out.sat)) {
        for (auto& r : *rest) out.unknown.push_back(std::move(r));
      }
    }
    if (auto d = Disjoint(out.unknown)) out.unknown = std::move(*d);
    return out;
  }

  static const Decision* Decided(const State& s, uint32_t key) {
    auto it = std::lower_bound(s.decisions.begin(), s.decisions.end(), key,
                               [](const Decision& d, uint32_t k) { return d.key < k; });
    return it != s.decisions.end() && it->key == key ? &*it : nullptr;
  }
  static void Decide(State& s, uint32_t key, bool holds) {
    auto it = std::lower_bound(s.decisions.begin(), s.decisions.end(), key,
                               [](const Decision& d, uint32_t k) { return d.key < k; });
    s.decisions.insert(it, Decision{key, holds});
  }

  // Splits `s` by the atom: pieces where it holds go to `yes`, the others to `no`.
  // False when the rule certainly does not touch `s`: it starts with a match none of whose boxes
  // meets the piece (and the chain sees the piece as it is).
  bool MayMatch(const ModelChain& c, const CompiledRule& rule, const State& s) const {
    if (rule.steps.empty()) return false;  // a rule without statements changes nothing
    const Step& first = rule.steps.front();
    if (first.kind != StepKind::kMatch && first.kind != StepKind::kVmap) return true;
    if (HasView(c, s)) return true;
    for (const Box& b : first.atom.unknown) {
      if (s.box.Intersects(b)) return true;
    }
    if (first.kind == StepKind::kVmap) {
      for (const auto& br : first.branches) {
        for (const Box& b : br.keys) {
          if (s.box.Intersects(b)) return true;
        }
      }
      return false;
    }
    for (const Box& b : first.atom.sat) {
      if (s.box.Intersects(b)) return true;
    }
    return false;
  }

  // Whether the chain reads some field of `s` differently from the packet's own value.
  bool HasView(const ModelChain& c, const State& s) const {
    return s.fixed_mask != 0 || s.forgot_mask != 0 || s.notracked || c.pre_conntrack ||
           (path_ == Path::kForward && (hook_ == Hook::kPrerouting || hook_ == Hook::kIngress));
  }

  void Split(const ModelChain& c, State s, const Atom& atom, std::vector<State>& yes,
             std::vector<State>& no) {
    Seen seen;
    const Space* satp = &atom.sat;
    const Space* unkp = &atom.unknown;
    uint32_t key = atom.key;
    if (HasView(c, s)) {
      uint32_t fm = 0, gm = 0;
      std::array<u128, kFieldCount> fx{};
      View(c, s, &fm, &fx, &gm);
      seen = Substitute(atom, fm, fx, gm, s);
      satp = &seen.sat;
      unkp = &seen.unknown;
      key = seen.key;
    } else {
      // Most rules miss most pieces: no copies then.
      bool any = false;
      for (const Box& b : atom.sat) {
        if (s.box.Intersects(b)) {
          any = true;
          break;
        }
      }
      for (size_t i = 0; !any && i < atom.unknown.size(); ++i)
        any = s.box.Intersects(atom.unknown[i]);
      if (!any) {
        no.push_back(std::move(s));
        return;
      }
    }
    const Space& sat = *satp;
    const Space& unk = *unkp;
    Space matched, maybe;
    for (const Box& b : sat) {
      if (auto x = s.box.Intersect(b)) matched.push_back(std::move(*x));
    }
    for (const Box& b : unk) {
      if (auto x = s.box.Intersect(b)) maybe.push_back(std::move(*x));
    }
    if (matched.empty() && maybe.empty()) {
      no.push_back(std::move(s));
      return;
    }
    Space cover = matched;
    cover.insert(cover.end(), maybe.begin(), maybe.end());
    auto rest = SubtractSpace(s.box, cover, o_.max_states);
    if (!rest) {
      overflow_ = true;
      rest = Space{};
    }
    auto piece = [&](Box b) {
      State p = s;
      p.box = std::move(b);
      return p;
    };
    for (auto& b : matched) yes.push_back(piece(std::move(b)));
    for (auto& b : *rest) no.push_back(piece(std::move(b)));
    if (!maybe.empty()) {
      const Decision* d = Decided(s, key);
      for (auto& b : maybe) {
        if (d != nullptr) {
          (d->holds ? yes : no).push_back(piece(std::move(b)));
          continue;
        }
        if (s.decisions.size() >= kMaxDecisions) {
          // So many unknown conditions on one path would multiply the pieces: fwgate stops
          // telling the outcomes apart here.
          undecidable_.push_back(piece(std::move(b)));
          continue;
        }
        State t = piece(b);
        Decide(t, key, true);
        yes.push_back(std::move(t));
        State f = piece(std::move(b));
        Decide(f, key, false);
        no.push_back(std::move(f));
      }
    }
  }

  // Runs the rules of chain `ci` from the start on `in`; appends outcomes to `out`.
  void RunChain(int32_t ci, int32_t base, std::vector<State> in, int depth, std::vector<Out>& out) {
    const ModelChain& c = m_.chains()[ci];
    if (depth > kMaxDepth) {
      for (auto& s : in) {
        Out o;
        o.kind = Out::kFinal;
        o.st = std::move(s);
        o.verdict = {VerdictKind::kDrop, 0};  // the kernel drops beyond the jump stack
        o.decision = {base, ci, -1, VerdictKind::kDrop, 0};
        out.push_back(std::move(o));
      }
      return;
    }
    std::vector<State> pending = std::move(in);
    const size_t nrules = c.chain->rules.size();
    for (size_t ri = 0; ri < nrules && !pending.empty(); ++ri) {
      if (overflow_ || pending.size() > o_.max_states) {
        overflow_ = true;
        break;
      }
      const CompiledRule& rule = m_.Rule(ci, ri, v6_);
      // Pieces the rule cannot match stay where they are (no copies): most rules of a long
      // chain miss most pieces.
      std::vector<State> cur;
      size_t kept = 0;
      for (size_t k = 0; k < pending.size(); ++k) {
        if (MayMatch(c, rule, pending[k])) {
          cur.push_back(std::move(pending[k]));
        } else {
          if (kept != k) pending[kept] = std::move(pending[k]);
          ++kept;
        }
      }
      pending.resize(kept);
      if (cur.empty()) continue;
      std::vector<State> next = std::move(pending);
      pending.clear();
      bool finished = false;
      for (const Step& step : rule.steps) {
        if (cur.empty()) break;
        switch (step.kind) {
          case StepKind::kMatch: {
            std::vector<State> yes;
            for (auto& s : cur) Split(c, std::move(s), step.atom, yes, next);
            cur.swap(yes);
            break;
          }
          case StepKind::kSetField:
            for (auto& s : cur) {
              size_t f = static_cast<size_t>(step.field);
              s.fixed_mask |= Bit(step.field);
              s.fixed[f] = step.value;
              s.forgot_mask &= ~Bit(step.field);
            }
            break;
          case StepKind::kForgetField:
            for (auto& s : cur) {
              s.forgot_mask |= Bit(step.field);
              s.forgot[static_cast<size_t>(step.field)] = step.key;
              s.fixed_mask &= ~Bit(step.field);
            }
            break;
          case StepKind::kNotrack:
            for (auto& s : cur) s.notracked = true;
            break;
          case StepKind::kTranslate:
            for (auto& s : cur) {
              s.translated = step.key;
              Accept(std::move(s), base, ci, static_cast<int32_t>(ri), out);
            }
            cur.clear();
            finished = true;
            break;
          case StepKind::kVerdict:
            for (auto& s : cur)
              Terminal(std::move(s), base, ci, static_cast<int32_t>(ri), step.verdict, out);
            cur.clear();
            finished = true;
            break;
          case StepKind::kJump:
          case StepKind::kGoto:
            Call(step.kind, step.chain, std::move(cur), base, ci, depth, next, out);
            cur.clear();
            finished = true;
            break;
          case StepKind::kReturn:
            for (auto& s : cur) {
              Out o;
              o.kind = Out::kReturn;
              o.st = std::move(s);
              out.push_back(std::move(o));
            }
            cur.clear();
            finished = true;
            break;
          case StepKind::kVmap:
            Vmap(c, step, std::move(cur), base, ci, static_cast<int32_t>(ri), depth, next, out);
            cur.clear();
            finished = true;
            break;
        }
        if (finished) break;
      }
      // The rule ran to its end without a verdict: continue with the next rule.
      for (auto& s : cur) next.push_back(std::move(s));
      for (auto& s : undecidable_) {
        Out o;
        o.kind = Out::kFinal;
        o.st = std::move(s);
        o.verdict = {VerdictKind::kUnknown, TooManyKey()};
        o.decision = {base, ci, static_cast<int32_t>(ri), VerdictKind::kUnknown, o.verdict.key};
        out.push_back(std::move(o));
      }
      undecidable_.clear();
      pending = std::move(next);
    }
    if (overflow_) {
      for (auto& s : pending) {
        Out o;
        o.kind = Out::kFinal;
        o.st = std::move(s);
        o.verdict = {VerdictKind::kUnknown, BudgetKey()};
        o.decision = {base, ci, -1, VerdictKind::kUnknown, o.verdict.key};
        out.push_back(std::move(o));
      }
      return;
    }
    // The end of a chain: return (base chains apply their policy in RunBase).
    for (auto& s : pending) {
      Out o;
      o.kind = Out::kReturn;
      o.st = std::move(s);
      out.push_back(std::move(o));
    }
  }

  uint32_t TooManyKey() {
    return m_.keys().Intern("too-many-unknowns",
                            "more unknown conditions on one packet's path than fwgate follows");
  }

  uint32_t BudgetKey() {
    return m_.keys().Intern("budget", "more distinct regions than the analysis budget");
  }

  void Accept(State s, int32_t base, int32_t ci, int32_t ri, std::vector<Out>& out) {
    Out o;
    o.kind = Out::kAccept;
    o.st = std::move(s);
    o.decision = {base, ci, ri, VerdictKind::kAccept, 0};
    out.push_back(std::move(o));
  }

  void Terminal(State s, int32_t base, int32_t ci, int32_t ri, Verdict v, std::vector<Out>& out) {
    if (v.kind == VerdictKind::kAccept) return Accept(std::move(s), base, ci, ri, out);
    Out o;
    o.kind = Out::kFinal;
    o.st = std::move(s);
    o.verdict = v;
    o.decision = {base, ci, ri, v.kind, v.key};
    out.push_back(std::move(o));
  }

  // jump/goto `target` for `states`: returns of a jump continue after the rule (`next`); a
  // goto's returns return from the current chain.
  void Call(StepKind kind, int32_t target, std::vector<State> states, int32_t base, int32_t ci,
            int depth, std::vector<State>& next, std::vector<Out>& out) {
    (void)ci;
    std::vector<Out> sub;
    RunChain(target, base, std::move(states), depth + 1, sub);
    for (auto& o : sub) {
      if (o.kind == Out::kReturn && kind == StepKind::kJump) {
        next.push_back(std::move(o.st));
      } else {
        out.push_back(std::move(o));
      }
    }
  }

  void Vmap(const ModelChain& c, const Step& step, std::vector<State> cur, int32_t base, int32_t ci,
            int32_t ri, int depth, std::vector<State>& next, std::vector<Out>& out) {
    // Unknown part of the lookup first: decided per packet.
    std::vector<State> rest;
    if (!step.atom.unknown.empty()) {
      Atom u;
      u.unknown = step.atom.unknown;
      u.key = step.atom.key;
      std::vector<State> maybe;
      for (auto& s : cur) Split(c, std::move(s), u, maybe, rest);
      // Where the key may be in the map, fwgate cannot tell which branch: unknown verdict.
      for (auto& s : maybe) {
        Terminal(std::move(s), base, ci, ri, {VerdictKind::kUnknown, step.atom.key}, out);
      }
    } else {
      rest = std::move(cur);
    }
    for (const Branch& br : step.branches) {
      if (rest.empty()) break;
      Atom a;
      a.sat = br.keys;
      std::vector<State> hit, miss;
      for (auto& s : rest) Split(c, std::move(s), a, hit, miss);
      rest.swap(miss);
      if (hit.empty()) continue;
      switch (br.kind) {
        case StepKind::kVerdict:
          for (auto& s : hit) Terminal(std::move(s), base, ci, ri, br.verdict, out);
          break;
        case StepKind::kJump:
        case StepKind::kGoto:
          Call(br.kind, br.chain, std::move(hit), base, ci, depth, next, out);
          break;
        case StepKind::kReturn:
          for (auto& s : hit) {
            Out o;
            o.kind = Out::kReturn;
            o.st = std::move(s);
            out.push_back(std::move(o));
          }
          break;
        default:  // continue
          for (auto& s : hit) next.push_back(std::move(s));
      }
    }
    // Keys not in the map: the rule does not match.
    for (auto& s : rest) next.push_back(std::move(s));
  }

  // Runs base chain `ci` on the states it applies to; returns the states that go on.
  std::vector<State> RunBase(int32_t ci, std::vector<State> states) {
    const ModelChain& c = m_.chains()[ci];
    std::vector<State> skip, run;
    // Guards: NAT chains see only new (and related) connections; device chains their devices.
    for (auto& s : states) {
      if (c.nat && s.notracked) {
        skip.push_back(std::move(s));
        continue;
      }
      Box guard;
      bool guarded = false;
      if (c.nat) {
        guard.Set(Field::kCtState,
                  IntervalSet::FromIntervals({{kCtNew, kCtNew}, {kCtRelated, kCtRelated}}));
        guarded = true;
      }
      if (c.hook == Hook::kIngress || c.hook == Hook::kEgress) {
        if (!c.devices.empty() || m_.ruleset().tables[c.table].family == nft::Family::kNetdev) {
          std::vector<Interval> names;
          for (const auto& d : c.devices) {
            u128 v = IfnameValue(d);
            names.push_back({v, v});
          }
          guard.Set(c.hook == Hook::kIngress ? Field::kIifname : Field::kOifname,
                    IntervalSet::FromIntervals(names));
          guarded = true;
        }
      }
      if (!guarded) {
        run.push_back(std::move(s));
        continue;
      }
      if (s.forgot_mask & Bit(Field::kCtState) && c.nat) {
        // Which entry the packet has is not known: neither is whether NAT runs.
        uint32_t why = s.forgot[static_cast<size_t>(Field::kCtState)];
        Finish(std::move(s), {VerdictKind::kUnknown, why});
        continue;
      }
      Atom a;
      a.sat = {guard};
      std::vector<State> yes, no;
      Split(c, std::move(s), a, yes, no);
      for (auto& y : yes) run.push_back(std::move(y));
      for (auto& n : no) skip.push_back(std::move(n));
    }
    std::vector<Out> out;
    if (!run.empty()) RunChain(ci, ci, std::move(run), 0, out);
    std::vector<State> cont = std::move(skip);
    for (auto& o : out) {
      switch (o.kind) {
        case Out::kReturn:
          // End of the base chain (or a return from it): the policy.
          o.st.trail.push_back({ci, ci, -1, c.policy, 0});
          if (c.policy == VerdictKind::kAccept) {
            cont.push_back(std::move(o.st));
          } else {
            Finish(std::move(o.st), {c.policy, 0});
          }
          break;
        case Out::kAccept:
          o.st.trail.push_back(o.decision);
          cont.push_back(std::move(o.st));
          break;
        case Out::kFinal:
          o.st.trail.push_back(o.decision);
          Finish(std::move(o.st), o.verdict);
          break;
      }
    }
    if (overflow_) res_.truncated = true;
    return cont;
  }

  Model& m_;
  Path path_;
  bool v6_;
  const EvalOptions& o_;
  Hook hook_ = Hook::kInput;
  EvalResult res_;
  size_t live_ = 0;
  std::vector<State> undecidable_;
  bool overflow_ = false;
};

}  // namespace

Box PathDomain(Path path, bool v6) {
  Box b;
  b.Set(Field::kNfproto, IntervalSet::Point(v6 ? kNfprotoIpv6 : kNfprotoIpv4));
  IntervalSet some = Domain(Field::kIifname).Subtract(IntervalSet::Point(0));
  IntervalSet none = IntervalSet::Point(0);
  switch (path) {
    case Path::kInput:
      b.Set(Field::kIifname, some);
      b.Set(Field::kOifname, none);
      break;
    case Path::kForward:
      b.Set(Field::kIifname, some);
      b.Set(Field::kOifname, some);
      break;
    case Path::kOutput:
      b.Set(Field::kIifname, none);
      b.Set(Field::kOifname, some);
      break;
  }
  return b;
}

EvalResult EvaluatePath(Model& model, Path path, bool v6, const Space& region,
                        const EvalOptions& options) {
  return Evaluator(model, path, v6, options).Run(region);
}

}  // namespace fwgate::traffic
