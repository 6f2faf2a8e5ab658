#include "report/probe_report.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "gate/hazards/kernel_class.h"

namespace fwgate::report {
namespace {

using nlohmann::json;
using probe::NodeFacts;

std::string KernelClassOf(const NodeFacts& n) {
  auto v = hazards::ParseKernelVersion(n.kernel);
  if (!v) return "";
  return std::string(hazards::Classify(*v).name);
}

json FindingJson(const hazards::Finding& f) {
  json j = {{"id", f.id},
            {"severity", std::string(SeverityName(f.severity))},
            {"message", f.message},
            {"source", f.source}};
  if (f.undecided) j["undecided"] = true;
  return j;
}

json CtUsersJson(const probe::CtUsers& u) {
  json j = json::object();
  for (const auto& [fam, v] : u.by_family) j[fam] = v;
  return j;
}

probe::CtUsers CtUsersFrom(const json& j) {
  probe::CtUsers u;
  if (!j.is_object()) return u;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!it.value().is_array()) continue;
    for (const json& s : it.value())
      if (s.is_string() && u.by_family[it.key()].size() < 200)
        u.by_family[it.key()].push_back(s.get<std::string>());
  }
  return u;
}

// Prometheus label value escaping (backslash, double quote, newline).
std::string Esc(std::string_view s) {
  std::string o;
  for (char c : s) {
    if (c == '\\')
      o += "\\\\";
    else if (c == '"')
      o += "\\\"";
    else if (c == '\n')
      o += "\\n";
    else
      o += c;
  }
  return o;
}

bool IsMetricNamePart(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (!(std::isalnum(c) || c == '_')) return false;
  return true;
}

}  // namespace

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
    j["reachable"] = n.reachable;
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
    for (const auto& t : n.backends.nft_tables)
      tables.push_back({{"family", t.family},
                        {"name", t.name},
                        {"iptables_nft", t.iptables_nft},
                        {"rules", t.rules}});
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
    for (const auto& s : n.services)
      services.push_back({{"name", s.name},
                          {"unit", s.unit_path},
                          {"reload", s.reload},
                          {"style", s.style},
                          {"source", s.source}});
    j["services"] = services;
    if (auto e = hazards::EstimateRestartStorm(n, r.config)) {
      j["restart_storm"] = {{"daemons", r.config.storm_daemons},
                            {"attempts_per_s", e->attempts_per_s},
                            {"linger_s", e->linger_s},
                            {"needed", e->needed},
                            {"needed_best_case", e->needed_best},
                            {"max", e->max}};
    }
    j["ruleset_text"] = n.ruleset_text;
    nodes.push_back(std::move(j));
  }
  json fleet = json::array();
  for (const auto& f : r.fleet_findings) fleet.push_back(FindingJson(f));
  return {{"nodes", nodes}, {"fleet_findings", fleet}};
}

