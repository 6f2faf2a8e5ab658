// The README's commands run as written: this test reads README.md, takes the fwgate commands of
// "In a firewall repo's CI" (the sh block, the GitHub Actions job's `run:` steps, the GitLab CI
// job's `script:`) and of "In a change runbook", and runs each one in a real git repository it
// creates (the bundled Ceph ruleset with its include as the base commit, a change commit on top),
// against a real sshd on 127.0.0.1 for the inventory commands and a namespace it creates for
// `--live`. A command is split as a shell splits words (quotes, `#` comments); `&&` and `>` are
// run as the shell would; nothing else of the shell is accepted. Expected outcomes come from the
// README's own text and the kernel facts (docs/kernel-conntrack.md §7: removing the established
// accept breaks open connections; the safe change keeps it first).
#include <gtest/gtest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "sys/netns.h"
#include "tests/support/files.h"
#include "tests/support/sshd.h"
#include "tests/support/subprocess.h"

namespace {

namespace fs = std::filesystem;
using fwgate::testing::ProcessResult;
using nlohmann::json;

const fs::path kSource = FWGATE_SOURCE_DIR;
const fs::path kRules = kSource / "rulesets";
constexpr const char* kCiHeading = "### In a firewall repo's CI";
constexpr const char* kRunbookHeading = "### In a change runbook";

// README lines that cannot run on a test machine, each with the reason. Everything else runs.
const std::map<std::string, std::string> kNotRun = {
    {"apt-get update && apt-get install -y git",
     "installs packages on the CI runner; the test runs the built fwgate instead"},
    {"apt-get install -y ./tools/fwgate_0.1.0_amd64.deb",
     "installs the .deb on the CI runner (package_test builds and checks the package)"},
    {"git config --global --add safe.directory \"$GITHUB_WORKSPACE\"",
     "writes the CI user's global git config; the test's repository is owned by its user"},
    {"apt-get update && apt-get install -y git ./tools/fwgate_0.1.0_amd64.deb",
     "installs packages on the CI runner; the test runs the built fwgate instead"},
    {"git fetch origin \"$CI_MERGE_REQUEST_TARGET_BRANCH_NAME\"",
     "fetches from the CI's remote; the test sets refs/remotes/origin/main itself"},
};

using fwgate::testing::LineOf;
constexpr auto& Read = fwgate::testing::ReadFile;
constexpr auto& Write = fwgate::testing::WriteFile;
bool Contains(const std::string& s, const std::string& needle) {
  return s.find(needle) != std::string::npos;
}
void ReplaceAll(std::string& s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
}

// ---- Reading the README ----

struct Fence {
  std::string lang;
  std::string body;
};

// The fenced blocks of the README section under `heading` (up to the next ## or ### heading).
std::vector<Fence> SectionFences(const std::string& readme, const std::string& heading) {
  std::istringstream in(readme);
  std::vector<Fence> fences;
  bool inside_section = false;
  std::optional<Fence> open;
  for (std::string line; std::getline(in, line);) {
    if (!open && (line.rfind("## ", 0) == 0 || line.rfind("### ", 0) == 0)) {
      if (inside_section) break;
      inside_section = line == heading;
      continue;
    }
    if (!inside_section) continue;
    if (line.rfind("```", 0) == 0) {
      if (open) {
        fences.push_back(*open);
        open.reset();
      } else {
        open = Fence{line.substr(3), ""};
      }
    } else if (open) {
      open->body += line + "\n";
    }
  }
  return fences;
}

std::vector<std::string> FencesOf(const std::vector<Fence>& fences, const std::string& lang) {
  std::vector<std::string> v;
  for (const Fence& f : fences) {
    if (f.lang == lang) v.push_back(f.body);
  }
  return v;
}

// The command lines of an sh block, `\` continuations joined.
std::vector<std::string> ShellLines(const std::string& body) {
  std::string joined = body;
  ReplaceAll(joined, "\\\n", " ");
  std::istringstream in(joined);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (line.find_first_not_of(" \t") != std::string::npos) lines.push_back(line);
  }
  return lines;
}

