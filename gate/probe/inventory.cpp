#include "gate/probe/inventory.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <sstream>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

namespace fwgate::probe {
namespace {

// --- values and the connection variables fwgate reads ---------------------------------------

// What a variable's value is, as Ansible would see it (ast.literal_eval for INI, YAML types).
enum class VKind { kString, kInt, kList, kMap, kOther };

struct Val {
  std::string v;  // the string, the integer's digits, or the raw text of a list/map
  VKind kind = VKind::kString;
  int line = 0;
  int col = 0;
};

// The variables that decide how ssh connects. Where Ansible lists two names for one setting,
// the later name wins when both are set (its config manager loops over the names in order).
enum Key : int {
  kAnsibleHost,
  kAnsibleSshHost,
  kAnsiblePort,
  kAnsibleSshPort,
  kAnsibleUser,
  kAnsibleSshUser,
  kAnsiblePrivateKey,
  kAnsibleSshPrivateKey,
  kAnsibleSshArgs,
  kAnsibleSshCommonArgs,
  kAnsibleSshExtraArgs,
  kGroupPriority,
  kNumKeys
};
constexpr std::array<std::string_view, kNumKeys> kKeyNames = {"ansible_host",
                                                              "ansible_ssh_host",
                                                              "ansible_port",
                                                              "ansible_ssh_port",
                                                              "ansible_user",
                                                              "ansible_ssh_user",
                                                              "ansible_private_key_file",
                                                              "ansible_ssh_private_key_file",
                                                              "ansible_ssh_args",
                                                              "ansible_ssh_common_args",
                                                              "ansible_ssh_extra_args",
                                                              "ansible_group_priority"};

std::optional<int> KeyOf(std::string_view name) {
  for (int i = 0; i < kNumKeys; ++i)
    if (kKeyNames[i] == name) return i;
  return std::nullopt;
}

using Vars = std::array<std::optional<Val>, kNumKeys>;

Error At(std::string_view path, int line, int col, const std::string& msg) {
  return Error::BadInput(std::string(path) + ":" + std::to_string(line) + ":" +
                         std::to_string(col) + ": " + msg);
}

// Printable form of untrusted text inside an error message: bounded, controls as \xHH.
std::string Shown(std::string_view s) {
  std::string o;
  for (unsigned char c : s.substr(0, 120)) {
    if (c < 0x20 || c == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      o += "\\x";
      o += kHex[c >> 4];
      o += kHex[c & 15];
    } else {
      o += static_cast<char>(c);
    }
  }
  if (s.size() > 120) o += "...";
  return o;
}

bool HasControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

// Records a variable. Connection variables must be scalars: a list or map there is bad input,
// never silently dropped. Other variables are not kept (fwgate does not use them).
Status SetVar(Vars& vars, std::string_view key, Val val, std::string_view path) {
  auto k = KeyOf(key);
  if (!k) return OkStatus();
  if (val.kind == VKind::kList || val.kind == VKind::kMap) {
    return At(path, val.line, val.col,
              std::string(key) + " is a " + (val.kind == VKind::kList ? "list" : "mapping") +
                  ": a connection variable must be a single value");
  }
  if (val.v.find('\0') != std::string::npos)
    return At(path, val.line, val.col, std::string(key) + " contains a NUL byte");
  vars[*k] = std::move(val);
  return OkStatus();
}

// --- the collected inventory, before resolution ---------------------------------------------

struct HostEntry {
  std::string name;
  int line = 0;
  int col = 0;
  Vars vars;
  std::vector<uint32_t> groups;  // direct groups
};

struct Group {
  std::string name;
  std::vector<uint32_t> hosts;     // direct hosts
  std::vector<uint32_t> children;  // child groups
  std::vector<uint32_t> parents;
  Vars vars;
};

class Raw {
 public:
  explicit Raw(std::string_view path) : path_(path) {}

  Result<uint32_t> GroupOf(const std::string& name, int line, int col) {
    if (auto it = group_index_.find(name); it != group_index_.end()) return it->second;
    if (groups_.size() >= kMaxInventoryGroups) {
      return At(path_, line, col,
                "more than " + std::to_string(kMaxInventoryGroups) + " groups in the inventory");
    }
    uint32_t id = static_cast<uint32_t>(groups_.size());
    groups_.push_back({name, {}, {}, {}, {}});
    group_index_.emplace(name, id);
    return id;
  }

  Result<uint32_t> AddHost(const std::string& name, int line, int col) {
    if (auto it = host_index_.find(name); it != host_index_.end()) return it->second;
    if (hosts_.size() >= kMaxInventoryHosts) {
      return At(path_, line, col,
                "more than " + std::to_string(kMaxInventoryHosts) + " hosts in the inventory");
    }
    uint32_t id = static_cast<uint32_t>(hosts_.size());
    hosts_.push_back({name, line, col, {}, {}});
    host_index_.emplace(name, id);
    return id;
  }

  Status AddMember(uint32_t group, uint32_t host, int line, int col) {
    uint64_t key = (static_cast<uint64_t>(group) << 32) | host;
    if (!member_seen_.insert(key).second) return OkStatus();
    if (member_seen_.size() + child_seen_.size() > kMaxInventoryMemberships)
      return At(path_, line, col, "too many group memberships in the inventory");
    groups_[group].hosts.push_back(host);
    hosts_[host].groups.push_back(group);
    return OkStatus();
  }

  Status AddChild(uint32_t parent, uint32_t child, int line, int col) {
    if (parent == child)
      return At(path_, line, col, "group '" + groups_[parent].name + "' is its own child");
    uint64_t key = (static_cast<uint64_t>(parent) << 32) | child;
    if (!child_seen_.insert(key).second) return OkStatus();
    if (member_seen_.size() + child_seen_.size() > kMaxInventoryMemberships)
      return At(path_, line, col, "too many group memberships in the inventory");
    groups_[parent].children.push_back(child);
    groups_[child].parents.push_back(parent);
    return OkStatus();
  }

  HostEntry& host(uint32_t id) { return hosts_[id]; }
  Group& group(uint32_t id) { return groups_[id]; }
  std::string_view path() const { return path_; }

  Result<Inventory> Resolve();

