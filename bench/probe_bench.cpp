// Fleet probe fan-out: wall time of `ProbeFleet` over 100 nodes (real sshd on 100 loopback
// addresses 127.0.0.2-101, key-only auth, keys made here; sshd takes at most 16 ListenAddress
// lines, so 7 daemons share one host key and one config each), all in the same run, against:
//   BM_ProbeFleet/1/16           one node, warm (a probe of it ran before the timed one);
//   BM_SequentialSshLoop/100     the same script, one ssh after the other (the `for h in ...;
//                                do ssh h sh -s < probe; done` baseline);
//   BM_AnsibleRaw/100            `ansible all -m raw -a SCRIPT` at Ansible's default forks (5)
//                                and ssh arguments (ControlMaster=auto, ControlPersist=60s; its
//                                control sockets in a private directory, masters ended and the
//                                directory removed outside the timed region); skipped without
//                                ansible-core;
//   BM_ProbeFleetShared/100/16   --ssh-share: one master per node, made and ended in the run;
//   BM_ProbeFleetReused/100/16   the probe over connections that already exist (made by an
//                                untimed first pass): what reuse across runs costs when the
//                                operator's ssh_config persists masters (no key exchange).
// Needs root and openssh-server; skips otherwise. Every case runs one iteration per repetition:
// build/bench/probe_bench --benchmark_repetitions=3   (medians: *_median rows)
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "gate/probe/probe_script.h"
#include "gate/probe/prober.h"
#include "gate/probe/transport.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
constexpr int kNodes = 100;

bool Connectable(const std::string& ip, int port) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  bool ok = connect(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  close(s);
  return ok;
}

struct Sshd {
  std::string error;
  fs::path dir;
  int port = 0;
  std::vector<pid_t> pids;

