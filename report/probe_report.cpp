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
constexpr size_t kMaxProbeFileBytes = 64u << 20;
constexpr size_t kMaxProbeFiles = 100000;
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
class NodeReader {
 public:
  Status Str(const json& obj, const char* key, std::string& out, size_t max = 1u << 20) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return OkStatus();
    if (!it->is_string()) return Wrong(key, "a string");
    out = std::string(Utf8Prefix(it->get_ref<const std::string&>(), max));
    return OkStatus();
  }
  Status Bool(const json& obj, const char* key, bool& out) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return OkStatus();
    if (!it->is_boolean()) return Wrong(key, "a boolean");
    out = it->get<bool>();
    return OkStatus();
  }
  Status OptBool(const json& obj, const char* key, std::optional<bool>& out) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return OkStatus();
    if (!it->is_boolean()) return Wrong(key, "a boolean");
    out = it->get<bool>();
    return OkStatus();
  }
  Status Unsigned(const json& obj, const char* key, std::optional<uint64_t>& out) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return OkStatus();
    if (!it->is_number_unsigned() && !(it->is_number_integer() && it->get<int64_t>() >= 0))
      return Wrong(key, "a non-negative integer");
    out = it->get<uint64_t>();
    return OkStatus();
  }
  // An object (or absent); `out` points at it.
  Status Object(const json& obj, const char* key, const json*& out) {
    out = nullptr;
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return OkStatus();
    if (!it->is_object()) return Wrong(key, "an object");
    out = &*it;
    return OkStatus();
  }
  Status Array(const json& obj, const char* key, const json*& out) {
    out = nullptr;
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return OkStatus();
    if (!it->is_array()) return Wrong(key, "an array");
    out = &*it;
    return OkStatus();
  }
  Status Strings(const json& obj, const char* key, std::vector<std::string>& out, size_t max_n) {
    const json* a = nullptr;
    if (auto st = Array(obj, key, a); !st || !a) return st;
    for (const json& s : *a) {
      if (!s.is_string()) return Wrong(key, "an array of strings");
      if (out.size() < max_n) out.emplace_back(Utf8Prefix(s.get_ref<const std::string&>(), 1024));
    }
    return OkStatus();
  }
  Status CtUsers(const json& obj, const char* key, probe::CtUsers& out) {
    const json* o = nullptr;
    if (auto st = Object(obj, key, o); !st || !o) return st;
    for (auto it = o->begin(); it != o->end(); ++it) {
      if (!it.value().is_array()) return Wrong(key, "an object of string arrays");
      if (out.by_family.size() >= 8) continue;
      auto& v = out.by_family[std::string(Utf8Prefix(it.key(), 32))];
      for (const json& s : it.value()) {
        if (!s.is_string()) return Wrong(key, "an object of string arrays");
        if (v.size() < 200) v.emplace_back(Utf8Prefix(s.get_ref<const std::string&>(), 512));
      }
    }
    return OkStatus();
  }

 private:
  static Error Wrong(const char* key, const char* what) {
    return Error::BadInput(std::string("\"") + key + "\" is not " + what);
  }
};

