// Renderings of a gate run (check/check.h): every format `fwgate check --format` writes. Pure
// functions of the report; thread-safe. Locations are 1-based everywhere.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "check/check.h"

namespace fwgate::report {

// The operator's summary, read in a minute: verdict first, then blocking findings with their
// fixes, then the plan and the replay table. Lines fit 100 columns.
[[nodiscard]] std::string CheckToText(const check::CheckReport& r, bool colour = false);

// The JSON contract (keys only added), with "schema_version"; docs/schemas/check.schema.json.
[[nodiscard]] nlohmann::json CheckToJson(const check::CheckReport& r);

// JUnit XML: one test case per stage and per node; failures carry the finding text.
[[nodiscard]] std::string CheckToJunit(const check::CheckReport& r);

// SARIF 2.1.0: one result per finding with a location, on the proposed file's lines (paths
// relative to `source_root`, the repository's top level, as %SRCROOT%).
[[nodiscard]] std::string CheckToSarif(const check::CheckReport& r, const std::string& source_root);

// GitHub Actions workflow commands (`::error file=…,line=…,col=…::message`), one per finding.
[[nodiscard]] std::string CheckToGithub(const check::CheckReport& r,
                                        const std::string& source_root);

// Markdown for a pull-request comment or a change ticket.
[[nodiscard]] std::string CheckToMarkdown(const check::CheckReport& r);

// A self-contained HTML page (inline CSS and SVG, no network): verdict, findings, plan, per-node
// table, and throughput per connection class across the reload, baseline and proposed side by
// side, the reload marked.
[[nodiscard]] std::string CheckToHtml(const check::CheckReport& r);

}  // namespace fwgate::report
