// Lab bring-up time: the replay topology (switch namespace with two bridges, N nodes with veth
// legs on both networks, addresses, a client) built by fwgate over rtnetlink
// (lab::Topology::Build) against the same topology built by bench/lab_baseline.sh with one `ip`
// command per step. Teardown is excluded from both. Needs root; skips otherwise.
// Run: build-x/bench/lab_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "simulator/lab/topology.h"
#include "sys/netns.h"

namespace {

int RunScript(std::vector<std::string> args) {
  std::string script = std::string(FWGATE_SOURCE_DIR) + "/bench/lab_baseline.sh";
  args.insert(args.begin(), script);
  args.insert(args.begin(), "bash");
  std::vector<char*> c;
  for (auto& a : args) c.push_back(a.data());
  c.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    execvp("bash", c.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void BM_LabBringUpRtnetlink(benchmark::State& state) {
  if (auto st = fwgate::sys::CanCreateNamespaces(); !st) {
    state.SkipWithError(st.error().ToString().c_str());
    return;
  }
  fwgate::lab::TopologyOptions o;
  o.nodes = static_cast<int>(state.range(0));
  for (auto _ : state) {
    auto t = fwgate::lab::Topology::Build(o);
    if (!t) {
      state.SkipWithError(t.error().ToString().c_str());
      return;
    }
    state.PauseTiming();
    t = fwgate::Error::Unavailable("dropped");  // tear down outside the timed region
    state.ResumeTiming();
  }
  state.counters["nodes"] = static_cast<double>(o.nodes);
}

void BM_LabBringUpIpScript(benchmark::State& state) {
  if (auto st = fwgate::sys::CanCreateNamespaces(); !st) {
    state.SkipWithError(st.error().ToString().c_str());
    return;
  }
  std::string prefix = "fwgate-bench-" + std::to_string(getpid());
  std::string nodes = std::to_string(state.range(0));
  for (auto _ : state) {
    int rc = RunScript({"up", prefix, nodes});
    state.PauseTiming();
    RunScript({"down", prefix});
    state.ResumeTiming();
    if (rc != 0) {
      state.SkipWithError("lab_baseline.sh up failed (iproute2 missing?)");
      return;
    }
  }
  state.counters["nodes"] = static_cast<double>(state.range(0));
}

BENCHMARK(BM_LabBringUpRtnetlink)->Arg(8)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_LabBringUpIpScript)->Arg(8)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
