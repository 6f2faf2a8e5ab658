#include "gate/probe/backends.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <set>

namespace fwgate::probe {
namespace {

// Address families whose conntrack use count a table of `family` feeds (docs/kernel-conntrack.md
// §2.1: per-family counts; inet counts for both IPv4 and IPv6).
std::vector<std::string> CtFamilies(std::string_view family) {
  if (family == "ip") return {"ipv4"};
  if (family == "ip6") return {"ipv6"};
  if (family == "inet") return {"ipv4", "ipv6"};
  if (family == "bridge") return {"bridge"};
  return {};
}

// Tables listed per node: enough for any real ruleset, and a bound on what hostile output costs.
constexpr size_t kMaxTables = 4096;

void NoteDroppedTables(BackendFacts& out, size_t dropped) {
  if (dropped > 0) {
    out.notes.push_back("nftables: " + std::to_string(dropped) + " tables beyond the first " +
                        std::to_string(kMaxTables) + " are not listed (their ct users are)");
  }
}

void AddUser(CtUsers& users, std::string_view family, const std::string& what) {
  for (const std::string& f : CtFamilies(family)) {
    auto& v = users.by_family[f];
    if (v.size() < 200) v.push_back(what);
  }
}

// xt extensions that take a conntrack reference (docs/kernel-conntrack.md §2.1, 4.15 and 6.18
// lists).
bool IsCtXtMatch(std::string_view name) {
  static const std::set<std::string_view> k = {"conntrack", "state",  "connmark", "connbytes",
                                               "connlabel", "helper", "cluster",  "connlimit"};
  return k.count(name) > 0;
}
bool IsCtXtTarget(std::string_view name) {
  static const std::set<std::string_view> k = {"CT",         "CONNSECMARK", "NETMAP", "REDIRECT",
                                               "MASQUERADE", "SNAT",        "DNAT",   "CLUSTERIP",
                                               "SYNPROXY",   "CONNMARK",    "NOTRACK"};
  return k.count(name) > 0;
}

bool IsIptablesTableName(std::string_view n) {
  return n == "filter" || n == "nat" || n == "mangle" || n == "raw" || n == "security";
}
bool IsIptablesBuiltinChain(std::string_view n) {
  return n == "INPUT" || n == "OUTPUT" || n == "FORWARD" || n == "PREROUTING" || n == "POSTROUTING";
}

// What makes an expression a conntrack user; empty when it is not one.
std::string CtUseOf(const nft::Expr& e) {
  if (e.kind == "ct") return "ct expression";
  if (e.kind == "nat") return e.Int("type") == 0 ? "snat" : "dnat";
  if (e.kind == "masq") return "masquerade";
  if (e.kind == "redir") return "redirect";
  if (e.kind == "connlimit") return "ct count (connlimit)";
  if (e.kind == "flow_offload") return "flow offload";
  if (e.kind == "synproxy") return "synproxy";
  if (e.kind == "objref") {
    uint64_t t = e.Int("imm_type");
    if (t == 3) return "ct helper";
    if (t == 7) return "ct timeout";
    if (t == 9) return "ct expectation";
  }
  if (e.kind == "match" && IsCtXtMatch(e.Str("name"))) return "xt match " + e.Str("name");
  if (e.kind == "target" && IsCtXtTarget(e.Str("name"))) return "xt target " + e.Str("name");
  return {};
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> Words(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    size_t b = i;
    while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    if (i > b) out.push_back(s.substr(b, i - b));
  }
  return out;
}

// Removes "..." strings (comments, log prefixes) so their words are not mistaken for keywords.
std::string StripQuoted(std::string_view line) {
  std::string out;
  bool in = false;
  for (char c : line) {
    if (c == '"') {
      in = !in;
      out.push_back(' ');
      continue;
    }
    if (!in) out.push_back(c);
  }
  return out;
}

template <typename F>
void ForEachLine(std::string_view text, F f) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, nl == std::string_view::npos ? text.size() - pos : nl - pos);
    f(line);
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
}

}  // namespace

void AnalyzeNftRuleset(const nft::Ruleset& ruleset, BackendFacts& out) {
  out.nft_readable = true;
  size_t dropped = 0;
  for (const nft::Table& t : ruleset.tables) {
    std::string fam(nft::FamilyName(t.family));
    NftTableFact tf{fam, t.name, false, 0};
    bool xt = false;
    bool builtin_names = IsIptablesTableName(t.name) &&
                         (t.family == nft::Family::kIp || t.family == nft::Family::kIp6);
    for (const nft::Chain& c : t.chains) {
      if (!IsIptablesBuiltinChain(c.name) && c.base) builtin_names = false;
      for (const nft::Rule& r : c.rules) {
        ++tf.rules;
        for (const nft::Expr& e : r.exprs) {
          if (e.kind == "match" || e.kind == "target") xt = true;
          std::string use = CtUseOf(e);
          if (!use.empty())
            AddUser(out.nft_ct_users, fam, fam + " " + t.name + "/" + c.name + ": " + use);
        }
      }
    }
    for (const nft::Object& o : t.objects) {
      if (o.type == 3 || o.type == 7 || o.type == 9) {
        AddUser(out.nft_ct_users, fam,
                fam + " " + t.name + ": " + std::string(nft::ObjectTypeName(o.type)) + " object " +
                    o.name);
      }
    }
    tf.iptables_nft = xt || (builtin_names && !t.chains.empty());
    if (out.nft_tables.size() < kMaxTables) {
      out.nft_tables.push_back(tf);
    } else {
      ++dropped;
    }
  }
  NoteDroppedTables(out, dropped);
}

