#include "gate/nft/printer.h"

#include <fmt/format.h>

namespace fwgate::nft {

std::string LowLevelText(const Expr& expr) {
  std::string out = "[" + expr.kind;
  for (const auto& [name, value] : expr.attrs) {
    out += " " + name + "=";
    if (const auto* i = std::get_if<uint64_t>(&value)) {
      out += std::to_string(*i);
    } else if (const auto* s = std::get_if<std::string>(&value)) {
      out += "\"" + *s + "\"";
    } else {
      out += "0x";
      for (uint8_t b : std::get<Bytes>(value)) out += fmt::format("{:02x}", b);
    }
  }
  for (const auto& n : expr.nested) out += " " + LowLevelText(n);
  return out + "]";
}

RuleRendering RenderRule(const Table& /*table*/, const Rule& rule, const PrintOptions& /*opt*/) {
  RuleRendering r;
  r.covered.assign(rule.exprs.size(), false);
  for (const auto& e : rule.exprs) {
    if (!r.text.empty()) r.text += " ";
    r.text += LowLevelText(e);
    ++r.fallback_exprs;
  }
  if (!rule.comment.empty()) r.text += " comment \"" + rule.comment + "\"";
  return r;
}

std::string RuleText(const Table& table, const Rule& rule, const PrintOptions& options) {
  return RenderRule(table, rule, options).text;
}

std::string ChainHeaderText(const Table& table, const Chain& chain) {
  if (!chain.base) return {};
  return fmt::format("type {} hook {} priority {}; policy {};", chain.base->type,
                     HookName(table.family, chain.base->hook), chain.base->priority,
                     chain.base->policy == 0 ? "drop" : "accept");
}

std::vector<std::string> ElementTexts(const Table& /*table*/, const Set& set) {
  std::vector<std::string> out;
  for (const auto& e : set.elements) {
    std::string s = "0x";
    for (uint8_t b : e.key) s += fmt::format("{:02x}", b);
    out.push_back(s);
  }
  return out;
}

std::string SetHeaderText(const Table& /*table*/, const Set& set) {
  return fmt::format("type {}; flags {};", set.key_type, set.flags);
}

std::string FlowtableText(const Table& /*table*/, const Flowtable& ft) {
  return fmt::format("hook {} priority {};", ft.hook, ft.priority);
}

std::string ObjectText(const Table& /*table*/, const Object& obj, const PrintOptions&) {
  return std::string(ObjectTypeName(obj.type)) + " " + obj.name;
}

std::string RulesetText(const Ruleset& ruleset, const PrintOptions& options) {
  std::string out;
  for (const auto& t : ruleset.tables) {
    out += fmt::format("table {} {} {{\n", FamilyName(t.family), t.name);
    for (const auto& c : t.chains) {
      out += fmt::format("\tchain {} {{\n", c.name);
      if (c.base) out += "\t\t" + ChainHeaderText(t, c) + "\n";
      for (const auto& r : c.rules) out += "\t\t" + RuleText(t, r, options) + "\n";
      out += "\t}\n";
    }
    out += "}\n";
  }
  return out;
}

}  // namespace fwgate::nft
