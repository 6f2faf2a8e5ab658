#include "gate/probe/inventory.h"

#include <arpa/inet.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

namespace fwgate::probe {
namespace {

struct Val {
  std::string v;
  int line = 0;
  int col = 0;
};
using Vars = std::map<std::string, Val>;

struct HostEntry {
  std::string name;
  int line = 0;
  int col = 0;
  Vars vars;
};

struct Group {
  std::vector<std::string> hosts;
  std::vector<std::string> children;
  Vars vars;
};

struct Raw {
  std::vector<HostEntry> hosts;  // first-seen order; repeated names merge vars
  std::map<std::string, Group> groups;
  std::vector<std::string> group_order;
};

Error At(std::string_view path, int line, int col, const std::string& msg) {
  return Error::BadInput(std::string(path) + ":" + std::to_string(line) + ":" + std::to_string(col) +
                    ": " + msg);
}

bool IsValidGroupName(std::string_view g) {
  if (g.empty() || g.size() > 128) return false;
  for (unsigned char c : g)
    if (!(std::isalnum(c) || c == '_' || c == '-' || c == '.')) return false;
  return g.front() != '-';
}

// An inventory name: the report key, and the ssh host when no ansible_host is given.
bool IsValidName(std::string_view n) {
  if (n.empty() || n.size() > 253 || n.front() == '-' || n.front() == '.') return false;
  for (unsigned char c : n)
    if (!(std::isalnum(c) || c == '_' || c == '-' || c == '.' || c == ':')) return false;
  return true;
}

Group& GroupOf(Raw& raw, const std::string& name) {
  if (!raw.groups.count(name)) raw.group_order.push_back(name);
  return raw.groups[name];
}

HostEntry& AddHost(Raw& raw, const std::string& name, int line, int col) {
  for (HostEntry& h : raw.hosts)
    if (h.name == name) return h;
  raw.hosts.push_back({name, line, col, {}});
  return raw.hosts.back();
}

// Turns the collected entries into validated targets.
Result<Inventory> Resolve(Raw& raw, std::string_view path) {
  // Ancestors of every group through children (cycles tolerated).
  std::map<std::string, std::set<std::string>> members;  // group -> hosts
  std::function<void(const std::string&, std::set<std::string>&, std::set<std::string>&)> collect =
      [&](const std::string& g, std::set<std::string>& out, std::set<std::string>& seen) {
        if (!seen.insert(g).second) return;
        auto it = raw.groups.find(g);
        if (it == raw.groups.end()) return;
        for (const auto& h : it->second.hosts) out.insert(h);
        for (const auto& c : it->second.children) collect(c, out, seen);
      };
  Inventory inv;
  for (const std::string& g : raw.group_order) {
    std::set<std::string> hs, seen;
    collect(g, hs, seen);
    members[g] = hs;
    for (const HostEntry& h : raw.hosts)
      if (hs.count(h.name)) inv.groups[g].push_back(h.name);
  }
  for (const HostEntry& h : raw.hosts) inv.groups["all"].push_back(h.name);
  inv.groups["all"].erase(std::unique(inv.groups["all"].begin(), inv.groups["all"].end()),
                          inv.groups["all"].end());

  for (const HostEntry& h : raw.hosts) {
    Vars merged;
    auto apply = [&](const Vars& v) {
      for (const auto& [k, val] : v) merged[k] = val;
    };
    if (raw.groups.count("all")) apply(raw.groups["all"].vars);
    for (const std::string& g : raw.group_order)
      if (g != "all" && members[g].count(h.name)) apply(raw.groups[g].vars);
    apply(h.vars);

    if (!IsValidName(h.name)) return At(path, h.line, h.col, "invalid host name '" + h.name + "'");
    Target t;
    t.name = h.name;
    t.host = h.name;
    auto get = [&](std::initializer_list<const char*> keys) -> const Val* {
      for (const char* k : keys)
        if (auto it = merged.find(k); it != merged.end()) return &it->second;
      return nullptr;
    };
    if (const Val* v = get({"ansible_host", "ansible_ssh_host"})) {
      if (!IsValidHost(v->v))
        return At(path, v->line, v->col,
                  "ansible_host '" + v->v + "' is not a valid host name or IP address");
      t.host = v->v;
    } else if (!IsValidHost(h.name)) {
      return At(path, h.line, h.col,
                "host '" + h.name + "' is not a valid host name or IP address (set ansible_host)");
    }
    if (const Val* v = get({"ansible_port", "ansible_ssh_port"})) {
      int port = 0;
      auto [p, ec] = std::from_chars(v->v.data(), v->v.data() + v->v.size(), port);
      if (ec != std::errc() || p != v->v.data() + v->v.size() || port < 1 || port > 65535)
        return At(path, v->line, v->col, "ansible_port '" + v->v + "' is not a port (1-65535)");
      t.port = port;
    }
    if (const Val* v = get({"ansible_user", "ansible_ssh_user"})) {
      if (!IsValidUser(v->v))
        return At(path, v->line, v->col, "invalid ansible_user '" + v->v + "'");
      t.user = v->v;
    }
    if (const Val* v = get({"ansible_ssh_private_key_file", "ansible_private_key_file"})) {
      if (!IsValidKeyPath(v->v))
        return At(path, v->line, v->col, "invalid ansible_ssh_private_key_file '" + v->v + "'");
      t.identity = v->v;
    }
    inv.hosts.push_back(std::move(t));
  }
  return inv;
}

// Splits an INI host line into tokens, honouring '...' and "..." quotes; records columns.
struct Tok {
  std::string text;
  int col;
};
Result<std::vector<Tok>> Tokenize(std::string_view line, std::string_view path, int lineno) {
  std::vector<Tok> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    if (i >= line.size()) break;
    if (line[i] == '#') break;  // trailing comment
    Tok t{"", static_cast<int>(i) + 1};
    char quote = 0;
    while (i < line.size() && (quote || !std::isspace(static_cast<unsigned char>(line[i])))) {
      char c = line[i];
      if (quote) {
        if (c == quote)
          quote = 0;
        else
          t.text.push_back(c);
      } else if (c == '"' || c == '\'') {
        quote = c;
      } else {
        t.text.push_back(c);
      }
      ++i;
    }
    if (quote) return At(path, lineno, t.col, "unterminated quote");
    out.push_back(std::move(t));
  }
  return out;
}

Result<Inventory> ParseIni(std::string_view text, std::string_view path) {
  Raw raw;
  std::string section = "ungrouped";
  std::string kind = "hosts";
  int lineno = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, nl == std::string_view::npos ? text.size() - pos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos) continue;
    if (line[first] == '#' || line[first] == ';') continue;
    for (size_t i = 0; i < line.size(); ++i) {
      unsigned char c = static_cast<unsigned char>(line[i]);
      if (c < 0x20 && c != '\t')
        return At(path, lineno, static_cast<int>(i) + 1, "control character in inventory");
    }
    if (line[first] == '[') {
      size_t close = line.find(']', first);
      if (close == std::string_view::npos)
        return At(path, lineno, static_cast<int>(first) + 1, "section header without ']'");
      std::string_view hdr = line.substr(first + 1, close - first - 1);
      size_t colon = hdr.find(':');
      std::string g(hdr.substr(0, colon));
      kind = colon == std::string_view::npos ? "hosts" : std::string(hdr.substr(colon + 1));
      if (!IsValidGroupName(g))
        return At(path, lineno, static_cast<int>(first) + 2, "invalid group name '" + g + "'");
      if (kind != "hosts" && kind != "vars" && kind != "children")
        return At(path, lineno, static_cast<int>(first + colon) + 3,
                  "unknown section kind '" + kind + "' (expected vars or children)");
      section = g;
      GroupOf(raw, section);
      continue;
    }
    auto toks = Tokenize(line, path, lineno);
    if (!toks) return toks.error();
    if (toks->empty()) continue;
    if (kind == "children") {
      const Tok& t = toks->front();
      if (!IsValidGroupName(t.text))
        return At(path, lineno, t.col, "invalid group name '" + t.text + "'");
      GroupOf(raw, section).children.push_back(t.text);
      GroupOf(raw, t.text);
      continue;
    }
    if (kind == "vars") {
      // "key=value" or "key = value".
      std::string joined;
      int col = toks->front().col;
      std::string key, value;
      size_t eq = line.find('=', first);
      if (eq == std::string_view::npos)
        return At(path, lineno, col, "expected key=value in [" + section + ":vars]");
      key = std::string(line.substr(first, eq - first));
      while (!key.empty() && std::isspace(static_cast<unsigned char>(key.back()))) key.pop_back();
      auto vt = Tokenize(line.substr(eq + 1), path, lineno);
      if (!vt) return vt.error();
      value = vt->empty() ? "" : vt->front().text;
      int vcol =
          vt->empty() ? static_cast<int>(eq) + 2 : vt->front().col + static_cast<int>(eq) + 1;
      GroupOf(raw, section).vars[key] = {value, lineno, vcol};
      continue;
    }
    const Tok& host = toks->front();
    auto names = ExpandHostPattern(host.text);
    if (!names) return At(path, lineno, host.col, names.error().context);
    Vars vars;
    for (size_t i = 1; i < toks->size(); ++i) {
      const Tok& t = (*toks)[i];
      size_t eq = t.text.find('=');
      if (eq == std::string::npos || eq == 0)
        return At(path, lineno, t.col, "expected key=value after host, got '" + t.text + "'");
      vars[t.text.substr(0, eq)] = {t.text.substr(eq + 1), lineno,
                                    t.col + static_cast<int>(eq) + 1};
    }
    for (const std::string& n : *names) {
      if (!IsValidName(n)) return At(path, lineno, host.col, "invalid host name '" + n + "'");
      HostEntry& h = AddHost(raw, n, lineno, host.col);
      for (const auto& [k, v] : vars) h.vars[k] = v;
      auto& gh = GroupOf(raw, section).hosts;
      if (std::find(gh.begin(), gh.end(), n) == gh.end()) gh.push_back(n);
    }
  }
  return Resolve(raw, path);
}

