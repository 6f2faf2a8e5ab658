// Installing like a Debian tool: `cmake --install` puts the program, its man pages and its
// bash completion in the standard places; the .deb CPack builds from the same install rules
// carries Depends computed from the shared libraries plus the programs fwgate runs, installs
// with dpkg -i, puts `fwgate` on PATH (with its man page and completion), and is removed again
// with dpkg --purge, leaving the machine as it was.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "tests/support/subprocess.h"

namespace {

namespace fs = std::filesystem;
using fwgate::testing::ProcessResult;
using fwgate::testing::RunProcess;

const fs::path kBuild = fs::path(FWGATE_BINARY).parent_path();

fs::path TempDir(const std::string& what) {
  fs::path d = fs::temp_directory_path() / ("fwgate-" + what + "-" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

TEST(Install, CmakeInstallPutsEverythingInTheStandardPlaces) {
  ASSERT_TRUE(fs::exists(kBuild / "share" / "bash-completion" / "fwgate"))
      << "build everything first (the fwgate_docs target)";
  fs::path prefix = TempDir("install");
  ProcessResult r = RunProcess(
      {"/usr/bin/cmake", "--install", kBuild.string(), "--prefix", prefix.string(), "--strip"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(fs::exists(prefix / "bin" / "fwgate"));
  EXPECT_TRUE(fs::exists(prefix / "share" / "man" / "man1" / "fwgate.1.gz"));
  EXPECT_TRUE(fs::exists(prefix / "share" / "man" / "man1" / "fwgate-check.1.gz"));
  EXPECT_TRUE(fs::exists(prefix / "share" / "bash-completion" / "completions" / "fwgate"));
  // Stripped: far smaller than the build's binary with its debug information.
  EXPECT_LT(fs::file_size(prefix / "bin" / "fwgate"), fs::file_size(FWGATE_BINARY));
  ProcessResult v = RunProcess({(prefix / "bin" / "fwgate").string(), "--version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_TRUE(v.out.starts_with("fwgate 0.1.0 (commit ")) << v.out;
  fs::remove_all(prefix);
}

class DebianPackage : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "dpkg -i needs root";
    ProcessResult q = RunProcess({"/usr/bin/dpkg-query", "-W", "-f=${Status}", "fwgate"});
    if (q.out.find("installed") != std::string::npos &&
        q.out.find("not-installed") == std::string::npos) {
      GTEST_SKIP() << "a fwgate package is already installed here; not replacing it";
    }
    if (fs::exists("/usr/bin/fwgate")) GTEST_SKIP() << "/usr/bin/fwgate exists; not replacing it";
    if (!fs::exists(kBuild / "share" / "bash-completion" / "fwgate")) {
      GTEST_SKIP() << "build everything first (the fwgate_docs target)";
    }
    out_ = TempDir("deb");
  }
  void TearDown() override {
    if (installed_) {
      ProcessResult r = RunProcess({"/usr/bin/dpkg", "--purge", "fwgate"});
      EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
      EXPECT_FALSE(fs::exists("/usr/bin/fwgate"));
    }
    std::error_code ec;
    if (!out_.empty()) fs::remove_all(out_, ec);
  }
  fs::path out_;
  bool installed_ = false;
};

TEST_F(DebianPackage, BuildsInstallsRunsFromPathAndRemoves) {
  ProcessResult pack = RunProcess({"/usr/bin/cpack", "-G", "DEB", "--config",
                                   (kBuild / "CPackConfig.cmake").string(), "-B", out_.string()},
                                  kBuild.string());
  ASSERT_EQ(pack.exit_code, 0) << pack.out << pack.err;
  fs::path deb;
  for (const auto& e : fs::directory_iterator(out_)) {
    if (e.path().extension() == ".deb") deb = e.path();
  }
  ASSERT_FALSE(deb.empty()) << pack.out;
  EXPECT_TRUE(deb.filename().string().starts_with("fwgate_0.1.0_")) << deb;

  ProcessResult fields = RunProcess(
      {"/usr/bin/dpkg-deb", "-f", deb.string(), "Package", "Depends", "Recommends", "Suggests"});
  ASSERT_EQ(fields.exit_code, 0) << fields.err;
  EXPECT_NE(fields.out.find("Package: fwgate"), std::string::npos) << fields.out;
  // From the shared libraries (dpkg-shlibdeps)...
  for (const char* lib : {"libc6", "libstdc++6", "libnftables1", "libnftnl11", "libmnl0",
                          "libxtables12", "libfmt9", "libyaml-cpp0.7"}) {
    EXPECT_NE(fields.out.find(lib), std::string::npos) << lib << "\n" << fields.out;
  }
  // ...and the programs fwgate runs.
  EXPECT_NE(fields.out.find("iptables"), std::string::npos) << fields.out;
  EXPECT_NE(fields.out.find("Recommends: openssh-client, git"), std::string::npos) << fields.out;

  ProcessResult contents = RunProcess({"/usr/bin/dpkg-deb", "-c", deb.string()});
  for (const char* f : {"./usr/bin/fwgate", "./usr/share/man/man1/fwgate.1.gz",
                        "./usr/share/man/man1/fwgate-validate.1.gz",
                        "./usr/share/bash-completion/completions/fwgate"}) {
    EXPECT_NE(contents.out.find(f), std::string::npos) << f << "\n" << contents.out;
  }

  ProcessResult install = RunProcess({"/usr/bin/dpkg", "-i", deb.string()});
  installed_ = true;
  ASSERT_EQ(install.exit_code, 0) << install.out << install.err;
  // On PATH, as a user runs it.
  ProcessResult v = RunProcess({"/usr/bin/env", "PATH=/usr/local/bin:/usr/bin:/bin", "sh", "-c",
                                "command -v fwgate && fwgate --version"});
  EXPECT_EQ(v.exit_code, 0) << v.err;
  EXPECT_NE(v.out.find("/usr/bin/fwgate\nfwgate 0.1.0 (commit "), std::string::npos) << v.out;
  ProcessResult stripped = RunProcess({"/usr/bin/file", "-L", "/usr/bin/fwgate"});
  EXPECT_NE(stripped.out.find(", stripped"), std::string::npos) << stripped.out;
  ProcessResult man = RunProcess({"/usr/bin/man", "-w", "fwgate-diff"});
  EXPECT_EQ(man.out, "/usr/share/man/man1/fwgate-diff.1.gz\n") << man.err;
  // bash-completion loads the installed script on demand.
  if (fs::exists("/usr/share/bash-completion/bash_completion")) {
    ProcessResult c =
        RunProcess({"/bin/bash", "--norc", "-c",
                    "source /usr/share/bash-completion/bash_completion; __load_completion fwgate; "
                    "complete -p fwgate"});
    EXPECT_EQ(c.out, "complete -F _fwgate fwgate\n") << c.err;
  }
}

}  // namespace