 private:
  std::string path_;
  std::vector<HostEntry> hosts_;
  std::unordered_map<std::string, uint32_t> host_index_;
  std::vector<Group> groups_;
  std::unordered_map<std::string, uint32_t> group_index_;
  std::unordered_set<uint64_t> member_seen_, child_seen_;
};

// An inventory name: the report key, and the ssh host when no ansible_host is given.
bool IsValidName(std::string_view n) {
  if (n.empty() || n.size() > 253 || n.front() == '-' || n.front() == '.') return false;
  for (unsigned char c : n) {
    if (!(std::isalnum(c) || c == '_' || c == '-' || c == '.' || c == ':' || c == '%'))
      return false;
  }
  return true;
}

// Ansible accepts any group name without whitespace, ':' or ']'; fwgate keeps the ones that
// are safe to print and match: letters, digits, '_', '-', '.'.
bool IsValidGroupName(std::string_view g) {
  if (g.empty() || g.size() > 128) return false;
  for (unsigned char c : g)
    if (!(std::isalnum(c) || c == '_' || c == '-' || c == '.')) return false;
  return g.front() != '-';
}

std::optional<int> ParsePort(const Val& v) {
  int port = 0;
  auto [p, ec] = std::from_chars(v.v.data(), v.v.data() + v.v.size(), port);
  if (ec != std::errc() || p != v.v.data() + v.v.size() || port < 1 || port > 65535)
    return std::nullopt;
  return port;
}

// Group-variable precedence as Ansible's sort_groups: by depth (distance from "all"), then
// ansible_group_priority, then name; later in that order wins. Host variables beat all.
struct Rank {
  int depth = 0;
  int64_t priority = 1;
  const std::string* name = nullptr;
  bool operator<(const Rank& o) const {
    if (depth != o.depth) return depth < o.depth;
    if (priority != o.priority) return priority < o.priority;
    return *name < *o.name;
  }
};

Result<Inventory> Raw::Resolve() {
  auto all_id = GroupOf("all", 1, 1);
  if (!all_id) return all_id.error();
  auto ungrouped_id = GroupOf("ungrouped", 1, 1);
  if (!ungrouped_id) return ungrouped_id.error();
  const uint32_t all = *all_id, ungrouped = *ungrouped_id;
  const size_t ng = groups_.size();

  // Groups without a parent are children of "all" (Ansible's reconcile step).
  for (uint32_t g = 0; g < ng; ++g) {
    if (g != all && groups_[g].parents.empty()) {
      groups_[all].children.push_back(g);
      groups_[g].parents.push_back(all);
    }
  }
  // Hosts that are in no group are in "ungrouped".
  for (uint32_t h = 0; h < hosts_.size(); ++h) {
    bool grouped = false;
    for (uint32_t g : hosts_[h].groups) grouped |= g != all && g != ungrouped;
    if (!grouped && std::find(hosts_[h].groups.begin(), hosts_[h].groups.end(), ungrouped) ==
                        hosts_[h].groups.end()) {
      groups_[ungrouped].hosts.push_back(h);
      hosts_[h].groups.push_back(ungrouped);
    }
  }

  // Topological order from "all" (Kahn): a cycle is bad input, as in Ansible.
  std::vector<uint32_t> indeg(ng, 0), order;
  order.reserve(ng);
  for (uint32_t g = 0; g < ng; ++g) indeg[g] = static_cast<uint32_t>(groups_[g].parents.size());
  for (uint32_t g = 0; g < ng; ++g)
    if (indeg[g] == 0) order.push_back(g);
  for (size_t i = 0; i < order.size(); ++i) {
    for (uint32_t c : groups_[order[i]].children)
      if (--indeg[c] == 0) order.push_back(c);
  }
  if (order.size() != ng) {
    for (uint32_t g = 0; g < ng; ++g) {
      if (indeg[g] != 0) {
        return At(path_, 1, 1,
                  "group '" + groups_[g].name + "' is its own ancestor (a children cycle)");
      }
    }
  }
  std::vector<int> depth(ng, 0);
  for (uint32_t g : order)
    for (uint32_t c : groups_[g].children) depth[c] = std::max(depth[c], depth[g] + 1);

  // Per group and key: the winning definition among the group and its ancestors.
  struct Best {
    Rank rank;
    const Val* val = nullptr;
  };
  std::vector<std::array<Best, kNumKeys>> best(ng);
  for (uint32_t g : order) {
    Rank own{depth[g], 1, &groups_[g].name};
    if (const auto& p = groups_[g].vars[kGroupPriority]; p && p->kind == VKind::kInt) {
      int64_t v = 1;
      std::from_chars(p->v.data(), p->v.data() + p->v.size(), v);
      own.priority = v;
    }
    for (int k = 0; k < kNumKeys; ++k) {
      Best b;
      if (groups_[g].vars[k]) b = {own, &*groups_[g].vars[k]};
      for (uint32_t p : groups_[g].parents)
        if (best[p][k].val && (!b.val || b.rank < best[p][k].rank)) b = best[p][k];
      best[g][k] = b;
    }
  }

  Inventory inv;
  // Group membership with children folded in: hosts in inventory order per group.
  {
    std::vector<std::vector<uint32_t>> members(ng);
    std::vector<uint32_t> stamp(ng, UINT32_MAX);
    size_t total = 0;
    for (uint32_t h = 0; h < hosts_.size(); ++h) {
      // Ancestors of the host's direct groups, each once.
      std::vector<uint32_t> stack(hosts_[h].groups.begin(), hosts_[h].groups.end());
      stack.push_back(all);
      while (!stack.empty()) {
        uint32_t g = stack.back();
        stack.pop_back();
        if (stamp[g] == h) continue;
        stamp[g] = h;
        members[g].push_back(h);
        if (++total > kMaxInventoryMemberships) {
          return At(path_, hosts_[h].line, hosts_[h].col,
                    "too many group memberships in the inventory");
        }
        for (uint32_t p : groups_[g].parents) stack.push_back(p);
      }
    }
    for (uint32_t g = 0; g < ng; ++g) {
      auto& names = inv.groups[groups_[g].name];
      names.reserve(members[g].size());
      for (uint32_t h : members[g]) names.push_back(hosts_[h].name);
    }
  }

  for (const HostEntry& h : hosts_) {
    if (!IsValidName(h.name))
      return At(path_, h.line, h.col, "invalid host name '" + Shown(h.name) + "'");
    std::array<const Val*, kNumKeys> v{};
    for (int k = 0; k < kNumKeys; ++k) {
      if (h.vars[k]) {
        v[k] = &*h.vars[k];
        continue;
      }
      Best b;
      for (uint32_t g : h.groups)
        if (best[g][k].val && (!b.val || b.rank < best[g][k].rank)) b = best[g][k];
      v[k] = b.val;
    }
    auto pick = [&](Key a, Key b) { return v[b] ? v[b] : v[a]; };  // the later name wins
    Target t;
    t.name = h.name;
    t.host = h.name;
    if (const Val* x = pick(kAnsibleHost, kAnsibleSshHost)) {
      if (!IsValidHost(x->v)) {
        return At(path_, x->line, x->col,
                  "ansible_host '" + Shown(x->v) + "' is not a valid host name or IP address");
      }
      t.host = x->v;
    } else if (!IsValidHost(h.name)) {
      return At(
          path_, h.line, h.col,
          "host '" + Shown(h.name) + "' is not a valid host name or IP address (set ansible_host)");
    }
    if (const Val* x = pick(kAnsiblePort, kAnsibleSshPort)) {
      auto port = ParsePort(*x);
      if (!port) {
        return At(path_, x->line, x->col,
                  "ansible_port '" + Shown(x->v) + "' is not a port (1-65535)");
      }
      t.port = *port;
    }
    if (const Val* x = pick(kAnsibleUser, kAnsibleSshUser)) {
      if (!IsValidUser(x->v))
        return At(path_, x->line, x->col, "invalid ansible_user '" + Shown(x->v) + "'");
      t.user = x->v;
    }
    if (const Val* x = pick(kAnsiblePrivateKey, kAnsibleSshPrivateKey)) {
      if (!IsValidKeyPath(x->v)) {
        return At(path_, x->line, x->col,
                  "invalid ansible_ssh_private_key_file '" + Shown(x->v) + "'");
      }
      t.identity = x->v;
    }
    for (Key k : {kAnsibleSshArgs, kAnsibleSshCommonArgs, kAnsibleSshExtraArgs}) {
      if (!v[k]) continue;
      auto args = ParseSshArgs(v[k]->v);
      if (!args) {
        return At(path_, v[k]->line, v[k]->col,
                  std::string(kKeyNames[k]) + ": " + args.error().context);
      }
      t.ssh_args.insert(t.ssh_args.end(), args->begin(), args->end());
    }
    inv.hosts.push_back(std::move(t));
  }
  return inv;
}

// --- INI ---------------------------------------------------------------------------------------

// A word of a host line with the column (1-based) where it starts.
struct Word {
  std::string text;
  int col = 0;
};

// shlex.split(line, comments=True) in POSIX mode, as Ansible's INI plugin splits host lines.
Result<std::vector<Word>> SplitWords(std::string_view line, int base_col) {
  std::vector<Word> out;
  size_t i = 0;
  const size_t n = line.size();
  while (i < n) {
    while (i < n && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r' || line[i] == '\n')) ++i;
    if (i >= n || line[i] == '#') break;
    Word w{"", base_col + static_cast<int>(i)};
    bool in_word = true;
    while (i < n && in_word) {
      char c = line[i];
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') break;
      if (c == '#') {  // a comment ends the word and the line
        i = n;
        break;
      }
      if (c == '\\') {
        if (i + 1 >= n) return Error::BadInput("no escaped character after '\\'");
        w.text.push_back(line[i + 1]);
        i += 2;
        continue;
      }
      if (c == '\'' || c == '"') {
        size_t q = i++;
        bool closed = false;
        while (i < n) {
          if (line[i] == c) {
            closed = true;
            ++i;
            break;
          }
          if (c == '"' && line[i] == '\\' && i + 1 < n &&
              (line[i + 1] == '"' || line[i + 1] == '\\')) {
            w.text.push_back(line[i + 1]);
            i += 2;
            continue;
          }
          w.text.push_back(line[i++]);
        }
        if (!closed) {
          return Error::BadInput("unterminated quote at column " +
                                 std::to_string(base_col + static_cast<int>(q)));
        }
        continue;
      }
      w.text.push_back(c);
      ++i;
    }
    out.push_back(std::move(w));
  }
  return out;
}

// A small reader of Python literals: what ast.literal_eval accepts for INI values (strings,
// numbers, True/False/None, lists/tuples/sets/dicts of those). Decides the value's kind and, for
// a string literal, its decoded text.
class PyLiteral {
 public:
  explicit PyLiteral(std::string_view s) : s_(s) {}

  // The kind and decoded value, or nullopt when literal_eval would fail (Ansible then keeps
  // the text as it is).
  std::optional<std::pair<VKind, std::string>> Eval() {
    std::string str;
    auto kind = Value(&str);
    Space();
    if (!kind || i_ != s_.size()) return std::nullopt;
    return std::pair{*kind, str};
  }

 private:
  void Space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t')) ++i_;
  }
  bool Eat(char c) {
    Space();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool String(std::string* out) {
    Space();
    if (i_ >= s_.size() || (s_[i_] != '\'' && s_[i_] != '"')) return false;
    bool any = false;
    while (i_ < s_.size() && (s_[i_] == '\'' || s_[i_] == '"')) {  // adjacent literals join
      char q = s_[i_++];
      bool closed = false;
      while (i_ < s_.size()) {
        char c = s_[i_++];
        if (c == q) {
          closed = true;
          break;
        }
        if (c == '\\' && i_ < s_.size()) {
          char e = s_[i_++];
          switch (e) {
            case 'n':
              c = '\n';
              break;
            case 't':
              c = '\t';
              break;
            case 'r':
              c = '\r';
              break;
            case '0':
              c = '\0';
              break;
            case '\\':
            case '\'':
            case '"':
              c = e;
              break;
            default:
              out->push_back('\\');
              c = e;
          }
        }
        out->push_back(c);
      }
      if (!closed) return false;
      any = true;
      Space();
    }
    return any;
  }
  std::optional<VKind> Number() {
    Space();
    size_t b = i_;
    if (i_ < s_.size() && (s_[i_] == '-' || s_[i_] == '+')) ++i_;
    size_t d = i_;
    bool dot = false, exp = false;
    while (i_ < s_.size() &&
           (std::isdigit(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_' || s_[i_] == '.' ||
            s_[i_] == 'e' || s_[i_] == 'E' ||
            ((s_[i_] == '-' || s_[i_] == '+') && (s_[i_ - 1] == 'e' || s_[i_ - 1] == 'E')))) {
      dot |= s_[i_] == '.';
      exp |= s_[i_] == 'e' || s_[i_] == 'E';
      ++i_;
    }
    if (i_ == d) {
      i_ = b;
      return std::nullopt;
    }
    std::string_view digits = s_.substr(d, i_ - d);
    if (dot || exp) return VKind::kOther;
    // Python refuses leading zeros in a decimal integer ("022" stays a string).
    if (digits.size() > 1 && digits[0] == '0' && digits.find_first_not_of("0_") != digits.npos) {
      i_ = b;
      return std::nullopt;
    }
    return VKind::kInt;
  }
  std::optional<VKind> Value(std::string* str) {
    if (++depth_ > 64) return std::nullopt;
    Space();
    if (i_ >= s_.size()) return std::nullopt;
    char c = s_[i_];
    if (c == '\'' || c == '"') {
      if (!String(str)) return std::nullopt;
      --depth_;
      return VKind::kString;
    }
    if (c == '[' || c == '(' || c == '{') {
      char close = c == '[' ? ']' : c == '(' ? ')' : '}';
      ++i_;
      bool dict = false, first = true;
      while (!Eat(close)) {
        if (!first && !Eat(',')) return std::nullopt;
        if (Eat(close)) break;
        std::string ignored;
        if (!Value(&ignored)) return std::nullopt;
        if (c == '{') {
          if (Eat(':')) {
            if (!first && !dict) return std::nullopt;
            dict = true;
            if (!Value(&ignored)) return std::nullopt;
          } else if (dict) {
            return std::nullopt;
          }
        }
        first = false;
      }
      --depth_;
      return (c == '{' && (dict || first)) ? VKind::kMap : VKind::kList;
    }
    for (std::string_view word : {"True", "False", "None"}) {
      if (s_.substr(i_, word.size()) == word) {
        i_ += word.size();
        --depth_;
        return VKind::kOther;
      }
    }
    auto num = Number();
    if (num) {
      *str = std::string(Trimmed(s_.substr(0, i_)));
      if (*num == VKind::kInt) {
        str->erase(std::remove(str->begin(), str->end(), '_'), str->end());
        if (!str->empty() && str->front() == '+') str->erase(0, 1);
      }
      --depth_;
    }
    return num;
  }
  static std::string_view Trimmed(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    return s;
  }

  std::string_view s_;
  size_t i_ = 0;
  int depth_ = 0;
};

// Ansible's _parse_value: literal_eval when it succeeds, the text itself otherwise.
Val IniValue(std::string_view text, int line, int col) {
  Val v{std::string(text), VKind::kString, line, col};
  if (auto lit = PyLiteral(text).Eval()) {
    v.kind = lit->first;
    if (lit->first == VKind::kString || lit->first == VKind::kInt) v.v = lit->second;
  }
  return v;
}

std::string_view TrimWs(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Splits an Ansible host token "name", "name:port", "[v6]:port" (ranges kept in the name).
struct HostToken {
  std::string name;
  std::optional<int> port;
};
std::optional<HostToken> SplitHostPort(std::string_view tok) {
  if (tok.size() > 2 && tok.front() == '[') {
    size_t close = tok.find(']');
    if (close != std::string_view::npos && close + 1 < tok.size() && tok[close + 1] == ':') {
      std::string inner(tok.substr(1, close - 1));
      in6_addr a6{};
      if (inet_pton(AF_INET6, inner.c_str(), &a6) == 1) {
        Val pv{std::string(tok.substr(close + 2)), VKind::kInt, 0, 0};
        auto port = ParsePort(pv);
        if (!port) return std::nullopt;
        return HostToken{inner, port};
      }
    }
  }
  // Colons outside range brackets: exactly one means name:port; several mean an IPv6 address.
  int depth = 0, colons = 0;
  size_t last = std::string_view::npos;
  for (size_t i = 0; i < tok.size(); ++i) {
    if (tok[i] == '[') ++depth;
    if (tok[i] == ']' && depth > 0) --depth;
    if (tok[i] == ':' && depth == 0) {
      ++colons;
      last = i;
    }
  }
  if (colons == 1) {
    Val pv{std::string(tok.substr(last + 1)), VKind::kInt, 0, 0};
    auto port = ParsePort(pv);
    if (!port) return std::nullopt;
    return HostToken{std::string(tok.substr(0, last)), port};
  }
  return HostToken{std::string(tok), std::nullopt};
}

Status AddHostsFromPattern(Raw& raw, uint32_t group, std::string_view token, const Vars& vars,
                           int line, int col) {
  auto hp = SplitHostPort(token);
  if (!hp)
    return At(raw.path(), line, col, "invalid host pattern '" + Shown(token) + "' (bad port)");
  auto names = ExpandHostPattern(hp->name);
  if (!names) return At(raw.path(), line, col, names.error().context);
  for (const std::string& n : *names) {
    if (!IsValidName(n)) return At(raw.path(), line, col, "invalid host name '" + Shown(n) + "'");
    auto h = raw.AddHost(n, line, col);
    if (!h) return h.error();
    HostEntry& he = raw.host(*h);
    if (hp->port) he.vars[kAnsiblePort] = Val{std::to_string(*hp->port), VKind::kInt, line, col};
    for (int k = 0; k < kNumKeys; ++k)
      if (vars[k]) he.vars[k] = vars[k];
    if (auto st = raw.AddMember(group, *h, line, col); !st) return st;
  }
  return OkStatus();
}

Result<Inventory> ParseIni(std::string_view text, std::string_view path) {
  Raw raw(path);
  auto cur = raw.GroupOf("ungrouped", 1, 1);
  if (!cur) return cur.error();
  uint32_t section = *cur;
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
    for (size_t i = 0; i < line.size(); ++i) {
      unsigned char c = static_cast<unsigned char>(line[i]);
      if ((c < 0x20 && c != '\t') || c == 0x7f) {
        return At(path, lineno, static_cast<int>(i) + 1,
                  c == 0 ? "NUL byte in inventory" : "control character in inventory");
      }
    }
    size_t first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos) continue;
    if (line[first] == '#' || line[first] == ';') continue;
    std::string_view body = TrimWs(line);
    const int col0 = static_cast<int>(first) + 1;
    if (body.front() == '[') {
      // "[name]" or "[name:kind]", optionally followed by a comment.
      size_t close = body.find(']');
      std::string_view rest = close == std::string_view::npos ? "" : TrimWs(body.substr(close + 1));
      if (close == std::string_view::npos || (!rest.empty() && rest.front() != '#')) {
        if (body.back() == ']') {
          return At(path, lineno, col0,
                    "invalid section '" + Shown(body) + "' (no spaces are allowed in a section)");
        }
        if (close == std::string_view::npos)
          return At(path, lineno, col0, "section header without ']'");
      }
      if (close != std::string_view::npos && (rest.empty() || rest.front() == '#')) {
        std::string_view hdr = body.substr(1, close - 1);
        size_t colon = hdr.find(':');
        std::string g(hdr.substr(0, colon));
        kind = colon == std::string_view::npos ? "hosts" : std::string(hdr.substr(colon + 1));
        if (!IsValidGroupName(g))
          return At(path, lineno, col0 + 1, "invalid group name '" + Shown(g) + "'");
        if (kind != "hosts" && kind != "vars" && kind != "children") {
          return At(path, lineno, col0 + static_cast<int>(colon) + 2,
                    "unknown section kind '" + Shown(kind) + "' (expected vars or children)");
        }
        auto gid = raw.GroupOf(g, lineno, col0 + 1);
        if (!gid) return gid.error();
        section = *gid;
        continue;
      }
    }
    if (kind == "children") {
      // A group name, optionally followed by a comment.
      size_t end = body.find_first_of(" \t#");
      std::string child(body.substr(0, end));
      std::string_view rest = end == std::string_view::npos ? "" : TrimWs(body.substr(end));
      if (!IsValidGroupName(child) || (!rest.empty() && rest.front() != '#'))
        return At(path, lineno, col0, "invalid group name '" + Shown(body) + "'");
      auto c = raw.GroupOf(child, lineno, col0);
      if (!c) return c.error();
      if (auto st = raw.AddChild(section, *c, lineno, col0); !st) return st.error();
      continue;
    }
    if (kind == "vars") {
      // "key=value": the value is the rest of the line, read as a Python literal when it is one
      // (Ansible's _parse_variable_definition). Inline '#' is part of the value.
      size_t eq = body.find('=');
      if (eq == std::string_view::npos) {
        return At(path, lineno, col0,
                  "expected key=value in [" + raw.group(section).name + ":vars]");
      }
      std::string_view key = TrimWs(body.substr(0, eq));
      std::string_view after = body.substr(eq + 1);
      std::string_view value = TrimWs(after);
      size_t lead = after.find_first_not_of(" \t");
      int vcol = col0 + static_cast<int>(eq) + 1 +
                 static_cast<int>(lead == std::string_view::npos ? 0 : lead);
      if (auto st = SetVar(raw.group(section).vars, key, IniValue(value, lineno, vcol), path); !st)
        return st.error();
      continue;
    }
    auto words = SplitWords(line, 1);
    if (!words) return At(path, lineno, col0, words.error().context);
    if (words->empty()) continue;
    const Word& host = words->front();
    Vars vars;
    for (size_t i = 1; i < words->size(); ++i) {
      const Word& w = (*words)[i];
      size_t eq = w.text.find('=');
      if (eq == std::string::npos) {
        return At(path, lineno, w.col,
                  "expected key=value after host, got '" + Shown(w.text) + "'");
      }
      if (auto st = SetVar(vars, w.text.substr(0, eq),
                           IniValue(std::string_view(w.text).substr(eq + 1), lineno,
                                    w.col + static_cast<int>(eq) + 1),
                           path);
          !st)
        return st.error();
    }
    if (auto st = AddHostsFromPattern(raw, section, host.text, vars, lineno, host.col); !st)
      return st.error();
  }
  return raw.Resolve();
}

// --- YAML --------------------------------------------------------------------------------------

// First pass over the YAML events: the size of the tree once aliases are expanded (each alias
// costs the size of what it names), and the nesting depth. Linear in the text.
class ExpansionCounter : public YAML::EventHandler {
 public:
  bool over = false;
  YAML::Mark where;

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& m, YAML::anchor_t a) override { Leaf(m, a, 1); }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t a) override {
    auto it = sizes_.find(a);
    Leaf(m, 0, it == sizes_.end() ? 1 : it->second);
  }
  void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t a,
                const std::string&) override {
    Leaf(m, a, 1);
  }
  void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t a,
                       YAML::EmitterStyle::value) override {
    Open(m, a);
  }
  void OnSequenceEnd() override { Close(); }
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t a,
                  YAML::EmitterStyle::value) override {
    Open(m, a);
  }
  void OnMapEnd() override { Close(); }

 private:
  void Add(const YAML::Mark& m, uint64_t n) {
    total_ += n;
    if (!stack_.empty()) stack_.back().size += n;
    if (total_ > kMaxYamlExpandedNodes && !over) {
      over = true;
      where = m;
    }
  }
  void Leaf(const YAML::Mark& m, YAML::anchor_t a, uint64_t n) {
    n = std::min<uint64_t>(n, uint64_t{1} << 40);
    if (a) sizes_[a] = n;
    Add(m, n);
  }
  void Open(const YAML::Mark& m, YAML::anchor_t a) {
    stack_.push_back({a, 1, m});
    if (stack_.size() > 256 && !over) {
      over = true;
      where = m;
    }
  }
  void Close() {
    if (stack_.empty()) return;
    Frame f = stack_.back();
    stack_.pop_back();
    f.size = std::min<uint64_t>(f.size, uint64_t{1} << 40);
    if (f.anchor) sizes_[f.anchor] = f.size;
    total_ += 1;
    if (!stack_.empty()) stack_.back().size += f.size;
    // The children were counted into total_ already as they came; only their sum moves up.
    if (total_ > kMaxYamlExpandedNodes && !over) {
      over = true;
      where = f.mark;
    }
  }
  struct Frame {
    YAML::anchor_t anchor;
    uint64_t size;
    YAML::Mark mark;
  };
  std::vector<Frame> stack_;
  std::unordered_map<YAML::anchor_t, uint64_t> sizes_;
  uint64_t total_ = 0;
};