// --- YAML ---
int Line(const YAML::Node& n) { return n.Mark().line + 1; }
int Col(const YAML::Node& n) { return n.Mark().column + 1; }

Status YamlVars(const YAML::Node& node, Vars& out, std::string_view path) {
  if (!node || node.IsNull()) return OkStatus();
  if (!node.IsMap()) return At(path, Line(node), Col(node), "vars must be a mapping");
  for (const auto& kv : node) {
    std::string key = kv.first.as<std::string>();
    if (!kv.second.IsScalar()) continue;  // lists/maps: not a var we use; ignore
    out[key] = {kv.second.Scalar(), Line(kv.second), Col(kv.second)};
  }
  return OkStatus();
}

Status YamlGroup(const std::string& name, const YAML::Node& node, Raw& raw, std::string_view path,
                 int depth) {
  if (depth > 32) return At(path, Line(node), Col(node), "groups nested too deeply");
  if (!IsValidGroupName(name))
    return At(path, Line(node), Col(node), "invalid group name '" + name + "'");
  GroupOf(raw, name);
  if (!node || node.IsNull()) return OkStatus();
  if (!node.IsMap())
    return At(path, Line(node), Col(node), "group '" + name + "' must be a mapping");
  for (const auto& kv : node) {
    std::string key = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    if (key == "hosts") {
      if (v.IsNull()) continue;
      if (!v.IsMap()) return At(path, Line(v), Col(v), "hosts must be a mapping");
      for (const auto& h : v) {
        std::string pattern = h.first.as<std::string>();
        auto names = ExpandHostPattern(pattern);
        if (!names) return At(path, Line(h.first), Col(h.first), names.error().context);
        Vars vars;
        if (auto st = YamlVars(h.second, vars, path); !st) return st;
        for (const std::string& n : *names) {
          if (!IsValidName(n))
            return At(path, Line(h.first), Col(h.first), "invalid host name '" + n + "'");
          HostEntry& he = AddHost(raw, n, Line(h.first), Col(h.first));
          for (const auto& [k, val] : vars) he.vars[k] = val;
          auto& gh = GroupOf(raw, name).hosts;
          if (std::find(gh.begin(), gh.end(), n) == gh.end()) gh.push_back(n);
        }
      }
    } else if (key == "vars") {
      Vars vars;
      if (auto st = YamlVars(v, vars, path); !st) return st;
      for (const auto& [k, val] : vars) GroupOf(raw, name).vars[k] = val;
    } else if (key == "children") {
      if (v.IsNull()) continue;
      if (!v.IsMap()) return At(path, Line(v), Col(v), "children must be a mapping");
      for (const auto& c : v) {
        std::string child = c.first.as<std::string>();
        if (auto st = YamlGroup(child, c.second, raw, path, depth + 1); !st) return st;
        GroupOf(raw, name).children.push_back(child);
      }
    }
    // Other keys: ignored, as Ansible ignores unknown group keys with a warning.
  }
  return OkStatus();
}

