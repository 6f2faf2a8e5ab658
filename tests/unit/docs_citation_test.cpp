// Every kernel-facts citation in fwgate's sources, scripts, rulesets and documents names a section
// of docs/kernel-conntrack.md that exists, so "docs/kernel-conntrack.md §3.4" in output leads to a
// real heading. Reads files only; no privileges.
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

const fs::path kRoot = FWGATE_SOURCE_DIR;
const fs::path kFacts = kRoot / "docs" / "kernel-conntrack.md";
// This file cites missing sections on purpose (the synthetic cases), so the scan skips it.
const fs::path kSelf = kRoot / "tests" / "unit" / "docs_citation_test.cpp";

struct Citation {
  std::string section;    // "3.4"
  std::string qualifier;  // "item 2", "note a", "column B"; empty when none
  int line = 0;           // 1-based line of the section token
  [[nodiscard]] std::string ToString() const {
    return "§" + section + (qualifier.empty() ? "" : " " + qualifier);
  }
};

// The headings of a kernel-conntrack.md text ("## §3 ..." or "### §3.4 ...", the § optional) and
// the body of each: the text up to the next heading of the same or a higher level.
struct Sections {
  std::set<std::string> ids;
  std::map<std::string, std::string> bodies;
};

Sections ParseSections(const std::string& doc) {
  static const std::regex kHeading(R"(^(#{1,6})[ \t]+(?:§)?(\d+(?:\.\d+)?)\.?[ \t])");
  struct Open {
    std::string id;
    size_t level;
    size_t start;
  };
  Sections out;
  std::vector<Open> open;
  auto close_to = [&](size_t level, size_t at) {
    while (!open.empty() && open.back().level >= level) {
      out.bodies[open.back().id] = doc.substr(open.back().start, at - open.back().start);
      open.pop_back();
    }
  };
  size_t pos = 0;
  while (pos < doc.size()) {
    size_t eol = doc.find('\n', pos);
    if (eol == std::string::npos) eol = doc.size();
    std::string line = doc.substr(pos, eol - pos);
    size_t hashes = line.find_first_not_of('#');
    if (hashes > 0 && hashes != std::string::npos) {
      close_to(hashes, pos);  // any heading ends the sections at its level and below
      std::smatch m;
      if (std::regex_search(line, m, kHeading)) {
        out.ids.insert(m[2]);
        open.push_back({m[2], hashes, eol});
      }
    }
    pos = eol + 1;
  }
  close_to(0, doc.size());
  return out;
}

int LineAt(const std::string& text, size_t offset) {
  int line = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) line += text[i] == '\n';
  return line;
}

// Citations in `text`. A citation starts at "facts" or "kernel-conntrack.md" followed by a §
// (whitespace, brackets, comment leaders and the seam of a split string literal may come between),
// then lists sections separated by ",", "/" or "and" (a few words may follow each one, as in
// "§3.5 the 4.19 fix-up, §7"). Each section may carry a qualifier: "item N", "note x" or
// "note (x)" (a lower-case letter), "column X" (an upper-case letter). With `bare`, every § in the
// text counts (the docs/ files, where § always means kernel-conntrack.md). "facts/netlink.md §4.6"
// names another file and is not read.
std::vector<Citation> FindCitations(const std::string& text, bool bare) {
  static const std::string kGlue = R"((?:\s|//|#|\*|[()\[\]]|"\s*")*)";
  static const std::regex kAnchor(R"((?:\bfacts|kernel-conntrack\.md))" + kGlue + "§");
  static const std::regex kBare("§");
  static const std::regex kSection(R"((\d+)(?:\.(\d+))?)");
  static const std::regex kQualifier(
      R"([ \t]+(?:(item)[ \t]+(\d+)|(note)[ \t]+\(?([a-z])\)?|(column)[ \t]+([A-Z]))\b)");
  static const std::regex kNext("[^§;]{0,60}?(?:,|/|\\band\\b)" + kGlue + "§");
  // Matches `re` starting exactly at `pos` (anchored), or anywhere from `pos` on.
  auto match = [&](size_t pos, const std::regex& re, std::smatch& m, bool anchored) {
    auto flags =
        pos > 0 ? std::regex_constants::match_prev_avail : std::regex_constants::match_default;
    if (anchored) flags |= std::regex_constants::match_continuous;
    return std::regex_search(text.cbegin() + static_cast<std::ptrdiff_t>(pos), text.cend(), m, re,
                             flags);
  };
  std::vector<Citation> out;
  std::set<size_t> seen;  // offsets of § already read (bare mode meets list members again)
  std::smatch m;
  for (size_t from = 0; from < text.size() && match(from, bare ? kBare : kAnchor, m, false);) {
    size_t pos = from + static_cast<size_t>(m.position(0) + m.length(0));  // just after a §
    from = pos;
    std::smatch s;
    while (!seen.count(pos) && match(pos, kSection, s, true)) {
      seen.insert(pos);
      Citation c;
      c.section = s[2].matched ? s[1].str() + "." + s[2].str() : s[1].str();
      c.line = LineAt(text, pos);
      pos += static_cast<size_t>(s.length(0));
      if (std::smatch q; match(pos, kQualifier, q, true)) {
        for (size_t g = 1; g + 1 < q.size(); g += 2) {
          if (q[g].matched) c.qualifier = q[g].str() + " " + q[g + 1].str();
        }
        pos += static_cast<size_t>(q.length(0));
      }
      out.push_back(c);
      if (std::smatch n; match(pos, kNext, n, true)) {
        pos += static_cast<size_t>(n.length(0));
      } else {
        break;
      }
    }
  }
  return out;
}

