// Renderings of probe results: the operator's table, the JSON contract (read back by --from) and
// Prometheus text exposition reusing node_exporter metric names. Pure; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/result.h"
#include "gate/hazards/findings.h"
#include "gate/probe/facts.h"

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

// {"nodes":[{"name","reachable","error","kernel","kernel_class","sysctls":{..},"conntrack":
// {"count","max","buckets"},"stats":{..},"findings":[{"id","severity","message","source"}],...}],
// "fleet_findings":[...]}. Keys are only ever added.
[[nodiscard]] nlohmann::json ProbeJson(const ProbeResults& results);

// One node back from its JSON object (as ProbeJson wrote it, from any fleet tool). Findings in
// the input are ignored: they are recomputed from the facts.
[[nodiscard]] Result<probe::NodeFacts> NodeFactsFromJson(const nlohmann::json& node);

// Every *.json file of `dir` (one node per file, or a whole ProbeJson document). A file that
// cannot be parsed becomes an unreachable node named after the file, with the reason.
// Error only when the directory itself cannot be read.
[[nodiscard]] Result<std::vector<probe::NodeFacts>> LoadProbeDir(const std::string& dir);

// Table: one row per node (name, kernel, class, be_liberal, count/max, worst finding), then the
// findings, then the fleet findings.
[[nodiscard]] std::string ProbeTable(const ProbeResults& results);

// Prometheus text format 0.0.4.
[[nodiscard]] std::string ProbePrometheus(const ProbeResults& results);

}  // namespace fwgate::report
