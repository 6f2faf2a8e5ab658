#include "gate/nft/rule_locations.h"

#include <charconv>
#include <set>

#include "gate/nft/nft_text.h"

namespace fwgate::nft {
namespace {

bool Is(const Token& t, std::string_view s) { return !t.quoted && t.text == s; }

bool IsSeparator(const Token& t) { return Is(t, "\n") || Is(t, ";"); }

std::optional<Family> FamilyWord(const Token& t) {
  if (t.quoted) return std::nullopt;
  static const std::set<std::string, std::less<>> kFamilies = {"ip",  "ip6",    "inet",
                                                               "arp", "bridge", "netdev"};
  if (!kFamilies.contains(t.text)) return std::nullopt;
  return FamilyFromName(t.text);
}

// Chain-block statements that set the chain's properties, not rules.
bool IsChainProperty(const Token& t) {
  static const std::set<std::string, std::less<>> kWords = {"type",    "policy", "comment",
                                                            "devices", "device", "flags"};
  return !t.quoted && kWords.contains(t.text);
}

class StatementScanner {
 public:
  explicit StatementScanner(std::string_view text) : t_(Tokenize(text)), match_(t_.size(), kNone) {
    std::vector<size_t> open;
    for (size_t i = 0; i < t_.size(); ++i) {
      if (Is(t_[i], "{")) open.push_back(i);
      if (Is(t_[i], "}") && !open.empty()) {
        match_[open.back()] = i;
        open.pop_back();
      }
    }
  }

  ScannedSource Run() {
    size_t i = 0;
    while (i < t_.size()) i = TopStatement(i);
    return std::move(out_);
  }

 private:
  static constexpr size_t kNone = static_cast<size_t>(-1);

  size_t SkipSeparators(size_t i) const {
    while (i < t_.size() && IsSeparator(t_[i])) ++i;
    return i;
  }

  // End (exclusive) of the statement starting at i: the next separator outside braces.
  size_t StatementEnd(size_t i, size_t limit) const {
    while (i < limit && !IsSeparator(t_[i]) && !Is(t_[i], "}")) {
      if (Is(t_[i], "{")) {
        if (match_[i] == kNone) return limit;
        i = match_[i];
      }
      ++i;
    }
    return i;
  }

  // [family] name at i; returns the index after them.
  size_t FamilyAndName(size_t i, size_t limit, Family& family, std::string& name) const {
    family = Family::kIp;
    if (i + 1 < limit && FamilyWord(t_[i]) && !IsSeparator(t_[i + 1]) && !Is(t_[i + 1], "{")) {
      family = *FamilyWord(t_[i]);
      ++i;
    }
    if (i < limit) name = t_[i++].text;
    return i;
  }

  ScannedStatement At(size_t first, size_t last) const {
    ScannedStatement s;
    s.line = t_[first].line;
    s.column = t_[first].column;
    s.end_line = t_[last].line;
    return s;
  }

  size_t TopStatement(size_t i) {
    i = SkipSeparators(i);
    if (i >= t_.size()) return i;
    if (Is(t_[i], "}")) return i + 1;  // stray
    size_t end = StatementEnd(i, t_.size());
    const Token& w = t_[i];
    if (Is(w, "table")) {
      Family f;
      std::string name;
      size_t j = FamilyAndName(i + 1, end, f, name);
      ScannedStatement s = At(i, i);
      s.family = f;
      s.table = name;
      out_.tables.push_back(s);
      if (j < end && Is(t_[j], "{") && match_[j] != kNone) TableBlock(j + 1, match_[j], f, name);
    } else if ((Is(w, "add") || Is(w, "create") || Is(w, "insert")) && i + 1 < end) {
      const Token& what = t_[i + 1];
      Family f;
      std::string table, chain;
      size_t j = FamilyAndName(i + 2, end, f, table);
      if (Is(what, "table")) {
        ScannedStatement s = At(i, i);
        s.family = f;
        s.table = table;
        out_.tables.push_back(s);
        if (j < end && Is(t_[j], "{") && match_[j] != kNone) TableBlock(j + 1, match_[j], f, table);
      } else if (Is(what, "chain") && j < end) {
        ScannedStatement s = At(i, i);
        s.family = f;
        s.table = table;
        s.chain = t_[j].text;
        out_.chains.push_back(s);
      } else if (Is(what, "rule") && j < end) {
        chain = t_[j++].text;
        // handle N / position N / index N before the statements
        while (j + 1 < end &&
               (Is(t_[j], "handle") || Is(t_[j], "position") || Is(t_[j], "index"))) {
          j += 2;
        }
        Rule(i, j, end, f, table, chain, -1);
      }
    }
    return end < t_.size() && Is(t_[end], "}") ? end + 1 : end;
  }