int Line(const YAML::Node& n) { return n.Mark().line + 1; }
int Col(const YAML::Node& n) { return n.Mark().column + 1; }

Result<std::string> ScalarText(const YAML::Node& n, std::string_view path, const char* what) {
  if (!n.IsScalar()) return At(path, Line(n), Col(n), std::string(what) + " must be a string");
  const std::string& s = n.Scalar();
  if (s.find('\0') != std::string::npos)
    return At(path, Line(n), Col(n), std::string(what) + " contains a NUL byte");
  return s;
}

// A YAML value as a variable: plain scalars that are integers are ints (YAML 1.1 as PyYAML).
Val YamlVal(const YAML::Node& n) {
  Val v;
  v.line = Line(n);
  v.col = Col(n);
  if (n.IsSequence()) {
    v.kind = VKind::kList;
  } else if (n.IsMap()) {
    v.kind = VKind::kMap;
  } else if (n.IsNull()) {
    v.kind = VKind::kOther;
  } else {
    v.v = n.Scalar();
    bool plain = n.Tag() == "?";
    bool digits = !v.v.empty() && std::all_of(v.v.begin(), v.v.end(),
                                              [](unsigned char c) { return std::isdigit(c); });
    v.kind = plain && digits ? VKind::kInt : VKind::kString;
  }
  return v;
}

