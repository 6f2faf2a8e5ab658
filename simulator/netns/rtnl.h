// Links over rtnetlink (libmnl), in the calling thread's network namespace: placeholder links for
// interfaces a ruleset names, and the building blocks the lab topology uses.
// Thread-safety: an RtnlSocket belongs to one thread (the namespace it was opened in).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/result.h"

struct mnl_socket;

namespace fwgate::netns {

// One NETLINK_ROUTE socket bound in the namespace of the thread that opened it.
class RtnlSocket {
 public:
  static Result<RtnlSocket> Open();

  // Creates a link that exists only to carry a name (dummy, or ifb/veth where the kernel lacks
  // the dummy driver). EEXIST is not an error.
  Status CreatePlaceholder(std::string_view ifname);
  Status SetUp(std::string_view ifname);
  // Interface index for a name; ENODEV when absent.
  Result<int> IndexOf(std::string_view ifname);

  // Sends one request built by the caller (flags get NLM_F_REQUEST|NLM_F_ACK) and waits for the
  // ACK; returns the kernel's errno as an error. The buffer must hold a complete nlmsghdr.
  Status Transact(void* nlmsg, std::string_view what);

 private:
  struct Closer {
    void operator()(mnl_socket* s) const;
  };
  explicit RtnlSocket(mnl_socket* s);
  Status CreateLink(std::string_view ifname, std::string_view kind, std::string_view peer);

  std::unique_ptr<mnl_socket, Closer> sock_;
  uint32_t portid_ = 0;
  uint32_t seq_ = 0;
};

// Linux interface-name rule: 1..15 bytes, no '/', ':' or whitespace, not "." or "..".
[[nodiscard]] bool IsValidIfname(std::string_view name);

}  // namespace fwgate::netns
