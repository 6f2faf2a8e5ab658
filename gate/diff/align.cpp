#include "gate/diff/align.h"

#include <algorithm>

namespace fwgate::diff {
namespace {

struct Range {
  uint32_t a_lo, a_hi, b_lo, b_hi;
};

class Aligner {
 public:
  Aligner(std::span<const uint32_t> a, std::span<const uint32_t> b) : a_(a), b_(b) {
    uint32_t max_id = 0;
    for (uint32_t x : a) max_id = std::max(max_id, x);
    for (uint32_t x : b) max_id = std::max(max_id, x);
    stats_.assign(size_t{max_id} + 1, Stat{});
  }

  std::vector<std::pair<uint32_t, uint32_t>> Run() {
    std::vector<Range> work{
        {0, static_cast<uint32_t>(a_.size()), 0, static_cast<uint32_t>(b_.size())}};
    while (!work.empty()) {
      Range r = work.back();
      work.pop_back();
      Process(r, work);
    }
    std::sort(out_.begin(), out_.end());
    return std::move(out_);
  }

 private:
  struct Stat {
    uint32_t count_a = 0, count_b = 0, pos_a = 0, pos_b = 0;
  };

  void Process(Range r, std::vector<Range>& work) {
    while (r.a_lo < r.a_hi && r.b_lo < r.b_hi && a_[r.a_lo] == b_[r.b_lo]) {
      out_.emplace_back(r.a_lo++, r.b_lo++);
    }
    while (r.a_lo < r.a_hi && r.b_lo < r.b_hi && a_[r.a_hi - 1] == b_[r.b_hi - 1]) {
      out_.emplace_back(--r.a_hi, --r.b_hi);
    }
    if (r.a_lo == r.a_hi || r.b_lo == r.b_hi) return;

    // Count occurrences in both ranges.
    for (uint32_t i = r.a_lo; i < r.a_hi; ++i) {
      Stat& s = stats_[a_[i]];
      ++s.count_a;
      s.pos_a = i;
    }
    bool any_common = false;
    for (uint32_t j = r.b_lo; j < r.b_hi; ++j) {
      Stat& s = stats_[b_[j]];
      ++s.count_b;
      s.pos_b = j;
      any_common |= s.count_a > 0;
    }
    // Items unique in both, in a-order, with their b positions.
    std::vector<std::pair<uint32_t, uint32_t>> uniq;
    for (uint32_t i = r.a_lo; i < r.a_hi; ++i) {
      const Stat& s = stats_[a_[i]];
      if (s.count_a == 1 && s.count_b == 1) uniq.emplace_back(i, s.pos_b);
    }
    for (uint32_t i = r.a_lo; i < r.a_hi; ++i) stats_[a_[i]] = Stat{};
    for (uint32_t j = r.b_lo; j < r.b_hi; ++j) stats_[b_[j]] = Stat{};
    if (!any_common) return;

    if (uniq.empty()) {
      Fallback(r);
      return;
    }
    // Longest increasing subsequence of b positions (patience sorting).
    std::vector<uint32_t> tails;  // index into uniq of the smallest tail for each length
    std::vector<int32_t> prev(uniq.size(), -1);
    for (uint32_t k = 0; k < uniq.size(); ++k) {
      auto it = std::lower_bound(tails.begin(), tails.end(), uniq[k].second,
                                 [&](uint32_t t, uint32_t pos) { return uniq[t].second < pos; });
      if (it != tails.begin()) prev[k] = static_cast<int32_t>(*(it - 1));
      if (it == tails.end()) {
        tails.push_back(k);
      } else {
        *it = k;
      }
    }
    std::vector<std::pair<uint32_t, uint32_t>> anchors;
    for (int32_t k = static_cast<int32_t>(tails.back()); k >= 0; k = prev[k]) {
      anchors.push_back(uniq[k]);
    }
    std::reverse(anchors.begin(), anchors.end());
    uint32_t a_lo = r.a_lo, b_lo = r.b_lo;
    for (auto [i, j] : anchors) {
      out_.emplace_back(i, j);
      if (a_lo < i && b_lo < j) work.push_back({a_lo, i, b_lo, j});
      a_lo = i + 1;
      b_lo = j + 1;
    }
    if (a_lo < r.a_hi && b_lo < r.b_hi) work.push_back({a_lo, r.a_hi, b_lo, r.b_hi});
  }

  // A range with common items but none unique in both.
  void Fallback(Range r) {
    size_t n = r.a_hi - r.a_lo, m = r.b_hi - r.b_lo;
    if ((n + 1) * (m + 1) <= kExactCells && std::min(n, m) < 65535) {
      // Exact LCS: table of suffix LCS lengths, then a forward walk.
      std::vector<uint16_t> t((n + 1) * (m + 1), 0);
      auto at = [&](size_t i, size_t j) -> uint16_t& { return t[i * (m + 1) + j]; };
      for (size_t i = n; i-- > 0;) {
        for (size_t j = m; j-- > 0;) {
          at(i, j) = a_[r.a_lo + i] == b_[r.b_lo + j] ? static_cast<uint16_t>(at(i + 1, j + 1) + 1)
                                                      : std::max(at(i + 1, j), at(i, j + 1));
        }
      }
      size_t i = 0, j = 0;
      while (i < n && j < m) {
        if (a_[r.a_lo + i] == b_[r.b_lo + j]) {
          out_.emplace_back(r.a_lo + i, r.b_lo + j);
          ++i;
          ++j;
        } else if (at(i + 1, j) >= at(i, j + 1)) {
          ++i;
        } else {
          ++j;
        }
      }
      return;
    }
    // Greedy: each item of a takes the first unused equal item of b after the last match.
    std::vector<std::pair<uint32_t, uint32_t>> pos;  // (id, j) sorted
    pos.reserve(m);
    for (uint32_t j = r.b_lo; j < r.b_hi; ++j) pos.emplace_back(b_[j], j);
    std::sort(pos.begin(), pos.end());
    uint32_t last_b = r.b_lo;
    bool first = true;
    for (uint32_t i = r.a_lo; i < r.a_hi; ++i) {
      uint32_t from = first ? r.b_lo : last_b + 1;
      auto it = std::lower_bound(pos.begin(), pos.end(), std::make_pair(a_[i], from));
      if (it != pos.end() && it->first == a_[i]) {
        out_.emplace_back(i, it->second);
        last_b = it->second;
        first = false;
      }
    }
  }

  std::span<const uint32_t> a_, b_;
  std::vector<Stat> stats_;
  std::vector<std::pair<uint32_t, uint32_t>> out_;
};

}  // namespace

std::vector<std::pair<uint32_t, uint32_t>> AlignSequences(std::span<const uint32_t> a,
                                                          std::span<const uint32_t> b) {
  if (a.empty() || b.empty()) return {};
  return Aligner(a, b).Run();
}

}  // namespace fwgate::diff
