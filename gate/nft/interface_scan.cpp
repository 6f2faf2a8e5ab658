#include "gate/nft/interface_scan.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <unordered_set>

#include "base/ifname.h"
#include "gate/nft/nft_text.h"

namespace fwgate::nft {
namespace {

constexpr int kMaxDepth = 8;  // nesting of sets and variables followed

// Words that follow iif/oif/device in nft syntax without being an interface name.
bool IsStopWord(const Token& t) {
  if (t.quoted) return false;
  static const std::set<std::string, std::less<>> kStop = {
      "\n",       ";",      "}",    ")",        ".",       ",",       ":",       "missing",
      "exists",   "oif",    "iif",  "oifname",  "iifname", "oiftype", "iiftype", "type",
      "map",      "vmap",   "set",  "ip",       "ip6",     "meta",    "tcp",     "udp",
      "ct",       "accept", "drop", "jump",     "goto",    "return",  "counter", "log",
      "priority", "eq",     "ne",   "lt",       "gt",      "le",      "ge",      "and",
      "or",       "xor",    "not",  "continue", "reject",  "queue",   "limit",   "notrack"};
  return kStop.contains(t.text);
}

bool IsAllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool Is(const Token& t, std::string_view text) { return !t.quoted && t.text == text; }

// Linear in the tokens: braces are matched once; a variable's names are collected once and
// reused at every reference; an unmatched brace is not followed (nft rejects the file anyway).
class Scanner {
 public:
  Scanner(std::vector<Token> tokens, size_t max_names)
      : toks_(std::move(tokens)), match_(toks_.size(), kNone), max_names_(max_names) {
    std::vector<size_t> open;
    for (size_t i = 0; i < toks_.size(); ++i) {
      if (Is(toks_[i], "{")) open.push_back(i);
      if (Is(toks_[i], "}") && !open.empty()) {
        match_[open.back()] = i;
        open.pop_back();
      }
    }
    // Definitions: the value runs to the end of the line (across matched braces).
    for (size_t i = 0; i + 2 < toks_.size(); ++i) {
      if (!Is(toks_[i], "define") && !Is(toks_[i], "redefine")) continue;
      size_t j = i + 2;
      if (j < toks_.size() && Is(toks_[j], "=")) ++j;
      defines_[toks_[i + 1].text] = j;
    }
  }

  std::vector<std::string> Scan() {
    bool in_fib = false;
    for (size_t i = 0; i < toks_.size() && names_.size() < max_names_; ++i) {
      const Token& t = toks_[i];
      if (Is(t, "\n") || Is(t, ";") || Is(t, "{") || Is(t, "}")) in_fib = false;
      if (t.quoted) continue;
      if (t.text == "fib") in_fib = true;
      if (t.text == "define" || t.text == "redefine") {  // skip the definition itself
        while (i + 1 < toks_.size() && !Is(toks_[i + 1], "\n")) {
          ++i;
          if (Is(toks_[i], "{") && match_[i] != kNone) i = match_[i];
        }
        continue;
      }
      bool keyword =
          t.text == "iif" || t.text == "oif" || t.text == "device" || t.text == "devices";
      if (!keyword || in_fib) continue;
      if (i > 0 && Is(toks_[i - 1], ".")) continue;  // concatenation
      size_t j = i + 1;
      while (j < toks_.size() && (Is(toks_[j], "=") || Is(toks_[j], "==") || Is(toks_[j], "!="))) {
        ++j;
      }
      // `iif vmap { "eth0" : accept, ... }`: the map's keys are interfaces.
      if (j + 1 < toks_.size() && (Is(toks_[j], "vmap") || Is(toks_[j], "map")) &&
          Is(toks_[j + 1], "{")) {
        ++j;
      }
      if (j < toks_.size()) Add(Collect(j, 0));
    }
    return names_;
  }

 private:
  static constexpr size_t kNone = static_cast<size_t>(-1);

  void Add(const std::vector<std::string>& found) {
    for (const auto& n : found) {
      if (names_.size() >= max_names_) return;
      if (seen_.insert(n).second) names_.push_back(n);
    }
  }

  // The names of the value starting at token `pos`: a name, "$var", or "{ a, $b, ... }" (the
  // first token of each element: the key of a map element).
  std::vector<std::string> Collect(size_t pos, int depth) {
    std::vector<std::string> out;
    if (depth > kMaxDepth || pos >= toks_.size()) return out;
    const Token& t = toks_[pos];
    if (Is(t, "{")) {
      size_t end = match_[pos];
      if (end == kNone) return out;
      bool element_start = true;
      for (size_t k = pos + 1; k < end && out.size() < max_names_; ++k) {
        const Token& e = toks_[k];
        if (Is(e, "{")) {
          if (element_start) {
            auto inner = Collect(k, depth + 1);
            out.insert(out.end(), inner.begin(), inner.end());
            element_start = false;
          }
          if (match_[k] != kNone) k = match_[k];
          continue;
        }
        if (Is(e, ",")) {
          element_start = true;
          continue;
        }
        if (Is(e, "\n")) continue;
        if (element_start) {
          auto inner = Collect(k, depth + 1);
          out.insert(out.end(), inner.begin(), inner.end());
          element_start = false;
        }
      }
      return out;
    }
    if (!t.quoted && t.text.starts_with("$")) {
      std::string name = t.text.substr(1);
      if (auto it = memo_.find(name); it != memo_.end()) return it->second;
      auto def = defines_.find(name);
      if (def == defines_.end() || def->second >= toks_.size()) return out;
      memo_[name] = {};  // a definition that refers to itself ends here
      out = Collect(def->second, depth + 1);
      memo_[name] = out;
      return out;
    }
    if (IsStopWord(t) || t.text.starts_with("@") || IsAllDigits(t.text)) return out;
    if (!IsValidIfname(t.text)) return out;
    out.push_back(t.text);
    return out;
  }

  std::vector<Token> toks_;
  std::vector<size_t> match_;
  std::map<std::string, size_t, std::less<>> defines_;  // name -> first value token
  std::map<std::string, std::vector<std::string>, std::less<>> memo_;
  std::vector<std::string> names_;
  std::unordered_set<std::string> seen_;
  size_t max_names_;
};

}  // namespace

std::vector<std::string> ScanInterfaceNames(std::string_view text, size_t max_names) {
  return Scanner(Tokenize(text), max_names).Scan();
}

}  // namespace fwgate::nft
