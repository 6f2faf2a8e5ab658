// The kernel cross-check's report (scripts/kernel-crosscheck-report.sh) on result files written
// here in the form the acceptance test and the guest's init produce: an undecided run (the lab
// overloaded under TCG) is counted as undecided, never as a verdict, and only a disagreement, a
// failed check, a missing case or an unfinished guest fails the cross-check.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/support/files.h"
#include "tests/support/subprocess.h"

namespace {

namespace fs = std::filesystem;
using fwgate::testing::ProcessResult;
using fwgate::testing::RunProcess;
using fwgate::testing::WriteFile;

class CrosscheckReport : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string t = (fs::temp_directory_path() / "fwgate-crosscheck-report.XXXXXX").string();
    ASSERT_NE(mkdtemp(t.data()), nullptr);
    dir_ = t;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // One result line: case, run, expected, verdict, exit, matched, seconds, reason.
  static std::string Line(const std::string& name, int run, const std::string& expected,
                          const std::string& verdict, int code, bool matched,
                          const std::string& reason = "") {
    return name + "\t" + std::to_string(run) + "\t" + expected + "\t" + verdict + "\t" +
           std::to_string(code) + "\t" + (matched ? "1" : "0") + "\t12.5\t" + reason;
  }
  // The guest's port: CR line ends, the init's @@xcheck lines around the results.
  std::string Guest(const std::vector<std::string>& lines, bool finished = true) {
    std::string text = "@@xcheck kernel 6.1.0-57-cloud-amd64\r\n@@xcheck ready 4.43\r\n";
    text += "@@xcheck modules-loaded 6.31\r\n";
    for (const auto& l : lines) text += l + "\r\n";
    text += "@@xcheck log [  PASSED  ] 0 tests.\r\n";
    if (finished) text += "@@xcheck finished 0 40.2\r\n";
    WriteFile(dir_ / "guest.log", text);
    return (dir_ / "guest.log").string();
  }
  std::string Host(const std::vector<std::string>& lines) {
    std::string text;
    for (const auto& l : lines) text += l + "\n";
    WriteFile(dir_ / "host.tsv", text);
    return (dir_ / "host.tsv").string();
  }
  static ProcessResult Report(std::vector<std::string> args) {
    args.insert(args.begin(), {"/bin/bash", std::string(FWGATE_SOURCE_DIR) +
                                                "/scripts/kernel-crosscheck-report.sh"});
    return RunProcess(args);
  }

  fs::path dir_;
};

TEST_F(CrosscheckReport, EveryRunMatchingAndAgreeingWithTheHostPasses) {
  auto r = Report({Guest({Line("A_Native", 1, "survived", "survived", 0, true),
                          Line("B_Strict", 1, "broken", "broken", 1, true)}),
                   "--accel", "tcg", "--host",
                   Host({Line("A_Native", 1, "survived", "survived", 0, true),
                         Line("B_Strict", 1, "broken", "broken", 1, true)}),
                   "--host-kernel", "6.18.1"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("guest 6.1.0-57-cloud-amd64 (tcg), host 6.18.1"), std::string::npos);
  EXPECT_NE(r.out.find("init at 4.43 s of guest uptime, modules loaded at 6.31 s"),
            std::string::npos);
  EXPECT_NE(r.out.find("guest: 2/2 runs match the table, 0 undecided, 0 wrong verdicts"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("same verdict in 2 of 2 runs both decided"), std::string::npos) << r.out;
}

TEST_F(CrosscheckReport, AnUndecidedRunIsUndecidedNotAVerdict) {
  auto r = Report({Guest({Line("A_Native", 1, "survived", "survived", 0, true),
                          Line("B_Strict", 1, "broken", "unknown", 3, false,
                               "lab overloaded: lateness 554 ms")}),
                   "--host",
                   Host({Line("A_Native", 1, "survived", "survived", 0, true),
                         Line("B_Strict", 1, "broken", "broken", 1, true)})});
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.out.find("guest: 1/2 runs match the table, 1 undecided, 0 wrong verdicts"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("guest run 1 undecided: lab overloaded"), std::string::npos) << r.out;
  // Only the decided pair is compared with the host.
  EXPECT_NE(r.out.find("same verdict in 1 of 1 runs both decided (1 runs undecided"),
            std::string::npos)
      << r.out;
}

TEST_F(CrosscheckReport, AWrongVerdictFails) {
  auto r = Report({Guest({Line("B_Strict", 1, "broken", "survived", 0, false, "all survived")})});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("0/1 runs match the table, 0 undecided, 1 wrong verdicts"),
            std::string::npos)
      << r.out;
}

TEST_F(CrosscheckReport, TheExpectedVerdictWithAFailedCheckFails) {
  auto r = Report({Guest({Line("B_Strict", 1, "broken", "broken", 1, false, "node2 clean")})});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("0 wrong verdicts, 1 failed checks"), std::string::npos) << r.out;
}

TEST_F(CrosscheckReport, AGuestThatDidNotFinishOrMissedACaseFails) {
  auto unfinished = Report({Guest({Line("A_Native", 1, "survived", "survived", 0, true)}, false)});
  EXPECT_EQ(unfinished.exit_code, 1) << unfinished.out;
  EXPECT_NE(unfinished.out.find("guest: did not finish"), std::string::npos) << unfinished.out;

  auto missing = Report({Guest({Line("A_Native", 1, "survived", "survived", 0, true)}), "--host",
                         Host({Line("A_Native", 1, "survived", "survived", 0, true),
                               Line("B_Strict", 1, "broken", "broken", 1, true)})});
  EXPECT_EQ(missing.exit_code, 1) << missing.out;
  EXPECT_NE(missing.out.find("guest: 1 case(s) without a result"), std::string::npos)
      << missing.out;
}

TEST_F(CrosscheckReport, AnUnreadableFileIsBadUsage) {
  auto r = Report({(dir_ / "nothing").string()});
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
