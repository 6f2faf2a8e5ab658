#include "gate/probe/probe_json.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "base/text.h"
#include "gate/probe/probe_script.h"

namespace fwgate::probe {
namespace {

using nlohmann::json;

// Probe files larger than this are refused (a node's JSON is its output plus some keys).
constexpr size_t kMaxProbeFileBytes = 64u << 20;
constexpr size_t kMaxProbeFiles = 100000;

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

}  // namespace

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

}  // namespace fwgate::probe
