#include "report/replay_report.h"

#include <fmt/format.h>

namespace fwgate::report {

using nlohmann::json;
using namespace fwgate::replay;  // the report types rendered here

namespace {

// The commit-following keys of a node (added in schema_version 1; docs/json.md).
void AddCommitKeys(const replay::NodeReport& n, json& jn) {
  jn["commits_followed"] = n.commits_followed;
  if (!n.follow_failure.empty()) jn["follow_failure"] = n.follow_failure;
  jn["emulation_mechanism"] = n.emulation_mechanism;
  json commits = json::array();
  for (const auto& c : n.commits) {
    commits.push_back({{"generation", c.generation},
                       {"at_ms", c.at_ms},
                       {"process", c.process},
                       {"change", c.change},
                       {"ct_users", c.ct_users}});
  }
  jn["commits"] = commits;
  json gaps = json::array();
  for (const auto& g : n.no_ct_user) {
    json jg{{"family", g.family}, {"from_ms", g.from_ms}};
    jg["to_ms"] = g.to_ms < 0 ? json(nullptr) : json(g.to_ms);
    gaps.push_back(jg);
  }
  jn["no_ct_user"] = gaps;
  jn["tables_after"] = n.tables_after;
}

// The measured reload times (ms since the reload moment; docs/json.md).
void AddReloadTiming(const replay::NodeReport& n, json& jn) {
  jn["reload_start_ms"] = n.reload_start_ms < 0 ? json(nullptr) : json(n.reload_start_ms);
  jn["reload_end_ms"] = n.reload_end_ms < 0 ? json(nullptr) : json(n.reload_end_ms);
  json steps = json::array();
  for (const auto& t : n.reload_timing) {
    steps.push_back({{"label", t.label},
                     {"start_ms", t.start_ms},
                     {"commit_ms", t.commit_ms ? json(*t.commit_ms) : json(nullptr)},
                     {"end_ms", t.end_ms}});
  }
  jn["reload_step_times"] = steps;
}

// "  node1 reload: load proposed started +3 ms, committed +151 ms, returned +155 ms"
std::string ReloadTimingLines(const replay::NodeReport& n) {
  std::string out;
  for (const auto& t : n.reload_timing) {
    out += fmt::format(
        "  {} reload: {} started +{} ms, {}returned +{} ms\n", n.name, t.label, t.start_ms,
        t.commit_ms ? fmt::format("committed +{} ms, ", *t.commit_ms) : "", t.end_ms);
  }
  return out;
}

std::string CommitLines(const replay::NodeReport& n) {
  std::string out;
  if (!n.commits_followed) {
    out += fmt::format("  {} commits: NOT FOLLOWED: {}\n", n.name, n.follow_failure);
  }
  for (const auto& c : n.commits) {
    std::string users;
    for (const auto& [f, k] : c.ct_users)
      users += fmt::format("{}{} {}", users.empty() ? "" : ", ", f, k);
    out += fmt::format("  {} commit {} at +{} ms{}: {}; ct users {}\n", n.name, c.generation,
                       c.at_ms, c.process.empty() ? "" : " by " + c.process, c.change, users);
  }
  for (const auto& g : n.no_ct_user) {
    out += g.to_ms < 0 ? fmt::format("  {} {}: no conntrack user from +{} ms to the end\n", n.name,
                                     g.family, g.from_ms)
                       : fmt::format("  {} {}: no conntrack user from +{} ms to +{} ms ({} ms)\n",
                                     n.name, g.family, g.from_ms, g.to_ms, g.to_ms - g.from_ms);
  }
  return out;
}

}  // namespace

json ReplayToJson(const replay::ReplayReport& r) {
  json j;
  j["schema_version"] = kReplaySchemaVersion;
  j["verdict"] = std::string(VerdictName(r.verdict));
  j["reason"] = r.reason;
  j["reload"] = r.reload;
  j["current"] = r.current;
  j["proposed"] = r.proposed;
  j["stall_threshold_ms"] = r.stall_threshold.count();
  j["nodes"] = json::array();
  for (const auto& n : r.nodes) {
    json jn{{"name", n.name},
            {"kernel", n.kernel},
            {"kernel_class", n.kernel_class},
            {"emulation", n.emulation},
            {"emulation_reason", n.emulation_reason},
            {"be_liberal", n.be_liberal},
            {"conntrack",
             {{"invalid", n.conntrack.invalid},
              {"drop", n.conntrack.drop},
              {"early_drop", n.conntrack.early_drop},
              {"insert_failed", n.conntrack.insert_failed},
              {"count", n.conntrack.count},
              {"count_before", n.conntrack.count_before},
              {"available", n.conntrack.available}}},
            {"connections", {{"total", n.conns_total}, {"broken", n.conns_broken}}},
            {"reload_steps", n.reload_steps}};
    json counters = json::array();
    for (const auto& c : n.counters) {
      counters.push_back(
          {{"table", c.table},
           {"name", c.name},
           {"packets", c.packets_after - std::min(c.packets_after, c.packets_before)},
           {"bytes", c.bytes_after - std::min(c.bytes_after, c.bytes_before)},
           {"packets_total", c.packets_after}});
    }
    jn["counters"] = counters;
    AddCommitKeys(n, jn);
    AddReloadTiming(n, jn);
    j["nodes"].push_back(jn);
  }
  int total = static_cast<int>(r.connections.size());
  int broken = 0;
  json bc = json::array();
  json all = json::array();
  for (const auto& c : r.connections) {
    const auto& x = c.result;
    if (c.broken) {
      ++broken;
      bc.push_back({{"from", x.from_node},
                    {"to", x.to_node},
                    {"class", std::string(workload::ConnClassName(x.cls))},
                    {"reason", c.reason},
                    {"stall_ms", x.max_stall_after_mark.count()}});
      if (!c.kernel_note.empty()) bc.back()["kernel_note"] = c.kernel_note;
    }
    all.push_back({{"from", x.from_node},
                   {"to", x.to_node},
                   {"class", std::string(workload::ConnClassName(x.cls))},
                   {"broken", c.broken},
                   {"reason", c.reason},
                   {"bytes_before", x.fwd_bytes_before + x.rev_bytes_before},
                   {"bytes_after", x.fwd_bytes_after + x.rev_bytes_after},
                   {"max_stall_ms", x.max_stall_after_mark.count()},
                   {"reset", x.reset},
                   {"closed", x.closed},
                   {"retransmits", x.retransmits}});
    if (!c.kernel_note.empty()) all.back()["kernel_note"] = c.kernel_note;
  }
  j["connections"] = {{"total", total}, {"survived", total - broken}, {"broken", broken}};
  j["max_stall_ms"] = r.max_stall_ms;
  j["broken_connections"] = bc;
  j["connection_details"] = all;
  json classes = json::object();
  for (const auto& [name, c] : r.classes) {
    classes[name] = {{"total", c.total},
                     {"broken", c.broken},
                     {"max_stall_ms", c.max_stall_ms},
                     {"bytes_before", c.bytes_before},
                     {"bytes_after", c.bytes_after}};
  }
  j["classes"] = classes;
  json series = json::array();
  for (const auto& [cls, bytes] : r.timeline.series) {
    series.push_back({{"class", std::string(workload::ConnClassName(cls))}, {"bytes", bytes}});
  }
  j["timeline"] = {{"bucket_ms", r.timeline.bucket.count()},
                   {"mark_bucket", r.timeline.mark_bucket},
                   {"series", series}};
  const auto& h = r.lab_health;
  j["lab_health"] = {{"judged", h.judged},
                     {"overloaded", h.overloaded},
                     {"reason", h.reason},
                     {"resolution_ms", h.resolution.count()},
                     {"resolution_limit_ms", h.resolution_limit.count()},
                     {"loop_lateness_ms", h.measured.loop_lateness.count()},
                     {"reload_start_spread_ms", h.measured.reload_start_spread.count()},
                     {"mark_skew_us", h.measured.mark_skew.count()},
                     {"workers", h.measured.workers},
                     {"warmup_ms", r.warmup.count()},
                     {"after_mark_ms", r.after_mark.count()},
                     {"watched_after_reload_ms", h.measured.watched_after_reload.count()},
                     {"longest_interval_ms", h.measured.longest_interval.count()}};
  return j;
}

std::string ReplayToText(const replay::ReplayReport& r) {
  std::string out;
  out += fmt::format("reload {}: {} -> {}\n", r.reload, r.current, r.proposed);
  out += fmt::format("{:<8} {:<8} {:<11} {:<11} {:>10} {:>8} {:>6} {:>6} {:>7}\n", "node", "kernel",
                     "class", "emulation", "be_liberal", "invalid", "drop", "conns", "broken");
  for (const auto& n : r.nodes) {
    out +=
        fmt::format("{:<8} {:<8} {:<11} {:<11} {:>10} {:>8} {:>6} {:>6} {:>7}\n", n.name,
                    n.kernel.empty() ? "lab" : n.kernel, n.kernel_class, n.emulation, n.be_liberal,
                    n.conntrack.available ? std::to_string(n.conntrack.invalid) : "?",
                    n.conntrack.available ? std::to_string(n.conntrack.drop) : "?", n.conns_total,
                    n.conns_broken);
  }
  for (const auto& n : r.nodes) {
    out += fmt::format("  {}: {}\n", n.name, n.emulation_reason);
    std::string counters;
    for (const auto& c : n.counters) {
      uint64_t p = c.packets_after - std::min(c.packets_after, c.packets_before);
      if (p > 0) counters += fmt::format(" {}={}", c.name, p);
    }
    if (!counters.empty()) out += fmt::format("  {} counters (packets):{}\n", n.name, counters);
    if (n.emulation != "native")
      out += fmt::format("  {} emulation: {}\n", n.name, n.emulation_mechanism);
    out += ReloadTimingLines(n);
    out += CommitLines(n);
  }
  out += fmt::format("\n{:<12} {:>6} {:>7} {:>13} {:>14} {:>14}\n", "class", "conns", "broken",
                     "max stall ms", "bytes before", "bytes after");
  for (const auto& [name, c] : r.classes) {
    out += fmt::format("{:<12} {:>6} {:>7} {:>13} {:>14} {:>14}\n", name, c.total, c.broken,
                       c.max_stall_ms, c.bytes_before, c.bytes_after);
  }
  int shown = 0;
  for (const auto& c : r.connections) {
    if (!c.broken) continue;
    if (shown++ == 0) out += "\nbroken connections:\n";
    if (shown > 20) continue;
    std::string why = c.reason == "stall"
                          ? fmt::format("stalled {} ms", c.result.max_stall_after_mark.count())
                      : !c.kernel_note.empty() ? c.kernel_note
                                               : c.reason;
    out += fmt::format("  {} -> {} {} ({})\n", c.result.from_node, c.result.to_node,
                       workload::ConnClassName(c.result.cls), why);
  }
  if (shown > 20) out += fmt::format("  ... and {} more\n", shown - 20);
  if (r.lab_health.judged) {
    const auto& h = r.lab_health;
    out += fmt::format(
        "\nlab: stalls measured to within {} ms (at most {} ms decides; loop lateness {} ms, "
        "reload start spread {} ms, watched {} ms after the reload)\n",
        h.resolution.count(), h.resolution_limit.count(), h.measured.loop_lateness.count(),
        h.measured.reload_start_spread.count(), h.measured.watched_after_reload.count());
  }
  std::string v(VerdictName(r.verdict));
  for (auto& ch : v) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  out += fmt::format("\nverdict: {}: {}\n", v, r.reason);
  return out;
}

}  // namespace fwgate::report