// A mapping with YAML merge keys ("<<: *anchor" or a list of them) applied as PyYAML does:
// explicit keys win over merged ones.
Status ForEachMerged(
    const YAML::Node& map, std::string_view path, int depth,
    const std::function<Status(const std::string&, const YAML::Node&, const YAML::Node&)>& f,
    std::unordered_set<std::string>& seen) {
  if (depth > 32) return At(path, Line(map), Col(map), "YAML merge keys nested too deeply");
  std::vector<YAML::Node> merges;
  for (const auto& kv : map) {
    auto key = ScalarText(kv.first, path, "a key");
    if (!key) return key.error();
    if (*key == "<<" && kv.first.Tag() == "?") {
      if (kv.second.IsMap()) {
        merges.push_back(kv.second);
      } else if (kv.second.IsSequence()) {
        for (const auto& m : kv.second) {
          if (!m.IsMap()) return At(path, Line(m), Col(m), "a merge key needs mappings");
          merges.push_back(m);
        }
      } else {
        return At(path, Line(kv.second), Col(kv.second), "a merge key needs a mapping");
      }
      continue;
    }
    if (!seen.insert(*key).second) continue;
    if (auto st = f(*key, kv.first, kv.second); !st) return st;
  }
  for (const YAML::Node& m : merges)
    if (auto st = ForEachMerged(m, path, depth + 1, f, seen); !st) return st;
  return OkStatus();
}

