#include "tests/support/sshd.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "tests/support/subprocess.h"

extern char** environ;

namespace fwgate::testing {

namespace fs = std::filesystem;

namespace {

bool CanConnect(int port) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  close(s);
  return ok;
}

void WriteFile(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

}  // namespace

int FreeLoopbackPort() {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  int port = 0;
  if (bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  close(s);
  return port;
}

SshdEnv& SshdEnv::Get() {
  static SshdEnv env;
  return env;
}

std::string SshdEnv::InventoryLine(const std::string& name) const {
  return name + " ansible_host=127.0.0.1 ansible_port=" + std::to_string(port) +
         " ansible_user=root ansible_ssh_private_key_file=" + (dir / "user_key").string() + "\n";
}

std::string SshdEnv::StandaloneInventoryLine(const std::string& name) const {
  std::string line = InventoryLine(name);
  line.pop_back();
  return line +
         " ansible_ssh_common_args='-o UserKnownHostsFile=" + (dir / "known_hosts").string() +
         " -o StrictHostKeyChecking=no -o LogLevel=ERROR'\n";
}

std::vector<std::string> SshdEnv::SshFlags() const {
  return {"--ssh-option", "StrictHostKeyChecking=no",
          "--ssh-option", "UserKnownHostsFile=" + (dir / "known_hosts").string(),
          "--ssh-option", "LogLevel=ERROR"};
}

SshdEnv::~SshdEnv() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  if (!dir.empty()) fs::remove_all(dir);
}

SshdEnv::SshdEnv() {
  if (geteuid() != 0) {
    skip_reason = "needs root (sshd logs in as root)";
    return;
  }
  if (access("/usr/sbin/sshd", X_OK) != 0 || access("/usr/bin/ssh", X_OK) != 0 ||
      access("/usr/bin/ssh-keygen", X_OK) != 0) {
    skip_reason = "openssh-server/client not installed (scripts/setup.sh)";
    return;
  }
  char tmpl[] = "/tmp/fwgate-sshd-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    skip_reason = "mkdtemp failed";
    return;
  }
  dir = tmpl;
  for (const char* k : {"host_key", "user_key"}) {
    ProcessResult r = RunProcess(
        {"/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", (dir / k).string()});
    if (r.exit_code != 0) {
      skip_reason = "ssh-keygen failed: " + r.err;
      return;
    }
  }
  fs::copy_file(dir / "user_key.pub", dir / "authorized_keys");
  port = FreeLoopbackPort();
  WriteFile(dir / "sshd_config",
            "Port " + std::to_string(port) + "\nListenAddress 127.0.0.1\nHostKey " +
                (dir / "host_key").string() + "\nAuthorizedKeysFile " +
                (dir / "authorized_keys").string() +
                "\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
                "PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nStrictModes no\n"
                "UsePAM no\nPidFile " +
                (dir / "sshd.pid").string() +
                "\nLogLevel ERROR\nMaxStartups 400:30:800\nMaxSessions 400\n");
  mkdir("/run/sshd", 0755);
  std::vector<std::string> args = {"/usr/sbin/sshd", "-D", "-e", "-f",
                                   (dir / "sshd_config").string()};
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (posix_spawn(&pid_, argv[0], nullptr, nullptr, argv.data(), environ) != 0) {
    pid_ = -1;
    skip_reason = "could not start sshd";
    return;
  }
  for (int i = 0; i < 200 && !CanConnect(port); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (!CanConnect(port)) skip_reason = "sshd did not start listening";
}

void SetAnsibleEnvironment(const fs::path& d, const SshdEnv& env) {
  fs::create_directories(d / "ansible-tmp");
  WriteFile(d / "ansible.cfg", "[defaults]\n");
  setenv("ANSIBLE_CONFIG", (d / "ansible.cfg").c_str(), 1);
  setenv("ANSIBLE_LOCAL_TEMP", (d / "ansible-tmp").c_str(), 1);
  setenv("ANSIBLE_REMOTE_TEMP", (d / "ansible-tmp").c_str(), 1);
  setenv("ANSIBLE_HOME", (d / "ansible-home").c_str(), 1);
  setenv("ANSIBLE_NOCOLOR", "1", 1);
  setenv("ANSIBLE_RETRY_FILES_ENABLED", "0", 1);
  setenv("ANSIBLE_HOST_KEY_CHECKING", "False", 1);
  setenv("ANSIBLE_SSH_ARGS",
         ("-o ControlMaster=no -o StrictHostKeyChecking=no -o UserKnownHostsFile=" +
          (env.dir / "known_hosts").string() + " -o LogLevel=ERROR")
             .c_str(),
         1);
}

}  // namespace fwgate::testing
