// The table-budget plan and the kernel's "table full" line: pure parts of sys/ct_budget and
// sys/kmsg, with the limits taken from the kernel facts (docs/kernel-conntrack.md §4.2, §4.3).
#include "sys/ct_budget.h"

#include <gtest/gtest.h>

#include "sys/kmsg.h"

namespace {

using fwgate::ErrorKind;
using fwgate::sys::HostConntrack;
using fwgate::sys::ParseTableFull;
using fwgate::sys::PlanBudget;

TEST(TableFullLine, BothFormsAndTheKmsgPrefix) {
  // §4.3: 6.18 names the child namespace by inode; older kernels do not.
  EXPECT_EQ(ParseTableFull("nf_conntrack: table full in netns 4026532510, dropping packet"),
            4026532510u);
  EXPECT_EQ(ParseTableFull("4,1234,5678,-;nf_conntrack: table full in netns 17, dropping packet"),
            17u);
  EXPECT_EQ(ParseTableFull("nf_conntrack: table full, dropping packet"), 0u);
  EXPECT_EQ(ParseTableFull("nf_conntrack: nf_conntrack: table full, dropping packet"), 0u);
  EXPECT_FALSE(ParseTableFull("nf_conntrack: table full in netns x, dropping packet"));
  EXPECT_FALSE(ParseTableFull("nf_conntrack: table full in netns 12"));
  EXPECT_FALSE(ParseTableFull("eth0: link up"));
  EXPECT_FALSE(ParseTableFull(""));
}

HostConntrack Host(uint64_t max, uint64_t buckets) {
  HostConntrack h;
  h.max = max;
  h.buckets = buckets;
  h.count = 100;
  h.mem_available = 16ULL << 30;
  return h;
}

TEST(TableBudget, FillLeavesExactlyTheBudgetUnderTheGlobalMax) {
  // §4.2: the count is per namespace, the max global; fillers + budget = max.
  auto p = PlanBudget(Host(262144, 262144), 65536);
  ASSERT_TRUE(p) << p.error().ToString();
  EXPECT_EQ(p->fill, 262144u - 65536u);
  EXPECT_EQ(p->fill + p->budget, p->max);
  auto doubled = PlanBudget(Host(262144, 262144), 131072);
  ASSERT_TRUE(doubled);
  EXPECT_EQ(doubled->fill, 131072u);
  auto none = PlanBudget(Host(65536, 65536), 65536);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->fill, 0u);
}

TEST(TableBudget, RefusesWhatCannotBeFaithful) {
  // A child namespace cannot be given more room than the global max (§4.2).
  auto small = PlanBudget(Host(65536, 65536), 131072);
  ASSERT_FALSE(small);
  EXPECT_EQ(small.error().kind, ErrorKind::kUnavailable);
  // A fill that would crowd the host's one hash beyond 2 entries per bucket.
  auto crowded = PlanBudget(Host(1 << 22, 1 << 16), 65536);
  ASSERT_FALSE(crowded);
  EXPECT_EQ(crowded.error().kind, ErrorKind::kUnavailable);
  // More than a quarter of available memory.
  HostConntrack poor = Host(262144, 262144);
  poor.mem_available = 64ULL << 20;
  EXPECT_FALSE(PlanBudget(poor, 65536));
  EXPECT_FALSE(PlanBudget(Host(262144, 262144), 0));
}

}  // namespace
