// What it measures: `fwgate diff` on generated storage-node rulesets of 10, 1k and 10k rules
// (saddr/dport matches, anonymous and named sets, counters) and on a named set of 100k elements:
//   BM_DiffRulesets/N        the structural diff of two models that differ in a few rules and
//                            elements (pure CPU; models loaded through the kernel once).
//   BM_DiffLargeSet/100000   the same for a 100k-element set differing in 10 elements.
//   BM_DumpToModel/N         sys::DumpRuleset of the generated ruleset, run inside a namespace
//                            it was loaded into once with libnftables.
//   BM_DumpBothAndDiff/N     fwgate's whole pipeline on two live namespaces: dump both, diff.
//   BM_TrafficDiff/N         the traffic comparison of the same two models (which packets change
//                            verdict, per path, family and ct state, with examples), given
//                            their plan; BM_PlanAndTrafficDiff/N both, as `fwgate diff` runs.
//   BM_TrafficDiffLargeSet/N the traffic comparison of an N-element set differing in 10
//                            elements (10k and 100k).
// Baseline (what a user does today): BM_BaselineNftListAndTextDiff/N = `nft list ruleset` of both
// namespaces through libnftables (buffered output), then a Myers line diff of the two listings.
// Compare BM_DumpBothAndDiff with it.
// The commands as users run them, on the generated files, in the same run:
//   BM_DiffCommand/N            `fwgate diff --current A --proposed B` (process start to exit:
//                               both loads through the kernel, the plan and the traffic diff).
//   BM_BaselineLoadListDiff/N   the same through nft alone: `nft -f A` and `nft -f B` into two
//                               fresh namespaces (one after the other), `nft list ruleset` of
//                               each, a Myers line diff of the listings.
//   BM_ValidateCommand/N        `fwgate validate A`.
//   BM_BaselineNftCheck/N       `nft -c -f A` in a fresh namespace (made outside the timing).
// Target: the diff of two 10k-rule rulesets well under 1 s; validate no slower than nft -c.
// The dump benchmarks work on helper threads inside the namespaces: read their wall time
// (UseRealTime), not the CPU column. Needs CAP_SYS_ADMIN + CAP_NET_ADMIN (namespaces); each
// benchmark skips with a message without.
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <nftables/libnftables.h>
#include <sys/resource.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "gate/diff/diff.h"
#include "gate/diff/traffic.h"
#include "gate/nft/loader.h"
#include "sys/netns.h"
#include "sys/nft_netlink.h"
#include "sys/spawn.h"