void AnalyzeNftText(std::string_view text, BackendFacts& out) {
  out.nft_readable = true;
  std::string family, table, chain;
  int depth = 0;
  NftTableFact* current = nullptr;
  NftTableFact overflow;  // tables past kMaxTables are analysed here, not kept
  size_t dropped = 0;
  bool builtin_names = false;
  ForEachLine(text, [&](std::string_view raw) {
    std::string line = StripQuoted(raw);
    if (auto hash = line.find('#'); hash != std::string::npos) {
      // iptables-nft rules print untranslatable parts as "# xt_conntrack" comments.
      std::string_view rest = std::string_view(line).substr(hash);
      if (current && rest.find("xt_") != std::string_view::npos) current->iptables_nft = true;
      if (current && rest.find("managed by iptables-nft") != std::string_view::npos)
        current->iptables_nft = true;
      for (std::string_view w : Words(rest)) {
        if (w.substr(0, 3) == "xt_" && (IsCtXtMatch(w.substr(3)) || IsCtXtTarget(w.substr(3)))) {
          AddUser(out.nft_ct_users, family,
                  family + " " + table + "/" + chain + ": " + std::string(w));
        }
      }
      line.resize(hash);
    }
    std::vector<std::string_view> w = Words(line);
    if (w.empty()) return;
    if (depth == 0 && w[0] == "table" && w.size() >= 3) {
      family = std::string(w[1]);
      table = std::string(w[2]);
      if (table == "{") {  // "table NAME {" means family ip
        table = family;
        family = "ip";
      }
      if (out.nft_tables.size() < kMaxTables) {
        out.nft_tables.push_back({family, table, false, 0});
        current = &out.nft_tables.back();
      } else {
        overflow = {family, table, false, 0};
        current = &overflow;
        ++dropped;
      }
      builtin_names = IsIptablesTableName(table) && (family == "ip" || family == "ip6");
      chain.clear();
    } else if (depth == 1 && w[0] == "chain" && w.size() >= 2) {
      chain = std::string(w[1]);
      if (!IsIptablesBuiltinChain(chain) && line.find("hook") != std::string::npos)
        builtin_names = false;
    } else if (depth == 1 && w[0] == "ct" && w.size() >= 3) {
      // "ct helper NAME {", "ct timeout NAME {", "ct expectation NAME {" objects (6.18 users).
      AddUser(out.nft_ct_users, family,
              family + " " + table + ": ct " + std::string(w[1]) + " object " + std::string(w[2]));
    } else if (depth >= 2 && current) {
      if (w[0] == "type" || w[0] == "policy") {
        if (line.find("hook") != std::string::npos && !IsIptablesBuiltinChain(chain))
          builtin_names = false;
      } else {
        ++current->rules;
        std::string use;
        for (size_t i = 0; i < w.size() && use.empty(); ++i) {
          std::string_view x = w[i];
          if (x == "ct") {
            use = "ct " + (i + 1 < w.size() ? std::string(w[i + 1]) : std::string());
          } else if (x == "masquerade" || x == "snat" || x == "dnat" || x == "redirect" ||
                     x == "synproxy") {
            use = std::string(x);
          } else if (x == "flow" && i + 1 < w.size() &&
                     (w[i + 1] == "add" || w[i + 1] == "offload")) {
            use = "flow offload";
          } else if (x == "xt" && i + 1 < w.size()) {
            current->iptables_nft = true;
          }
        }
        // `xt match "conntrack"`: the extension name is quoted, so read it from the raw line.
        for (std::string_view kind : {"match", "target"}) {
          std::string key = "xt " + std::string(kind) + " \"";
          size_t at = raw.find(key);
          if (!use.empty() || at == std::string_view::npos) continue;
          size_t end = raw.find('"', at + key.size());
          std::string_view name = raw.substr(
              at + key.size(), end == std::string_view::npos ? 0 : end - at - key.size());
          if ((kind == "match" && IsCtXtMatch(name)) || (kind == "target" && IsCtXtTarget(name)))
            use = "xt " + std::string(kind) + " " + std::string(name);
        }
        if (!use.empty())
          AddUser(out.nft_ct_users, family, family + " " + table + "/" + chain + ": " + use);
      }
    }
    for (char c : line) {
      if (c == '{') ++depth;
      if (c == '}' && depth > 0) {
        --depth;
        if (depth == 0 && current) {
          if (builtin_names) current->iptables_nft = true;
          current = nullptr;
        }
      }
    }
  });
  NoteDroppedTables(out, dropped);
}

