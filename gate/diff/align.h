// Alignment of two sequences of item ids (equal id = equal item): which items of `a` are kept,
// in order, as which items of `b`. A common subsequence, not necessarily the longest one.
// Pure; thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace fwgate::diff {

// Returns the matched index pairs (i into a, j into b), strictly increasing in both.
//
// Method: common prefix/suffix trimming, then patience diff (items unique in both ranges, longest
// increasing run of their positions, recursing into the gaps). A gap without unique common items
// falls back to an exact LCS table when small (<= kExactCells cells) and to a greedy in-order
// match otherwise, so memory stays bounded when everything changed. Near-linear for long
// sequences with few changes. Duplicated items are handled as a multiset: each item of `a`
// matches at most one of `b`.
[[nodiscard]] std::vector<std::pair<uint32_t, uint32_t>> AlignSequences(
    std::span<const uint32_t> a, std::span<const uint32_t> b);

inline constexpr size_t kExactCells = size_t{1} << 22;

}  // namespace fwgate::diff