// Why `c` does not resolve in `sections`; empty when it does. Items are the numbered list of a
// section ("§5 item 2": a line "2. ..."), notes its lettered notes ("§7 note a": "(a)"), columns
// its bold column names ("§7 column B": "**B,").
std::string Unresolved(const Citation& c, const Sections& sections) {
  if (!sections.ids.count(c.section)) return "no section §" + c.section;
  if (c.qualifier.empty()) return "";
  const std::string& body = sections.bodies.at(c.section);
  std::string kind = c.qualifier.substr(0, c.qualifier.find(' '));
  std::string key = c.qualifier.substr(c.qualifier.find(' ') + 1);
  bool found = false;
  if (kind == "item") {
    found = std::regex_search(body, std::regex("(^|\\n)[ \\t]*" + key + "\\.[ \\t]"));
  } else if (kind == "note") {
    found = body.find("(" + key + ")") != std::string::npos;
  } else if (kind == "column") {
    found = body.find("**" + key + ",") != std::string::npos ||
            body.find("**" + key + ":") != std::string::npos;
  }
  return found ? "" : "§" + c.section + " has no " + c.qualifier;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool Scanned(const fs::path& p) {
  static const std::set<std::string> kExt = {".cpp", ".h", ".sh", ".md", ".nft", ".txt"};
  return kExt.count(p.extension().string()) > 0;
}

// Source files under the source directory: hidden directories and build trees (a directory named
// build* or holding a CMakeCache.txt) are skipped.
std::vector<fs::path> SourceFiles() {
  std::vector<fs::path> out;
  fs::recursive_directory_iterator it(kRoot, fs::directory_options::skip_permission_denied);
  for (; it != fs::recursive_directory_iterator(); ++it) {
    const fs::path& p = it->path();
    std::string name = p.filename().string();
    if (it->is_directory()) {
      if (name.rfind('.', 0) == 0 || name.rfind("build", 0) == 0 ||
          fs::exists(p / "CMakeCache.txt"))
        it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file() && Scanned(p) && p != kSelf) out.push_back(p);
  }
  return out;
}

bool IsDocsFile(const fs::path& p) {
  return p.parent_path() == kRoot / "docs" && p.extension() == ".md";
}

std::vector<std::string> Sorted(const std::set<std::string>& s) { return {s.begin(), s.end()}; }

TEST(DocsCitation, KernelFactsKeepTheSharedSectionNumbers) {
  ASSERT_TRUE(fs::exists(kFacts)) << kFacts;
  Sections s = ParseSections(ReadFile(kFacts));
  // The numbering of the kernel facts sheet the code was written against; citations resolve by
  // number, so these may gain siblings but never lose one.
  for (const char* id :
       {"0",   "1", "2",   "2.1", "2.2", "2.3", "3",   "3.1", "3.2", "3.3", "3.4", "3.5",
        "3.6", "4", "4.1", "4.2", "4.3", "4.4", "4.5", "5",   "6",   "7",   "8",   "9"}) {
    EXPECT_TRUE(s.ids.count(id)) << "docs/kernel-conntrack.md lacks §" << id;
  }
  for (const char* item : {"1", "2", "3", "4", "5", "6", "7"}) {
    EXPECT_EQ(Unresolved({"5", std::string("item ") + item, 0}, s), "");
  }
  for (const char* note : {"a", "b", "c", "d"}) {
    EXPECT_EQ(Unresolved({"7", std::string("note ") + note, 0}, s), "");
  }
  for (const char* column : {"A", "B", "C"}) {
    EXPECT_EQ(Unresolved({"7", std::string("column ") + column, 0}, s), "");
  }
}

TEST(DocsCitation, EveryCitedSectionExists) {
  ASSERT_TRUE(fs::exists(kFacts)) << kFacts;
  Sections sections = ParseSections(ReadFile(kFacts));
  std::vector<std::string> problems;
  std::map<std::string, int> per_file;
  size_t total = 0;
  for (const fs::path& p : SourceFiles()) {
    std::string rel = fs::relative(p, kRoot).string();
    for (const Citation& c : FindCitations(ReadFile(p), IsDocsFile(p))) {
      ++total;
      ++per_file[rel];
      if (std::string why = Unresolved(c, sections); !why.empty()) {
        problems.push_back(rel + ":" + std::to_string(c.line) + ": cites " + c.ToString() +
                           " (docs/kernel-conntrack.md: " + why + ")");
      }
    }
  }
  std::string all;
  for (const auto& p : problems) all += p + "\n";
  EXPECT_TRUE(problems.empty()) << all;
  // The scan found what it should: the knowledge base's own tables cite sections.
  EXPECT_GT(total, 50u);
  EXPECT_GT(per_file["gate/hazards/findings.cpp"], 10);
  EXPECT_GT(per_file["gate/hazards/kernel_class.cpp"], 2);
  EXPECT_GT(per_file["simulator/reload/procedure.cpp"], 2);
  EXPECT_GT(per_file["docs/glossary.md"], 10);
}

// The scanner on synthetic text: every citation form the project writes is read, and a citation
// of a missing section, item or note is reported.
TEST(DocsCitation, ScannerReadsEveryCitationForm) {
  auto sections_of = [](const std::string& text) {
    std::vector<std::string> out;
    for (const Citation& c : FindCitations(text, false)) out.push_back(c.ToString());
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(sections_of("rests on facts §3.4 only"), V{"§3.4"});
  EXPECT_EQ(sections_of("\"facts §2.1, §7\""), V({"§2.1", "§7"}));
  EXPECT_EQ(sections_of("(facts §1 / §3.5)"), V({"§1", "§3.5"}));
  EXPECT_EQ(sections_of("\"facts §5 item 2, §4.2\""), V({"§5 item 2", "§4.2"}));
  EXPECT_EQ(sections_of("facts §7 note (c)."), V{"§7 note c"});
  EXPECT_EQ(sections_of("\"facts §5 item 4, §7 column B; unverified (facts §8)\""),
            V({"§5 item 4", "§7 column B", "§8"}));
  EXPECT_EQ(sections_of("// docs/kernel-conntrack.md §3.4 [E]."), V{"§3.4"});
  EXPECT_EQ(sections_of("see docs/kernel-conntrack.md §2 hook registration, §3.5 the 4.19 "
                        "fix-up, and §7"),
            V({"§2", "§3.5", "§7"}));
  // A string literal split over two lines, and a comment wrapped between path and section.
  EXPECT_EQ(sections_of("\"no gap (docs/kernel-conntrack.md §2.3, \"\n      \"§7 column A)\""),
            V({"§2.3", "§7 column A"}));
  EXPECT_EQ(sections_of("// cites docs/kernel-conntrack.md\n// §3.4 for this"), V{"§3.4"});
  // Not citations of this file, or not lists.
  EXPECT_EQ(sections_of("indexed by CTA_STATS_* (facts/netlink.md §4.6)"), V{});
  EXPECT_EQ(sections_of("facts §2.1, 4.15 and 6.18 lists"), V{"§2.1"});
  EXPECT_EQ(sections_of("cite it as `docs/kernel-conntrack.md §N`"), V{});
  EXPECT_EQ(sections_of("the facts it rests on; §3 elsewhere"), V{});
  // Bare mode (docs/ files): every § counts, once.
  std::vector<std::string> bare;
  for (const Citation& c : FindCitations("in §3.4 and §4, see §7 note a", true))
    bare.push_back(c.ToString());
  EXPECT_EQ(bare, V({"§3.4", "§4", "§7 note a"}));
}

TEST(DocsCitation, CitationOfAMissingSectionFails) {
  const std::string doc =
      "# Facts\n"
      "## §1 Timeline\n"
      "text\n"
      "### §1.1 Detail\n"
      "## 5. Checklist\n"
      "1. first\n"
      "2. second\n"
      "## §7 Matrix\n"
      "- **A, atomic:** x\n"
      "- **(a)** a note\n";
  Sections s = ParseSections(doc);
  EXPECT_EQ(Sorted(s.ids), std::vector<std::string>({"1", "1.1", "5", "7"}));
  const std::string source =
      "  {\"rule\", \"facts §1.1, §1.2\"},\n"
      "  // docs/kernel-conntrack.md §9: gone\n"
      "  \"(facts §1, \"\n"
      "  \"§7 note b)\"\n"
      "  // facts §7 note a, §5 item 2, §5 item 3, §7 column A, §7 column C\n";
  std::vector<std::string> bad;
  int cited = 0;
  for (const Citation& c : FindCitations(source, false)) {
    ++cited;
    if (std::string why = Unresolved(c, s); !why.empty())
      bad.push_back(std::to_string(c.line) + ": " + why);
  }
  EXPECT_EQ(cited, 10);
  EXPECT_EQ(bad, std::vector<std::string>({"1: no section §1.2", "2: no section §9",
                                           "4: §7 has no note b", "5: §5 has no item 3",
                                           "5: §7 has no column C"}));
}

}  // namespace