void AnalyzeIptablesSave(std::string_view text, std::string_view family, BackendFacts& out) {
  out.legacy_readable = true;
  std::string table;
  std::string fam = family == "ipv6" ? "ip6" : "ip";
  ForEachLine(text, [&](std::string_view raw) {
    std::string_view line = Trim(raw);
    if (line.empty() || line[0] == '#') return;
    if (line[0] == '*') {
      table = std::string(line.substr(1, 64));
      std::string id = std::string(family) + "/" + table;
      if (out.legacy_tables.size() < 64 &&
          std::find(out.legacy_tables.begin(), out.legacy_tables.end(), id) ==
              out.legacy_tables.end())
        out.legacy_tables.push_back(id);
      return;
    }
    if (line.substr(0, 3) != "-A " && line.substr(0, 3) != "-I ") return;
    std::string stripped = StripQuoted(line);
    std::vector<std::string_view> w = Words(stripped);
    std::string chain = w.size() > 1 ? std::string(w[1]) : "";
    for (size_t i = 0; i + 1 < w.size(); ++i) {
      std::string use;
      if ((w[i] == "-m" || w[i] == "--match") && IsCtXtMatch(w[i + 1]))
        use = "-m " + std::string(w[i + 1]);
      if ((w[i] == "-j" || w[i] == "--jump" || w[i] == "-g") && IsCtXtTarget(w[i + 1]))
        use = "-j " + std::string(w[i + 1]);
      if (!use.empty()) {
        AddUser(out.legacy_ct_users, fam,
                fam + "tables-legacy " + table + "/" + chain + ": " + use);
      }
    }
  });
}

const std::vector<std::string_view>& ServiceDirs() {
  static const std::vector<std::string_view> k = {"/lib/systemd/system", "/usr/lib/systemd/system",
                                                  "/etc/systemd/system", "/etc/init.d"};
  return k;
}

const std::vector<ServiceRule>& ServiceTable() {
  // Reload semantics. Rows not checked against the service's source say "unverified"
  // (docs/kernel-conntrack.md §8: how firewalld, ufw, netfilter-persistent and ferm sequence their
  // reloads is not verified).
  static const std::vector<ServiceRule> k = {
      {"nftables",
       {"nftables.service", "nftables"},
       "reload = `nft -f /etc/nftables.conf`: one transaction, atomic when the file starts with "
       "`flush ruleset` (otherwise rules are added to the old ones); restart = stop (`nft flush "
       "ruleset`) then start: two steps",
       "atomic",
       "docs/kernel-conntrack.md §2.3, §7 (Debian unit file: ExecReload/ExecStop)"},
      {"netfilter-persistent",
       {"netfilter-persistent.service", "netfilter-persistent"},
       "reload/restart = flush, then `iptables-restore` of /etc/iptables/rules.v4|v6: two steps",
       "two-step",
       "docs/kernel-conntrack.md §5 item 4, §7 column B; unverified "
       "(docs/kernel-conntrack.md §8)"},
      {"iptables",
       {"iptables.service", "ip6tables.service", "iptables"},
       "restart = stop (flush; with IPTABLES_MODULES_UNLOAD=yes, the default, unloads the "
       "netfilter modules: conntrack table destroyed) then `iptables-restore` of "
       "/etc/sysconfig/iptables",
       "unloads-modules",
       "docs/kernel-conntrack.md §6 (RHEL docs); reload sequencing unverified"},
      {"firewalld",
       {"firewalld.service", "firewalld"},
       "`firewall-cmd --reload` rebuilds the whole ruleset (nftables backend: believed one "
       "transaction)",
       "unknown",
       "unverified (docs/kernel-conntrack.md §5 item 4, §8)"},
      {"ufw",
       {"ufw.service", "ufw"},
       "`ufw reload` re-applies its rule files with iptables-restore",
       "unknown",
       "unverified (docs/kernel-conntrack.md §8)"},
      {"ferm",
       {"ferm.service", "ferm"},
       "`ferm` applies rules with iptables-restore",
       "unknown",
       "unverified (docs/kernel-conntrack.md §8)"},
  };
  return k;
}

std::vector<ServiceFact> DetectServices(const std::vector<std::string>& paths,
                                        std::optional<bool> nftables_conf_flushes) {
  std::vector<ServiceFact> out;
  for (const ServiceRule& row : ServiceTable()) {
    for (const std::string& p : paths) {
      std::string_view base = p;
      if (auto slash = base.rfind('/'); slash != std::string_view::npos)
        base.remove_prefix(slash + 1);
      if (std::find(row.files.begin(), row.files.end(), base) == row.files.end()) continue;
      ServiceFact f{std::string(row.name), p, std::string(row.reload), std::string(row.style),
                    std::string(row.source)};
      if (row.name == "nftables" && nftables_conf_flushes.has_value() && !*nftables_conf_flushes) {
        f.style = "additive";
        f.reload += "; /etc/nftables.conf has no `flush ruleset`: a reload adds to the old rules";
      }
      out.push_back(std::move(f));
      break;
    }
  }
  return out;
}

}  // namespace fwgate::probe