Result<NodeFacts> NodeFactsFromJson(const json& j) {
  if (!j.is_object()) return Error::BadInput("node is not a JSON object");
  NodeFacts n;
  auto str = [&](const char* key, std::string& out) -> Status {
    if (!j.contains(key) || j[key].is_null()) return OkStatus();
    if (!j[key].is_string()) return Error::BadInput(std::string("\"") + key + "\" is not a string");
    out = j[key].get<std::string>();
    return OkStatus();
  };
  if (auto st = str("name", n.name); !st) return st.error();
  if (n.name.empty() || n.name.size() > 253) return Error::BadInput("node has no \"name\"");
  if (!j.contains("reachable") || !j["reachable"].is_boolean())
    return Error::BadInput("\"reachable\" missing or not a boolean");
  n.reachable = j["reachable"].get<bool>();
  if (auto st = str("error", n.error); !st) return st.error();
  if (auto st = str("kernel", n.kernel); !st) return st.error();
  if (auto st = str("ruleset_text", n.ruleset_text); !st) return st.error();
  n.transport = "file";
  if (j.contains("sysctls")) {
    if (!j["sysctls"].is_object()) return Error::BadInput("\"sysctls\" is not an object");
    for (auto it = j["sysctls"].begin(); it != j["sysctls"].end(); ++it) {
      if (!it.value().is_number_integer())
        return Error::BadInput("sysctl \"" + it.key().substr(0, 64) + "\" is not an integer");
      if (it.key().rfind("nf_conntrack_", 0) != 0 || it.key().size() > 80) continue;
      n.sysctls[it.key()] = it.value().get<int64_t>();
    }
  }
  n.sysctls_readable = n.sysctls.count("nf_conntrack_max") > 0;
  if (j.contains("stats") && j["stats"].is_object()) {
    sys::ConntrackStats s;
    for (auto it = j["stats"].begin(); it != j["stats"].end(); ++it) {
      if (!it.value().is_number_unsigned() && !it.value().is_number_integer())
        return Error::BadInput("stat \"" + it.key().substr(0, 64) + "\" is not a number");
      if (it.value().is_number_integer() && it.value().get<int64_t>() < 0)
        return Error::BadInput("stat \"" + it.key().substr(0, 64) + "\" is negative");
      s.counters[it.key().substr(0, 64)] = it.value().get<uint64_t>();
    }
    n.stats = s;
  }
  if (j.contains("conntrack") && j["conntrack"].is_object()) {
    const json& c = j["conntrack"];
    if (!n.stats) n.stats = sys::ConntrackStats{};
    if (c.contains("count") && c["count"].is_number_unsigned())
      n.stats->count = c["count"].get<uint64_t>();
    if (c.contains("max") && c["max"].is_number_unsigned()) n.stats->max = c["max"].get<uint64_t>();
  }
  std::string module;
  if (auto st = str("conntrack_module", module); !st) return st.error();
  if (module == "builtin")
    n.conntrack_module = probe::ModuleState::kBuiltin;
  else if (module == "module")
    n.conntrack_module = probe::ModuleState::kLoadable;
  else if (module == "absent")
    n.conntrack_module = probe::ModuleState::kAbsent;
  if (j.contains("enable_hooks") && j["enable_hooks"].is_boolean())
    n.enable_hooks = j["enable_hooks"].get<bool>();
  if (auto st = str("enable_hooks_source", n.enable_hooks_source); !st) return st.error();
  if (j.contains("iptables_modules_unload") && j["iptables_modules_unload"].is_boolean())
    n.iptables_modules_unload = j["iptables_modules_unload"].get<bool>();
  if (j.contains("backends") && j["backends"].is_object()) {
    const json& b = j["backends"];
    if (b.contains("nftables") && b["nftables"].is_object()) {
      const json& nf = b["nftables"];
      n.backends.nft_readable = nf.value("readable", false);
      if (nf.contains("tables") && nf["tables"].is_array()) {
        for (const json& t : nf["tables"]) {
          if (!t.is_object()) continue;
          n.backends.nft_tables.push_back({t.value("family", ""), t.value("name", ""),
                                           t.value("iptables_nft", false),
                                           t.value("rules", size_t{0})});
        }
      }
      if (nf.contains("ct_users")) n.backends.nft_ct_users = CtUsersFrom(nf["ct_users"]);
    }
    if (b.contains("iptables_legacy") && b["iptables_legacy"].is_object()) {
      const json& l = b["iptables_legacy"];
      n.backends.legacy_readable = l.value("readable", false);
      if (l.contains("tables") && l["tables"].is_array())
        for (const json& t : l["tables"])
          if (t.is_string()) n.backends.legacy_tables.push_back(t.get<std::string>());
      if (l.contains("ct_users")) n.backends.legacy_ct_users = CtUsersFrom(l["ct_users"]);
    }
    if (b.contains("notes") && b["notes"].is_array())
      for (const json& s : b["notes"])
        if (s.is_string()) n.backends.notes.push_back(s.get<std::string>());
  }
  if (j.contains("services") && j["services"].is_array()) {
    for (const json& s : j["services"]) {
      if (!s.is_object()) continue;
      n.services.push_back({s.value("name", ""), s.value("unit", ""), s.value("reload", ""),
                            s.value("style", "unknown"), s.value("source", "")});
    }
  }
  return n;
}