  Sshd() {
    if (geteuid() != 0 || access("/usr/sbin/sshd", X_OK) != 0) {
      error = "needs root and /usr/sbin/sshd";
      return;
    }
    char tmpl[] = "/tmp/fwgate-bench-sshd-XXXXXX";
    dir = mkdtemp(tmpl);
    for (const char* k : {"host_key", "user_key"}) {
      auto r = fwgate::probe::RunProcess(
          "ssh-keygen", {"-q", "-t", "ed25519", "-N", "", "-f", (dir / k).string()}, "",
          std::chrono::seconds(30), 1 << 16);
      if (!r || r->exit_code != 0) error = "ssh-keygen failed";
    }
    fs::copy_file(dir / "user_key.pub", dir / "authorized_keys");
    int s = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    (void)bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    close(s);
    mkdir("/run/sshd", 0755);
    for (int first = 0; first < kNodes; first += 16) {
      fs::path conf = dir / ("sshd_config" + std::to_string(first));
      std::ofstream cfg(conf);
      cfg << "Port " << port << "\n";
      for (int i = first; i < std::min(kNodes, first + 16); ++i)
        cfg << "ListenAddress 127.0.0." << i + 2 << "\n";
      cfg << "HostKey " << (dir / "host_key").string() << "\nAuthorizedKeysFile "
          << (dir / "authorized_keys").string()
          << "\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin "
             "prohibit-password\nStrictModes no\nUsePAM no\nLogLevel QUIET\nMaxStartups "
             "400\nPidFile "
          << (dir / ("sshd.pid" + std::to_string(first))).string() << "\n";
      cfg.close();
      std::vector<std::string> args = {"/usr/sbin/sshd", "-D", "-f", conf.string()};
      std::vector<char*> argv;
      argv.reserve(args.size() + 1);
      for (auto& x : args) argv.push_back(x.data());
      argv.push_back(nullptr);
      pid_t pid = -1;
      if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) {
        error = "sshd did not start";
      } else {
        pids.push_back(pid);
      }
    }
    auto all_up = [&] {
      for (int i = 0; i < kNodes; ++i)
        if (!Connectable("127.0.0." + std::to_string(i + 2), port)) return false;
      return true;
    };
    for (int i = 0; i < 200 && !all_up(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (!all_up()) error = "sshd is not listening on every address";
  }
  ~Sshd() {
    for (pid_t pid : pids) {
      kill(pid, SIGTERM);
      waitpid(pid, nullptr, 0);
    }
    if (!dir.empty()) fs::remove_all(dir);
  }
  std::vector<fwgate::probe::Target> Targets(int n) const {
    std::vector<fwgate::probe::Target> t;
    for (int i = 0; i < n; ++i) {
      std::string ip = "127.0.0." + std::to_string(i + 2);
      t.push_back({"n" + std::to_string(i), ip, port, "root", (dir / "user_key").string()});
    }
    return t;
  }
  fwgate::probe::SshOptions Options() const {
    fwgate::probe::SshOptions o;
    o.extra_options = {"StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null",
                       "LogLevel=ERROR"};
    return o;
  }
  fwgate::probe::SshTransport Transport() const { return fwgate::probe::SshTransport(Options()); }
  // An Ansible INI inventory of the first `n` nodes.
  fs::path Inventory(int n) const {
    fs::path p = dir / ("inventory" + std::to_string(n) + ".ini");
    std::ofstream inv(p);
    inv << "[fleet]\n";
    for (const auto& t : Targets(n)) {
      inv << t.name << " ansible_host=" << t.host << " ansible_port=" << t.port
          << " ansible_user=root ansible_ssh_private_key_file=" << t.identity << "\n";
    }
    return p;
  }
};

Sshd& Server() {
  static Sshd s;
  return s;
}

void BM_ProbeFleet(benchmark::State& state) {
  Sshd& s = Server();
  if (!s.error.empty()) {
    state.SkipWithError(s.error.c_str());
    return;
  }
  auto ssh = s.Transport();
  auto targets = s.Targets(static_cast<int>(state.range(0)));
  fwgate::probe::ProbeOptions opt;
  opt.concurrency = static_cast<int>(state.range(1));
  opt.timeout = std::chrono::seconds(120);
  // Warm: the first probe of a node pays for cold caches (binaries, keys, sshd's first fork).
  (void)fwgate::probe::ProbeTarget(ssh, targets[0], opt);
  size_t reached = 0;
  for (auto _ : state) {
    auto nodes = fwgate::probe::ProbeFleet(ssh, targets, opt);
    reached = 0;
    for (const auto& n : nodes) reached += n.reachable ? 1 : 0;
  }
  state.counters["nodes"] = static_cast<double>(targets.size());
  state.counters["reachable"] = static_cast<double>(reached);
}

// --ssh-share in one run: each node's first session becomes its master (made, used once, ended).
void BM_ProbeFleetShared(benchmark::State& state) {
  Sshd& s = Server();
  if (!s.error.empty()) return state.SkipWithError(s.error.c_str());
  auto targets = s.Targets(static_cast<int>(state.range(0)));
  fwgate::probe::ProbeOptions opt;
  opt.concurrency = static_cast<int>(state.range(1));
  opt.timeout = std::chrono::seconds(120);
  size_t reached = 0;
  for (auto _ : state) {
    auto dir = fwgate::probe::SshControlDir::Create();
    if (!dir) return state.SkipWithError(dir.error().ToString().c_str());
    std::optional<fwgate::probe::SshControlDir> control(std::move(dir).value());
    auto o = s.Options();
    o.control_dir = control->path();
    fwgate::probe::SshTransport ssh(o);
    auto nodes = fwgate::probe::ProbeFleet(ssh, targets, opt);
    control.reset();  // masters ended: part of the run's cost
    reached = 0;
    for (const auto& n : nodes) reached += n.reachable ? 1 : 0;
  }
  state.counters["reachable"] = static_cast<double>(reached);
}
BENCHMARK(BM_ProbeFleetShared)
    ->Args({kNodes, 16})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(1);

// Connections made by an untimed first pass, then the timed probe over them.
void BM_ProbeFleetReused(benchmark::State& state) {
  Sshd& s = Server();
  if (!s.error.empty()) return state.SkipWithError(s.error.c_str());
  auto targets = s.Targets(static_cast<int>(state.range(0)));
  fwgate::probe::ProbeOptions opt;
  opt.concurrency = static_cast<int>(state.range(1));
  opt.timeout = std::chrono::seconds(120);
  size_t reached = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto dir = fwgate::probe::SshControlDir::Create();
    if (!dir) return state.SkipWithError(dir.error().ToString().c_str());
    std::optional<fwgate::probe::SshControlDir> control(std::move(dir).value());
    auto o = s.Options();
    o.control_dir = control->path();
    o.control_persist_s = 120;
    fwgate::probe::SshTransport ssh(o);
    (void)fwgate::probe::ProbeFleet(ssh, targets, opt);
    state.ResumeTiming();
    auto nodes = fwgate::probe::ProbeFleet(ssh, targets, opt);
    state.PauseTiming();
    control.reset();
    state.ResumeTiming();
    reached = 0;
    for (const auto& n : nodes) reached += n.reachable ? 1 : 0;
  }
  state.counters["reachable"] = static_cast<double>(reached);
}
BENCHMARK(BM_ProbeFleetReused)
    ->Args({kNodes, 16})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(1);