namespace {

using fwgate::nft::Ruleset;

// A storage node's input chain with `rules` rules. `variant` changes a few of them (and a few
// elements of the named set): one rule removed, one inserted, two edited, three elements swapped.
std::string GenerateRuleset(int rules, bool variant, int set_elements = 200) {
  std::string out = "table inet storage {\n  set clients {\n    type ipv4_addr\n    elements = { ";
  for (int i = 0; i < set_elements; ++i) {
    int e = (variant && i < 3) ? i + set_elements : i;
    out +=
        fmt::format("{}10.{}.{}.{}", i == 0 ? "" : ", ", 100 + (e >> 16), (e >> 8) & 255, e & 255);
  }
  out += " }\n  }\n  chain input {\n    type filter hook input priority 0; policy drop;\n";
  out += "    ct state established,related accept\n    iif \"lo\" accept\n";
  for (int i = 0; i < rules; ++i) {
    if (variant && i == rules / 3) continue;                                    // removed
    if (variant && i == rules / 2) out += "    tcp dport 9999 counter drop\n";  // inserted
    int port = (variant && (i == rules / 4 || i == (3 * rules) / 4)) ? 7999 : 6800 + i % 500;
    if (i % 10 == 9) {
      out += fmt::format("    ip saddr @clients tcp dport {{ {}, {} }} counter accept\n", port,
                         port + 1);
    } else {
      out += fmt::format("    ip saddr 10.{}.{}.{} tcp dport {} counter accept\n", (i >> 16) & 255,
                         (i >> 8) & 255, i & 255, port);
    }
  }
  out += "  }\n}\n";
  return out;
}

std::string GenerateLargeSet(int elements, bool variant) {
  std::string out = "table inet storage {\n  set peers {\n    type ipv4_addr\n    elements = { ";
  for (int i = 0; i < elements; ++i) {
    int e = (variant && i % (elements / 10) == 0) ? i + elements : i;
    out +=
        fmt::format("{}10.{}.{}.{}", i == 0 ? "" : ", ", (e >> 16) & 255, (e >> 8) & 255, e & 255);
  }
  out +=
      " }\n  }\n  chain input {\n    type filter hook input priority 0; policy drop;\n"
      "    ip saddr @peers accept\n  }\n}\n";
  return out;
}

// Runs `text` through libnftables in the calling thread's namespace; returns nft's errors.
std::string NftRun(const std::string& text, std::string* output = nullptr) {
  std::unique_ptr<nft_ctx, decltype(&nft_ctx_free)> ctx(nft_ctx_new(NFT_CTX_DEFAULT),
                                                        &nft_ctx_free);
  nft_ctx_buffer_output(ctx.get());
  nft_ctx_buffer_error(ctx.get());
  int rc = nft_run_cmd_from_buffer(ctx.get(), text.c_str());
  if (output != nullptr) *output = nft_ctx_get_output_buffer(ctx.get());
  return rc == 0 ? std::string() : std::string(nft_ctx_get_error_buffer(ctx.get()));
}

// A namespace holding a loaded ruleset, cached per generated text.
struct LoadedNs {
  fwgate::sys::NetnsHandle ns;
  std::string error;
};
LoadedNs& Namespace(const std::string& key, const std::string& text) {
  static std::map<std::string, LoadedNs> cache;
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  LoadedNs& l = cache[key];
  if (auto st = fwgate::sys::CanCreateNamespaces(); !st) {
    l.error = "needs namespaces: " + st.error().ToString();
    return l;
  }
  auto ns = fwgate::sys::CreateAnonymous();
  if (!ns) {
    l.error = ns.error().ToString();
    return l;
  }
  l.ns = std::move(*ns);
  std::string err;
  if (auto st = fwgate::sys::RunInNetns(l.ns, [&] { err = NftRun(text); }); !st) {
    err = st.error().ToString();
  }
  if (!err.empty()) l.error = "loading generated ruleset: " + err;
  return l;
}

// Both sides as models, loaded through the kernel once per size.
struct ModelPair {
  Ruleset current, proposed;
  std::string error;
};
const ModelPair& Models(const std::string& key, const std::string& a, const std::string& b) {
  static std::map<std::string, ModelPair> cache;
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  ModelPair& p = cache[key];
  auto load = [&](const std::string& text, Ruleset& out) {
    auto r = fwgate::nft::LoadRulesetText(text, key);
    if (r.status != fwgate::nft::LoadStatus::kOk) {
      p.error = "loading generated ruleset: " + r.reason;
      return;
    }
    out = std::move(r.ruleset);
  };
  load(a, p.current);
  if (p.error.empty()) load(b, p.proposed);
  return p;
}

void BM_DiffRulesets(benchmark::State& state) {
  int n = static_cast<int>(state.range(0));
  const ModelPair& m =
      Models(fmt::format("rules-{}", n), GenerateRuleset(n, false), GenerateRuleset(n, true));
  if (!m.error.empty()) return state.SkipWithError(m.error.c_str());
  size_t changes = 0;
  for (auto _ : state) {
    auto plan = fwgate::diff::DiffRulesets(m.current, m.proposed);
    changes = plan.changes.size();
    benchmark::DoNotOptimize(plan);
  }
  state.counters["changes"] = static_cast<double>(changes);
  state.counters["rules"] = static_cast<double>(m.current.RuleCount());
}
BENCHMARK(BM_DiffRulesets)->Arg(10)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

void BM_DiffLargeSet(benchmark::State& state) {
  int n = static_cast<int>(state.range(0));
  const ModelPair& m =
      Models(fmt::format("set-{}", n), GenerateLargeSet(n, false), GenerateLargeSet(n, true));
  if (!m.error.empty()) return state.SkipWithError(m.error.c_str());
  size_t changes = 0;
  for (auto _ : state) {
    auto plan = fwgate::diff::DiffRulesets(m.current, m.proposed);
    changes = plan.changes.size();
    benchmark::DoNotOptimize(plan);
  }
  state.counters["changes"] = static_cast<double>(changes);
}
BENCHMARK(BM_DiffLargeSet)->Arg(100000)->Unit(benchmark::kMillisecond);

void BM_TrafficDiff(benchmark::State& state) {
  int n = static_cast<int>(state.range(0));
  const ModelPair& m =
      Models(fmt::format("rules-{}", n), GenerateRuleset(n, false), GenerateRuleset(n, true));
  if (!m.error.empty()) return state.SkipWithError(m.error.c_str());
  auto plan = fwgate::diff::DiffRulesets(m.current, m.proposed);
  size_t regions = 0;
  for (auto _ : state) {
    auto d = fwgate::traffic::CompareTraffic(m.current, m.proposed, plan);
    regions = d.regions.size();
    benchmark::DoNotOptimize(d);
  }
  state.counters["changes"] = static_cast<double>(plan.changes.size());
  state.counters["regions"] = static_cast<double>(regions);
}
BENCHMARK(BM_TrafficDiff)->Arg(10)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

void BM_PlanAndTrafficDiff(benchmark::State& state) {
  int n = static_cast<int>(state.range(0));
  const ModelPair& m =
      Models(fmt::format("rules-{}", n), GenerateRuleset(n, false), GenerateRuleset(n, true));
  if (!m.error.empty()) return state.SkipWithError(m.error.c_str());
  for (auto _ : state) {
    auto plan = fwgate::diff::DiffRulesets(m.current, m.proposed);
    auto d = fwgate::traffic::CompareTraffic(m.current, m.proposed, plan);
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK(BM_PlanAndTrafficDiff)->Arg(10)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

// The large-set pair with its elements filled in after a small load through the kernel (the
// kernel's encoding of an ipv4_addr element is its 4 key bytes), so the traffic comparison is
// measured apart from the load (BM_DiffLargeSet loads the same size through the kernel).
const ModelPair& SynthesizedLargeSet(int n) {
  static std::map<int, ModelPair> cache;
  auto it = cache.find(n);
  if (it != cache.end()) return it->second;
  ModelPair& p = cache[n];
  const ModelPair& small = Models(fmt::format("set-small-{}", n), GenerateLargeSet(10, false),
                                  GenerateLargeSet(10, true));
  if (!small.error.empty()) {
    p.error = small.error;
    return p;
  }
  p.current = small.current;
  p.proposed = small.proposed;
  for (int side = 0; side < 2; ++side) {
    Ruleset& rs = side == 0 ? p.current : p.proposed;
    for (auto& t : rs.tables) {
      for (auto& s : t.sets) {
        if (s.name != "peers") continue;
        s.elements.clear();
        for (int i = 0; i < n; ++i) {
          int e = (side == 1 && i % (n / 10) == 0) ? i + n : i;
          fwgate::nft::SetElement el;
          el.key = {10, static_cast<uint8_t>((e >> 16) & 255), static_cast<uint8_t>((e >> 8) & 255),
                    static_cast<uint8_t>(e & 255)};
          s.elements.push_back(std::move(el));
        }
      }
    }
  }
  return p;
}

void BM_TrafficDiffLargeSet(benchmark::State& state) {
  int n = static_cast<int>(state.range(0));
  const ModelPair& m = SynthesizedLargeSet(n);
  if (!m.error.empty()) return state.SkipWithError(m.error.c_str());
  auto plan = fwgate::diff::DiffRulesets(m.current, m.proposed);
  size_t regions = 0;
  for (auto _ : state) {
    auto d = fwgate::traffic::CompareTraffic(m.current, m.proposed, plan);
    regions = d.regions.size();
    benchmark::DoNotOptimize(d);
  }
  state.counters["changes"] = static_cast<double>(plan.changes.size());
  state.counters["regions"] = static_cast<double>(regions);
}
BENCHMARK(BM_TrafficDiffLargeSet)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);

void BM_DumpToModel(benchmark::State& state) {
  int n = static_cast<int>(state.range(0));
  LoadedNs& l = Namespace(fmt::format("cur-{}", n), GenerateRuleset(n, false));
  if (!l.error.empty()) return state.SkipWithError(l.error.c_str());
  std::string error;
  auto st = fwgate::sys::RunInNetns(l.ns, [&] {
    for (auto _ : state) {
      auto rs = fwgate::sys::DumpRuleset();
      if (!rs) {
        error = rs.error().ToString();
        break;
      }
      benchmark::DoNotOptimize(rs);
    }
  });
  if (!st) error = st.error().ToString();
  if (!error.empty()) state.SkipWithError(error.c_str());
}
BENCHMARK(BM_DumpToModel)->Arg(10)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

void BM_DumpBothAndDiff(benchmark::State& state) {
  int n = static_cast<int>(state.range(0));
  LoadedNs& a = Namespace(fmt::format("cur-{}", n), GenerateRuleset(n, false));
  LoadedNs& b = Namespace(fmt::format("prop-{}", n), GenerateRuleset(n, true));
  if (!a.error.empty()) return state.SkipWithError(a.error.c_str());
  if (!b.error.empty()) return state.SkipWithError(b.error.c_str());
  for (auto _ : state) {
    fwgate::Result<Ruleset> ra = fwgate::Error::Unavailable("not run"),
                            rb = fwgate::Error::Unavailable("not run");
    (void)fwgate::sys::RunInNetns(a.ns, [&] { ra = fwgate::sys::DumpRuleset(); });
    (void)fwgate::sys::RunInNetns(b.ns, [&] { rb = fwgate::sys::DumpRuleset(); });
    if (!ra || !rb) return state.SkipWithError("dump failed");
    auto plan = fwgate::diff::DiffRulesets(*ra, *rb);
    benchmark::DoNotOptimize(plan);
  }
}
BENCHMARK(BM_DumpBothAndDiff)
    ->Arg(10)
    ->Arg(1000)
    ->Arg(10000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Myers' O(ND) line diff (the algorithm of diff(1)/git); returns the edit script length and
// walks it back, as a text diff that prints hunks must.
size_t MyersLineDiff(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b) {
  const int n = static_cast<int>(a.size()), m = static_cast<int>(b.size());
  const int max = n + m;
  std::vector<int> v(2 * static_cast<size_t>(max) + 2, 0);
  std::vector<std::vector<int>> trace;
  auto at = [&](int k) -> int& { return v[static_cast<size_t>(static_cast<long>(k) + max + 1)]; };
  for (int d = 0; d <= max; ++d) {
    trace.emplace_back(v.begin() + (max + 1 - d), v.begin() + (max + 2 + d));
    for (int k = -d; k <= d; k += 2) {
      int x = (k == -d || (k != d && at(k - 1) < at(k + 1))) ? at(k + 1) : at(k - 1) + 1;
      int y = x - k;
      while (x < n && y < m && a[static_cast<size_t>(x)] == b[static_cast<size_t>(y)]) {
        ++x;
        ++y;
      }
      at(k) = x;
      if (x >= n && y >= m) {
        // Backtrack through the trace to recover the edit script.
        size_t edits = 0;
        int cx = n, cy = m;
        for (int dd = d; dd > 0; --dd) {
          const auto& pv = trace[static_cast<size_t>(dd)];
          auto pat = [&](int kk) { return pv[static_cast<size_t>(static_cast<long>(kk) + dd)]; };
          int kk = cx - cy;
          int pk = (kk == -dd || (kk != dd && pat(kk - 1) < pat(kk + 1))) ? kk + 1 : kk - 1;
          int px = pat(pk), py = px - pk;
          cx = px;
          cy = py;
          ++edits;
        }
        return edits;
      }
    }
  }
  return static_cast<size_t>(max);
}

std::vector<uint32_t> Lines(const std::string& text,
                            std::unordered_map<std::string_view, uint32_t>& intern) {
  std::vector<uint32_t> ids;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    auto [it, _] = intern.try_emplace(std::string_view(text).substr(pos, end - pos),
                                      static_cast<uint32_t>(intern.size()));
    ids.push_back(it->second);
    pos = end + 1;
  }
  return ids;
}

void BM_BaselineNftListAndTextDiff(benchmark::State& state) {
  int n = static_cast<int>(state.range(0));
  LoadedNs& a = Namespace(fmt::format("cur-{}", n), GenerateRuleset(n, false));
  LoadedNs& b = Namespace(fmt::format("prop-{}", n), GenerateRuleset(n, true));
  if (!a.error.empty()) return state.SkipWithError(a.error.c_str());
  if (!b.error.empty()) return state.SkipWithError(b.error.c_str());
  size_t edits = 0;
  for (auto _ : state) {
    std::string ta, tb;
    (void)fwgate::sys::RunInNetns(a.ns, [&] { NftRun("list ruleset", &ta); });
    (void)fwgate::sys::RunInNetns(b.ns, [&] { NftRun("list ruleset", &tb); });
    std::unordered_map<std::string_view, uint32_t> intern;
    auto la = Lines(ta, intern);
    auto lb = Lines(tb, intern);
    edits = MyersLineDiff(la, lb);
    benchmark::DoNotOptimize(edits);
  }
  state.counters["edit_lines"] = static_cast<double>(edits);
}
BENCHMARK(BM_BaselineNftListAndTextDiff)
    ->Arg(10)
    ->Arg(1000)
    ->Arg(10000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The generated pair written once to files (a private temporary directory, removed at exit).
struct Files {
  std::filesystem::path dir, current, proposed;
};
const Files& GeneratedFiles(int n) {
  static std::map<int, Files> cache;
  static struct Cleanup {
    ~Cleanup() {
      std::error_code ec;
      for (const auto& [_, f] : cache) std::filesystem::remove_all(f.dir, ec);
    }
  } cleanup;
  auto it = cache.find(n);
  if (it != cache.end()) return it->second;
  Files& f = cache[n];
  std::string tmpl = (std::filesystem::temp_directory_path() / "fwgate-diff-bench-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) return f;
  f.dir = tmpl;
  f.current = f.dir / "current.nft";
  f.proposed = f.dir / "proposed.nft";
  std::ofstream(f.current) << GenerateRuleset(n, false);
  std::ofstream(f.proposed) << GenerateRuleset(n, true);
  return f;
}

// Runs argv (no shell), inside `ns` when given; the error or "" on exit 0.
std::string Run(const std::vector<std::string>& argv, std::string* out = nullptr,
                const fwgate::sys::NetnsHandle* ns = nullptr) {
  fwgate::sys::SpawnOptions o;
  o.argv = argv;
  o.netns = ns;
  o.max_stdout = size_t{256} << 20;
  o.timeout = std::chrono::seconds(120);
  auto r = fwgate::sys::RunProcess(o);
  if (!r) return r.error().ToString();
  if (out != nullptr) *out = std::move(r->out);
  // fwgate diff exits 0 with or without changes.
  return r->ok() ? std::string() : argv[0] + ": " + r->Describe();
}

// CPU time (user + system) of the children waited for so far: what the commands themselves
// spent, which the CPU column (this process) does not show.
double ChildCpuMs() {
  rusage u{};
  ::getrusage(RUSAGE_CHILDREN, &u);
  auto ms = [](const timeval& t) { return t.tv_sec * 1e3 + t.tv_usec / 1e3; };
  return ms(u.ru_utime) + ms(u.ru_stime);
}

// Sets the per-iteration child CPU counter from a ChildCpuMs() taken before the loop.
void CountChildCpu(benchmark::State& state, double before) {
  if (state.iterations() > 0) {
    state.counters["child_cpu_ms"] =
        (ChildCpuMs() - before) / static_cast<double>(state.iterations());
  }
}

bool NamespacesUsable(benchmark::State& state) {
  if (auto st = fwgate::sys::CanCreateNamespaces(); !st) {
    state.SkipWithError(("needs namespaces: " + st.error().ToString()).c_str());
    return false;
  }
  return true;
}

void BM_DiffCommand(benchmark::State& state) {
  if (!NamespacesUsable(state)) return;
  const Files& f = GeneratedFiles(static_cast<int>(state.range(0)));
  const double cpu0 = ChildCpuMs();
  for (auto _ : state) {
    std::string err = Run({FWGATE_BINARY, "diff", "--current", f.current.string(), "--proposed",
                           f.proposed.string()});
    if (!err.empty()) return state.SkipWithError(err.c_str());
  }
  CountChildCpu(state, cpu0);
}
BENCHMARK(BM_DiffCommand)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_BaselineLoadListDiff(benchmark::State& state) {
  if (!NamespacesUsable(state)) return;
  const Files& f = GeneratedFiles(static_cast<int>(state.range(0)));
  size_t edits = 0;
  const double cpu0 = ChildCpuMs();
  for (auto _ : state) {
    std::string listing[2];
    int side = 0;
    for (const auto* file : {&f.current, &f.proposed}) {
      auto ns = fwgate::sys::CreateAnonymous();
      if (!ns) return state.SkipWithError(ns.error().ToString().c_str());
      std::string err = Run({"nft", "-f", file->string()}, nullptr, &*ns);
      if (err.empty()) err = Run({"nft", "list", "ruleset"}, &listing[side], &*ns);
      if (!err.empty()) return state.SkipWithError(err.c_str());
      ++side;
    }
    std::unordered_map<std::string_view, uint32_t> intern;
    auto la = Lines(listing[0], intern);
    auto lb = Lines(listing[1], intern);
    edits = MyersLineDiff(la, lb);
    benchmark::DoNotOptimize(edits);
  }
  CountChildCpu(state, cpu0);

  state.counters["edit_lines"] = static_cast<double>(edits);
}
BENCHMARK(BM_BaselineLoadListDiff)
    ->Arg(1000)
    ->Arg(10000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_ValidateCommand(benchmark::State& state) {
  if (!NamespacesUsable(state)) return;
  const Files& f = GeneratedFiles(static_cast<int>(state.range(0)));
  const double cpu0 = ChildCpuMs();
  for (auto _ : state) {
    std::string err = Run({FWGATE_BINARY, "validate", f.current.string()});
    if (!err.empty()) return state.SkipWithError(err.c_str());
  }
  CountChildCpu(state, cpu0);
}
BENCHMARK(BM_ValidateCommand)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_BaselineNftCheck(benchmark::State& state) {
  if (!NamespacesUsable(state)) return;
  const Files& f = GeneratedFiles(static_cast<int>(state.range(0)));
  auto ns = fwgate::sys::CreateAnonymous();
  if (!ns) return state.SkipWithError(ns.error().ToString().c_str());
  const double cpu0 = ChildCpuMs();
  for (auto _ : state) {
    std::string err = Run({"nft", "-c", "-f", f.current.string()}, nullptr, &*ns);
    if (!err.empty()) return state.SkipWithError(err.c_str());
  }
  CountChildCpu(state, cpu0);
}
BENCHMARK(BM_BaselineNftCheck)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
