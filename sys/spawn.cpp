#include "sys/spawn.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <mutex>

extern char** environ;

namespace fwgate::sys {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Everything the child needs, prepared before the clone so the child only makes system calls
// (it is a copy of a possibly multithreaded process: no malloc, no locks, no stdio).
struct ChildPlan {
  std::string path;
  std::vector<std::string> argv_storage, env_storage;
  std::vector<char*> argv, envp;
  std::vector<std::string> hide;  // existing directories to cover
  const char* working_dir = nullptr;
  int netns_fd = -1;
  bool pid_ns = false;
  bool mount_ns = false;
  uint64_t memory = 0, cpu = 0;
  bool set_nice = false;
  int nice = 0;
  std::vector<int> pass_fds;
  int stdin_fd = -1, stdout_fd = -1, stderr_fd = -1;  // child ends (-1: /dev/null / caller's)
  int devnull = -1;
  int status_fd = -1;  // write end of the exec-status pipe (CLOEXEC)
  pid_t parent = 0;
};

// The child writes "step:errno" here when it cannot get to exec; the parent reads it.
[[noreturn]] void ChildFail(const ChildPlan& p, const char* step) {
  int err = errno;
  char buf[96];
  size_t n = 0;
  for (const char* s = step; *s != 0 && n < 64; ++s) buf[n++] = *s;
  buf[n++] = ':';
  char digits[12];
  int d = 0;
  unsigned v = static_cast<unsigned>(err);
  do {
    digits[d++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0 && d < 11);
  while (d > 0) buf[n++] = digits[--d];
  (void)!write(p.status_fd, buf, n);
  _exit(127);
}

long RawFork() { return syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0); }

// Runs in the child after the clone: only async-signal-safe calls.
[[noreturn]] void ChildMain(const ChildPlan& p) {
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) ChildFail(p, "prctl");
  // The parent thread may have died before prctl took effect (in a new PID namespace the
  // parent is outside it and reads as 0).
  if (!p.pid_ns && getppid() != p.parent) _exit(127);
  if (p.netns_fd >= 0 && setns(p.netns_fd, CLONE_NEWNET) != 0) ChildFail(p, "setns");
  if (p.mount_ns) {
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      ChildFail(p, "making mounts private");
    }
    for (const std::string& dir : p.hide) {
      if (mount("tmpfs", dir.c_str(), "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                "size=4k,mode=0755") != 0) {
        ChildFail(p, "hiding a directory");
      }
    }
  }
  if (p.pid_ns) {
    // We are PID 1: mount this namespace's /proc, start the program as our only child and reap
    // everything until it exits. When PID 1 exits the kernel kills the rest of the namespace.
    if (p.mount_ns) {
      (void)mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
    }
    long pid = RawFork();
    if (pid < 0) ChildFail(p, "starting the program under its init");
    if (pid > 0) {
      // The init keeps no descriptor: copies of fwgate's sockets and pipes must not outlive
      // their owners (a lab connection would stay open, a pipe would never reach EOF).
      if (syscall(SYS_close_range, 0U, UINT_MAX, 0U) != 0) {
        for (int fd = 0; fd < 65536; ++fd) (void)close(fd);
      }
      int code = 127;
      for (;;) {
        int status = 0;
        pid_t r = waitpid(-1, &status, 0);
        if (r < 0 && errno == ECHILD) break;
        if (r == static_cast<pid_t>(pid)) {
          code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
          break;  // returning kills every process the program left behind
        }
      }
      _exit(code);
    }
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) ChildFail(p, "prctl");
  }
  if (setpgid(0, 0) != 0 && !p.pid_ns) ChildFail(p, "setpgid");
  int in = p.stdin_fd >= 0 ? p.stdin_fd : p.devnull;
  if (in >= 0 && dup2(in, 0) < 0) ChildFail(p, "dup2 stdin");
  if (p.stdout_fd >= 0 && dup2(p.stdout_fd, 1) < 0) ChildFail(p, "dup2 stdout");
  if (p.stderr_fd >= 0 && dup2(p.stderr_fd, 2) < 0) ChildFail(p, "dup2 stderr");
  // Every inherited descriptor but stdio and the passed ones closes at exec.
  if (syscall(SYS_close_range, 3U, UINT_MAX, 4U /* CLOSE_RANGE_CLOEXEC */) != 0) {
    for (int fd = 3; fd < 65536; ++fd) (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  for (int fd : p.pass_fds) {
    if (fcntl(fd, F_SETFD, 0) != 0) ChildFail(p, "passing a descriptor");
  }
  if (p.memory > 0) {
    rlimit rl{p.memory, p.memory};
    if (setrlimit(RLIMIT_AS, &rl) != 0) ChildFail(p, "setting the memory limit");
  }
  if (p.cpu > 0) {
    rlimit rl{p.cpu, p.cpu + 1};
    if (setrlimit(RLIMIT_CPU, &rl) != 0) ChildFail(p, "setting the CPU limit");
  }
  if (p.set_nice) {
    // Best effort: without CAP_SYS_NICE the child stays at the caller's priority.
    errno = 0;
    int now = getpriority(PRIO_PROCESS, 0);
    if (errno == 0 && p.nice < now) (void)setpriority(PRIO_PROCESS, 0, p.nice);
  }
  if (p.working_dir != nullptr && chdir(p.working_dir) != 0) ChildFail(p, "chdir");
  // Signals ignored by fwgate (SIGPIPE) would stay ignored across exec; the mask too.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int s = 1; s < NSIG; ++s) (void)sigaction(s, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  (void)sigprocmask(SIG_SETMASK, &none, nullptr);
  execve(p.path.c_str(), p.argv.data(), p.envp.data());
  ChildFail(p, "exec");
}

std::vector<std::string> MergedEnvironment(const std::vector<std::string>& changes) {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) env.emplace_back(*e);
  for (const std::string& c : changes) {
    size_t eq = c.find('=');
    std::string name = c.substr(0, eq);
    env.erase(std::remove_if(env.begin(), env.end(),
                             [&](const std::string& v) {
                               return v.compare(0, name.size(), name) == 0 &&
                                      v.size() > name.size() && v[name.size()] == '=';
                             }),
              env.end());
    if (eq != std::string::npos) env.push_back(c);
  }
  return env;
}