  void TableBlock(size_t i, size_t close, Family f, const std::string& table) {
    while (i < close) {
      i = SkipSeparators(i);
      if (i >= close) break;
      size_t end = StatementEnd(i, close);
      if (Is(t_[i], "chain") && i + 1 < end) {
        ScannedStatement s = At(i, i);
        s.family = f;
        s.table = table;
        s.chain = t_[i + 1].text;
        out_.chains.push_back(s);
        size_t j = i + 2;
        if (j < end && Is(t_[j], "{") && match_[j] != kNone) {
          ChainBlock(j + 1, match_[j], f, table, s.chain, -1);
        }
      }
      i = end < close && Is(t_[end], "}") ? end + 1 : end;
    }
  }

  void ChainBlock(size_t i, size_t close, Family f, const std::string& table,
                  const std::string& chain, int anonymous) {
    while (i < close) {
      i = SkipSeparators(i);
      if (i >= close) break;
      size_t end = StatementEnd(i, close);
      if (!IsChainProperty(t_[i])) Rule(i, i, end, f, table, chain, anonymous);
      i = end < close && Is(t_[end], "}") ? end + 1 : end;
    }
  }

  // A rule statement [first, end) whose expressions start at `body`; anonymous chains inside it
  // (`jump { ... }`, `goto { ... }`) are rules of their own chains, echoed before this one.
  void Rule(size_t first, size_t body, size_t end, Family f, const std::string& table,
            const std::string& chain, int anonymous) {
    for (size_t k = body; k + 1 < end; ++k) {
      if ((Is(t_[k], "jump") || Is(t_[k], "goto")) && Is(t_[k + 1], "{") &&
          match_[k + 1] != kNone) {
        int id = next_anonymous_++;
        ChainBlock(k + 2, match_[k + 1], f, table, "", id);
        k = match_[k + 1];
      } else if (Is(t_[k], "{") && match_[k] != kNone) {
        k = match_[k];
      }
    }
    if (end == first) return;
    ScannedStatement s = At(first, end - 1);
    s.family = f;
    s.table = table;
    s.chain = chain;
    s.anonymous = anonymous;
    out_.rules.push_back(s);
  }

  std::vector<Token> t_;
  std::vector<size_t> match_;
  ScannedSource out_;
  int next_anonymous_ = 0;
};

bool ParseU64(std::string_view s, uint64_t& v) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size();
}

std::string Unquote(std::string_view s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"')
    return std::string(s.substr(1, s.size() - 2));
  return std::string(s);
}

}  // namespace

std::optional<SourceLocation> SourceMap::Table(Family family, const std::string& table) const {
  auto it = tables_.find({static_cast<uint8_t>(family), table});
  if (it == tables_.end()) return std::nullopt;
  return it->second;
}

std::optional<SourceLocation> SourceMap::Chain(Family family, const std::string& table,
                                               const std::string& chain) const {
  auto it = chains_.find({static_cast<uint8_t>(family), table, chain});
  if (it == chains_.end()) return Table(family, table);
  return it->second;
}

std::optional<SourceLocation> SourceMap::Rule(Family family, const std::string& table,
                                              const std::string& chain, uint64_t handle) const {
  auto it = rules_.find({static_cast<uint8_t>(family), table, chain, handle});
  if (it == rules_.end()) return Chain(family, table, chain);
  return it->second;
}

void SourceMap::AddTable(Family family, const std::string& table, SourceLocation loc) {
  tables_.emplace(std::make_pair(static_cast<uint8_t>(family), table), std::move(loc));
}
void SourceMap::AddChain(Family family, const std::string& table, const std::string& chain,
                         SourceLocation loc) {
  chains_.emplace(ChainKey{static_cast<uint8_t>(family), table, chain}, std::move(loc));
}
void SourceMap::AddRule(Family family, const std::string& table, const std::string& chain,
                        uint64_t handle, SourceLocation loc) {
  rules_[{static_cast<uint8_t>(family), table, chain, handle}] = std::move(loc);
}

