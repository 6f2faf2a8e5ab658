#include "tests/support/ruleset_json.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace fwgate::testing {
namespace {

using nlohmann::json;

std::string Hex(const nft::Bytes& b) {
  static const char* kDigits = "0123456789abcdef";
  std::string s;
  for (uint8_t x : b) {
    s.push_back(kDigits[x >> 4]);
    s.push_back(kDigits[x & 15]);
  }
  return s;
}

nft::Bytes Unhex(const std::string& s) {
  nft::Bytes b;
  for (size_t i = 0; i + 1 < s.size(); i += 2) {
    b.push_back(static_cast<uint8_t>(std::stoi(s.substr(i, 2), nullptr, 16)));
  }
  return b;
}

json AttrsToJson(const std::vector<std::pair<std::string, nft::AttrValue>>& attrs) {
  json a = json::array();
  for (const auto& [k, v] : attrs) {
    if (const auto* i = std::get_if<uint64_t>(&v)) {
      a.push_back({k, {{"i", *i}}});
    } else if (const auto* s = std::get_if<std::string>(&v)) {
      a.push_back({k, {{"s", *s}}});
    } else {
      a.push_back({k, {{"b", Hex(std::get<nft::Bytes>(v))}}});
    }
  }
  return a;
}

std::vector<std::pair<std::string, nft::AttrValue>> AttrsFromJson(const json& a) {
  std::vector<std::pair<std::string, nft::AttrValue>> out;
  for (const auto& kv : a) {
    const json& v = kv[1];
    if (v.contains("i")) {
      out.push_back({kv[0], v["i"].get<uint64_t>()});
    } else if (v.contains("s")) {
      out.push_back({kv[0], v["s"].get<std::string>()});
    } else {
      out.push_back({kv[0], Unhex(v["b"].get<std::string>())});
    }
  }
  return out;
}

json ExprToJson(const nft::Expr& e) {
  json n = json::array();
  for (const auto& x : e.nested) n.push_back(ExprToJson(x));
  return {{"kind", e.kind}, {"attrs", AttrsToJson(e.attrs)}, {"nested", n}};
}

nft::Expr ExprFromJson(const json& j) {
  nft::Expr e;
  e.kind = j["kind"];
  e.attrs = AttrsFromJson(j["attrs"]);
  for (const auto& n : j["nested"]) e.nested.push_back(ExprFromJson(n));
  return e;
}

}  // namespace

json RulesetToJson(const nft::Ruleset& rs0, const std::map<uint32_t, std::string>& interfaces) {
  nft::Ruleset rs = rs0;
  for (auto& t : rs.tables) {
    std::map<std::string, std::string> rename;
    for (auto& c : t.chains) {
      if ((c.flags & 4) != 0) {  // NFT_CHAIN_BINDING
        std::string n = "__chain" + std::to_string(rename.size());
        rename[c.name] = n;
        c.name = n;
      }
    }
    for (auto& c : t.chains) {
      for (auto& r : c.rules) {
        for (auto& e : r.exprs) {
          for (auto& [k, v] : e.attrs) {
            if (k == "chain" && std::holds_alternative<std::string>(v)) {
              auto it = rename.find(std::get<std::string>(v));
              if (it != rename.end()) v = it->second;
            }
          }
        }
      }
    }
    for (auto& s : t.sets) {
      for (auto& e : s.elements) {
        auto it = rename.find(e.chain);
        if (it != rename.end()) e.chain = it->second;
      }
      std::stable_sort(s.elements.begin(), s.elements.end(), [](const auto& a, const auto& b) {
        if (a.key != b.key) return a.key < b.key;
        return a.flags < b.flags;
      });
    }
  }
  json tables = json::array();
  for (const auto& t : rs.tables) {
    json chains = json::array(), sets = json::array(), objects = json::array();
    for (const auto& c : t.chains) {
      json rules = json::array();
      for (const auto& r : c.rules) {
        json ex = json::array();
        for (const auto& e : r.exprs) ex.push_back(ExprToJson(e));
        rules.push_back({{"handle", r.handle},
                         {"position", r.position},
                         {"comment", r.comment},
                         {"exprs", ex}});
      }
      json jc = {{"name", c.name},
                 {"handle", c.handle},
                 {"flags", c.flags},
                 {"comment", c.comment},
                 {"rules", rules}};
      if (c.base) {
        jc["base"] = {{"type", c.base->type},
                      {"hook", c.base->hook},
                      {"priority", c.base->priority},
                      {"policy", c.base->policy},
                      {"devices", c.base->devices}};
      }
      chains.push_back(std::move(jc));
    }
    for (const auto& s : t.sets) {
      json els = json::array();
      for (const auto& e : s.elements) {
        json je = {{"key", Hex(e.key)},          {"key_end", Hex(e.key_end)}, {"flags", e.flags},
                   {"data", Hex(e.data)},        {"chain", e.chain},          {"objref", e.objref},
                   {"timeout_ms", e.timeout_ms}, {"comment", e.comment}};
        if (e.verdict) je["verdict"] = *e.verdict;
        json ex = json::array();
        for (const auto& x : e.exprs) ex.push_back(ExprToJson(x));
        je["exprs"] = ex;
        els.push_back(std::move(je));
      }
      json ex = json::array();
      for (const auto& x : s.exprs) ex.push_back(ExprToJson(x));
      sets.push_back({{"name", s.name},
                      {"handle", s.handle},
                      {"flags", s.flags},
                      {"key_type", s.key_type},
                      {"key_len", s.key_len},
                      {"data_type", s.data_type},
                      {"data_len", s.data_len},
                      {"obj_type", s.obj_type},
                      {"policy", s.policy},
                      {"desc_size", s.desc_size},
                      {"timeout_ms", s.timeout_ms},
                      {"gc_interval_ms", s.gc_interval_ms},
                      {"field_lengths", s.field_lengths},
                      {"userdata", Hex(s.userdata)},
                      {"exprs", ex},
                      {"elements", els}});
    }
    for (const auto& o : t.objects) {
      objects.push_back({{"name", o.name},
                         {"handle", o.handle},
                         {"type", o.type},
                         {"comment", o.comment},
                         {"attrs", AttrsToJson(o.attrs)}});
    }
    tables.push_back({{"family", static_cast<int>(t.family)},
                      {"name", t.name},
                      {"handle", t.handle},
                      {"flags", t.flags},
                      {"comment", t.comment},
                      {"chains", chains},
                      {"sets", sets},
                      {"objects", objects}});
  }
  json ifs = json::object();
  for (const auto& [i, n] : interfaces) ifs[std::to_string(i)] = n;
  return {{"tables", tables}, {"interfaces", ifs}};
}

