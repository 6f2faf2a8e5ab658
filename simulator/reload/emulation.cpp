#include "simulator/reload/emulation.h"

#include <algorithm>
#include <cerrno>
#include <map>
#include <set>

#include "sys/sysctl.h"

namespace fwgate::reload {
namespace {

constexpr const char* kEstablishedTimeout = "net.netfilter.nf_conntrack_tcp_timeout_established";
constexpr const char* kCloseWaitTimeout = "net.netfilter.nf_conntrack_tcp_timeout_close_wait";

hazards::CtFamily FamilyOf(const sys::CtTuple& t) {
  return t.family == AF_INET6 ? hazards::CtFamily::kIpv6 : hazards::CtFamily::kIpv4;
}

// The TCP sockets of the node and of its peers' namespaces (best effort: an unreadable peer
// leaves its sockets out).
std::vector<sys::TcpSocketInfo> Sockets(const sys::NetnsHandle& ns,
                                        const std::vector<const sys::NetnsHandle*>& peers) {
  std::vector<sys::TcpSocketInfo> out;
  if (auto s = sys::TcpSockets(ns); s) out = std::move(*s);
  for (const auto* p : peers) {
    if (auto s = sys::TcpSockets(*p); s) out.insert(out.end(), s->begin(), s->end());
  }
  return out;
}

std::string Key(const sys::TcpSocketInfo& s) {
  return sys::TcpEndpoint(s, false) + ">" + sys::TcpEndpoint(s, true);
}

// The overshoots among the sockets of the node (`own`) and their peers, from two snapshots
// (docs/replay-fidelity.md "Window overshoot"): a direction whose sender had more bytes
// acknowledged during the gap than the largest window its peer advertised at either moment
// went past the stale entry's right edge (td_maxend, docs/kernel-conntrack.md §3.1 check I).
std::vector<WindowOvershoot> Overshoots(const std::vector<sys::TcpSocketInfo>& own,
                                        const std::vector<sys::TcpSocketInfo>& before,
                                        const std::vector<sys::TcpSocketInfo>& after) {
  std::map<std::string, const sys::TcpSocketInfo*> b, a;
  for (const auto& s : before) b[Key(s)] = &s;
  for (const auto& s : after) a[Key(s)] = &s;
  std::vector<WindowOvershoot> out;
  std::set<std::string> seen;
  auto judge = [&](const std::string& key) {
    if (!seen.insert(key).second) return;
    auto ib = b.find(key);
    auto ia = a.find(key);
    if (ib == b.end() || ia == a.end() || !ib->second->has_info || !ia->second->has_info) return;
    const sys::TcpSocketInfo& s0 = *ib->second;
    const sys::TcpSocketInfo& s1 = *ia->second;
    if (s1.bytes_acked < s0.bytes_acked) return;
    WindowOvershoot o{sys::TcpEndpoint(s0, false), sys::TcpEndpoint(s0, true),
                      s1.bytes_acked - s0.bytes_acked, std::max(s0.snd_wnd, s1.snd_wnd)};
    if (o.window > 0 && o.beyond() > 0) out.push_back(o);
  };
  for (const auto& s : own) {
    judge(Key(s));                // the node sends
    sys::TcpSocketInfo peer = s;  // the node receives: the peer's socket, reversed tuple
    std::swap(peer.src, peer.dst);
    std::swap(peer.sport, peer.dport);
    judge(Key(peer));
  }
  return out;
}

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

Result<std::unique_ptr<NodeEmulator>> NodeEmulator::Create(const sys::NetnsHandle& ns,
                                                           hazards::Emulation e) {
  std::unique_ptr<NodeEmulator> em(new NodeEmulator(ns, e));
  if (e == hazards::Emulation::kContinuous) {
    // <= 4.13: a reference that no commit of the node's own can drop (docs/kernel-conntrack.md
    // §2.1: default_on / the module's own registration).
    auto pin = sys::OwnedCtPin::CreateIn(ns, kOwnedPinTable);
    if (!pin) return pin.error().Wrap("continuous emulation");
    em->pin_ = std::make_unique<sys::OwnedCtPin>(std::move(*pin));
  }
  return em;
}

Status NodeEmulator::BeforeReload() {
  if (emulation_ != hazards::Emulation::kStaleGap) return OkStatus();
  // CLOSE_WAIT entries age like ESTABLISHED ones while the emulation lasts (the unacknowledged
  // and retransmission limits apply alike, docs/kernel-conntrack.md §4.5).
  auto est = sys::ReadSysctlIn(*ns_, kEstablishedTimeout);
  if (!est) return est.error().Wrap("stale-gap emulation");
  auto cw = sys::ReadSysctlIn(*ns_, kCloseWaitTimeout);
  if (!cw) return cw.error().Wrap("stale-gap emulation");
  if (close_wait_timeout_.empty()) close_wait_timeout_ = Trimmed(*cw);
  if (auto st = sys::WriteSysctlIn(*ns_, kCloseWaitTimeout, Trimmed(*est)); !st) {
    return st.error().Wrap("stale-gap emulation");
  }
  auto ct = sys::CtEntries::OpenIn(*ns_);
  if (!ct) return ct.error().Wrap("stale-gap emulation");
  auto entries = ct->List();
  if (!entries) return entries.error().Wrap("stale-gap emulation: listing conntrack entries");
  // nf_ct_tcp_fixup (4.19+) zeroes td_maxwin only of ESTABLISHED entries
  // (docs/kernel-conntrack.md §3.5 known gaps): in CLOSE_WAIT the windows stay as they were, as
  // on a 4.14-4.18 kernel, which has no fix-up (§3.4).
  for (const auto& e : *entries) {
    if (e.orig.proto != IPPROTO_TCP || e.tcp_state != sys::TcpState::kEstablished) continue;
    Status st = ct->SetTcpState(e.orig, sys::TcpState::kCloseWait);
    if (!st && st.error().Errno() == ENOENT) continue;  // closed meanwhile
    if (!st) return st.error().Wrap("stale-gap emulation");
    flipped_.push_back(e.orig);
  }
  return OkStatus();
}

Status NodeEmulator::AfterReload(const CtCounts& users) {
  if (emulation_ != hazards::Emulation::kStaleGap) return OkStatus();
  if (flipped_.empty()) return OkStatus();
  auto ct = sys::CtEntries::OpenIn(*ns_);
  if (!ct) return ct.error().Wrap("stale-gap emulation");
  std::vector<sys::CtTuple> left;
  for (const auto& t : flipped_) {
    auto it = users.find(FamilyOf(t));
    if (it == users.end() || it->second == 0) {
      left.push_back(t);  // hooks still unregistered for this family: nothing judges it
      continue;
    }
    auto e = ct->Get(t);
    if (!e) continue;                                         // gone
    if (e->tcp_state != sys::TcpState::kCloseWait) continue;  // a real FIN moved it on
    if (auto st = ct->SetTcpState(t, sys::TcpState::kEstablished); st) ++restored_;
  }
  flipped_ = std::move(left);
  if (flipped_.empty() && !close_wait_timeout_.empty()) {
    if (auto st = sys::WriteSysctlIn(*ns_, kCloseWaitTimeout, close_wait_timeout_); !st) {
      return st.error().Wrap("stale-gap emulation");
    }
    close_wait_timeout_.clear();
  }
  return OkStatus();
}

void NodeEmulator::OnCommit(const CtCounts& users) {
  if (emulation_ != hazards::Emulation::kStaleGap) return;
  bool none = false;
  for (hazards::CtFamily f : {hazards::CtFamily::kIpv4, hazards::CtFamily::kIpv6}) {
    auto it = users.find(f);
    none = none || it == users.end() || it->second == 0;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (gap_done_) return;  // the first gap of the reload is the one judged
  if (none && !in_gap_) {
    // The hooks went with this commit: from here conntrack sees none of the node's packets
    // (docs/kernel-conntrack.md §2.2).
    sockets_before_ = Sockets(*ns_, peers_);
    in_gap_ = true;
  } else if (!none && in_gap_) {
    // Users are back: the hooks were re-registered while this transaction was prepared (§3.6).
    std::vector<sys::TcpSocketInfo> own;
    if (auto s = sys::TcpSockets(*ns_); s) own = std::move(*s);
    overshoots_ = Overshoots(own, sockets_before_, Sockets(*ns_, peers_));
    sockets_before_.clear();
    in_gap_ = false;
    gap_done_ = true;
  }
}

std::vector<WindowOvershoot> NodeEmulator::overshoots() const {
  std::lock_guard<std::mutex> lock(mu_);
  return overshoots_;
}

void NodeEmulator::Release() { pin_.reset(); }

std::string NodeEmulator::Describe() const {
  switch (emulation_) {
    case hazards::Emulation::kContinuous:
      return "a table owned by fwgate's socket (" + std::string(kOwnedPinTable) +
             ", which the node's own commits cannot remove) held a conntrack reference all run, "
             "so tracking never stopped (docs/kernel-conntrack.md §2.1)";
    case hazards::Emulation::kStaleGap:
      return "the node's ESTABLISHED TCP entries were held in CLOSE_WAIT across the reload, so "
             "the lab kernel's window fix-up at hook re-registration (4.19+) skipped them, as a "
             "4.14-4.18 kernel has none (docs/kernel-conntrack.md §3.4, §3.5); the reload's own "
             "commits unregistered and re-registered the hooks";
    case hazards::Emulation::kNative:
      break;
  }
  return "the reload ran as written; the lab kernel decides";
}

}  // namespace fwgate::reload
