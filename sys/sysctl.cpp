#include "sys/sysctl.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

#include "sys/fd.h"

namespace fwgate::sys {
namespace {

Result<std::string> PathOf(std::string_view name) {
  if (name.empty() || name.size() > 200) return Error::BadInput("invalid sysctl name");
  std::string rel;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
              c == '.' || c == '/';
    if (!ok) return Error::BadInput("invalid sysctl name '" + std::string(name) + "'");
    rel += c == '.' ? '/' : c;
  }
  if (rel.find("//") != std::string::npos || rel.front() == '/' || rel.back() == '/') {
    return Error::BadInput("invalid sysctl name '" + std::string(name) + "'");
  }
  return "/proc/sys/" + rel;
}

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return s.substr(i);
}

Result<std::string> ReadFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Error::FromErrno(errno, "reading " + path);
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0) return Error::FromErrno(errno, "reading " + path);
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > (1u << 16)) break;  // sysctls are short
  }
  return Trimmed(std::move(out));
}

bool ParseI64(const std::string& s, int64_t& v) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

Result<std::string> ReadSysctl(std::string_view name) {
  auto path = PathOf(name);
  if (!path) return path.error();
  return ReadFile(*path);
}

Result<std::string> ReadSysctlIn(const NetnsHandle& ns, std::string_view name) {
  Result<std::string> out = Error::Internal("sysctl not read");
  if (auto st = RunInNetns(ns, [&] { out = ReadSysctl(name); }); !st) return st.error();
  return out;
}

Result<int64_t> ReadSysctlIntIn(const NetnsHandle& ns, std::string_view name) {
  auto s = ReadSysctlIn(ns, name);
  if (!s) return s.error();
  int64_t v = 0;
  if (!ParseI64(*s, v)) {
    return Error::Unavailable("sysctl " + std::string(name) + " is not a number: '" + *s + "'");
  }
  return v;
}

namespace {
// The network namespace this process started in: the caller's own (the host's, for fwgate run
// on a host). Recorded while the process image starts, before any thread can move.
struct StartupNetns {
  struct stat st {};
  bool known = false;
  StartupNetns() { known = ::stat("/proc/self/ns/net", &st) == 0; }
};
const StartupNetns kStartupNetns;
}  // namespace

Result<bool> IsInitialNetns(const NetnsHandle& ns) {
  struct stat mine {};
  if (::fstat(ns.fd(), &mine) != 0) return Error::FromErrno(errno, "inspecting a namespace");
  if (!kStartupNetns.known) {
    return Error::Unavailable("the network namespace this process started in is unknown");
  }
  auto same = [&](const struct stat& other) {
    return mine.st_ino == other.st_ino && mine.st_dev == other.st_dev;
  };
  if (same(kStartupNetns.st)) return true;
  // Where PID 1's namespace is visible, it counts as the host's too.
  struct stat init {};
  if (::stat("/proc/1/ns/net", &init) == 0 && same(init)) return true;
  return false;
}

Status WriteSysctlIn(const NetnsHandle& ns, std::string_view name, std::string_view value) {
  auto path = PathOf(name);
  if (!path) return path.error();
  auto initial = IsInitialNetns(ns);
  if (!initial) return initial.error();
  if (*initial) {
    return Error::Internal("refusing to write " + std::string(name) +
                           " in the host's own network namespace");
  }
  Status out = Error::Internal("sysctl not written");
  auto st = RunInNetns(ns, [&] {
    UniqueFd fd(::open(path->c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd) {
      out = Error::FromErrno(errno, "opening " + *path + " for writing");
      return;
    }
    std::string v(value);
    if (::write(fd.get(), v.data(), v.size()) != static_cast<ssize_t>(v.size())) {
      out = Error::FromErrno(errno, "writing " + *path);
      return;
    }
    out = OkStatus();
  });
  if (!st) return st.error();
  return out;
}

std::map<std::string, int64_t> ReadConntrackSysctls() {
  std::map<std::string, int64_t> out;
  DIR* d = ::opendir("/proc/sys/net/netfilter");
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.rfind("nf_conntrack_", 0) != 0) continue;
    auto v = ReadFile("/proc/sys/net/netfilter/" + name);
    int64_t n = 0;
    if (v && ParseI64(*v, n)) out[name] = n;
    if (out.size() >= 256) break;
  }
  ::closedir(d);
  return out;
}

}  // namespace fwgate::sys
