#include "report/diff_report.h"

#include <fmt/format.h>

namespace fwgate::report {

using namespace fwgate::diff;  // the plan types rendered here
namespace {

constexpr std::string_view kReset = "\x1b[0m";
constexpr std::string_view kBold = "\x1b[1m";

std::string_view OpColour(Op op) {
  switch (op) {
    case Op::kAdd:
      return "\x1b[32m";
    case Op::kRemove:
      return "\x1b[31m";
    case Op::kChange:
      return "\x1b[33m";
    case Op::kMove:
      return "\x1b[36m";
  }
  return "";
}

char OpMark(Op op) {
  switch (op) {
    case Op::kAdd:
      return '+';
    case Op::kRemove:
      return '-';
    case Op::kChange:
      return '~';
    case Op::kMove:
      return '>';
  }
  return '?';
}

// The context a change is listed under (below its table): its chain or set, or none.
std::string SubContext(const Change& c) {
  switch (c.object) {
    case ObjectKind::kRule:
      return "chain " + c.chain;
    case ObjectKind::kElement:
      return "set " + c.set;
    default:
      return {};
  }
}

}  // namespace

std::string SummaryLine(const Summary& s) {
  if (s.total() == 0) return "No changes.";
  return fmt::format("Plan: {} to add, {} to remove, {} to change, {} to move.", s.add, s.remove,
                     s.change, s.move);
}

std::string PlanToText(const Plan& plan, bool colour) {
  std::string out;
  auto paint = [&](std::string_view code, const std::string& text) {
    return colour ? fmt::format("{}{}{}", code, text, kReset) : text;
  };
  std::string table_ctx, sub_ctx;
  for (const Change& c : plan.changes) {
    std::string t = fmt::format("table {} {}", nft::FamilyName(c.family), c.table);
    if (t != table_ctx) {
      table_ctx = t;
      sub_ctx.clear();
      out += paint(kBold, t) + "\n";
    }
    std::string sub = SubContext(c);
    std::string indent = "  ";
    if (!sub.empty()) {
      if (sub != sub_ctx) out += "  " + paint(kBold, sub) + "\n";
      indent = "    ";
    }
    sub_ctx = sub;
    // A chain or set line is itself the context of the rules/elements listed after it.
    if (c.object == ObjectKind::kChain) sub_ctx = "chain " + c.chain;
    if (c.object == ObjectKind::kSet || c.object == ObjectKind::kMap) sub_ctx = "set " + c.set;
    std::string line =
        fmt::format("{}{} {}", indent, OpMark(c.op), c.op == Op::kChange ? c.before : c.text);
    if (c.op == Op::kMove && c.index_before && c.index_after) {
      line += fmt::format("  (moved from #{} to #{})", *c.index_before + 1, *c.index_after + 1);
    }
    if (c.op == Op::kChange && c.object != ObjectKind::kRule && c.object != ObjectKind::kElement) {
      // Declarations: name the object, then its attributes before and after.
      auto or_nothing = [](const std::string& s) { return s.empty() ? "(nothing)" : s; };
      line = fmt::format("{}~ {}", indent, c.text.substr(0, c.text.find(" { ")));
      out += paint(OpColour(c.op), line) + "\n";
      out += paint(OpColour(c.op), fmt::format("{}    {}", indent, or_nothing(c.before))) + "\n";
      out += paint(OpColour(c.op), fmt::format("{}  → {}", indent, or_nothing(c.after))) + "\n";
      continue;
    }
    out += paint(OpColour(c.op), line) + "\n";
    if (c.op == Op::kChange) {
      out += paint(OpColour(c.op), fmt::format("{}→ {}", indent, c.after)) + "\n";
    }
  }
  if (!plan.changes.empty()) out += "\n";
  out += SummaryLine(plan.summary) + "\n";
  return out;
}

nlohmann::json PlanToJson(const Plan& plan) {
  nlohmann::json changes = nlohmann::json::array();
  for (const Change& c : plan.changes) {
    nlohmann::json j;
    j["op"] = OpName(c.op);
    j["object"] = ObjectKindName(c.object);
    j["family"] = nft::FamilyName(c.family);
    j["table"] = c.table;
    if (c.object == ObjectKind::kChain || c.object == ObjectKind::kRule) j["chain"] = c.chain;
    if (c.object == ObjectKind::kSet || c.object == ObjectKind::kMap ||
        c.object == ObjectKind::kElement) {
      j["set"] = c.set;
    }
    if (!c.name.empty()) j["name"] = c.name;
    j["text"] = c.text;
    if (c.op == Op::kChange) {
      j["before"] = c.before;
      j["after"] = c.after;
    }
    if (c.handle) j["handle"] = *c.handle;
    if (c.index_before) j["index_before"] = *c.index_before;
    if (c.index_after) j["index_after"] = *c.index_after;
    changes.push_back(std::move(j));
  }
  return {{"changes", std::move(changes)},
          {"summary",
           {{"add", plan.summary.add},
            {"remove", plan.summary.remove},
            {"change", plan.summary.change},
            {"move", plan.summary.move}}}};
}

}  // namespace fwgate::report

