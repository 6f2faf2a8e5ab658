// Renders a ReplayReport: the JSON contract (keys only ever added) and the human table.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "simulator/replay/verdict.h"

namespace fwgate::report {

inline constexpr int kReplaySchemaVersion = 1;

// {"schema_version", "verdict", "reload", "nodes":[{name, kernel_class, emulation,
// emulation_reason, be_liberal, conntrack{invalid, drop, early_drop, insert_failed, count},
// connections{total, broken}}], "connections":{total, survived, broken}, "max_stall_ms",
// "broken_connections":[{from, to, class, reason}], "timeline":{bucket_ms, series}} plus added keys
// (reason, classes, counters).
[[nodiscard]] nlohmann::json ReplayToJson(const replay::ReplayReport& report);

// A short table per node and per connection class, the broken connections, and the verdict in
// one line.
[[nodiscard]] std::string ReplayToText(const replay::ReplayReport& report);

}  // namespace fwgate::report
