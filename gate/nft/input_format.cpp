#include "gate/nft/input_format.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <regex>

#include "gate/nft/nft_text.h"

namespace fwgate::nft {
namespace {

std::string_view TrimView(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

template <typename F>
void ForEachLine(std::string_view text, F&& f) {
  size_t pos = 0;
  int n = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    if (!f(++n, line)) return;
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
}

std::string_view LineOf(std::string_view text, int wanted) {
  std::string_view found;
  ForEachLine(text, [&](int n, std::string_view line) {
    if (n == wanted) found = line;
    return n < wanted;
  });
  if (!found.empty() && found.back() == '\r') found.remove_suffix(1);
  return found;
}

// Longer words are no address (and std::regex recursion grows with the input).
constexpr size_t kMaxAddress = 128;
constexpr size_t kMaxMessageLine = 1024;

bool IsIpv4Address(std::string_view s) {
  // a.b.c.d with an optional /prefix or mask; a leading ! is a negation.
  // Also with a port or range (--to-destination 10.0.0.1:8080, --src-range a-b).
  static const std::regex kV4(
      R"(^!?\d{1,3}(\.\d{1,3}){3}(/[\d.]+)?(:[\d-]+)?(-\d{1,3}(\.\d{1,3}){3})?(,.*)?$)");
  return s.size() <= kMaxAddress && std::regex_match(s.begin(), s.end(), kV4);
}

bool IsIpv6Address(std::string_view s) {
  static const std::regex kV6(R"(^!?\[?[0-9A-Fa-f]*:[0-9A-Fa-f:.]*\]?(/\d{1,3})?(,.*)?$)");
  return s.size() <= kMaxAddress && s.find(':') != std::string_view::npos &&
         std::regex_match(s.begin(), s.end(), kV6);
}

std::vector<std::string_view> Words(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    size_t start = i;
    while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

}  // namespace

sys::RulesetFormat DetectRulesetFormat(std::string_view text) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  std::string_view trimmed = TrimView(text);
  if (!trimmed.empty() && trimmed.front() == '{') return sys::RulesetFormat::kNftJson;
  bool iptables = false;
  ForEachLine(text, [&](int, std::string_view line) {
    line = TrimView(line);
    if (line.empty() || line.front() == '#') return true;
    iptables =
        line.size() > 1 && line.front() == '*' && std::isalpha(static_cast<unsigned char>(line[1]));
    return false;
  });
  if (!iptables) return sys::RulesetFormat::kNft;
  std::optional<bool> header_v6;
  bool v4 = false, v6 = false;
  static const std::vector<std::string_view> kAddressFlags = {
      "-s",          "-d",   "--source",    "--destination", "--to-destination",
      "--to-source", "--to", "--src-range", "--dst-range"};
  static const std::vector<std::string_view> kV6Protocols = {"ipv6-icmp", "icmpv6", "icmp6"};
  static const std::vector<std::string_view> kV6Matches = {"ipv6header", "frag", "rt",    "hbh",
                                                           "mh",         "dst",  "eui64", "icmp6"};
  auto in = [](const std::vector<std::string_view>& v, std::string_view w) {
    return std::find(v.begin(), v.end(), w) != v.end();
  };
  ForEachLine(text, [&](int, std::string_view line) {
    line = TrimView(line);
    if (line.empty()) return true;
    if (line.front() == '#') {
      if (!header_v6) {
        if (line.find("ip6tables-save") != std::string_view::npos ||
            line.find("ip6tables-restore") != std::string_view::npos) {
          header_v6 = true;
        } else if (line.find("iptables-save") != std::string_view::npos ||
                   line.find("iptables-restore") != std::string_view::npos) {
          header_v6 = false;
        }
      }
      return true;
    }
    if (line.front() != '-') return true;
    auto words = Words(line);
    for (size_t i = 0; i < words.size(); ++i) {
      std::string_view w = words[i];
      std::string_view prev = i > 0 ? words[i - 1] : std::string_view();
      if ((prev == "-p" && in(kV6Protocols, w)) || (prev == "-m" && in(kV6Matches, w)) ||
          w == "--icmpv6-type" || (prev == "--reject-with" && w.starts_with("icmp6-"))) {
        v6 = true;
      }
      if (i + 1 < words.size() &&
          std::find(kAddressFlags.begin(), kAddressFlags.end(), w) != kAddressFlags.end()) {
        std::string_view a = words[i + 1];
        if (IsIpv4Address(a)) v4 = true;
        if (IsIpv6Address(a)) v6 = true;
      }
    }
    return true;
  });
  bool ipv6 = header_v6 ? *header_v6 : (v6 && !v4);
  return ipv6 ? sys::RulesetFormat::kIp6tables : sys::RulesetFormat::kIptables;
}

std::optional<std::string> UnsupportedInputReason(std::string_view text) {
  std::string_view t = TrimView(text.substr(0, 4096));
  if (t.empty() || t.front() != '<') return std::nullopt;
  for (std::string_view tag : {"<zone", "<service", "<policy", "<direct", "<ipset", "<helper"}) {
    if (t.find(tag) != std::string_view::npos) {
      return "a firewalld " + std::string(tag.substr(1)) +
             " file: firewalld generates its nftables rules from zones and services, so this is "
             "not a ruleset fwgate can load (unsupported input); apply it on a test host and "
             "pass the ruleset firewalld generates (`nft -j list ruleset`)";
    }
  }
  return "an XML file, not a ruleset (nft text, `nft -j` JSON or iptables-save)";
}

std::optional<Diagnostic> CheckNftJson(std::string_view text, std::string_view display) {
  auto at = [&](size_t byte, std::string message) {
    // byte: 0-based offset of the character where the problem is.
    Diagnostic d;
    d.file = std::string(display);
    d.line = 1;
    size_t line_start = 0;
    for (size_t i = 0; i < byte && i < text.size(); ++i) {
      if (text[i] == '\n') {
        ++d.line;
        line_start = i + 1;
      }
    }
    d.column = static_cast<int>(std::min(byte, text.size()) - line_start) + 1;
    d.end_column = d.column;
    d.message = "Error: " + std::move(message);
    d.source_line = std::string(LineOf(text, d.line));
    return d;
  };
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte is 1-based: the byte the parser had read when it stopped.
    std::string what = e.what();
    size_t colon = what.find("syntax error");
    std::string msg = colon == std::string::npos ? what : what.substr(colon);
    return at(e.byte > 0 ? e.byte - 1 : 0, "JSON " + msg);
  } catch (const std::exception& e) {
    return at(0, std::string("JSON: ") + e.what());
  }
  size_t first = text.find('{');
  if (!doc.is_object() || !doc.contains("nftables") || !doc["nftables"].is_array()) {
    return at(first == std::string_view::npos ? 0 : first,
              "not an nft JSON ruleset: the top level must be an object with an \"nftables\" "
              "array (as `nft -j list ruleset` prints)");
  }
  return std::nullopt;
}

std::vector<std::string> JsonInterfaceNames(std::string_view text, size_t max) {
  std::vector<std::string> out;
  nlohmann::json doc = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (doc.is_discarded()) return out;
  auto add = [&](const nlohmann::json& v) {
    auto one = [&](const nlohmann::json& name) {
      if (name.is_string() && out.size() < max &&
          std::find(out.begin(), out.end(), name.get<std::string>()) == out.end()) {
        out.push_back(name.get<std::string>());
      }
    };
    if (v.is_array()) {
      for (const auto& x : v) one(x);
    } else if (v.is_object() && v.contains("set") && v["set"].is_array()) {
      for (const auto& x : v["set"]) one(x);
    } else {
      one(v);
    }
  };
  auto is_index_meta = [](const nlohmann::json& v) {
    if (!v.is_object() || !v.contains("meta") || !v["meta"].is_object()) return false;
    auto key = v["meta"].value("key", "");
    return key == "iif" || key == "oif";
  };
  // Iterative walk: hostile nesting cannot exhaust the stack.
  std::vector<const nlohmann::json*> stack = {&doc};
  while (!stack.empty() && out.size() < max) {
    const nlohmann::json* j = stack.back();
    stack.pop_back();
    if (j->is_object()) {
      if (j->contains("match") && (*j)["match"].is_object()) {
        const auto& m = (*j)["match"];
        if (m.contains("left") && m.contains("right") && is_index_meta(m["left"])) {
          add(m["right"]);
        }
      }
      for (const char* kind : {"chain", "flowtable"}) {
        if (j->contains(kind) && (*j)[kind].is_object() && (*j)[kind].contains("dev")) {
          add((*j)[kind]["dev"]);
        }
      }
      for (const auto& [k, v] : j->items()) stack.push_back(&v);
    } else if (j->is_array()) {
      for (const auto& v : *j) stack.push_back(&v);
    }
  }
  return out;
}

bool NftJsonFlushesRuleset(std::string_view text) {
  nlohmann::json doc = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (!doc.is_object() || !doc.contains("nftables") || !doc["nftables"].is_array()) return false;
  for (const auto& cmd : doc["nftables"]) {
    if (cmd.is_object() && cmd.contains("flush") && cmd["flush"].is_object() &&
        cmd["flush"].contains("ruleset")) {
      return true;
    }
  }
  return false;
}

std::vector<JsonCommandSpan> NftJsonCommands(std::string_view text) {
  std::vector<JsonCommandSpan> out;
  size_t i = 0;
  auto skip_ws = [&] {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  };
  // Past a string starting at text[i] == '"'; returns its raw body.
  auto skip_string = [&]() -> std::string_view {
    size_t start = ++i;
    while (i < text.size() && text[i] != '"') i += text[i] == '\\' ? 2 : 1;
    std::string_view body = text.substr(start, std::min(i, text.size()) - start);
    ++i;
    return body;
  };
  // Past one value (object, array, string, literal) starting at text[i].
  auto skip_value = [&] {
    int depth = 0;
    while (i < text.size()) {
      char c = text[i];
      if (c == '"') {
        skip_string();
        if (depth == 0) return;
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if (c == '}' || c == ']') {
        if (depth == 0) return;  // the end of the enclosing container
        if (--depth == 0) {
          ++i;
          return;
        }
      }
      if (depth == 0 && c == ',') return;
      ++i;
    }
  };
  skip_ws();
  if (i >= text.size() || text[i] != '{') return out;
  ++i;
  while (i < text.size()) {
    skip_ws();
    if (i >= text.size() || text[i] != '"') return out;
    std::string_view key = skip_string();
    skip_ws();
    if (i >= text.size() || text[i] != ':') return out;
    ++i;
    skip_ws();
    if (key != "nftables") {
      skip_value();
      skip_ws();
      if (i < text.size() && text[i] == ',') {
        ++i;
        continue;
      }
      return out;
    }
    if (i >= text.size() || text[i] != '[') return out;
    ++i;
    while (i < text.size()) {
      skip_ws();
      if (i >= text.size() || text[i] == ']') break;
      JsonCommandSpan span;
      span.begin = i;
      skip_value();
      span.end = i;
      while (span.end > span.begin &&
             std::isspace(static_cast<unsigned char>(text[span.end - 1]))) {
        --span.end;
      }
      out.push_back(span);
      skip_ws();
      if (i < text.size() && text[i] == ',') ++i;
    }
    break;
  }
  // Lines and columns in one pass over the text.
  int line = 1;
  size_t line_start = 0, pos = 0;
  for (auto& span : out) {
    for (; pos < span.begin; ++pos) {
      if (text[pos] == '\n') {
        ++line;
        line_start = pos + 1;
      }
    }
    span.line = line;
    span.column = static_cast<int>(span.begin - line_start) + 1;
  }
  return out;
}

std::string NftJsonPrefix(std::string_view text, const std::vector<JsonCommandSpan>& commands,
                          size_t count) {
  std::string s = "{\"nftables\": [";
  for (size_t k = 0; k < count && k < commands.size(); ++k) {
    if (k > 0) s += ",\n";
    s += text.substr(commands[k].begin, commands[k].end - commands[k].begin);
  }
  return s + "]}\n";
}

std::vector<Diagnostic> ParseIptablesRestoreErrors(std::string_view errors, std::string_view text,
                                                   std::string_view display) {
  static const std::regex kLine(R"((?:at line:? |line )(\d+))");
  static const std::regex kPrefix(
      R"(^[A-Za-z0-9_.-]*tables[A-Za-z0-9_-]*(?: v[0-9.]+ \([^)]*\))?: )");
  static const std::regex kQuoted(R"([\"'`]([^\"'`]+)[\"'])");
  int line = 0;
  std::vector<std::string> messages;
  ForEachLine(errors, [&](int, std::string_view l) {
    std::string s(TrimView(l.substr(0, kMaxMessageLine)));
    if (s.empty() || s.starts_with("Try `") || s.starts_with("# Warning:")) return true;
    std::smatch m;
    if (std::regex_search(s, m, kLine)) {
      int n = 0;
      for (char c : m[1].str()) n = std::min(n * 10 + (c - '0'), 1 << 30);
      if (line == 0) line = n;
    }
    if (s.starts_with("Error occurred at line")) return true;
    // Drop "iptables-nft-restore v1.8.9 (nf_tables): " and a repeated program name.
    for (int i = 0; i < 2; ++i)
      s = std::regex_replace(s, kPrefix, "", std::regex_constants::format_first_only);
    messages.push_back(s);
    return true;
  });
  Diagnostic d;
  d.file = std::string(display);
  std::string msg;
  for (const auto& m : messages) {
    if (msg.size() < kMaxMessageLine) msg += (msg.empty() ? "" : "; ") + m;
  }
  if (msg.empty()) msg = "iptables-nft-restore failed without a message";
  d.message = "Error: " + msg;
  if (line > 0) {
    d.line = line;
    std::string_view src = LineOf(text, line);
    d.source_line = std::string(src);
    size_t first = src.find_first_not_of(" \t");
    d.column = first == std::string_view::npos ? 1 : static_cast<int>(first) + 1;
    d.end_column = static_cast<int>(std::max<size_t>(src.size(), 1));
    std::smatch q;
    std::string head = msg.substr(0, kMaxMessageLine);
    if (std::regex_search(head, q, kQuoted)) {
      std::string token = q[1].str();
      size_t at = src.find(token);
      if (at == std::string_view::npos) {
        // Checked at COMMIT (a jump to a missing chain): the last earlier line naming it.
        int found = 0;
        ForEachLine(text, [&](int n, std::string_view l) {
          if (n >= line) return false;
          for (auto w : Words(l)) {
            if (w == token) found = n;
          }
          return true;
        });
        if (found > 0) {
          d.line = found;
          src = LineOf(text, found);
          d.source_line = std::string(src);
          at = src.find(token);
        }
      }
      if (at != std::string_view::npos) {
        d.column = static_cast<int>(at) + 1;
        d.end_column = static_cast<int>(at + token.size());
      }
    }
  }
  return {d};
}

bool FlushesRuleset(std::string_view text, sys::RulesetFormat format) {
  if (format == sys::RulesetFormat::kNftJson) return NftJsonFlushesRuleset(text);
  if (format != sys::RulesetFormat::kNft) return false;
  auto toks = Tokenize(text);
  int depth = 0;
  for (size_t i = 0; i + 1 < toks.size(); ++i) {
    const auto& t = toks[i];
    if (t.quoted) continue;
    if (t.text == "{") ++depth;
    if (t.text == "}") --depth;
    if (depth == 0 && t.text == "flush" && !toks[i + 1].quoted && toks[i + 1].text == "ruleset") {
      return true;
    }
  }
  return false;
}

}  // namespace fwgate::nft
