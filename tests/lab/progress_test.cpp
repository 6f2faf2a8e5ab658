// Progress of long runs on stderr: shown when stderr is a terminal (a pseudo-terminal made by
// util-linux's `script`), absent on a pipe and with --quiet. A fleet probe reports nodes done
// and time left; a replay reports its stages and the time left.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "sys/netns.h"
#include "tests/support/subprocess.h"

namespace {

namespace fs = std::filesystem;
using fwgate::testing::ProcessResult;
using fwgate::testing::RunFwgate;
using fwgate::testing::RunProcess;

const std::string kSource = FWGATE_SOURCE_DIR;
constexpr const char* kNonce = "fixture0nonce01";

// Runs fwgate with `args` on a pseudo-terminal (stdin, stdout and stderr all on it); returns
// what the terminal showed. The arguments hold no quote characters.
ProcessResult OnTerminal(const std::vector<std::string>& args) {
  std::string cmd = std::string("'") + FWGATE_BINARY + "'";
  for (const auto& a : args) cmd += " '" + a + "'";
  return RunProcess({"/usr/bin/script", "-q", "-e", "-c", cmd, "/dev/null"});
}

class FleetProgress : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists("/usr/bin/script")) GTEST_SKIP() << "util-linux script is not installed";
    dir_ = fs::temp_directory_path() / ("fwgate-progress-" + std::to_string(::getpid()));
    fs::create_directories(dir_ / "from");
    // Three nodes' probe JSON, made from one saved probe output.
    std::string inventory = "[storage]\n";
    for (const char* name : {"osd1", "osd2", "osd3"}) {
      ProcessResult p =
          RunFwgate({"probe", "--parse-output", kSource + "/tests/data/probe/node-4.15.txt",
                     "--nonce", kNonce, "--name", name, "--json"});
      ASSERT_FALSE(p.out.empty()) << p.err;
      std::ofstream(dir_ / "from" / (std::string(name) + ".json")) << p.out;
      inventory += std::string(name) + "\n";
    }
    std::ofstream(dir_ / "inventory.ini") << inventory;
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }
  std::vector<std::string> Args() const {
    return {"probe",
            "--inventory",
            (dir_ / "inventory.ini").string(),
            "--from",
            (dir_ / "from").string(),
            "--json"};
  }
  fs::path dir_;
};

TEST_F(FleetProgress, NodesDoneOnATerminal) {
  ProcessResult tty = OnTerminal(Args());
  EXPECT_NE(tty.out.find("fwgate probe: nodes: 3/3 done"), std::string::npos) << tty.out;
  EXPECT_NE(tty.out.find("fwgate probe: nodes: 1/3 done (last: osd1)"), std::string::npos)
      << tty.out;
}

TEST_F(FleetProgress, QuietOnAPipeAndWithQuiet) {
  ProcessResult pipe = RunFwgate(Args());
  EXPECT_EQ(pipe.err.find("fwgate probe: nodes:"), std::string::npos) << pipe.err;
  EXPECT_EQ(pipe.out.find("fwgate probe:"), std::string::npos);
  auto quiet = Args();
  quiet.push_back("--quiet");
  ProcessResult tty = OnTerminal(quiet);
  EXPECT_EQ(tty.out.find("fwgate probe: nodes:"), std::string::npos) << tty.out;
  EXPECT_NE(tty.out.find("\"nodes\""), std::string::npos) << tty.out;
}

class ReplayProgress : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists("/usr/bin/script")) GTEST_SKIP() << "util-linux script is not installed";
    if (auto st = fwgate::sys::CanCreateNamespaces(); !st) GTEST_SKIP() << st.error().ToString();
  }
  // A short replay: one node, few connections, 2 s of traffic.
  static std::vector<std::string> Args() {
    return {"replay",
            "--current",
            kSource + "/rulesets/ceph-node.nft",
            "--proposed",
            kSource + "/rulesets/ceph-node-safe-change.nft",
            "--nodes",
            "1",
            "--connections-per-node",
            "1",
            "--duration",
            "2",
            "--warmup",
            "500"};
  }
};

TEST_F(ReplayProgress, StagesAndTimeLeftOnATerminalNothingOnAPipe) {
  ProcessResult tty = OnTerminal(Args());
  for (const char* stage :
       {"fwgate replay: stage 1/5 lab", "fwgate replay: stage 2/5 rulesets",
        "fwgate replay: stage 3/5 connections", "fwgate replay: stage 4/5 traffic", "s left)",
        "fwgate replay: stage 5/5 judge", "fwgate replay: done: survived"}) {
    EXPECT_NE(tty.out.find(stage), std::string::npos) << stage << "\n" << tty.out;
  }
  ProcessResult pipe = RunFwgate(Args());
  EXPECT_EQ(pipe.exit_code, 0) << pipe.err;
  EXPECT_EQ(pipe.err.find("stage"), std::string::npos) << pipe.err;
}

}  // namespace
