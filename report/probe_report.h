// Renderings of probe results: the operator's table, the JSON contract (read back by --from) and
// Prometheus text exposition under fwgate's own names (safe beside node_exporter). Every string
// from outside is made valid UTF-8 (JSON), escaped (terminal, Prometheus). Pure; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/result.h"
#include "gate/hazards/findings.h"
#include "gate/probe/facts.h"
#include "gate/probe/probe_json.h"

namespace fwgate::report {

struct ProbeResults {
  std::vector<probe::NodeFacts> nodes;
  std::vector<std::vector<hazards::Finding>> node_findings;  // parallel to nodes
  std::vector<hazards::Finding> fleet_findings;
  hazards::FindingsConfig config;
};

// Judges every node and the fleet.
[[nodiscard]] ProbeResults Judge(std::vector<probe::NodeFacts> nodes,
                                 const hazards::FindingsConfig& config = {});

// {"schema_version":1,"nodes":[{"name","state","reachable","readable","error","kernel",
// "kernel_class","sysctls":{..},"conntrack":{"count","max","buckets"},"stats":{..},
// "findings":[{"id","severity","message","source","undecided","fix","fix_commands",
// "fix_config"}],"restart_storm":{..},...}],"fleet_findings":[...]}. Keys are only ever added;
// docs/schemas/probe.schema.json describes them. Every string is valid UTF-8.
inline constexpr int kProbeSchemaVersion = 1;
[[nodiscard]] nlohmann::json ProbeJson(const ProbeResults& results);

// `j` with every string and key made valid UTF-8 (invalid bytes become U+FFFD).
void MakeValidUtf8(nlohmann::json& j);

// Table, at most 100 columns wide: one row per node (name, kernel, class, be_liberal, count/max,
// worst finding and count), the findings every reachable node shares (once), each node's own
// findings with their fixes, then the fleet findings. Undecided findings show as [undecided].
[[nodiscard]] std::string ProbeTable(const ProbeResults& results);

// Prometheus text format 0.0.4, every family prefixed fwgate_ (none collides with
// node_exporter's own): probe success, conntrack entries/limit/stats, be_liberal, loose,
// buckets, kernel class, restart-storm estimate and plan, and one series per finding.
[[nodiscard]] std::string ProbePrometheus(const ProbeResults& results);

}  // namespace fwgate::report