Result<NodeFacts> ReadNode(const json& j) {
  if (!j.is_object()) return Error::BadInput("node is not a JSON object");
  NodeReader r;
  NodeFacts n;
  n.transport = "file";
  if (auto st = r.Str(j, "name", n.name, 254); !st) return st.error();
  if (n.name.empty() || n.name.size() > 253) return Error::BadInput("node has no \"name\"");
  if (!j.contains("reachable") || !j["reachable"].is_boolean())
    return Error::BadInput("\"reachable\" missing or not a boolean");
  n.reachable = j["reachable"].get<bool>();
  if (auto st = r.Bool(j, "readable", n.readable); !st) return st.error();
  if (auto st = r.Str(j, "error", n.error, 4096); !st) return st.error();
  if (auto st = r.Str(j, "kernel", n.kernel, 256); !st) return st.error();
  if (auto st = r.Str(j, "ruleset_text", n.ruleset_text, probe::kMaxProbeOutput); !st)
    return st.error();
  const json* o = nullptr;
  if (auto st = r.Object(j, "sysctls", o); !st) return st.error();
  if (o) {
    for (auto it = o->begin(); it != o->end(); ++it) {
      if (!it.value().is_number_integer()) {
        return Error::BadInput("sysctl \"" + std::string(Utf8Prefix(it.key(), 64)) +
                               "\" is not an integer");
      }
      if (it.key().rfind("nf_conntrack_", 0) != 0 || it.key().size() > 80 ||
          n.sysctls.size() >= 256)
        continue;
      n.sysctls[it.key()] = it.value().get<int64_t>();
    }
  }
  n.sysctls_readable = n.sysctls.count("nf_conntrack_max") > 0;
  if (auto st = r.Object(j, "stats", o); !st) return st.error();
  if (o) {
    sys::ConntrackStats s;
    for (auto it = o->begin(); it != o->end(); ++it) {
      std::string key(Utf8Prefix(it.key(), 64));
      if (!it.value().is_number_unsigned() && !it.value().is_number_integer())
        return Error::BadInput("stat \"" + key + "\" is not a number");
      if (it.value().is_number_integer() && it.value().get<int64_t>() < 0)
        return Error::BadInput("stat \"" + key + "\" is negative");
      if (s.counters.size() < 64) s.counters[key] = it.value().get<uint64_t>();
    }
    n.stats = s;
  }
  if (auto st = r.Object(j, "conntrack", o); !st) return st.error();
  if (o) {
    std::optional<uint64_t> count, max, buckets;
    if (auto st = r.Unsigned(*o, "count", count); !st) return st.error();
    if (auto st = r.Unsigned(*o, "max", max); !st) return st.error();
    if (auto st = r.Unsigned(*o, "buckets", buckets); !st) return st.error();
    if (!n.stats) n.stats = sys::ConntrackStats{};
    if (count) n.stats->count = *count;
    if (max) n.stats->max = *max;
  }
  std::string module;
  if (auto st = r.Str(j, "conntrack_module", module, 32); !st) return st.error();
  if (module == "builtin") {
    n.conntrack_module = probe::ModuleState::kBuiltin;
  } else if (module == "module") {
    n.conntrack_module = probe::ModuleState::kLoadable;
  } else if (module == "absent") {
    n.conntrack_module = probe::ModuleState::kAbsent;
  }
  if (auto st = r.OptBool(j, "enable_hooks", n.enable_hooks); !st) return st.error();
  if (auto st = r.Str(j, "enable_hooks_source", n.enable_hooks_source, 256); !st) return st.error();
  if (auto st = r.OptBool(j, "iptables_modules_unload", n.iptables_modules_unload); !st)
    return st.error();
  if (auto st = r.Object(j, "backends", o); !st) return st.error();
  if (o) {
    const json& b = *o;
    const json* nf = nullptr;
    if (auto st = r.Object(b, "nftables", nf); !st) return st.error();
    if (nf) {
      if (auto st = r.Bool(*nf, "readable", n.backends.nft_readable); !st) return st.error();
      const json* tables = nullptr;
      if (auto st = r.Array(*nf, "tables", tables); !st) return st.error();
      if (tables) {
        for (const json& t : *tables) {
          if (!t.is_object()) return Error::BadInput("\"tables\" is not an array of objects");
          probe::NftTableFact tf;
          std::optional<uint64_t> rules;
          if (auto st = r.Str(t, "family", tf.family, 16); !st) return st.error();
          if (auto st = r.Str(t, "name", tf.name, 256); !st) return st.error();
          if (auto st = r.Bool(t, "iptables_nft", tf.iptables_nft); !st) return st.error();
          if (auto st = r.Unsigned(t, "rules", rules); !st) return st.error();
          tf.rules = rules.value_or(0);
          if (n.backends.nft_tables.size() < 4096) n.backends.nft_tables.push_back(tf);
        }
      }
      if (auto st = r.CtUsers(*nf, "ct_users", n.backends.nft_ct_users); !st) return st.error();
    }
    const json* l = nullptr;
    if (auto st = r.Object(b, "iptables_legacy", l); !st) return st.error();
    if (l) {
      if (auto st = r.Bool(*l, "readable", n.backends.legacy_readable); !st) return st.error();
      if (auto st = r.Strings(*l, "tables", n.backends.legacy_tables, 256); !st) return st.error();
      if (auto st = r.CtUsers(*l, "ct_users", n.backends.legacy_ct_users); !st) return st.error();
    }
    if (auto st = r.Strings(b, "notes", n.backends.notes, 64); !st) return st.error();
  }
  const json* services = nullptr;
  if (auto st = r.Array(j, "services", services); !st) return st.error();
  if (services) {
    for (const json& s : *services) {
      if (!s.is_object()) return Error::BadInput("\"services\" is not an array of objects");
      probe::ServiceFact sf;
      sf.style = "unknown";
      if (auto st = r.Str(s, "name", sf.name, 64); !st) return st.error();
      if (auto st = r.Str(s, "unit", sf.unit_path, 256); !st) return st.error();
      if (auto st = r.Str(s, "reload", sf.reload, 1024); !st) return st.error();
      if (auto st = r.Str(s, "style", sf.style, 32); !st) return st.error();
      if (auto st = r.Str(s, "source", sf.source, 256); !st) return st.error();
      if (n.services.size() < 64) n.services.push_back(std::move(sf));
    }
  }
  return n;
}