// A word of a command line; `op` marks an unquoted `&&` or `>`.
struct Word {
  std::string text;
  bool op = false;
};

// Splits a command line into words as sh does (single and double quotes, backslash, `#` at the
// start of a word begins a comment). Any other shell feature is an error: the test runs commands
// as argument vectors.
std::vector<Word> ShellSplit(const std::string& line, std::string* error) {
  std::vector<Word> words;
  std::string cur;
  bool in_word = false;
  auto end_word = [&] {
    if (in_word) words.push_back({cur, false});
    cur.clear();
    in_word = false;
  };
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (c == ' ' || c == '\t') {
      end_word();
    } else if (c == '#' && !in_word) {
      break;
    } else if (c == '\'') {
      size_t close = line.find('\'', i + 1);
      if (close == std::string::npos) {
        *error = "unterminated ' in: " + line;
        return {};
      }
      cur += line.substr(i + 1, close - i - 1);
      in_word = true;
      i = close;
    } else if (c == '"') {
      in_word = true;
      for (++i; i < line.size() && line[i] != '"'; ++i) {
        if (line[i] == '$' || line[i] == '`') {
          *error = "shell expansion in: " + line;
          return {};
        }
        if (line[i] == '\\' && i + 1 < line.size()) ++i;
        cur += line[i];
      }
      if (i >= line.size()) {
        *error = "unterminated \" in: " + line;
        return {};
      }
    } else if (c == '\\' && i + 1 < line.size()) {
      cur += line[++i];
      in_word = true;
    } else if (c == '&' && i + 1 < line.size() && line[i + 1] == '&') {
      end_word();
      words.push_back({"&&", true});
      ++i;
    } else if (c == '>') {
      end_word();
      words.push_back({">", true});
    } else if (std::string("|;<>()$`&*?[]{}~!").find(c) != std::string::npos &&
               !(c == '!' && in_word)) {
      *error = std::string("shell feature '") + c + "' the test does not run, in: " + line;
      return {};
    } else {
      cur += c;
      in_word = true;
    }
  }
  end_word();
  return words;
}

std::vector<Word> Split(const std::string& line) {
  std::string error;
  std::vector<Word> words = ShellSplit(line, &error);
  EXPECT_EQ(error, "");
  return words;
}

// The README's commands, as the test runs them.
struct ReadmeCommands {
  std::vector<std::string> ci_sh;          // the CI section's sh block(s)
  std::vector<std::string> github_runs;    // the GitHub job's `run:` steps
  std::vector<std::string> github_uses;    // its `uses:` steps
  YAML::Node github_job;                   // jobs.check
  std::vector<std::string> gitlab_script;  // the GitLab job's `script:` entries
  YAML::Node gitlab_job;                   // fwgate:
  std::vector<std::string> runbook_sh;     // the runbook section's first sh block
  std::vector<std::string> more_sh;        // "More ways to read the fleet"
};

ReadmeCommands LoadReadme() {
  ReadmeCommands c;
  const std::string readme = Read(kSource / "README.md");
  std::vector<Fence> ci = SectionFences(readme, kCiHeading);
  for (const std::string& body : FencesOf(ci, "sh")) {
    for (const std::string& l : ShellLines(body)) c.ci_sh.push_back(l);
  }
  std::vector<std::string> yaml = FencesOf(ci, "yaml");
  EXPECT_EQ(yaml.size(), 2u) << "the CI section has a GitHub Actions and a GitLab CI job";
  if (yaml.size() >= 2) {
    YAML::Node gh = YAML::Load(yaml[0]);
    c.github_job = gh["jobs"]["check"];
    for (const YAML::Node& step : c.github_job["steps"]) {
      if (step["run"]) c.github_runs.push_back(step["run"].as<std::string>());
      if (step["uses"]) c.github_uses.push_back(step["uses"].as<std::string>());
    }
    YAML::Node gl = YAML::Load(yaml[1]);
    c.gitlab_job = gl["fwgate"];
    for (const YAML::Node& s : c.gitlab_job["script"])
      c.gitlab_script.push_back(s.as<std::string>());
  }
  std::vector<std::string> runbook = FencesOf(SectionFences(readme, kRunbookHeading), "sh");
  EXPECT_EQ(runbook.size(), 2u) << "the runbook section has the check and the more-ways blocks";
  if (!runbook.empty()) c.runbook_sh = ShellLines(runbook[0]);
  if (runbook.size() >= 2) c.more_sh = ShellLines(runbook[1]);
  return c;
}

