#include "sys/ct_budget.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "sys/ct_entries.h"
#include "sys/netlink_socket.h"
#include "sys/sysctl.h"

namespace fwgate::sys {
namespace {

Result<uint64_t> ReadU64(std::string_view name) {
  auto v = ReadSysctl(name);
  if (!v) return v.error();
  try {
    return static_cast<uint64_t>(std::stoull(*v));
  } catch (...) {
    return Error::Unavailable("unreadable " + std::string(name) + " '" + *v + "'");
  }
}

Status RefuseHost(const NetnsHandle& ns, std::string_view what) {
  auto initial = IsInitialNetns(ns);
  if (!initial) return initial.error();
  if (*initial) {
    return Error::Internal("refusing to " + std::string(what) +
                           " in the host's own network namespace");
  }
  return OkStatus();
}

// Filler tuple i: 198.18.0.0/15 on both sides, unique per i (50,000 source ports per source).
CtEntrySpec FillerSpec(uint64_t i, uint32_t timeout_s) {
  CtEntrySpec s;
  s.orig.family = AF_INET;
  s.orig.proto = IPPROTO_TCP;
  uint32_t src = (198u << 24) | (18u << 16) | static_cast<uint32_t>(1 + i / 50000);
  uint32_t dst = (198u << 24) | (19u << 16) | 1u;
  uint32_t nsrc = htonl(src), ndst = htonl(dst);
  std::memcpy(s.orig.src.data(), &nsrc, 4);
  std::memcpy(s.orig.dst.data(), &ndst, 4);
  s.orig.sport = static_cast<uint16_t>(10000 + i % 50000);
  s.orig.dport = 9;  // discard
  s.status = kCtStatusSeenReply | kCtStatusAssured;
  s.tcp_state = TcpState::kEstablished;
  s.timeout_s = timeout_s;
  return s;
}

// Reads whatever error replies are queued (creates are sent without NLM_F_ACK, so only failures
// answer); returns the first errno seen, 0 when none.
int DrainErrors(mnl_socket* sock, std::vector<char>& buf) {
  int first = 0;
  for (;;) {
    ssize_t n = recv(mnl_socket_get_fd(sock), buf.data(), buf.size(), MSG_DONTWAIT);
    if (n <= 0) return first;
    auto* nlh = reinterpret_cast<nlmsghdr*>(buf.data());
    size_t len = static_cast<size_t>(n);
    while (mnl_nlmsg_ok(nlh, static_cast<int>(len))) {
      if (nlh->nlmsg_type == NLMSG_ERROR) {
        const auto* e = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
        if (e->error != 0 && first == 0) first = -e->error;
      }
      nlh = mnl_nlmsg_next(nlh, reinterpret_cast<int*>(&len));
    }
  }
}

}  // namespace

Result<HostConntrack> ReadHostConntrack() {
  HostConntrack h;
  auto max = ReadU64("net.netfilter.nf_conntrack_max");
  if (!max) return max.error().Wrap("the host's conntrack table size");
  h.max = *max;
  auto buckets = ReadU64("net.netfilter.nf_conntrack_buckets");
  if (!buckets) return buckets.error().Wrap("the host's conntrack hash size");
  h.buckets = *buckets;
  if (auto c = ReadU64("net.netfilter.nf_conntrack_count")) h.count = *c;
  std::ifstream mi("/proc/meminfo");
  std::string key;
  uint64_t kb = 0;
  std::string unit;
  while (mi >> key >> kb) {
    std::getline(mi, unit);
    if (key == "MemAvailable:") h.mem_available = kb * 1024;
  }
  return h;
}

Result<BudgetPlan> PlanBudget(const HostConntrack& host, uint64_t budget, uint64_t other_fill) {
  BudgetPlan p;
  p.budget = budget;
  p.max = host.max;
  if (budget == 0) return Error::BadInput("a table budget of 0 entries");
  if (host.max < budget) {
    return Error::Unavailable(
        "the host's nf_conntrack_max is " + std::to_string(host.max) +
        ", below the scenario's table size " + std::to_string(budget) +
        ": a child namespace cannot be given a larger table than the host's (it is global and "
        "read-only there, docs/kernel-conntrack.md §4.2)");
  }
  p.fill = host.max - budget;
  p.memory_bytes = p.fill * kBytesPerEntry;
  if (host.mem_available > 0 && p.memory_bytes > host.mem_available / 4) {
    return Error::Unavailable("leaving " + std::to_string(budget) + " entries of room under " +
                              "nf_conntrack_max " + std::to_string(host.max) + " needs " +
                              std::to_string(p.fill) + " filler entries (about " +
                              std::to_string(p.memory_bytes >> 20) +
                              " MiB of kernel memory), more than a quarter of what is available");
  }
  uint64_t load = host.count + other_fill + p.fill + budget;
  if (host.buckets > 0 && load > 2 * host.buckets) {
    return Error::Unavailable(
        "the fill would put " + std::to_string(load) +
        " entries in the host's one conntrack hash "
        "of " +
        std::to_string(host.buckets) +
        " buckets (more than 2 per bucket, where the host's own connections would meet long "
        "chains, docs/kernel-conntrack.md §4.3)");
  }
  return p;
}

Result<uint64_t> ConntrackCountIn(const NetnsHandle& ns) {
  auto v = ReadSysctlIntIn(ns, "net.netfilter.nf_conntrack_count");
  if (!v) return v.error();
  return static_cast<uint64_t>(*v < 0 ? 0 : *v);
}

Result<FillReport> FillConntrack(const NetnsHandle& ns, uint64_t entries,
                                 const FillOptions& options) {
  if (auto st = RefuseHost(ns, "fill the conntrack table"); !st) return st.error();
  FillReport r;
  r.requested = entries;
  auto before = ConntrackCountIn(ns);
  if (!before) return before.error().Wrap("filling the conntrack table");
  const auto start = std::chrono::steady_clock::now();
  NetlinkSocket::Options so;
  so.receive_buffer = 4 << 20;
  auto sock = NetlinkSocket::OpenIn(ns, NETLINK_NETFILTER, so);
  if (!sock) return sock.error().Wrap("ctnetlink socket for the fill");
  const size_t batch = std::max<size_t>(1, options.batch);
  std::vector<char> msg(MNL_SOCKET_BUFFER_SIZE);
  std::vector<char> out;
  std::vector<char> rx(1 << 16);
  out.reserve(batch * 256);
  int first_error = 0;
  uint32_t seq = 1;
  for (uint64_t i = 0; i < entries;) {
    out.clear();
    for (size_t k = 0; k < batch && i < entries; ++k, ++i) {
      auto n = BuildCtCreate(FillerSpec(i, options.timeout_s), false, msg.data(), msg.size());
      if (!n) return n.error().Wrap("building filler entries");
      auto* nlh = reinterpret_cast<nlmsghdr*>(msg.data());
      nlh->nlmsg_flags &= static_cast<uint16_t>(~NLM_F_ACK);
      nlh->nlmsg_seq = seq++;
      out.insert(out.end(), msg.data(), msg.data() + *n);
    }
    if (mnl_socket_sendto(sock->raw(), out.data(), out.size()) < 0) {
      return Error::FromErrno(errno, "sending filler entries over ctnetlink");
    }
    if (int e = DrainErrors(sock->raw(), rx); e != 0 && first_error == 0) first_error = e;
  }
  if (int e = DrainErrors(sock->raw(), rx); e != 0 && first_error == 0) first_error = e;
  auto after = ConntrackCountIn(ns);
  if (!after) return after.error().Wrap("counting filler entries");
  r.count_after = *after;
  r.created = *after > *before ? *after - *before : 0;
  r.took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 start);
  if (r.created != entries) {
    std::string why = first_error != 0 ? std::string(": ") + std::strerror(first_error) : "";
    return Error::Unavailable("filling the conntrack table: " + std::to_string(r.created) + " of " +
                              std::to_string(entries) + " filler entries created" + why);
  }
  return r;
}

Status FlushConntrack(const NetnsHandle& ns) {
  if (auto st = RefuseHost(ns, "flush the conntrack table"); !st) return st;
  auto ct = CtEntries::OpenIn(ns);
  if (!ct) return ct.error();
  return ct->Flush();
}

}  // namespace fwgate::sys
