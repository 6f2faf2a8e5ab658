#include "sys/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

namespace fwgate::sys {

NetnsHandle& NetnsHandle::operator=(NetnsHandle&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

NetnsHandle::~NetnsHandle() {
  if (fd_ >= 0) ::close(fd_);
}

Result<NetnsHandle> CreateAnonymous() {
  int fd = -1;
  int err = 0;
  // unshare() moves only the calling thread, so do it on a short-lived thread and keep the fd.
  std::thread t([&] {
    if (::unshare(CLONE_NEWNET) != 0) {
      err = errno;
      return;
    }
    fd = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (fd < 0) err = errno;
  });
  t.join();
  if (fd < 0) return Error::FromErrno(err, "creating a network namespace");
  return NetnsHandle(fd);
}

bool IsValidName(std::string_view name) {
  if (name.empty() || name.size() > 255 || name == "." || name == "..") return false;
  for (char c : name) {
    if (c == '/' || c == '\0') return false;
  }
  return true;
}

Result<NetnsHandle> OpenNamed(std::string_view name) {
  if (!IsValidName(name)) {
    return Error::BadInput("invalid network namespace name '" + std::string(name) + "'");
  }
  std::string path = "/run/netns/" + std::string(name);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Error::FromErrno(errno, "opening network namespace '" + std::string(name) + "'");
  }
  return NetnsHandle(fd);
}

Result<NetnsHandle> OpenCurrent() {
  int fd = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error::FromErrno(errno, "opening the current network namespace");
  return NetnsHandle(fd);
}

Result<std::string> NetnsId(const NetnsHandle& ns) {
  struct stat st {};
  if (::fstat(ns.fd(), &st) != 0) return Error::FromErrno(errno, "reading a network namespace");
  return "net:[" + std::to_string(st.st_ino) + "]";
}

Status RunInNetns(const NetnsHandle& ns, const std::function<void()>& fn) {
  int err = 0;
  std::thread t([&] {
    if (::setns(ns.fd(), CLONE_NEWNET) != 0) {
      err = errno;
      return;
    }
    fn();
  });
  t.join();
  if (err != 0) return Error::FromErrno(err, "entering network namespace");
  return OkStatus();
}

Status CanCreateNamespaces() {
  auto ns = CreateAnonymous();
  if (!ns) {
    return Error{ErrorKind::kUnavailable, ns.error().code,
                 "cannot create a network namespace (needs root or CAP_SYS_ADMIN and "
                 "CAP_NET_ADMIN)"};
  }
  return OkStatus();
}

}  // namespace fwgate::sys
