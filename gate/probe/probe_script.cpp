#include "gate/probe/probe_script.h"

#include <dirent.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "gate/probe/backends.h"

namespace fwgate::probe {
namespace {

bool ValidNonce(std::string_view n) {
  if (n.size() < 8 || n.size() > 64) return false;
  for (unsigned char c : n)
    if (!std::isalnum(c)) return false;
  return true;
}

bool ValidSysctlName(std::string_view n) {
  if (n.size() < 14 || n.size() > 80 || n.substr(0, 13) != "nf_conntrack_") return false;
  for (unsigned char c : n)
    if (!(std::islower(c) || std::isdigit(c) || c == '_')) return false;
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::optional<int64_t> ParseI64(std::string_view s) {
  s = Trim(s);
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

template <typename F>
void ForEachLine(std::string_view text, F f) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    f(text.substr(pos, nl == std::string_view::npos ? text.size() - pos : nl - pos));
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
}

// "1", "y", "Y" as kernel module parameters accept for booleans.
bool TruthyParam(std::string_view v) { return v == "1" || v == "y" || v == "Y"; }

// Finds enable_hooks in "nf_conntrack.enable_hooks=1" (cmdline) or "enable_hooks=1" (options).
std::optional<bool> EnableHooksIn(std::string_view words, std::string_view prefix) {
  std::optional<bool> found;
  size_t i = 0;
  while (i < words.size()) {
    while (i < words.size() && std::isspace(static_cast<unsigned char>(words[i]))) ++i;
    size_t b = i;
    while (i < words.size() && !std::isspace(static_cast<unsigned char>(words[i]))) ++i;
    std::string_view w = words.substr(b, i - b);
    std::string key = std::string(prefix) + "enable_hooks=";
    // The kernel treats '-' and '_' in parameter names alike.
    std::string norm(w);
    for (char& c : norm)
      if (c == '-') c = '_';
    if (norm.rfind(key, 0) == 0) found = TruthyParam(std::string_view(norm).substr(key.size()));
  }
  return found;
}

}  // namespace

std::string NewNonce() {
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device rd;
  std::string n;
  for (int i = 0; i < 24; ++i) n.push_back(kChars[rd() % 36]);
  return n;
}

std::string ProbeScript(std::string_view nonce) {
  std::string n = ValidNonce(nonce) ? std::string(nonce) : NewNonce();
  std::string units;
  for (std::string_view d : ServiceDirs()) {
    for (const ServiceRule& r : ServiceTable()) {
      for (std::string_view f : r.files) {
        units += " ";
        units += d;
        units += "/";
        units += f;
      }
    }
  }
  std::string s;
  s += "N=" + n + "\n";
  s += R"SH(export LC_ALL=C
PATH=/usr/sbin:/sbin:/usr/bin:/bin:$PATH
s() { printf '\n==fwgate:%s:section %s==\n' "$N" "$1"; }
r() { _n=$1; shift; s "$_n"; "$@" 2>/dev/null; _rc=$?; s "$_n.rc"; echo "$_rc"; }
SUDO=
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO='sudo -n'; fi
s version; echo 1
s uid; id -u
s uname; uname -r
s sysctls
set --
for f in /proc/sys/net/netfilter/nf_conntrack_*; do [ -f "$f" ] && [ -r "$f" ] && set -- "$@" "$f"; done
[ $# -gt 0 ] && awk 'FNR == 1 { n = FILENAME; sub(/.*\//, "", n); print n "=" substr($0, 1, 64) }' "$@" 2>/dev/null
s module
if [ -d /sys/module/nf_conntrack ]; then ls /sys/module/nf_conntrack; else echo '(absent)'; fi
s cmdline; cat /proc/cmdline 2>/dev/null
s modprobe
for f in /etc/modprobe.d/*.conf /run/modprobe.d/*.conf /lib/modprobe.d/*.conf /usr/lib/modprobe.d/*.conf; do
  [ -r "$f" ] && grep -E '^[[:space:]]*options[[:space:]]+nf_conntrack[[:space:]]' "$f" 2>/dev/null | sed "s|^|$f:|"
done
s stat; cat /proc/net/stat/nf_conntrack 2>/dev/null
if command -v nft >/dev/null 2>&1; then r nft $SUDO nft list ruleset; else s nft.rc; echo 127; fi
if command -v iptables-legacy-save >/dev/null 2>&1; then
  r ipt4 $SUDO iptables-legacy-save; r ipt6 $SUDO ip6tables-legacy-save
elif command -v iptables-save >/dev/null 2>&1 && iptables-save --version 2>/dev/null | grep -q legacy; then
  r ipt4 $SUDO iptables-save; r ipt6 $SUDO ip6tables-save
fi
s ip_tables_names; cat /proc/net/ip_tables_names 2>/dev/null
s ip6_tables_names; cat /proc/net/ip6_tables_names 2>/dev/null
s units
for f in)SH";
  s += units;
  s += R"SH(; do [ -e "$f" ] && echo "$f"; done
s nftables-conf
for f in /etc/nftables.conf /etc/sysconfig/nftables.conf; do
  [ -r "$f" ] && { grep -q -E '^[[:space:]]*flush[[:space:]]+ruleset' "$f" && echo flush || echo noflush; }
done
s iptables-config
grep -E '^[[:space:]]*IPTABLES_MODULES_UNLOAD=' /etc/sysconfig/iptables-config 2>/dev/null
s end
)SH";
  return s;
}

Result<NodeFacts> ParseProbeOutput(std::string_view text, std::string_view nonce) {
  if (!ValidNonce(nonce)) return Error::Unavailable("invalid probe nonce");
  if (text.size() > kMaxProbeOutput) {
    return Error::Unavailable("probe output too large (" + std::to_string(text.size()) + " bytes)");
  }
  const std::string marker = "==fwgate:" + std::string(nonce) + ":section ";
  std::map<std::string, std::string_view> sec;
  std::string current;
  size_t body_start = 0;
  size_t pos = 0;
  auto close_section = [&](size_t end) {
    if (current.empty()) return;
    std::string_view body = text.substr(body_start, end > body_start ? end - body_start : 0);
    if (!body.empty() && body.back() == '\n') body.remove_suffix(1);  // the \n before a marker
    sec[current] = body;
  };
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    size_t line_end = nl == std::string_view::npos ? text.size() : nl;
    std::string_view line = text.substr(pos, line_end - pos);
    if (line.size() > marker.size() + 2 && line.substr(0, marker.size()) == marker &&
        line.substr(line.size() - 2) == "==") {
      std::string name(line.substr(marker.size(), line.size() - marker.size() - 2));
      close_section(pos);
      if (name.size() > 40) return Error::Unavailable("probe output: bad section name");
      current = name;
      body_start = nl == std::string_view::npos ? text.size() : nl + 1;
    }
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
  }
  close_section(text.size());

  if (!sec.count("version")) {
    return Error::Unavailable(
        "probe output has no fwgate sections (the node did not run the probe: " +
        std::string(text.empty() ? "no output" : "unexpected output") + ")");
  }
  if (!sec.count("end")) return Error::Unavailable("probe output truncated (no end marker)");
  if (Trim(sec["version"]) != "1") return Error::Unavailable("probe output: unknown probe version");

  NodeFacts f;
  f.reachable = true;
  std::vector<std::string> notes;

  // Kept as the node printed it (bounded); gate/hazards judges whether it names a kernel.
  f.kernel = std::string(Trim(sec["uname"]).substr(0, 256));

  ForEachLine(sec["sysctls"], [&](std::string_view line) {
    size_t eq = line.find('=');
    if (eq == std::string_view::npos || f.sysctls.size() >= 256) return;
    std::string_view name = line.substr(0, eq);
    if (!ValidSysctlName(name)) return;
    if (auto v = ParseI64(line.substr(eq + 1))) f.sysctls[std::string(name)] = *v;
  });
  f.sysctls_readable = f.sysctls.count("nf_conntrack_max") > 0;

  if (sec.count("module")) {
    std::set<std::string_view> entries;
    ForEachLine(sec["module"], [&](std::string_view l) { entries.insert(Trim(l)); });
    if (entries.count("(absent)")) {
      f.conntrack_module = ModuleState::kAbsent;
    } else if (entries.count("refcnt") || entries.count("initstate")) {
      f.conntrack_module = ModuleState::kLoadable;
    } else if (entries.count("parameters")) {
      f.conntrack_module = ModuleState::kBuiltin;
    }
  }

  // enable_hooks (5.1+): sysfs mode 0000, so only cmdline and modprobe.d tell
  // (docs/kernel-conntrack.md §2.1).
  if (auto v = EnableHooksIn(sec["cmdline"], "nf_conntrack.")) {
    f.enable_hooks = v;
    f.enable_hooks_source = "/proc/cmdline";
  }
  ForEachLine(sec["modprobe"], [&](std::string_view line) {
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return;
    if (auto v = EnableHooksIn(line.substr(colon + 1), "")) {
      if (f.enable_hooks_source != "/proc/cmdline") {
        f.enable_hooks = v;
        f.enable_hooks_source = std::string(line.substr(0, std::min<size_t>(colon, 256)));
      }
    }
  });
  if (!f.enable_hooks) f.enable_hooks = false;

  if (sec.count("stat") && !Trim(sec["stat"]).empty()) {
    auto st = sys::ParseProcConntrackStats(sec["stat"]);
    if (st) {
      f.stats = std::move(st).value();
    } else {
      notes.push_back("conntrack statistics: " + st.error().context);
    }
  }

  auto rc = [&](const std::string& name) -> std::optional<int64_t> {
    auto it = sec.find(name + ".rc");
    if (it == sec.end()) return std::nullopt;
    return ParseI64(it->second);
  };
  if (auto nrc = rc("nft"); nrc && *nrc == 0) {
    f.ruleset_text = std::string(sec["nft"]);
    AnalyzeNftText(f.ruleset_text, f.backends);
  } else {
    std::string why = !nrc          ? "not run"
                      : *nrc == 127 ? "nft not installed"
                                    : "nft list ruleset failed (not root?)";
    f.backends.notes.push_back("nftables: " + why);
    if (nrc && *nrc == 127) f.backends.nft_readable = true;  // no nft: no nftables rules to read
  }
  for (auto [name, fam] : {std::pair{"ipt4", "ipv4"}, std::pair{"ipt6", "ipv6"}}) {
    if (auto r = rc(name); r && *r == 0) {
      AnalyzeIptablesSave(sec[name], fam, f.backends);
    } else if (r) {
      f.backends.notes.push_back(
          std::string(name == std::string("ipt4") ? "iptables" : "ip6tables") +
          "-legacy-save failed (not root?)");
    }
  }
  bool legacy_in_use = false;
  for (auto [name, family] :
       {std::pair{"ip_tables_names", "ipv4"}, std::pair{"ip6_tables_names", "ipv6"}}) {
    const char* fam = family;  // a named variable: lambdas may not capture structured bindings
    ForEachLine(sec[name], [&](std::string_view l) {
      l = Trim(l);
      if (l.empty() || l.size() > 32) return;
      legacy_in_use = true;
      std::string id = std::string(fam) + "/" + std::string(l);
      auto& lt = f.backends.legacy_tables;
      if (lt.size() < 64 && std::find(lt.begin(), lt.end(), id) == lt.end()) lt.push_back(id);
    });
  }
  if (!legacy_in_use && !sec.count("ipt4")) f.backends.legacy_readable = true;  // nothing legacy
  if (legacy_in_use && !f.backends.legacy_readable)
    f.backends.notes.push_back("iptables-legacy tables exist but could not be listed");

  std::vector<std::string> paths;
  ForEachLine(sec["units"], [&](std::string_view l) {
    l = Trim(l);
    if (!l.empty() && l.size() < 256 && l[0] == '/') paths.emplace_back(l);
  });
  std::optional<bool> flushes;
  if (sec.count("nftables-conf")) {
    std::string_view first = Trim(sec["nftables-conf"]);
    if (first.rfind("flush", 0) == 0) {
      flushes = true;
    } else if (first.rfind("noflush", 0) == 0) {
      flushes = false;
    }
  }
  f.services = DetectServices(paths, flushes);
  ForEachLine(sec["iptables-config"], [&](std::string_view l) {
    size_t eq = l.find('=');
    if (eq == std::string_view::npos) return;
    std::string_view v = Trim(l.substr(eq + 1));
    if (!v.empty() && (v.front() == '"' || v.front() == '\''))
      v = v.substr(1, v.size() >= 2 ? v.size() - 2 : 0);
    f.iptables_modules_unload = v == "yes";
  });

  if (!f.sysctls_readable)
    notes.push_back("conntrack sysctls not readable (nf_conntrack not loaded?)");
  for (size_t i = 0; i < notes.size(); ++i) f.error += (i ? "; " : "") + notes[i];
  return f;
}

}  // namespace fwgate::probe