// The CI's variables as a pull request / merge request against main sets them.
std::string Substitute(std::string line) {
  ReplaceAll(line, "${{ github.base_ref }}", "main");
  ReplaceAll(line, "$CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main");
  return line;
}

// The fwgate commands of a job's steps; the others must be the ones in kNotRun.
std::vector<std::string> FwgateSteps(const std::vector<std::string>& steps) {
  std::vector<std::string> v;
  for (const std::string& s : steps) {
    if (s.rfind("fwgate ", 0) == 0) {
      v.push_back(Substitute(s));
    } else {
      EXPECT_TRUE(kNotRun.count(s)) << "a CI step the test neither runs nor skips: " << s;
    }
  }
  return v;
}

// ---- Running a command line ----

struct LineRun {
  std::vector<ProcessResult> steps;  // one per `&&`-joined command that ran
  int exit_code() const { return steps.empty() ? -1 : steps.back().exit_code; }
  std::string err() const {
    std::string e;
    for (const auto& s : steps) e += s.err;
    return e;
  }
};

// Where programs other than fwgate come from (the README's commands name them bare).
std::string ProgramPath(const std::string& name) {
  if (name == "fwgate") return FWGATE_BINARY;
  for (const char* dir : {"/usr/bin/", "/bin/", "/usr/sbin/"}) {
    if (access((std::string(dir) + name).c_str(), X_OK) == 0) return dir + name;
  }
  return "";
}

// Runs `line` in `cwd` as sh would: `a && b` runs b when a exits 0; `cmd > FILE` writes cmd's
// stdout to FILE, an absolute FILE re-rooted under `root` (the test writes nothing outside its
// directory). `prefix` goes before the program (e.g. `ip netns exec NAME`).
LineRun RunLine(const std::string& line, const fs::path& cwd, const fs::path& root,
                const std::vector<std::string>& prefix = {}) {
  LineRun run;
  std::vector<Word> words = Split(line);
  std::vector<std::vector<Word>> commands(1);
  for (const Word& w : words) {
    if (w.op && w.text == "&&") {
      commands.emplace_back();
    } else {
      commands.back().push_back(w);
    }
  }
  for (const auto& cmd : commands) {
    std::vector<std::string> argv = prefix;
    std::optional<fs::path> out_file;
    for (size_t i = 0; i < cmd.size(); ++i) {
      if (cmd[i].op && cmd[i].text == ">") {
        EXPECT_EQ(i + 2, cmd.size()) << "a redirect ends the command: " << line;
        if (i + 1 < cmd.size()) {
          fs::path target = cmd[i + 1].text;
          out_file = target.is_absolute() ? root / target.relative_path() : cwd / target;
        }
        break;
      }
      std::string word = cmd[i].text;
      if (i == 0) {
        word = ProgramPath(cmd[i].text);
        EXPECT_FALSE(word.empty()) << cmd[i].text << " is not installed";
      }
      argv.push_back(word);
    }
    ProcessResult r = fwgate::testing::RunProcess(argv, cwd.string());
    if (out_file) Write(*out_file, r.out);
    run.steps.push_back(r);
    if (r.exit_code != 0) break;
  }
  return run;
}

