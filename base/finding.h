// Findings: one thing a stage found, with an id, a severity, the documented kernel fact it rests
// on, where in a ruleset it is (when it is about a rule) and what to do about it. Every stage
// (node rules, policy rules, reload lint, replay) reports findings of this one type.
// Plain values; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fwgate {

enum class Severity { kInfo, kWarning, kBlocking };
[[nodiscard]] std::string_view SeverityName(Severity s);  // "info" | "warning" | "blocking"
[[nodiscard]] std::optional<Severity> SeverityFromName(std::string_view name);

// A place in a source file. Lines and columns are 1-based everywhere fwgate prints or writes
// them (text and JSON alike); 0 means unknown.
struct SourceLocation {
  std::string file;
  int line = 0;
  int column = 0;
  int end_line = 0;  // last line of the construct (multi-line rules); 0 when unknown
  [[nodiscard]] bool known() const { return !file.empty() && line > 0; }
  // "FILE:LINE:COL" ("FILE:LINE" without a column, "FILE" without a line).
  [[nodiscard]] std::string ToString() const;
  bool operator==(const SourceLocation&) const = default;
};

// Another place a finding concerns ("removed here, in origin/main:fw/storage.nft:12").
struct RelatedLocation {
  SourceLocation where;
  std::string message;
  bool operator==(const RelatedLocation&) const = default;
};

// What the traffic comparison (gate/diff/traffic.h) shows behind a policy finding: one region of
// packets whose verdict changes, readable, with one example packet.
struct TrafficEvidence {
  std::string region;         // "t3", the region's id in the diff's traffic section
  std::string path;           // "input", "forward", "output"
  int family = 0;             // 4, 6, or 0 for both
  std::string ct_state;       // "new", "established", ...
  std::string predicate;      // "tcp to ports 6800-7300"
  std::string before, after;  // verdicts: "accept", "drop", ...
  std::string example;        // one packet of the region
  bool certain = true;        // false: depends on what the comparison does not model
  bool operator==(const TrafficEvidence&) const = default;
};

struct Finding {
  std::string id;  // stable, kebab-case ("established-accept-lost")
  Severity severity = Severity::kInfo;
  std::string message;
  // The documented fact it rests on: "docs/kernel-conntrack.md §3.4" (cited sections exist;
  // tests/unit/docs_citation_test.cpp checks it).
  std::string source;
  // The fact needed to decide was missing: the answer is "undecided", never pass.
  bool undecided = false;
  // The rule or line the finding is about, in the proposed ruleset when there is one (what CI
  // annotates); `related` holds other places (the removed rule in the current ruleset).
  std::optional<SourceLocation> location;
  std::vector<RelatedLocation> related;
  std::string fix;                        // what to do, in words
  std::vector<std::string> fix_commands;  // commands that apply the fix now
  std::vector<std::string> fix_config;    // lines that make it persistent ("FILE: line")
  std::string node;                       // the node it is about; empty for fleet/ruleset
  std::string stage;                      // the stage that found it (check); empty elsewhere
  // Policy findings decided by the traffic comparison: the regions behind them.
  std::vector<TrafficEvidence> traffic;
};

}  // namespace fwgate
