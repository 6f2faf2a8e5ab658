// Hostile rulesets as an untrusted pull request could carry them, through `fwgate validate` as CI
// runs it: includes of secrets, devices, FIFOs and /proc are refused at their line without a
// byte of them in the output; libnftables runs bounded (memory, time) and a bomb ends in exit 2
// with the bound named; fwgate's own pre-scans stay linear on unbalanced input.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include "sys/netns.h"
#include "tests/support/subprocess.h"

namespace {

namespace fs = std::filesystem;
using fwgate::testing::ProcessResult;

class Hostile : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto st = fwgate::sys::CanCreateNamespaces(); !st) GTEST_SKIP() << st.error().ToString();
    dir_ = fs::temp_directory_path() / ("fwgate-hostile-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path Write(const std::string& name, const std::string& text) {
    fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
  ProcessResult Validate(const fs::path& file, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"validate", file.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return fwgate::testing::RunFwgate(args);
  }
  fs::path dir_;
};

// The first bytes of a secret file, to prove none of it reaches the output.
std::string Secret(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line.substr(0, std::min<size_t>(line.size(), 24));
}

TEST_F(Hostile, IncludesOfSecretsAreRefusedAtTheirLineAndNeverEchoed) {
  for (const std::string secret : {"/etc/shadow", "/etc/ssh/ssh_host_ed25519_key",
                                   "/etc/ssh/ssh_host_rsa_key", "/proc/self/environ"}) {
    if (!fs::exists(secret)) continue;
    fs::path f = Write("inc.nft", "table inet t {\n}\ninclude \"" + secret + "\"\n");
    ProcessResult r = Validate(f);
    EXPECT_EQ(r.exit_code, 2) << secret << ": " << r.err;
    EXPECT_TRUE(std::regex_search(r.err, std::regex("inc\\.nft:3:1: .*refus")))
        << secret << ": " << r.err;
    std::string first = Secret(secret);
    if (first.size() >= 8) {
      EXPECT_EQ(r.err.find(first), std::string::npos) << secret << " leaked: " << r.err;
      EXPECT_EQ(r.out.find(first), std::string::npos) << secret << " leaked: " << r.out;
    }
  }
}

TEST_F(Hostile, ASymlinkToASecretIsRefusedToo) {
  fs::create_symlink("/etc/shadow", dir_ / "nets.nft");
  fs::path f = Write("main.nft", "include \"nets.nft\"\ntable inet t {\n}\n");
  ProcessResult r = Validate(f);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("outside"), std::string::npos) << r.err;
  std::string first = Secret("/etc/shadow");
  if (first.size() >= 8) EXPECT_EQ(r.err.find(first), std::string::npos) << r.err;
}

TEST_F(Hostile, DevicesFifosAndDirectoriesAreNeverRead) {
  ASSERT_EQ(mkfifo((dir_ / "pipe.nft").c_str(), 0600), 0);
  fs::create_directories(dir_ / "adir.nft");
  for (const std::string target :
       {"/dev/zero", "/dev/urandom", "pipe.nft", "adir.nft", "/sys/kernel/notes"}) {
    fs::path f = Write("main.nft", "include \"" + target + "\"\ntable inet t {\n}\n");
    ProcessResult r = Validate(f);  // a FIFO would block forever if it were opened for reading
    EXPECT_EQ(r.exit_code, 2) << target << ": " << r.err;
    EXPECT_TRUE(std::regex_search(r.err, std::regex("main\\.nft:1:1: ")))
        << target << ": " << r.err;
  }
}

TEST_F(Hostile, ANestedDefineBombEndsInExit2AtTheMemoryBound) {
  std::string text = "define a0 = { 1, 2 }\n";
  for (int i = 1; i < 30; ++i) {
    text += "define a" + std::to_string(i) + " = { $a" + std::to_string(i - 1) + ", $a" +
            std::to_string(i - 1) + " }\n";
  }
  text += "table inet t {\n chain c {\n  tcp dport $a29 accept\n }\n}\n";
  ProcessResult r = Validate(Write("bomb.nft", text), {"--nft-memory-limit", "384"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("too large or too complex"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("memory limit of 384 MiB"), std::string::npos) << r.err;
}

TEST_F(Hostile, AHugeTokenEndsInExit2AtTheTimeBound) {
  std::string text = "table inet t {\n chain c {\n  tcp dport " + std::string(10'000'000, '9') +
                     " accept\n }\n}\n";
  ProcessResult r = Validate(Write("token.nft", text), {"--nft-time-limit", "1000"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("time limit of 1000 ms"), std::string::npos) << r.err.substr(0, 2000);
}

TEST_F(Hostile, UnbalancedInputIsRejectedWithoutQuadraticWork) {
  std::string iifs = "table inet t {\n chain c {\n";
  for (int i = 0; i < 20000; ++i) iifs += "  iif {\n";
  ProcessResult a = Validate(Write("iif.nft", iifs));
  EXPECT_EQ(a.exit_code, 2) << a.err.substr(0, 500);
  std::string defines;
  for (int i = 0; i < 6000; ++i) defines += "define a = {\n";
  ProcessResult b = Validate(Write("define.nft", defines));
  EXPECT_EQ(b.exit_code, 2) << b.err.substr(0, 500);
}

TEST_F(Hostile, OutOfRangeLimitsAreUsageErrors) {
  fs::path f = Write("ok.nft", "table inet t {\n}\n");
  for (const std::vector<std::string>& flag : {std::vector<std::string>{"--nft-memory-limit", "1"},
                                               {"--nft-memory-limit", "nan"},
                                               {"--nft-time-limit", "-5"},
                                               {"--nft-time-limit", "inf"}}) {
    ProcessResult r = Validate(f, flag);
    EXPECT_EQ(r.exit_code, 2) << flag[0] << " " << flag[1];
    EXPECT_NE(r.err.find("is not a number from"), std::string::npos) << r.err;
  }
}

}  // namespace