Result<Inventory> ParseYaml(std::string_view text, std::string_view path) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return At(path, e.mark.line + 1, e.mark.column + 1, e.msg);
  }
  if (!root.IsMap()) return At(path, 1, 1, "a YAML inventory is a mapping of groups");
  Raw raw;
  try {
    for (const auto& kv : root) {
      if (auto st = YamlGroup(kv.first.as<std::string>(), kv.second, raw, path, 0); !st)
        return st.error();
    }
  } catch (const YAML::Exception& e) {
    return At(path, e.mark.line + 1, e.mark.column + 1, e.msg);
  }
  return Resolve(raw, path);
}

bool LooksLikeYaml(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, nl == std::string_view::npos ? text.size() - pos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    size_t f = line.find_first_not_of(" \t\r");
    if (f == std::string_view::npos || line[f] == '#' || line[f] == ';') continue;
    if (line.substr(f, 3) == "---") return true;
    if (line[f] == '[') return false;
    size_t e = line.find_last_not_of(" \t\r");
    return line[e] == ':';
  }
  return false;
}

}  // namespace

bool IsValidHost(std::string_view host) {
  if (host.empty() || host.size() > 253 || host.front() == '-') return false;
  std::string h(host);
  in_addr a4{};
  in6_addr a6{};
  if (inet_pton(AF_INET, h.c_str(), &a4) == 1) return true;
  if (inet_pton(AF_INET6, h.c_str(), &a6) == 1) return true;
  // RFC 1123 labels; '_' tolerated inside labels (common in internal names).
  size_t start = 0;
  bool all_numeric = true;
  while (start <= host.size()) {
    size_t dot = host.find('.', start);
    std::string_view label =
        host.substr(start, dot == std::string_view::npos ? host.size() - start : dot - start);
    if (label.empty())  // only a trailing dot may leave an empty label
      return dot == std::string_view::npos && start == host.size() && start > 0 && !all_numeric;
    if (label.size() > 63 || label.front() == '-' || label.back() == '-' || label.front() == '_')
      return false;
    for (unsigned char c : label) {
      if (!(std::isalnum(c) || c == '-' || c == '_')) return false;
      if (!std::isdigit(c)) all_numeric = false;
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return !all_numeric;  // "1.2.3" or "999.1.1.1" are not addresses nor names
}

bool IsValidUser(std::string_view user) {
  if (user.empty() || user.size() > 32) return false;
  if (!(std::isalnum(static_cast<unsigned char>(user[0])) || user[0] == '_')) return false;
  for (unsigned char c : user)
    if (!(std::isalnum(c) || c == '_' || c == '-' || c == '.')) return false;
  return true;
}

bool IsValidKeyPath(std::string_view path) {
  if (path.empty() || path.size() > 4096 || path.front() == '-') return false;
  for (unsigned char c : path)
    if (c < 0x20 || c == 0x7f) return false;
  return true;
}

Result<std::vector<std::string>> ExpandHostPattern(std::string_view pattern) {
  size_t open = pattern.find('[');
  if (open == std::string_view::npos) return std::vector<std::string>{std::string(pattern)};
  size_t close = pattern.find(']', open);
  if (close == std::string_view::npos)
    return Error::BadInput("host range without ']' in '" + std::string(pattern) + "'");
  std::string_view range = pattern.substr(open + 1, close - open - 1);
  size_t c1 = range.find(':');
  if (c1 == std::string_view::npos)
    return Error::BadInput("host range needs START:END in '" + std::string(pattern) + "'");
  std::string_view from = range.substr(0, c1);
  std::string_view rest = range.substr(c1 + 1);
  size_t c2 = rest.find(':');
  std::string_view to = rest.substr(0, c2);
  int step = 1;
  if (c2 != std::string_view::npos) {
    std::string_view s = rest.substr(c2 + 1);
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), step);
    if (ec != std::errc() || p != s.data() + s.size() || step < 1)
      return Error::BadInput("bad host range step in '" + std::string(pattern) + "'");
  }
  std::vector<std::string> items;
  auto digits = [](std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
  };
  if (digits(from) && digits(to) && from.size() <= 6 && to.size() <= 6) {
    int a = std::stoi(std::string(from)), b = std::stoi(std::string(to));
    if (b < a || (b - a) / step > 4096)
      return Error::BadInput("bad host range in '" + std::string(pattern) + "'");
    size_t width = from.size() > 1 && from[0] == '0' ? from.size() : 0;
    for (int i = a; i <= b; i += step) {
      std::string s = std::to_string(i);
      if (s.size() < width) s.insert(0, width - s.size(), '0');
      items.push_back(s);
    }
  } else if (from.size() == 1 && to.size() == 1 &&
             std::isalpha(static_cast<unsigned char>(from[0])) &&
             std::isalpha(static_cast<unsigned char>(to[0])) && from[0] <= to[0]) {
    for (char c = from[0]; c <= to[0]; c = static_cast<char>(c + step)) items.emplace_back(1, c);
  } else {
    return Error::BadInput("bad host range in '" + std::string(pattern) + "'");
  }
  auto tails = ExpandHostPattern(pattern.substr(close + 1));
  if (!tails) return tails;
  std::vector<std::string> out;
  for (const std::string& i : items)
    for (const std::string& t : *tails) {
      out.push_back(std::string(pattern.substr(0, open)) + i + t);
      if (out.size() > 4096)
        return Error::BadInput("host range too large in '" + std::string(pattern) + "'");
    }
  return out;
}