Status ForEachEntry(
    const YAML::Node& map, std::string_view path,
    const std::function<Status(const std::string&, const YAML::Node&, const YAML::Node&)>& f) {
  std::unordered_set<std::string> seen;
  return ForEachMerged(map, path, 0, f, seen);
}

Status YamlVars(const YAML::Node& node, Vars& out, std::string_view path) {
  if (!node || node.IsNull()) return OkStatus();
  if (!node.IsMap()) return At(path, Line(node), Col(node), "vars must be a mapping");
  return ForEachEntry(node, path,
                      [&](const std::string& key, const YAML::Node&, const YAML::Node& v) {
                        if (v.IsScalar() && v.Scalar().find('\0') != std::string::npos)
                          return Status(At(path, Line(v), Col(v), key + " contains a NUL byte"));
                        return SetVar(out, key, YamlVal(v), path);
                      });
}

Status YamlGroup(const std::string& name, const YAML::Node& node, Raw& raw, int line, int col,
                 int depth) {
  std::string_view path = raw.path();
  if (depth > 64) return At(path, line, col, "groups nested too deeply");
  if (!IsValidGroupName(name))
    return At(path, line, col, "invalid group name '" + Shown(name) + "'");
  auto gid = raw.GroupOf(name, line, col);
  if (!gid) return gid.error();
  const uint32_t g = *gid;
  if (!node || node.IsNull()) return OkStatus();
  if (!node.IsMap())
    return At(path, Line(node), Col(node), "group '" + name + "' must be a mapping");
  return ForEachEntry(
      node, path, [&](const std::string& key, const YAML::Node&, const YAML::Node& v) -> Status {
        if (key == "hosts") {
          if (v.IsNull()) return OkStatus();
          if (v.IsScalar()) {  // "hosts: h1" means {h1: null}, as Ansible converts it
            auto text = ScalarText(v, path, "a host");
            if (!text) return text.error();
            return AddHostsFromPattern(raw, g, *text, Vars{}, Line(v), Col(v));
          }
          if (!v.IsMap()) return At(path, Line(v), Col(v), "hosts must be a mapping");
          return ForEachEntry(
              v, path,
              [&](const std::string& pattern, const YAML::Node& k, const YAML::Node& hv) -> Status {
                Vars vars;
                if (auto st = YamlVars(hv, vars, path); !st) return st;
                return AddHostsFromPattern(raw, g, pattern, vars, Line(k), Col(k));
              });
        }
        if (key == "vars") return YamlVars(v, raw.group(g).vars, path);
        if (key == "children") {
          if (v.IsNull()) return OkStatus();
          if (v.IsScalar()) {
            auto text = ScalarText(v, path, "a group");
            if (!text) return text.error();
            if (auto st = YamlGroup(*text, YAML::Node(), raw, Line(v), Col(v), depth + 1); !st)
              return st;
            auto c = raw.GroupOf(*text, Line(v), Col(v));
            if (!c) return c.error();
            return raw.AddChild(g, *c, Line(v), Col(v));
          }
          if (!v.IsMap()) return At(path, Line(v), Col(v), "children must be a mapping");
          return ForEachEntry(
              v, path,
              [&](const std::string& child, const YAML::Node& k, const YAML::Node& cv) -> Status {
                if (auto st = YamlGroup(child, cv, raw, Line(k), Col(k), depth + 1); !st) return st;
                auto c = raw.GroupOf(child, Line(k), Col(k));
                if (!c) return c.error();
                return raw.AddChild(g, *c, Line(k), Col(k));
              });
        }
        return OkStatus();  // other keys: Ansible warns and ignores them
      });
}

Result<Inventory> ParseYaml(std::string_view text, std::string_view path) {
  // Raw NUL bytes are refused before any YAML reader sees them.
  if (size_t z = text.find('\0'); z != std::string_view::npos) {
    int line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + z, '\n'));
    size_t bol = text.rfind('\n', z);
    int col = static_cast<int>(z - (bol == std::string_view::npos ? 0 : bol + 1)) + 1;
    return At(path, line, col, "NUL byte in inventory");
  }
  std::string owned(text);
  try {
    std::istringstream in(owned);
    YAML::Parser parser(in);
    ExpansionCounter counter;
    while (parser.HandleNextDocument(counter) && !counter.over) {
    }
    if (counter.over) {
      return At(path, counter.where.line + 1, counter.where.column + 1,
                "YAML nests too deeply or its aliases expand to more than " +
                    std::to_string(kMaxYamlExpandedNodes) + " nodes");
    }
  } catch (const YAML::Exception& e) {
    return At(path, e.mark.line + 1, e.mark.column + 1, e.msg);
  }
  YAML::Node root;
  try {
    root = YAML::Load(owned);
  } catch (const YAML::Exception& e) {
    return At(path, e.mark.line + 1, e.mark.column + 1, e.msg);
  }
  if (root.IsNull()) return Raw(path).Resolve();
  if (!root.IsMap()) return At(path, 1, 1, "a YAML inventory is a mapping of groups");
  Raw raw(path);
  try {
    auto st = ForEachEntry(
        root, path, [&](const std::string& g, const YAML::Node& k, const YAML::Node& v) -> Status {
          return YamlGroup(g, v, raw, Line(k), Col(k), 0);
        });
    if (!st) return st.error();
  } catch (const YAML::Exception& e) {
    return At(path, e.mark.line + 1, e.mark.column + 1, e.msg);
  }
  return raw.Resolve();
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

