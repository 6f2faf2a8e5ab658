#include "sys/nft_runner.h"

#include <dirent.h>
#include <linux/netlink.h>
#include <nftables/libnftables.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <nlohmann/json.hpp>
#include <string>

#include "sys/spawn.h"
#include "sys/sysctl.h"

namespace fwgate::sys {
namespace {

constexpr const char* kRole = "nft-runner";
// Exit codes of the runner role beyond nft's own result.
constexpr int kExitBadRequest = 90;
constexpr int kExitOutOfMemory = 91;
// libnftables calls exit(NFT_EXIT_NOMEM) (2 in nftables 1.0.6) when an allocation fails
// (memory_allocation_error prints "Memory allocation failure").
constexpr int kNftExitNoMem = 2;

struct CtxDeleter {
  void operator()(nft_ctx* c) const { nft_ctx_free(c); }
};

bool WriteAll(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

std::string ReadAllStdin() {
  std::string in;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(0, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    in.append(buf, static_cast<size_t>(n));
  }
  return in;
}

// With echo, libnftables reads the kernel's echo of the whole transaction only after sending
// it, into a socket whose receive buffer it sizes by command count (nftables 1.0.6
// mnl_batch_talk: 1 KiB per command, at least 4 MiB, raised only when smaller): a 100k-element
// set echoes ~10 MiB and the kernel drops it (ENOBUFS, "No buffer space available"). The echo
// grows with the input, so the NETLINK_NETFILTER socket nft_ctx_new opened gets a limit of
// 32 bytes per input byte (at least 8 MiB, at most 1 GiB); the kernel charges only what is
// queued. The process holds no other netfilter socket, so every one found is nft's.
void SizeEchoReceiveBuffer(size_t input_bytes) {
  const size_t want = std::clamp<size_t>(input_bytes * 32, size_t{8} << 20, size_t{1} << 30);
  const int size = static_cast<int>(want);
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) return;
  while (const dirent* e = ::readdir(d)) {
    char* end = nullptr;
    long fd = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || fd < 3 || fd == ::dirfd(d)) continue;
    int domain = 0, protocol = 0;
    socklen_t len = sizeof(domain);
    if (::getsockopt(static_cast<int>(fd), SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 ||
        domain != AF_NETLINK) {
      continue;
    }
    len = sizeof(protocol);
    if (::getsockopt(static_cast<int>(fd), SOL_SOCKET, SO_PROTOCOL, &protocol, &len) != 0 ||
        protocol != NETLINK_NETFILTER) {
      continue;
    }
    // FORCE needs CAP_NET_ADMIN (the namespace's root has it); else up to rmem_max.
    if (::setsockopt(static_cast<int>(fd), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) != 0) {
      (void)::setsockopt(static_cast<int>(fd), SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    }
  }
  ::closedir(d);
}

// Bytes of the input nft will read: the text, or the file named by `path`.
size_t InputBytes(const std::string& path, const std::string& text) {
  if (path.empty()) return text.size();
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && st.st_size > 0 ? static_cast<size_t>(st.st_size) : 0;
}

// The role: request JSON on stdin, {"rc", "output", "errors"} on stdout. The process already
// sits in the target namespace, working directory and limits (sys/spawn.h).
int RunnerMain() {
  try {
    nlohmann::json req = nlohmann::json::parse(ReadAllStdin());
    std::unique_ptr<nft_ctx, CtxDeleter> ctx(nft_ctx_new(NFT_CTX_DEFAULT));
    if (!ctx) return kExitBadRequest;
    nft_ctx_buffer_output(ctx.get());
    nft_ctx_buffer_error(ctx.get());
    // Only the directories the caller names: never this machine's /etc default.
    nft_ctx_clear_include_paths(ctx.get());
    for (const auto& dir : req.at("include_dirs")) {
      nft_ctx_add_include_path(ctx.get(), dir.get<std::string>().c_str());
    }
    unsigned flags = 0;
    if (req.at("echo").get<bool>()) flags |= NFT_CTX_OUTPUT_ECHO | NFT_CTX_OUTPUT_HANDLE;
    if (req.at("json").get<bool>()) flags |= NFT_CTX_OUTPUT_JSON;
    nft_ctx_output_set_flags(ctx.get(), flags);
    if (req.at("check").get<bool>()) nft_ctx_set_dry_run(ctx.get(), true);
    const std::string path = req.at("path").get<std::string>();
    const std::string text = req.at("text").get<std::string>();
    if (req.at("echo").get<bool>()) SizeEchoReceiveBuffer(InputBytes(path, text));
    int rc = path.empty() ? nft_run_cmd_from_buffer(ctx.get(), text.c_str())
                          : nft_run_cmd_from_filename(ctx.get(), path.c_str());
    // The steady clock is CLOCK_MONOTONIC, shared with the parent (no time namespace here).
    const auto done = std::chrono::steady_clock::now().time_since_epoch();
    const char* out = nft_ctx_get_output_buffer(ctx.get());
    const char* err = nft_ctx_get_error_buffer(ctx.get());
    nlohmann::json reply = {
        {"rc", rc},
        {"output", out != nullptr ? out : ""},
        {"errors", err != nullptr ? err : ""},
        {"done_ns", std::chrono::duration_cast<std::chrono::nanoseconds>(done).count()}};
    // Diagnostics quote the user's file; make the reply valid JSON whatever bytes it holds.
    std::string s = reply.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return WriteAll(1, s) ? 0 : kExitBadRequest;
  } catch (const std::bad_alloc&) {
    return kExitOutOfMemory;
  } catch (const std::exception& e) {
    (void)!::write(2, e.what(), std::strlen(e.what()));
    return kExitBadRequest;
  }
}

const RoleRegistrar kRunner(kRole, RunnerMain);

std::string MiB(uint64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

}  // namespace

Result<NftResult> RunNft(const NetnsHandle& ns, const NftRequest& r) {
  auto initial = IsInitialNetns(ns);
  if (!initial) return initial.error();
  if (*initial && !r.check_only) {
    return Error::Internal("refusing to run nft in the host's own network namespace");
  }
  nlohmann::json req = {{"text", r.text},        {"path", r.path},
                        {"echo", r.echo},        {"json", r.json_output || r.json_input},
                        {"check", r.check_only}, {"include_dirs", r.include_dirs}};
  SpawnOptions o;
  o.argv = {SelfExecutable()};
  o.env = {std::string(kRoleEnv) + "=" + kRole};
  o.netns = &ns;
  o.working_dir = r.working_dir;
  o.input = req.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  o.pass_fds = r.pass_fds;
  o.memory_limit_bytes = r.limits.memory_bytes;
  o.timeout = r.limits.time;
  o.cpu_limit_seconds =
      static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::seconds>(r.limits.time).count()) +
      1;
  // The reply carries both buffers, JSON-escaped (at most 6 bytes per byte of control text).
  o.max_stdout = (r.limits.max_output + r.limits.max_errors) * 2 + 4096;
  o.max_stderr = 4096;
  o.nice = r.limits.nice;
  auto run = RunProcess(o);
  if (!run) return run.error().Wrap("running libnftables");
  NftResult out;
  if (run->exec_failed) return Error::Unavailable("running libnftables: " + run->Describe());
  if (run->timed_out) {
    out.limit_hit = "the time limit of " + std::to_string(r.limits.time.count()) + " ms";
  } else if (run->signal == SIGXCPU) {
    out.limit_hit = "the CPU time limit of " + std::to_string(o.cpu_limit_seconds) + " s";
  } else if (run->truncated) {
    out.limit_hit = "the output limit of " + MiB(r.limits.max_output);
  } else if (run->exit_code == kExitOutOfMemory ||
             (run->exit_code == kNftExitNoMem &&
              run->err.find("Memory allocation failure") != std::string::npos) ||
             run->signal == SIGSEGV || run->signal == SIGABRT) {
    // Allocation failures surface as nft's NOMEM exit, std::bad_alloc, or an abort in a
    // library that does not check: all are the memory bound being reached.
    out.limit_hit = "the memory limit of " + MiB(r.limits.memory_bytes);
  } else if (run->exit_code != 0) {
    return Error::Unavailable("running libnftables: " + run->Describe());
  }
  if (!out.limit_hit.empty()) return out;
  try {
    auto reply = nlohmann::json::parse(run->out);
    out.ok = reply.at("rc").get<int>() == 0;
    out.output = reply.at("output").get<std::string>();
    out.errors = reply.at("errors").get<std::string>();
    if (auto it = reply.find("done_ns"); it != reply.end() && it->is_number_integer()) {
      out.finished = std::chrono::steady_clock::time_point(
          std::chrono::duration_cast<std::chrono::steady_clock::duration>(
              std::chrono::nanoseconds(it->get<int64_t>())));
    }
  } catch (const std::exception& e) {
    return Error::Internal(std::string("libnftables runner sent an unreadable reply: ") + e.what());
  }
  if (out.output.size() > r.limits.max_output) {
    out.output.clear();
    out.ok = false;
    out.limit_hit = "the output limit of " + MiB(r.limits.max_output);
  }
  if (out.errors.size() > r.limits.max_errors) out.errors.resize(r.limits.max_errors);
  return out;
}

Status ApplyNft(const NetnsHandle& ns, const std::string& text, const std::string& what,
                const NftLimits& limits,
                std::optional<std::chrono::steady_clock::time_point>* finished) {
  NftRequest req;
  req.text = text;
  req.limits = limits;
  auto r = RunNft(ns, req);
  if (!r) return r.error().Wrap(what);
  if (finished != nullptr) *finished = r->finished;
  if (!r->limit_hit.empty()) return Error::Unavailable(what + ": nft stopped at " + r->limit_hit);
  if (!r->ok) {
    std::string err = r->errors;
    while (!err.empty() && err.back() == '\n') err.pop_back();
    return Error::Unavailable(what + ": " + err);
  }
  return OkStatus();
}

}  // namespace fwgate::sys
