// A lab namespace's conntrack budget: nf_conntrack_max is one global, read-only value in a child
// namespace, but each namespace's own count is compared with it (docs/kernel-conntrack.md §4.2),
// so long-lived ASSURED ESTABLISHED filler entries created over ctnetlink leave exactly a chosen
// number of entries of room. The plan is pure; the fill acts only on a namespace fwgate created.
// Thread-safety: reentrant; a fill belongs to the calling thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "base/result.h"
#include "sys/netns.h"

namespace fwgate::sys {

// The host's conntrack sizing, read (never written) in the namespace fwgate started in.
struct HostConntrack {
  uint64_t max = 0;            // nf_conntrack_max
  uint64_t buckets = 0;        // nf_conntrack_buckets (one global hash since 4.7)
  uint64_t count = 0;          // the host namespace's own nf_conntrack_count
  uint64_t mem_available = 0;  // bytes (MemAvailable)
};
[[nodiscard]] Result<HostConntrack> ReadHostConntrack();

// Kernel memory one entry costs, an upper bound for the nf_conntrack slab object plus its
// extensions and hash linkage on 64-bit kernels (used only to refuse fills that would be costly).
inline constexpr uint64_t kBytesPerEntry = 512;

struct BudgetPlan {
  uint64_t budget = 0;  // entries the workload may create in the namespace
  uint64_t fill = 0;    // filler entries: max - budget
  uint64_t max = 0;
  uint64_t memory_bytes = 0;  // what the fill costs the kernel, at most
};

// Plans a fill leaving `budget` entries of room. `other_fill` counts filler entries other lab
// namespaces of this process hold at the same time. Errors (Unavailable: the run cannot be
// faithful here, never a guess): a host max below the budget (the table cannot be made larger),
// a fill whose memory exceeds a quarter of MemAvailable, or a fill that would load the host's
// one global hash beyond 2 entries per bucket (chains the host's own traffic shares, §4.3
// chaintoolong).
[[nodiscard]] Result<BudgetPlan> PlanBudget(const HostConntrack& host, uint64_t budget,
                                            uint64_t other_fill = 0);

struct FillOptions {
  // Filler lifetime: longer than any run (they are flushed at its end and die with the
  // namespace in any case).
  uint32_t timeout_s = 3600;
  size_t batch = 256;  // create messages per send
};

struct FillReport {
  uint64_t requested = 0;
  uint64_t created = 0;      // the namespace's count rose by this much
  uint64_t count_after = 0;  // nf_conntrack_count in the namespace after the fill
  std::chrono::milliseconds took{0};
};

// Creates `entries` TCP entries (ESTABLISHED, ASSURED, SEEN_REPLY; tuples in 198.18.0.0/15, the
// benchmarking range, which no lab address uses) in `ns`. Refuses the namespace fwgate started
// in. Fails unless the count rose by exactly `entries` (nothing else may create entries there
// meanwhile).
[[nodiscard]] Result<FillReport> FillConntrack(const NetnsHandle& ns, uint64_t entries,
                                               const FillOptions& options = {});

// The number of entries in `ns` now (nf_conntrack_count read inside it).
[[nodiscard]] Result<uint64_t> ConntrackCountIn(const NetnsHandle& ns);

// Deletes every entry of `ns` (its fillers and whatever else it holds); refuses the namespace
// fwgate started in.
[[nodiscard]] Status FlushConntrack(const NetnsHandle& ns);

}  // namespace fwgate::sys