Result<std::vector<NodeFacts>> LoadProbeDir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return Error::BadInput(dir + ": not a directory");
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".json" && e.is_regular_file()) files.push_back(e.path());
  }
  if (ec) return Error{ErrorKind::kBadInput, ec, "reading " + dir};
  std::sort(files.begin(), files.end());
  std::vector<NodeFacts> out;
  for (const fs::path& p : files) {
    auto bad = [&](const std::string& why) {
      NodeFacts n;
      n.name = p.stem().string();
      n.transport = "file";
      n.reachable = false;
      n.error = p.string() + ": " + why;
      out.push_back(std::move(n));
    };
    std::error_code sec;
    auto size = fs::file_size(p, sec);
    if (sec || size > (64u << 20)) {
      bad(sec ? sec.message() : "larger than 64 MiB");
      continue;
    }
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    json doc = json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) {
      bad("not valid JSON");
      continue;
    }
    std::vector<const json*> nodes;
    if (doc.is_object() && doc.contains("nodes") && doc["nodes"].is_array()) {
      for (const json& n : doc["nodes"]) nodes.push_back(&n);
    } else {
      nodes.push_back(&doc);
    }
    if (nodes.empty()) bad("no nodes in file");
    for (const json* nj : nodes) {
      auto n = NodeFactsFromJson(*nj);
      if (!n) {
        bad(n.error().context);
        continue;
      }
      out.push_back(std::move(n).value());
    }
  }
  return out;
}

std::string ProbeTable(const ProbeResults& r) {
  struct RowT {
    std::string name, kernel, cls, liberal, fill, worst;
  };
  std::vector<RowT> rows;
  rows.push_back({"NODE", "KERNEL", "CLASS", "BE_LIBERAL", "COUNT/MAX", "WORST FINDING"});
  for (size_t i = 0; i < r.nodes.size(); ++i) {
    const NodeFacts& n = r.nodes[i];
    RowT row;
    row.name = n.name;
    row.kernel = n.reachable ? (n.kernel.empty() ? "?" : n.kernel) : "-";
    row.cls = KernelClassOf(n);
    if (row.cls.empty()) row.cls = "?";
    auto bl = n.Sysctl("nf_conntrack_tcp_be_liberal");
    row.liberal = bl ? std::to_string(*bl) : "?";
    auto c = hazards::ConntrackCount(n);
    auto m = hazards::ConntrackMax(n);
    row.fill = (c ? std::to_string(*c) : "?") + "/" + (m ? std::to_string(*m) : "?");
    const auto& fs = r.node_findings[i];
    row.worst = fs.empty()
                    ? "ok"
                    : std::string(SeverityName(fs.front().severity)) + " " + fs.front().id;
    if (!n.reachable) row.worst = "UNREACHABLE";
    rows.push_back(row);
  }
  std::array<size_t, 5> w{};
  for (const RowT& row : rows) {
    w[0] = std::max(w[0], row.name.size());
    w[1] = std::max(w[1], row.kernel.size());
    w[2] = std::max(w[2], row.cls.size());
    w[3] = std::max(w[3], row.liberal.size());
    w[4] = std::max(w[4], row.fill.size());
  }
  auto pad = [](const std::string& s, size_t n) {
    return s + std::string(n > s.size() ? n - s.size() : 0, ' ');
  };
  std::ostringstream o;
  for (const RowT& row : rows) {
    o << pad(row.name, w[0]) << "  " << pad(row.kernel, w[1]) << "  " << pad(row.cls, w[2]) << "  "
      << pad(row.liberal, w[3]) << "  " << pad(row.fill, w[4]) << "  " << row.worst << "\n";
  }
  bool any = false;
  for (size_t i = 0; i < r.nodes.size(); ++i) {
    for (const auto& f : r.node_findings[i]) {
      if (!any) o << "\nFindings:\n";
      any = true;
      o << "  " << r.nodes[i].name << ": [" << SeverityName(f.severity) << "] " << f.id
        << ": " << f.message << " (" << f.source << ")\n";
    }
  }
  if (!r.fleet_findings.empty()) {
    o << "\nFleet:\n";
    for (const auto& f : r.fleet_findings)
      o << "  [" << SeverityName(f.severity) << "] " << f.id << ": " << f.message << " ("
        << f.source << ")\n";
  }
  return o.str();
}

