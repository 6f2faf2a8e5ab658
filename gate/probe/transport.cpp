#include "gate/probe/transport.h"

#include <cerrno>

#include "sys/spawn.h"

namespace fwgate::probe {
namespace {

constexpr size_t kMaxStderr = 64u << 10;

}  // namespace

Result<RunOutput> RunProcess(const std::string& program, const std::vector<std::string>& args,
                             std::string_view input, std::chrono::milliseconds timeout,
                             size_t max_output) {
  sys::SpawnOptions o;
  o.argv.push_back(program);
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.input = std::string(input);
  o.timeout = timeout;
  o.max_stdout = max_output;
  o.max_stderr = kMaxStderr;
  // In its own PID namespace (where permitted) everything the session starts (ProxyCommand,
  // a shell's children) dies with it, also when fwgate is killed.
  o.new_pid_namespace = true;
  auto r = sys::RunProcess(o);
  if (!r && r.error().Errno() == EPERM) {
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