std::string Program(const std::string& line) {
  std::vector<Word> w = Split(line);
  return w.empty() ? "" : w[0].text;
}
bool HasWord(const std::string& line, const std::string& word) {
  for (const Word& w : Split(line)) {
    if (w.text == word) return true;
  }
  return false;
}
// The value after `flag` in `line` ("" when absent; the last when repeated).
std::string FlagValue(const std::string& line, const std::string& flag) {
  std::vector<Word> w = Split(line);
  std::string v;
  for (size_t i = 0; i + 1 < w.size(); ++i) {
    if (w[i].text == flag) v = w[i + 1].text;
  }
  return v;
}
std::set<std::string> Formats(const std::string& line) {
  std::vector<Word> w = Split(line);
  std::set<std::string> f;
  for (size_t i = 0; i + 1 < w.size(); ++i) {
    if (w[i].text == "--format") f.insert(w[i + 1].text);
  }
  return f;
}

// ---- The scene ----

// A scratch directory holding the firewall repository (`repo/`, the commands' working directory)
// and whatever the commands write outside it (`root/`).
class ReadmeScene : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto st = fwgate::sys::CanCreateNamespaces(); !st) GTEST_SKIP() << st.error().ToString();
    ASSERT_FALSE(fwgate::testing::GitProgram().empty())
        << "git is not installed (scripts/setup.sh installs it)";
    cmds_ = LoadReadme();
    dir_ = fs::temp_directory_path() /
           ("fwgate-readme-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    repo_ = dir_ / "repo";
    fs::create_directories(repo_);
    Git({"init", "-q", "-b", "main"});
    Write(repo_ / "firewall/storage.nft", Read(kRules / "ceph-node.nft"));
    Write(repo_ / "firewall/ceph-networks.nft", Read(kRules / "ceph-networks.nft"));
    Git({"add", "-A"});
    Git({"commit", "-q", "-m", "base"});
    // What `actions/checkout` with fetch-depth 0 and GitLab's `git fetch origin main` leave.
    std::string base = Git({"rev-parse", "HEAD"}).out;
    base.erase(base.find_last_not_of("\n") + 1);
    Git({"update-ref", "refs/remotes/origin/main", base});
  }
  void TearDown() override {
    for (const auto& [k, v] : saved_env_) {
      if (v) {
        setenv(k.c_str(), v->c_str(), 1);
      } else {
        unsetenv(k.c_str());
      }
    }
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  ProcessResult Git(const std::vector<std::string>& args) {
    ProcessResult r = fwgate::testing::RunGit(repo_.string(), args);
    EXPECT_EQ(r.exit_code, 0) << "git " << args[0] << ": " << r.err;
    return r;
  }
  // The pull request: the proposed firewall/storage.nft committed on top of the base.
  void Change(const std::string& ruleset) {
    Write(repo_ / "firewall/storage.nft", Read(kRules / ruleset));
    Git({"commit", "-q", "-a", "-m", "change " + ruleset});
  }
  // Restores environment variable `name` in TearDown to what it is now.
  void SaveEnv(const std::string& name) {
    if (!saved_env_.count(name)) {
      const char* old = getenv(name.c_str());
      saved_env_[name] = old ? std::optional<std::string>(old) : std::nullopt;
    }
  }
  // Sets an environment variable for this test (restored in TearDown).
  void SetEnv(const std::string& name, const std::string& value) {
    SaveEnv(name);
    setenv(name.c_str(), value.c_str(), 1);
  }
  LineRun Run(const std::string& line, const std::vector<std::string>& prefix = {}) {
    return RunLine(line, repo_, dir_ / "root", prefix);
  }

  ReadmeCommands cmds_;
  fs::path dir_, repo_;
  std::map<std::string, std::optional<std::string>> saved_env_;
};

