// Concrete evaluation of one packet through a ruleset: the rules' expressions interpreted with
// nf_tables semantics on real bytes (a byte register file, memcmp compares, set lookups by key
// bytes, the verdict stack). Independent of the rule compiler, so tests use it as the oracle of
// the symbolic evaluation. Conditions it cannot evaluate (rate limits, quotas, values it does not
// know such as meta skuid) fork the evaluation; every outcome is returned. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/ruleset.h"
#include "gate/diff/header_space.h"
#include "gate/diff/rule_model.h"

namespace fwgate::traffic {

struct ConcreteOutcome {
  VerdictKind verdict = VerdictKind::kAccept;
  // The deciding (base chain, rule) of every base chain passed, as table/chain names and rule
  // handles (0 for the policy).
  struct Step {
    std::string table, chain;  // where the deciding rule is
    uint64_t handle = 0;       // 0: the base chain's policy
    VerdictKind verdict = VerdictKind::kAccept;
  };
  std::vector<Step> trail;
  // The unknown conditions this outcome assumed ("limit@rule..." = true/false).
  std::vector<std::pair<std::string, bool>> assumed;
};

struct ConcreteOptions {
  std::map<uint32_t, std::string> interface_names;  // iif/oif index -> name
  size_t max_forks = 64;
};

// The bytes of the packet's network and transport headers as the evaluator builds them
// (IPv4: 20-byte header; IPv6: 40; TCP 20, UDP 8 + 12 payload bytes, ICMP 8 + 12).
[[nodiscard]] std::vector<uint8_t> PacketBytes(const Packet& p, size_t* transport_offset);

[[nodiscard]] std::vector<ConcreteOutcome> EvaluatePacket(const nft::Ruleset& ruleset, Path path,
                                                          const Packet& packet,
                                                          const ConcreteOptions& options = {});

}  // namespace fwgate::traffic
