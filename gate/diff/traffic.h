// Traffic-level comparison of two rulesets: which packets change verdict, per path (input,
// forward, output), family and conntrack state, as readable regions with the rules that decide
// them before and after and one concrete example packet each. Exact over the modelled header
// space (gate/diff/header_space.h); whatever the model cannot decide is reported as "may change"
// with the condition it depends on, never as a silent answer. Also the queries the policy layer
// (`fwgate check`) asks. Pure; a call is single-threaded, separate calls are independent.
//
// Method (docs/traffic-diff.md): the structural plan names what changed (rules, set elements,
// chain headers, tables); the packets those changes can affect form the region evaluated; both
// rulesets are evaluated symbolically over it (gate/diff/evaluate.h) and the results compared
// pairwise; pieces with the same before/after outcome are merged into regions.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/finding.h"
#include "base/ruleset.h"
#include "gate/diff/diff.h"
#include "gate/diff/evaluate.h"
#include "gate/diff/header_space.h"
#include "gate/diff/rule_model.h"
#include "gate/nft/rule_locations.h"

namespace fwgate::traffic {

// The rule (or policy) that ended one base chain for a region.
struct RuleCite {
  Hook hook = Hook::kInput;
  nft::Family family = nft::Family::kInet;
  std::string table;
  std::string base_chain;          // the base chain it decided
  std::string chain;               // where the rule is (a chain jumped to, or the base chain)
  std::optional<uint64_t> handle;  // absent: the base chain's policy
  std::string text;                // the rule in nft syntax, or "policy drop"
  std::optional<SourceLocation> location;
  VerdictKind verdict = VerdictKind::kAccept;
};

struct SideOutcome {
  VerdictKind verdict = VerdictKind::kAccept;
  std::string detail;                // unknown and queue verdicts: what
  std::vector<RuleCite> decided_by;  // every base chain on the path, in order (of one packet)
  // Other rules that gave the same verdict to other packets of the region (at most 8 listed;
  // more_rules counts them all).
  std::vector<RuleCite> also_decided_by;
  size_t more_rules = 0;
};

// One field of a region's predicate, readable: values it takes (any_of), or all but some
// (except, with any_of then the hull the exceptions are cut from, or empty for "any").
struct FieldValues {
  std::string field;  // "saddr", "daddr", "dport", "sport", "l4proto", "icmp_type", "iifname",
                      // "oifname", "tcp_flags", "mark", "pkttype", "family"
  std::vector<std::string> any_of;
  std::vector<std::string> except;
};

// The kernel's answer for one example packet on one ruleset (filled by --confirm).
enum class ConfirmStatus { kConfirmed, kDefect, kUnconfirmed };
[[nodiscard]] std::string_view ConfirmStatusName(ConfirmStatus s);  // "confirmed", ...
struct Confirmation {
  ConfirmStatus status = ConfirmStatus::kUnconfirmed;
  std::optional<VerdictKind> kernel_verdict;  // what the kernel did, when observed
  std::string kernel_rule;                    // "inet storage input handle 7" when traced
  std::string detail;                         // why unconfirmed, or what disagreed
};

struct Region {
  std::string id;  // "t1", "t2", ... in report order
  Path path = Path::kInput;
  int family = 0;         // 4, 6, or 0 for both
  uint32_t ct_state = 0;  // one CtState bit
  Space boxes;            // the packets (each box: one ct state)
  // Readable, without the ct state: the match, then " except " and the excluded parts
  // ("all traffic except in on \"lo\"; tcp to ports 80, 443").
  std::string predicate;
  std::vector<FieldValues> match;                      // the match (the hull of the boxes)
  std::vector<std::string> except;                     // excluded parts, readable
  std::vector<std::vector<FieldValues>> except_match;  // and as fields
  SideOutcome before, after;
  bool certain = true;                  // false: depends on conditions fwgate does not model
  std::vector<std::string> depends_on;  // those conditions
  std::string consequence;              // what it means for the user ("open connections ... cut")
  Packet example;                       // one packet of the region
  std::string example_text;
  // The same packets in the new and established states: verdicts before and after (unknown when
  // they differ inside the region).
  std::pair<VerdictKind, VerdictKind> as_new{}, as_established{};
  // Established-cut regions: the parts whose new connections the proposed ruleset still accepts
  // (ports open for new connections only), readable and as fields and boxes.
  std::vector<std::string> new_only;
  std::vector<std::vector<FieldValues>> new_only_match;
  Space new_only_boxes;
  std::array<std::optional<Confirmation>, 2> confirm;  // [0] current, [1] proposed
};

struct TrafficDiff {
  std::vector<Region> regions;
  // What was not compared or was cut short ("bridge table x is not modelled", budget hits).
  std::vector<std::string> notes;
  bool complete = true;  // false: notes above, or regions beyond max_regions left out
  size_t regions_total = 0;
  [[nodiscard]] bool empty() const { return regions.empty(); }
};

struct TrafficOptions {
  const nft::SourceMap* current_sources = nullptr;
  const nft::SourceMap* proposed_sources = nullptr;
  std::map<uint32_t, std::string> current_interfaces;  // iif/oif index -> name per load
  std::map<uint32_t, std::string> proposed_interfaces;
  size_t max_regions = 256;
  EvalOptions eval;
};

// Compares `current` and `proposed` at the traffic level. `plan` is their structural diff
// (DiffRulesets): it names what changed, and only packets those changes can affect are
// evaluated (an equal pair of rulesets costs nothing).
[[nodiscard]] TrafficDiff CompareTraffic(const nft::Ruleset& current, const nft::Ruleset& proposed,
                                         const diff::Plan& plan,
                                         const TrafficOptions& options = {});

// --- readable forms (shared with the renderers) ---
[[nodiscard]] std::string PredicateText(const Box& box);  // without the ct state
// The fields of `box` that differ from `relative_to` only.
[[nodiscard]] std::string PredicateText(const Box& box, const Box& relative_to);
[[nodiscard]] std::vector<FieldValues> PredicateFields(const Box& box);
[[nodiscard]] std::string PacketText(const Packet& p, Path path);
// A packet of `box` on `path` with ordinary values where the box allows (documentation
// addresses, ports 40000 -> service, SYN for new TCP and ACK otherwise, interface eth0...).
[[nodiscard]] Packet ExamplePacket(const Box& box, Path path);

// --- queries for the policy layer (`fwgate check`); each returns regions of `diff` ---

// Open connections cut: ct state established (or related) accepted before, dropped or rejected
// after.
[[nodiscard]] std::vector<const Region*> EstablishedCut(const TrafficDiff& diff);
// Whether one region is such a cut.
[[nodiscard]] bool IsEstablishedCut(const Region& r);
// New connections now accepted that were dropped or rejected; with `any_source`, only where
// the source address is unconstrained ("opened to any source").
[[nodiscard]] std::vector<const Region*> NewlyAccepted(const TrafficDiff& diff,
                                                       bool any_source = false);
// The policy opened: regions where the deciding step after is a base chain's accept policy
// (or a rule accepting everything) and packets were dropped before.
[[nodiscard]] std::vector<const Region*> PolicyOpened(const TrafficDiff& diff);
// Established traffic now dropped while new connections to the same packets are accepted: the
// ports that accept only new connections.
struct NewOnlyPort {
  const Region* region = nullptr;  // the established-cut region
  std::string predicate;           // what is accepted only while new ("tcp to ports 6800-7300")
  std::vector<std::string> ports;  // its destination ports ("6800-7300")
};
[[nodiscard]] std::vector<NewOnlyPort> NewOnlyPorts(const TrafficDiff& diff);

}  // namespace fwgate::traffic
