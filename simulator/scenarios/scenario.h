// Named lab scenarios as data: an incident reproduced by runs side by side, each with the
// outcome the incident report and the kernel facts give it (docs/lab-scenarios.md). The bundled
// table is simulator/scenarios/scenarios.json (compiled in); users pass their own table with
// `fwgate lab --scenarios FILE`. Parsing is pure; errors read "FILE:LINE:COL: message".
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace fwgate::scenarios {

enum class Kind { kReload, kStorm };

// A replay across a reload (simulator/replay).
struct ReloadRun {
  std::string name, description;
  int nodes = 3;
  std::string kernel;      // --kernel form: "node1=4.15,node2=4.4" or "4.15"
  std::string be_liberal;  // --be-liberal form
  std::string reload = "flush-then-load";
  int gap_ms = 1000;
  int reloads = 1;  // the reload repeated this many times
  int reload_interval_ms = 2500;
  std::string current = "ceph-node.nft";  // relative to the rulesets directory
  std::string proposed = "ceph-node-safe-change.nft";
  std::string traffic = "ceph";  // "ceph" (replay's shape) or "light" (sessions only, see docs)
  int connections_per_node = 2;
  int duration_ms = 6000;
  int warmup_ms = 1500;
  // Expected: "survived" or "broken"; for broken, every broken connection touches one of
  // `broken_only_touching` and at least one of them breaks.
  std::string expect_verdict = "survived";
  std::vector<std::string> broken_only_touching;
};

// The restart storm's host and daemons (simulator/workload/daemons.h).
struct StormHost {
  int daemons = 8;
  int sessions_per_daemon = 750;
  int peers = 3;  // peer nodes the sessions come from (plus the client)
  int down_ms = 500;
  int boot_work_ms = 2000;
  int retry_ms = 1000;
  int connect_timeout_ms = 1000;
  std::string ruleset = "ceph-node.nft";  // loaded on the restarted node (conntrack on)
  int restarted = 0;  // which of the 1 + peers lab nodes runs the daemons (0: node1)
};

struct StormRun {
  std::string name, description;
  uint64_t table_size = 65536;  // the restarted node's nf_conntrack_max, made by filling
  int stagger_ms = 0;           // restart daemon k at k x stagger
  int observe_ms = 60000;       // after the first restart
  int restart_at_ms = 0;        // the first restart, this long after the sessions are up
  // net.netfilter.nf_conntrack_tcp_timeout_<name> -> seconds, set in the node's namespace.
  std::map<std::string, int> timeouts;
  // Expected: drops (table full: count at its budget and packets dropped) or none.
  bool expect_drops = false;
  // With expect_drops false: instead of none, fewer drops than this run (the kernel may still
  // drop a few; docs/lab-scenarios.md says which it gives).
  std::string fewer_drops_than;
};

struct Scenario {
  std::string name, title, incident, source;  // source: facts section cited
  Kind kind = Kind::kReload;
  std::vector<ReloadRun> reload_runs;
  StormHost host;
  std::vector<StormRun> storm_runs;
  [[nodiscard]] size_t run_count() const {
    return kind == Kind::kReload ? reload_runs.size() : storm_runs.size();
  }
};

// Parses a table ({"schema_version": 1, "scenarios": [...]}). Unknown keys, wrong types,
// out-of-range numbers and duplicate names are errors naming the place.
[[nodiscard]] Result<std::vector<Scenario>> ParseScenarios(std::string_view json_text,
                                                           std::string_view file_name);

// The bundled table's text.
[[nodiscard]] std::string_view BundledScenarios();

// The timeouts a storm run may set (nf_conntrack_tcp_timeout_<name>).
[[nodiscard]] const std::vector<std::string>& TimeoutNames();

}  // namespace fwgate::scenarios
