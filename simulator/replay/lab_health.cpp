#include "simulator/replay/lab_health.h"

#include <algorithm>
#include <utility>

#include "simulator/replay/verdict.h"

namespace fwgate::replay {

using std::chrono::milliseconds;

LabHealth JudgeLabHealth(const LabMeasurements& m) {
  LabHealth h;
  h.measured = m;
  h.judged = true;
  h.resolution = 2 * m.loop_lateness + kEngineResolution;
  milliseconds slack = m.watched_after_reload - m.stall_threshold - m.longest_interval;
  h.resolution_limit = std::max(milliseconds(0), std::min(m.stall_threshold / 2, slack));
  const std::string advice = "; reduce --connections-per-node or raise --stall-threshold";
  if (h.resolution > h.resolution_limit) {
    h.overloaded = true;
    h.reason = "lab overloaded: lateness " + std::to_string(m.loop_lateness.count()) +
               " ms against threshold " + std::to_string(m.stall_threshold.count()) +
               " ms (stalls measured to within " + std::to_string(h.resolution.count()) +
               " ms, at most " + std::to_string(h.resolution_limit.count()) + " ms decides)" +
               advice;
  } else if (m.reload_start_spread > m.stall_threshold) {
    h.overloaded = true;
    h.reason = "lab overloaded: reloads meant to start together started " +
               std::to_string(m.reload_start_spread.count()) + " ms apart against threshold " +
               std::to_string(m.stall_threshold.count()) + " ms" + advice;
  }
  return h;
}

void ApplyLabHealth(ReplayReport& report, LabHealth health) {
  report.lab_health = std::move(health);
  const LabHealth& h = report.lab_health;
  if (!h.overloaded) return;
  if (report.verdict == Verdict::kUnknown) {
    report.reason = h.reason + "; also: " + report.reason;
  } else {
    report.reason = h.reason;
  }
  report.verdict = Verdict::kUnknown;
}

}  // namespace fwgate::replay
