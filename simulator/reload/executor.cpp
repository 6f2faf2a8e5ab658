#include "simulator/reload/executor.h"

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
  auto start = Clock::now();
  auto since = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  };
  std::vector<std::thread> threads;
  for (size_t i = 0; i < nodes.size(); ++i) {
    threads.emplace_back([&, i] {
      const NodeReload& n = nodes[i];
      NodeOutcome& o = outcomes[i];
      o.name = n.name;
      auto interrupted = [&] {
        o.interrupted = true;
        o.error = "interrupted";
      };
      if (!SleepFor(options.rolling * static_cast<int>(i), options.stop)) return interrupted();
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
        switch (s.kind) {
          case Step::Kind::kNftText: {
            sys::NftLimits limits;
            limits.nice = kReloadNice;
            st = sys::ApplyRulesetText(*n.ns, s.format, s.text, s.label, limits);
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
