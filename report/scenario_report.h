// Renders a lab scenario's result (simulator/scenarios/run.h): the JSON contract (keys only ever
// added), the human text and a Markdown page with the runs side by side and their timelines.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "simulator/scenarios/run.h"
#include "simulator/scenarios/scenario.h"

namespace fwgate::report {

inline constexpr int kScenarioSchemaVersion = 1;

// {"schema_version", "scenario", "title", "verdict", "reason", "took_ms",
//  "runs":[{name, description, expected, observed, as_expected, "reload"|"storm": {...}}]}.
// A storm run carries budget, fill, peak_entries, drops, early_drops, insert_failed,
// table_full_lines, counters, recovery_ms, estimate and the sampled timeline.
[[nodiscard]] nlohmann::json ScenarioToJson(const scenarios::ScenarioResult& result);

// One block per run (expected, observed, a few figures) and the verdict in one line.
[[nodiscard]] std::string ScenarioToText(const scenarios::ScenarioResult& result);

// The same as a Markdown page: a table of runs side by side and, per storm run, its timeline.
[[nodiscard]] std::string ScenarioToMarkdown(const scenarios::ScenarioResult& result);

// A self-contained HTML page (inline SVG, no scripts, no external resources): the runs side by
// side and, per storm run, a chart of the node's entries against its budget over time with the
// drops marked.
[[nodiscard]] std::string ScenarioToHtml(const scenarios::ScenarioResult& result);

// One storm run alone (also `fwgate replay --restart`): the run's object of the JSON above, and
// its text block (table, conntrack counters, connects, the estimate beside the lab).
[[nodiscard]] nlohmann::json StormRunToJson(const scenarios::StormRunResult& run);
[[nodiscard]] std::string StormRunToText(const scenarios::StormRunResult& run);

// `fwgate lab list`: one line per scenario with its runs.
[[nodiscard]] std::string ScenarioListText(const std::vector<scenarios::Scenario>& table);
[[nodiscard]] nlohmann::json ScenarioListJson(const std::vector<scenarios::Scenario>& table);

}  // namespace fwgate::report
