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
