#include "sys/kmsg.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

namespace fwgate::sys {

std::optional<uint64_t> ParseTableFull(std::string_view line) {
  // /dev/kmsg records: "PRIORITY,SEQ,USEC,FLAGS;MESSAGE".
  if (auto semi = line.find(';'); semi != std::string_view::npos && semi < 64 &&
                                  line.substr(0, semi).find(',') != std::string_view::npos) {
    line.remove_prefix(semi + 1);
  }
  constexpr std::string_view kPrefix = "nf_conntrack: table full";
  auto at = line.find(kPrefix);
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view rest = line.substr(at + kPrefix.size());
  if (rest.starts_with(", dropping packet")) return 0;
  constexpr std::string_view kIn = " in netns ";
  if (!rest.starts_with(kIn)) return std::nullopt;
  rest.remove_prefix(kIn.size());
  uint64_t inum = 0;
  auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), inum);
  if (ec != std::errc() || p == rest.data()) return std::nullopt;
  std::string_view tail(p, static_cast<size_t>(rest.data() + rest.size() - p));
  if (!tail.starts_with(", dropping packet")) return std::nullopt;
  return inum;
}

Result<uint64_t> NetnsInode(const NetnsHandle& ns) {
  struct stat st {};
  if (::fstat(ns.fd(), &st) != 0) return Error::FromErrno(errno, "inspecting a namespace");
  return static_cast<uint64_t>(st.st_ino);
}

Result<KernelLog> KernelLog::OpenAtEnd() {
  UniqueFd fd(::open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fd) return Error::FromErrno(errno, "opening /dev/kmsg (the kernel log)");
  if (::lseek(fd.get(), 0, SEEK_END) < 0) return Error::FromErrno(errno, "seeking /dev/kmsg");
  return KernelLog(std::move(fd));
}

Result<std::vector<std::string>> KernelLog::ReadNew() {
  std::vector<std::string> out;
  char buf[8192];
  for (int i = 0; i < 100000; ++i) {
    ssize_t n = ::read(fd_.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EAGAIN) break;
      if (errno == EPIPE) continue;  // records were overwritten before we read them: skip on
      if (errno == EINTR) continue;
      return Error::FromErrno(errno, "reading /dev/kmsg");
    }
    if (n == 0) break;
    std::string_view rec(buf, static_cast<size_t>(n));
    if (auto semi = rec.find(';'); semi != std::string_view::npos) rec.remove_prefix(semi + 1);
    if (auto nl = rec.find('\n'); nl != std::string_view::npos) rec = rec.substr(0, nl);
    out.emplace_back(rec);
  }
  return out;
}

}  // namespace fwgate::sys
