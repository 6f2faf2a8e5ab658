#include "gate/diff/traffic.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <unordered_map>

#include "gate/diff/identity.h"
#include "gate/nft/printer.h"

namespace fwgate::traffic {
namespace {

uint32_t Bit(Field f) { return 1u << static_cast<int>(f); }

int TableIndex(const nft::Ruleset& rs, nft::Family fam, const std::string& name) {
  for (size_t i = 0; i < rs.tables.size(); ++i) {
    if (rs.tables[i].family == fam && rs.tables[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

bool Sees(nft::Family fam, bool v6) {
  switch (fam) {
    case nft::Family::kIp:
      return !v6;
    case nft::Family::kIp6:
      return v6;
    case nft::Family::kInet:
    case nft::Family::kNetdev:
      return true;
    default:
      return false;
  }
}

bool Modelled(nft::Family fam) {
  return fam == nft::Family::kIp || fam == nft::Family::kIp6 || fam == nft::Family::kInet ||
         fam == nft::Family::kNetdev;
}

Box FamilyBox(bool v6) {
  Box b;
  b.Set(Field::kNfproto, IntervalSet::Point(v6 ? kNfprotoIpv6 : kNfprotoIpv4));
  return b;
}

// One side of the comparison.
struct Side {
  const nft::Ruleset* rs;
  Model* model;
  const nft::SourceMap* sources;
  const std::map<uint32_t, std::string>* interfaces = nullptr;
};

// The packets changes can affect, per family.
class Seeds {
 public:
  Seeds(Side cur, Side prop) : sides_{cur, prop} {
    projected_ = cur.model->rewritten_fields() | prop.model->rewritten_fields();
  }

  void Full(nft::Family fam) {
    for (bool v6 : {false, true}) {
      if (Sees(fam, v6)) Add(v6, FamilyBox(v6), 0);
    }
  }

  // The packets rule `ri` of chain `chain` in table `t` can match, on side `s`.
  void Rule(int s, int t, const std::string& chain, size_t ri) {
    Model& m = *sides_[s].model;
    int32_t ci = m.FindChain(static_cast<size_t>(t), chain);
    if (ci < 0 || ri >= m.chains()[ci].chain->rules.size())
      return Full(sides_[s].rs->tables[t].family);
    uint32_t view = ViewFields(m, ci);
    for (bool v6 : {false, true}) {
      if (!Sees(sides_[s].rs->tables[t].family, v6)) continue;
      const CompiledRule& r = m.Rule(ci, ri, v6);
      if (r.steps.empty()) continue;  // a rule that acts on no packet changes no verdict
      Space acc{FamilyBox(v6)};
      for (const Step& st : r.steps) {
        if (st.kind == StepKind::kMatch || st.kind == StepKind::kVmap) {
          Space cond = st.atom.unknown;
          if (st.kind == StepKind::kMatch) {
            cond.insert(cond.end(), st.atom.sat.begin(), st.atom.sat.end());
          } else {
            for (const auto& b : st.branches) cond.insert(cond.end(), b.keys.begin(), b.keys.end());
          }
          acc = Project(Intersect(acc, cond), view);
          if (st.kind == StepKind::kVmap) break;
          continue;
        }
        if (st.kind == StepKind::kSetField || st.kind == StepKind::kForgetField ||
            st.kind == StepKind::kNotrack) {
          continue;
        }
        break;
      }
      for (auto& b : acc) Add(v6, std::move(b), view);
    }
  }

  // The packets whose lookups into `set` (table t) change when `elements` (side s's) change.
  void Elements(int t_cur, int t_prop, const std::string& set,
                const std::array<std::vector<nft::SetElement>, 2>& changed) {
    for (int s = 0; s < 2; ++s) {
      int t = s == 0 ? t_cur : t_prop;
      if (t < 0) continue;
      Model& m = *sides_[s].model;
      const nft::Table& table = sides_[s].rs->tables[t];
      for (const auto& c : table.chains) {
        int32_t ci = m.FindChain(static_cast<size_t>(t), c.name);
        uint32_t view = ViewFields(m, ci);
        for (size_t ri = 0; ri < c.rules.size(); ++ri) {
          if (!Model::References(c.rules[ri], set)) continue;
          for (bool v6 : {false, true}) {
            if (!Sees(table.family, v6)) continue;
            for (const auto& els : changed) {
              if (els.empty()) continue;
              Space keys = m.LookupKeys(ci, ri, v6, set, els);
              for (auto& b : keys) {
                if (b.Restrict(Field::kNfproto, FamilyBox(v6).Get(Field::kNfproto))) {
                  Add(v6, std::move(b), view);
                }
              }
            }
          }
        }
      }
    }
  }

  // Rules referencing an object by name (quotas, limits).
  void ObjectUsers(int s, int t, const std::string& name) {
    const nft::Table& table = sides_[s].rs->tables[t];
    for (const auto& c : table.chains) {
      for (size_t ri = 0; ri < c.rules.size(); ++ri) {
        for (const auto& e : c.rules[ri].exprs) {
          if (e.kind == "objref" && e.Str("imm_name") == name) Rule(s, t, c.name, ri);
        }
      }
    }
  }

  std::array<Space, 2> Take() {
    std::array<Space, 2> out;
    for (int v = 0; v < 2; ++v) {
      Space& sp = seeds_[v];
      // Identical seeds once; a seed inside the whole-family box makes the region that box.
      bool full =
          std::any_of(sp.begin(), sp.end(), [&](const Box& b) { return b == FamilyBox(v == 1); });
      if (full) {
        out[v] = {FamilyBox(v == 1)};
        continue;
      }
      MergeBoxes(sp);
      auto d = Disjoint(sp, 4096);
      out[v] = d ? std::move(*d) : Space{FamilyBox(v == 1)};
    }
    return out;
  }

 private:
  // Fields a chain reads differently from the packet (views): any rule there constraining them
  // can match packets whatever their own value.
  uint32_t ViewFields(Model& m, int32_t ci) const {
    uint32_t v = 0;
    const ModelChain& c = m.chains()[ci];
    auto of = [&](const ModelChain& b) {
      if (b.pre_conntrack) v |= Bit(Field::kCtState);
      if (b.hook == Hook::kPrerouting || b.hook == Hook::kIngress) v |= Bit(Field::kOifname);
    };
    if (c.base) {
      of(c);
    } else {
      for (const auto& b : m.chains()) {
        if (b.base && b.table == c.table) of(b);
      }
    }
    return v;
  }

  Space Project(Space sp, uint32_t view) const {
    uint32_t p = projected_ | view;
    if (p == 0) return sp;
    for (auto& b : sp) {
      for (Field f : kAllFields) {
        if (p & Bit(f)) b.Clear(f);
      }
    }
    return sp;
  }

  static Space Intersect(const Space& a, const Space& b) {
    Space out;
    for (const Box& x : a) {
      for (const Box& y : b) {
        if (auto z = x.Intersect(y)) out.push_back(std::move(*z));
      }
    }
    return out;
  }

  void Add(bool v6, Box b, uint32_t view) {
    uint32_t p = projected_ | view;
    for (Field f : kAllFields) {
      if (p & Bit(f)) b.Clear(f);
    }
    if (b.empty()) return;
    seeds_[v6 ? 1 : 0].push_back(std::move(b));
  }

  std::array<Side, 2> sides_;
  uint32_t projected_ = 0;
  std::array<Space, 2> seeds_;
};

// The elements of the set units that differ between two versions of a set.
std::array<std::vector<nft::SetElement>, 2> ChangedElements(const nft::Set* a, const nft::Set* b) {
  std::array<std::vector<nft::SetElement>, 2> out;
  if (a == nullptr || b == nullptr || diff::SetDeclarationKey(*a) != diff::SetDeclarationKey(*b)) {
    if (a != nullptr) out[0] = a->elements;
    if (b != nullptr) out[1] = b->elements;
    return out;
  }
  auto ua = diff::ElementUnits(*a);
  auto ub = diff::ElementUnits(*b);
  size_t i = 0, j = 0;
  auto take = [](const nft::Set& s, const diff::ElementUnit& u, std::vector<nft::SetElement>& to) {
    for (size_t k : u.indices) to.push_back(s.elements[k]);
  };
  while (i < ua.size() || j < ub.size()) {
    if (j == ub.size() || (i < ua.size() && ua[i].id < ub[j].id)) {
      take(*a, ua[i++], out[0]);
    } else if (i == ua.size() || ub[j].id < ua[i].id) {
      take(*b, ub[j++], out[1]);
    } else {
      if (ua[i].value != ub[j].value) {
        take(*a, ua[i], out[0]);
        take(*b, ub[j], out[1]);
      }
      ++i;
      ++j;
    }
  }
  return out;
}

bool Consistent(const std::vector<Decision>& a, const std::vector<Decision>& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (a[i].key < b[j].key) {
      ++i;
    } else if (b[j].key < a[i].key) {
      ++j;
    } else {
      if (a[i].holds != b[j].holds) return false;
      ++i;
      ++j;
    }
  }
  return true;
}

std::vector<Decision> MergeDecisions(const std::vector<Decision>& a,
                                     const std::vector<Decision>& b) {
  std::vector<Decision> out;
  std::set_union(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out),
                 [](const Decision& x, const Decision& y) { return x.key < y.key; });
  return out;
}

bool SameVerdict(const Verdict& a, const Verdict& b) {
  if (a.kind != b.kind || a.kind == VerdictKind::kUnknown) return false;
  return a.kind != VerdictKind::kQueue || a.key == b.key;
}

struct Piece {
  Box box;
  const PathResult* before;
  const PathResult* after;
  std::vector<Decision> decisions;
};

// What groups pieces into one region: the verdict and how each base chain on the way ended
// (by a rule or by its policy), not which rule: a set change reaching a hundred rules reads
// as one region decided by those rules.
std::string TrailKey(const PathResult& r) {
  std::string s = fmt::format("{}:{}|", static_cast<int>(r.verdict.kind), r.verdict.key);
  for (const auto& d : r.trail) {
    s += fmt::format("{},{},{},{};", d.base, d.rule < 0 ? 'p' : 'r', static_cast<int>(d.verdict),
                     d.key);
  }
  return s;
}

class Comparer {
 public:
  Comparer(const nft::Ruleset& cur, const nft::Ruleset& prop, const diff::Plan& plan,
           const TrafficOptions& o)
      : cur_(cur), prop_(prop), plan_(plan), o_(o) {
    ModelOptions mc, mp;
    mc.interface_names = o.current_interfaces;
    mp.interface_names = o.proposed_interfaces;
    mcur_.emplace(cur, keys_, mc);
    mprop_.emplace(prop, keys_, mp);
  }

  TrafficDiff Run() {
    Side sc{&cur_, &*mcur_, o_.current_sources, &o_.current_interfaces};
    Side sp{&prop_, &*mprop_, o_.proposed_sources, &o_.proposed_interfaces};
    Seeds seeds(sc, sp);
    CollectSeeds(seeds);
    auto region = seeds.Take();
    std::vector<Region> regions;
    for (Path path : kPaths) {
      for (bool v6 : {false, true}) {
        const Space& r = region[v6 ? 1 : 0];
        if (r.empty()) continue;
        EvalResult before = EvaluatePath(*mcur_, path, v6, r, o_.eval);
        EvalResult after = EvaluatePath(*mprop_, path, v6, r, o_.eval);
        if (before.truncated || after.truncated) {
          Note(
              fmt::format("{} {}: more distinct regions than the analysis budget; the rest is "
                          "reported as unknown",
                          PathName(path), v6 ? "ipv6" : "ipv4"));
        }
        Compare(path, before, after);
        results_.push_back(std::move(before));
        results_.push_back(std::move(after));
      }
    }
    return Build();
  }

 private:
  void Note(std::string n) {
    if (std::find(diff_.notes.begin(), diff_.notes.end(), n) == diff_.notes.end()) {
      diff_.notes.push_back(std::move(n));
    }
    diff_.complete = false;
  }

  void CollectSeeds(Seeds& seeds) {
    std::set<std::tuple<uint8_t, std::string, std::string>> sets;
    for (const auto& c : plan_.changes) {
      int tc = TableIndex(cur_, c.family, c.table);
      int tp = TableIndex(prop_, c.family, c.table);
      if (!Modelled(c.family)) {
        Note(
            fmt::format("table {} {} changed: {} tables are not modelled (their traffic is not "
                        "compared)",
                        nft::FamilyName(c.family), c.table, nft::FamilyName(c.family)));
        continue;
      }
      switch (c.object) {
        case diff::ObjectKind::kRule:
          if (c.index_before && tc >= 0) seeds.Rule(0, tc, c.chain, *c.index_before);
          if (c.index_after && tp >= 0) seeds.Rule(1, tp, c.chain, *c.index_after);
          break;
        case diff::ObjectKind::kChain: {
          bool base = false;
          if (tc >= 0) {
            const nft::Chain* ch = cur_.tables[tc].FindChain(c.chain);
            base |= ch != nullptr && ch->base.has_value();
          }
          if (tp >= 0) {
            const nft::Chain* ch = prop_.tables[tp].FindChain(c.chain);
            base |= ch != nullptr && ch->base.has_value();
          }
          if (base) seeds.Full(c.family);
          break;
        }
        case diff::ObjectKind::kTable:
          seeds.Full(c.family);
          break;
        case diff::ObjectKind::kSet:
        case diff::ObjectKind::kMap:
        case diff::ObjectKind::kElement:
          sets.insert({static_cast<uint8_t>(c.family), c.table, c.set});
          break;
        case diff::ObjectKind::kObject:
          if (tc >= 0) seeds.ObjectUsers(0, tc, c.name);
          if (tp >= 0) seeds.ObjectUsers(1, tp, c.name);
          break;
        case diff::ObjectKind::kFlowtable:
          Note("flowtable " + c.name +
               " changed: flow offload is not modelled (offloaded flows skip the filter chains)");
          break;
      }
    }
    for (const auto& [fam, table, set] : sets) {
      auto family = static_cast<nft::Family>(fam);
      int tc = TableIndex(cur_, family, table);
      int tp = TableIndex(prop_, family, table);
      const nft::Set* a = tc >= 0 ? cur_.tables[tc].FindSet(set) : nullptr;
      const nft::Set* b = tp >= 0 ? prop_.tables[tp].FindSet(set) : nullptr;
      seeds.Elements(tc, tp, set, ChangedElements(a, b));
    }
  }

  void Compare(Path path, const EvalResult& before, const EvalResult& after) {
    // Bucket the after results by ct state for the pairwise intersection.
    std::array<std::vector<const PathResult*>, 5> by_state;
    for (const auto& r : after.results) {
      for (size_t k = 0; k < kCtStates.size(); ++k) {
        if (r.box.Get(Field::kCtState).Contains(kCtStates[k])) by_state[k].push_back(&r);
      }
    }
    for (const auto& b : before.results) {
      std::set<const PathResult*> seen;
      for (size_t k = 0; k < kCtStates.size(); ++k) {
        if (!b.box.Get(Field::kCtState).Contains(kCtStates[k])) continue;
        for (const PathResult* a : by_state[k]) {
          if (!seen.insert(a).second) continue;
          if (SameVerdict(b.verdict, a->verdict)) continue;
          if (!Consistent(b.decisions, a->decisions)) continue;
          auto x = b.box.Intersect(a->box);
          if (!x) continue;
          pieces_[path].push_back(
              {std::move(*x), &b, a, MergeDecisions(b.decisions, a->decisions)});
        }
      }
    }
  }

  // --- building regions ---

  RuleCite Cite(const Side& s, const ChainDecision& d) const {
    Model& m = *s.model;
    const ModelChain& base = m.chains()[d.base];
    const ModelChain& where = m.chains()[d.chain >= 0 ? d.chain : d.base];
    const nft::Table& t = s.rs->tables[where.table];
    RuleCite c;
    c.hook = base.hook;
    c.family = t.family;
    c.table = t.name;
    c.base_chain = base.chain->name;
    c.chain = where.chain->name;
    c.verdict = d.verdict;
    if (d.rule < 0) {
      c.text = fmt::format("policy {}", VerdictName(base.policy));
      if (s.sources != nullptr) c.location = s.sources->Chain(t.family, t.name, base.chain->name);
    } else {
      const nft::Rule& r = where.chain->rules[d.rule];
      c.handle = r.handle;
      c.text = diff::RuleTextWithBindings(t, r, 0, s.interfaces);
      if (s.sources != nullptr)
        c.location = s.sources->Rule(t.family, t.name, where.chain->name, r.handle);
    }
    return c;
  }

  SideOutcome Outcome(const Side& s, const PathResult& r) const {
    SideOutcome o;
    o.verdict = r.verdict.kind;
    if (r.verdict.key != 0) o.detail = keys_.Describe(r.verdict.key);
    for (const auto& d : r.trail) o.decided_by.push_back(Cite(s, d));
    return o;
  }

  // The other rules that decided pieces of a region (its outcome shows the first one's).
  void Others(const Side& s, const std::vector<Piece*>& group, bool before, SideOutcome& o) const {
    std::set<std::pair<int32_t, int32_t>> seen;
    const PathResult* first = before ? group.front()->before : group.front()->after;
    if (!first->trail.empty()) seen.insert({first->trail.back().chain, first->trail.back().rule});
    for (const Piece* p : group) {
      const PathResult* r = before ? p->before : p->after;
      if (r->trail.empty()) continue;
      const ChainDecision& d = r->trail.back();
      if (!seen.insert({d.chain, d.rule}).second) continue;
      if (o.also_decided_by.size() < 8) o.also_decided_by.push_back(Cite(s, d));
      ++o.more_rules;
    }
  }

  // The verdicts of every region's packets as new and as established connections, both
  // rulesets, in one evaluation per path, family, state and ruleset; and, inside
  // established-cut regions, the packets the proposed ruleset still accepts when new (ports
  // open for new connections only).
  void OtherStates(std::vector<Region>& regions) {
    struct Acc {
      bool any = false;
      VerdictKind k = VerdictKind::kUnknown;
      void Add(VerdictKind v) {
        if (!any) {
          k = v;
          any = true;
        } else if (k != v) {
          k = VerdictKind::kUnknown;
        }
      }
    };
    std::vector<std::array<std::array<Acc, 2>, 2>> acc(regions.size());  // [state][model]
    std::vector<Space> new_only(regions.size());
    for (Path path : kPaths) {
      for (bool v6 : {false, true}) {
        for (int st = 0; st < 2; ++st) {
          uint32_t state = st == 0 ? kCtNew : kCtEstablished;
          Space in;
          std::vector<std::pair<size_t, Box>> owned;  // region, box in `state`
          for (size_t i = 0; i < regions.size(); ++i) {
            if (regions[i].path != path) continue;
            for (const Box& b0 : regions[i].boxes) {
              Box b = b0;
              if (!b.Restrict(Field::kNfproto, FamilyBox(v6).Get(Field::kNfproto))) continue;
              b.Set(Field::kCtState, IntervalSet::Point(state));
              in.push_back(b);
              owned.push_back({i, std::move(b)});
            }
          }
          if (in.empty()) continue;
          for (int m = 0; m < 2; ++m) {
            EvalResult e = EvaluatePath(m == 0 ? *mcur_ : *mprop_, path, v6, in, o_.eval);
            for (const auto& [i, b] : owned) {
              const Region& r = regions[i];
              bool cut_region = st == 0 && m == 1 && r.ct_state == kCtEstablished &&
                                r.before.verdict == VerdictKind::kAccept && Drops(r.after.verdict);
              for (const auto& x : e.results) {
                if (!x.box.Intersects(b)) continue;
                VerdictKind k = x.decisions.empty() ? x.verdict.kind : VerdictKind::kUnknown;
                acc[i][st][m].Add(k);
                if (cut_region && k == VerdictKind::kAccept) {
                  auto cut = x.box.Intersect(b);
                  cut->Clear(Field::kCtState);
                  new_only[i].push_back(std::move(*cut));
                }
              }
            }
          }
        }
      }
    }
    for (size_t i = 0; i < regions.size(); ++i) {
      Region& r = regions[i];
      r.as_new = {acc[i][0][0].k, acc[i][0][1].k};
      r.as_established = {acc[i][1][0].k, acc[i][1][1].k};
      Space& s = new_only[i];
      if (s.empty()) continue;
      MergeBoxes(s);
      for (const Box& b : s) {
        Box t = b;
        if (r.family != 0) t.Clear(Field::kNfproto);
        r.new_only.push_back(PredicateText(t));
        r.new_only_match.push_back(PredicateFields(t));
      }
      r.new_only_boxes = std::move(s);
    }
  }

  // How a set of boxes reads best: one region per box, or one region "hull except a few".
  struct Shape {
    Box hull;
    Space except;
    Space boxes;
  };
  static std::vector<Shape> Shapes(Space u) {
    std::vector<Shape> out;
    if (u.size() > 1 && u.size() <= 4096) {
      Box hull;
      for (Field f : kAllFields) {
        bool all = true;
        IntervalSet acc;
        for (const Box& b : u) {
          if (!b.Constrained(f)) all = false;
          if (all) acc = acc.Union(b.Get(f));
        }
        if (all) hull.Set(f, std::move(acc));
      }
      // Interface names held by all but a few: those few become excluded parts.
      for (Field f : {Field::kIifname, Field::kOifname}) {
        if (!hull.Constrained(f)) continue;
        IntervalSet some = Domain(f).Subtract(IntervalSet::Point(0));
        IntervalSet missing = some.Subtract(hull.Get(f));
        if (hull.Get(f).SubsetOf(some) && !missing.empty() && missing.size() <= 2 &&
            missing.size() < hull.Get(f).size() + 1) {
          hull.Set(f, some);
        }
      }
      auto e = SubtractSpace(hull, u, 64);
      if (e) {
        Simplify(*e, u, hull);
        if (e->size() <= 6 && e->size() < u.size()) {
          out.push_back({hull, std::move(*e), std::move(u)});
          return out;
        }
      }
    }
    for (auto& b : u) out.push_back({b, {}, {b}});
    return out;
  }

  // Rewrites the excluded boxes `e` (the hull minus `u`) as fewer, wider ones: each field
  // widened to the hull's while the box stays clear of `u`, boxes inside others dropped, and
  // each box cut back to what the others do not cover when that leaves one box. The union is
  // unchanged.
  static void Simplify(Space& e, const Space& u, const Box& hull) {
    MergeBoxes(e);
    static constexpr Field kOrder[] = {
        Field::kNfproto, Field::kIifname, Field::kOifname, Field::kSaddr4, Field::kSaddr6,
        Field::kDaddr4,  Field::kDaddr6,  Field::kSport,   Field::kDport,  Field::kTcpFlags,
        Field::kMark,    Field::kPkttype, Field::kL4proto, Field::kCtState};
    for (Box& b : e) {
      for (Field f : kOrder) {
        if (!b.Constrained(f) || b.Get(f) == hull.Get(f)) continue;
        Box wider = b;
        wider.Set(f, hull.Get(f));
        bool clear =
            std::none_of(u.begin(), u.end(), [&](const Box& x) { return x.Intersects(wider); });
        if (clear) b = std::move(wider);
      }
    }
    Space kept;
    for (size_t i = 0; i < e.size(); ++i) {
      bool inside = false;
      for (size_t j = 0; j < e.size() && !inside; ++j) {
        if (i == j) continue;
        inside = e[i].SubsetOf(e[j]) && (!(e[j].SubsetOf(e[i])) || j < i);
      }
      if (!inside) kept.push_back(e[i]);
    }
    for (size_t i = 0; i < kept.size(); ++i) {
      Space others;
      for (size_t j = 0; j < kept.size(); ++j) {
        if (j != i) others.push_back(kept[j]);
      }
      auto rest = SubtractSpace(kept[i], others, 4);
      auto differs = [&](const Box& b) {
        uint32_t m = 0;
        for (Field f : kAllFields) {
          if (!(b.Get(f) == hull.Get(f))) m |= Bit(f);
        }
        return m;
      };
      if (rest && rest->size() == 1 && differs(rest->front()) == differs(kept[i])) {
        kept[i] = std::move(rest->front());
      }
    }
    e = std::move(kept);
  }

  static bool Drops(VerdictKind k) { return k == VerdictKind::kDrop || k == VerdictKind::kReject; }

  std::string Consequence(const Region& r) const {
    VerdictKind b = r.before.verdict, a = r.after.verdict;
    if (!r.certain || b == VerdictKind::kUnknown || a == VerdictKind::kUnknown) {
      return "may change: depends on what fwgate does not model";
    }
    bool any_source = std::none_of(r.match.begin(), r.match.end(),
                                   [](const FieldValues& f) { return f.field == "saddr"; });
    switch (r.ct_state) {
      case kCtEstablished:
        if (b == VerdictKind::kAccept && Drops(a)) {
          if (!r.new_only.empty()) {
            return fmt::format(
                "open connections matching this will be cut; {} {} accepted for new connections "
                "only",
                fmt::join(r.new_only, "; "), r.new_only.size() == 1 ? "is" : "are");
          }
          return "open connections matching this will be cut";
        }
        if (Drops(b) && a == VerdictKind::kAccept) return "established traffic now accepted";
        break;
      case kCtRelated:
        if (b == VerdictKind::kAccept && Drops(a)) {
          return "related traffic of open connections (ICMP errors, helper connections) will be "
                 "dropped";
        }
        break;
      case kCtNew:
        if (b == VerdictKind::kAccept && Drops(a)) {
          if (r.as_established.first == VerdictKind::kAccept &&
              r.as_established.second == VerdictKind::kAccept) {
            return "new connections refused; existing sessions keep going until they close";
          }
          return "new connections refused";
        }
        if (Drops(b) && a == VerdictKind::kAccept) {
          return any_source ? "new connections now accepted from any source"
                            : "new connections now accepted";
        }
        break;
      case kCtInvalid:
        if (b == VerdictKind::kAccept && Drops(a))
          return "packets conntrack marks invalid now dropped";
        if (Drops(b) && a == VerdictKind::kAccept)
          return "packets conntrack marks invalid now accepted";
        break;
      case kCtUntracked:
        if (b == VerdictKind::kAccept && Drops(a)) return "untracked (notrack) packets now dropped";
        if (Drops(b) && a == VerdictKind::kAccept)
          return "untracked (notrack) packets now accepted";
        break;
      default:
        break;
    }
    if (b == VerdictKind::kDrop && a == VerdictKind::kReject) {
      return "now rejected (the sender gets a reset or an ICMP error) instead of silently dropped";
    }
    if (b == VerdictKind::kReject && a == VerdictKind::kDrop) {
      return "now silently dropped instead of rejected";
    }
    return fmt::format("{} -> {}", VerdictName(b), VerdictName(a));
  }

  TrafficDiff Build() {
    Side sc{&cur_, &*mcur_, o_.current_sources, &o_.current_interfaces};
    Side sp{&prop_, &*mprop_, o_.proposed_sources, &o_.proposed_interfaces};
    std::vector<Region> regions;
    for (auto& [path, pieces] : pieces_) {
      // Group pieces with the same outcomes and assumptions.
      std::map<std::string, std::vector<Piece*>> groups;
      for (auto& p : pieces) {
        std::string key = TrailKey(*p.before) + "#" + TrailKey(*p.after) + "#";
        // Uncertain pieces group by the conditions they depend on, whatever was assumed.
        for (const auto& d : p.decisions) key += fmt::format("{};", d.key);
        groups[key].push_back(&p);
      }
      for (auto& [key, group] : groups) {
        Space boxes;
        for (Piece* p : group) boxes.push_back(p->box);
        MergeBoxes(boxes);
        const Piece& any = *group.front();
        for (uint32_t st : kCtStates) {
          Space in_state;
          for (const Box& m : boxes) {
            Box b = m;
            if (b.Restrict(Field::kCtState, IntervalSet::Point(st)))
              in_state.push_back(std::move(b));
          }
          if (in_state.empty()) continue;
          MergeBoxes(in_state);
          for (auto& shape : Shapes(std::move(in_state))) {
            Region r;
            r.path = path;
            r.ct_state = st;
            Box hull = shape.hull;
            const IntervalSet& fam = hull.Get(Field::kNfproto);
            r.family = fam.Count() == 2 ? 0 : fam.min() == kNfprotoIpv6 ? 6 : 4;
            Box shown = hull;
            shown.Clear(Field::kCtState);
            // The family is reported on its own; excluded parts name it when it differs.
            Box text = shown;
            text.Clear(Field::kNfproto);
            r.match = PredicateFields(text);
            r.predicate = PredicateText(text);
            for (const Box& e : shape.except) {
              Box ex = e;
              ex.Clear(Field::kCtState);
              r.except.push_back(PredicateText(ex, shown));
              Box rel = ex;
              for (Field f : kAllFields) {
                if (ex.Get(f) == shown.Get(f)) rel.Clear(f);
              }
              r.except_match.push_back(PredicateFields(rel));
            }
            if (!r.except.empty()) {
              r.predicate += " except " + fmt::format("{}", fmt::join(r.except, "; "));
            }
            // The rules deciding this region: those of the pieces inside it.
            std::vector<Piece*> mine;
            for (Piece* p : group) {
              if (!p->box.Get(Field::kCtState).Contains(st)) continue;
              for (const Box& b : shape.boxes) {
                if (p->box.Intersects(b)) {
                  mine.push_back(p);
                  break;
                }
              }
            }
            if (mine.empty()) mine.push_back(group.front());
            r.before = Outcome(sc, *mine.front()->before);
            r.after = Outcome(sp, *mine.front()->after);
            Others(sc, mine, true, r.before);
            Others(sp, mine, false, r.after);
            r.certain = any.decisions.empty() && r.before.verdict != VerdictKind::kUnknown &&
                        r.after.verdict != VerdictKind::kUnknown;
            for (const auto& d : any.decisions) {
              const std::string& what = keys_.Describe(d.key);
              if (std::find(r.depends_on.begin(), r.depends_on.end(), what) == r.depends_on.end()) {
                r.depends_on.push_back(what);
              }
            }
            r.boxes = std::move(shape.boxes);
            r.example = ExamplePacket(r.boxes.front(), path);
            r.example_text = PacketText(r.example, path);
            regions.push_back(std::move(r));
          }
        }
      }
    }
    // Report order: path, family, predicate, ct state.
    auto state_rank = [](uint32_t s) {
      for (size_t i = 0; i < kCtStates.size(); ++i) {
        if (kCtStates[i] == s) return i;
      }
      return kCtStates.size();
    };
    std::stable_sort(regions.begin(), regions.end(), [&](const Region& x, const Region& y) {
      if (x.path != y.path) return x.path < y.path;
      if (x.family != y.family) return x.family < y.family;
      if (x.predicate != y.predicate) return x.predicate < y.predicate;
      return state_rank(x.ct_state) < state_rank(y.ct_state);
    });
    diff_.regions_total = regions.size();
    if (regions.size() > o_.max_regions) {
      Note(fmt::format("{} regions; the first {} are listed", regions.size(), o_.max_regions));
      regions.resize(o_.max_regions);
    }
    for (size_t i = 0; i < regions.size(); ++i) regions[i].id = fmt::format("t{}", i + 1);
    OtherStates(regions);
    for (Region& r : regions) r.consequence = Consequence(r);
    diff_.regions = std::move(regions);
    return std::move(diff_);
  }

  const nft::Ruleset& cur_;
  const nft::Ruleset& prop_;
  const diff::Plan& plan_;
  const TrafficOptions& o_;
  KeyTable keys_;
  std::optional<Model> mcur_, mprop_;
  std::vector<EvalResult> results_;  // the pieces point into these
  std::map<Path, std::vector<Piece>> pieces_;
  TrafficDiff diff_;
};

}  // namespace

std::string_view ConfirmStatusName(ConfirmStatus s) {
  switch (s) {
    case ConfirmStatus::kConfirmed:
      return "confirmed";
    case ConfirmStatus::kDefect:
      return "defect";
    case ConfirmStatus::kUnconfirmed:
      return "unconfirmed";
  }
  return "?";
}

TrafficDiff CompareTraffic(const nft::Ruleset& current, const nft::Ruleset& proposed,
                           const diff::Plan& plan, const TrafficOptions& options) {
  return Comparer(current, proposed, plan, options).Run();
}

// --- policy queries ---

bool IsEstablishedCut(const Region& r) {
  return (r.ct_state == kCtEstablished || r.ct_state == kCtRelated) &&
         r.before.verdict == VerdictKind::kAccept &&
         (r.after.verdict == VerdictKind::kDrop || r.after.verdict == VerdictKind::kReject);
}

std::vector<const Region*> EstablishedCut(const TrafficDiff& d) {
  std::vector<const Region*> out;
  for (const auto& r : d.regions) {
    if (IsEstablishedCut(r)) out.push_back(&r);
  }
  return out;
}

std::vector<const Region*> NewlyAccepted(const TrafficDiff& d, bool any_source) {
  std::vector<const Region*> out;
  for (const auto& r : d.regions) {
    if (r.ct_state != kCtNew || r.after.verdict != VerdictKind::kAccept) continue;
    if (r.before.verdict != VerdictKind::kDrop && r.before.verdict != VerdictKind::kReject)
      continue;
    if (any_source && std::any_of(r.match.begin(), r.match.end(),
                                  [](const FieldValues& f) { return f.field == "saddr"; })) {
      continue;
    }
    out.push_back(&r);
  }
  return out;
}

std::vector<const Region*> PolicyOpened(const TrafficDiff& d) {
  std::vector<const Region*> out;
  for (const auto& r : d.regions) {
    if (r.after.verdict != VerdictKind::kAccept) continue;
    if (r.before.verdict != VerdictKind::kDrop && r.before.verdict != VerdictKind::kReject)
      continue;
    bool by_policy = std::any_of(r.after.decided_by.begin(), r.after.decided_by.end(),
                                 [](const RuleCite& c) { return !c.handle.has_value(); });
    if (by_policy) out.push_back(&r);
  }
  return out;
}

std::vector<NewOnlyPort> NewOnlyPorts(const TrafficDiff& d) {
  std::vector<NewOnlyPort> out;
  for (const Region* r : EstablishedCut(d)) {
    for (size_t i = 0; i < r->new_only.size(); ++i) {
      NewOnlyPort p;
      p.region = r;
      p.predicate = r->new_only[i];
      for (const auto& f : r->new_only_match[i]) {
        if (f.field == "dport") p.ports = f.any_of.empty() ? f.except : f.any_of;
      }
      out.push_back(std::move(p));
    }
  }
  return out;
}

}  // namespace fwgate::traffic
