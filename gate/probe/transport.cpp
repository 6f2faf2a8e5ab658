#include "gate/probe/transport.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include <boost/asio.hpp>
#include <boost/process.hpp>
#include <csignal>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

namespace fwgate::probe {
namespace {

namespace bp = boost::process;
namespace asio = boost::asio;

constexpr size_t kMaxStderr = 64u << 10;

void IgnoreSigpipeOnce() {
  // A node that closes stdin before reading the whole script must not kill fwgate.
  static std::once_flag once;
  std::call_once(once, [] { std::signal(SIGPIPE, SIG_IGN); });
}

}  // namespace

Result<RunOutput> RunProcess(const std::string& program, const std::vector<std::string>& args,
                             std::string_view input, std::chrono::milliseconds timeout,
                             size_t max_output) {
  IgnoreSigpipeOnce();
  boost::filesystem::path exe = program;
  if (program.find('/') == std::string::npos) exe = bp::search_path(program);
  if (exe.empty()) return Error::FromErrno(ENOENT, "finding '" + program + "' in PATH");

  asio::io_context ios;
  std::optional<bp::async_pipe> in_p, out_p, err_p;
  std::error_code ec;
  bp::child child;
  {
    // Boost 1.74 makes its pipes without O_CLOEXEC (and bp::limit_handles breaks async pipes).
    // A child started by another thread must never inherit this node's pipes, or one slow node
    // would hold up the others: mark them close-on-exec (the child's dup2'ed 0/1/2 are not) and
    // start processes one at a time so no fork sees them before that.
    static std::mutex spawn_mu;
    std::lock_guard<std::mutex> lock(spawn_mu);
    in_p.emplace(ios);
    out_p.emplace(ios);
    err_p.emplace(ios);
    bp::async_pipe& in = *in_p;
    bp::async_pipe& out = *out_p;
    bp::async_pipe& err = *err_p;
    for (int fd : {in.native_source(), in.native_sink(), out.native_source(), out.native_sink(),
                   err.native_source(), err.native_sink()}) {
      if (fd >= 0) fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC);
    }
    // clang-format off
    child = bp::child(exe, bp::args(args), bp::std_in < in, bp::std_out > out, bp::std_err > err, ec);
    // clang-format on
  }
  if (ec) return Error{ErrorKind::kUnavailable, ec, "starting " + program};
  bp::async_pipe& in = *in_p;
  bp::async_pipe& out = *out_p;
  bp::async_pipe& err = *err_p;

  // Reaped here by pid only: Boost 1.74's child::wait_for busy-loops and can miss its child when
  // several threads wait at once, so it is never used.
  const pid_t pid = child.id();
  child.detach();
  RunOutput result;
  std::string script(input);
  std::array<char, 65536> obuf{};
  std::array<char, 4096> ebuf{};
  bool out_done = false, err_done = false, killed = false;
  asio::steady_timer timer(ios, timeout);

  auto kill = [&] {
    if (killed) return;
    killed = true;
    ::kill(pid, SIGKILL);
    boost::system::error_code bec;
    out.close(bec);
    err.close(bec);
    in.close(bec);
  };
  auto maybe_finish = [&] {
    if (out_done && err_done) timer.cancel();
  };

  asio::async_write(in, asio::buffer(script), [&](const boost::system::error_code&, size_t) {
    boost::system::error_code bec;
    in.close(bec);
  });
  std::function<void()> read_out = [&] {
    out.async_read_some(asio::buffer(obuf), [&](const boost::system::error_code& e, size_t n) {
      if (n > 0) {
        if (result.out.size() + n > max_output) {
          result.truncated = true;
          out_done = true;
          kill();
          maybe_finish();
          return;
        }
        result.out.append(obuf.data(), n);
      }
      if (e) {
        out_done = true;
        maybe_finish();
        return;
      }
      read_out();
    });
  };
  std::function<void()> read_err = [&] {
    err.async_read_some(asio::buffer(ebuf), [&](const boost::system::error_code& e, size_t n) {
      if (n > 0 && result.err.size() < kMaxStderr)
        result.err.append(ebuf.data(), std::min(n, kMaxStderr - result.err.size()));
      if (e) {
        err_done = true;
        maybe_finish();
        return;
      }
      read_err();
    });
  };
  timer.async_wait([&](const boost::system::error_code& e) {
    if (e) return;  // cancelled: both streams ended
    result.timed_out = true;
    kill();
  });
  read_out();
  read_err();
  ios.run();

  int status = 0;
  if (!killed) {
    // Both streams ended, so the process is exiting; bound the wait anyway.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    pid_t r = 0;
    while ((r = ::waitpid(pid, &status, WNOHANG)) == 0 &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (r == pid) {
      result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      return result;
    }
    ::kill(pid, SIGKILL);
    result.timed_out = true;
  }
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = -1;
  return result;
}

std::vector<std::string> SshTransport::Arguments(const Target& t) const {
  std::vector<std::string> a = {"-o", "BatchMode=yes", "-o",
                                "ConnectTimeout=" + std::to_string(options_.connect_timeout_s)};
  for (const std::string& o : options_.extra_options) {
    a.push_back("-o");
    a.push_back(o);
  }
  if (!options_.config_file.empty()) {
    a.push_back("-F");
    a.push_back(options_.config_file);
  }
  if (t.port > 0) {
    a.push_back("-p");
    a.push_back(std::to_string(t.port));
  }
  if (!t.user.empty()) {
    a.push_back("-l");
    a.push_back(t.user);
  }
  if (!t.identity.empty()) {
    a.push_back("-i");
    a.push_back(t.identity);
  }
  // "--" ends ssh's options: the host can never be read as one (the inventory also rejects it).
  a.push_back("--");
  a.push_back(t.host);
  a.push_back("sh");
  a.push_back("-s");
  return a;
}

Result<RunOutput> SshTransport::Run(const Target& target, std::string_view script,
                                    std::chrono::milliseconds timeout, size_t max_output) {
  return RunProcess(options_.ssh_binary, Arguments(target), script, timeout, max_output);
}

Result<RunOutput> LocalShellTransport::Run(const Target&, std::string_view script,
                                           std::chrono::milliseconds timeout, size_t max_output) {
  return RunProcess("/bin/sh", {"-s"}, script, timeout, max_output);
}

}  // namespace fwgate::probe