// The reports the CI section names, checked as their readers would read them.
void ExpectReports(const fs::path& out_dir, const std::set<std::string>& formats,
                   const std::string& verdict) {
  if (formats.count("sarif")) {
    fs::path p = out_dir / "fwgate-check.sarif";
    ASSERT_TRUE(fs::exists(p)) << p;
    json s = json::parse(Read(p), nullptr, false);
    ASSERT_FALSE(s.is_discarded()) << p << " is not JSON";
    EXPECT_EQ(s["version"], "2.1.0");
    ASSERT_TRUE(s["runs"].is_array() && !s["runs"].empty());
    EXPECT_TRUE(s["runs"][0]["results"].is_array());
    EXPECT_EQ(s["runs"][0]["tool"]["driver"]["name"], "fwgate");
  }
  if (formats.count("junit")) {
    fs::path p = out_dir / "fwgate-check.junit.xml";
    ASSERT_TRUE(fs::exists(p)) << p;
    ProcessResult x = fwgate::testing::RunProcess({"/usr/bin/xmllint", "--noout", p.string()});
    EXPECT_EQ(x.exit_code, 0) << x.err;
    std::string xml = Read(p);
    EXPECT_TRUE(Contains(xml, "<testsuite")) << xml.substr(0, 500);
    EXPECT_EQ(Contains(xml, "<failure"), verdict == "fail") << xml.substr(0, 2000);
  }
  if (formats.count("html")) {
    fs::path p = out_dir / "fwgate-check.html";
    ASSERT_TRUE(fs::exists(p)) << p;
    std::string html = Read(p);
    EXPECT_TRUE(Contains(html, "<title>fwgate check: " + verdict)) << html.substr(0, 500);
    EXPECT_TRUE(Contains(html, "<div class=\"verdict\">" + verdict + "</div>"));
    EXPECT_TRUE(Contains(html, "<svg")) << "the replay timeline plot";
    EXPECT_FALSE(Contains(html, "src=\"http") || Contains(html, "<link rel=\"stylesheet\""))
        << "the page is self-contained";
  }
  if (formats.count("markdown")) {
    fs::path p = out_dir / "fwgate-check.md";
    ASSERT_TRUE(fs::exists(p)) << p;
    EXPECT_TRUE(Contains(Read(p), "fwgate check: **" + verdict + "**"));
  }
}

std::vector<std::string> Fwgate(const std::vector<std::string>& lines) {
  std::vector<std::string> v;
  for (const auto& l : lines) {
    if (Program(l) == "fwgate") v.push_back(l);
  }
  return v;
}

}  // namespace

TEST(ReadmeCommands, SectionsHoldTheCommandsTheTestRuns) {
  ReadmeCommands c = LoadReadme();
  std::vector<std::string> ci = Fwgate(c.ci_sh);
  ASSERT_EQ(ci.size(), 1u) << "the CI section's sh block: one fwgate check";
  EXPECT_TRUE(Contains(ci[0], "fwgate check --base origin/main --proposed "));
  // The GitHub job: install, checkout, check, upload what the check wrote.
  ASSERT_EQ(FwgateSteps(c.github_runs).size(), 1u);
  EXPECT_EQ(c.github_runs.size(), 4u) << "apt-get, the .deb, git config, fwgate check";
  for (const char* uses : {"actions/checkout@v4", "github/codeql-action/upload-sarif@v3",
                           "actions/upload-artifact@v4"}) {
    EXPECT_NE(std::find(c.github_uses.begin(), c.github_uses.end(), uses), c.github_uses.end())
        << uses;
  }
  EXPECT_EQ(c.github_job["permissions"]["security-events"].as<std::string>(), "write");
  // The GitLab job: install, fetch the target branch, check; JUnit as its test report.
  ASSERT_EQ(FwgateSteps(c.gitlab_script).size(), 1u);
  EXPECT_EQ(c.gitlab_script.size(), 3u);
  EXPECT_EQ(c.gitlab_job["artifacts"]["when"].as<std::string>(), "always");
  EXPECT_EQ(c.gitlab_job["artifacts"]["reports"]["junit"].as<std::string>(),
            "fwgate-report/fwgate-check.junit.xml");
  EXPECT_EQ(Fwgate(c.runbook_sh).size(), 2u);
  EXPECT_FALSE(c.more_sh.empty());
  // Splitting as sh does.
  std::vector<Word> w = Split("fwgate probe --limit 'ceph:!mon*'   # a comment");
  ASSERT_EQ(w.size(), 4u);
  EXPECT_EQ(w[3].text, "ceph:!mon*");
  std::string error;
  ShellSplit("fwgate probe | tee x", &error);
  EXPECT_FALSE(error.empty());
}

