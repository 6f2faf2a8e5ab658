// Pure bookkeeping behind the workload engine: per-direction progress and stall accounting around
// the mark, the per-class byte timeline, and the min-heap of periodic sends. No sockets, no clocks.
// Thread-safety: none; the engine's loop thread owns every instance.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "simulator/workload/engine.h"

namespace fwgate::workload {

// Times are nanoseconds on one monotonic clock; 0 means "never" (a real CLOCK_MONOTONIC reading
// is never 0 once the machine has been up for a moment).
using Nanos = int64_t;

// One direction of one connection, seen from its receiver.
struct DirectionProgress {
  uint64_t bytes_before = 0;  // received before the mark (or with no mark yet)
  uint64_t bytes_after = 0;   // received at or after the mark
  Nanos last_progress = 0;    // time of the last read that returned bytes
  Nanos max_gap_after_mark = 0;

  // `n` bytes received at `now`; `mark` is 0 while Mark() has not been called.
  void OnBytes(Nanos now, uint64_t n, Nanos mark) {
    if (mark == 0 || now < mark) {
      bytes_before += n;
    } else {
      bytes_after += n;
      max_gap_after_mark = std::max(max_gap_after_mark, now - std::max(last_progress, mark));
    }
    last_progress = now;
  }

  // Longest stall after the mark, counting one still running at `stop`, minus `allowance` (the
  // periodic interval: a gap of one interval is the flow's normal rhythm). 0 without a mark or
  // when the direction is not expected to make progress.
  [[nodiscard]] Nanos StallAfterMark(Nanos stop, Nanos mark, bool should_progress,
                                     Nanos allowance) const {
    if (mark == 0 || !should_progress) return 0;
    Nanos gap = max_gap_after_mark;
    if (stop > mark) gap = std::max(gap, stop - std::max(last_progress, mark));
    return std::max<Nanos>(0, gap - allowance);
  }
};

// Bytes received per class per bucket since the engine started.
class TimelineAccumulator {
 public:
  TimelineAccumulator(Nanos start, Nanos bucket)
      : start_(start), bucket_(bucket > 0 ? bucket : 1) {}

  [[nodiscard]] int64_t BucketOf(Nanos t) const { return t <= start_ ? 0 : (t - start_) / bucket_; }

  void Add(ConnClass c, Nanos t, uint64_t n) {
    auto& v = series_[static_cast<size_t>(c)];
    auto b = static_cast<size_t>(BucketOf(t));
    if (v.size() <= b) v.resize(b + 1, 0);
    v[b] += n;
  }

  // The timeline up to `stop` (every class gets the same number of buckets, classes that saw no
  // bytes included so consumers can plot them side by side); mark_bucket from `mark` (0: none).
  [[nodiscard]] Timeline Finish(Nanos stop, Nanos mark) const {
    Timeline t;
    t.bucket =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::nanoseconds(bucket_));
    t.mark_bucket = mark == 0 ? -1 : BucketOf(mark);
    size_t n = static_cast<size_t>(BucketOf(std::max(stop, start_))) + 1;
    for (const auto& v : series_) n = std::max(n, v.size());
    for (size_t c = 0; c < kClasses; ++c) {
      std::vector<uint64_t> v = series_[c];
      v.resize(n, 0);
      t.series.emplace_back(static_cast<ConnClass>(c), std::move(v));
    }
    return t;
  }

  static constexpr size_t kClasses = 4;  // ConnClass values, in declaration order

 private:
  Nanos start_;
  Nanos bucket_;
  std::vector<uint64_t> series_[kClasses];
};

// Min-heap of periodic sends: (due time, connection, side). 16 bytes per entry, O(log n) per
// operation, no per-entry allocation once reserved.
class TimerHeap {
 public:
  struct Entry {
    Nanos due;
    uint32_t conn;
    uint32_t side;  // 0: the connecting end sends (forward), 1: the accepted end (reverse)
  };

  void Reserve(size_t n) { heap_.reserve(n); }
  [[nodiscard]] bool empty() const { return heap_.empty(); }
  [[nodiscard]] size_t size() const { return heap_.size(); }
  [[nodiscard]] const Entry& top() const { return heap_.front(); }
  void Push(Entry e) {
    heap_.push_back(e);
    std::push_heap(heap_.begin(), heap_.end(), Later);
  }
  Entry Pop() {
    std::pop_heap(heap_.begin(), heap_.end(), Later);
    Entry e = heap_.back();
    heap_.pop_back();
    return e;
  }
  void Clear() { heap_.clear(); }

 private:
  static bool Later(const Entry& a, const Entry& b) { return a.due > b.due; }
  std::vector<Entry> heap_;
};

// Next due time of a periodic send that was due at `due` and ran at `now`: one interval later,
// without drift; if the loop fell more than an interval behind, restart from `now` instead of
// sending a burst of catch-up messages.
inline Nanos NextDue(Nanos due, Nanos now, Nanos interval) {
  Nanos next = due + interval;
  return next <= now ? now + interval : next;
}

}  // namespace fwgate::workload
