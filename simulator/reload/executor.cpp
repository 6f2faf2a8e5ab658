#include "simulator/reload/executor.h"

#include <fcntl.h>
#include <nftables/libnftables.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>

namespace fwgate::reload {
namespace {

using Clock = std::chrono::steady_clock;

std::mutex& NftMutex() {
  static std::mutex m;
  return m;
}

struct CtxDeleter {
  void operator()(nft_ctx* c) const { nft_ctx_free(c); }
};

// Runs on a thread inside the target namespace.
Status RunNft(const std::string& text, const std::string& file, const std::string& include_dir) {
  std::lock_guard lock(NftMutex());
  std::unique_ptr<nft_ctx, CtxDeleter> ctx(nft_ctx_new(NFT_CTX_DEFAULT));
  if (!ctx) return Error::Unavailable("libnftables: cannot create a context");
  nft_ctx_buffer_output(ctx.get());
  nft_ctx_buffer_error(ctx.get());
  if (!include_dir.empty()) nft_ctx_add_include_path(ctx.get(), include_dir.c_str());
  int rc = file.empty() ? nft_run_cmd_from_buffer(ctx.get(), text.c_str())
                        : nft_run_cmd_from_filename(ctx.get(), file.c_str());
  if (rc != 0) {
    const char* e = nft_ctx_get_error_buffer(ctx.get());
    std::string err = e != nullptr ? e : "";
    while (!err.empty() && err.back() == '\n') err.pop_back();
    return Error::Unavailable("nft: " + (file.empty() ? std::string("lab table") : file) + ": " + err);
  }
  return OkStatus();
}

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

Status ApplyNftText(const sys::NetnsHandle& ns, const std::string& text,
                    const std::string& include_dir) {
  Status st = Error::Unavailable("not run");
  if (auto e = sys::RunInNetns(ns, [&] { st = RunNft(text, "", include_dir); }); !e) return e;
  return st;
}

Status ApplyNftFile(const sys::NetnsHandle& ns, const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  Status st = Error::Unavailable("not run");
  if (auto e = sys::RunInNetns(ns, [&] { st = RunNft("", path, dir); }); !e) return e;
  return st;
}

std::string CommandResult::Describe() const {
  std::string s;
  if (timed_out) {
    s = "killed at the reload timeout";
  } else if (interrupted) {
    s = "killed: interrupted";
  } else if (exec_failed) {
    s = "could not be started";
  } else if (signal != 0) {
    s = std::string("killed by signal ") + strsignal(signal);
  } else {
    s = "exited " + std::to_string(exit_code);
  }
  std::string out = output;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  if (!out.empty()) s += ": " + out;
  return s;
}

Result<CommandResult> RunCommandInNetns(const sys::NetnsHandle& ns,
                                        const std::vector<std::string>& argv,
                                        std::chrono::milliseconds timeout,
                                        const std::atomic<bool>* stop) {
  if (argv.empty()) return Error::Unavailable("empty command");
  Result<CommandResult> out = Error::Unavailable("not run");
  auto body = [&] {
    std::vector<char*> cargv;
    for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0) {
      out = Error::FromErrno(errno, "creating a pipe for the reload command");
      return;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
      out = Error::FromErrno(errno, "starting the reload command");
      close(pfd[0]);
      close(pfd[1]);
      return;
    }
    if (pid == 0) {
      // Child: only async-signal-safe calls until exec.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(126);
      setpgid(0, 0);
      int devnull = open("/dev/null", O_RDONLY);
      if (devnull >= 0) dup2(devnull, 0);
      dup2(pfd[1], 1);
      dup2(pfd[1], 2);
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      execvp(cargv[0], cargv.data());
      const char msg[] = "exec failed: ";
      (void)!write(2, msg, sizeof(msg) - 1);
      const char* e = strerror(errno);
      (void)!write(2, e, strlen(e));
      _exit(127);
    }
    close(pfd[1]);
    setpgid(pid, pid);  // both sides, to win the race with the child
    fcntl(pfd[0], F_SETFL, O_NONBLOCK);
    int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    CommandResult r;
    auto deadline = Clock::now() + timeout;
    std::string buf;
    bool pipe_open = true;
    bool exited = false;
    int status = 0;
    while (!exited) {
      if (Clock::now() >= deadline) r.timed_out = true;
      if (Stopped(stop)) r.interrupted = true;
      if (r.timed_out || r.interrupted) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        exited = true;
        break;
      }
      pollfd fds[2];
      int n = 0;
      if (pipe_open) fds[n++] = {pfd[0], POLLIN, 0};
      if (pidfd >= 0) fds[n++] = {pidfd, POLLIN, 0};
      poll(fds, static_cast<nfds_t>(n), 20);
      if (pipe_open) {
        char tmp[4096];
        ssize_t k = read(pfd[0], tmp, sizeof(tmp));
        if (k > 0) {
          buf.append(tmp, static_cast<size_t>(k));
          if (buf.size() > 8192) buf.erase(0, buf.size() - 4096);
        } else if (k == 0) {
          pipe_open = false;
        }
      }
      if (waitpid(pid, &status, WNOHANG) == pid) exited = true;
    }
    // Drain what is left of the output (the child is gone; grandchildren may still hold it).
    char tmp[4096];
    ssize_t k;
    while (pipe_open && (k = read(pfd[0], tmp, sizeof(tmp))) > 0) {
      buf.append(tmp, static_cast<size_t>(k));
    }
    if (buf.size() > 4096) buf.erase(0, buf.size() - 4096);
    close(pfd[0]);
    if (pidfd >= 0) close(pidfd);
    if (WIFEXITED(status)) {
      r.exit_code = WEXITSTATUS(status);
      r.exec_failed = r.exit_code == 127 && buf.rfind("exec failed: ", 0) == 0;
    } else if (WIFSIGNALED(status)) {
      r.signal = WTERMSIG(status);
    }
    r.output = buf;
    out = r;
  };
  // The thread that forks is the child's "parent" for PR_SET_PDEATHSIG; it reaps the child.
  if (auto e = sys::RunInNetns(ns, body); !e) return e.error();
  return out;
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
      if (!SleepFor(options.rolling * static_cast<int>(i), options.stop)) {
        o.interrupted = true;
        o.error = "interrupted";
        return;
      }
      for (const Step& s : n.plan.steps) {
        if (s.wait_before.count() > 0 && !SleepFor(s.wait_before, options.stop)) {
          o.interrupted = true;
          o.error = "interrupted";
          return;
        }
        if (Stopped(options.stop)) {
          o.interrupted = true;
          o.error = "interrupted";
          return;
        }
        StepOutcome so;
        so.label = s.label;
        so.started_at = since();
        Status st = OkStatus();
        switch (s.kind) {
          case Step::Kind::kNftText:
            st = ApplyNftText(*n.ns, s.text);
            break;
          case Step::Kind::kNftFile:
            st = ApplyNftFile(*n.ns, s.path);
            break;
          case Step::Kind::kCommand: {
            auto r = RunCommandInNetns(*n.ns, s.argv, options.command_timeout, options.stop);
            if (!r) {
              st = r.error();
            } else if (!r->ok()) {
              o.timed_out = r->timed_out;
              o.interrupted = r->interrupted;
              o.tool_missing = r->exec_failed;
              st = Error::Unavailable("reload command '" + s.argv[0] + "' " + r->Describe());
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
      o.ok = true;
    });
  }
  for (auto& t : threads) t.join();
  return outcomes;
}

}  // namespace fwgate::reload
