// Includes resolved by fwgate itself (gate/nft/source.h), over an in-memory file tree and a
// faulty one: nft 1.0.6's search rules, the line map back to each file, confinement and bounds.
#include "gate/nft/source.h"

#include <gtest/gtest.h>

#include <map>

namespace fwgate::nft {
namespace {

// Files in memory; paths absolute. A path mapped to "" fails to read (a faulty tree).
class MemoryFiles : public RulesetFiles {
 public:
  MemoryFiles(std::initializer_list<std::pair<const std::string, std::string>> files)
      : files_(files) {}
  Result<std::string> Read(const std::string& path, size_t max_bytes) override {
    auto it = files_.find(path);
    if (it == files_.end()) return Error::BadInput("cannot open: No such file or directory");
    if (it->second.empty()) return Error::BadInput("not a regular file");
    if (it->second.size() > max_bytes) return Error::BadInput("too large");
    ++reads;
    return it->second;
  }
  bool Exists(const std::string& path) override { return files_.contains(path); }
  std::vector<std::string> Glob(const std::string& pattern, size_t max) override {
    // Enough for "*" in the last component.
    std::vector<std::string> out;
    size_t star = pattern.find('*');
    std::string head = pattern.substr(0, star), tail = pattern.substr(star + 1);
    for (const auto& [p, c] : files_) {
      if (p.size() >= head.size() + tail.size() && p.compare(0, head.size(), head) == 0 &&
          p.compare(p.size() - tail.size(), tail.size(), tail) == 0 &&
          p.find('/', head.size()) == std::string::npos && out.size() < max) {
        out.push_back(p);
      }
    }
    return out;
  }
  int reads = 0;

 private:
  std::map<std::string, std::string> files_;
};

FlatText FlattenOk(MemoryFiles& files, const std::string& root, FlattenOptions o = {}) {
  auto r = Flatten(files, root, o);
  if (auto* e = std::get_if<FlattenError>(&r)) {
    ADD_FAILURE() << e->where.ToString() << ": " << e->message;
    return {};
  }
  return std::get<FlatText>(std::move(r));
}

TEST(FindIncludes, SeesOnlyIncludeStatementsOutsideCommentsAndStrings) {
  auto v = FindIncludes(
      "include \"a.nft\";\n# include \"no.nft\"\ndefine x = \"include here\"\n"
      "table t {\n\tinclude \"b.nft\"\n}\nxinclude \"c.nft\"\n");
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].path, "a.nft");
  EXPECT_EQ(v[0].line, 1);
  EXPECT_EQ(v[1].path, "b.nft");
  EXPECT_EQ(v[1].line, 5);
  EXPECT_EQ(v[1].column, 2);
}

TEST(Flatten, RelativeIncludesSearchTheRootDirectoryThenIncludeDirsAndMapLinesBack) {
  MemoryFiles files({{"/r/main.nft", "# main\ninclude \"nets.nft\"\ntable inet t {\n}\n"},
                     {"/r/nets.nft", "define a = 1\ndefine b = 2\n"},
                     {"/inc/other.nft", "define c = 3\n"}});
  FlatText f = FlattenOk(files, "/r/main.nft");
  EXPECT_EQ(f.text, "# main\ndefine a = 1\ndefine b = 2\ntable inet t {\n}\n");
  EXPECT_EQ(f.Map(1, 1).ToString(), "/r/main.nft:1:1");
  EXPECT_EQ(f.Map(3, 8).ToString(), "/r/nets.nft:2:8");
  EXPECT_EQ(f.Map(4, 1).ToString(), "/r/main.nft:3:1");
  EXPECT_EQ(f.Line("/r/nets.nft", 2), "define b = 2");
  // A nested relative include is searched in the include path, as nft 1.0.6 does, not next to
  // the including file.
  MemoryFiles nested({{"/r/main.nft", "include \"sub/a.nft\"\n"},
                      {"/r/sub/a.nft", "include \"b.nft\"\n"},
                      {"/r/sub/b.nft", "define wrong = 1\n"},
                      {"/r/b.nft", "define right = 1\n"}});
  FlatText g = FlattenOk(nested, "/r/main.nft");
  EXPECT_EQ(g.text, "define right = 1\n");
}