RulesetFixture RulesetFromJson(const json& j) {
  RulesetFixture f;
  for (const auto& jt : j["tables"]) {
    nft::Table t;
    t.family = static_cast<nft::Family>(jt["family"].get<int>());
    t.name = jt["name"];
    t.handle = jt["handle"];
    t.flags = jt["flags"];
    t.comment = jt["comment"];
    for (const auto& jc : jt["chains"]) {
      nft::Chain c;
      c.name = jc["name"];
      c.handle = jc["handle"];
      c.flags = jc["flags"];
      c.comment = jc["comment"];
      if (jc.contains("base")) {
        const json& b = jc["base"];
        c.base = nft::BaseChain{b["type"], b["hook"], b["priority"], b["policy"],
                                b["devices"].get<std::vector<std::string>>()};
      }
      for (const auto& jr : jc["rules"]) {
        nft::Rule r;
        r.handle = jr["handle"];
        r.position = jr["position"];
        r.comment = jr["comment"];
        for (const auto& e : jr["exprs"]) r.exprs.push_back(ExprFromJson(e));
        c.rules.push_back(std::move(r));
      }
      t.chains.push_back(std::move(c));
    }
    for (const auto& js : jt["sets"]) {
      nft::Set s;
      s.name = js["name"];
      s.handle = js["handle"];
      s.flags = js["flags"];
      s.key_type = js["key_type"];
      s.key_len = js["key_len"];
      s.data_type = js["data_type"];
      s.data_len = js["data_len"];
      s.obj_type = js["obj_type"];
      s.policy = js["policy"];
      s.desc_size = js["desc_size"];
      s.timeout_ms = js["timeout_ms"];
      s.gc_interval_ms = js["gc_interval_ms"];
      s.field_lengths = js["field_lengths"].get<std::vector<uint8_t>>();
      s.userdata = Unhex(js["userdata"]);
      for (const auto& x : js["exprs"]) s.exprs.push_back(ExprFromJson(x));
      for (const auto& je : js["elements"]) {
        nft::SetElement e;
        e.key = Unhex(je["key"]);
        e.key_end = Unhex(je["key_end"]);
        e.flags = je["flags"];
        e.data = Unhex(je["data"]);
        e.chain = je["chain"];
        e.objref = je["objref"];
        e.timeout_ms = je["timeout_ms"];
        e.comment = je["comment"];
        if (je.contains("verdict")) e.verdict = je["verdict"].get<int32_t>();
        for (const auto& x : je["exprs"]) e.exprs.push_back(ExprFromJson(x));
        s.elements.push_back(std::move(e));
      }
      t.sets.push_back(std::move(s));
    }
    for (const auto& jo : jt["objects"]) {
      nft::Object o;
      o.name = jo["name"];
      o.handle = jo["handle"];
      o.type = jo["type"];
      o.comment = jo["comment"];
      o.attrs = AttrsFromJson(jo["attrs"]);
      t.objects.push_back(std::move(o));
    }
    f.ruleset.tables.push_back(std::move(t));
  }
  if (j.contains("interfaces")) {
    for (const auto& [k, v] : j["interfaces"].items()) {
      f.interface_names[static_cast<uint32_t>(std::stoul(k))] = v.get<std::string>();
    }
  }
  return f;
}

std::string FixturePath(const std::string& name, const std::string& ext) {
  return std::string(FWGATE_SOURCE_DIR) + "/tests/data/traffic/" + name + "." + ext;
}

RulesetFixture LoadFixture(const std::string& name) {
  std::ifstream in(FixturePath(name, "json"));
  if (!in) {
    std::fprintf(stderr, "missing fixture %s\n", FixturePath(name, "json").c_str());
    std::abort();
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return RulesetFromJson(json::parse(ss.str()));
}

}  // namespace fwgate::testing