// Baseline: Ansible's ad-hoc raw module with the probe script, at its default forks (5).
void BM_AnsibleRaw(benchmark::State& state) {
  Sshd& s = Server();
  if (!s.error.empty()) return state.SkipWithError(s.error.c_str());
  if (access("/usr/bin/ansible", X_OK) != 0) {
    return state.SkipWithError("ansible-core is not installed (scripts/setup.sh)");
  }
  int n = static_cast<int>(state.range(0));
  fs::path inv = s.Inventory(n);
  std::string script = fwgate::probe::ProbeScript(fwgate::probe::NewNonce());
  size_t ok = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto dir = fwgate::probe::SshControlDir::Create();
    if (!dir) return state.SkipWithError(dir.error().ToString().c_str());
    std::optional<fwgate::probe::SshControlDir> control(std::move(dir).value());
    fs::path tmp = fs::path(control->path()) / "tmp";
    fs::create_directories(tmp);
    // Ansible's own defaults, with everything it writes kept in the private directory.
    setenv("ANSIBLE_SSH_CONTROL_PATH_DIR", control->path().c_str(), 1);
    setenv("ANSIBLE_LOCAL_TEMP", tmp.c_str(), 1);
    setenv("ANSIBLE_HOME", tmp.c_str(), 1);
    setenv("ANSIBLE_HOST_KEY_CHECKING", "False", 1);
    setenv("ANSIBLE_SSH_EXTRA_ARGS", "-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR", 1);
    state.ResumeTiming();
    auto r = fwgate::probe::RunProcess("ansible",
                                       {"all", "-i", inv.string(), "-m", "raw", "-a", script, "-o"},
                                       "", std::chrono::seconds(600), 64u << 20, true);
    state.PauseTiming();
    ok = 0;
    if (r) {
      for (size_t pos = r->out.find(" | CHANGED"); pos != std::string::npos;
           pos = r->out.find(" | CHANGED", pos + 1)) {
        ++ok;
      }
    }
    control.reset();  // its persisted masters ended, the directory removed
    state.ResumeTiming();
  }
  state.counters["reachable"] = static_cast<double>(ok);
}
BENCHMARK(BM_AnsibleRaw)->Arg(kNodes)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);
// One node; 100 nodes at the default concurrency (16) and at 64.
BENCHMARK(BM_ProbeFleet)
    ->Args({1, 16})
    ->Args({kNodes, 16})
    ->Args({kNodes, 64})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(1);

// Baseline: the same script, one ssh after the other.
void BM_SequentialSshLoop(benchmark::State& state) {
  Sshd& s = Server();
  if (!s.error.empty()) {
    state.SkipWithError(s.error.c_str());
    return;
  }
  auto ssh = s.Transport();
  auto targets = s.Targets(static_cast<int>(state.range(0)));
  size_t ok = 0;
  for (auto _ : state) {
    ok = 0;
    for (const auto& t : targets) {
      std::string nonce = fwgate::probe::NewNonce();
      auto r = ssh.Run(t, fwgate::probe::ProbeScript(nonce), std::chrono::seconds(120), 32u << 20);
      ok += r && r->exit_code == 0 ? 1 : 0;
    }
  }
  state.counters["reachable"] = static_cast<double>(ok);
}
BENCHMARK(BM_SequentialSshLoop)
    ->Arg(kNodes)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
