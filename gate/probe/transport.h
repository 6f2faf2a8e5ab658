// How the probe script reaches a node: a Transport runs it and returns its output. The real
// ones start processes with argument vectors through the one spawner (sys/spawn.h), never a
// shell: the system `ssh` (one session per node, script on stdin to `sh -s`) and a local
// `sh -s`. Tests add fakes.
// Thread-safety: Run may be called from many threads at once.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace fwgate::probe {

// One node as the fleet runner sees it. Every field was validated by the inventory parser.
struct Target {
  std::string name;      // inventory name (report key)
  std::string host;      // host name or IP address to connect to
  int port = 0;          // 0: ssh's own default / ssh_config
  std::string user;      // empty: ssh's own default / ssh_config
  std::string identity;  // -i FILE (ansible_ssh_private_key_file); empty when unset
  // Validated ssh arguments from ansible_ssh_common_args then ansible_ssh_extra_args (see
  // ParseSshArgs in inventory.h), each one argv element, placed before "--" HOST.
  std::vector<std::string> ssh_args;
};

struct RunOutput {
  std::string out;     // stdout, at most `max_output` bytes
  std::string err;     // stderr, at most 64 KiB
  int exit_code = -1;  // -1 when killed
  bool timed_out = false;
  bool truncated = false;  // stdout exceeded the cap; the process was killed
};

class Transport {
 public:
  virtual ~Transport() = default;
  // Runs `script` on the target and collects its output. The process is killed when `timeout`
  // passes or the output exceeds `max_output`. An error only when nothing could be started.
  [[nodiscard]] virtual Result<RunOutput> Run(const Target& target, std::string_view script,
                                              std::chrono::milliseconds timeout,
                                              size_t max_output) = 0;
};

struct SshOptions {
  std::string ssh_binary = "ssh";          // looked up in PATH
  std::vector<std::string> extra_options;  // "Key=Value" pairs from the command line, as -o
  std::string config_file;                 // -F FILE only when the user asked
  int connect_timeout_s = 10;
  // Connection sharing: a directory of SshControlDir (below). Sessions to the same host, port
  // and user then share one authenticated connection (ControlMaster=auto, ControlPath=DIR/%C,
  // ControlPersist=control_persist_s): only the first pays the key exchange. Options the
  // operator gave (-o, per-host arguments) come first, so theirs win. Empty: none.
  std::string control_dir;
  int control_persist_s = 30;  // an idle master exits by itself after this
};

// A private directory for ssh control sockets: created 0700 (mkdtemp) under $TMPDIR or /tmp;
// on destruction every master listening in it is told to exit (`ssh -O exit`) and the directory
// is removed. If fwgate is killed, each master still exits after ControlPersist idle seconds.
class SshControlDir {
 public:
  // Error (unavailable) when the directory cannot be made.
  [[nodiscard]] static Result<SshControlDir> Create(std::string ssh_binary = "ssh");
  SshControlDir(SshControlDir&& other) noexcept;
  SshControlDir& operator=(SshControlDir&& other) noexcept;
  SshControlDir(const SshControlDir&) = delete;
  SshControlDir& operator=(const SshControlDir&) = delete;
  ~SshControlDir();
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  SshControlDir(std::string path, std::string ssh_binary)
      : path_(std::move(path)), ssh_binary_(std::move(ssh_binary)) {}
  void Close();
  std::string path_;
  std::string ssh_binary_;
};

// The system ssh: `ssh -o BatchMode=yes -o ConnectTimeout=N [-o K=V]... [-F f] [-p P] [-l U]
// [-i KEY] -- HOST sh -s`. The user's ssh_config is honoured.
class SshTransport : public Transport {
 public:
  explicit SshTransport(SshOptions options) : options_(std::move(options)) {}
  [[nodiscard]] Result<RunOutput> Run(const Target& target, std::string_view script,
                                      std::chrono::milliseconds timeout,
                                      size_t max_output) override;
  // The argument vector Run uses (without the program), for tests and --verbose.
  [[nodiscard]] std::vector<std::string> Arguments(const Target& target) const;

 private:
  SshOptions options_;
};

// `/bin/sh -s` on this machine, in the calling thread's network namespace.
class LocalShellTransport : public Transport {
 public:
  [[nodiscard]] Result<RunOutput> Run(const Target& target, std::string_view script,
                                      std::chrono::milliseconds timeout,
                                      size_t max_output) override;
};

// Runs `program` (a path, or a name looked up in PATH) with `args`, `input` on stdin, under the
// limits above, through sys/spawn.h (in its own PID namespace where permitted, so nothing it
// starts outlives it; with `may_leave_daemon`, not: an ssh ControlPersist master it forks must
// outlive it, and SshControlDir ends it).
[[nodiscard]] Result<RunOutput> RunProcess(const std::string& program,
                                           const std::vector<std::string>& args,
                                           std::string_view input,
                                           std::chrono::milliseconds timeout, size_t max_output,
                                           bool may_leave_daemon = false);

}  // namespace fwgate::probe
