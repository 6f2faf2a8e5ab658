#include "simulator/replay/verdict.h"

#include <algorithm>

namespace fwgate::replay {

std::string_view VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kSurvived:
      return "survived";
    case Verdict::kBroken:
      return "broken";
    case Verdict::kUnknown:
      return "unknown";
  }
  return "unknown";
}

ConnOutcome JudgeConnection(const workload::ConnResult& r, std::chrono::milliseconds threshold) {
  ConnOutcome o;
  o.result = r;
  if (r.reset) {
    o.broken = true;
    o.reason = "reset";
  } else if (r.max_stall_after_mark > threshold) {
    o.broken = true;
    o.reason = "stall";
  } else if (r.closed) {
    o.broken = true;
    o.reason = "closed";
  }
  return o;
}

bool Touches(const workload::ConnResult& r, const std::string& node) {
  return r.from_node == node || r.to_node == node;
}

void Summarize(ReplayReport& rep) {
  rep.classes.clear();
  rep.max_stall_ms = 0;
  int broken = 0;
  const ConnOutcome* idle = nullptr;
  for (auto& n : rep.nodes) n.conns_total = n.conns_broken = 0;
  for (const auto& c : rep.connections) {
    const auto& r = c.result;
    auto& cs = rep.classes[std::string(workload::ConnClassName(r.cls))];
    ++cs.total;
    cs.broken += c.broken ? 1 : 0;
    int64_t stall = r.max_stall_after_mark.count();
    cs.max_stall_ms = std::max(cs.max_stall_ms, stall);
    cs.bytes_before += r.fwd_bytes_before + r.rev_bytes_before;
    cs.bytes_after += r.fwd_bytes_after + r.rev_bytes_after;
    rep.max_stall_ms = std::max(rep.max_stall_ms, stall);
    broken += c.broken ? 1 : 0;
    if (r.fwd_bytes_before + r.rev_bytes_before == 0 && idle == nullptr) idle = &c;
    for (auto& n : rep.nodes) {
      if (Touches(r, n.name)) {
        ++n.conns_total;
        n.conns_broken += c.broken ? 1 : 0;
      }
    }
  }
  const int total = static_cast<int>(rep.connections.size());
  const NodeReport* unfollowed = nullptr;
  for (const auto& n : rep.nodes) {
    if (!n.commits_followed && unfollowed == nullptr) unfollowed = &n;
  }
  if (unfollowed != nullptr) {
    rep.verdict = Verdict::kUnknown;
    rep.reason = "could not follow the commits of " + unfollowed->name + ": " +
                 unfollowed->follow_failure + " (" + std::to_string(broken) + " of " +
                 std::to_string(total) + " connections broke in the lab)";
  } else if (total == 0) {
    rep.verdict = Verdict::kUnknown;
    rep.reason = "no connections were measured";
  } else if (idle != nullptr) {
    rep.verdict = Verdict::kUnknown;
    rep.reason = "connection " + idle->result.from_node + " -> " + idle->result.to_node + " (" +
                 std::string(workload::ConnClassName(idle->result.cls)) +
                 ") carried no data before the reload, so the current ruleset never let it work";
  } else if (broken > 0) {
    rep.verdict = Verdict::kBroken;
    int beyond = 0;
    for (const auto& c : rep.connections) beyond += c.reason == "beyond-stale-window" ? 1 : 0;
    rep.reason = std::to_string(broken) + " of " + std::to_string(total) +
                 " connections broke (reset, or stalled longer than " +
                 std::to_string(rep.stall_threshold.count()) + " ms; longest stall " +
                 std::to_string(rep.max_stall_ms) + " ms" +
                 (beyond > 0 ? "; " + std::to_string(beyond) +
                                   " moved beyond their stale window, which the node's kernel "
                                   "does not tolerate"
                             : std::string()) +
                 ")";
  } else {
    rep.verdict = Verdict::kSurvived;
    rep.reason = "all " + std::to_string(total) + " connections kept going (longest stall " +
                 std::to_string(rep.max_stall_ms) + " ms, threshold " +
                 std::to_string(rep.stall_threshold.count()) + " ms)";
  }
}

}  // namespace fwgate::replay