TEST_F(ReadmeScene, CiCommandsPassASafeChangeAndWriteTheReports) {
  Change("ceph-node-safe-change.nft");
  std::vector<std::string> lines = Fwgate(cmds_.ci_sh);
  for (const std::string& l : FwgateSteps(cmds_.gitlab_script)) lines.push_back(l);
  ASSERT_EQ(lines.size(), 2u);
  for (const std::string& line : lines) {
    SCOPED_TRACE(line);
    fs::path out = repo_ / FlagValue(line, "--output-dir");
    fs::remove_all(out);
    LineRun r = Run(line);
    ASSERT_EQ(r.exit_code(), 0) << r.err() << r.steps.back().out;
    EXPECT_TRUE(Contains(r.steps.back().out, "fwgate check: PASS")) << r.steps.back().out;
    ExpectReports(out, Formats(line), "pass");
  }
  // What the GitLab job uploads exists.
  for (const YAML::Node& p : cmds_.gitlab_job["artifacts"]["paths"]) {
    EXPECT_TRUE(fs::exists(repo_ / p.as<std::string>())) << p.as<std::string>();
  }
  EXPECT_TRUE(
      fs::exists(repo_ / cmds_.gitlab_job["artifacts"]["reports"]["junit"].as<std::string>()));
}

TEST_F(ReadmeScene, GithubJobFailsTheRemovedEstablishedAcceptWithAnnotations) {
  Change("ceph-node-no-established.nft");
  std::vector<std::string> lines = FwgateSteps(cmds_.github_runs);
  ASSERT_EQ(lines.size(), 1u);
  const std::string& line = lines[0];
  EXPECT_TRUE(Contains(line, "--base origin/main ")) << line;
  SetEnv("GITHUB_ACTIONS", "true");
  LineRun r = Run(line);
  ASSERT_EQ(r.exit_code(), 1) << r.err() << r.steps.back().out;
  const std::string proposed = FlagValue(line, "--proposed");
  ASSERT_EQ(proposed, "firewall/storage.nft");
  EXPECT_TRUE(Contains(r.err(), "::error file=" + proposed)) << r.err();
  fs::path out = repo_ / FlagValue(line, "--output-dir");
  ExpectReports(out, Formats(line), "fail");
  // The SARIF the upload step names has a result on the proposed file.
  std::string sarif_file;
  for (const YAML::Node& step : cmds_.github_job["steps"]) {
    if (step["with"] && step["with"]["sarif_file"]) {
      sarif_file = step["with"]["sarif_file"].as<std::string>();
    }
  }
  ASSERT_FALSE(sarif_file.empty());
  json s = json::parse(Read(repo_ / sarif_file), nullptr, false);
  ASSERT_FALSE(s.is_discarded());
  // The established accept's removal, on the proposed file's line where the drop now comes first.
  const int drop_line = LineOf(Read(repo_ / proposed), "log prefix \"storage-input-drop: \" drop");
  ASSERT_GT(drop_line, 0);
  bool on_proposed = false;
  for (const json& res : s["runs"][0]["results"]) {
    if (res["ruleId"] != "established-accept-lost") continue;
    for (const json& loc : res.value("locations", json::array())) {
      const json& phys = loc["physicalLocation"];
      if (phys["artifactLocation"]["uri"] == proposed && phys["region"]["startLine"] == drop_line) {
        on_proposed = true;
      }
    }
  }
  EXPECT_TRUE(on_proposed) << s.dump(1).substr(0, 3000);
  EXPECT_TRUE(Contains(r.err(), "title=fwgate policy%3A established-accept-lost")) << r.err();
}

