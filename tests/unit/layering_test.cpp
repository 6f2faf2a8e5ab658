// The tree draws the architecture: each layer includes only layers below it, folders inside a
// layer do not form cycles, and only sys/ includes the netfilter libraries' headers or starts
// processes. Checked over every source file of the tree, so a change that breaks a rule fails.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

// A folder's place: (layer, rank inside the layer). A file may include a folder of a lower layer,
// or of its own layer with a lower rank, or its own folder.
struct Place {
  int layer = -1;
  int rank = 0;
};

const std::map<std::string, Place>& Places() {
  static const std::map<std::string, Place> k = {
      {"base", {0, 0}},
      {"sys", {1, 0}},
      {"gate/nft", {2, 0}},
      {"gate/diff", {2, 1}},
      {"gate/probe", {2, 1}},
      {"gate/hazards", {2, 2}},
      {"gate/policy", {2, 3}},
      {"simulator/lab", {3, 0}},
      {"simulator/workload", {3, 0}},
      {"simulator/reload", {3, 1}},
      {"simulator/replay", {3, 2}},
      {"simulator/scenarios", {3, 3}},
      {"check", {4, 0}},
      {"report", {5, 0}},
      {"cli", {6, 0}},
  };
  return k;
}

// The folder (as keyed in Places) a repository path belongs to; empty when none.
std::string FolderOf(const std::string& path) {
  std::string best;
  for (const auto& [folder, place] : Places()) {
    if (path.rfind(folder + "/", 0) == 0 && folder.size() > best.size()) best = folder;
  }
  return best;
}

struct SourceFile {
  std::string path;  // relative to the repository
  std::string text;
};

std::vector<SourceFile> ProjectSources() {
  std::vector<SourceFile> out;
  fs::path root = FWGATE_SOURCE_DIR;
  for (const auto& [folder, place] : Places()) {
    fs::path dir = root / folder;
    if (!fs::is_directory(dir)) continue;
    for (const auto& e : fs::directory_iterator(dir)) {
      auto ext = e.path().extension();
      if (ext != ".cpp" && ext != ".h") continue;
      std::ifstream in(e.path());
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      out.push_back({fs::relative(e.path(), root).string(), std::move(text)});
    }
  }
  return out;
}

// Lines of `text` outside comments that match `re`, as "LINE: text".
std::vector<std::string> CodeLinesMatching(const std::string& text, const std::regex& re) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    std::string code = line.substr(0, line.find("//"));
    if (std::regex_search(code, re)) out.push_back(std::to_string(n) + ": " + line);
  }
  return out;
}

TEST(Layering, EveryIncludePointsDownward) {
  static const std::regex kInclude(R"re(^\s*#include\s+"([^"]+)")re");
  auto files = ProjectSources();
  ASSERT_GT(files.size(), 50u);
  for (const SourceFile& f : files) {
    std::string from = FolderOf(f.path);
    ASSERT_FALSE(from.empty()) << f.path;
    Place a = Places().at(from);
    std::istringstream in(f.text);
    std::string line;
    while (std::getline(in, line)) {
      std::smatch m;
      if (!std::regex_search(line, m, kInclude)) continue;
      std::string to = FolderOf(m[1].str());
      if (to.empty() || to == from) continue;
      Place b = Places().at(to);
      bool ok = b.layer < a.layer || (b.layer == a.layer && b.rank < a.rank);
      EXPECT_TRUE(ok) << f.path << " (" << from << ") includes " << m[1] << " (" << to
                      << "), which is not below it";
    }
  }
}

TEST(Layering, OnlySysIncludesNetfilterLibrariesOrStartsProcesses) {
  static const std::regex kNetfilterHeader(
      R"re(#include\s*<(libmnl/|libnftnl/|nftables/|libnetfilter_))re");
  static const std::regex kSpawn(
      R"re(\b(fork|vfork|execve|execvp|execv|execl|execlp|posix_spawnp?|popen|system)\s*\()re");
  for (const SourceFile& f : ProjectSources()) {
    if (f.path.rfind("sys/", 0) == 0) continue;
    for (const auto& l : CodeLinesMatching(f.text, kNetfilterHeader)) {
      ADD_FAILURE() << f.path << ":" << l << " (netfilter library headers belong in sys/)";
    }
    for (const auto& l : CodeLinesMatching(f.text, kSpawn)) {
      ADD_FAILURE() << f.path << ":" << l << " (processes start only through sys/spawn.h)";
    }
  }
}

TEST(Layering, TheCheckFindsAnUpwardInclude) {
  // The rule itself can fail: a sys/ file including gate/ is not below it.
  Place sys = Places().at("sys"), gate = Places().at(FolderOf("gate/nft/loader.h"));
  EXPECT_FALSE(gate.layer < sys.layer);
  EXPECT_EQ(FolderOf("gate/hazards/findings.h"), "gate/hazards");
  EXPECT_EQ(FolderOf("README.md"), "");
  static const std::regex kSpawn(R"re(\b(fork|execvp)\s*\()re");
  EXPECT_EQ(CodeLinesMatching("  pid_t p = fork();\n  // fork() in a comment\n", kSpawn).size(),
            1u);
}

}  // namespace
