// ssh connection sharing for fleet probes against a real sshd (Debian openssh-server) on
// 127.0.0.1 with keys the test generates: sessions to one node share one authenticated
// connection (sshd logs one publickey login), the control sockets live in a private 0700
// directory, and nothing (directory, socket, master process) is left once it is closed.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gate/probe/prober.h"
#include "gate/probe/transport.h"

extern char** environ;

namespace fwgate::probe {
namespace {

namespace fs = std::filesystem;

int FreePort() {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  (void)bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  close(s);
  return ntohs(a.sin_port);
}

bool CanConnect(int port) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  close(s);
  return ok;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

// Processes whose command line mentions `needle` (a master still serving the directory).
size_t ProcessesMentioning(const std::string& needle) {
  size_t n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    std::string cmdline = ReadFile(e.path() / "cmdline");
    if (cmdline.find(needle) != std::string::npos) ++n;
  }
  return n;
}

class SshShare : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (sshd logs in as root)";
    if (access("/usr/sbin/sshd", X_OK) != 0 || access("/usr/bin/ssh", X_OK) != 0) {
      GTEST_SKIP() << "openssh-server/client not installed (scripts/setup.sh)";
    }
    char tmpl[] = "/tmp/fwgate-sshd-share-XXXXXX";
    dir_ = mkdtemp(tmpl);
    for (const char* k : {"host_key", "user_key"}) {
      auto r =
          RunProcess("ssh-keygen", {"-q", "-t", "ed25519", "-N", "", "-f", (dir_ / k).string()}, "",
                     std::chrono::seconds(30), 1 << 16);
      ASSERT_TRUE(r && r->exit_code == 0) << "ssh-keygen failed";
    }
    fs::copy_file(dir_ / "user_key.pub", dir_ / "authorized_keys");
    port_ = FreePort();
    std::ofstream(dir_ / "sshd_config")
        << "Port " << port_ << "\nListenAddress 127.0.0.1\nHostKey " << (dir_ / "host_key").string()
        << "\nAuthorizedKeysFile " << (dir_ / "authorized_keys").string()
        << "\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
           "PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nStrictModes no\n"
           "UsePAM no\nPidFile "
        << (dir_ / "sshd.pid").string() << "\nLogLevel VERBOSE\nMaxSessions 64\n";
    mkdir("/run/sshd", 0755);
    std::vector<std::string> args = {"/usr/sbin/sshd",
                                     "-D",
                                     "-E",
                                     (dir_ / "sshd.log").string(),
                                     "-f",
                                     (dir_ / "sshd_config").string()};
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ASSERT_EQ(posix_spawn(&sshd_, argv[0], nullptr, nullptr, argv.data(), environ), 0);
    for (int i = 0; i < 200 && !CanConnect(port_); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_TRUE(CanConnect(port_)) << "sshd did not start listening";
  }
  void TearDown() override {
    if (sshd_ > 0) {
      kill(sshd_, SIGTERM);
      waitpid(sshd_, nullptr, 0);
    }
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  Target Node(const std::string& name) const {
    Target t;
    t.name = name;
    t.host = "127.0.0.1";
    t.port = port_;
    t.user = "root";
    t.identity = (dir_ / "user_key").string();
    return t;
  }
  SshOptions Options() const {
    SshOptions o;
    o.extra_options = {"StrictHostKeyChecking=no",
                       "UserKnownHostsFile=" + (dir_ / "known_hosts").string(), "LogLevel=ERROR"};
    return o;
  }
  size_t Logins() const { return Count(ReadFile(dir_ / "sshd.log"), "Accepted publickey"); }

  fs::path dir_;
  int port_ = 0;
  pid_t sshd_ = -1;
};

TEST_F(SshShare, SessionsToOneNodeShareOneLoginAndLeaveNothingBehind) {
  auto created = SshControlDir::Create();
  ASSERT_TRUE(created.ok()) << created.error().ToString();
  std::optional<SshControlDir> control(std::move(created).value());
  const std::string path = control->path();
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0700U);
  EXPECT_EQ(st.st_uid, geteuid());

  SshOptions o = Options();
  o.control_dir = path;
  SshTransport ssh(o);
  ProbeOptions po;
  po.timeout = std::chrono::seconds(30);
  // Three inventory names for the same node, probed one after another and then at once.
  std::vector<Target> nodes = {Node("a"), Node("b"), Node("c")};
  NodeFacts first = ProbeTarget(ssh, nodes[0], po);
  ASSERT_TRUE(first.reachable) << first.error;
  auto rest = ProbeFleet(ssh, {nodes[1], nodes[2]}, po);
  for (const auto& n : rest) EXPECT_TRUE(n.reachable) << n.name << ": " << n.error;
  EXPECT_EQ(first.kernel, rest[0].kernel);
  EXPECT_EQ(Logins(), 1U) << ReadFile(dir_ / "sshd.log");
  EXPECT_GE(ProcessesMentioning(path), 1U) << "the shared master should be serving";

  EXPECT_TRUE(fs::exists(path));
  control.reset();
  EXPECT_FALSE(fs::exists(path));
  for (int i = 0; i < 50 && ProcessesMentioning(path) > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(ProcessesMentioning(path), 0U) << "a master outlived its directory";
}

TEST_F(SshShare, WithoutSharingEverySessionLogsIn) {
  SshTransport ssh(Options());
  ProbeOptions po;
  po.timeout = std::chrono::seconds(30);
  auto nodes = ProbeFleet(ssh, {Node("a"), Node("b")}, po);
  for (const auto& n : nodes) EXPECT_TRUE(n.reachable) << n.name << ": " << n.error;
  EXPECT_EQ(Logins(), 2U);
}

}  // namespace
}  // namespace fwgate::probe