TEST_F(ReadmeScene, RunbookCommandsProbeARealSshdAndCheckTheChange) {
  REQUIRE_SSHD();
  Change("ceph-node-safe-change.nft");
  // The inventory the runbook names: a [storage] group reaching the test's sshd.
  Write(repo_ / "inventory.ini", "[storage]\n" + env.StandaloneInventoryLine("storage1") +
                                     "[mon]\nmon1 ansible_host=127.0.0.2\n");
  std::vector<std::string> lines = Fwgate(cmds_.runbook_sh);
  ASSERT_EQ(lines.size(), 2u);
  for (const std::string& line : lines) {
    SCOPED_TRACE(line);
    EXPECT_EQ(FlagValue(line, "--inventory"), "inventory.ini");
    EXPECT_EQ(FlagValue(line, "--limit"), "storage");
    LineRun r = Run(line);
    const std::string out = r.steps.back().out;
    if (HasWord(line, "check")) {
      // One node on this machine's kernel, probed over ssh: the safe change passes.
      EXPECT_EQ(r.exit_code(), 0) << r.err() << out;
      EXPECT_TRUE(Contains(out, "storage1")) << out;
      EXPECT_FALSE(Contains(out, "mon1")) << "--limit storage selects the storage group";
      ExpectReports(repo_ / FlagValue(line, "--output-dir"), Formats(line), "pass");
    } else {
      // "exit 1 on a blocking finding, 3 if a node cannot be read": the node was read.
      EXPECT_TRUE(r.exit_code() == 0 || r.exit_code() == 1) << r.err() << out;
      EXPECT_TRUE(Contains(out, "storage1")) << out;
      EXPECT_FALSE(Contains(out, "mon1")) << out;
      Write(repo_ / "unreachable.ini", "[storage]\nstorage9 ansible_host=127.0.0.1 ansible_port=" +
                                           std::to_string(fwgate::testing::FreeLoopbackPort()) +
                                           " ansible_user=root\n");
      std::string other = line;
      ReplaceAll(other, "inventory.ini", "unreachable.ini");
      EXPECT_EQ(Run(other).exit_code(), 3) << "a node that cannot be read";
    }
  }
}

