// A real sshd (Debian openssh-server) on 127.0.0.1 for the tests that probe over ssh: key-only
// auth with keys generated per run; the user's ssh files are neither read nor written.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace fwgate::testing {

// A loopback TCP port nothing listens on (at the time of the call).
int FreeLoopbackPort();

// One sshd for the whole test program, started on first use and stopped at exit. When it cannot
// run here (not root, openssh missing), `skip_reason` says why and the test skips.
class SshdEnv {
 public:
  static SshdEnv& Get();
  SshdEnv(const SshdEnv&) = delete;
  SshdEnv& operator=(const SshdEnv&) = delete;
  ~SshdEnv();

  std::string skip_reason;
  std::filesystem::path dir;  // keys, config, known_hosts
  int port = 0;

  // An INI inventory line for host `name` reaching this sshd (user, port, key); ssh's host-key
  // options come from SshFlags().
  std::string InventoryLine(const std::string& name) const;
  // The same with ansible_ssh_common_args naming the test's known_hosts, so that a command as a
  // user writes it (no --ssh-option) reaches this sshd without touching ~/.ssh.
  std::string StandaloneInventoryLine(const std::string& name) const;
  // fwgate --ssh-option flags: the test's known_hosts, no host-key prompt.
  std::vector<std::string> SshFlags() const;

 private:
  SshdEnv();
  pid_t pid_ = -1;
};

// Ansible settings for a test run (environment variables of this process): nothing read from or
// left in the user's home, no ssh master left running (ControlMaster=no), the test's
// known_hosts. `d` receives ansible.cfg and Ansible's temporary files.
void SetAnsibleEnvironment(const std::filesystem::path& d, const SshdEnv& env);

}  // namespace fwgate::testing

// In a GoogleTest body: `env` is the sshd, or the test skips with the reason.
#define REQUIRE_SSHD()                           \
  auto& env = ::fwgate::testing::SshdEnv::Get(); \
  if (!env.skip_reason.empty()) GTEST_SKIP() << env.skip_reason
