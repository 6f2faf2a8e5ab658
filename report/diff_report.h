// Renderings of a diff plan: a human plan (like `terraform plan`) and the stable JSON contract.
// Pure functions; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "gate/diff/diff.h"

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

}  // namespace fwgate::report
