// The lab judges only what it can see: a replay whose engine loop is starved of CPU on purpose
// (a real-time CPU hog on the one CPU the replay is pinned to) cannot resolve stalls and must say
// "could not decide" (exit 3, "lab overloaded"), never survived or broken; a normal small replay
// keeps its verdict, reports the resolution it achieved, and runs the shorter default window.
#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "sys/netns.h"
#include "tests/support/subprocess.h"

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

const std::string kDir = std::string(FWGATE_SOURCE_DIR) + "/rulesets/";
const std::string kCurrent = kDir + "ceph-node.nft";
const std::string kSafe = kDir + "ceph-node-safe-change.nft";
constexpr int kHogCpu = 0;

class ReplayLabHealth : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto st = fwgate::sys::CanCreateNamespaces(); !st) GTEST_SKIP() << st.error().ToString();
  }
};

// A SCHED_FIFO thread (priority above the engine loop's SCHED_RR 10) pinned to one CPU, busy
// 600 ms then idle 150 ms, until stopped: whatever else is pinned to that CPU waits up to 600 ms
// at a time, so the loop's resolution (2 x lateness + 10 ms) exceeds half the default 2000 ms
// threshold whatever the window. RT throttling (sched_rt_runtime_us, 95%) is not reached at 80%.
class CpuHog {
 public:
  bool Start() {
    std::atomic<int> ok{-1};
    thread_ = std::thread([this, &ok] {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(kHogCpu, &set);
      sched_param sp{};
      sp.sched_priority = 20;
      bool good = pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0 &&
                  pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0;
      ok = good ? 1 : 0;
      if (!good) return;
      auto deadline = Clock::now() + std::chrono::seconds(120);  // bounded whatever happens
      while (!stop_.load() && Clock::now() < deadline) {
        auto busy_until = Clock::now() + milliseconds(600);
        while (Clock::now() < busy_until && !stop_.load()) {
        }
        std::this_thread::sleep_for(milliseconds(150));
      }
    });
    while (ok.load() < 0) std::this_thread::sleep_for(milliseconds(1));
    return ok.load() == 1;
  }
  ~CpuHog() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST_F(ReplayLabHealth, StarvedLabIsUndecidedNeverAVerdict) {
  if (sysconf(_SC_NPROCESSORS_ONLN) < 2) GTEST_SKIP() << "needs a second CPU for the rest";
  CpuHog hog;
  if (!hog.Start()) GTEST_SKIP() << "no real-time scheduling here (CAP_SYS_NICE)";
  auto r = fwgate::testing::RunProcess({"/usr/bin/taskset", "-c", std::to_string(kHogCpu),
                                        FWGATE_BINARY, "replay", "--current", kCurrent,
                                        "--proposed", kSafe, "--nodes", "2", "--json"});
  ASSERT_EQ(r.exit_code, 3) << r.out << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["verdict"], "unknown");
  EXPECT_EQ(j["reason"].get<std::string>().rfind("lab overloaded: lateness ", 0), 0u)
      << j["reason"];
  EXPECT_NE(j["reason"].get<std::string>().find("reduce --connections-per-node"),
            std::string::npos);
  const auto& h = j["lab_health"];
  EXPECT_TRUE(h["overloaded"].get<bool>());
  EXPECT_GE(h["loop_lateness_ms"].get<int>(), 300) << h.dump();
  EXPECT_GT(h["resolution_ms"].get<int>(), h["resolution_limit_ms"].get<int>()) << h.dump();
}

TEST_F(ReplayLabHealth, NormalReplayKeepsItsVerdictAndReportsItsResolution) {
  auto t0 = Clock::now();
  auto r = fwgate::testing::RunFwgate(
      {"replay", "--current", kCurrent, "--proposed", kSafe, "--nodes", "2", "--json"});
  auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - t0);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["verdict"], "survived");
  const auto& h = j["lab_health"];
  EXPECT_TRUE(h["judged"].get<bool>());
  EXPECT_FALSE(h["overloaded"].get<bool>()) << h.dump();
  EXPECT_LE(h["resolution_ms"].get<int>(), h["resolution_limit_ms"].get<int>()) << h.dump();
  // The default window: warmup, the reload, then threshold + longest interval + margin.
  EXPECT_GE(h["watched_after_reload_ms"].get<int>(), 2000 + 500 + 500) << h.dump();
  EXPECT_LE(h["warmup_ms"].get<int>() + h["after_mark_ms"].get<int>(), 5000) << h.dump();
  std::cout << "replay took " << took.count() << " ms (lab, traffic "
            << h["warmup_ms"].get<int>() + h["after_mark_ms"].get<int>() << " ms, teardown)\n";
}

}  // namespace
