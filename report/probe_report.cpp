#include "report/probe_report.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "base/text.h"
#include "gate/hazards/kernel_class.h"
#include "gate/probe/probe_script.h"

namespace fwgate::report {
namespace {

using nlohmann::json;
using probe::NodeFacts;

// Probe files larger than this are refused (a node's JSON is its output plus some keys).
constexpr size_t kTableWidth = 100;

std::string KernelClassOf(const NodeFacts& n) {
  auto v = hazards::ParseKernelVersion(n.kernel);
  if (!v) return "";
  return std::string(hazards::Classify(*v).name);
}

std::string StateOf(const NodeFacts& n) {
  if (n.reachable) return "ok";
  return n.readable ? "unreachable" : "unreadable";
}

json FindingJson(const hazards::Finding& f) {
  json j = {{"id", f.id},
            {"severity", std::string(SeverityName(f.severity))},
            {"message", f.message},
            {"source", f.source}};
  if (f.undecided) j["undecided"] = true;
  if (!f.fix.empty()) j["fix"] = f.fix;
  if (!f.fix_commands.empty()) j["fix_commands"] = f.fix_commands;
  if (!f.fix_config.empty()) j["fix_config"] = f.fix_config;
  return j;
}

json CtUsersJson(const probe::CtUsers& u) {
  json j = json::object();
  for (const auto& [fam, v] : u.by_family) j[fam] = v;
  return j;
}

bool IsMetricNamePart(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (unsigned char c : s)
    if (!(std::isalnum(c) || c == '_')) return false;
  return true;
}

// --- reading node JSON back: every key checked for its type -----------------------------------

// Wrong types are errors naming the key; absent or null keys keep the default.
// --- Prometheus --------------------------------------------------------------------------------

class Exposition {
 public:
  void Add(const std::string& name, const std::string& help, const std::string& labels,
           const std::string& value) {
    auto [it, fresh] = families_.try_emplace(name);
    if (fresh) order_.push_back(name);
    it->second.help = help;
    it->second.samples.push_back({labels, value});
  }
  std::string Text() const {
    std::ostringstream o;
    for (const std::string& name : order_) {
      const Family& f = families_.at(name);
      o << "# HELP " << name << " " << PrometheusHelp(f.help) << "\n# TYPE " << name << " gauge\n";
      for (const auto& [labels, value] : f.samples)
        o << name << "{" << labels << "} " << value << "\n";
    }
    return o.str();
  }