bool LooksLikeJson(std::string_view text) {
  size_t f = text.find_first_not_of(" \t\r\n");
  return f != std::string_view::npos && text[f] == '{';
}

// --- host patterns -----------------------------------------------------------------------------

// fnmatch-style glob: '*', '?', '[...]' (with '!' negation); no special meaning for '/'.
bool Glob(std::string_view p, std::string_view s) {
  size_t pi = 0, si = 0, star_p = std::string_view::npos, star_s = 0;
  while (si < s.size()) {
    if (pi < p.size() && p[pi] == '*') {
      star_p = pi++;
      star_s = si;
      continue;
    }
    if (pi < p.size()) {
      if (p[pi] == '?') {
        ++pi;
        ++si;
        continue;
      }
      if (p[pi] == '[') {
        size_t close = p.find(']', pi + 2);
        if (close != std::string_view::npos) {
          std::string_view set = p.substr(pi + 1, close - pi - 1);
          bool neg = !set.empty() && (set[0] == '!' || set[0] == '^');
          if (neg) set.remove_prefix(1);
          bool hit = false;
          for (size_t k = 0; k < set.size(); ++k) {
            if (k + 2 < set.size() && set[k + 1] == '-') {
              hit |= s[si] >= set[k] && s[si] <= set[k + 2];
              k += 2;
            } else {
              hit |= s[si] == set[k];
            }
          }
          if (hit != neg) {
            pi = close + 1;
            ++si;
            continue;
          }
        } else if (s[si] == '[') {
          ++pi;
          ++si;
          continue;
        }
      } else if (p[pi] == s[si]) {
        ++pi;
        ++si;
        continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    pi = star_p + 1;
    si = ++star_s;
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

// Splits a pattern as Ansible's split_host_pattern: on ',' when present, else on ':' (unless
// the whole term is an IPv6 address), keeping "&" and "!" prefixes with their term.
std::vector<std::string> SplitPattern(std::string_view pattern) {
  std::vector<std::string> out;
  auto push = [&](std::string_view t) {
    t = TrimWs(t);
    if (!t.empty()) out.emplace_back(t);
  };
  if (pattern.find(',') != std::string_view::npos) {
    size_t b = 0;
    while (b <= pattern.size()) {
      size_t e = pattern.find(',', b);
      if (e == std::string_view::npos) e = pattern.size();
      for (const std::string& t : SplitPattern(pattern.substr(b, e - b))) out.push_back(t);
      b = e + 1;
    }
    return out;
  }
  std::string whole(TrimWs(pattern));
  std::string bare = whole;
  if (!bare.empty() && (bare[0] == '&' || bare[0] == '!')) bare.erase(0, 1);
  in6_addr a6{};
  if (inet_pton(AF_INET6, bare.c_str(), &a6) == 1 || (!bare.empty() && bare[0] == '~')) {
    push(whole);
    return out;
  }
  // ':' splits, except inside a [..] subscript or range.
  int depth = 0;
  size_t b = 0;
  for (size_t i = 0; i < whole.size(); ++i) {
    if (whole[i] == '[') ++depth;
    if (whole[i] == ']' && depth > 0) --depth;
    if (whole[i] == ':' && depth == 0) {
      push(std::string_view(whole).substr(b, i - b));
      b = i + 1;
    }
  }
  push(std::string_view(whole).substr(b));
  return out;
}

}  // namespace

// --- public API --------------------------------------------------------------------------------

bool IsValidHost(std::string_view host) {
  if (host.empty() || host.size() > 253 || host.front() == '-' || HasControl(host)) return false;
  std::string h(host);
  in_addr a4{};
  in6_addr a6{};
  if (inet_pton(AF_INET, h.c_str(), &a4) == 1) return true;
  if (inet_pton(AF_INET6, h.c_str(), &a6) == 1) return true;
  // IPv6 with a zone: "fe80::1%eth0" or "fe80::1%2".
  if (size_t pct = h.find('%'); pct != std::string::npos) {
    std::string addr = h.substr(0, pct), zone = h.substr(pct + 1);
    if (zone.empty() || zone.size() >= IF_NAMESIZE) return false;
    for (unsigned char c : zone)
      if (!(std::isalnum(c) || c == '_' || c == '-' || c == '.')) return false;
    return inet_pton(AF_INET6, addr.c_str(), &a6) == 1;
  }
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
  return !HasControl(path);
}

Result<std::vector<std::string>> ShellWords(std::string_view text) {
  if (text.find('\0') != std::string_view::npos) return Error::BadInput("NUL byte in arguments");
  auto words = SplitWords(text, 1);
  if (!words) return words.error();
  std::vector<std::string> out;
  out.reserve(words->size());
  for (Word& w : *words) out.push_back(std::move(w.text));
  return out;
}

Result<std::vector<std::string>> ParseSshArgs(std::string_view text) {
  auto words = ShellWords(text);
  if (!words) return words.error();
  // ssh_config keys that only change how ssh authenticates, verifies or keeps the session;
  // none runs a command, forwards ports or changes what runs on the node.
  static const std::unordered_set<std::string> kSafeKeys = {"addressfamily",
                                                            "batchmode",
                                                            "bindaddress",
                                                            "bindinterface",
                                                            "canonicaldomains",
                                                            "canonicalizefallbacklocal",
                                                            "canonicalizehostname",
                                                            "canonicalizemaxdots",
                                                            "certificatefile",
                                                            "checkhostip",
                                                            "ciphers",
                                                            "compression",
                                                            "connectionattempts",
                                                            "connecttimeout",
                                                            "controlmaster",
                                                            "controlpath",
                                                            "controlpersist",
                                                            "fingerprinthash",
                                                            "forwardagent",
                                                            "globalknownhostsfile",
                                                            "gssapiauthentication",
                                                            "gssapidelegatecredentials",
                                                            "hashknownhosts",
                                                            "hostbasedauthentication",
                                                            "hostkeyalgorithms",
                                                            "hostkeyalias",
                                                            "hostname",
                                                            "identitiesonly",
                                                            "identityfile",
                                                            "ipqos",
                                                            "kbdinteractiveauthentication",
                                                            "kexalgorithms",
                                                            "loglevel",
                                                            "macs",
                                                            "numberofpasswordprompts",
                                                            "passwordauthentication",
                                                            "port",
                                                            "preferredauthentications",
                                                            "proxyjump",
                                                            "pubkeyacceptedalgorithms",
                                                            "pubkeyacceptedkeytypes",
                                                            "pubkeyauthentication",
                                                            "rekeylimit",
                                                            "serveralivecountmax",
                                                            "serveraliveinterval",
                                                            "stricthostkeychecking",
                                                            "tcpkeepalive",
                                                            "updatehostkeys",
                                                            "user",
                                                            "userknownhostsfile",
                                                            "verifyhostkeydns"};
  static const std::unordered_set<std::string> kCommandKeys = {
      "proxycommand",      "localcommand",   "permitlocalcommand",
      "knownhostscommand", "match",          "include",
      "remotecommand",     "pkcs11provider", "securitykeyprovider",
      "sessiontype",       "stdinnull",      "forkafterauthentication",
      "requesttty",        "localforward",   "remoteforward",
      "dynamicforward",    "tunnel",         "tunneldevice",
      "sendenv",           "setenv",         "escapechar"};
  auto value_ok = [](std::string_view v) {
    return !v.empty() && v.size() <= 4096 && v.front() != '-' && !HasControl(v);
  };
  auto check_option = [&](const std::string& kv) -> Status {
    size_t sep = kv.find_first_of("= ");
    std::string key = kv.substr(0, sep);
    std::string lower = key;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (sep == std::string::npos || key.empty())
      return Error::BadInput("'-o " + Shown(kv) + "': expected -o Key=Value");
    std::string value = kv.substr(sep + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '=')) value.erase(0, 1);
    if (kCommandKeys.count(lower)) {
      return Error::BadInput(
          "ssh option " + key +
          " is refused: it runs a command or changes what runs (use ProxyJump / -J for a "
          "bastion)");
    }
    if (!kSafeKeys.count(lower)) {
      return Error::BadInput("ssh option " + Shown(key) +
                             " is not among the options fwgate passes");
    }
    if (!value_ok(value) || (lower == "hostname" && !IsValidHost(value)))
      return Error::BadInput("ssh option " + key + " has an invalid value");
    return OkStatus();
  };
  std::vector<std::string> out;
  const std::vector<std::string>& w = *words;
  for (size_t i = 0; i < w.size(); ++i) {
    const std::string& a = w[i];
    if (a.size() < 2 || a[0] != '-' || a == "--") {
      return Error::BadInput("'" + Shown(a) +
                             "' is not an ssh option (arguments after the "
                             "options would become the remote command)");
    }
    if (a.find_first_not_of("-46ACTavxqk") == std::string::npos && a[1] != '-') {
      out.push_back(a);
      continue;
    }
    char opt = a[1];
    if (std::string_view("oJiplFcm").find(opt) == std::string_view::npos) {
      return Error::BadInput("ssh option '" + Shown(a) +
                             "' is not among the options fwgate passes");
    }
    std::string value = a.size() > 2 ? a.substr(2) : (i + 1 < w.size() ? w[++i] : "");
    if (value.empty())
      return Error::BadInput("ssh option -" + std::string(1, opt) + " needs a value");
    switch (opt) {
      case 'o':
        if (auto st = check_option(value); !st) return st.error();
        break;
      case 'J':
      case 'p':
      case 'l':
      case 'c':
      case 'm':
      case 'i':
      case 'F':
        if (!value_ok(value))
          return Error::BadInput("ssh option -" + std::string(1, opt) + " has an invalid value");
        if (opt == 'J') {
          // [user@]host[:port][,...]: each hop a valid host.
          size_t b = 0;
          while (b <= value.size()) {
            size_t e = value.find(',', b);
            std::string hop = value.substr(b, e == std::string::npos ? std::string::npos : e - b);
            if (size_t at = hop.rfind('@'); at != std::string::npos) {
              if (!IsValidUser(hop.substr(0, at)))
                return Error::BadInput("ssh -J: invalid user in '" + Shown(hop) + "'");
              hop = hop.substr(at + 1);
            }
            auto hp = SplitHostPort(hop);
            if (!hp || !IsValidHost(hp->name))
              return Error::BadInput("ssh -J: invalid host '" + Shown(hop) + "'");
            if (e == std::string::npos) break;
            b = e + 1;
          }
        } else if (opt == 'p') {
          if (!ParsePort(Val{value, VKind::kInt, 0, 0}))
            return Error::BadInput("ssh -p: '" + Shown(value) + "' is not a port");
        } else if (opt == 'l') {
          if (!IsValidUser(value)) return Error::BadInput("ssh -l: invalid user");
        }
        break;
    }
    out.push_back("-" + std::string(1, opt));
    out.push_back(value);
  }
  return out;
}

Result<std::vector<std::string>> ExpandHostPattern(std::string_view pattern) {
  size_t open = pattern.find('[');
  if (open == std::string_view::npos) return std::vector<std::string>{std::string(pattern)};
  size_t close = pattern.find(']', open);
  if (close == std::string_view::npos)
    return Error::BadInput("host range without ']' in '" + Shown(pattern) + "'");
  std::string_view range = pattern.substr(open + 1, close - open - 1);
  size_t c1 = range.find(':');
  if (c1 == std::string_view::npos)
    return Error::BadInput("host range needs START:END in '" + Shown(pattern) + "'");
  std::string_view from = range.substr(0, c1);
  std::string_view rest = range.substr(c1 + 1);
  size_t c2 = rest.find(':');
  std::string_view to = rest.substr(0, c2);
  int step = 1;
  if (c2 != std::string_view::npos) {
    std::string_view s = rest.substr(c2 + 1);
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), step);
    if (ec != std::errc() || p != s.data() + s.size() || step < 1)
      return Error::BadInput("bad host range step in '" + Shown(pattern) + "'");
  }
  std::vector<std::string> items;
  auto digits = [](std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
  };
  if (digits(from) && digits(to) && from.size() <= 6 && to.size() <= 6) {
    int a = std::stoi(std::string(from)), b = std::stoi(std::string(to));
    if (b < a || (b - a) / step > 4096)
      return Error::BadInput("bad host range in '" + Shown(pattern) + "'");
    size_t width = from.size() > 1 && from[0] == '0' ? from.size() : 0;
    for (int i = a; i <= b; i += step) {
      std::string s = std::to_string(i);
      if (s.size() < width) s.insert(0, width - s.size(), '0');
      items.push_back(s);
    }
  } else if (from.size() == 1 && to.size() == 1 &&
             std::isalpha(static_cast<unsigned char>(from[0])) &&
             std::isalpha(static_cast<unsigned char>(to[0])) && from[0] <= to[0]) {
    for (int c = static_cast<unsigned char>(from[0]); c <= static_cast<unsigned char>(to[0]);
         c += step) {
      items.emplace_back(1, static_cast<char>(c));
    }
  } else {
    return Error::BadInput("bad host range in '" + Shown(pattern) + "'");
  }
  auto tails = ExpandHostPattern(pattern.substr(close + 1));
  if (!tails) return tails;
  if (items.size() * tails->size() > 4096)
    return Error::BadInput("host range too large in '" + Shown(pattern) + "'");
  std::vector<std::string> out;
  out.reserve(items.size() * tails->size());
  for (const std::string& i : items)
    for (const std::string& t : *tails) out.push_back(std::string(pattern.substr(0, open)) + i + t);
  return out;
}

