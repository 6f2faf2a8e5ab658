#include "gate/hazards/policy.h"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "gate/nft/printer.h"

namespace fwgate::hazards {
namespace {

using nft::Chain;
using nft::Family;
using nft::Rule;
using nft::Table;

constexpr uint32_t kHookInput = 1, kHookForward = 2, kHookOutput = 3;
constexpr uint32_t kPolicyAccept = 1;

// Canonical-text tokens: words, with quoted strings kept whole and braces as their own tokens.
std::vector<std::string> Words(const std::string& text) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c == ' ' || c == '\t') {
      ++i;
    } else if (c == '"') {
      size_t end = text.find('"', i + 1);
      end = end == std::string::npos ? text.size() : end + 1;
      out.push_back(text.substr(i, end - i));
      i = end;
    } else if (c == '{' || c == '}') {
      out.emplace_back(1, c);
      ++i;
    } else {
      size_t end = i;
      while (end < text.size() && text[end] != ' ' && text[end] != '\t' && text[end] != '"' &&
             text[end] != '{' && text[end] != '}') {
        ++end;
      }
      out.push_back(text.substr(i, end - i));
      i = end;
    }
  }
  return out;
}

std::vector<std::string> SplitCommaList(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ',') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else if (c != ' ') {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

// Reads a value starting at words[i] (a literal, "a,b", "@set" or "{ a, b }"); advances i.
std::vector<std::string> ReadValues(const std::vector<std::string>& w, size_t& i) {
  std::vector<std::string> out;
  if (i >= w.size()) return out;
  if (w[i] == "{") {
    ++i;
    std::string joined;
    while (i < w.size() && w[i] != "}") joined += w[i++] + " ";
    if (i < w.size()) ++i;
    return SplitCommaList(joined);
  }
  out = SplitCommaList(w[i++]);
  return out;
}

struct ChainFacts {
  enum class Established { kAccepted, kRestricted, kDropped, kUndetermined };
  Established state = Established::kUndetermined;
  const Rule* accept_rule = nullptr;    // the general established accept
  std::vector<const Rule*> restricted;  // established accepts with more conditions
  const Rule* catch_all = nullptr;      // an unconditional drop/reject
  bool by_policy = false;
};

const Chain* FindChain(const Table& t, const std::string& name) {
  for (const auto& c : t.chains) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

ChainFacts Analyze(const Table& t, const Chain& c, int depth = 0) {
  ChainFacts f;
  for (const Rule& r : c.rules) {
    RuleShape s = ShapeOf(nft::RuleText(t, r, {.counters = false}));
    bool has_est =
        std::find(s.ct_states.begin(), s.ct_states.end(), "established") != s.ct_states.end();
    if (s.verdict == RuleShape::Verdict::kAccept && has_est && !s.ct_state_negated) {
      if (!s.matches) {
        f.state = ChainFacts::Established::kAccepted;
        f.accept_rule = &r;
        return f;
      }
      f.restricted.push_back(&r);
      continue;
    }
    bool unconditional = !s.matches && s.ct_states.empty();
    if (unconditional &&
        (s.verdict == RuleShape::Verdict::kJump || s.verdict == RuleShape::Verdict::kGoto) &&
        depth < 16) {
      if (const Chain* target = FindChain(t, s.target)) {
        ChainFacts sub = Analyze(t, *target, depth + 1);
        if (sub.state == ChainFacts::Established::kAccepted) {
          f.state = sub.state;
          f.accept_rule = &r;
          return f;
        }
        if (sub.catch_all != nullptr) {
          f.catch_all = sub.catch_all;
          break;
        }
      }
      continue;
    }
    if (unconditional &&
        (s.verdict == RuleShape::Verdict::kDrop || s.verdict == RuleShape::Verdict::kReject)) {
      f.catch_all = &r;
      break;
    }
  }
  if (f.catch_all == nullptr && c.base) {
    if (c.base->policy == kPolicyAccept && f.restricted.empty()) {
      f.state = ChainFacts::Established::kAccepted;
      f.by_policy = true;
      return f;
    }
  }
  if (f.catch_all == nullptr && !c.base) return f;  // a regular chain returns: undetermined
  f.state = f.restricted.empty() ? ChainFacts::Established::kDropped
                                 : ChainFacts::Established::kRestricted;
  return f;
}

bool IsFilterHook(const Chain& c, Family family) {
  if (!c.base || c.base->type != "filter") return false;
  if (family == Family::kNetdev || family == Family::kArp || family == Family::kBridge) {
    return false;
  }
  return c.base->hook == kHookInput || c.base->hook == kHookForward || c.base->hook == kHookOutput;
}

std::string ChainName(const Table& t, const Chain& c) {
  return std::string(nft::FamilyName(t.family)) + " " + t.name + " " + c.name;
}

std::optional<SourceLocation> RuleLoc(const nft::SourceMap* m, const Table& t, const Chain& c,
                                      const Rule& r) {
  if (m == nullptr) return std::nullopt;
  return m->Rule(t.family, t.name, c.name, r.handle);
}
std::optional<SourceLocation> ChainLoc(const nft::SourceMap* m, const Table& t, const Chain& c) {
  if (m == nullptr) return std::nullopt;
  return m->Chain(t.family, t.name, c.name);
}

const char* kFacts7 = "docs/kernel-conntrack.md §7";
const char* kFacts6 = "docs/kernel-conntrack.md §6";

Finding Make(std::string id, Severity sev, std::string source, std::string message,
             std::string fix) {
  Finding f;
  f.id = std::move(id);
  f.severity = sev;
  f.source = std::move(source);
  f.message = std::move(message);
  f.fix = std::move(fix);
  f.stage = "policy";
  return f;
}

// Ceph's TCP ports: mon v2/v1 and the OSD/MGR/MDS range.
bool CephPort(uint32_t p) { return p == 3300 || p == 6789 || (p >= 6800 && p <= 7300); }

// Whether a dport value (literal, range, or @set resolved through `t`) touches a Ceph port.
bool TouchesCephPorts(const Table& t, const std::vector<std::string>& values) {
  for (const std::string& v : values) {
    std::vector<std::string> items = {v};
    if (!v.empty() && v.front() == '@') {
      items.clear();
      if (const nft::Set* s = t.FindSet(v.substr(1))) items = nft::ElementTexts(t, *s);
    }
    for (const std::string& item : items) {
      size_t dash = item.find('-');
      try {
        uint32_t lo = static_cast<uint32_t>(std::stoul(item.substr(0, dash)));
        uint32_t hi = dash == std::string::npos
                          ? lo
                          : static_cast<uint32_t>(std::stoul(item.substr(dash + 1)));
        if (hi >= 3300 && lo <= 7300 &&
            (CephPort(lo) || CephPort(hi) || (lo <= 6800 && hi >= 6800) ||
             (lo <= 3300 && hi >= 3300) || (lo <= 6789 && hi >= 6789))) {
          return true;
        }
      } catch (...) {  // a service name or something else: not a number
      }
    }
  }
  return false;
}

std::string Join(const std::vector<std::string>& v, const std::string& sep = ", ") {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

// What a structural finding claims about traffic, so the traffic comparison can decide it.
enum class Claim { kNone, kCut, kPolicyOpen, kPortOpen };
struct Claimed {
  Finding finding;
  Claim claim = Claim::kNone;
  Family family = Family::kInet;
  std::string table, chain;        // the base chain the claim is about
  std::optional<uint64_t> handle;  // kPortOpen: the accepting rule
};

Claimed ClaimOf(Finding f, Claim claim, const Table& t, const Chain& c,
                std::optional<uint64_t> handle = std::nullopt) {
  return {std::move(f), claim, t.family, t.name, c.name, handle};
}

// --- the rules ---

void EstablishedRules(const PolicyInput& in, std::vector<Claimed>& out) {
  for (const Table& pt : in.proposed->tables) {
    const Table* ct = in.current->FindTable(pt.family, pt.name);
    for (const Chain& pc : pt.chains) {
      if (!IsFilterHook(pc, pt.family)) continue;
      ChainFacts pf = Analyze(pt, pc);
      const Chain* cc = ct != nullptr ? ct->FindChain(pc.name) : nullptr;
      std::optional<ChainFacts> cf;
      if (cc != nullptr && cc->base) cf = Analyze(*ct, *cc);
      const bool output = pc.base->hook == kHookOutput;
      const bool was_accepted =
          !cf || cf->state == ChainFacts::Established::kAccepted;  // a new chain: was unfiltered
      auto related = [&](Finding& f) {
        if (cf && cf->accept_rule != nullptr && ct != nullptr) {
          if (auto loc = RuleLoc(in.current_sources, *ct, *cc, *cf->accept_rule)) {
            f.related.push_back({*loc, "the established/related accept in the current ruleset"});
          }
        }
      };
      if (output && pc.base->policy != kPolicyAccept &&
          pf.state != ChainFacts::Established::kAccepted) {
        Finding f = Make("output-drop-without-established", Severity::kBlocking, kFacts7,
                         "output chain " + ChainName(pt, pc) +
                             " has policy drop and no `ct state established,related accept`: "
                             "the node's replies on every accepted connection are dropped" +
                             (cf && cf->state != ChainFacts::Established::kAccepted
                                  ? " (already so in the current ruleset)"
                                  : ""),
                         "add `ct state established,related accept` as the first rule of the "
                         "output chain");
        f.location = ChainLoc(in.proposed_sources, pt, pc);
        related(f);
        // Already so before: a fact about the proposed ruleset, not a change in traffic.
        bool already = cf && cf->state != ChainFacts::Established::kAccepted;
        out.push_back(ClaimOf(std::move(f), already ? Claim::kNone : Claim::kCut, pt, pc));
        continue;
      }
      if (!was_accepted || pf.state == ChainFacts::Established::kAccepted ||
          pf.state == ChainFacts::Established::kUndetermined) {
        continue;
      }
      if (pf.state == ChainFacts::Established::kRestricted) {
        // Ports accepted only for new connections while established traffic to them is not.
        std::vector<std::string> new_only;
        const Rule* new_rule = nullptr;
        for (const Rule& r : pc.rules) {
          RuleShape s = ShapeOf(nft::RuleText(pt, r, {.counters = false}));
          if (s.verdict == RuleShape::Verdict::kAccept && s.ct_states.size() == 1 &&
              s.ct_states[0] == "new" && !s.ct_state_negated && !s.dports.empty()) {
            new_only.insert(new_only.end(), s.dports.begin(), s.dports.end());
            if (new_rule == nullptr) new_rule = &r;
          }
        }
        Finding f =
            new_only.empty()
                ? Make("established-accept-narrowed", Severity::kBlocking, kFacts7,
                       "chain " + ChainName(pt, pc) +
                           " accepts established traffic only under extra conditions; open "
                           "connections that do not match them are dropped",
                       "accept `ct state established,related` without further conditions, "
                       "first in the chain")
                : Make("new-only-port", Severity::kBlocking, kFacts7,
                       "chain " + ChainName(pt, pc) + " accepts port " + Join(new_only) +
                           " only for `ct state new`, and its established accept excludes it: "
                           "open connections on " +
                           Join(new_only) + " will be cut",
                       "keep a general `ct state established,related accept` first in the "
                       "chain, and accept new connections to these ports after it");
        f.location = new_rule != nullptr ? RuleLoc(in.proposed_sources, pt, pc, *new_rule)
                                         : RuleLoc(in.proposed_sources, pt, pc, *pf.restricted[0]);
        related(f);
        out.push_back(ClaimOf(std::move(f), Claim::kCut, pt, pc));
        continue;
      }
      Finding f =
          Make("established-accept-lost", Severity::kBlocking, kFacts7,
               "chain " + ChainName(pt, pc) +
                   " no longer accepts established/related traffic before dropping: every open "
                   "connection through it (and every reply to a connection the node opened) is cut "
                   "at the reload, on every kernel",
               "keep `ct state established,related accept` as the first rule of the chain");
      f.location = pf.catch_all != nullptr ? RuleLoc(in.proposed_sources, pt, pc, *pf.catch_all)
                                           : ChainLoc(in.proposed_sources, pt, pc);
      related(f);
      if (cf && cf->accept_rule != nullptr && pf.catch_all != nullptr) {
        f.message += "; the drop now comes before any established accept";
      }
      out.push_back(ClaimOf(std::move(f), Claim::kCut, pt, pc));
    }
  }
}

void ExposureRules(const PolicyInput& in, std::vector<Claimed>& out) {
  for (const Table& pt : in.proposed->tables) {
    const Table* ct = in.current->FindTable(pt.family, pt.name);
    for (const Chain& pc : pt.chains) {
      if (!IsFilterHook(pc, pt.family) || pc.base->hook == kHookOutput) continue;
      const Chain* cc = ct != nullptr ? ct->FindChain(pc.name) : nullptr;
      ChainFacts pf = Analyze(pt, pc);
      bool proposed_open = pc.base->policy == kPolicyAccept && pf.catch_all == nullptr;
      if (cc != nullptr && cc->base) {
        ChainFacts cf = Analyze(*ct, *cc);
        bool current_closed = cc->base->policy != kPolicyAccept || cf.catch_all != nullptr;
        if (proposed_open && current_closed) {
          Finding f = Make("exposure-policy-open", Severity::kBlocking, kFacts6,
                           "chain " + ChainName(pt, pc) +
                               " now accepts everything no rule drops (policy accept and no "
                               "final drop): the node is open to all traffic",
                           "keep `policy drop` (or a final unconditional drop) in the chain");
          f.location = ChainLoc(in.proposed_sources, pt, pc);
          if (cf.catch_all != nullptr) {
            if (auto loc = RuleLoc(in.current_sources, *ct, *cc, *cf.catch_all)) {
              f.related.push_back({*loc, "the final drop in the current ruleset"});
            }
          }
          out.push_back(ClaimOf(std::move(f), Claim::kPolicyOpen, pt, pc));
        }
      }
      // Ports accepted from any source that were not before.
      std::set<std::string> open_before;
      if (cc != nullptr) {
        for (const Rule& r : cc->rules) {
          RuleShape s = ShapeOf(nft::RuleText(*ct, r, {.counters = false}));
          if (s.verdict == RuleShape::Verdict::kAccept && !s.source_restricted) {
            for (const auto& p : s.dports) open_before.insert(p);
          }
        }
      }
      for (const Rule& r : pc.rules) {
        RuleShape s = ShapeOf(nft::RuleText(pt, r, {.counters = false}));
        if (s.verdict != RuleShape::Verdict::kAccept || s.source_restricted || s.dports.empty() ||
            s.dport_negated) {
          continue;
        }
        bool established_only =
            !s.ct_states.empty() && !s.ct_state_negated &&
            std::find(s.ct_states.begin(), s.ct_states.end(), "new") == s.ct_states.end();
        if (established_only) continue;
        std::vector<std::string> fresh;
        for (const auto& p : s.dports) {
          if (!open_before.contains(p)) fresh.push_back(p);
        }
        // In a chain that accepts everything anyway, one more accept exposes nothing new.
        if (fresh.empty() || proposed_open) continue;
        Finding f = Make(
            "exposure-port-any-source", Severity::kBlocking, kFacts6,
            "chain " + ChainName(pt, pc) + " now accepts port " + Join(fresh) + " from any source",
            "restrict the rule to the networks that need it (e.g. `ip saddr "
            "@mgmt_nets`)");
        f.location = RuleLoc(in.proposed_sources, pt, pc, r);
        out.push_back(ClaimOf(std::move(f), Claim::kPortOpen, pt, pc, r.handle));
      }
    }
  }
}

void RejectRule(const PolicyInput& in, std::vector<Finding>& out) {
  for (const Table& pt : in.proposed->tables) {
    for (const Chain& pc : pt.chains) {
      if (!IsFilterHook(pc, pt.family) || pc.base->hook != kHookInput) continue;
      for (const Rule& r : pc.rules) {
        RuleShape s = ShapeOf(nft::RuleText(pt, r, {.counters = false}));
        if (s.verdict != RuleShape::Verdict::kReject) continue;
        bool catch_all = !s.matches && s.ct_states.empty();
        if (!catch_all && (s.dport_negated || !TouchesCephPorts(pt, s.dports))) continue;
        Finding f =
            Make("reject-on-ceph-ports", Severity::kWarning, kFacts6,
                 "chain " + ChainName(pt, pc) +
                     (catch_all ? " ends with a reject" : " rejects Ceph ports") +
                     ": an immediate RST makes Ceph mark OSDs down at once, where a dropped packet "
                     "would be retried until the network or the rule recovers",
                 "use `drop` instead of `reject` for traffic that may reach Ceph daemons");
        f.location = RuleLoc(in.proposed_sources, pt, pc, r);
        out.push_back(std::move(f));
      }
    }
  }
}

void FlushRules(const PolicyInput& in, std::vector<Finding>& out) {
  if (in.proposed_replaces_own_tables) return;
  std::set<std::pair<Family, std::string>> proposed_tables;
  for (const Table& t : in.proposed->tables) proposed_tables.insert({t.family, t.name});
  if (!in.proposed_flushes_ruleset) {
    std::vector<std::string> stays;
    for (const Table& t : in.current->tables) {
      if (!proposed_tables.contains({t.family, t.name})) {
        stays.push_back(std::string(nft::FamilyName(t.family)) + " " + t.name);
      }
    }
    Finding f = Make(
        "no-flush-ruleset", Severity::kWarning, kFacts6,
        in.proposed_file +
            " does not start with `flush ruleset`: loading it adds to what the "
            "node has instead of replacing it" +
            (stays.empty() ? std::string()
                           : "; these tables of the current ruleset stay loaded: " + Join(stays)),
        "start the file with `flush ruleset` (one atomic transaction), or delete "
        "the tables it replaces in the same file (`destroy table ...`)");
    f.location = SourceLocation{in.proposed_file, 1, 1};
    out.push_back(std::move(f));
    return;
  }
  for (const auto& [node, live] : in.live) {
    for (const Table& t : live.tables) {
      if (proposed_tables.contains({t.family, t.name})) continue;
      std::string owner = ForeignTableOwner(t);
      std::string what = std::string(nft::FamilyName(t.family)) + " " + t.name;
      Finding f =
          owner.empty()
              ? Make("flush-deletes-table", Severity::kWarning, kFacts6,
                     "`flush ruleset` in " + in.proposed_file + " deletes table " + what + " on " +
                         node + ", which the proposed ruleset does not define",
                     "define the table in the proposed file, or replace only fwgate-managed "
                     "tables (`destroy table ...` instead of `flush ruleset`)")
              : Make("flush-deletes-foreign-tables", Severity::kBlocking, kFacts6,
                     "`flush ruleset` in " + in.proposed_file + " deletes " + owner + "'s table " +
                         what + " on " + node +
                         ": its traffic (NAT, forwarding, "
                         "bans) stops until " +
                         owner + " re-creates it",
                     "replace only your own tables: `destroy table inet NAME` then the table, "
                     "instead of `flush ruleset`; or restart " +
                         owner + " after the reload");
      f.node = node;
      f.location = SourceLocation{in.proposed_file, 1, 1};
      out.push_back(std::move(f));
    }
  }
}

// Before/after differ only in `comment "..."`.
bool OnlyComments(const std::string& a, const std::string& b) {
  auto strip = [](const std::string& s) {
    std::vector<std::string> w = Words(s), out;
    for (size_t i = 0; i < w.size(); ++i) {
      if (w[i] == "comment" && i + 1 < w.size()) {
        ++i;
        continue;
      }
      out.push_back(w[i]);
    }
    return out;
  };
  return strip(a) == strip(b);
}

// --- the traffic comparison deciding the structural claims ---

using traffic::Region;
using traffic::RuleCite;

bool InChain(const RuleCite& c, const Claimed& k) {
  return c.family == k.family && c.table == k.table && c.base_chain == k.chain;
}
bool Stops(traffic::VerdictKind v) {
  return v == traffic::VerdictKind::kDrop || v == traffic::VerdictKind::kReject;
}

// The base chain on the packet's path that stopped it (drop or reject), if any.
const RuleCite* Stopper(const traffic::SideOutcome& s) {
  for (const auto& c : s.decided_by) {
    if (Stops(c.verdict)) return &c;
  }
  return nullptr;
}

// Whether region `r` is what claim `k` says about its chain.
bool Shows(const Region& r, const Claimed& k) {
  switch (k.claim) {
    case Claim::kNone:
      return false;
    case Claim::kCut: {
      // Open connections cut, stopped in the claimed chain.
      const RuleCite* c = Stopper(r.after);
      return traffic::IsEstablishedCut(r) && c != nullptr && InChain(*c, k);
    }
    case Claim::kPolicyOpen: {
      bool by_policy = std::any_of(r.after.decided_by.begin(), r.after.decided_by.end(),
                                   [&](const RuleCite& c) { return InChain(c, k) && !c.handle; });
      const RuleCite* before = Stopper(r.before);
      return by_policy && before != nullptr && InChain(*before, k);
    }
    case Claim::kPortOpen: {
      auto by_rule = [&](const RuleCite& c) { return InChain(c, k) && c.handle == k.handle; };
      return std::any_of(r.after.decided_by.begin(), r.after.decided_by.end(), by_rule) ||
             std::any_of(r.after.also_decided_by.begin(), r.after.also_decided_by.end(), by_rule);
    }
  }
  return false;
}

TrafficEvidence EvidenceOf(const Region& r) {
  TrafficEvidence e;
  e.region = r.id;
  e.path = std::string(traffic::PathName(r.path));
  e.family = r.family;
  e.ct_state = std::string(traffic::CtStateName(r.ct_state));
  e.predicate = r.predicate;
  e.before = std::string(traffic::VerdictName(r.before.verdict));
  e.after = std::string(traffic::VerdictName(r.after.verdict));
  e.example = r.example_text;
  e.certain = r.certain;
  return e;
}

// " (traffic t3: established, tcp to port 6800: accept → drop; e.g. ...; and 2 more regions)"
void Attach(Finding& f, const std::vector<const Region*>& regions) {
  for (const Region* r : regions) f.traffic.push_back(EvidenceOf(*r));
  if (regions.empty()) return;
  const Region& r = *regions.front();
  f.message += " (traffic " + r.id + ": ct state " + std::string(traffic::CtStateName(r.ct_state)) +
               ", " + r.predicate + ": " + std::string(traffic::VerdictName(r.before.verdict)) +
               " → " + std::string(traffic::VerdictName(r.after.verdict)) +
               (r.certain ? "" : " (may change)") + "; e.g. " + r.example_text;
  if (regions.size() > 1) {
    f.message += "; and " + std::to_string(regions.size() - 1) + " more region" +
                 (regions.size() > 2 ? "s" : "");
  }
  f.message += ")";
}

bool Exposes(const Region& r) {
  if (r.path == traffic::Path::kOutput) return false;
  // Interfaces restrict the source as much as an address does (`iifname "lo" accept`).
  return std::none_of(r.match.begin(), r.match.end(), [](const traffic::FieldValues& f) {
    return f.field == "iifname" || f.field == "saddr";
  });
}

std::string CiteChain(const RuleCite& c) {
  return std::string(nft::FamilyName(c.family)) + " " + c.table + " " + c.base_chain;
}

// Each structural claim the comparison decides is confirmed (with its regions) or, when the
// comparison is complete and shows no such packet, dropped; regions no claim explains become
// findings of their own.
void Reconcile(const PolicyInput& in, std::vector<Claimed> claims, std::vector<Finding>& out) {
  if (in.traffic == nullptr) {
    for (auto& c : claims) out.push_back(std::move(c.finding));
    return;
  }
  const traffic::TrafficDiff& d = *in.traffic;
  std::set<const Region*> explained;
  for (auto& c : claims) {
    if (c.claim == Claim::kNone) {
      out.push_back(std::move(c.finding));
      continue;
    }
    std::vector<const Region*> shown;
    for (const auto& r : d.regions) {
      if (Shows(r, c)) shown.push_back(&r);
    }
    if (shown.empty() && d.complete) continue;  // no packet is treated as the claim says
    for (const Region* r : shown) explained.insert(r);
    Attach(c.finding, shown);
    out.push_back(std::move(c.finding));
  }

  // Open connections cut where no structural rule saw it, one finding per stopping chain.
  std::map<std::string, std::vector<const Region*>> cut_by_chain;
  std::map<std::string, const RuleCite*> stopper_of;
  for (const Region* r : traffic::EstablishedCut(d)) {
    if (explained.contains(r)) continue;
    const RuleCite* c = Stopper(r->after);
    std::string key = c != nullptr ? CiteChain(*c) : "";
    cut_by_chain[key].push_back(r);
    if (c != nullptr && !stopper_of.contains(key)) stopper_of[key] = c;
    explained.insert(r);
  }
  std::vector<traffic::NewOnlyPort> new_only = traffic::NewOnlyPorts(d);
  for (const auto& [chain, regions] : cut_by_chain) {
    std::vector<std::string> ports;
    for (const auto& p : new_only) {
      if (std::find(regions.begin(), regions.end(), p.region) != regions.end()) {
        ports.insert(ports.end(), p.ports.begin(), p.ports.end());
      }
    }
    const RuleCite* c = stopper_of.contains(chain) ? stopper_of[chain] : nullptr;
    std::string where = chain.empty() ? "the proposed ruleset" : "chain " + chain;
    Finding f =
        !ports.empty()
            ? Make("new-only-port", Severity::kBlocking, kFacts7,
                   where + " accepts port " + Join(ports) +
                       " only for new connections and drops its established traffic: open "
                       "connections on " +
                       Join(ports) + " will be cut",
                   "accept `ct state established,related` before the rules that drop, and new "
                   "connections to these ports after it")
            : Make("established-traffic-cut", Severity::kWarning, kFacts7,
                   where +
                       " now drops established traffic it accepted: these open connections are "
                       "cut at the reload (intended when banning a host or closing a service)",
                   "if open connections should finish, put the new drop after `ct state "
                   "established,related accept`, or match `ct state new` in it");
    if (c != nullptr) f.location = c->location;
    Attach(f, regions);
    out.push_back(std::move(f));
  }

  // Exposure no structural rule saw: new connections now accepted from any source.
  std::map<std::string, std::vector<const Region*>> opened;
  std::map<std::string, const RuleCite*> opener_of;
  for (const Region* r : traffic::NewlyAccepted(d, true)) {
    if (explained.contains(r) || !Exposes(*r)) continue;
    const RuleCite* opener = nullptr;
    for (const auto& c : r->after.decided_by) {
      if (c.verdict == traffic::VerdictKind::kAccept && Stopper(r->before) != nullptr &&
          CiteChain(c) == CiteChain(*Stopper(r->before))) {
        opener = &c;
      }
    }
    if (opener == nullptr) continue;
    std::string key = CiteChain(*opener) + (opener->handle ? " #" + std::to_string(*opener->handle)
                                                           : std::string(" policy"));
    opened[key].push_back(r);
    if (!opener_of.contains(key)) opener_of[key] = opener;
  }
  for (const auto& [key, regions] : opened) {
    const RuleCite* c = opener_of[key];
    Finding f =
        !c->handle
            ? Make("exposure-policy-open", Severity::kBlocking, kFacts6,
                   "chain " + CiteChain(*c) +
                       " now accepts by its policy new connections it dropped: the node is open "
                       "to them from any source",
                   "keep `policy drop` (or a final unconditional drop) in the chain")
            : Make("exposure-port-any-source", Severity::kBlocking, kFacts6,
                   "chain " + CiteChain(*c) +
                       " now accepts new connections from any source that "
                       "it dropped (" +
                       c->text + ")",
                   "restrict the rule to the networks that need it (e.g. `ip saddr "
                   "@mgmt_nets`)");
    f.location = c->location;
    Attach(f, regions);
    out.push_back(std::move(f));
  }
}

}  // namespace

RuleShape ShapeOf(const std::string& text) {
  RuleShape s;
  std::vector<std::string> w = Words(text);
  // Verdict: the last verdict word.
  size_t verdict_at = w.size();
  for (size_t i = w.size(); i-- > 0;) {
    const std::string& x = w[i];
    RuleShape::Verdict v = x == "accept"   ? RuleShape::Verdict::kAccept
                           : x == "drop"   ? RuleShape::Verdict::kDrop
                           : x == "reject" ? RuleShape::Verdict::kReject
                           : x == "jump"   ? RuleShape::Verdict::kJump
                           : x == "goto"   ? RuleShape::Verdict::kGoto
                           : x == "return" ? RuleShape::Verdict::kReturn
                           : x == "queue"  ? RuleShape::Verdict::kOther
                                           : RuleShape::Verdict::kNone;
    if (v == RuleShape::Verdict::kNone) continue;
    // `vmap`, `map` and set contents are not verdicts of the rule.
    if (i > 0 && (w[i - 1] == ":" || w[i - 1].back() == ':')) continue;
    s.verdict = v;
    verdict_at = i;
    if ((v == RuleShape::Verdict::kJump || v == RuleShape::Verdict::kGoto) && i + 1 < w.size()) {
      s.target = w[i + 1];
    }
    break;
  }
  for (size_t i = 0; i < verdict_at;) {
    const std::string& x = w[i];
    if (x == "counter") {  // counter [packets N bytes M] [name "x"]
      ++i;
      while (i < verdict_at && (w[i] == "packets" || w[i] == "bytes" || w[i] == "name")) i += 2;
      continue;
    }
    if (x == "log") {
      ++i;
      while (i < verdict_at &&
             (w[i] == "prefix" || w[i] == "level" || w[i] == "flags" || w[i] == "group" ||
              w[i] == "snaplen" || w[i] == "queue-threshold")) {
        i += 2;
      }
      continue;
    }
    if (x == "comment") {
      i += 2;
      continue;
    }
    if (x == "ct" && i + 1 < verdict_at && w[i + 1] == "state") {
      i += 2;
      if (i < verdict_at && w[i] == "!=") {
        s.ct_state_negated = true;
        ++i;
      }
      if (i < verdict_at && w[i] == "vmap") {
        // ct state vmap { established : accept, ... }: treat the established entry as the rule.
        ++i;
        std::vector<std::string> items = ReadValues(w, i);
        (void)items;
        s.matches = true;
        continue;
      }
      s.ct_states = ReadValues(w, i);
      continue;
    }
    if (x == "dport" && i + 1 < verdict_at) {
      s.matches = true;
      ++i;
      if (w[i] == "!=") {
        s.dport_negated = true;
        ++i;
      }
      s.dports = ReadValues(w, i);
      continue;
    }
    if (x == "saddr" || x == "iif" || x == "iifname" || x == "iifgroup") {
      s.source_restricted = true;
    }
    s.matches = true;
    ++i;
  }
  return s;
}

std::string ForeignTableOwner(const Table& t) {
  auto has_chain = [&](std::string_view prefix) {
    return std::any_of(t.chains.begin(), t.chains.end(),
                       [&](const Chain& c) { return c.name.rfind(prefix, 0) == 0; });
  };
  if (has_chain("DOCKER")) return "Docker";
  if (t.name == "kube-proxy" || has_chain("KUBE-")) return "kube-proxy";
  if (t.name.rfind("libvirt", 0) == 0 || has_chain("LIBVIRT_")) return "libvirt";
  if (has_chain("ts-")) return "tailscale";
  if (t.name.rfind("f2b", 0) == 0 || has_chain("f2b-")) return "fail2ban";
  if (t.name == "firewalld") return "firewalld";
  for (const Chain& c : t.chains) {
    for (const Rule& r : c.rules) {
      for (const auto& e : r.exprs) {
        if (e.kind == "match" || e.kind == "target") return "iptables-nft";
      }
    }
  }
  return "";
}

std::vector<FindingRule> PolicyRules() {
  return {
      {"established-accept-lost", Severity::kBlocking, kFacts7, false,
       "a hooked chain no longer accepts established/related traffic before dropping"},
      {"established-accept-narrowed", Severity::kBlocking, kFacts7, false,
       "the established accept now has extra conditions, so some open connections are dropped"},
      {"new-only-port", Severity::kBlocking, kFacts7, false,
       "a port is accepted only for ct state new while its established traffic is dropped"},
      {"output-drop-without-established", Severity::kBlocking, kFacts7, false,
       "output policy drop without an established accept: replies are dropped"},
      {"exposure-policy-open", Severity::kBlocking, kFacts6, false,
       "input/forward now accept everything no rule drops"},
      {"exposure-port-any-source", Severity::kBlocking, kFacts6, false,
       "a port is now accepted from any source"},
      {"reject-on-ceph-ports", Severity::kWarning, kFacts6, false,
       "REJECT on Ceph ports: an immediate RST marks OSDs down"},
      {"no-flush-ruleset", Severity::kWarning, kFacts6, false,
       "the proposed file does not start with flush ruleset and leaves old tables in place"},
      {"flush-deletes-foreign-tables", Severity::kBlocking, kFacts6, false,
       "flush ruleset deletes tables other software keeps on the node (Docker, kube-proxy, ...)"},
      {"flush-deletes-table", Severity::kWarning, kFacts6, false,
       "flush ruleset deletes a table the proposed ruleset does not define"},
      {"established-traffic-cut", Severity::kWarning, kFacts7, false,
       "established traffic the current ruleset accepts is now dropped (open connections cut)"},
      {"harmless-change", Severity::kInfo, kFacts7, false,
       "the change touches only comments or counters, or treats no packet differently"},
  };
}

std::vector<Finding> JudgeChange(const PolicyInput& in) {
  std::vector<Finding> out;
  if (in.current == nullptr || in.proposed == nullptr) return out;
  std::vector<Claimed> claims;
  EstablishedRules(in, claims);
  ExposureRules(in, claims);
  Reconcile(in, std::move(claims), out);
  RejectRule(in, out);
  FlushRules(in, out);
  if (out.empty() && in.plan != nullptr) {
    bool harmless = true;
    for (const auto& c : in.plan->changes) {
      if (!(c.op == diff::Op::kChange && c.object == diff::ObjectKind::kRule &&
            OnlyComments(c.before, c.after))) {
        harmless = false;
        break;
      }
    }
    // The traffic comparison, complete and empty: an equivalent rewrite.
    bool same_traffic = in.traffic != nullptr && in.traffic->complete && in.traffic->empty();
    if (harmless || same_traffic) {
      Finding f = Make("harmless-change", Severity::kInfo, kFacts7,
                       in.plan->empty() ? "the proposed ruleset is the current one: no changes"
                       : harmless       ? "the change touches only comments or counters: no "
                                          "traffic is treated differently"
                                        : "the change rewrites rules without treating any packet "
                                          "differently (the traffic comparison finds no region "
                                          "that changes verdict)",
                       "");
      out.push_back(std::move(f));
    }
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Finding& a, const Finding& b) { return a.severity > b.severity; });
  return out;
}

}  // namespace fwgate::hazards
