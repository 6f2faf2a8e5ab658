// Renders the ruleset model in nft syntax: whole rulesets (like `nft list ruleset`), single rules,
// chain headers, sets and set elements. Expressions it does not recognise are shown in a readable
// low-level form ("[kind attr=value ...]"); no expression is ever dropped silently.
// Pure functions of plain values; thread-safe.
//
// Oracle and implementation. The text is meant to be exactly what nft 1.0.6 lists for the same
// kernel objects (whitespace aside); libnftables' own listing is the ORACLE, not the
// implementation: the lab test tests/lab/printer_roundtrip_test.cpp loads every file of
// tests/data/printer-corpus and nftables' examples into a throwaway namespace and requires
// `RulesetText(dump)` to equal `nft list ruleset` there. libnftables cannot be the implementation:
// it lists only what a kernel namespace holds at that moment (this printer also renders models
// loaded elsewhere, saved dumps and probe data, without privileges), only sys/ may use it, and
// the diff needs per-expression rendering (which expression a text came from) that its listing
// does not give. The delinearizer therefore follows nft's own rules, cited where encoded
// (netlink_delinearize.c rule_parse_postprocess, payload.c payload_dependency_kill, ...).
// iptables-nft's xt matches and targets are different: decoding their ~100 extension structs
// by hand would duplicate libxtables, which nft itself calls for them (src/xt.c). They are
// translated by libxtables (TranslateXt below; Debian packages libxtables-dev and iptables), the
// same code path nft uses, and checked against the same oracle.
//
// Known, tested differences from nft's text:
//  - `ct original saddr` (NFT_CT_SRC) in ip/ip6 tables prints without "ip": nft's "ct original
//    ip saddr" reloads as another key (NFT_CT_SRC_IP).
//  - Sets declared with `typeof` of expressions other than payload fields, meta and ct keys and
//    their concatenations print as `type` with the datatypes (same set).
//  - xt statements whose extension is not installed print as `xt match NAME` (nft prints nothing
//    for them in that case).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/ruleset.h"

namespace fwgate::nft {

struct PrintOptions {
  bool counters = true;  // print counter/quota usage values ("counter packets 1 bytes 60")
  bool handles = false;  // append "# handle N" like `nft -a`
  // Interface names by index, for `iif`/`oif` matches (the kernel holds only the index).
  // RulesetText uses the ruleset's own (Ruleset::interfaces, captured at dump time) when this is
  // empty. An index with no name is printed as a number, which nft also accepts.
  std::map<uint32_t, std::string> interface_names;
};

// How one rule was rendered: the text, and for every expression of the rule whether the
// high-level printer accounted for it (rendered it, or consumed it as an implicit protocol
// dependency nft itself does not print). Expressions not accounted for appear in the text in
// low-level form and are counted in `fallback_exprs`.
struct RuleRendering {
  std::string text;
  std::vector<bool> covered;
  size_t fallback_exprs = 0;
};

// One rule, in the context of its table (for set lookups and maps). No trailing newline.
[[nodiscard]] RuleRendering RenderRule(const Table& table, const Rule& rule,
                                       const PrintOptions& options = {});
[[nodiscard]] std::string RuleText(const Table& table, const Rule& rule,
                                   const PrintOptions& options = {});

// "type filter hook input priority filter; policy drop;" for base chains, "" for regular ones.
[[nodiscard]] std::string ChainHeaderText(const Table& table, const Chain& chain);

// The elements of a set as the user wrote them, one string each, ascending by key:
// "10.0.0.0/24", "6800-7300", "22 : accept", "10.1.1.1 . 22". Interval start/end pairs are
// merged into one element.
[[nodiscard]] std::vector<std::string> ElementTexts(const Table& table, const Set& set,
                                                    const PrintOptions& options = {});

// The declaration of a named set/map without its elements: "type ipv4_addr; flags interval;".
[[nodiscard]] std::string SetHeaderText(const Table& table, const Set& set);

// Flowtable and object declarations (the lines inside their braces, joined with "; ").
[[nodiscard]] std::string FlowtableText(const Table& table, const Flowtable& flowtable);
[[nodiscard]] std::string ObjectText(const Table& table, const Object& object,
                                     const PrintOptions& options = {});

// The whole ruleset in `nft list ruleset` layout; loadable by `nft -f` when no expression fell
// back to low-level form.
[[nodiscard]] std::string RulesetText(const Ruleset& ruleset, const PrintOptions& options = {});

// The low-level form of one expression: "[payload base=1 offset=12 len=4 dreg=1]".
[[nodiscard]] std::string LowLevelText(const Expr& expr);

// An iptables-nft match or target (nft_compat "match"/"target" expression) with the protocol
// the rule's earlier matches establish: IPPROTO_* in ip/ip6 tables, ETH_P_* in bridge tables.
struct XtStatement {
  bool target = false;
  std::string name;
  uint32_t revision = 0;
  Family family = Family::kIp;
  uint16_t proto = 0;
  Bytes info;
};
// Its nft text as libxtables translates it (as nft lists it); nullopt when the extension is
// not installed or has no translation. Serialised internally (libxtables is not thread-safe).
[[nodiscard]] std::optional<std::string> TranslateXt(const XtStatement& xt);

}  // namespace fwgate::nft