bool IsDirectory(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

struct Pipe {
  UniqueFd read, write;
};
Result<Pipe> MakePipe(const char* what) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Error::FromErrno(errno, std::string("creating ") + what);
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// A started child: pid, pidfd and the parent's ends of its pipes.
struct Started {
  pid_t pid = -1;
  UniqueFd pidfd;
  UniqueFd in, out, err;
};

// Clones the child (clone3: atomic pidfd, optional new PID/mount namespaces) and waits for its
// exec to succeed or fail. `with_pipes`: capture stdin/stdout/stderr; else /dev/null and the
// caller's stdout/stderr.
Result<Started> StartChild(const SpawnOptions& o, bool with_pipes) {
  if (o.argv.empty() || o.argv[0].empty()) return Error::BadInput("no program to start");
  ChildPlan p;
  p.path = o.argv[0].find('/') == std::string::npos ? FindProgram(o.argv[0]) : o.argv[0];
  if (p.path.empty() || ::access(p.path.c_str(), X_OK) != 0) {
    return Error::FromErrno(
        p.path.empty() ? ENOENT : errno,
        "starting '" + o.argv[0] + "'" + (p.path.empty() ? " (not found in PATH)" : ""));
  }
  for (int fd : o.pass_fds) {
    if (fd < 3) return Error::Internal("pass_fds must be >= 3");
  }
  if (!o.new_mount_namespace && !o.hide_paths.empty()) {
    return Error::Internal("hide_paths needs new_mount_namespace");
  }
  p.argv_storage = o.argv;
  p.env_storage = MergedEnvironment(o.env);
  for (auto& a : p.argv_storage) p.argv.push_back(a.data());
  p.argv.push_back(nullptr);
  for (auto& e : p.env_storage) p.envp.push_back(e.data());
  p.envp.push_back(nullptr);
  for (const auto& h : o.hide_paths) {
    if (IsDirectory(h)) p.hide.push_back(h);
  }
  if (!o.working_dir.empty()) p.working_dir = o.working_dir.c_str();
  p.netns_fd = o.netns != nullptr ? o.netns->fd() : -1;
  p.pid_ns = o.new_pid_namespace;
  p.mount_ns = o.new_mount_namespace;
  p.memory = o.memory_limit_bytes;
  p.cpu = o.cpu_limit_seconds;
  p.set_nice = o.nice.has_value();
  p.nice = o.nice.value_or(0);
  p.pass_fds = o.pass_fds;
  p.parent = getpid();

  UniqueFd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
  p.devnull = devnull.get();
  auto status = MakePipe("the exec-status pipe");
  if (!status) return status.error();
  p.status_fd = status->write.get();
  Started s;
  Pipe in, out, err;
  if (with_pipes) {
    auto i = MakePipe("the stdin pipe");
    auto ou = MakePipe("the stdout pipe");
    auto e = MakePipe("the stderr pipe");
    if (!i || !ou || !e) return (!i ? i : !ou ? ou : e).error();
    in = std::move(*i);
    out = std::move(*ou);
    err = std::move(*e);
    if (!o.input.empty()) p.stdin_fd = in.read.get();
    p.stdout_fd = out.write.get();
    p.stderr_fd = o.stderr_to_stdout ? out.write.get() : err.write.get();
  }

  clone_args args{};
  int pidfd = -1;
  args.flags = CLONE_PIDFD;
  if (p.pid_ns) args.flags |= CLONE_NEWPID;
  if (p.mount_ns) args.flags |= CLONE_NEWNS;
  args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  long pid = syscall(SYS_clone3, &args, sizeof(args));
  if (pid < 0) {
    int e = errno;
    return Error::FromErrno(
        e,
        "starting '" + o.argv[0] + "'" +
            (p.pid_ns || p.mount_ns ? " in new PID/mount namespaces (needs CAP_SYS_ADMIN)" : ""));
  }
  if (pid == 0) ChildMain(p);  // never returns

  s.pid = static_cast<pid_t>(pid);
  s.pidfd.reset(pidfd);
  if (!p.pid_ns) (void)setpgid(s.pid, s.pid);  // both sides, to win the race with the child
  status->write.reset();
  if (with_pipes) {
    in.read.reset();
    out.write.reset();
    err.write.reset();
    s.in = std::move(in.write);
    s.out = std::move(out.read);
    s.err = std::move(err.read);
  }
  // EOF: exec succeeded (the pipe is close-on-exec). Data: the child's failed step and errno.
  // In a new PID namespace the init keeps no copy, so EOF still means "exec'd or failed".
  char buf[96];
  ssize_t n;
  std::string report;
  while ((n = ::read(status->read.get(), buf, sizeof(buf))) > 0) {
    report.append(buf, static_cast<size_t>(n));
  }
  if (!report.empty()) {
    int status_code = 0;
    (void)waitpid(s.pid, &status_code, 0);
    size_t colon = report.rfind(':');
    int err_no = colon == std::string::npos ? 0 : std::atoi(report.c_str() + colon + 1);
    std::string step = colon == std::string::npos ? report : report.substr(0, colon);
    return Error::FromErrno(err_no != 0 ? err_no : EIO,
                            "starting '" + o.argv[0] + "' (" + step + ")");
  }
  return s;
}

void KillChild(pid_t pid, bool pid_ns) {
  if (pid <= 0) return;
  // Without a PID namespace the child leads its own process group: take its descendants too.
  if (!pid_ns) (void)kill(-pid, SIGKILL);
  (void)kill(pid, SIGKILL);
}

void FillStatus(int status, SpawnResult& r) {
  if (WIFEXITED(status)) {
    r.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    r.signal = WTERMSIG(status);
  }
}

}  // namespace

