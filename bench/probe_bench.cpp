// Fleet probe fan-out: wall time of `ProbeFleet` over 100 nodes (real sshd on 100 loopback
// addresses 127.0.0.2-101, key-only auth, keys made here; sshd takes at most 16 ListenAddress
// lines, so 7 daemons share one host key and one config each) against probing one node and
// against a sequential ssh loop running the same script (the `for h in ...; do ssh h sh -s < probe;
// done` baseline), all in the same run. Needs root and openssh-server; skips otherwise.
// Run: build-x/bench/probe_bench --benchmark_min_time=1x  (each 100-node case runs once)
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
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
    bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a));
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
      for (auto& x : args) argv.push_back(x.data());
      argv.push_back(nullptr);
      pid_t pid = -1;
      if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0)
        error = "sshd did not start";
      else
        pids.push_back(pid);
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
  fwgate::probe::SshTransport Transport() const {
    fwgate::probe::SshOptions o;
    o.extra_options = {"StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null",
                       "LogLevel=ERROR"};
    return fwgate::probe::SshTransport(o);
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
  size_t reached = 0;
  for (auto _ : state) {
    auto nodes = fwgate::probe::ProbeFleet(ssh, targets, opt);
    reached = 0;
    for (const auto& n : nodes) reached += n.reachable ? 1 : 0;
  }
  state.counters["nodes"] = static_cast<double>(targets.size());
  state.counters["reachable"] = static_cast<double>(reached);
}
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