Result<std::vector<Target>> Inventory::Select(std::string_view pattern) const {
  if (pattern.empty() || pattern == "all" || pattern == "*") return hosts;
  std::unordered_map<std::string_view, size_t> index;
  index.reserve(hosts.size());
  for (size_t i = 0; i < hosts.size(); ++i) index.emplace(hosts[i].name, i);
  auto known = [&] {
    std::string k;
    for (const auto& [g, _] : groups) k += (k.empty() ? "" : ", ") + g;
    return k;
  };
  // Hosts one term names (a bitmap over `hosts`).
  auto term_hosts = [&](const std::string& t) -> Result<std::vector<char>> {
    std::vector<char> sel(hosts.size(), 0);
    bool any = false;
    auto mark_group = [&](const std::vector<std::string>& names) {
      for (const std::string& n : names)
        if (auto it = index.find(n); it != index.end()) sel[it->second] = any = true;
    };
    if (t == "all" || t == "*") {
      std::fill(sel.begin(), sel.end(), 1);
      return sel;
    }
    if (t[0] == '~') {
      std::regex re;
      try {
        re = std::regex(t.substr(1), std::regex::ECMAScript);
      } catch (const std::regex_error&) {
        return Error::BadInput("invalid regular expression in host pattern '" + Shown(t) + "'");
      }
      for (const auto& [g, names] : groups)
        if (std::regex_search(g, re, std::regex_constants::match_continuous)) mark_group(names);
      for (size_t i = 0; i < hosts.size(); ++i) {
        if (std::regex_search(hosts[i].name, re, std::regex_constants::match_continuous))
          sel[i] = any = true;
      }
      return sel;
    }
    bool glob = t.find_first_of("*?[") != std::string::npos;
    if (!glob) {
      if (auto g = groups.find(t); g != groups.end()) {
        mark_group(g->second);
        return sel;
      }
      if (auto it = index.find(t); it != index.end()) {
        sel[it->second] = 1;
        return sel;
      }
      return Error::BadInput("host pattern '" + Shown(t) +
                             "' matches no host or group (groups: " + known() + ")");
    }
    for (const auto& [g, names] : groups)
      if (Glob(t, g)) mark_group(names);
    for (size_t i = 0; i < hosts.size(); ++i)
      if (Glob(t, hosts[i].name)) sel[i] = any = true;
    return sel;
  };
  std::vector<std::string> terms = SplitPattern(pattern);
  if (terms.empty()) return Error::BadInput("empty host pattern");
  // Ansible's order: unions first, then intersections, then exclusions.
  std::vector<char> result(hosts.size(), 0);
  bool have_union = false;
  for (const std::string& t : terms) {
    if (t[0] == '&' || t[0] == '!') continue;
    auto sel = term_hosts(t);
    if (!sel) return sel.error();
    for (size_t i = 0; i < hosts.size(); ++i) result[i] |= (*sel)[i];
    have_union = true;
  }
  if (!have_union) std::fill(result.begin(), result.end(), 1);  // "!x" alone means all but x
  for (char op : {'&', '!'}) {
    for (const std::string& t : terms) {
      if (t[0] != op) continue;
      if (t.size() == 1) return Error::BadInput("empty term after '" + std::string(1, op) + "'");
      auto sel = term_hosts(t.substr(1));
      if (!sel) return sel.error();
      for (size_t i = 0; i < hosts.size(); ++i)
        result[i] = op == '&' ? (result[i] && (*sel)[i]) : (result[i] && !(*sel)[i]);
    }
  }
  std::vector<Target> out;
  for (size_t i = 0; i < hosts.size(); ++i)
    if (result[i]) out.push_back(hosts[i]);
  if (out.empty()) {
    return Error::BadInput("host pattern '" + Shown(pattern) +
                           "' leaves no hosts (groups: " + known() + ")");
  }
  return out;
}