// --- reading probe files: fail closed ----------------------------------------------------------

// The text of a regular file, or why it is not one. Never opens anything but a regular file,
// and never blocks (a FIFO swapped in after the check is opened non-blocking and refused).
Result<std::string> ReadRegularFile(const std::string& path) {
  struct stat lst {};
  if (lstat(path.c_str(), &lst) != 0) return Error::FromErrno(errno, "cannot stat");
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    if (S_ISLNK(lst.st_mode)) return Error::Unavailable("broken symbolic link");
    return Error::FromErrno(errno, "cannot stat");
  }
  auto kind = [](mode_t m) -> const char* {
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISSOCK(m)) return "a socket";
    if (S_ISCHR(m) || S_ISBLK(m)) return "a device";
    return "not a regular file";
  };
  if (!S_ISREG(st.st_mode)) return Error::Unavailable(std::string("is ") + kind(st.st_mode));
  if (static_cast<uint64_t>(st.st_size) > kMaxProbeFileBytes)
    return Error::Unavailable("larger than " + std::to_string(kMaxProbeFileBytes >> 20) + " MiB");
  int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return Error::FromErrno(errno, "cannot open");
  struct stat fst {};
  if (fstat(fd, &fst) != 0 || !S_ISREG(fst.st_mode)) {
    close(fd);
    return Error::Unavailable("changed into something that is not a regular file");
  }
  std::string text;
  char buf[1 << 16];
  while (true) {
    ssize_t got = read(fd, buf, sizeof(buf));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      int e = errno;
      close(fd);
      return Error::FromErrno(e, "cannot read");
    }
    if (got == 0) break;
    text.append(buf, static_cast<size_t>(got));
    if (text.size() > kMaxProbeFileBytes) {
      close(fd);
      return Error::Unavailable("larger than " + std::to_string(kMaxProbeFileBytes >> 20) + " MiB");
    }
  }
  close(fd);
  return text;
}

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

Result<NodeFacts> NodeFactsFromJson(const json& j) {
  try {
    return ReadNode(j);
  } catch (const json::exception& e) {  // a shape ReadNode did not foresee: still bad input
    return Error::BadInput(std::string("unexpected JSON shape: ") + e.what());
  }
}

Result<std::vector<NodeFacts>> LoadProbeDir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Error::BadInput(dir + ": not a directory");
  std::vector<fs::path> files;
  fs::directory_iterator it(dir, ec);
  if (ec) return Error{ErrorKind::kBadInput, ec, "reading " + dir};
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    // Every entry named *.json counts, whatever it is: what cannot be read is reported.
    if (it->path().extension() == ".json") files.push_back(it->path());
    if (files.size() > kMaxProbeFiles)
      return Error::BadInput(dir + ": more than " + std::to_string(kMaxProbeFiles) + " files");
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
      n.readable = false;
      n.error = p.string() + ": " + why;
      out.push_back(std::move(n));
    };
    auto text = ReadRegularFile(p.string());
    if (!text) {
      bad(text.error().ToString());
      continue;
    }
    json doc = json::parse(*text, nullptr, /*allow_exceptions=*/false);
    text->clear();
    text->shrink_to_fit();
    if (doc.is_discarded()) {
      bad("not valid JSON");
      continue;
    }
    std::vector<const json*> nodes;
    if (doc.is_object() && doc.contains("nodes")) {
      if (!doc["nodes"].is_array()) {
        bad("\"nodes\" is not an array");
        continue;
      }
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
