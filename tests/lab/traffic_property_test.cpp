// Property test of the traffic model on real rulesets: every bundled ruleset (rulesets/*.nft)
// and every nftables example that loads (/usr/share/doc/nftables/examples/*.nft) is loaded
// through the kernel; the symbolic evaluation of each path and family over the whole header
// space is compared with the concrete per-packet evaluator on random packets (drawn inside the
// symbolic regions and uniformly); a second load of the same file compares equal structurally
// and in traffic; and the bundled Ceph variants' example packets get their regions' verdicts.
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <random>

#include "gate/diff/evaluate.h"
#include "gate/diff/packet_eval.h"
#include "gate/diff/traffic.h"
#include "gate/nft/loader.h"
#include "sys/netns.h"

namespace fwgate::traffic {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> Files() {
  std::vector<std::string> out;
  for (const char* dir : {FWGATE_SOURCE_DIR "/rulesets", "/usr/share/doc/nftables/examples"}) {
    if (!fs::exists(dir)) continue;
    for (const auto& e : fs::directory_iterator(dir)) {
      if (e.path().extension() == ".nft") out.push_back(e.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

u128 RandomIn(const IntervalSet& s, std::mt19937_64& rng) {
  const auto& iv = s.intervals();
  const Interval& i = iv[rng() % iv.size()];
  u128 span = i.hi - i.lo;
  u128 r = (u128{rng()} << 64) | rng();
  if (span == ~u128{0}) return r;
  // Ends of intervals are where rules differ: draw them often.
  switch (rng() % 4) {
    case 0:
      return i.lo;
    case 1:
      return i.hi;
    default:
      return i.lo + r % (span + 1);
  }
}

// A real interface name is zero-padded after its end.
u128 AsName(u128 v) {
  uint8_t b[16];
  ToBytes(v, b, 16);
  bool end = false;
  for (auto& c : b) {
    end |= c == 0;
    if (end) c = 0;
  }
  return FromBytes(b, 16);
}

Packet RandomPacket(const Box& b, std::mt19937_64& rng) {
  Packet p;
  for (Field f : kAllFields) p.Set(f, RandomIn(b.Get(f), rng));
  p.Set(Field::kIifname, AsName(p.Get(Field::kIifname)));
  p.Set(Field::kOifname, AsName(p.Get(Field::kOifname)));
  return p;
}

struct Tally {
  size_t packets = 0, certain = 0, mismatches = 0, uncovered = 0;
};

// Symbolic result vs concrete evaluation for `n` packets of each path and family.
void CheckModel(const nft::LoadResult& r, size_t n, Tally& t, const std::string& name) {
  KeyTable keys;
  ModelOptions mo;
  mo.interface_names = r.ruleset.interfaces;
  Model m(r.ruleset, keys, mo);
  ConcreteOptions co;
  co.interface_names = r.ruleset.interfaces;
  std::mt19937_64 rng(12345);
  for (Path path : kPaths) {
    for (bool v6 : {false, true}) {
      EvalResult e = EvaluatePath(m, path, v6, {Box()});
      ASSERT_FALSE(e.results.empty()) << name;
      Box dom = PathDomain(path, v6);
      for (size_t k = 0; k < n; ++k) {
        Packet p = k % 3 == 0
                       ? RandomPacket(dom, rng)
                       : RandomPacket(*e.results[rng() % e.results.size()].box.Intersect(dom), rng);
        if (!dom.Contains(p.v)) continue;  // a name cut at its end may have become ""
        std::vector<const PathResult*> hit;
        for (const auto& x : e.results) {
          if (x.box.Contains(p.v)) hit.push_back(&x);
        }
        ++t.packets;
        if (hit.empty()) {
          ++t.uncovered;
          ADD_FAILURE() << name << " " << PathName(path) << ": no region holds "
                        << PacketText(p, path);
          continue;
        }
        bool certain = hit.size() == 1 && hit[0]->decisions.empty() &&
                       hit[0]->verdict.kind != VerdictKind::kUnknown;
        auto concrete = EvaluatePacket(r.ruleset, path, p, co);
        if (!certain) continue;
        ++t.certain;
        bool ok = concrete.size() == 1 && concrete[0].verdict == hit[0]->verdict.kind;
        if (!ok) {
          ++t.mismatches;
          ADD_FAILURE() << name << " " << PathName(path) << ": " << PacketText(p, path)
                        << ": symbolic " << VerdictName(hit[0]->verdict.kind) << ", concrete "
                        << (concrete.size() == 1 ? std::string(VerdictName(concrete[0].verdict))
                                                 : std::to_string(concrete.size()) + " outcomes")
                        << " (symbolic rule "
                        << (hit[0]->trail.empty() ? -9 : hit[0]->trail.back().rule) << ", box "
                        << PredicateText(hit[0]->box) << ")";
        }
      }
    }
  }
}

TEST(TrafficProperty, SymbolicRegionsAgreeWithConcreteEvaluation) {
  if (auto st = sys::CanCreateNamespaces(); !st) GTEST_SKIP() << st.error().ToString();
  Tally t;
  size_t loaded = 0;
  for (const auto& f : Files()) {
    nft::LoadResult r = nft::LoadRulesetFile(f);
    if (r.status != nft::LoadStatus::kOk) {
      std::cerr << "not loaded (" << nft::LoadStatusName(r.status) << "): " << f << ": " << r.reason
                << "\n";
      continue;
    }
    ++loaded;
    SCOPED_TRACE(f);
    CheckModel(r, 400, t, fs::path(f).filename().string());
    // Another load of the same file: no structural and no traffic change (binding chains and
    // anonymous sets get new names on every load).
    nft::LoadResult again = nft::LoadRulesetFile(f);
    ASSERT_EQ(again.status, nft::LoadStatus::kOk);
    diff::Plan plan = diff::DiffRulesets(r.ruleset, again.ruleset);
    EXPECT_TRUE(plan.empty()) << f;
    TrafficOptions o;
    o.current_interfaces = r.ruleset.interfaces;
    o.proposed_interfaces = again.ruleset.interfaces;
    EXPECT_TRUE(CompareTraffic(r.ruleset, again.ruleset, plan, o).empty()) << f;
  }
  std::cerr << loaded << " rulesets, " << t.packets << " packets, " << t.certain
            << " with a certain symbolic verdict, " << t.mismatches << " mismatches\n";
  EXPECT_GE(loaded, 10u);
  EXPECT_GT(t.certain, t.packets / 2);
  EXPECT_EQ(t.mismatches, 0u);
  EXPECT_EQ(t.uncovered, 0u);
}

TEST(TrafficProperty, CephVariantsExamplesGetTheirRegionsVerdicts) {
  if (auto st = sys::CanCreateNamespaces(); !st) GTEST_SKIP() << st.error().ToString();
  std::string dir = FWGATE_SOURCE_DIR "/rulesets/";
  nft::LoadResult base = nft::LoadRulesetFile(dir + "ceph-node.nft");
  ASSERT_EQ(base.status, nft::LoadStatus::kOk) << base.reason;
  for (const char* v : {"ceph-node-no-established.nft", "ceph-node-osd-new-only.nft",
                        "ceph-node-output-drop.nft", "ceph-node-safe-change.nft"}) {
    SCOPED_TRACE(v);
    nft::LoadResult prop = nft::LoadRulesetFile(dir + v);
    ASSERT_EQ(prop.status, nft::LoadStatus::kOk) << prop.reason;
    diff::Plan plan = diff::DiffRulesets(base.ruleset, prop.ruleset);
    TrafficOptions o;
    o.current_interfaces = base.ruleset.interfaces;
    o.proposed_interfaces = prop.ruleset.interfaces;
    TrafficDiff d = CompareTraffic(base.ruleset, prop.ruleset, plan, o);
    EXPECT_FALSE(d.empty());
    for (const Region& r : d.regions) {
      if (!r.certain) continue;
      auto b = EvaluatePacket(base.ruleset, r.path, r.example, {base.ruleset.interfaces});
      auto a = EvaluatePacket(prop.ruleset, r.path, r.example, {prop.ruleset.interfaces});
      ASSERT_EQ(b.size(), 1u);
      ASSERT_EQ(a.size(), 1u);
      EXPECT_EQ(b[0].verdict, r.before.verdict) << r.id << " " << r.example_text;
      EXPECT_EQ(a[0].verdict, r.after.verdict) << r.id << " " << r.example_text;
    }
  }
}

}  // namespace
}  // namespace fwgate::traffic
