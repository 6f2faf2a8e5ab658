#include "simulator/scenarios/scenario.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

namespace fwgate::scenarios {
namespace {

using nlohmann::json;

// "LINE:COL" of byte `pos` in `text` (1-based).
std::string LineCol(std::string_view text, size_t pos) {
  size_t line = 1, col = 1;
  for (size_t i = 0; i < pos && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return std::to_string(line) + ":" + std::to_string(col);
}

// Errors about a value point at the object it sits in: the first `"name": "VALUE"` of that
// object in the text (names are unique), else the file's start.
class Reporter {
 public:
  Reporter(std::string_view text, std::string_view file) : text_(text), file_(file) {}
  Error At(const std::string& object_name, const std::string& message) const {
    size_t pos = std::string_view::npos;
    if (!object_name.empty()) pos = text_.find("\"" + object_name + "\"");
    return Error::BadInput(std::string(file_) + ":" +
                           LineCol(text_, pos == std::string_view::npos ? 0 : pos) + ": " +
                           message);
  }

 private:
  std::string_view text_, file_;
};

struct Fields {
  const json& obj;
  std::string where;  // "scenario 'x' run 'y'"
  std::string name;   // for positions
  const Reporter& rep;
  std::set<std::string> known;

  Status Check() const {
    for (const auto& [k, v] : obj.items()) {
      if (!known.count(k)) return rep.At(name, where + ": unknown key '" + k + "'");
    }
    return OkStatus();
  }
  Status Str(const char* key, std::string& out, bool required = false) {
    known.insert(key);
    auto it = obj.find(key);
    if (it == obj.end()) {
      return required ? Status(rep.At(name, where + ": '" + key + "' is missing")) : OkStatus();
    }
    if (!it->is_string()) return rep.At(name, where + ": '" + key + "' must be a string");
    out = it->get<std::string>();
    if (out.size() > 4096) return rep.At(name, where + ": '" + key + "' is too long");
    return OkStatus();
  }
  template <typename T>
  Status Int(const char* key, T& out, int64_t lo, int64_t hi) {
    known.insert(key);
    auto it = obj.find(key);
    if (it == obj.end()) return OkStatus();
    if (!it->is_number_integer()) return rep.At(name, where + ": '" + key + "' must be an integer");
    int64_t v = it->get<int64_t>();
    if (v < lo || v > hi) {
      return rep.At(name, where + ": '" + key + "' is " + std::to_string(v) + ", outside " +
                              std::to_string(lo) + ".." + std::to_string(hi));
    }
    out = static_cast<T>(v);
    return OkStatus();
  }
  Status Bool(const char* key, bool& out) {
    known.insert(key);
    auto it = obj.find(key);
    if (it == obj.end()) return OkStatus();
    if (!it->is_boolean()) return rep.At(name, where + ": '" + key + "' must be true or false");
    out = it->get<bool>();
    return OkStatus();
  }
};

#define FWGATE_TRY(expr)                            \
  do {                                              \
    if (Status s_ = (expr); !s_) return s_.error(); \
  } while (0)

bool ValidName(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return false;
  }
  return true;
}

Result<ReloadRun> ParseReloadRun(const json& j, const std::string& scen, const Reporter& rep) {
  ReloadRun r;
  if (!j.is_object()) return rep.At(scen, "scenario '" + scen + "': a run must be an object");
  Fields f{j, "scenario '" + scen + "' run", "", rep, {}};
  FWGATE_TRY(f.Str("name", r.name, true));
  if (!ValidName(r.name)) return rep.At(scen, f.where + ": invalid name '" + r.name + "'");
  f.where += " '" + r.name + "'";
  f.name = r.name;
  FWGATE_TRY(f.Str("description", r.description));
  FWGATE_TRY(f.Int("nodes", r.nodes, 1, 16));
  FWGATE_TRY(f.Str("kernel", r.kernel));
  FWGATE_TRY(f.Str("be_liberal", r.be_liberal));
  FWGATE_TRY(f.Str("reload", r.reload));
  FWGATE_TRY(f.Int("gap_ms", r.gap_ms, 0, 60000));
  FWGATE_TRY(f.Int("reloads", r.reloads, 1, 10));
  FWGATE_TRY(f.Int("reload_interval_ms", r.reload_interval_ms, 0, 60000));
  FWGATE_TRY(f.Str("current", r.current));
  FWGATE_TRY(f.Str("proposed", r.proposed));
  FWGATE_TRY(f.Str("traffic", r.traffic));
  if (r.traffic != "ceph" && r.traffic != "light") {
    return rep.At(r.name, f.where + ": traffic must be \"ceph\" or \"light\"");
  }
  FWGATE_TRY(f.Int("connections_per_node", r.connections_per_node, 1, 5000));
  FWGATE_TRY(f.Int("duration_ms", r.duration_ms, 1000, 600000));
  FWGATE_TRY(f.Int("warmup_ms", r.warmup_ms, 0, 600000));
  f.known.insert("expect");
  auto e = j.find("expect");
  if (e == j.end() || !e->is_object()) {
    return rep.At(r.name, f.where + ": 'expect' (an object) is missing");
  }
  Fields fe{*e, f.where + " expect", r.name, rep, {}};
  FWGATE_TRY(fe.Str("verdict", r.expect_verdict, true));
  if (r.expect_verdict != "survived" && r.expect_verdict != "broken") {
    return rep.At(r.name, fe.where + ": verdict must be \"survived\" or \"broken\"");
  }
  fe.known.insert("broken_only_touching");
  if (auto t = e->find("broken_only_touching"); t != e->end()) {
    if (!t->is_array()) return rep.At(r.name, fe.where + ": broken_only_touching is a list");
    for (const auto& n : *t) {
      if (!n.is_string()) return rep.At(r.name, fe.where + ": broken_only_touching: node names");
      r.broken_only_touching.push_back(n.get<std::string>());
    }
  }
  FWGATE_TRY(fe.Check());
  FWGATE_TRY(f.Check());
  return r;
}

Result<StormRun> ParseStormRun(const json& j, const std::string& scen, const Reporter& rep) {
  StormRun r;
  if (!j.is_object()) return rep.At(scen, "scenario '" + scen + "': a run must be an object");
  Fields f{j, "scenario '" + scen + "' run", "", rep, {}};
  FWGATE_TRY(f.Str("name", r.name, true));
  if (!ValidName(r.name)) return rep.At(scen, f.where + ": invalid name '" + r.name + "'");
  f.where += " '" + r.name + "'";
  f.name = r.name;
  FWGATE_TRY(f.Str("description", r.description));
  FWGATE_TRY(f.Int("table_size", r.table_size, 1024, 16 << 20));
  FWGATE_TRY(f.Int("stagger_ms", r.stagger_ms, 0, 120000));
  FWGATE_TRY(f.Int("observe_ms", r.observe_ms, 1000, 900000));
  f.known.insert("timeouts");
  if (auto t = j.find("timeouts"); t != j.end()) {
    if (!t->is_object()) return rep.At(r.name, f.where + ": timeouts is an object");
    for (const auto& [k, v] : t->items()) {
      const auto& names = TimeoutNames();
      if (std::find(names.begin(), names.end(), k) == names.end()) {
        return rep.At(r.name, f.where + ": unknown timeout '" + k + "'");
      }
      if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > 432000) {
        return rep.At(r.name, f.where + ": timeout '" + k + "' must be 1..432000 seconds");
      }
      r.timeouts[k] = v.get<int>();
    }
  }
  f.known.insert("expect");
  auto e = j.find("expect");
  if (e == j.end() || !e->is_object()) {
    return rep.At(r.name, f.where + ": 'expect' (an object) is missing");
  }
  Fields fe{*e, f.where + " expect", r.name, rep, {}};
  fe.known.insert("drops");
  auto d = e->find("drops");
  if (d == e->end() || !d->is_boolean()) {
    return rep.At(r.name, fe.where + ": 'drops' (true or false) is missing");
  }
  r.expect_drops = d->get<bool>();
  FWGATE_TRY(fe.Str("or_fewer_than", r.fewer_drops_than));
  FWGATE_TRY(fe.Check());
  FWGATE_TRY(f.Check());
  return r;
}

}  // namespace

