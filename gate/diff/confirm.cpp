#include "gate/diff/confirm.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <cstring>
#include <random>
#include <thread>

#include "sys/ct_entries.h"
#include "sys/netns.h"
#include "sys/nft_runner.h"
#include "sys/nft_trace.h"
#include "sys/packet_io.h"
#include "sys/rtnl.h"
#include "sys/sysctl.h"

namespace fwgate::traffic {
namespace {

constexpr const char* kTraceTable = "fwgate_trace";
constexpr int32_t kNfDrop = 0, kNfAccept = 1, kNfQueue = 3;

std::array<uint8_t, 16> Addr(const Packet& p, bool src) {
  std::array<uint8_t, 16> a{};
  if (p.Get(Field::kNfproto) == kNfprotoIpv6) {
    ToBytes(p.Get(src ? Field::kSaddr6 : Field::kDaddr6), a.data(), 16);
  } else {
    ToBytes(p.Get(src ? Field::kSaddr4 : Field::kDaddr4), a.data(), 4);
  }
  return a;
}

std::string AddrText(const Packet& p, bool src) {
  return p.Get(Field::kNfproto) == kNfprotoIpv6
             ? Ipv6Text(p.Get(src ? Field::kSaddr6 : Field::kDaddr6))
             : Ipv4Text(p.Get(src ? Field::kSaddr4 : Field::kDaddr4));
}

bool IcmpError(bool v6, uint32_t type) {
  return v6 ? type < 128 : (type == 3 || type == 4 || type == 5 || type == 11 || type == 12);
}

// The packet, its conntrack entry (if its state needs one) and how to make it invalid.
struct Plan {
  sys::PacketSpec spec;
  std::optional<sys::CtEntrySpec> entry;
  std::optional<sys::CtExpectSpec> expect;  // related: the connection the packet is expected by
  bool notrack = false;
  std::string impossible;  // why this packet cannot be put in its state here
};

Plan MakePlan(const Packet& p, uint32_t marker) {
  Plan plan;
  bool v6 = p.Get(Field::kNfproto) == kNfprotoIpv6;
  sys::PacketSpec& s = plan.spec;
  s.family = v6 ? AF_INET6 : AF_INET;
  s.src = Addr(p, true);
  s.dst = Addr(p, false);
  s.proto = static_cast<uint8_t>(p.Get(Field::kL4proto));
  s.marker = marker;
  auto sport = static_cast<uint16_t>(p.Get(Field::kSport));
  auto dport = static_cast<uint16_t>(p.Get(Field::kDport));
  bool icmp = s.proto == IPPROTO_ICMP || s.proto == IPPROTO_ICMPV6;
  if (icmp) {
    s.icmp_type = static_cast<uint8_t>(sport >> 8);
    s.icmp_code = static_cast<uint8_t>(sport & 0xff);
    s.icmp_id = 0x4242;
  } else {
    s.sport = sport;
    s.dport = dport;
    s.tcp_flags = static_cast<uint8_t>(p.Get(Field::kTcpFlags));
    if (s.proto != IPPROTO_TCP && s.proto != IPPROTO_UDP) s.payload = 8;
  }
  // (ICMP: bytes 2-3 of the header are its checksum, so a region never asks for a value there.)
  auto state = static_cast<uint32_t>(p.Get(Field::kCtState));
  sys::CtTuple t;
  t.family = s.family;
  t.src = s.src;
  t.dst = s.dst;
  t.proto = s.proto;
  t.sport = s.sport;
  t.dport = s.dport;
  t.icmp_type = s.icmp_type;
  t.icmp_code = s.icmp_code;
  t.icmp_id = s.icmp_id;
  bool error = icmp && IcmpError(v6, s.icmp_type);
  switch (state) {
    case kCtNew:
      if (error) plan.impossible = "an ICMP error is never a new connection";
      break;
    case kCtEstablished:
      if (error) {
        plan.impossible = "an ICMP error is related, never established";
        break;
      }
      if (s.proto != IPPROTO_TCP && s.proto != IPPROTO_UDP && !icmp) {
        plan.impossible = "established state made only for TCP, UDP and ICMP echo";
        break;
      }
      if (icmp && s.icmp_type != (v6 ? 128 : 8)) {
        plan.impossible = "an established ICMP packet is an echo request";
        break;
      }
      plan.entry = sys::CtEntrySpec{};
      plan.entry->orig = t;
      if (icmp) {
        sys::CtTuple r = t.Reversed();
        plan.entry->reply = r;
      }
      break;
    case kCtRelated: {
      if (!error) {
        if (s.proto != IPPROTO_TCP && s.proto != IPPROTO_UDP) {
          plan.impossible = "a related packet is an ICMP error or a TCP/UDP helper connection";
          break;
        }
        // A helper's expected connection (an FTP data connection): a master entry with the
        // helper attached, and an expectation of exactly this packet's tuple.
        sys::CtTuple m;
        m.family = s.family;
        m.src = s.src;
        m.dst = s.dst;
        m.proto = IPPROTO_TCP;
        m.sport = 40003;
        m.dport = 21;
        plan.entry = sys::CtEntrySpec{};
        plan.entry->orig = m;
        plan.entry->helper = "ftp";
        plan.expect = sys::CtExpectSpec{m, t, "ftp", 60};
        break;
      }
      // The error quotes a packet this host sent: that connection is the master.
      sys::PacketSpec inner;
      inner.family = s.family;
      inner.src = s.dst;
      inner.dst = s.src;
      inner.proto = IPPROTO_TCP;
      inner.sport = 40001;
      inner.dport = 443;
      inner.tcp_flags = 0x10;
      s.quoted = sys::CraftPacket(inner);
      s.quoted.resize(v6 ? 48 : 28);
      sys::CtTuple m;
      m.family = s.family;
      m.src = inner.src;
      m.dst = inner.dst;
      m.proto = IPPROTO_TCP;
      m.sport = inner.sport;
      m.dport = inner.dport;
      plan.entry = sys::CtEntrySpec{};
      plan.entry->orig = m;
      break;
    }
    case kCtInvalid:
      if (s.proto == IPPROTO_TCP) {
        s.malformed = sys::PacketSpec::Malformed::kTcpDataOffset;
      } else if (s.proto == IPPROTO_UDP) {
        s.malformed = sys::PacketSpec::Malformed::kUdpLength;
      } else if (error) {
        // An error quoting a connection conntrack does not know is invalid.
        sys::PacketSpec inner;
        inner.family = s.family;
        inner.src = s.dst;
        inner.dst = s.src;
        inner.proto = IPPROTO_TCP;
        inner.sport = 40002;
        inner.dport = 443;
        s.quoted = sys::CraftPacket(inner);
        s.quoted.resize(v6 ? 48 : 28);
      } else {
        plan.impossible = "no way to make this protocol invalid for conntrack";
      }
      break;
    case kCtUntracked:
      plan.notrack = true;
      break;
    default:
      plan.impossible = "unknown ct state";
  }
  return plan;
}

// The trace table: marks the example packet for tracing (and untracks it when asked), records
// the state conntrack gave it right after conntrack ran, and sees it pass the last hook.
std::string TraceTable(Path path, bool v6, uint32_t marker, bool notrack,
                       const std::string& ingress_dev) {
  std::string match =
      v6 ? fmt::format("ip6 flowlabel {}", marker) : fmt::format("ip id {}", marker);
  std::string mark = match + " meta nftrace set 1" + (notrack ? "\n\t\t" + match + " notrack" : "");
  // Each state jumps to a chain named after it: the trace names the state conntrack gave.
  std::string states, state_chains;
  for (const char* st : {"new", "established", "related", "invalid", "untracked"}) {
    states += fmt::format("\t\t{} ct state {} jump st_{}\n", match, st, st);
    state_chains += fmt::format("\tchain st_{} {{\n\t}}\n", st);
  }
  std::string first_hook = path == Path::kOutput ? "output" : "prerouting";
  std::string last_hook = path == Path::kInput ? "input" : "postrouting";
  std::string t = fmt::format(
      "table inet {0} {{\n{5}"
      "\tchain fw_mark {{\n\t\ttype filter hook {1} priority -2147483648; policy "
      "accept;\n\t\t{2}\n\t}}\n"
      "\tchain fw_state {{\n\t\ttype filter hook {1} priority -199; policy accept;\n{3}\t}}\n"
      "\tchain fw_last {{\n\t\ttype filter hook {4} priority 2147483647; policy accept;\n\t}}\n"
      "}}\n",
      kTraceTable, first_hook, mark, states, last_hook, state_chains);
  if (!ingress_dev.empty()) {
    t += fmt::format(
        "table netdev {0} {{\n\tchain fw_mark {{\n\t\ttype filter hook ingress device \"{1}\" "
        "priority -2147483648; policy accept;\n\t\t{2} meta nftrace set 1\n\t}}\n}}\n",
        kTraceTable, ingress_dev, match);
  }
  return t;
}

bool HasNotrack(const nft::Ruleset& rs) {
  for (const auto& t : rs.tables) {
    for (const auto& c : t.chains) {
      for (const auto& r : c.rules) {
        for (const auto& e : r.exprs) {
          if (e.kind == "notrack") return true;
        }
      }
    }
  }
  return false;
}

bool HasIngress(const nft::Ruleset& rs) {
  for (const auto& t : rs.tables) {
    for (const auto& c : t.chains) {
      if (!c.base) continue;
      if (t.family == nft::Family::kNetdev && c.base->hook == 0) return true;
      if (t.family == nft::Family::kInet && c.base->hook == 5) return true;
    }
  }
  return false;
}

// Which verdict kind a rule's own expressions end in (reject looks like a drop in a trace).
bool IsReject(const nft::Ruleset& rs, const sys::TraceEvent& e) {
  if (!e.rule_handle) return false;
  for (const auto& t : rs.tables) {
    if (t.name != e.table || static_cast<uint8_t>(t.family) != e.family) continue;
    const nft::Chain* c = t.FindChain(e.chain);
    if (c == nullptr) return false;
    for (const auto& r : c->rules) {
      if (r.handle != *e.rule_handle) continue;
      for (const auto& x : r.exprs) {
        if (x.kind == "reject") return true;
      }
    }
  }
  return false;
}

std::string EventText(const sys::TraceEvent& e) {
  std::string fam(nft::FamilyName(static_cast<nft::Family>(e.family)));
  if (e.type == sys::TraceEvent::Type::kPolicy)
    return fmt::format("{} {} {} policy", fam, e.table, e.chain);
  return fmt::format("{} {} {} handle {}", fam, e.table, e.chain, e.rule_handle.value_or(0));
}

Status SetupLinks(const sys::NetnsHandle& t, const sys::NetnsHandle& a, const sys::NetnsHandle& b,
                  const std::string& in_if, const std::string& out_if) {
  auto rtnl = sys::RtnlSocket::OpenIn(t);
  if (!rtnl) return rtnl.error();
  if (auto st = rtnl->SetUp("lo"); !st) return st;
  if (!in_if.empty()) {
    if (auto st = rtnl->CreateVethPair(in_if, "fwp0", a.fd()); !st)
      return st.error().Wrap("veth " + in_if);
    if (auto st = rtnl->SetUp(in_if); !st) return st;
    auto ra = sys::RtnlSocket::OpenIn(a);
    if (!ra) return ra.error();
    if (auto st = ra->SetUp("fwp0"); !st) return st;
  }
  if (!out_if.empty() && out_if != in_if) {
    if (auto st = rtnl->CreateVethPair(out_if, "fwp1", b.fd()); !st)
      return st.error().Wrap("veth " + out_if);
    if (auto st = rtnl->SetUp(out_if); !st) return st;
    auto rb = sys::RtnlSocket::OpenIn(b);
    if (!rb) return rb.error();
    if (auto st = rb->SetUp("fwp1"); !st) return st;
  }
  return OkStatus();
}

VerdictKind KindOf(int32_t v) {
  if ((v & 0xff) == kNfQueue) return VerdictKind::kQueue;
  if (v == kNfDrop) return VerdictKind::kDrop;
  if (v == kNfAccept) return VerdictKind::kAccept;
  return VerdictKind::kUnknown;
}

}  // namespace

Result<KernelVerdict> RunExample(const nft::LoadResult& loaded, Path path, const Packet& p,
                                 const ConfirmOptions& options) {
  KernelVerdict out;
  bool v6 = p.Get(Field::kNfproto) == kNfprotoIpv6;
  std::string in_if = path == Path::kOutput ? "" : IfnameText(p.Get(Field::kIifname));
  std::string out_if = path == Path::kInput ? "" : IfnameText(p.Get(Field::kOifname));
  for (const auto& name : {in_if, out_if}) {
    if (name == "lo") {
      out.detail = "packets on lo are this host's own; not sent from outside";
      return out;
    }
    if (!name.empty() && !sys::IsValidIfname(name)) {
      out.detail = "interface name \"" + name + "\" cannot be created";
      return out;
    }
  }
  auto pkttype = static_cast<uint32_t>(p.Get(Field::kPkttype));
  if (pkttype == 3) {
    out.detail = "a packet for another host never reaches the ip hooks";
    return out;
  }
  std::random_device rd;
  uint32_t marker = (rd() & (v6 ? 0xfffff : 0xffff)) | 1;
  Plan plan = MakePlan(p, marker);
  if (!plan.impossible.empty()) {
    out.detail = plan.impossible;
    return out;
  }
  auto t = sys::CreateAnonymous();
  if (!t) return t.error();
  auto a = sys::CreateAnonymous();
  if (!a) return a.error();
  auto b = sys::CreateAnonymous();
  if (!b) return b.error();
  if (v6) {
    for (const char* c : {"all", "default"}) {
      (void)sys::WriteSysctlIn(*t, std::string("net.ipv6.conf.") + c + ".accept_dad", "0");
    }
  }
  if (auto st = SetupLinks(*t, *a, *b, in_if, out_if); !st) return st.error();
  auto rtnl = sys::RtnlSocket::OpenIn(*t);
  if (!rtnl) return rtnl.error();
  std::string dst = AddrText(p, false);
  std::string plen = v6 ? "/128" : "/32";
  // Forwarded and sent packets need a route out; delivered ones a local address.
  if (v6) {
    for (const auto& n : {in_if, out_if}) {
      if (n.empty()) continue;
      (void)sys::WriteSysctlIn(*t, "net.ipv6.conf." + n + ".accept_dad", "0");
    }
  }
  if (path == Path::kInput) {
    if (auto st = rtnl->AddAddress(in_if, dst + plen); !st)
      return st.error().Wrap("address " + dst);
  } else {
    if (auto st = rtnl->AddRoute(dst + plen, "", out_if); !st)
      return st.error().Wrap("route to " + dst);
  }
  if (path == Path::kForward) {
    if (auto st = sys::WriteSysctlIn(
            *t, v6 ? "net.ipv6.conf.all.forwarding" : "net.ipv4.ip_forward", "1");
        !st) {
      return st.error();
    }
  }
  if (!v6) {
    (void)sys::WriteSysctlIn(*t, "net.ipv4.conf.all.rp_filter", "0");
    if (!in_if.empty()) (void)sys::WriteSysctlIn(*t, "net.ipv4.conf." + in_if + ".rp_filter", "0");
  }
  if (auto st = nft::LoadIntoNamespace(*t, loaded, options.nft); !st) return st.error();
  std::string ingress = HasIngress(loaded.ruleset) ? in_if : "";
  if (auto st =
          sys::ApplyNft(*t, TraceTable(path, v6, marker, plan.notrack, ingress), "the trace table");
      !st) {
    return st.error();
  }
  if (plan.entry) {
    auto ct = sys::CtEntries::OpenIn(*t);
    if (!ct) return ct.error();
    if (auto st = ct->Create(*plan.entry); !st) {
      if (plan.expect) {
        out.detail =
            "no ftp conntrack helper to expect a related connection: " + st.error().ToString();
        return out;
      }
      return st.error().Wrap("conntrack entry");
    }
    if (plan.expect) {
      if (auto st = ct->Expect(*plan.expect); !st) {
        out.detail = "the kernel refused the expectation: " + st.error().ToString();
        return out;
      }
    }
  }
  auto listener = sys::TraceListener::OpenIn(*t);
  if (!listener) return listener.error();
  std::vector<uint8_t> bytes = sys::CraftPacket(plan.spec);
  std::optional<std::array<uint8_t, 6>> to;
  if (path != Path::kOutput) {
    auto mac = sys::LinkAddress(*t, in_if);
    if (!mac) return mac.error();
    to = *mac;
    if (pkttype == 1) to = std::array<uint8_t, 6>{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    if (pkttype == 2) {
      to = v6 ? std::array<uint8_t, 6>{0x33, 0x33, 0, 0, 0, 1}
              : std::array<uint8_t, 6>{0x01, 0x00, 0x5e, 0, 0, 1};
    }
  }
  bool ended = false;
  Result<std::vector<sys::TraceEvent>> events = std::vector<sys::TraceEvent>{};
  // A packet sent while a fresh link still settles (IPv6 in particular) can vanish before any
  // verdict: such an attempt says nothing and is repeated.
  for (int attempt = 0; attempt < 3 && !ended; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (path == Path::kOutput) {
      if (auto st = sys::SendRawIp(*t, bytes); !st) return st.error();
    } else {
      if (auto st = sys::SendFrame(*a, "fwp0", *to, bytes); !st) return st.error();
    }
    events = listener->Collect(options.wait, [&](const sys::TraceEvent& e) {
      bool ours = e.table == kTraceTable;
      if (ours && e.chain == "fw_last") ended = true;
      if (!ours && e.verdict && (*e.verdict == kNfDrop || (*e.verdict & 0xff) == kNfQueue)) {
        ended = true;
      }
      return ended;
    });
    if (!events) return events.error();
  }
  if (!events) return events.error();
  // The state conntrack gave the packet, from the state chain's jump.
  std::string want_state(CtStateName(static_cast<uint32_t>(p.Get(Field::kCtState))));
  for (const auto& e : *events) {
    if (e.table == kTraceTable && e.chain == "fw_state" && e.jump_target.rfind("st_", 0) == 0) {
      std::string got = e.jump_target.substr(3);
      // The ruleset itself may untrack the packet (notrack): what its chains then see.
      if (got == "untracked" && HasNotrack(loaded.ruleset)) continue;
      if (got != want_state) {
        out.detail = fmt::format("the kernel classed the example as {}, not {}", got, want_state);
        return out;
      }
    }
  }
  // The verdict: the first user-table event that ended the packet, else an accept when it
  // passed the last hook.
  for (const auto& e : *events) {
    if (e.table == kTraceTable || !e.verdict) continue;
    VerdictKind k = KindOf(*e.verdict);
    if (k == VerdictKind::kDrop || k == VerdictKind::kQueue) {
      out.verdict =
          k == VerdictKind::kDrop && IsReject(loaded.ruleset, e) ? VerdictKind::kReject : k;
      out.rule = EventText(e);
      return out;
    }
  }
  if (ended) {
    out.verdict = VerdictKind::kAccept;
    for (const auto& e : *events) {
      if (e.table != kTraceTable && e.verdict && *e.verdict == kNfAccept) out.rule = EventText(e);
    }
    return out;
  }
  out.detail = events->empty() ? "no trace of the packet (it did not reach the first hook)"
                               : "the packet vanished before the last hook";
  return out;
}

Status ConfirmRegions(const nft::LoadResult* current, const nft::LoadResult& proposed,
                      TrafficDiff& diff, const ConfirmOptions& options) {
  if (auto st = sys::CanCreateNamespaces(); !st) return st;
  size_t n = 0;
  for (Region& r : diff.regions) {
    for (int side = 0; side < 2; ++side) {
      const nft::LoadResult* loaded = side == 0 ? current : &proposed;
      Confirmation c;
      if (loaded == nullptr) {
        c.detail = "the live ruleset is not loaded into a namespace";
        r.confirm[side] = c;
        continue;
      }
      if (n >= options.max_regions) {
        c.detail = fmt::format("beyond the first {} regions", options.max_regions);
        r.confirm[side] = c;
        continue;
      }
      const SideOutcome& want = side == 0 ? r.before : r.after;
      auto kv = RunExample(*loaded, r.path, r.example, options);
      if (!kv) {
        c.detail = kv.error().ToString();
      } else {
        c.kernel_verdict = kv->verdict;
        c.kernel_rule = kv->rule;
        if (!kv->verdict) {
          c.detail = kv->detail;
        } else if (want.verdict == VerdictKind::kUnknown) {
          c.detail = "fwgate does not predict this verdict";
        } else if (*kv->verdict == want.verdict) {
          c.status = ConfirmStatus::kConfirmed;
        } else {
          c.status = ConfirmStatus::kDefect;
          c.detail = fmt::format("fwgate predicts {}, the kernel did {} ({})",
                                 VerdictName(want.verdict), VerdictName(*kv->verdict), kv->rule);
        }
      }
      r.confirm[side] = c;
    }
    ++n;
  }
  return OkStatus();
}

}  // namespace fwgate::traffic
