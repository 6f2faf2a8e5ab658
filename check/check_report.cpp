#include "check/check.h"

namespace fwgate::check {

std::string_view StageName(StageId id) {
  switch (id) {
    case StageId::kValidate:
      return "validate";
    case StageId::kPlan:
      return "plan";
    case StageId::kPolicy:
      return "policy";
    case StageId::kReloadLint:
      return "reload-lint";
    case StageId::kFleet:
      return "fleet";
    case StageId::kReplay:
      return "replay";
  }
  return "validate";
}

std::string_view StageQuestion(StageId id) {
  switch (id) {
    case StageId::kValidate:
      return "Do both rulesets load in the kernel?";
    case StageId::kPlan:
      return "What does the change do to the ruleset?";
    case StageId::kPolicy:
      return "Does the change cut open connections or open the node?";
    case StageId::kReloadLint:
      return "Does the way production reloads break connections on these kernels?";
    case StageId::kFleet:
      return "Are the nodes' kernels and conntrack settings safe?";
    case StageId::kReplay:
      return "Do open connections survive the reload in the lab?";
  }
  return "";
}

std::string_view CauseName(Cause c) {
  switch (c) {
    case Cause::kNone:
      return "none";
    case Cause::kChange:
      return "change";
    case Cause::kReloadProcedure:
      return "reload-procedure";
    case Cause::kBoth:
      return "both";
  }
  return "none";
}

std::vector<const Finding*> CheckReport::AllFindings() const {
  std::vector<const Finding*> out;
  for (const auto& s : stages) {
    for (const auto& f : s.findings) out.push_back(&f);
  }
  return out;
}

const StageResult* CheckReport::Stage(StageId id) const {
  for (const auto& s : stages) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

}  // namespace fwgate::check