std::string FindProgram(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t colon = dirs.find(':', start);
    std::string dir =
        dirs.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return "";
}

std::string SelfExecutable() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "/proc/self/exe";
  std::string s(buf, static_cast<size_t>(n));
  // A rebuilt binary reads "path (deleted)": the running image is still reachable this way.
  if (s.size() > 10 && s.compare(s.size() - 10, 10, " (deleted)") == 0) return "/proc/self/exe";
  return s;
}

std::string SpawnResult::Describe() const {
  std::string s;
  if (exec_failed) {
    s = "could not be started";
  } else if (timed_out) {
    s = "killed at the timeout";
  } else if (interrupted) {
    s = "killed: interrupted";
  } else if (truncated) {
    s = "killed: its output exceeded the limit";
  } else if (signal != 0) {
    s = std::string("killed by signal ") + strsignal(signal);
  } else {
    s = "exited " + std::to_string(exit_code);
  }
  std::string tail = !err.empty() ? err : out;
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == ' ')) tail.pop_back();
  if (tail.size() > 2000) tail = "..." + tail.substr(tail.size() - 2000);
  if (!tail.empty()) s += ": " + tail;
  return s;
}

Result<SpawnResult> RunProcess(const SpawnOptions& o) {
  // A child that exits without reading its stdin must not kill fwgate with SIGPIPE: writes then
  // fail with EPIPE instead. Children get SIGPIPE back (ChildMain resets every signal).
  static std::once_flag ignore_sigpipe;
  std::call_once(ignore_sigpipe, [] { std::signal(SIGPIPE, SIG_IGN); });
  auto start_time = Clock::now();
  auto started = StartChild(o, true);
  if (!started) {
    if (started.error().Errno() == ENOENT || started.error().Errno() == EACCES ||
        started.error().Errno() == ENOEXEC) {
      SpawnResult r;
      r.exec_failed = true;
      r.err = started.error().ToString();
      return r;
    }
    return started.error();
  }
  Started& s = *started;
  const bool pid_ns = o.new_pid_namespace;
  for (int fd : {s.in.get(), s.out.get(), s.err.get()}) {
    if (fd >= 0) (void)fcntl(fd, F_SETFL, O_NONBLOCK);
  }
  if (o.input.empty()) s.in.reset();
  SpawnResult r;
  size_t written = 0;
  bool exited = false;
  int status = 0;
  char buf[65536];
  auto deadline = o.timeout.count() > 0 ? start_time + o.timeout : Clock::time_point::max();
  auto kill_now = [&] { KillChild(s.pid, pid_ns); };
  while (!exited) {
    if (Clock::now() >= deadline && !r.timed_out) {
      r.timed_out = true;
      kill_now();
    }
    if (o.stop != nullptr && o.stop->load() && !r.interrupted) {
      r.interrupted = true;
      kill_now();
    }
    pollfd fds[4];
    nfds_t n = 0;
    int in_i = -1, out_i = -1, err_i = -1, pid_i = -1;
    if (s.in) {
      in_i = static_cast<int>(n);
      fds[n++] = {s.in.get(), POLLOUT, 0};
    }
    if (s.out) {
      out_i = static_cast<int>(n);
      fds[n++] = {s.out.get(), POLLIN, 0};
    }
    if (s.err) {
      err_i = static_cast<int>(n);
      fds[n++] = {s.err.get(), POLLIN, 0};
    }
    pid_i = static_cast<int>(n);
    fds[n++] = {s.pidfd.get(), POLLIN, 0};
    int wait_ms = 20;
    if (deadline != Clock::time_point::max()) {
      auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
      wait_ms = static_cast<int>(std::clamp<int64_t>(left, 0, 20));
    }
    (void)::poll(fds, n, wait_ms);
    if (in_i >= 0 && (fds[in_i].revents & (POLLOUT | POLLERR | POLLHUP)) != 0) {
      ssize_t k = ::write(s.in.get(), o.input.data() + written, o.input.size() - written);
      if (k > 0) written += static_cast<size_t>(k);
      if (k < 0 && errno != EAGAIN && errno != EINTR) written = o.input.size();  // EPIPE
      if (written >= o.input.size()) s.in.reset();
    }
    auto drain = [&](UniqueFd& fd, std::string& into, size_t cap, bool is_stdout) {
      for (;;) {
        ssize_t k = ::read(fd.get(), buf, sizeof(buf));
        if (k > 0) {
          size_t room = cap > into.size() ? cap - into.size() : 0;
          into.append(buf, std::min(room, static_cast<size_t>(k)));
          if (is_stdout && static_cast<size_t>(k) > room) {
            if (!r.truncated) kill_now();
            r.truncated = true;
          }
          continue;
        }
        if (k == 0) fd.reset();  // EOF
        return;
      }
    };
    if (out_i >= 0 && fds[out_i].revents != 0) drain(s.out, r.out, o.max_stdout, true);
    if (err_i >= 0 && fds[err_i].revents != 0) drain(s.err, r.err, o.max_stderr, false);
    if ((fds[pid_i].revents & POLLIN) != 0) {
      if (waitpid(s.pid, &status, WNOHANG) == s.pid) exited = true;
    }
  }
  // What the program wrote before exiting; descendants that still hold the pipes (possible
  // only without a PID namespace) are not waited for.
  if (s.out) {
    ssize_t k;
    while ((k = ::read(s.out.get(), buf, sizeof(buf))) > 0) {
      size_t room = o.max_stdout > r.out.size() ? o.max_stdout - r.out.size() : 0;
      r.out.append(buf, std::min(room, static_cast<size_t>(k)));
      if (static_cast<size_t>(k) > room) r.truncated = true;
    }
  }
  if (s.err) {
    ssize_t k;
    while ((k = ::read(s.err.get(), buf, sizeof(buf))) > 0) {
      size_t room = o.max_stderr > r.err.size() ? o.max_stderr - r.err.size() : 0;
      r.err.append(buf, std::min(room, static_cast<size_t>(k)));
    }
  }
  if (!pid_ns) (void)kill(-s.pid, SIGKILL);  // leftovers of its process group
  FillStatus(status, r);
  r.took = std::chrono::duration_cast<milliseconds>(Clock::now() - start_time);
  return r;
}

