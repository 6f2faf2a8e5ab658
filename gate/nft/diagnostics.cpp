#include "gate/nft/diagnostics.h"

#include <algorithm>
#include <charconv>
#include <regex>
#include <set>

#include "base/ifname.h"
#include "gate/nft/nft_text.h"

namespace fwgate::nft {
namespace {

constexpr size_t kMaxDiagnostics = 1000;

bool ParseInt(std::string_view s, int& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

// nft's caret line: whitespace and at least one '^' or '~'.
bool IsCaretLine(std::string_view s) {
  bool mark = false;
  for (char c : s) {
    if (c == '^' || c == '~') {
      mark = true;
    } else if (c != ' ' && c != '\t' && c != '\r') {
      return false;
    }
  }
  return mark;
}

// "FILE:LINE:COL[-COL | -LINE:COL]: Error: msg" → diagnostic (no source line yet).
std::optional<Diagnostic> MatchLocated(std::string_view line) {
  static const std::regex kPrefix(R"(^(.*):(\d{1,9}):(\d{1,9})(?:-(\d{1,9})(?::(\d{1,9}))?)?$)");
  for (size_t p = line.find(": "); p != std::string_view::npos; p = line.find(": ", p + 1)) {
    std::string_view rest = line.substr(p + 2);
    if (!rest.starts_with("Error:") && !rest.starts_with("Warning:")) continue;
    std::string prefix(line.substr(0, std::min<size_t>(p, 4096)));
    std::smatch m;
    if (p > 4096 || !std::regex_match(prefix, m, kPrefix)) continue;
    Diagnostic d;
    d.file = m[1].str();
    if (!ParseInt(m[2].str(), d.line) || !ParseInt(m[3].str(), d.column)) continue;
    if (m[4].matched && !m[5].matched) ParseInt(m[4].str(), d.end_column);
    d.message = std::string(TrimRight(rest));
    return d;
  }
  return std::nullopt;
}

}  // namespace

std::string Diagnostic::ToString() const {
  if (line <= 0) return file + ": " + message;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
}

std::string Diagnostic::LocatedText() const {
  if (column <= 0 || end_column < column) return "";
  size_t first = static_cast<size_t>(column) - 1;
  if (first >= source_line.size()) return "";
  return source_line.substr(first, static_cast<size_t>(end_column - column) + 1);
}

std::string Diagnostic::ToStringWithContext() const {
  std::string s = ToString();
  if (!source_line.empty() && column > 0) {
    s += "\n" + source_line + "\n";
    // Keep tabs so the caret lines up under the same text.
    for (size_t i = 0; i + 1 < static_cast<size_t>(column) && i < source_line.size(); ++i) {
      s += source_line[i] == '\t' ? '\t' : ' ';
    }
    int width = end_column >= column ? end_column - column + 1 : 1;
    s += std::string(static_cast<size_t>(std::min(width, 4096)), '^');
  }
  return s;
}

std::vector<Diagnostic> ParseNftErrors(std::string_view text, std::string_view default_file) {
  std::vector<std::string_view> lines;
  for (size_t pos = 0; pos <= text.size();) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) {
      if (pos < text.size()) lines.push_back(text.substr(pos));
      break;
    }
    lines.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  std::vector<Diagnostic> out;
  for (size_t i = 0; i < lines.size() && out.size() < kMaxDiagnostics;) {
    std::string_view line = TrimRight(lines[i]);
    ++i;
    if (Trim(line).empty() || IsCaretLine(line)) continue;
    // nft's include trail ("In file included from a.nft:3:1-20:") precedes the real message.
    if (Trim(line).starts_with("In file included from")) continue;
    if (auto d = MatchLocated(line)) {
      if (d->file == "internal" && d->line == 0) {  // nft's location-less errors
        d->file = std::string(default_file);
        d->column = d->end_column = 0;
        out.push_back(std::move(*d));
        continue;
      }
      // nft echoes the source line and underlines the location. A next line that is itself a
      // located message with no caret under it means nft printed no source line.
      if (i < lines.size()) {
        bool next_is_message = MatchLocated(TrimRight(lines[i])).has_value() &&
                               !(i + 1 < lines.size() && IsCaretLine(lines[i + 1]));
        if (!next_is_message && !IsCaretLine(lines[i])) {
          d->source_line = std::string(TrimRight(lines[i]));
          ++i;
        }
        if (i < lines.size() && IsCaretLine(lines[i])) ++i;
      }
      out.push_back(std::move(*d));
      continue;
    }
    Diagnostic d;
    d.file = std::string(default_file);
    d.message = std::string(Trim(line));
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<std::string> MissingInterfacesFromDiagnostics(
    const std::vector<Diagnostic>& diagnostics) {
  std::vector<std::string> names;
  for (const auto& d : diagnostics) {
    if (d.message.find("Interface does not exist") == std::string::npos) continue;
    std::string token(Trim(d.LocatedText()));
    if (token.size() >= 2 && token.front() == '"' && token.back() == '"') {
      token = token.substr(1, token.size() - 2);
    }
    if (token.starts_with("$") || !IsValidIfname(token)) continue;
    if (std::find(names.begin(), names.end(), token) == names.end()) names.push_back(token);
  }
  return names;
}

std::vector<std::string> MissingTablesFromDiagnostics(const std::vector<Diagnostic>& diagnostics) {
  static const std::set<std::string, std::less<>> kFamilies = {"ip",  "ip6",    "inet",
                                                               "arp", "bridge", "netdev"};
  std::vector<std::string> tables;
  for (const auto& d : diagnostics) {
    if (d.message.find("No such file or directory") == std::string::npos) continue;
    std::vector<Token> toks = Tokenize(d.source_line);
    while (!toks.empty() && (toks.back().text == ";" || toks.back().text == "\n")) {
      toks.pop_back();
    }
    if (toks.size() < 3 || toks.size() > 4 || toks[1].text != "table" ||
        (toks[0].text != "delete" && toks[0].text != "flush")) {
      continue;
    }
    std::string family = toks.size() == 4 ? toks[2].text : "ip";
    const Token& name = toks.back();
    if (!kFamilies.contains(family) || name.text.empty() ||
        name.text.find_first_of(" \t{}") != std::string::npos) {
      continue;
    }
    std::string located(Trim(d.LocatedText()));
    if (located != name.text && located != "\"" + name.text + "\"") continue;
    std::string t = family + " " + (name.quoted ? "\"" + name.text + "\"" : name.text);
    if (std::find(tables.begin(), tables.end(), t) == tables.end()) tables.push_back(t);
  }
  return tables;
}

std::optional<std::string> UnsupportedReason(const Diagnostic& d) {
  const std::string& msg = d.message;
  std::string where =
      d.line > 0 ? d.file + ":" + std::to_string(d.line) + ":" + std::to_string(d.column) : d.file;
  std::string located(Trim(d.LocatedText()));
  // The word before the underlined text tells what the kernel refused ("chain", "secmark", ...).
  std::string before;
  if (d.column > 1 && static_cast<size_t>(d.column - 1) <= d.source_line.size()) {
    std::string_view head = TrimRight(std::string_view(d.source_line).substr(0, d.column - 1));
    size_t sp = head.find_last_of(" \t");
    before = std::string(sp == std::string_view::npos ? head : head.substr(sp + 1));
  }
  std::string what = located.empty() ? "a construct"
                     : before.empty() || before.find_first_of("{};=") != std::string::npos
                         ? "'" + located + "'"
                         : before + " '" + located + "'";
  if (msg.find("Operation not supported") != std::string::npos) {
    // E.g. nat base chains below conntrack priority (-200) on recent kernels, or a hook/type
    // combination this kernel does not offer.
    return "this kernel refused " + what + " at " + where + " as not supported (" + msg + ")";
  }
  if (msg.find("Protocol not supported") != std::string::npos ||
      msg.find("Address family not supported") != std::string::npos) {
    return "this kernel lacks the table family or protocol used at " + where + " (" + msg + ")";
  }
  if (msg.find("Could not process rule: No such file or directory") == std::string::npos) {
    return std::nullopt;
  }
  if (before == "secmark") {
    // secmark objects resolve their context through the LSM (kernel >= 4.20); with no LSM that
    // knows it the kernel answers ENOENT.
    return "secmark object '" + located + "' at " + where +
           " was refused: secmark needs a Linux security module (SELinux, Smack, AppArmor) "
           "that knows the context, and this kernel has none that does";
  }
  if (before == "flowtable") {
    // Placeholders exist for every device the file names, so ENOENT here means the kernel has
    // no flowtable type for the family (built without CONFIG_NF_FLOW_TABLE).
    return "flowtable '" + located + "' at " + where +
           " was refused: this kernel has no flowtable support for this family "
           "(nf_flow_table not built or not loadable)";
  }
  if (before == "jump" || before == "goto" || located.find('@') != std::string::npos ||
      located.find(" name ") != std::string::npos || located.find('"') != std::string::npos) {
    return std::nullopt;  // a chain, set or object the file does not define
  }
  // Statements served by their own kernel module: ENOENT means the module is absent.
  static const std::set<std::string, std::less<>> kModuleStatements = {
      "osf",   "synproxy", "tproxy", "fib",  "socket",    "ipsec", "numgen",
      "jhash", "symhash",  "tunnel", "last", "connlimit", "dup",   "fwd"};
  std::string first = located.substr(0, located.find_first_of(" \t"));
  if (kModuleStatements.contains(first)) {
    return "this kernel lacks the module for '" + first + "' used at " + where + " (" + msg + ")";
  }
  return std::nullopt;
}

}  // namespace fwgate::nft
