// Symbolic evaluation of a ruleset model over a region of the header space: which packets of
// the region get which final verdict on one path (input, forward, output), and which rule or
// policy decided it in each base chain. Follows nf_tables: base chains of each hook in priority
// order across tables, an accept ends only its base chain, a drop (or reject) is final,
// jump/goto/return with the implicit return at the end of a regular chain, and the base chain's
// policy. Where the model has an unknown condition, both outcomes are followed and each result
// names the decision it depends on. Not thread-safe (the model compiles lazily).
#pragma once

#include <cstdint>
#include <vector>

#include "gate/diff/header_space.h"
#include "gate/diff/rule_model.h"

namespace fwgate::traffic {

// An unknown condition and the outcome a result assumes for it.
struct Decision {
  uint32_t key = 0;
  bool holds = false;
  bool operator==(const Decision&) const = default;
};

// How one base chain ended for a packet: the rule that gave the verdict (its index in the
// chain where it sits, which may be a chain jumped to), or the policy (rule -1).
struct ChainDecision {
  int32_t base = -1;   // the base chain (index into Model::chains())
  int32_t chain = -1;  // where the deciding rule is
  int32_t rule = -1;   // -1: the base chain's policy
  VerdictKind verdict = VerdictKind::kAccept;
  uint32_t key = 0;  // unknown verdicts: what
  bool operator==(const ChainDecision&) const = default;
};

struct PathResult {
  Box box;
  Verdict verdict;
  std::vector<ChainDecision> trail;  // every base chain the packets went through, in order
  std::vector<Decision> decisions;   // sorted by key; empty: certain
};

struct EvalOptions {
  size_t max_states = 200000;  // live pieces of the region at once; beyond: unknown
};

struct EvalResult {
  std::vector<PathResult> results;
  bool truncated = false;  // some of the region got an "analysis budget" unknown verdict
};

// The final verdicts of the packets in `region` (boxes, disjoint) on path `path`, for IPv4
// (v6 false) or IPv6 packets. The region is first restricted to what the path allows (input:
// no output device; output: no input device).
[[nodiscard]] EvalResult EvaluatePath(Model& model, Path path, bool v6, const Space& region,
                                      const EvalOptions& options = {});

// The part of the header space a path's packets can occupy.
[[nodiscard]] Box PathDomain(Path path, bool v6);

}  // namespace fwgate::traffic
