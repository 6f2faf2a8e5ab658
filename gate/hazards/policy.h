// Policy findings on a change: the second rule table of the knowledge base, over (plan, current,
// proposed). Each rule has an id, a severity, the documented fact it rests on, an explanation and
// a fix; findings about a rule carry its FILE:LINE:COL (in the proposed file, with the current
// file's place as a related location). Pure functions of plain values; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/finding.h"
#include "base/ruleset.h"
#include "gate/diff/diff.h"
#include "gate/diff/traffic.h"
#include "gate/hazards/findings.h"
#include "gate/nft/rule_locations.h"

namespace fwgate::hazards {

struct PolicyInput {
  const nft::Ruleset* current = nullptr;
  const nft::SourceMap* current_sources = nullptr;  // may be empty (a live ruleset)
  const nft::Ruleset* proposed = nullptr;
  const nft::SourceMap* proposed_sources = nullptr;
  const diff::Plan* plan = nullptr;
  // The proposed file's first statement is `flush ruleset` (it replaces every table).
  bool proposed_flushes_ruleset = true;
  // The proposed file is an iptables-restore file: it replaces exactly the tables it names and
  // leaves every other table alone, so neither flush finding applies.
  bool proposed_replaces_own_tables = false;
  std::string proposed_file;  // for findings about the file as a whole
  // Rulesets the nodes really have (the live ruleset, or probed nodes'), for tables other
  // software keeps there; empty when unknown.
  std::vector<std::pair<std::string, nft::Ruleset>> live;  // node name -> ruleset
  // The traffic comparison of current and proposed (traffic::CompareTraffic over `plan`), when
  // computed. Where it decides a rule, the finding comes from it: confirmed and carrying its
  // regions and example packets, dropped when no packet is treated as the rule says (an
  // equivalent rewrite), or added when the text heuristics missed it (docs/traffic-diff.md).
  const traffic::TrafficDiff* traffic = nullptr;
};

// The policy rule table (for docs and --help).
[[nodiscard]] std::vector<FindingRule> PolicyRules();

// Findings, most severe first. A change that touches only comments or counters, or (with the
// traffic comparison, complete) treats no packet differently, gets the single info finding
// "harmless-change".
[[nodiscard]] std::vector<Finding> JudgeChange(const PolicyInput& input);

// Software whose tables a `flush ruleset` would delete, recognised by table (and chain) names:
// "Docker", "kube-proxy", "libvirt", "tailscale", "fail2ban", "firewalld", "iptables-nft";
// empty when not recognised.
[[nodiscard]] std::string ForeignTableOwner(const nft::Table& table);

// Text helpers over canonical nft rule text (what gate/nft/printer.h prints), exposed for tests.
struct RuleShape {
  enum class Verdict { kNone, kAccept, kDrop, kReject, kJump, kGoto, kReturn, kOther };
  Verdict verdict = Verdict::kNone;
  std::string target;                  // jump/goto target
  std::vector<std::string> ct_states;  // values of a `ct state` match ("established", "new")
  bool ct_state_negated = false;
  bool matches = false;            // any match besides `ct state` (ports, addresses, interfaces...)
  bool source_restricted = false;  // saddr, iif/iifname, a source set
  std::vector<std::string> dports;  // literal ports/ranges or "@set" names of a dport match
  bool dport_negated = false;
};
[[nodiscard]] RuleShape ShapeOf(const std::string& rule_text);

}  // namespace fwgate::hazards