const std::vector<std::string>& TimeoutNames() {
  static const std::vector<std::string> k = {
      "syn_sent", "syn_recv",  "established", "fin_wait",    "close_wait",
      "last_ack", "time_wait", "close",       "max_retrans", "unacknowledged"};
  return k;
}

Result<std::vector<Scenario>> ParseScenarios(std::string_view text, std::string_view file) {
  Reporter rep(text, file);
  json doc;
  try {
    doc = json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    if (auto p = what.find("]: "); p != std::string::npos) what = what.substr(p + 3);
    return Error::BadInput(std::string(file) + ":" + LineCol(text, e.byte > 0 ? e.byte - 1 : 0) +
                           ": " + what);
  }
  if (!doc.is_object()) return rep.At("", "a scenario table is a JSON object");
  Fields top{doc, "the table", "", rep, {}};
  int version = 0;
  FWGATE_TRY(top.Int("schema_version", version, 1, 1));
  if (version != 1) return rep.At("", "schema_version 1 is missing");
  top.known.insert("scenarios");
  auto list = doc.find("scenarios");
  if (list == doc.end() || !list->is_array()) return rep.At("", "'scenarios' (a list) is missing");
  FWGATE_TRY(top.Check());
  std::vector<Scenario> out;
  std::set<std::string> names;
  for (const json& sj : *list) {
    if (!sj.is_object()) return rep.At("", "a scenario must be an object");
    Scenario s;
    Fields f{sj, "scenario", "", rep, {}};
    FWGATE_TRY(f.Str("name", s.name, true));
    if (!ValidName(s.name)) return rep.At("", "invalid scenario name '" + s.name + "'");
    if (!names.insert(s.name).second) return rep.At(s.name, "scenario '" + s.name + "' twice");
    f.where += " '" + s.name + "'";
    f.name = s.name;
    FWGATE_TRY(f.Str("title", s.title));
    FWGATE_TRY(f.Str("incident", s.incident));
    FWGATE_TRY(f.Str("source", s.source));
    std::string kind;
    FWGATE_TRY(f.Str("kind", kind, true));
    if (kind == "reload") {
      s.kind = Kind::kReload;
    } else if (kind == "storm") {
      s.kind = Kind::kStorm;
    } else {
      return rep.At(s.name, f.where + ": kind must be \"reload\" or \"storm\"");
    }
    f.known.insert("host");
    if (auto h = sj.find("host"); h != sj.end()) {
      if (s.kind != Kind::kStorm || !h->is_object()) {
        return rep.At(s.name, f.where + ": 'host' belongs to a storm scenario (an object)");
      }
      Fields fh{*h, f.where + " host", s.name, rep, {}};
      FWGATE_TRY(fh.Int("daemons", s.host.daemons, 1, 64));
      FWGATE_TRY(fh.Int("sessions_per_daemon", s.host.sessions_per_daemon, 1, 4000));
      FWGATE_TRY(fh.Int("peers", s.host.peers, 1, 8));
      FWGATE_TRY(fh.Int("down_ms", s.host.down_ms, 0, 60000));
      FWGATE_TRY(fh.Int("boot_work_ms", s.host.boot_work_ms, 0, 120000));
      FWGATE_TRY(fh.Int("retry_ms", s.host.retry_ms, 10, 60000));
      FWGATE_TRY(fh.Int("connect_timeout_ms", s.host.connect_timeout_ms, 100, 60000));
      FWGATE_TRY(fh.Str("ruleset", s.host.ruleset));
      FWGATE_TRY(fh.Check());
      if (static_cast<int64_t>(s.host.daemons) * s.host.sessions_per_daemon > 9000) {
        return rep.At(s.name, f.where +
                                  ": daemons x sessions_per_daemon above 9000 (one "
                                  "process holds both ends of every session)");
      }
    }
    f.known.insert("runs");
    auto runs = sj.find("runs");
    if (runs == sj.end() || !runs->is_array() || runs->empty()) {
      return rep.At(s.name, f.where + ": 'runs' (a non-empty list) is missing");
    }
    std::set<std::string> run_names;
    for (const json& rj : *runs) {
      std::string rn;
      if (s.kind == Kind::kReload) {
        auto r = ParseReloadRun(rj, s.name, rep);
        if (!r) return r.error();
        rn = r->name;
        s.reload_runs.push_back(std::move(*r));
      } else {
        auto r = ParseStormRun(rj, s.name, rep);
        if (!r) return r.error();
        rn = r->name;
        s.storm_runs.push_back(std::move(*r));
      }
      if (!run_names.insert(rn).second) {
        return rep.At(rn, f.where + ": run '" + rn + "' twice");
      }
    }
    for (const StormRun& r : s.storm_runs) {
      if (!r.fewer_drops_than.empty() && !run_names.count(r.fewer_drops_than)) {
        return rep.At(r.name, f.where + " run '" + r.name + "': or_fewer_than names no run");
      }
    }
    FWGATE_TRY(f.Check());
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace fwgate::scenarios
