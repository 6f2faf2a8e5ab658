#include "gate/probe/transport.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <utility>

#include "sys/spawn.h"

namespace fwgate::probe {
namespace {

constexpr size_t kMaxStderr = 64u << 10;

}  // namespace

Result<RunOutput> RunProcess(const std::string& program, const std::vector<std::string>& args,
                             std::string_view input, std::chrono::milliseconds timeout,
                             size_t max_output, bool may_leave_daemon) {
  sys::SpawnOptions o;
  o.argv.push_back(program);
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.input = std::string(input);
  o.timeout = timeout;
  o.max_stdout = max_output;
  o.max_stderr = kMaxStderr;
  // In its own PID namespace (where permitted) everything the session starts (ProxyCommand,
  // a shell's children) dies with it, also when fwgate is killed.
  o.new_pid_namespace = !may_leave_daemon;
  auto r = sys::RunProcess(o);
  if (!r && o.new_pid_namespace && r.error().Errno() == EPERM) {
    o.new_pid_namespace = false;  // unprivileged: its process group and the parent-death signal
    r = sys::RunProcess(o);
  }
  if (!r) return r.error();
  if (r->exec_failed) {
    return Error::FromErrno(ENOENT, "starting " + program + ": " + r->Describe());
  }
  RunOutput out;
  out.out = std::move(r->out);
  out.err = std::move(r->err);
  out.timed_out = r->timed_out;
  out.truncated = r->truncated;
  out.exit_code = r->signal != 0 || r->timed_out || r->truncated ? -1 : r->exit_code;
  return out;
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
  // Validated per-host arguments (ansible_ssh_common_args/extra_args), each one argv element.
  a.insert(a.end(), t.ssh_args.begin(), t.ssh_args.end());
  if (!options_.control_dir.empty()) {
    // After the operator's own options: ssh keeps the first value it sees for each.
    a.insert(a.end(),
             {"-o", "ControlMaster=auto", "-o", "ControlPath=" + options_.control_dir + "/%C", "-o",
              "ControlPersist=" + std::to_string(std::max(1, options_.control_persist_s))});
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
  return RunProcess(options_.ssh_binary, Arguments(target), script, timeout, max_output,
                    !options_.control_dir.empty());
}

Result<SshControlDir> SshControlDir::Create(std::string ssh_binary) {
  const char* tmp = std::getenv("TMPDIR");
  std::string base = tmp != nullptr && tmp[0] == '/' ? tmp : "/tmp";
  // %C (40 hex digits) and ssh's temporary suffix must fit a socket path (108 bytes).
  if (base.size() > 40) base = "/tmp";
  std::string tmpl = base + "/fwgate-ssh-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return Error::FromErrno(errno, "creating a directory for ssh control sockets in " + base);
  }
  return SshControlDir(std::move(tmpl), std::move(ssh_binary));
}

SshControlDir::SshControlDir(SshControlDir&& other) noexcept
    : path_(std::exchange(other.path_, {})), ssh_binary_(std::move(other.ssh_binary_)) {}

SshControlDir& SshControlDir::operator=(SshControlDir&& other) noexcept {
  if (this != &other) {
    Close();
    path_ = std::exchange(other.path_, {});
    ssh_binary_ = std::move(other.ssh_binary_);
  }
  return *this;
}

SshControlDir::~SshControlDir() { Close(); }

void SshControlDir::Close() {
  if (path_.empty()) return;
  std::error_code ec;
  std::vector<std::string> sockets;
  for (const auto& e : std::filesystem::directory_iterator(path_, ec)) {
    if (e.is_socket(ec)) sockets.push_back(e.path().string());
  }
  // Each master removes its socket as it exits; the host name is not used with -O exit.
  std::vector<std::thread> enders;
  enders.reserve(sockets.size());
  for (const auto& sock : sockets) {
    enders.emplace_back([this, sock] {
      (void)RunProcess(ssh_binary_, {"-o", "ControlPath=" + sock, "-O", "exit", "fwgate-control"},
                       "", std::chrono::seconds(5), 1 << 16);
    });
  }
  for (auto& t : enders) t.join();
  std::filesystem::remove_all(path_, ec);
  path_.clear();
}

Result<RunOutput> LocalShellTransport::Run(const Target&, std::string_view script,
                                           std::chrono::milliseconds timeout, size_t max_output) {
  return RunProcess("/bin/sh", {"-s"}, script, timeout, max_output);
}

}  // namespace fwgate::probe