std::string ProbePrometheus(const ProbeResults& r) {
  // One family at a time: HELP, TYPE, then one sample per node.
  struct Sample {
    std::string labels;
    std::string value;
  };
  std::map<std::string, std::pair<std::string, std::vector<Sample>>> fam;  // name -> help, samples
  std::vector<std::string> order;
  auto add = [&](const std::string& name, const std::string& help, const std::string& labels,
                 const std::string& value) {
    if (!fam.count(name)) order.push_back(name);
    auto& f = fam[name];
    f.first = help;
    f.second.push_back({labels, value});
  };
  for (size_t i = 0; i < r.nodes.size(); ++i) {
    const NodeFacts& n = r.nodes[i];
    std::string node = "node=\"" + Esc(n.name) + "\"";
    add("fwgate_probe_success", "Whether fwgate could probe the node (1) or not (0).", node,
        n.reachable ? "1" : "0");
    if (!n.reachable) continue;
    if (auto c = hazards::ConntrackCount(n))
      add("node_nf_conntrack_entries",
          "Number of currently allocated flow entries for connection tracking.", node,
          std::to_string(*c));
    if (auto m = hazards::ConntrackMax(n))
      add("node_nf_conntrack_entries_limit", "Maximum size of connection tracking table.", node,
          std::to_string(*m));
    if (n.stats) {
      for (const auto& [k, v] : n.stats->counters) {
        if (!IsMetricNamePart(k)) continue;
        add("node_nf_conntrack_stat_" + k, "Conntrack statistic '" + k + "' summed over CPUs.",
            node, std::to_string(v));
      }
    }
    if (auto v = n.Sysctl("nf_conntrack_tcp_be_liberal"))
      add("fwgate_nf_conntrack_tcp_be_liberal", "net.netfilter.nf_conntrack_tcp_be_liberal.", node,
          std::to_string(*v));
    if (auto v = n.Sysctl("nf_conntrack_tcp_loose"))
      add("fwgate_nf_conntrack_tcp_loose", "net.netfilter.nf_conntrack_tcp_loose.", node,
          std::to_string(*v));
    if (auto v = n.Sysctl("nf_conntrack_buckets"))
      add("fwgate_nf_conntrack_buckets", "net.netfilter.nf_conntrack_buckets.", node,
          std::to_string(*v));
    std::string cls = KernelClassOf(n);
    add("fwgate_kernel_class_info",
        "Kernel release and its conntrack reload class (continuous, stale-gap, refixup).",
        node + ",kernel=\"" + Esc(n.kernel) + "\",class=\"" + Esc(cls.empty() ? "unknown" : cls) +
            "\"",
        "1");
  }
  for (size_t i = 0; i < r.nodes.size(); ++i) {
    std::map<std::string, int> by_sev = {{"blocking", 0}, {"warning", 0}, {"info", 0}};
    for (const auto& f : r.node_findings[i])
      ++by_sev[std::string(SeverityName(f.severity))];
    for (const auto& [sev, c] : by_sev)
      add("fwgate_findings", "Number of findings per node and severity.",
          "node=\"" + Esc(r.nodes[i].name) + "\",severity=\"" + sev + "\"", std::to_string(c));
  }
  std::ostringstream o;
  for (const std::string& name : order) {
    const auto& [help, samples] = fam[name];
    o << "# HELP " << name << " " << help << "\n# TYPE " << name << " gauge\n";
    for (const Sample& s : samples) o << name << "{" << s.labels << "} " << s.value << "\n";
  }
  return o.str();
}

}  // namespace fwgate::report
