#include "simulator/reload/executor.h"

#include <latch>
#include <mutex>
#include <thread>

#include "sys/nft_runner.h"
#include "sys/ruleset_apply.h"

namespace fwgate::reload {
namespace {

using Clock = std::chrono::steady_clock;

bool Stopped(const std::atomic<bool>* stop) { return stop != nullptr && stop->load(); }

// Sleeps up to `d`; false if `stop` became true first.
bool SleepFor(std::chrono::milliseconds d, const std::atomic<bool>* stop) {
  auto end = Clock::now() + d;
  while (Clock::now() < end) {
    if (Stopped(stop)) return false;
    auto left = end - Clock::now();
    std::this_thread::sleep_for(std::min<Clock::duration>(left, std::chrono::milliseconds(10)));
  }
  return !Stopped(stop);
}

}  // namespace

sys::SpawnOptions CommandSpawnOptions(const sys::NetnsHandle& ns,
                                      const std::vector<std::string>& argv,
                                      const std::string& working_dir,
                                      std::chrono::milliseconds timeout,
                                      const std::atomic<bool>* stop) {
  sys::SpawnOptions o;
  o.argv = argv;
  o.netns = &ns;
  o.working_dir = working_dir;
  // Everything the command starts lives and dies inside the lab, and no path leads to the
  // host's service managers: systemd's and D-Bus's sockets live under /run (abstract sockets
  // are per network namespace, and the node's has none).
  o.new_pid_namespace = true;
  o.new_mount_namespace = true;
  o.hide_paths = {"/run", "/var/run"};
  // The node's namespace identity, so a reload script can refuse to run anywhere else
  // (compare with `readlink /proc/self/ns/net`; docs/replay-fidelity.md).
  if (auto id = sys::NetnsId(ns); id) o.env.push_back("FWGATE_NODE_NETNS=" + *id);
  o.timeout = timeout;
  o.stop = stop;
  o.stderr_to_stdout = true;
  o.max_stdout = 64 << 10;
  o.nice = kReloadNice;
  return o;
}

std::vector<NodeOutcome> RunReloads(const std::vector<NodeReload>& nodes,
                                    const RunOptions& options) {
  std::vector<NodeOutcome> outcomes(nodes.size());
  // Every node's thread is made first and all start together (no node waits for the threads
  // made before it): the first to be released takes the start moment for all.
  std::latch ready(static_cast<std::ptrdiff_t>(nodes.size()));
  std::once_flag start_once;
  Clock::time_point start;
  const auto origin_opt = options.origin;
  auto origin = origin_opt.value_or(Clock::time_point{});
  auto since_origin = [&](Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t - origin);
  };
  auto since = [&] { return since_origin(Clock::now()); };
  std::vector<std::thread> threads;
  for (size_t i = 0; i < nodes.size(); ++i) {
    threads.emplace_back([&, i] {
      const NodeReload& n = nodes[i];
      NodeOutcome& o = outcomes[i];
      o.name = n.name;
      ready.arrive_and_wait();
      std::call_once(start_once, [&] {
        start = Clock::now();
        if (!origin_opt) origin = start;
      });
      // Node i's rolling delay counts from the common start, whatever the origin.
      auto interrupted = [&] {
        o.interrupted = true;
        o.error = "interrupted";
      };
      auto wait = start + options.rolling * static_cast<int>(i) - Clock::now();
      if (!SleepFor(std::chrono::duration_cast<std::chrono::milliseconds>(wait), options.stop)) {
        return interrupted();
      }
      if (n.before) {
        if (Status st = n.before(); !st) {
          o.error = n.name + ": before the reload: " + st.error().ToString();
          return;
        }
      }
      for (const Step& s : n.plan.steps) {
        if (s.wait_before.count() > 0 && !SleepFor(s.wait_before, options.stop)) {
          return interrupted();
        }
        if (Stopped(options.stop)) return interrupted();
        StepOutcome so;
        so.label = s.label;
        so.started_at = since();
        Status st = OkStatus();
        std::optional<Clock::time_point> committed;
        switch (s.kind) {
          case Step::Kind::kNftText: {
            sys::NftLimits limits;
            limits.nice = kReloadNice;
            st = sys::ApplyRulesetText(*n.ns, s.format, s.text, s.label, limits, &committed);
            break;
          }
          case Step::Kind::kCommand: {
            auto r = sys::RunProcess(CommandSpawnOptions(*n.ns, s.argv, s.working_dir,
                                                         options.command_timeout, options.stop));
            if (!r) {
              st = r.error();
            } else {
              so.detail = r->Describe();
              if (!r->ok()) {
                o.timed_out = r->timed_out;
                o.interrupted = r->interrupted;
                o.tool_missing = r->exec_failed;
                st = Error::Unavailable("reload command '" + s.argv[0] + "' " + r->Describe());
              }
            }
            break;
          }
        }
        so.took = since() - so.started_at;
        if (committed) so.committed_at = since_origin(*committed);
        o.steps.push_back(so);
        if (!st) {
          o.error = n.name + ": " + s.label + ": " + st.error().ToString();
          return;
        }
      }
      if (n.after) {
        if (Status st = n.after(); !st) {
          o.error = n.name + ": after the reload: " + st.error().ToString();
          return;
        }
      }
      o.ok = true;
    });
  }
  for (auto& t : threads) t.join();
  return outcomes;
}

}  // namespace fwgate::reload