Result<Process> Process::Start(const SpawnOptions& o) {
  auto started = StartChild(o, false);
  if (!started) return started.error();
  Process p;
  p.pid_ = started->pid;
  p.pidfd_ = std::move(started->pidfd);
  p.pid_namespace_ = o.new_pid_namespace;
  return p;
}

Process::Process(Process&& o) noexcept
    : pid_(std::exchange(o.pid_, -1)),
      pidfd_(std::move(o.pidfd_)),
      pid_namespace_(o.pid_namespace_),
      reaped_(std::exchange(o.reaped_, true)) {}

Process& Process::operator=(Process&& o) noexcept {
  if (this != &o) {
    Kill();
    pid_ = std::exchange(o.pid_, -1);
    pidfd_ = std::move(o.pidfd_);
    pid_namespace_ = o.pid_namespace_;
    reaped_ = std::exchange(o.reaped_, true);
  }
  return *this;
}

Process::~Process() { Kill(); }

bool Process::Wait(milliseconds timeout, SpawnResult* result) {
  if (pid_ <= 0 || reaped_) return true;
  pollfd p{pidfd_.get(), POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) != pid_) return false;
  reaped_ = true;
  if (result != nullptr) FillStatus(status, *result);
  return true;
}

void Process::Kill() {
  if (pid_ <= 0 || reaped_) return;
  KillChild(pid_, pid_namespace_);
  int status = 0;
  (void)waitpid(pid_, &status, 0);
  reaped_ = true;
}

RoleRegistrar::RoleRegistrar(const char* name, RoleMain main) {
  const char* want = std::getenv(kRoleEnv);
  if (want == nullptr || std::strcmp(want, name) != 0) return;
  ::unsetenv(kRoleEnv);  // a role's own children are ordinary programs
  int code = main();
  _exit(code);
}

}  // namespace fwgate::sys
