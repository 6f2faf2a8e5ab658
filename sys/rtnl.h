// Links over rtnetlink (libmnl), in the calling thread's network namespace: placeholder links for
// interfaces a ruleset names, and the building blocks the lab topology uses.
// Thread-safety: an RtnlSocket belongs to one thread (the namespace it was opened in).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/ifname.h"
#include "base/result.h"
#include "sys/netlink_socket.h"
#include "sys/netns.h"

namespace fwgate::sys {

// One NETLINK_ROUTE socket bound in the namespace of the thread that opened it.
class RtnlSocket {
 public:
  static Result<RtnlSocket> Open();
  // A socket bound inside `ns` (opened on a thread that joined it). Requests sent on it act on
  // `ns` whichever thread sends them, so one thread can configure many namespaces.
  static Result<RtnlSocket> OpenIn(const NetnsHandle& ns);

  // Creates a link that exists only to carry a name (dummy, or ifb/veth where the kernel lacks
  // the dummy driver). EEXIST is not an error.
  Status CreatePlaceholder(std::string_view ifname);
  Status SetUp(std::string_view ifname);
  // Interface index for a name; ENODEV when absent.
  Result<int> IndexOf(std::string_view ifname);

  // --- Lab building blocks (all act on the socket's namespace). ---

  // A veth pair: `name` here, `peer` created directly in the namespace `peer_ns_fd` refers to
  // (-1: here too).
  Status CreateVethPair(std::string_view name, std::string_view peer, int peer_ns_fd = -1);
  Status CreateBridge(std::string_view name);
  // Enslaves `ifname` to bridge `master`.
  Status SetMaster(std::string_view ifname, std::string_view master);
  // Moves `ifname` into the namespace `ns_fd` refers to (it keeps its name).
  Status MoveToNetns(std::string_view ifname, int ns_fd);
  // Adds "10.20.0.11/24" (or an IPv6 CIDR) to `ifname`.
  Status AddAddress(std::string_view ifname, std::string_view cidr);
  // Route to `dst_cidr` ("0.0.0.0/0" for default) via `gateway` ("" for on-link) out of `ifname`.
  Status AddRoute(std::string_view dst_cidr, std::string_view gateway, std::string_view ifname);
  // Root netem qdisc on `ifname` adding `delay_us` of latency. Kernels without sch_netem answer
  // ENOENT/EOPNOTSUPP; the error then says the kernel has no netem.
  Status AddNetemDelay(std::string_view ifname, uint32_t delay_us);

  // Sends one request built by the caller (flags get NLM_F_REQUEST|NLM_F_ACK) and waits for the
  // ACK; returns the kernel's errno as an error. The buffer must hold a complete nlmsghdr.
  Status Transact(void* nlmsg, std::string_view what);

 private:
  explicit RtnlSocket(NetlinkSocket s);
  // A link of `kind`; veth pairs name their `peer`, created in `peer_ns_fd` (-1: here).
  Status CreateLink(std::string_view ifname, std::string_view kind, std::string_view peer,
                    int peer_ns_fd = -1);

  NetlinkSocket sock_;
};

// An address with a prefix length, parsed from "10.20.0.0/24" or "fd00::1/64" (a bare address
// gets the full length). Pure; no kernel.
struct Cidr {
  int family = 0;               // AF_INET or AF_INET6
  unsigned char addr[16] = {};  // network byte order; first 4 bytes for IPv4
  int prefix = 0;
  [[nodiscard]] int AddrLen() const { return family == AF_INET6 ? 16 : 4; }
};
[[nodiscard]] Result<Cidr> ParseCidr(std::string_view text);

using fwgate::IsValidIfname;  // base/ifname.h

}  // namespace fwgate::sys
