// Reads an nftables ruleset over netlink (libnftnl + libmnl) into the model of ruleset.h.
// The only code that includes libnftnl/libmnl for nftables. Parsers are pure (a message in, a
// value out) so they are tested without a kernel; DumpRuleset talks to the kernel of the calling
// thread's network namespace. Thread-safety: no shared state; one call per thread.
#pragma once

#include <chrono>
#include <string>

#include "base/result.h"
#include "base/ruleset.h"

struct nlmsghdr;

namespace fwgate::sys {

struct DumpOptions {
  // Receive timeout per netlink read, so a lost reply cannot hang the gate.
  std::chrono::milliseconds timeout{5000};
  // How often the dump is redone when the generation changed under it or the kernel flagged
  // it interrupted (NLM_F_DUMP_INTR) before giving up with EAGAIN.
  int max_attempts = 8;
  // Also read the elements of every set (anonymous sets always are: rules need their content).
  bool named_set_elements = true;
  // The outline only (what counting needs): no set elements at all, and rules without their
  // expressions (handle, position and comment only; Rule::exprs stays empty). A fraction of the
  // full dump's cost on large rulesets: no per-set element requests, no expression parsing.
  bool outline_only = false;
};

// Dumps tables, chains, sets and their elements, rules, flowtables and objects of the calling
// thread's network namespace, consistent with one generation id (read before and after), and
// that namespace's interface names by index (Ruleset::interfaces).
[[nodiscard]] Result<nft::Ruleset> DumpRuleset(const DumpOptions& options = {});

// Just the generation id of the calling thread's namespace.
[[nodiscard]] Result<uint32_t> ReadGeneration(std::chrono::milliseconds timeout);

// --- Pure parsers: one NFT_MSG_NEW* message (as a dump reply carries it) to a model value. ---
struct ParsedChain {
  nft::Family family = nft::Family::kUnspec;
  std::string table;
  nft::Chain chain;
};
struct ParsedRule {
  nft::Family family = nft::Family::kUnspec;
  std::string table;
  std::string chain;
  nft::Rule rule;
};
struct ParsedSet {
  nft::Family family = nft::Family::kUnspec;
  std::string table;
  nft::Set set;
};
struct ParsedFlowtable {
  nft::Family family = nft::Family::kUnspec;
  std::string table;
  nft::Flowtable flowtable;
};
struct ParsedObject {
  nft::Family family = nft::Family::kUnspec;
  std::string table;
  nft::Object object;
};

[[nodiscard]] Result<nft::Table> ParseTableMessage(const nlmsghdr* nlh);
[[nodiscard]] Result<ParsedChain> ParseChainMessage(const nlmsghdr* nlh);
[[nodiscard]] Result<ParsedRule> ParseRuleMessage(const nlmsghdr* nlh);
// The same without the expressions (DumpOptions::outline_only): table, chain, handle, position,
// comment.
[[nodiscard]] Result<ParsedRule> ParseRuleOutlineMessage(const nlmsghdr* nlh);
[[nodiscard]] Result<ParsedSet> ParseSetMessage(const nlmsghdr* nlh);
// Appends the elements one NFT_MSG_NEWSETELEM message carries to `set`.
[[nodiscard]] Status ParseSetElemsMessage(const nlmsghdr* nlh, nft::Set& set);
[[nodiscard]] Result<ParsedFlowtable> ParseFlowtableMessage(const nlmsghdr* nlh);
[[nodiscard]] Result<ParsedObject> ParseObjectMessage(const nlmsghdr* nlh);

}  // namespace fwgate::sys
