// The small conventions of a Debian tool, on the built program: `fwgate help [COMMAND]`, the
// command list instead of "A subcommand is required", a mistyped command's suggestion,
// --version with the commit, the bash completion (sourced in bash and queried through
// COMP_WORDS as bash does) and the man pages help2man made, all from the command definitions.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/subprocess.h"

namespace {

namespace fs = std::filesystem;
using fwgate::testing::ProcessResult;
using fwgate::testing::RunFwgate;
using fwgate::testing::RunProcess;

const fs::path kBuild = fs::path(FWGATE_BINARY).parent_path();
const fs::path kCompletion = kBuild / "share" / "bash-completion" / "fwgate";
const fs::path kMan = kBuild / "share" / "man" / "man1";
const std::vector<std::string> kCommands = {"check",  "validate", "diff", "probe",
                                            "replay", "lab",      "dump", "help"};

// What bash completes for `words` (the last one is the word under the cursor), with the
// generated script sourced exactly as bash-completion would.
std::vector<std::string> Complete(const std::vector<std::string>& words,
                                  const std::string& cwd = FWGATE_SOURCE_DIR) {
  std::vector<std::string> args = {"/bin/bash", "--norc", "-c",
                                   "source \"$0\" || exit 9; COMP_WORDS=(\"$@\"); "
                                   "COMP_CWORD=$(($# - 1)); _fwgate; "
                                   "printf '%s\\n' \"${COMPREPLY[@]}\"",
                                   kCompletion.string()};
  args.insert(args.end(), words.begin(), words.end());
  ProcessResult r = RunProcess(args, cwd);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> out;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

TEST(CliHelp, HelpListsEveryCommand) {
  ProcessResult r = RunFwgate({"help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const auto& c : kCommands) EXPECT_NE(r.out.find("  " + c + " "), std::string::npos) << c;
  EXPECT_EQ(r.out.find("__"), std::string::npos) << "hidden commands stay hidden\n" << r.out;
}

TEST(CliHelp, NoCommandPrintsTheListNotAnError) {
  ProcessResult r = RunFwgate({});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err.find("A subcommand is required"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Subcommands:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("  validate "), std::string::npos) << r.err;
}

TEST(CliHelp, HelpCommandIsTheCommandsOwnHelp) {
  ProcessResult help = RunFwgate({"help", "validate"});
  ProcessResult own = RunFwgate({"validate", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_EQ(help.out, own.out);
  EXPECT_NE(help.out.find("Usage: fwgate validate"), std::string::npos) << help.out;
  ProcessResult unknown = RunFwgate({"help", "valdiate"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_EQ(unknown.err, "fwgate: unknown command 'valdiate'; did you mean 'validate'?\n");
}

TEST(CliHelp, MistypedCommandSuggestsTheClosest) {
  ProcessResult r = RunFwgate({"chek", "--proposed", "x.nft"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "fwgate: unknown command 'chek'; did you mean 'check'?\n");
  EXPECT_TRUE(r.out.empty());
  EXPECT_EQ(RunFwgate({"dif"}).err, "fwgate: unknown command 'dif'; did you mean 'diff'?\n");
  EXPECT_EQ(RunFwgate({"prboe"}).err, "fwgate: unknown command 'prboe'; did you mean 'probe'?\n");
  ProcessResult far = RunFwgate({"frobnicate"});
  EXPECT_EQ(far.exit_code, 2);
  EXPECT_EQ(far.err,
            "fwgate: unknown command 'frobnicate'; run 'fwgate help' for the list of commands\n");
}

TEST(CliVersion, ShowsTheVersionAndTheCommit) {
  ProcessResult r = RunFwgate({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  std::string commit = "unknown";
  if (fs::exists(fs::path(FWGATE_SOURCE_DIR) / ".git")) {
    ProcessResult g = RunProcess({"/usr/bin/git", "-C", FWGATE_SOURCE_DIR, "describe", "--always"});
    ASSERT_EQ(g.exit_code, 0) << g.err;
    commit = g.out.substr(0, g.out.find('\n'));
  }
  // "-dirty" depends on the work tree at build time.
  EXPECT_TRUE(r.out == "fwgate 0.1.0 (commit " + commit + ")\n" ||
              r.out == "fwgate 0.1.0 (commit " + commit + "-dirty)\n")
      << r.out << " vs " << commit;
}

TEST(CliVersion, ASourceTreeWithoutGitSaysUnknown) {
  fs::path d = fs::temp_directory_path() / ("fwgate-version-" + std::to_string(::getpid()));
  fs::create_directories(d);
  fs::path out = d / "fwgate_version.h";
  ProcessResult r = RunProcess({"/usr/bin/cmake", "-DSOURCE_DIR=" + d.string(), "-DVERSION=9.9",
                                "-DOUT=" + out.string(), "-P",
                                std::string(FWGATE_SOURCE_DIR) + "/cmake/version.cmake"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::ifstream in(out);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_NE(text.str().find("#define FWGATE_GIT_COMMIT \"unknown\""), std::string::npos)
      << text.str();
  EXPECT_NE(text.str().find("#define FWGATE_VERSION \"9.9\""), std::string::npos);
  fs::remove_all(d);
}

TEST(BashCompletion, TheInstalledScriptIsGeneratedFromTheCommands) {
  ASSERT_TRUE(fs::exists(kCompletion)) << "build the fwgate_docs target";
  std::ifstream in(kCompletion);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), RunFwgate({"__bash-completion"}).out);
}

TEST(BashCompletion, CompletesCommandsFlagsAndValues) {
  ASSERT_TRUE(fs::exists(kCompletion)) << "build the fwgate_docs target";
  EXPECT_EQ(Complete({"fwgate", ""}), kCommands);
  EXPECT_EQ(Complete({"fwgate", "val"}), std::vector<std::string>{"validate"});
  EXPECT_EQ(Complete({"fwgate", "--v"}), std::vector<std::string>{"--version"});
  EXPECT_EQ(Complete({"fwgate", "validate", "--j"}), std::vector<std::string>{"--json"});
  EXPECT_EQ(Complete({"fwgate", "replay", "--rel"}),
            (std::vector<std::string>{"--reload", "--reload-timeout"}));
  EXPECT_EQ(Complete({"fwgate", "help", "pr"}), std::vector<std::string>{"probe"});
  // Every flag of a command, as its definition has it.
  auto diff = Complete({"fwgate", "diff", "--"});
  for (const char* f : {"--current", "--proposed", "--live", "--netns", "--json", "--exit-code"}) {
    EXPECT_NE(std::find(diff.begin(), diff.end(), f), diff.end()) << f;
  }
  // Values: files for a ruleset, nothing for a number, files for a positional.
  EXPECT_EQ(Complete({"fwgate", "diff", "--current", "rulesets/ceph-node-s"}),
            std::vector<std::string>{"rulesets/ceph-node-safe-change.nft"});
  EXPECT_TRUE(Complete({"fwgate", "probe", "--concurrency", ""}).empty());
  EXPECT_EQ(Complete({"fwgate", "validate", "--json", "rulesets/ceph-node.n"}),
            std::vector<std::string>{"rulesets/ceph-node.nft"});
  // The flags of the command already typed, after other words.
  EXPECT_EQ(Complete({"fwgate", "validate", "rulesets/ceph-node.nft", "--js"}),
            std::vector<std::string>{"--json"});
}

TEST(ManPages, OnePerCommandFromItsHelp) {
  ASSERT_TRUE(fs::exists(kMan / "fwgate.1.gz")) << "build the fwgate_docs target (help2man)";
  for (const auto& c : kCommands) {
    fs::path page = kMan / ("fwgate-" + c + ".1.gz");
    ASSERT_TRUE(fs::exists(page)) << page;
    ProcessResult text = RunProcess({"/usr/bin/zcat", page.string()});
    ASSERT_EQ(text.exit_code, 0);
    std::string upper = "FWGATE-" + c;
    for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    EXPECT_NE(text.out.find(".TH " + upper + " \"1\""), std::string::npos) << text.out;
    EXPECT_NE(text.out.find(".SH \"EXIT STATUS\""), std::string::npos) << c;
  }
  // The options section is the command's own --help.
  ProcessResult v = RunProcess({"/usr/bin/zcat", (kMan / "fwgate-validate.1.gz").string()});
  EXPECT_NE(v.out.find("\\fB\\-\\-json\\fR"), std::string::npos) << v.out;
  EXPECT_NE(v.out.find("\\fB\\-\\-include\\-dir\\fR"), std::string::npos) << v.out;
  // man renders it.
  if (fs::exists("/usr/bin/man")) {
    ProcessResult m =
        RunProcess({"/usr/bin/man", "-l", "-P", "cat", (kMan / "fwgate-validate.1.gz").string()});
    EXPECT_EQ(m.exit_code, 0) << m.err;
    EXPECT_NE(m.out.find("validate"), std::string::npos) << m.out;
  }
}

}  // namespace