Result<Inventory> ParseAnsibleInventoryJson(std::string_view text, std::string_view path) {
  using json = nlohmann::ordered_json;  // hosts in the order the document lists them
  if (text.size() > 4 * kMaxInventoryBytes) {
    return At(
        path, 1, 1,
        "inventory JSON larger than " + std::to_string(4 * kMaxInventoryBytes >> 20) + " MiB");
  }
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object())
    return At(path, 1, 1, "not ansible-inventory --list JSON (expected an object)");
  Raw raw(path);
  auto jval = [&](const json& v, const std::string& where) -> Val {
    Val out{"", VKind::kString, 1, 1};
    if (v.is_string()) {
      out.v = v.get<std::string>();
    } else if (v.is_number_integer()) {
      out.v = std::to_string(v.get<int64_t>());
      out.kind = VKind::kInt;
    } else if (v.is_array()) {
      out.kind = VKind::kList;
    } else if (v.is_object()) {
      out.kind = VKind::kMap;
    } else {
      out.v = v.dump();
      out.kind = VKind::kOther;
    }
    (void)where;
    return out;
  };
  // JSON has no line numbers worth giving: errors name the host or group instead.
  auto named = [&](const Error& e, const std::string& what) {
    std::string msg = e.context;
    std::string prefix = std::string(path) + ":1:1: ";
    if (msg.rfind(prefix, 0) == 0) msg.erase(0, prefix.size());
    return Error::BadInput(std::string(path) + ": " + what + ": " + msg);
  };
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    if (it.key() == "_meta") continue;
    if (!IsValidGroupName(it.key()))
      return Error::BadInput(std::string(path) + ": invalid group name '" + Shown(it.key()) + "'");
    auto g = raw.GroupOf(it.key(), 1, 1);
    if (!g) return g.error();
    const json& gj = it.value();
    if (!gj.is_object()) continue;
    if (auto h = gj.find("hosts"); h != gj.end() && h->is_array()) {
      for (const json& hn : *h) {
        if (!hn.is_string()) {
          return Error::BadInput(std::string(path) + ": group " + it.key() +
                                 ": a host name is not a string");
        }
        std::string name = hn.get<std::string>();
        if (!IsValidName(name))
          return Error::BadInput(std::string(path) + ": invalid host name '" + Shown(name) + "'");
        auto hid = raw.AddHost(name, 1, 1);
        if (!hid) return hid.error();
        if (auto st = raw.AddMember(*g, *hid, 1, 1); !st) return st.error();
      }
    }
    if (auto c = gj.find("children"); c != gj.end() && c->is_array()) {
      for (const json& cn : *c) {
        if (!cn.is_string() || !IsValidGroupName(cn.get<std::string>())) {
          return Error::BadInput(std::string(path) + ": group " + it.key() +
                                 ": invalid child group name");
        }
        auto cid = raw.GroupOf(cn.get<std::string>(), 1, 1);
        if (!cid) return cid.error();
        if (auto st = raw.AddChild(*g, *cid, 1, 1); !st) return st.error();
      }
    }
    if (auto v = gj.find("vars"); v != gj.end() && v->is_object()) {
      for (auto kv = v->begin(); kv != v->end(); ++kv) {
        if (auto st = SetVar(raw.group(*g).vars, kv.key(), jval(kv.value(), kv.key()), path); !st)
          return named(st.error(), "group " + it.key());
      }
    }
  }
  if (auto meta = doc.find("_meta"); meta != doc.end() && meta->is_object()) {
    if (auto hv = meta->find("hostvars"); hv != meta->end() && hv->is_object()) {
      for (auto h = hv->begin(); h != hv->end(); ++h) {
        if (!IsValidName(h.key())) {
          return Error::BadInput(std::string(path) + ": invalid host name '" + Shown(h.key()) +
                                 "'");
        }
        auto hid = raw.AddHost(h.key(), 1, 1);
        if (!hid) return hid.error();
        if (!h.value().is_object()) continue;
        for (auto kv = h.value().begin(); kv != h.value().end(); ++kv) {
          if (auto st = SetVar(raw.host(*hid).vars, kv.key(), jval(kv.value(), kv.key()), path);
              !st)
            return named(st.error(), "host " + h.key());
        }
      }
    }
  }
  auto inv = raw.Resolve();
  if (!inv && inv.error().context.rfind(std::string(path) + ":1:1: ", 0) == 0)
    return named(inv.error(), "inventory");
  return inv;
}

Result<Inventory> ParseInventory(std::string_view text, std::string_view path) {
  if (text.size() > kMaxInventoryBytes) {
    return At(path, 1, 1,
              "inventory larger than " + std::to_string(kMaxInventoryBytes >> 20) + " MiB");
  }
  std::string_view p = path;
  if (LooksLikeJson(text)) return ParseAnsibleInventoryJson(text, path);
  bool yaml = (p.size() > 4 && p.substr(p.size() - 4) == ".yml") ||
              (p.size() > 5 && p.substr(p.size() - 5) == ".yaml") || LooksLikeYaml(text);
  return yaml ? ParseYaml(text, path) : ParseIni(text, path);
}

Result<Inventory> LoadInventory(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::FromErrno(errno ? errno : ENOENT, "opening inventory " + path);
  std::string text;
  text.resize(kMaxInventoryBytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  return ParseInventory(text, path);
}

}  // namespace fwgate::probe
