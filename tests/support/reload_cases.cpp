#include "tests/support/reload_cases.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace fwgate::testing {
namespace {

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "reload cases: %s\n", why.c_str());
  std::abort();
}

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

std::vector<std::string> Strings(const nlohmann::json& j, const char* key) {
  std::vector<std::string> out;
  if (j.contains(key)) {
    for (const auto& v : j[key]) out.push_back(v.get<std::string>());
  }
  return out;
}

}  // namespace

std::vector<ReloadCase> LoadReloadCases(const std::string& source_dir) {
  const std::string dir = source_dir + "/tests/fixtures/reload-cases";
  std::ifstream in(dir + "/cases.json");
  if (!in) Die("cannot read " + dir + "/cases.json");
  std::stringstream ss;
  ss << in.rdbuf();
  auto j = nlohmann::json::parse(ss.str(), nullptr, false);
  if (j.is_discarded() || !j.contains("cases")) Die("cases.json is not the table's JSON");
  std::vector<std::string> common = Strings(j, "common_args");
  std::vector<ReloadCase> out;
  try {
    for (const auto& c : j["cases"]) {
      ReloadCase r;
      r.name = c.at("name").get<std::string>();
      r.description = c.at("description").get<std::string>();
      r.current = source_dir + "/" + c.at("current").get<std::string>();
      r.proposed = source_dir + "/" + c.at("proposed").get<std::string>();
      r.reload = Replace(c.at("reload").get<std::string>(), "{fixtures}", dir);
      r.kernel = c.at("kernel").get<std::string>();
      r.be_liberal = c.at("be_liberal").get<std::string>();
      r.args = common;
      for (auto& a : Strings(c, "args")) r.args.push_back(Replace(a, "{root}", source_dir));
      const auto& e = c.at("expect");
      r.verdict = e.at("verdict").get<std::string>();
      r.invalid_on = Strings(e, "invalid_on");
      r.broken_touching = Strings(e, "broken_touching");
      r.clean = Strings(e, "clean");
      r.tables_after = Strings(e, "tables_after");
      r.no_ct_user = e.value("no_ct_user", "");
      r.users_kept = e.value("users_kept", "");
      r.facts = c.at("facts").get<std::string>();
      r.quick = c.value("quick", false);
      r.guest = c.value("guest", false);
      out.push_back(std::move(r));
    }
  } catch (const nlohmann::json::exception& ex) {
    Die(std::string("cases.json: ") + ex.what());
  }
  return out;
}

std::vector<std::string> ReplayArgs(const ReloadCase& c) {
  std::vector<std::string> a{"replay",   "--current", c.current,      "--proposed", c.proposed,
                             "--reload", c.reload,    "--be-liberal", c.be_liberal};
  if (!c.kernel.empty()) {
    a.push_back("--kernel");
    a.push_back(c.kernel);
  }
  a.insert(a.end(), c.args.begin(), c.args.end());
  a.push_back("--json");
  return a;
}

}  // namespace fwgate::testing