TEST_F(ReadmeScene, MoreWaysToReadTheFleetRunAgainstTheSameSshd) {
  REQUIRE_SSHD();
  if (access("/usr/bin/ansible-playbook", X_OK) != 0) {
    GTEST_SKIP() << "ansible-playbook not installed (ansible-core, scripts/setup.sh)";
  }
  for (const char* v : {"ANSIBLE_CONFIG", "ANSIBLE_LOCAL_TEMP", "ANSIBLE_REMOTE_TEMP",
                        "ANSIBLE_HOME", "ANSIBLE_NOCOLOR", "ANSIBLE_RETRY_FILES_ENABLED",
                        "ANSIBLE_HOST_KEY_CHECKING", "ANSIBLE_SSH_ARGS"}) {
    SaveEnv(v);
  }
  fwgate::testing::SetAnsibleEnvironment(dir_ / "ansible", env);
  // The playbook runs `fwgate probe --print-script` on the controller: fwgate on PATH.
  fs::create_directories(dir_ / "bin");
  fs::create_symlink(FWGATE_BINARY, dir_ / "bin/fwgate");
  SetEnv("PATH", (dir_ / "bin").string() + ":" + getenv("PATH"));
  // The repository carries fwgate's contrib/ansible as the README's path names it.
  fs::copy(kSource / "contrib", repo_ / "contrib", fs::copy_options::recursive);
  // inv.yml: a ceph group with OSD hosts and a MON that 'ceph:!mon*' leaves out.
  auto host = [&](const std::string& name) {
    return "        " + name + ":\n          ansible_host: 127.0.0.1\n          ansible_port: " +
           std::to_string(env.port) +
           "\n          ansible_user: root\n          ansible_ssh_private_key_file: " +
           (env.dir / "user_key").string() +
           "\n          ansible_ssh_common_args: '-o UserKnownHostsFile=" +
           (env.dir / "known_hosts").string() +
           " -o StrictHostKeyChecking=no -o LogLevel=ERROR'\n"
           "          ansible_python_interpreter: /usr/bin/python3\n";
  };
  Write(repo_ / "inv.yml", "all:\n  children:\n    ceph:\n      hosts:\n" + host("osd1") +
                               host("osd2") + host("mon1"));
  // new.nft for `diff --live`: the safe change, next to its include.
  Write(repo_ / "new.nft", Read(kRules / "ceph-node-safe-change.nft"));
  Write(repo_ / "ceph-networks.nft", Read(kRules / "ceph-networks.nft"));
  const std::string ns = "fwgate-readme-" + std::to_string(getpid());
  ASSERT_FALSE(cmds_.more_sh.empty());
  for (const std::string& line : cmds_.more_sh) {
    SCOPED_TRACE(line);
    std::vector<Word> words = Split(line);
    if (HasWord(line, "--ansible-inventory")) {
      LineRun r = Run(line);
      EXPECT_TRUE(r.exit_code() == 0 || r.exit_code() == 1) << r.err() << r.steps.back().out;
      const std::string out = r.steps.back().out;
      EXPECT_TRUE(Contains(out, "osd1") && Contains(out, "osd2")) << out;
      EXPECT_FALSE(Contains(out, "mon1")) << "'ceph:!mon*' leaves the MON out: " << out;
    } else if (Program(line) == "ansible-playbook") {
      LineRun r = Run(line);
      ASSERT_EQ(r.steps.size(), 2u) << "the playbook failed: " << r.steps[0].out << r.err();
      for (const char* h : {"osd1", "osd2", "mon1"}) {
        EXPECT_TRUE(fs::exists(repo_ / "out" / (std::string(h) + ".json"))) << h;
      }
      // `fwgate probe --from out`: every node read (0, or 1 on a blocking finding).
      EXPECT_TRUE(r.exit_code() == 0 || r.exit_code() == 1) << r.err() << r.steps[1].out;
      EXPECT_TRUE(Contains(r.steps[1].out, "osd1")) << r.steps[1].out;
    } else if (HasWord(line, "--prometheus")) {
      // Runs after the playbook line, from the directory it wrote.
      ASSERT_TRUE(fs::exists(repo_ / "out")) << "the README reads `out` before writing it";
      LineRun r = Run(line);
      EXPECT_TRUE(r.exit_code() == 0 || r.exit_code() == 1) << r.err();
      const fs::path target = words.back().text;
      ASSERT_TRUE(target.is_absolute());
      std::string prom = Read(dir_ / "root" / target.relative_path());
      EXPECT_TRUE(Contains(prom, "fwgate_nf_conntrack_tcp_be_liberal{node=\"osd1\"}")) << prom;
      EXPECT_TRUE(Contains(prom, "# TYPE ")) << prom;
    } else if (HasWord(line, "--live")) {
      // "on the node": a namespace this test creates, the baseline loaded as the live ruleset.
      ASSERT_EQ(fwgate::testing::RunProcess({"/usr/sbin/ip", "netns", "add", ns}).exit_code, 0);
      const std::vector<std::string> in_ns = {"/usr/sbin/ip", "netns", "exec", ns};
      std::vector<std::string> load = in_ns;
      load.insert(load.end(), {"/usr/sbin/nft", "-I", kRules.string(), "-f",
                               (kRules / "ceph-node.nft").string()});
      ProcessResult loaded = fwgate::testing::RunProcess(load);
      LineRun r = Run(line, in_ns);
      fwgate::testing::RunProcess({"/usr/sbin/ip", "netns", "del", ns});
      ASSERT_EQ(loaded.exit_code, 0) << loaded.err;
      EXPECT_EQ(r.exit_code(), 0) << r.err();
      EXPECT_TRUE(Contains(r.steps.back().out, "ceph-mgr prometheus module")) << r.steps.back().out;
    } else {
      ADD_FAILURE() << "a README line the test does not know how to run: " << line;
    }
  }
}
