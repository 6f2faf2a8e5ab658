// Renderings of a diff plan: a human plan (like `terraform plan`) and the stable JSON contract.
// Pure functions; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "gate/diff/diff.h"
#include "gate/diff/traffic.h"

namespace fwgate::report {

// Human plan. Changes are grouped under context headers, printed only for places that change:
//   table inet storage
//     chain input
//       - ct state established,related accept      (remove)
//       + tcp dport 22 accept                       (add)
//       ~ tcp dport 6800-7300 accept                (change: before, then after)
//         → tcp dport 6800-7568 accept
//       > ip saddr @mons accept (moved from #3 to #1)  (move, at its new place)
//   Plan: 1 to add, 1 to remove, 1 to change, 1 to move.
// "No changes." when the plan is empty. `colour` adds ANSI colours (green add, red remove,
// yellow change, cyan move, bold headers).
[[nodiscard]] std::string PlanToText(const diff::Plan& plan, bool colour = false);

// The JSON contract (keys may be added later, never renamed or removed):
// {"changes":[{"op":"add|remove|change|move",
//              "object":"table|chain|rule|set|map|element|flowtable|object",
//              "family":"inet","table":"storage",
//              "chain":"input"        (chains and rules),
//              "set":"name"           (sets, maps and elements),
//              "name":"..."           (tables, chains, sets, maps, flowtables, objects),
//              "text":"nft syntax"    (proposed side for change/move/add, current for remove),
//              "before":"...","after":"..."        (change only),
//              "handle":N             (current-side handle; absent for adds and elements),
//              "index_before":N,"index_after":N    (rules: 0-based position in the chain)}],
//  "summary":{"add":0,"remove":0,"change":0,"move":0}}
[[nodiscard]] nlohmann::json PlanToJson(const diff::Plan& plan);

// "Plan: 2 to add, 1 to remove, 1 to change, 0 to move." or "No changes."
[[nodiscard]] std::string SummaryLine(const diff::Summary& summary);

// The "traffic that changes" section printed after the plan. Regions with the same path and
// predicate are listed together, one line per conntrack state, each with the deciding rules
// before and after (FILE:LINE where known), the consequence, and its example packet:
//   Traffic that changes:
//     input ipv4: tcp to port 22 from 10.10.0.0/24 except 10.10.0.5
//       [t1] ct state new: accept -> drop  (new connections refused; existing ...)
//            before: accept by `ip saddr @mgmt_nets tcp dport 22 accept` (a.nft:52:3)
//            after:  drop by policy drop of inet storage input (b.nft:44:3)
//            example: tcp 10.10.0.1:40000 -> 198.51.100.1:22 [syn], in on "eth0", ct state new
//   Traffic: 1 region changes (1 certain).
// "No traffic changes." when there is none. With --confirm results, each example says what the
// kernel did.
[[nodiscard]] std::string TrafficToText(const traffic::TrafficDiff& diff, bool colour = false);

// The `traffic` key of the diff JSON contract (docs/traffic-diff.md,
// docs/schemas/diff.schema.json):
// {"complete":bool,"notes":[...],"regions_total":N,
//  "summary":{"regions":N,"certain":N,"uncertain":N,"by_state":{"new":N,...}},
//  "regions":[{"id","path","family","ct_state","predicate","match":[{"field","any_of","except"}],
//              "before":{"verdict","detail","decided_by":[{"hook","family","table",
//                         "base_chain","chain","handle"?,"policy","text","location"?,"verdict"}],
//                        "also_decided_by":[...same...],"more_rules":N},
//              "after":{...},"certain","depends_on":[...],"consequence",
//              "example":{"family","l4proto","saddr","daddr","sport"?,"dport"?,"icmp_type"?,
//                         "icmp_code"?,"tcp_flags"?,"iifname","oifname","mark","pkttype",
//                         "ct_state","text"},
//              "as_new":{"before","after"},"as_established":{"before","after"},
//              "confirm"?:{"current"?:{"status","kernel_verdict"?,"kernel_rule","detail"},
//                          "proposed"?:{...}}}]}
[[nodiscard]] nlohmann::json TrafficToJson(const traffic::TrafficDiff& diff);

}  // namespace fwgate::report