Result<std::vector<Target>> Inventory::Select(std::string_view group) const {
  if (group.empty() || group == "all") return hosts;
  auto it = groups.find(std::string(group));
  if (it == groups.end()) {
    std::string known;
    for (const auto& [g, _] : groups) known += (known.empty() ? "" : ", ") + g;
    return Error::BadInput("unknown group '" + std::string(group) + "' (groups: " + known + ")");
  }
  std::vector<Target> out;
  for (const Target& t : hosts)
    if (std::find(it->second.begin(), it->second.end(), t.name) != it->second.end())
      out.push_back(t);
  return out;
}

Result<Inventory> ParseInventory(std::string_view text, std::string_view path) {
  if (text.size() > (16u << 20)) return At(path, 1, 1, "inventory larger than 16 MiB");
  std::string_view p = path;
  bool yaml = (p.size() > 4 && p.substr(p.size() - 4) == ".yml") ||
              (p.size() > 5 && p.substr(p.size() - 5) == ".yaml") || LooksLikeYaml(text);
  return yaml ? ParseYaml(text, path) : ParseIni(text, path);
}

Result<Inventory> LoadInventory(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::FromErrno(errno ? errno : ENOENT, "opening inventory " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseInventory(ss.str(), path);
}

}  // namespace fwgate::probe
