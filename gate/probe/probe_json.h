// Probe JSON read back: one node's facts from the JSON `fwgate probe --json` writes (or any
// fleet tool produces in that shape), and a directory of such files. Fails closed: a file that
// cannot be read or parsed, or a field of the wrong type, makes that node unreadable (with the
// reason), never the whole run. Pure parsing plus bounded reads; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/result.h"
#include "gate/probe/facts.h"

namespace fwgate::probe {

// One node back from its JSON object (as ProbeJson wrote it, from any fleet tool). Findings in
// the input are ignored: they are recomputed from the facts. A key of the wrong type is an error
// (the caller makes that node unreadable), never an exception.
[[nodiscard]] Result<NodeFacts> NodeFactsFromJson(const nlohmann::json& node);

// Every *.json entry of `dir` (one node per file, or a whole ProbeJson document). An entry that
// cannot be read or parsed (a broken link, a directory, a FIFO or device, never opened; no
// permission; bad JSON; a node of the wrong shape) becomes an unreadable node named after the
// file, with the reason. Error only when the directory itself cannot be read.
[[nodiscard]] Result<std::vector<NodeFacts>> LoadProbeDir(const std::string& dir);

}  // namespace fwgate::probe
