// Reads an nftables ruleset over netlink (libnftnl + libmnl) into the model of ruleset.h.
// The only code that includes libnftnl/libmnl for nftables. Parsers are pure (a message in, a
// value out) so they are tested without a kernel; DumpRuleset talks to the kernel of the calling
// thread's network namespace. Thread-safety: no shared state; one call per thread.
#pragma once

#include <chrono>
#include <string>

#include "base/result.h"
#include "gate/nft/ruleset.h"

struct nlmsghdr;

namespace fwgate::nft {

struct DumpOptions {
  // Receive timeout per netlink read, so a lost reply cannot hang the gate.
  std::chrono::milliseconds timeout{5000};
  // How often the dump is redone when the generation changed under it or the kernel flagged
  // it interrupted (NLM_F_DUMP_INTR) before giving up with EAGAIN.
  int max_attempts = 8;
  // Also read the elements of every set (anonymous sets always are: rules need their content).
  bool named_set_elements = true;
};

// Dumps tables, chains, sets and their elements, rules, flowtables and objects of the calling
// thread's network namespace, consistent with one generation id (read before and after).
[[nodiscard]] Result<Ruleset> DumpRuleset(const DumpOptions& options = {});

// Just the generation id of the calling thread's namespace.
[[nodiscard]] Result<uint32_t> ReadGeneration(std::chrono::milliseconds timeout);

// --- Pure parsers: one NFT_MSG_NEW* message (as a dump reply carries it) to a model value. ---
struct ParsedChain {
  Family family = Family::kUnspec;
  std::string table;
  Chain chain;
};
struct ParsedRule {
  Family family = Family::kUnspec;
  std::string table;
  std::string chain;
  Rule rule;
};
struct ParsedSet {
  Family family = Family::kUnspec;
  std::string table;
  Set set;
};
struct ParsedFlowtable {
  Family family = Family::kUnspec;
  std::string table;
  Flowtable flowtable;
};
struct ParsedObject {
  Family family = Family::kUnspec;
  std::string table;
  Object object;
};

[[nodiscard]] Result<Table> ParseTableMessage(const nlmsghdr* nlh);
[[nodiscard]] Result<ParsedChain> ParseChainMessage(const nlmsghdr* nlh);
[[nodiscard]] Result<ParsedRule> ParseRuleMessage(const nlmsghdr* nlh);
[[nodiscard]] Result<ParsedSet> ParseSetMessage(const nlmsghdr* nlh);
// Appends the elements one NFT_MSG_NEWSETELEM message carries to `set`.
[[nodiscard]] Status ParseSetElemsMessage(const nlmsghdr* nlh, Set& set);
[[nodiscard]] Result<ParsedFlowtable> ParseFlowtableMessage(const nlmsghdr* nlh);
[[nodiscard]] Result<ParsedObject> ParseObjectMessage(const nlmsghdr* nlh);

}  // namespace fwgate::nft