std::vector<EchoedRule> ParseEchoedRules(std::string_view echo) {
  std::vector<EchoedRule> out;
  size_t pos = 0;
  while (pos < echo.size()) {
    size_t nl = echo.find('\n', pos);
    std::string_view line =
        echo.substr(pos, nl == std::string_view::npos ? echo.size() - pos : nl - pos);
    pos = nl == std::string_view::npos ? echo.size() : nl + 1;
    bool add = line.rfind("add rule ", 0) == 0;
    bool insert = line.rfind("insert rule ", 0) == 0;
    if (!add && !insert) continue;
    size_t h = line.rfind(" # handle ");
    if (h == std::string_view::npos) continue;
    EchoedRule r;
    if (!ParseU64(Trim(line.substr(h + 10)), r.handle)) continue;
    // The words after "add rule": family table chain (nft always prints the family).
    std::string_view rest = line.substr(add ? 9 : 12);
    std::vector<std::string> words;
    size_t i = 0;
    while (words.size() < 3 && i < rest.size()) {
      while (i < rest.size() && rest[i] == ' ') ++i;
      size_t start = i;
      if (i < rest.size() && rest[i] == '"') {
        size_t close = rest.find('"', i + 1);
        i = close == std::string_view::npos ? rest.size() : close + 1;
      } else {
        while (i < rest.size() && rest[i] != ' ') ++i;
      }
      words.push_back(Unquote(rest.substr(start, i - start)));
    }
    if (words.size() < 3) continue;
    auto f = FamilyFromName(words[0]);
    if (!f) continue;
    r.family = *f;
    r.table = words[1];
    r.chain = words[2];
    out.push_back(std::move(r));
  }
  return out;
}

ScannedSource ScanStatements(std::string_view text) { return StatementScanner(text).Run(); }

SourceMap LocateRules(const std::vector<EchoedRule>& echoed, const ScannedSource& scanned,
                      const std::function<SourceLocation(int, int)>& map) {
  SourceMap m;
  auto loc = [&](const ScannedStatement& s) {
    SourceLocation l = map(s.line, s.column);
    if (l.known() && s.end_line >= s.line) {
      SourceLocation e = map(s.end_line, 1);
      if (e.file == l.file && e.line >= l.line) l.end_line = e.line;
    }
    return l;
  };
  for (const auto& t : scanned.tables) m.AddTable(t.family, t.table, loc(t));
  for (const auto& c : scanned.chains) m.AddChain(c.family, c.table, c.chain, loc(c));

  // Anonymous chains: the k-th "__chainN" first seen in the echo is the k-th `jump {` block.
  std::map<std::tuple<uint8_t, std::string, std::string>, int> anon_ordinal;
  int next = 0;
  using Key = std::tuple<uint8_t, std::string, std::string>;  // family, table, chain or #k
  auto key_of_echo = [&](const EchoedRule& r) -> Key {
    if (r.chain.rfind("__chain", 0) == 0) {
      Key k{static_cast<uint8_t>(r.family), r.table, r.chain};
      auto [it, fresh] = anon_ordinal.emplace(k, next);
      if (fresh) ++next;
      return {static_cast<uint8_t>(r.family), r.table, "#" + std::to_string(it->second)};
    }
    return {static_cast<uint8_t>(r.family), r.table, r.chain};
  };
  std::map<Key, std::vector<const EchoedRule*>> by_chain_echo;
  for (const auto& r : echoed) by_chain_echo[key_of_echo(r)].push_back(&r);
  std::map<Key, std::vector<const ScannedStatement*>> by_chain_scan;
  for (const auto& s : scanned.rules) {
    Key k = s.anonymous >= 0
                ? Key{static_cast<uint8_t>(s.family), s.table, "#" + std::to_string(s.anonymous)}
                : Key{static_cast<uint8_t>(s.family), s.table, s.chain};
    by_chain_scan[k].push_back(&s);
  }
  // Anonymous chains: the chain location of each is its `jump {` rule's location.
  for (const auto& [k, rules] : by_chain_echo) {
    auto sc = by_chain_scan.find(k);
    if (sc == by_chain_scan.end() || sc->second.size() != rules.size()) continue;
    for (size_t i = 0; i < rules.size(); ++i) {
      m.AddRule(rules[i]->family, rules[i]->table, rules[i]->chain, rules[i]->handle,
                loc(*sc->second[i]));
    }
    if (std::get<2>(k).rfind('#', 0) == 0 && !rules.empty() && !sc->second.empty()) {
      m.AddChain(rules.front()->family, rules.front()->table, rules.front()->chain,
                 loc(*sc->second.front()));
    }
  }
  return m;
}

}  // namespace fwgate::nft
