// Network namespaces held by file descriptor, and running code inside one. A namespace made here
// lives exactly as long as its handle (and any thread inside it), so it vanishes with the process.
// Thread-safety: a handle may be shared read-only; RunInNetns uses its own thread per call.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace fwgate::sys {

// Owns one open /proc/.../ns/net descriptor.
class NetnsHandle {
 public:
  NetnsHandle() = default;
  explicit NetnsHandle(int fd) : fd_(fd) {}
  NetnsHandle(NetnsHandle&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  NetnsHandle& operator=(NetnsHandle&& o) noexcept;
  NetnsHandle(const NetnsHandle&) = delete;
  NetnsHandle& operator=(const NetnsHandle&) = delete;
  ~NetnsHandle();

  [[nodiscard]] int fd() const { return fd_; }
  [[nodiscard]] bool valid() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// A fresh, empty network namespace (only a down `lo`), unnamed: nothing in /run/netns refers to
// it, so it is freed when the handle closes or the process dies. Needs CAP_SYS_ADMIN.
[[nodiscard]] Result<NetnsHandle> CreateAnonymous();

// The namespace `ip netns add NAME` made (/run/netns/NAME). ENOENT when it does not exist;
// EINVAL for names that are not a single path component.
[[nodiscard]] Result<NetnsHandle> OpenNamed(std::string_view name);

// True if NAME is acceptable as a namespace name (what `ip netns` accepts, no path tricks).
[[nodiscard]] bool IsValidName(std::string_view name);

// The calling thread's current namespace.
[[nodiscard]] Result<NetnsHandle> OpenCurrent();

// The namespace's identity as /proc/PID/ns/net links name it ("net:[4026532281]").
[[nodiscard]] Result<std::string> NetnsId(const NetnsHandle& ns);

// Runs fn on a new thread that first joins `ns`; returns when fn has returned. Sockets fn opens
// belong to `ns`; /proc/thread-self/net and /proc/sys/net show `ns`. Errors only for setns.
[[nodiscard]] Status RunInNetns(const NetnsHandle& ns, const std::function<void()>& fn);

// Whether this process may create network namespaces (CAP_SYS_ADMIN + CAP_NET_ADMIN); the reason
// when not. Used by commands to exit 3 and by lab tests to skip.
[[nodiscard]] Status CanCreateNamespaces();

}  // namespace fwgate::sys