 private:
  struct Family {
    std::string help;
    std::vector<std::pair<std::string, std::string>> samples;
  };
  std::map<std::string, Family> families_;
  std::vector<std::string> order_;
};

std::string Label(const char* key, std::string_view value) {
  return std::string(key) + "=\"" + PrometheusLabelValue(value) + "\"";
}

// --- the table ---------------------------------------------------------------------------------

// `s` shown on a terminal, at most `max` columns (an ellipsis marks a cut).
std::string Cell(std::string_view s, size_t max) {
  std::string safe = TerminalSafe(s);
  size_t cols = 0, i = 0;
  while (i < safe.size()) {
    size_t n = 1;
    while (i + n < safe.size() && (static_cast<unsigned char>(safe[i + n]) & 0xC0) == 0x80) ++n;
    if (cols + 1 > max) return std::string(Utf8Prefix(safe, i > 3 ? i - 3 : 0)) + "...";
    i += n;
    ++cols;
  }
  return safe;
}

size_t Columns(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string Label(const hazards::Finding& f) {
  return f.undecided ? "undecided" : std::string(SeverityName(f.severity));
}

// One finding, wrapped to the table width: "  PREFIX[label] id: message (source)" and its fix.
void PrintFinding(std::ostringstream& o, const std::string& prefix, const hazards::Finding& f) {
  std::string head = prefix + "[" + Label(f) + "] " + f.id + ": " + TerminalSafe(f.message) + " (" +
                     f.source + ")";
  o << "  " << WrapText(head, kTableWidth - 2, 6) << "\n";
  if (!f.fix.empty())
    o << "      " << WrapText("fix: " + TerminalSafe(f.fix), kTableWidth - 6, 11) << "\n";
  for (const auto& c : f.fix_commands)
    o << "      " << WrapText("run: " + TerminalSafe(c), kTableWidth - 6, 6) << "\n";
  for (const auto& c : f.fix_config)
    o << "      " << WrapText("persist: " + TerminalSafe(c), kTableWidth - 6, 6) << "\n";
}

bool SameFinding(const hazards::Finding& a, const hazards::Finding& b) {
  return a.id == b.id && a.severity == b.severity && a.message == b.message && a.fix == b.fix &&
         a.fix_commands == b.fix_commands && a.fix_config == b.fix_config;
}

}  // namespace

void MakeValidUtf8(json& j) {
  if (j.is_string()) {
    const std::string& s = j.get_ref<const std::string&>();
    if (!IsValidUtf8(s)) j = ValidUtf8(s);
  } else if (j.is_array()) {
    for (json& e : j) MakeValidUtf8(e);
  } else if (j.is_object()) {
    bool keys_ok = true;
    for (auto it = j.begin(); it != j.end(); ++it) {
      keys_ok = keys_ok && IsValidUtf8(it.key());
      MakeValidUtf8(it.value());
    }
    if (!keys_ok) {
      json fixed = json::object();
      for (auto it = j.begin(); it != j.end(); ++it) fixed[ValidUtf8(it.key())] = it.value();
      j = std::move(fixed);
    }
  }
}

ProbeResults Judge(std::vector<NodeFacts> nodes, const hazards::FindingsConfig& config) {
  ProbeResults r;
  r.config = config;
  for (const NodeFacts& n : nodes) r.node_findings.push_back(hazards::JudgeNode(n, config));
  r.fleet_findings = hazards::JudgeFleet(nodes, config);
  r.nodes = std::move(nodes);
  return r;
}

json ProbeJson(const ProbeResults& r) {
  json nodes = json::array();
  for (size_t i = 0; i < r.nodes.size(); ++i) {
    const NodeFacts& n = r.nodes[i];
    json j;
    j["name"] = n.name;
    j["state"] = StateOf(n);
    j["reachable"] = n.reachable;
    j["readable"] = n.readable;
    j["error"] = n.error.empty() ? json(nullptr) : json(n.error);
    j["transport"] = n.transport;
    j["kernel"] = n.kernel.empty() ? json(nullptr) : json(n.kernel);
    std::string cls = KernelClassOf(n);
    j["kernel_class"] = cls.empty() ? json(nullptr) : json(cls);
    json sys = json::object();
    for (const auto& [k, v] : n.sysctls) sys[k] = v;
    j["sysctls"] = sys;
    auto count = hazards::ConntrackCount(n);
    auto max = hazards::ConntrackMax(n);
    auto buckets = n.Sysctl("nf_conntrack_buckets");
    j["conntrack"] = {{"count", count ? json(*count) : json(nullptr)},
                      {"max", max ? json(*max) : json(nullptr)},
                      {"buckets", buckets ? json(*buckets) : json(nullptr)}};
    json stats = json::object();
    if (n.stats)
      for (const auto& [k, v] : n.stats->counters) stats[k] = v;
    j["stats"] = stats;
    json fs = json::array();
    if (i < r.node_findings.size())
      for (const auto& f : r.node_findings[i]) fs.push_back(FindingJson(f));
    j["findings"] = fs;
    j["conntrack_module"] = probe::ModuleStateName(n.conntrack_module);
    j["enable_hooks"] = n.enable_hooks ? json(*n.enable_hooks) : json(nullptr);
    if (!n.enable_hooks_source.empty()) j["enable_hooks_source"] = n.enable_hooks_source;
    if (n.iptables_modules_unload) j["iptables_modules_unload"] = *n.iptables_modules_unload;
    json tables = json::array();
    for (const auto& t : n.backends.nft_tables) {
      tables.push_back({{"family", t.family},
                        {"name", t.name},
                        {"iptables_nft", t.iptables_nft},
                        {"rules", t.rules}});
    }
    j["backends"] = {{"nftables",
                      {{"readable", n.backends.nft_readable},
                       {"tables", tables},
                       {"ct_users", CtUsersJson(n.backends.nft_ct_users)}}},
                     {"iptables_legacy",
                      {{"readable", n.backends.legacy_readable},
                       {"tables", n.backends.legacy_tables},
                       {"ct_users", CtUsersJson(n.backends.legacy_ct_users)}}},
                     {"notes", n.backends.notes}};
    json services = json::array();
    for (const auto& s : n.services) {
      services.push_back({{"name", s.name},
                          {"unit", s.unit_path},
                          {"reload", s.reload},
                          {"style", s.style},
                          {"source", s.source}});
    }
    j["services"] = services;
    if (auto p = hazards::PlanRestartStorm(n, r.config)) {
      const hazards::StormEstimate& e = p->estimate;
      j["restart_storm"] = {{"daemons", r.config.storm_daemons},
                            {"attempts_per_s", e.attempts_per_s},
                            {"linger_s", e.linger_s},
                            {"needed", e.needed},
                            {"needed_best_case", e.needed_best},
                            {"max", e.max},
                            {"tracking", !hazards::NotTracking(n)},
                            {"margin", p->margin},
                            {"target", p->target},
                            {"per_daemon", p->per_daemon},
                            {"max_together", p->max_together},
                            {"stagger_s", p->stagger_s},
                            {"recommended_max", p->conntrack_max},
                            {"recommended_hashsize", p->hashsize}};
    }
    j["ruleset_text"] = n.ruleset_text;
    nodes.push_back(std::move(j));
  }
  json fleet = json::array();
  for (const auto& f : r.fleet_findings) fleet.push_back(FindingJson(f));
  json doc = {{"schema_version", kProbeSchemaVersion}, {"nodes", nodes}, {"fleet_findings", fleet}};
  MakeValidUtf8(doc);
  return doc;
}

std::string ProbeTable(const ProbeResults& r) {
  struct RowT {
    std::string name, kernel, cls, liberal, fill, worst;
    std::string short_worst;  // when the worst finding's id does not fit the width
  };
  std::vector<RowT> rows;
  rows.push_back({"NODE", "KERNEL", "CLASS", "LIBERAL", "COUNT/MAX", "FINDINGS"});
  for (size_t i = 0; i < r.nodes.size(); ++i) {
    const NodeFacts& n = r.nodes[i];
    RowT row;
    row.name = Cell(n.name, 24);
    row.kernel = n.reachable ? (n.kernel.empty() ? "?" : Cell(n.kernel, 20)) : "-";
    row.cls = KernelClassOf(n);
    if (row.cls.empty()) row.cls = "?";
    auto bl = n.Sysctl("nf_conntrack_tcp_be_liberal");
    row.liberal = bl ? std::to_string(*bl) : "?";
    auto c = hazards::ConntrackCount(n);
    auto m = hazards::ConntrackMax(n);
    row.fill = (c ? std::to_string(*c) : "?") + "/" + (m ? std::to_string(*m) : "?");
    const auto& fs = r.node_findings[i];
    if (!n.reachable) {
      row.worst = n.readable ? "UNREACHABLE" : "UNREADABLE";
    } else if (fs.empty()) {
      row.worst = "ok";
    } else {
      // Worst: a decided blocking finding, else undecided, else the highest severity.
      const hazards::Finding* worst = &fs.front();
      for (const auto& f : fs)
        if (f.undecided && worst->severity != Severity::kBlocking) worst = &f;
      for (const auto& f : fs) {
        if (!f.undecided && f.severity == Severity::kBlocking) {
          worst = &f;
          break;
        }
      }
      row.worst = Label(*worst) + " " + worst->id +
                  (fs.size() > 1 ? " (+" + std::to_string(fs.size() - 1) + ")" : "");
      row.short_worst = Label(*worst) + " (" + std::to_string(fs.size()) + ")";
    }
    rows.push_back(row);
  }
  std::array<size_t, 5> w{};
  for (const RowT& row : rows) {
    w[0] = std::max(w[0], Columns(row.name));
    w[1] = std::max(w[1], Columns(row.kernel));
    w[2] = std::max(w[2], Columns(row.cls));
    w[3] = std::max(w[3], Columns(row.liberal));
    w[4] = std::max(w[4], Columns(row.fill));
  }
  auto pad = [](const std::string& s, size_t n) {
    size_t c = Columns(s);
    return s + std::string(n > c ? n - c : 0, ' ');
  };
  std::ostringstream o;
  for (const RowT& row : rows) {
    std::string line = pad(row.name, w[0]) + "  " + pad(row.kernel, w[1]) + "  " +
                       pad(row.cls, w[2]) + "  " + pad(row.liberal, w[3]) + "  " +
                       pad(row.fill, w[4]) + "  ";
    bool fits = Columns(line) + Columns(row.worst) <= kTableWidth || row.short_worst.empty();
    o << line << (fits ? row.worst : row.short_worst) << "\n";
  }

  // Findings every reachable node has, identically, are printed once (with two nodes or more).
  std::vector<size_t> reachable;
  for (size_t i = 0; i < r.nodes.size(); ++i)
    if (r.nodes[i].reachable) reachable.push_back(i);
  std::vector<hazards::Finding> shared;
  if (reachable.size() >= 2) {
    for (const auto& f : r.node_findings[reachable.front()]) {
      bool everywhere = std::all_of(reachable.begin(), reachable.end(), [&](size_t i) {
        const auto& fs = r.node_findings[i];
        return std::any_of(fs.begin(), fs.end(),
                           [&](const hazards::Finding& g) { return SameFinding(f, g); });
      });
      if (everywhere) shared.push_back(f);
    }
  }
  auto is_shared = [&](const hazards::Finding& f) {
    return std::any_of(shared.begin(), shared.end(),
                       [&](const hazards::Finding& s) { return SameFinding(f, s); });
  };
  if (!shared.empty()) {
    o << "\nOn every reachable node (" << reachable.size() << "):\n";
    for (const auto& f : shared) PrintFinding(o, "", f);
  }
  bool any = false;
  for (size_t i = 0; i < r.nodes.size(); ++i) {
    for (const auto& f : r.node_findings[i]) {
      if (r.nodes[i].reachable && is_shared(f)) continue;
      if (!any) o << "\nFindings:\n";
      any = true;
      PrintFinding(o, Cell(r.nodes[i].name, 40) + ": ", f);
    }
  }
  if (!r.fleet_findings.empty()) {
    o << "\nFleet:\n";
    for (const auto& f : r.fleet_findings) PrintFinding(o, "", f);
  }
  return o.str();
}

std::string ProbePrometheus(const ProbeResults& r) {
  Exposition x;
  for (size_t i = 0; i < r.nodes.size(); ++i) {
    const NodeFacts& n = r.nodes[i];
    std::string node = Label("node", n.name);
    x.Add("fwgate_probe_success", "Whether fwgate could probe the node (1) or not (0).", node,
          n.reachable ? "1" : "0");
    if (!n.reachable) continue;
    if (auto c = hazards::ConntrackCount(n)) {
      x.Add("fwgate_nf_conntrack_entries",
            "Conntrack entries on the probed node (net.netfilter.nf_conntrack_count).", node,
            std::to_string(*c));
    }
    if (auto m = hazards::ConntrackMax(n)) {
      x.Add("fwgate_nf_conntrack_entries_limit",
            "Conntrack table limit on the probed node (net.netfilter.nf_conntrack_max).", node,
            std::to_string(*m));
    }
    if (n.stats) {
      for (const auto& [k, v] : n.stats->counters) {
        if (!IsMetricNamePart(k)) continue;
        x.Add("fwgate_nf_conntrack_stat_" + k,
              "Conntrack statistic '" + k + "' of the probed node, summed over CPUs.", node,
              std::to_string(v));
      }
    }
    if (auto v = n.Sysctl("nf_conntrack_tcp_be_liberal")) {
      x.Add("fwgate_nf_conntrack_tcp_be_liberal",
            "net.netfilter.nf_conntrack_tcp_be_liberal of the probed node.", node,
            std::to_string(*v));
    }
    if (auto v = n.Sysctl("nf_conntrack_tcp_loose")) {
      x.Add("fwgate_nf_conntrack_tcp_loose",
            "net.netfilter.nf_conntrack_tcp_loose of the probed node.", node, std::to_string(*v));
    }
    if (auto v = n.Sysctl("nf_conntrack_buckets")) {
      x.Add("fwgate_nf_conntrack_buckets",
            "net.netfilter.nf_conntrack_buckets (hash table size) of the probed node.", node,
            std::to_string(*v));
    }
    std::string cls = KernelClassOf(n);
    x.Add("fwgate_kernel_class_info",
          "Kernel release and its conntrack reload class (continuous, stale-gap, refixup).",
          node + "," + Label("kernel", n.kernel) + "," +
              Label("class", cls.empty() ? "unknown" : cls),
          "1");
    if (auto p = hazards::PlanRestartStorm(n, r.config); p && !hazards::NotTracking(n)) {
      x.Add("fwgate_restart_storm_entries",
            "Conntrack entries needed if every daemon restarts at once (facts 4.4 estimate).", node,
            std::to_string(p->estimate.needed));
      x.Add("fwgate_restart_storm_recommended_max",
            "nf_conntrack_max that fits the restart-storm estimate with fwgate's margin.", node,
            std::to_string(p->conntrack_max));
      x.Add("fwgate_restart_storm_stagger_seconds",
            "Seconds between daemon restarts that keep the estimate under the limit (0: none "
            "needed, -1: spacing cannot help).",
            node, std::to_string(p->stagger_s));
    }
  }
  for (size_t i = 0; i < r.nodes.size(); ++i) {
    std::map<std::string, int> by_sev = {{"blocking", 0}, {"warning", 0}, {"info", 0}};
    for (const auto& f : r.node_findings[i]) ++by_sev[std::string(SeverityName(f.severity))];
    for (const auto& [sev, c] : by_sev) {
      x.Add("fwgate_findings", "Number of findings per node and severity.",
            Label("node", r.nodes[i].name) + "," + Label("severity", sev), std::to_string(c));
    }
  }
  for (size_t i = 0; i < r.nodes.size(); ++i) {
    for (const auto& f : r.node_findings[i]) {
      x.Add("fwgate_finding",
            "One series per finding on a node (value 1; 'undecided' says "
            "whether a needed fact was missing).",
            Label("node", r.nodes[i].name) + "," + Label("id", f.id) + "," +
                Label("severity", SeverityName(f.severity)) + "," +
                Label("undecided", f.undecided ? "true" : "false"),
            "1");
    }
  }
  for (const auto& f : r.fleet_findings) {
    x.Add("fwgate_fleet_finding", "One series per finding about the fleet as a whole (value 1).",
          Label("id", f.id) + "," + Label("severity", SeverityName(f.severity)), "1");
  }
  return x.Text();
}

}  // namespace fwgate::report