TEST(Flatten, IncludeInsideABlockKeepsTheRestOfItsLine) {
  MemoryFiles files(
      {{"/r/m.nft", "table inet t { include \"c.nft\" }\n"}, {"/r/c.nft", "chain c {\n}\n"}});
  FlatText f = FlattenOk(files, "/r/m.nft");
  EXPECT_EQ(f.text, "table inet t { \nchain c {\n}\n }\n");
  // The closing brace after the include is line 1 of m.nft, at its own column.
  EXPECT_EQ(f.Map(4, 2).ToString(), "/r/m.nft:1:32");
}

TEST(Flatten, AGlobMatchingNothingIsAcceptedButNoted) {
  MemoryFiles files({{"/r/m.nft", "include \"/etc/nftables.d/*.nft\"\ntable inet t {\n}\n"}});
  FlatText f = FlattenOk(files, "/r/m.nft");
  ASSERT_EQ(f.unmatched.size(), 1u);
  EXPECT_EQ(f.unmatched[0].where.ToString(), "/r/m.nft:1:1");
}

TEST(Flatten, AMappingIncludeDirServesAbsoluteIncludes) {
  MemoryFiles files({{"/r/m.nft", "include \"/etc/nftables.d/*.nft\"\n"},
                     {"/repo/conf.d/nets.nft", "define a = 1\n"}});
  FlattenOptions o;
  o.include_dirs.push_back({"/repo/conf.d", "/etc/nftables.d"});
  FlatText f = FlattenOk(files, "/r/m.nft", o);
  EXPECT_EQ(f.text, "define a = 1\n");
}

TEST(Flatten, AMissingFileIsAnErrorAtTheIncludeStatement) {
  MemoryFiles files({{"/r/m.nft", "\n  include \"gone.nft\"\n"}});
  auto r = Flatten(files, "/r/m.nft", {});
  auto* e = std::get_if<FlattenError>(&r);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->where.ToString(), "/r/m.nft:2:3");
  EXPECT_EQ(e->message, "File not found: gone.nft");
}

TEST(Flatten, AnUnreadableFileIsAnErrorAndIsNeverEchoed) {
  MemoryFiles files({{"/r/m.nft", "include \"/dev/zero\"\n"}, {"/dev/zero", ""}});
  auto r = Flatten(files, "/r/m.nft", {});
  auto* e = std::get_if<FlattenError>(&r);
  ASSERT_NE(e, nullptr);
  EXPECT_NE(e->message.find("not a regular file"), std::string::npos) << e->message;
}

TEST(Flatten, SelfInclusionStopsAtTheDepthLimit) {
  MemoryFiles files({{"/r/m.nft", "include \"m.nft\"\n"}});
  auto r = Flatten(files, "/r/m.nft", {});
  auto* e = std::get_if<FlattenError>(&r);
  ASSERT_NE(e, nullptr);
  EXPECT_NE(e->message.find("nested too deeply"), std::string::npos) << e->message;
  EXPECT_LE(files.reads, 17);
}

TEST(Flatten, TheTotalSizeIsBounded) {
  std::string big(1000, '#');
  MemoryFiles files({{"/r/m.nft", "include \"a.nft\"\ninclude \"a.nft\"\ninclude \"a.nft\"\n"},
                     {"/r/a.nft", big}});
  FlattenOptions o;
  o.max_total_bytes = 2500;
  auto r = Flatten(files, "/r/m.nft", o);
  auto* e = std::get_if<FlattenError>(&r);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->where.line, 3);
}

TEST(IncludeDir, ParsesPlainAndMappingForms) {
  auto plain = ParseIncludeDir("/tmp");
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(plain->maps.empty());
  auto mapped = ParseIncludeDir("/etc/nftables.d/=/tmp");
  ASSERT_TRUE(mapped.ok());
  EXPECT_EQ(mapped->maps, "/etc/nftables.d");
  EXPECT_FALSE(ParseIncludeDir("relative=/tmp").ok());
  EXPECT_FALSE(ParseIncludeDir("/nonexistent-fwgate-dir").ok());
}

}  // namespace
}  // namespace fwgate::nft