namespace fwgate::report {
namespace {

using traffic::Region;
using traffic::RuleCite;
using traffic::SideOutcome;
using traffic::VerdictKind;

std::string FamilyText(int family) { return family == 4 ? "ipv4" : family == 6 ? "ipv6" : "any"; }

std::string CiteText(const RuleCite& c) {
  std::string where = c.location && c.location->known() ? " (" + c.location->ToString() + ")" : "";
  if (!c.handle) {
    return fmt::format("{} of {} {} {}{}", c.text, nft::FamilyName(c.family), c.table, c.base_chain,
                       where);
  }
  return fmt::format("`{}`{}", c.text, where);
}

// The decisions that explain a verdict: the final one for a drop, the rule accepts (or the
// policies when no rule accepted) for an accept.
std::string DecisionText(const SideOutcome& s) {
  std::string v(traffic::VerdictName(s.verdict));
  if (s.decided_by.empty()) return v + (s.detail.empty() ? "" : " (" + s.detail + ")");
  std::vector<std::string> parts;
  if (s.verdict != VerdictKind::kAccept) {
    parts.push_back(CiteText(s.decided_by.back()));
  } else {
    for (const auto& c : s.decided_by) {
      if (c.handle) parts.push_back(CiteText(c));
    }
    if (parts.empty()) parts.push_back(CiteText(s.decided_by.back()));
  }
  std::string out = v + " by " + fmt::format("{}", fmt::join(parts, "; "));
  if (s.more_rules > 0) {
    out += fmt::format(" (and {} more rule{})", s.more_rules, s.more_rules == 1 ? "" : "s");
  }
  if (!s.detail.empty()) out += " [" + s.detail + "]";
  return out;
}

nlohmann::json CiteJson(const RuleCite& c) {
  nlohmann::json j = {{"hook", std::string(traffic::HookText(c.hook))},
                      {"family", std::string(nft::FamilyName(c.family))},
                      {"table", c.table},
                      {"base_chain", c.base_chain},
                      {"chain", c.chain},
                      {"policy", !c.handle.has_value()},
                      {"text", c.text},
                      {"verdict", std::string(traffic::VerdictName(c.verdict))}};
  if (c.handle) j["handle"] = *c.handle;
  if (c.location && c.location->known()) j["location"] = c.location->ToString();
  return j;
}

nlohmann::json SideJson(const SideOutcome& s) {
  nlohmann::json by = nlohmann::json::array(), also = nlohmann::json::array();
  for (const auto& c : s.decided_by) by.push_back(CiteJson(c));
  for (const auto& c : s.also_decided_by) also.push_back(CiteJson(c));
  return {{"verdict", std::string(traffic::VerdictName(s.verdict))},
          {"detail", s.detail},
          {"decided_by", std::move(by)},
          {"also_decided_by", std::move(also)},
          {"more_rules", s.more_rules}};
}

nlohmann::json ExampleJson(const Region& r) {
  using traffic::Field;
  const traffic::Packet& p = r.example;
  bool v6 = p.Get(Field::kNfproto) == traffic::kNfprotoIpv6;
  auto l4 = static_cast<uint32_t>(p.Get(Field::kL4proto));
  nlohmann::json j = {
      {"family", v6 ? "ipv6" : "ipv4"},
      {"l4proto", traffic::L4protoName(l4)},
      {"saddr",
       v6 ? traffic::Ipv6Text(p.Get(Field::kSaddr6)) : traffic::Ipv4Text(p.Get(Field::kSaddr4))},
      {"daddr",
       v6 ? traffic::Ipv6Text(p.Get(Field::kDaddr6)) : traffic::Ipv4Text(p.Get(Field::kDaddr4))},
      {"iifname", traffic::IfnameText(p.Get(Field::kIifname))},
      {"oifname", traffic::IfnameText(p.Get(Field::kOifname))},
      {"mark", static_cast<uint64_t>(p.Get(Field::kMark))},
      {"pkttype", traffic::PkttypeName(static_cast<uint32_t>(p.Get(Field::kPkttype)))},
      {"ct_state",
       std::string(traffic::CtStateName(static_cast<uint32_t>(p.Get(Field::kCtState))))},
      {"text", r.example_text}};
  if (l4 == 1 || l4 == 58) {
    auto tc = static_cast<uint32_t>(p.Get(Field::kSport));
    j["icmp_type"] = tc >> 8;
    j["icmp_code"] = tc & 0xff;
  } else {
    j["sport"] = static_cast<uint32_t>(p.Get(Field::kSport));
    j["dport"] = static_cast<uint32_t>(p.Get(Field::kDport));
  }
  if (l4 == 6)
    j["tcp_flags"] = traffic::TcpFlagsText(static_cast<uint32_t>(p.Get(Field::kTcpFlags)));
  return j;
}

nlohmann::json FieldsJson(const std::vector<traffic::FieldValues>& fields) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& f : fields) {
    a.push_back({{"field", f.field}, {"any_of", f.any_of}, {"except", f.except}});
  }
  return a;
}

nlohmann::json Parts(const std::vector<std::string>& texts,
                     const std::vector<std::vector<traffic::FieldValues>>& fields) {
  nlohmann::json a = nlohmann::json::array();
  for (size_t i = 0; i < texts.size(); ++i) {
    a.push_back({{"predicate", texts[i]},
                 {"match", i < fields.size() ? FieldsJson(fields[i]) : nlohmann::json::array()}});
  }
  return a;
}

nlohmann::json ConfirmJson(const traffic::Confirmation& c) {
  nlohmann::json j = {{"status", std::string(traffic::ConfirmStatusName(c.status))},
                      {"kernel_rule", c.kernel_rule},
                      {"detail", c.detail}};
  if (c.kernel_verdict) j["kernel_verdict"] = std::string(traffic::VerdictName(*c.kernel_verdict));
  return j;
}

std::string ConfirmText(const std::optional<traffic::Confirmation>& c, const char* side) {
  if (!c) return {};
  std::string s = fmt::format("{} {}", side, traffic::ConfirmStatusName(c->status));
  if (c->kernel_verdict)
    s += fmt::format(" (kernel: {})", traffic::VerdictName(*c->kernel_verdict));
  if (!c->detail.empty() && c->status != traffic::ConfirmStatus::kConfirmed) s += ": " + c->detail;
  return s;
}

}  // namespace

std::string TrafficToText(const traffic::TrafficDiff& d, bool colour) {
  auto paint = [&](std::string_view code, const std::string& text) {
    return colour ? fmt::format("{}{}{}", code, text, kReset) : text;
  };
  std::string out;
  if (d.regions.empty()) {
    out +=
        d.complete ? "No traffic changes.\n" : "No traffic changes found in what fwgate models.\n";
    for (const auto& n : d.notes) out += "  note: " + n + "\n";
    return out;
  }
  out += paint(kBold, "Traffic that changes:") + "\n";
  std::string heading;
  size_t certain = 0;
  for (const Region& r : d.regions) {
    if (r.certain) ++certain;
    std::string h =
        fmt::format("{} {}: {}", traffic::PathName(r.path), FamilyText(r.family), r.predicate);
    if (h != heading) {
      heading = h;
      out += "  " + paint(kBold, h) + "\n";
    }
    bool worse =
        r.before.verdict == VerdictKind::kAccept && r.after.verdict != VerdictKind::kAccept;
    std::string_view code = !r.certain ? "\x1b[35m" : worse ? "\x1b[31m" : "\x1b[32m";
    std::string line =
        fmt::format("[{}] ct state {}: {} -> {}", r.id, traffic::CtStateName(r.ct_state),
                    traffic::VerdictName(r.before.verdict), traffic::VerdictName(r.after.verdict));
    if (!r.certain) line += " (may change)";
    out += "    " + paint(code, line) + "  " + r.consequence + "\n";
    out += "         before: " + DecisionText(r.before) + "\n";
    out += "         after:  " + DecisionText(r.after) + "\n";
    for (const auto& dep : r.depends_on) out += "         depends on: " + dep + "\n";
    out += "         example: " + r.example_text + "\n";
    std::string c0 = ConfirmText(r.confirm[0], "current"),
                c1 = ConfirmText(r.confirm[1], "proposed");
    if (!c0.empty() || !c1.empty()) {
      out += "         kernel: " + c0 + (c0.empty() || c1.empty() ? "" : "; ") + c1 + "\n";
    }
  }
  for (const auto& n : d.notes) out += "  note: " + n + "\n";
  out += fmt::format("\nTraffic: {} region{} change{} ({} certain, {} may change).\n",
                     d.regions.size(), d.regions.size() == 1 ? "" : "s",
                     d.regions.size() == 1 ? "s" : "", certain, d.regions.size() - certain);
  return out;
}

nlohmann::json TrafficToJson(const traffic::TrafficDiff& d) {
  nlohmann::json regions = nlohmann::json::array();
  size_t certain = 0;
  std::map<std::string, size_t> by_state;
  for (const Region& r : d.regions) {
    if (r.certain) ++certain;
    std::string st(traffic::CtStateName(r.ct_state));
    ++by_state[st];
    nlohmann::json match = nlohmann::json::array();
    for (const auto& f : r.match) {
      match.push_back({{"field", f.field}, {"any_of", f.any_of}, {"except", f.except}});
    }
    nlohmann::json j = {{"id", r.id},
                        {"path", std::string(traffic::PathName(r.path))},
                        {"family", FamilyText(r.family)},
                        {"ct_state", st},
                        {"predicate", r.predicate},
                        {"match", std::move(match)},
                        {"except", Parts(r.except, r.except_match)},
                        {"new_only", Parts(r.new_only, r.new_only_match)},
                        {"before", SideJson(r.before)},
                        {"after", SideJson(r.after)},
                        {"certain", r.certain},
                        {"depends_on", r.depends_on},
                        {"consequence", r.consequence},
                        {"example", ExampleJson(r)},
                        {"as_new",
                         {{"before", std::string(traffic::VerdictName(r.as_new.first))},
                          {"after", std::string(traffic::VerdictName(r.as_new.second))}}},
                        {"as_established",
                         {{"before", std::string(traffic::VerdictName(r.as_established.first))},
                          {"after", std::string(traffic::VerdictName(r.as_established.second))}}}};
    if (r.confirm[0] || r.confirm[1]) {
      nlohmann::json c = nlohmann::json::object();
      if (r.confirm[0]) c["current"] = ConfirmJson(*r.confirm[0]);
      if (r.confirm[1]) c["proposed"] = ConfirmJson(*r.confirm[1]);
      j["confirm"] = std::move(c);
    }
    regions.push_back(std::move(j));
  }
  nlohmann::json states = nlohmann::json::object();
  for (const auto& [k, v] : by_state) states[k] = v;
  return {{"complete", d.complete},
          {"notes", d.notes},
          {"regions_total", d.regions_total},
          {"summary",
           {{"regions", d.regions.size()},
            {"certain", certain},
            {"uncertain", d.regions.size() - certain},
            {"by_state", std::move(states)}}},
          {"regions", std::move(regions)}};
}

}  // namespace fwgate::report
