#include "simulator/workload/engine.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <optional>
#include <thread>
#include <unordered_map>

#include "simulator/workload/accounting.h"
#include "simulator/workload/local_engine.h"

namespace fwgate::workload {

std::string_view ConnClassName(ConnClass c) {
  switch (c) {
    case ConnClass::kReplication:
      return "replication";
    case ConnClass::kHeartbeat:
      return "heartbeat";
    case ConnClass::kClient:
      return "client";
    case ConnClass::kMon:
      return "mon";
  }
  return "unknown";
}

namespace {

// Moves a socket to an fd number >= 1024 (when RLIMIT_NOFILE allows), keeping the low numbers
// free: libraries the lab uses in the same process wait on their own sockets with select(),
// which cannot take an fd >= FD_SETSIZE (libnftables' batch exchange does), and the engine can
// hold thousands of sockets.
int AboveSelectRange(int fd) {
  if (fd < 0 || fd >= FD_SETSIZE) return fd;
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, FD_SETSIZE);
  if (moved < 0) return fd;  // limit too low to move: keep it
  ::close(fd);
  return moved;
}

// A parsed IPv4/IPv6 socket address.
struct Address {
  sockaddr_storage storage{};
  socklen_t len = 0;
};

Result<Address> ParseAddress(std::string_view text, uint16_t port) {
  Address a;
  std::string s(text);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
  if (inet_pton(AF_INET, s.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    a.len = sizeof(sockaddr_in);
    return a;
  }
  a.storage = {};
  if (inet_pton(AF_INET6, s.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    a.len = sizeof(sockaddr_in6);
    return a;
  }
  return Error::Unavailable("'" + s + "' is not an IPv4 or IPv6 address");
}

Nanos Now() { return MonotonicNow(); }

Nanos ToNanos(std::chrono::milliseconds ms) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(ms).count();
}

std::chrono::milliseconds ToMillis(Nanos ns) {
  return std::chrono::milliseconds((ns + 999'999) /
                                   1'000'000);  // round up: a stall is never hidden
}

constexpr size_t kChunk = size_t{256} * 1024;  // one bulk write / one read
constexpr int kReadsPerEvent = 4;              // fairness: at most 1 MiB per readable event
constexpr uint32_t kPendingCap = 1 << 20;      // periodic backlog kept while a socket cannot write
constexpr Nanos kTick = 5'000'000;             // the loop looks at the world at least this often
constexpr int kMaxEvents = 1024;

// epoll_event.data.u64: (index << 2) | tag.
enum Tag : uint64_t { kTagFrom = 0, kTagTo = 1, kTagListener = 2, kTagWake = 3 };

enum class State : uint8_t { kQueued, kConnecting, kReady, kFailed };

struct Side {
  int fd = -1;
  uint32_t pending = 0;   // periodic bytes still to write
  Nanos paced_until = 0;  // paced bulk: no write before this time
  bool want_out = false;
  bool dead = false;  // EOF or error seen; removed from epoll, fd kept for TCP_INFO
};

// Hot per-connection state. side[0] is the connecting end (sends `forward`), side[1] the
// accepted end (sends `reverse`); dir[s] is the flow sent by side s, counted by its receiver.
struct Conn {
  Side side[2];
  DirectionProgress dir[2];
  Flow flow[2];
  Nanos connect_started = 0;
  uint32_t listener = 0;
  uint16_t from_port = 0;  // the connecting side's local port
  ConnClass cls = ConnClass::kHeartbeat;
  State state = State::kQueued;
  bool connected = false;  // side 0 finished connect()
  bool accepted = false;   // side 1 accepted and matched
  bool reset = false;
  bool closed = false;
  std::string error;
};

struct Listener {
  ListenSpec spec;
  Address addr;
  int fd = -1;
};

// Accepted peer -> connection: (listener, peer address, peer port).
struct PeerKey {
  uint32_t listener;
  uint16_t port;
  std::array<uint8_t, 16> addr;
  bool operator==(const PeerKey&) const = default;
};
struct PeerKeyHash {
  size_t operator()(const PeerKey& k) const {
    uint64_t h = 1469598103934665603ULL;
    auto mix = [&](uint8_t b) { h = (h ^ b) * 1099511628211ULL; };
    for (uint8_t b : k.addr) mix(b);
    mix(k.port & 0xff);
    mix(k.port >> 8);
    for (int i = 0; i < 4; ++i) mix((k.listener >> (8 * i)) & 0xff);
    return h;
  }
};

PeerKey KeyOf(uint32_t listener, const sockaddr_storage& ss) {
  PeerKey k{listener, 0, {}};
  if (ss.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&ss);
    // Stored as an IPv4-mapped IPv6 address so a dual-stack listener matches too.
    k.addr[10] = k.addr[11] = 0xff;
    std::memcpy(&k.addr[12], &v4->sin_addr, 4);
    k.port = ntohs(v4->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    std::memcpy(k.addr.data(), &v6->sin6_addr, 16);
    k.port = ntohs(v6->sin6_port);
  }
  return k;
}

bool IsAnyAddress(const Address& a) {
  if (a.storage.ss_family == AF_INET) {
    return reinterpret_cast<const sockaddr_in*>(&a.storage)->sin_addr.s_addr == htonl(INADDR_ANY);
  }
  const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&a.storage);
  return IN6_IS_ADDR_UNSPECIFIED(&v6->sin6_addr);
}

bool SameAddress(const Address& a, const Address& b) {
  if (a.storage.ss_family != b.storage.ss_family) return false;
  if (a.storage.ss_family == AF_INET) {
    const auto* x = reinterpret_cast<const sockaddr_in*>(&a.storage);
    const auto* y = reinterpret_cast<const sockaddr_in*>(&b.storage);
    return x->sin_addr.s_addr == y->sin_addr.s_addr && x->sin_port == y->sin_port;
  }
  const auto* x = reinterpret_cast<const sockaddr_in6*>(&a.storage);
  const auto* y = reinterpret_cast<const sockaddr_in6*>(&b.storage);
  return std::memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0 && x->sin6_port == y->sin6_port;
}

uint16_t PortOf(const Address& a) {
  if (a.storage.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&a.storage)->sin_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in6*>(&a.storage)->sin6_port);
}

bool IsResetErrno(int err) { return err == ECONNRESET || err == EPIPE; }

Status ValidateFlow(const Flow& f, std::string_view which) {
  if (f.kind == Flow::Kind::kPeriodic && (f.interval.count() <= 0 || f.message_bytes == 0)) {
    return Error::Unavailable(std::string(which) +
                              " flow: periodic needs interval > 0 ms and message_bytes > 0");
  }
  return OkStatus();
}

void SetBuffers(int fd, int sndbuf, int rcvbuf) {
  // Set before listen()/connect() so the window scale in the SYN reflects the buffer.
  if (sndbuf > 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
  if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
}

uint32_t TotalRetrans(int fd) {
  if (fd < 0) return 0;
  tcp_info info{};
  socklen_t len = sizeof(info);
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return 0;
  return info.tcpi_total_retrans;
}

class EngineImpl final : public LocalEngine {
 public:
  EngineImpl(const EngineOptions& o, int epfd, int wakefd)
      : opt_(o), epfd_(epfd), wakefd_(wakefd), scratch_(kChunk), pattern_(kChunk) {
    for (size_t i = 0; i < pattern_.size(); ++i) pattern_[i] = static_cast<char>('a' + i % 26);
  }

  ~EngineImpl() override {
    if (!stopped_) (void)Stop();
    if (wakefd_ >= 0) close(wakefd_);
    if (epfd_ >= 0) close(epfd_);
  }

  Status AddListener(const ListenSpec& spec) override {
    if (started_ || stopped_) return Error::Unavailable("AddListener: engine already started");
    if (spec.ns == nullptr || !spec.ns->valid()) {
      return Error::Unavailable("listen " + spec.node + ": no network namespace given");
    }
    auto addr = ParseAddress(spec.address, spec.port);
    std::string what = "listen " + spec.node + " " + spec.address + ":" + std::to_string(spec.port);
    if (!addr) return Error::Unavailable(what + ": " + addr.error().context);
    int fd = -1;
    int err = 0;
    std::string step;
    auto st = sys::RunInNetns(*spec.ns, [&] {
      fd = AboveSelectRange(
          socket(addr->storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
      if (fd < 0) {
        err = errno;
        step = "socket";
        return;
      }
      int one = 1;
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
      SetBuffers(fd, spec.sndbuf, spec.rcvbuf);
      if (bind(fd, reinterpret_cast<const sockaddr*>(&addr->storage), addr->len) != 0) {
        err = errno;
        step = "bind";
      } else if (listen(fd, 65535) != 0) {  // the kernel caps this at net.core.somaxconn
        err = errno;
        step = "listen";
      }
    });
    if (!st) return st.error().Wrap(what);
    if (err != 0) {
      if (fd >= 0) close(fd);
      return Error::FromErrno(err, what + " (" + step + ")");
    }
    return Register(spec, *addr, fd, what);
  }

  Status AdoptListener(const ListenSpec& spec, int fd) override {
    if (started_ || stopped_) return Error::Unavailable("AdoptListener: engine already started");
    auto addr = ParseAddress(spec.address, spec.port);
    std::string what = "listen " + spec.node + " " + spec.address + ":" + std::to_string(spec.port);
    if (!addr) return Error::Unavailable(what + ": " + addr.error().context);
    return Register(spec, *addr, fd, what);
  }

  size_t listener_count() const override { return listeners_.size(); }
  const ListenSpec& listener_spec(size_t i) const override { return listeners_.at(i).spec; }
  int listener_fd(size_t i) const override { return listeners_.at(i).fd; }
  size_t connection_count() const override { return conns_.size(); }
  const ConnSpec& connection_spec(size_t id) const override { return specs_.at(id); }
  std::optional<uint32_t> ListenerOf(size_t id) const override {
    auto l = FindListener(specs_.at(id));
    if (!l) return std::nullopt;
    return *l;
  }
  std::vector<int> ControlFds() const override { return {epfd_, wakefd_}; }

  void Abandon() override {
    for (Listener& l : listeners_) {
      if (l.fd >= 0) {
        epoll_ctl(epfd_, EPOLL_CTL_DEL, l.fd, nullptr);
        close(l.fd);
      }
      l.fd = -1;
    }
    stopped_ = true;
  }

  Result<size_t> AddConnection(const ConnSpec& spec) override {
    if (started_ || stopped_) return Error::Unavailable("AddConnection: engine already started");
    std::string what = Describe(spec);
    if (spec.from_ns == nullptr || !spec.from_ns->valid()) {
      return Error::Unavailable(what + ": no source network namespace given");
    }
    if (auto to = ParseAddress(spec.to_address, spec.to_port); !to) {
      return Error::Unavailable(what + ": " + to.error().context);
    }
    if (!spec.from_address.empty()) {
      if (auto from = ParseAddress(spec.from_address, 0); !from) {
        return Error::Unavailable(what + ": " + from.error().context);
      }
    }
    if (auto s = ValidateFlow(spec.forward, "forward"); !s) {
      return Error::Unavailable(what + ": " + s.error().context);
    }
    if (auto s = ValidateFlow(spec.reverse, "reverse"); !s) {
      return Error::Unavailable(what + ": " + s.error().context);
    }
    size_t id = conns_.size();
    specs_.push_back(spec);
    Conn& c = conns_.emplace_back();
    c.cls = spec.cls;
    c.flow[0] = spec.forward;
    c.flow[1] = spec.reverse;
    return id;
  }

  EstablishSummary last_establish() const override { return summary_; }

  Status Establish() override {
    if (started_ || stopped_) return Error::Unavailable("Establish: engine already started");
    summary_ = {};
    std::vector<uint32_t> queued;
    for (uint32_t i = 0; i < conns_.size(); ++i) {
      if (conns_[i].state == State::kQueued) queued.push_back(i);
    }
    if (queued.empty()) return OkStatus();
    if (auto s = RaiseFileLimit(); !s) return s;

    // Resolve listeners and create the connecting sockets, one namespace at a time.
    std::map<const sys::NetnsHandle*, std::vector<uint32_t>> by_ns;
    for (uint32_t id : queued) {
      if (auto l = FindListener(specs_[id]); l) {
        conns_[id].listener = *l;
        by_ns[specs_[id].from_ns].push_back(id);
      } else {
        Fail(id, -1, 0,
             "no listener was added for " + specs_[id].to_node + " " + specs_[id].to_address + ":" +
                 std::to_string(specs_[id].to_port));
      }
    }
    for (auto& [ns, ns_ids] : by_ns) {
      auto& ids = ns_ids;  // a named reference: lambdas may not capture structured bindings
      int fatal = 0;
      auto st = sys::RunInNetns(*ns, [&] {
        for (uint32_t id : ids) {
          int err = CreateClientSocket(id);
          if (err == EMFILE || err == ENFILE) {
            fatal = err;
            return;
          }
        }
      });
      if (!st) return st.error().Wrap("creating sockets");
      if (fatal != 0) return Error::FromErrno(fatal, "creating client sockets");
    }

    // Nonblocking connects, at most max_connecting at a time, accepted from the same loop.
    const Nanos timeout = ToNanos(opt_.connect_timeout);
    size_t next = 0;
    std::deque<uint32_t> inflight;
    pending_.reserve(std::min<size_t>(queued.size(), opt_.max_connecting * 2));
    auto done = [&] { return next >= queued.size() && inflight.empty(); };
    while (!done()) {
      while (next < queued.size() && inflight.size() < opt_.max_connecting) {
        uint32_t id = queued[next++];
        if (conns_[id].state != State::kQueued) continue;
        StartConnect(id);
        if (conns_[id].state == State::kConnecting) inflight.push_back(id);
      }
      RunOnce(1'000'000);
      Nanos now = Now();
      while (!inflight.empty()) {
        Conn& c = conns_[inflight.front()];
        if (c.state == State::kConnecting && now - c.connect_started > timeout) {
          Fail(inflight.front(), -1, 0,
               std::string(c.connected ? "not accepted" : "not connected") + " within " +
                   std::to_string(opt_.connect_timeout.count()) + " ms" +
                   (unmatched_ > 0 ? " (" + std::to_string(unmatched_) +
                                         " accepted peers matched no connection: address "
                                         "translation in the path?)"
                                   : ""));
        }
        if (c.state != State::kConnecting) {
          inflight.pop_front();
        } else {
          break;
        }
      }
      // Completed connections further back leave the window too.
      if (inflight.size() >= opt_.max_connecting) {
        std::erase_if(inflight,
                      [&](uint32_t id) { return conns_[id].state != State::kConnecting; });
      }
    }
    pending_.clear();

    size_t failed = 0;
    const std::string* first = nullptr;
    for (uint32_t id : queued) {
      if (conns_[id].state == State::kFailed) {
        if (first == nullptr) {
          first = &conns_[id].error;
          summary_.first_failed = id;
        }
        ++failed;
      }
    }
    summary_.queued = queued.size();
    summary_.failed = failed;
    summary_.first_error = first != nullptr ? *first : "";
    if (failed > 0) {
      return Error::Unavailable(*first + " (" + std::to_string(failed) + " of " +
                                std::to_string(queued.size()) + " connections failed)");
    }
    return OkStatus();
  }

  Status Start() override { return StartAt(Now()); }

  Status StartAt(Nanos timeline_origin) override {
    if (started_ || stopped_) return Error::Unavailable("Start: engine already started");
    start_ns_ = Now();
    timeline_.emplace(std::min(timeline_origin, start_ns_), ToNanos(opt_.timeline_bucket));
    size_t periodic = 0;
    for (const Conn& c : conns_) {
      for (const Flow& f : c.flow) periodic += f.kind == Flow::Kind::kPeriodic;
    }
    timers_.Reserve(periodic);
    for (uint32_t id = 0; id < conns_.size(); ++id) {
      Conn& c = conns_[id];
      if (c.state != State::kReady) continue;
      for (uint32_t s = 0; s < 2; ++s) {
        if (c.flow[s].kind == Flow::Kind::kBulk) {
          SetWantOut(id, s, true);
        } else if (c.flow[s].kind == Flow::Kind::kPeriodic) {
          // Spread first sends over one interval (deterministic), so 48k heartbeats do not fire
          // in the same millisecond.
          Nanos interval = ToNanos(c.flow[s].interval);
          uint64_t h = (static_cast<uint64_t>(id) * 2 + s) * 11400714819323198485ULL;
          Nanos first = c.flow[s].first.count() >= 0
                            ? ToNanos(c.flow[s].first)
                            : static_cast<Nanos>(h % static_cast<uint64_t>(interval));
          timers_.Push({start_ns_ + first, id, s});
        }
      }
    }
    int rt_priority = opt_.loop_realtime_priority;
    if (rt_priority < 0) {
      bool all_paced = true;
      for (const Conn& c : conns_) {
        for (const Flow& f : c.flow) {
          all_paced &= f.kind != Flow::Kind::kBulk || f.bytes_per_second != 0;
        }
      }
      rt_priority = all_paced ? 10 : 0;
    }
    started_ = true;
    thread_ = std::thread([this, rt_priority] {
      if (rt_priority > 0) {
        sched_param sp{};
        sp.sched_priority = rt_priority;
        (void)pthread_setschedparam(pthread_self(), SCHED_RR, &sp);
      } else if (opt_.loop_nice != 0) {
        (void)setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), opt_.loop_nice);
      }
      while (!stop_.load(std::memory_order_acquire)) RunOnce(kTick);
    });
    return OkStatus();
  }

  void Mark() override { MarkAt(Now()); }

  void MarkAt(Nanos when) override {
    Nanos expected = 0;
    mark_ns_.compare_exchange_strong(expected, when);
  }

  Report Stop() override {
    Report r;
    if (stopped_) return r;
    stopped_ = true;
    stop_.store(true, std::memory_order_release);
    uint64_t one = 1;
    (void)!write(wakefd_, &one, sizeof(one));
    if (thread_.joinable()) thread_.join();
    const Nanos stop = Now();
    const Nanos mark = mark_ns_.load();

    r.loop_max_latency = ToMillis(max_latency_);
    if (timeline_) {
      r.timeline = timeline_->Finish(stop, EffectiveMark(mark));
    } else {
      r.timeline.bucket = opt_.timeline_bucket;
      r.timeline.mark_bucket = -1;
    }
    r.connections.reserve(conns_.size());
    for (size_t id = 0; id < conns_.size(); ++id) {
      Conn& c = conns_[id];
      const ConnSpec& spec = specs_[id];
      ConnResult cr;
      cr.id = id;
      cr.cls = c.cls;
      cr.from_node = spec.from_node;
      cr.to_node = spec.to_node;
      cr.from_port = c.from_port;
      cr.fwd_bytes_before = c.dir[0].bytes_before;
      cr.fwd_bytes_after = c.dir[0].bytes_after;
      cr.rev_bytes_before = c.dir[1].bytes_before;
      cr.rev_bytes_after = c.dir[1].bytes_after;
      Nanos stall = 0;
      if (started_ && c.state != State::kQueued) {
        for (int s = 0; s < 2; ++s) {
          const Flow& f = c.flow[s];
          Nanos allowance = f.kind == Flow::Kind::kPeriodic ? ToNanos(f.interval) : 0;
          stall = std::max(stall, c.dir[s].StallAfterMark(stop, EffectiveMark(mark),
                                                          f.kind != Flow::Kind::kNone, allowance));
        }
      }
      cr.max_stall_after_mark = ToMillis(stall);
      cr.reset = c.reset;
      cr.closed = c.closed;
      cr.retransmits = TotalRetrans(c.side[0].fd) + TotalRetrans(c.side[1].fd);
      cr.error = c.state == State::kQueued ? "never established (Establish() not called)" : c.error;
      r.connections.push_back(std::move(cr));
    }
    // Abortive close: no TIME_WAIT left behind in the lab's namespaces.
    linger lg{1, 0};
    for (Conn& c : conns_) {
      for (Side& s : c.side) {
        if (s.fd >= 0) {
          setsockopt(s.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
          close(s.fd);
          s.fd = -1;
        }
      }
    }
    for (Listener& l : listeners_) {
      if (l.fd >= 0) close(l.fd);
      l.fd = -1;
    }
    timers_.Clear();
    return r;
  }

 private:
  // A mark set before Start() counts from Start(): nothing could flow before it.
  [[nodiscard]] Nanos EffectiveMark(Nanos mark) const {
    return mark == 0 ? 0 : std::max(mark, start_ns_);
  }

  Status Register(const ListenSpec& spec, const Address& addr, int fd, const std::string& what) {
    auto idx = static_cast<uint32_t>(listeners_.size());
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = (static_cast<uint64_t>(idx) << 2) | kTagListener;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      int err = errno;
      close(fd);
      return Error::FromErrno(err, what + " (epoll_ctl)");
    }
    listeners_.push_back(Listener{spec, addr, fd});
    return OkStatus();
  }

  static std::string Describe(const ConnSpec& s) {
    std::string from = s.from_node + (s.from_address.empty() ? "" : " " + s.from_address);
    return "connect " + from + " -> " + s.to_node + " " + s.to_address + ":" +
           std::to_string(s.to_port);
  }

  Result<uint32_t> FindListener(const ConnSpec& spec) const {
    auto to = ParseAddress(spec.to_address, spec.to_port);
    if (!to) return to.error();
    for (uint32_t i = 0; i < listeners_.size(); ++i) {
      const Listener& l = listeners_[i];
      if (l.spec.node != spec.to_node || PortOf(l.addr) != spec.to_port) continue;
      if (SameAddress(l.addr, *to) || IsAnyAddress(l.addr)) return i;
    }
    return Error::Unavailable("no listener");
  }

  Status RaiseFileLimit() {
    // Both ends of every connection live in this process (listeners are open already).
    rlim_t need = 2 * conns_.size() + OpenFdCount() + kFdReserve;
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
      return Error::FromErrno(errno, "getrlimit(RLIMIT_NOFILE)");
    if (rl.rlim_cur >= need) return OkStatus();
    const rlimit old = rl;
    if (rl.rlim_max < need) {
      rlim_t nr_open = 0;
      std::ifstream f("/proc/sys/fs/nr_open");
      f >> nr_open;
      if (nr_open != 0 && nr_open < need) {
        return Error::Unavailable(
            std::to_string(conns_.size()) + " connections need " + std::to_string(need) +
            " file descriptors, more than fs.nr_open (" + std::to_string(nr_open) + ")");
      }
      rl.rlim_max = need;
    }
    rl.rlim_cur = need;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
      return Error::FromErrno(
          errno, std::to_string(conns_.size()) + " connections need " + std::to_string(need) +
                     " file descriptors (both ends live in this process) but RLIMIT_NOFILE is " +
                     std::to_string(old.rlim_cur) + "/" + std::to_string(old.rlim_max) +
                     " and raising the hard limit needs CAP_SYS_RESOURCE (or start with "
                     "`ulimit -Hn " +
                     std::to_string(need) + "`)");
    }
    return OkStatus();
  }

  // Runs inside the connection's source namespace. Returns the errno (0 on success).
  int CreateClientSocket(uint32_t id) {
    const ConnSpec& spec = specs_[id];
    auto to = ParseAddress(spec.to_address, spec.to_port);
    int fd = AboveSelectRange(
        socket(to->storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (fd < 0) {
      int err = errno;
      Fail(id, err, 0, "socket");
      return err;
    }
    SetBuffers(fd, spec.sndbuf, spec.rcvbuf);
    if (spec.forward.kind == Flow::Kind::kPeriodic || spec.reverse.kind == Flow::Kind::kPeriodic) {
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    if (!spec.from_address.empty()) {
      auto from = ParseAddress(spec.from_address, 0);
      int one = 1;
      // Port chosen at connect(): ports are then unique per 4-tuple, not per source address.
      setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
      if (bind(fd, reinterpret_cast<const sockaddr*>(&from->storage), from->len) != 0) {
        int err = errno;
        close(fd);
        Fail(id, err, 0, "bind");
        return err;
      }
    }
    conns_[id].side[0].fd = fd;
    return 0;
  }

  void StartConnect(uint32_t id) {
    Conn& c = conns_[id];
    const ConnSpec& spec = specs_[id];
    auto to = ParseAddress(spec.to_address, spec.to_port);
    c.state = State::kConnecting;
    c.connect_started = Now();
    int fd = c.side[0].fd;
    if (connect(fd, reinterpret_cast<const sockaddr*>(&to->storage), to->len) != 0 &&
        errno != EINPROGRESS) {
      Fail(id, errno, 0, "");
      return;
    }
    sockaddr_storage local{};
    socklen_t len = sizeof(local);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0) {
      Fail(id, errno, 0, "getsockname");
      return;
    }
    pending_[KeyOf(c.listener, local)] = id;
    c.from_port = local.ss_family == AF_INET6
                      ? ntohs(reinterpret_cast<const sockaddr_in6*>(&local)->sin6_port)
                      : ntohs(reinterpret_cast<const sockaddr_in*>(&local)->sin_port);
    epoll_event ev{};
    ev.events = EPOLLOUT;
    ev.data.u64 = (static_cast<uint64_t>(id) << 2) | kTagFrom;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) Fail(id, errno, 0, "epoll_ctl");
  }

  // Records the first error of a connection. During establishment the connection is abandoned;
  // afterwards only side `s` leaves the loop (its fd stays open for TCP_INFO).
  void Fail(uint32_t id, int err, int s, const std::string& step) {
    Conn& c = conns_[id];
    if (err > 0 && IsResetErrno(err)) c.reset = true;
    if (c.error.empty()) {
      const ConnSpec& spec = specs_[id];
      std::string msg = Describe(spec);
      if (!step.empty()) {
        msg += ": " + step;
        if (c.state == State::kReady) msg += " at " + (s == 0 ? spec.from_node : spec.to_node);
      }
      if (err > 0) msg += std::string(": ") + strerror(err);
      c.error = std::move(msg);
    }
    if (c.state == State::kReady) {
      Kill(id, s);
      return;
    }
    for (Side& sd : c.side) {
      if (sd.fd >= 0) {
        epoll_ctl(epfd_, EPOLL_CTL_DEL, sd.fd, nullptr);
        close(sd.fd);
        sd.fd = -1;
      }
      sd.dead = true;
    }
    c.state = State::kFailed;
  }

  void Kill(uint32_t id, int s) {
    Side& sd = conns_[id].side[s];
    if (sd.dead) return;
    sd.dead = true;
    if (sd.fd >= 0) epoll_ctl(epfd_, EPOLL_CTL_DEL, sd.fd, nullptr);
  }

  void SetWantOut(uint32_t id, uint32_t s, bool want) {
    Side& sd = conns_[id].side[s];
    if (sd.dead || sd.want_out == want) return;
    sd.want_out = want;
    epoll_event ev{};
    ev.events = EPOLLIN | (want ? static_cast<uint32_t>(EPOLLOUT) : 0U);
    ev.data.u64 = (static_cast<uint64_t>(id) << 2) | s;
    epoll_ctl(epfd_, EPOLL_CTL_MOD, sd.fd, &ev);
  }

  void MaybeReady(uint32_t id) {
    Conn& c = conns_[id];
    if (c.state == State::kConnecting && c.connected && c.accepted) c.state = State::kReady;
  }

  void OnConnectDone(uint32_t id) {
    Conn& c = conns_[id];
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(c.side[0].fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err != 0) {
      Fail(id, err, 0, "");
      return;
    }
    c.connected = true;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = (static_cast<uint64_t>(id) << 2) | kTagFrom;
    epoll_ctl(epfd_, EPOLL_CTL_MOD, c.side[0].fd, &ev);
    MaybeReady(id);
  }

  void OnAccept(uint32_t li) {
    Listener& l = listeners_[li];
    for (;;) {
      sockaddr_storage peer{};
      socklen_t len = sizeof(peer);
      int fd =
          accept4(l.fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        return;  // EAGAIN, or EMFILE (the limit was raised for every connection, so unexpected)
      }
      fd = AboveSelectRange(fd);
      auto it = pending_.find(KeyOf(li, peer));
      if (it == pending_.end()) {
        close(fd);  // not one of ours (or its connect was already abandoned)
        ++unmatched_;
        continue;
      }
      uint32_t id = it->second;
      pending_.erase(it);
      Conn& c = conns_[id];
      if (c.state != State::kConnecting) {
        close(fd);
        continue;
      }
      const ConnSpec& spec = specs_[id];
      // Buffer sizes other than the listener's apply from here on; the window scale was fixed by
      // the listener's buffers at SYN time.
      if (spec.sndbuf != l.spec.sndbuf || spec.rcvbuf != l.spec.rcvbuf) {
        SetBuffers(fd, spec.sndbuf, spec.rcvbuf);
      }
      if (spec.forward.kind == Flow::Kind::kPeriodic ||
          spec.reverse.kind == Flow::Kind::kPeriodic) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      }
      c.side[1].fd = fd;
      c.accepted = true;
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = (static_cast<uint64_t>(id) << 2) | kTagTo;
      epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);
      MaybeReady(id);
    }
  }

  void OnRead(uint32_t id, uint32_t s) {
    Conn& c = conns_[id];
    DirectionProgress& d = c.dir[1 - s];
    for (int i = 0; i < kReadsPerEvent; ++i) {
      ssize_t n = recv(c.side[s].fd, scratch_.data(), scratch_.size(), MSG_DONTWAIT);
      if (n > 0) {
        Nanos now = Now();
        d.OnBytes(now, static_cast<uint64_t>(n), mark_cache_);
        if (timeline_) timeline_->Add(c.cls, now, static_cast<uint64_t>(n));
        if (static_cast<size_t>(n) < scratch_.size()) return;
        continue;
      }
      if (n == 0) {
        c.closed = true;
        Kill(id, s);
        return;
      }
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) Fail(id, errno, static_cast<int>(s), "recv");
      return;
    }
  }

  void OnWrite(uint32_t id, uint32_t s) {
    Conn& c = conns_[id];
    Side& sd = c.side[s];
    if (sd.dead) return;
    const Flow& f = c.flow[s];
    size_t len = 0;
    if (f.kind == Flow::Kind::kBulk) {
      // Paced: about 10 ms worth per write, at least 4 KiB.
      len = f.bytes_per_second == 0 ? kChunk
                                    : std::clamp<size_t>(f.bytes_per_second / 100, 4096, kChunk);
    } else {
      len = std::min<size_t>(sd.pending, kChunk);
      if (len == 0) {
        SetWantOut(id, s, false);
        return;
      }
    }
    ssize_t n = send(sd.fd, pattern_.data(), len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        Fail(id, errno, static_cast<int>(s), "send");
      }
      return;
    }
    if (f.kind == Flow::Kind::kPeriodic) {
      sd.pending -= static_cast<uint32_t>(n);
      SetWantOut(id, s, sd.pending > 0);
    } else if (f.bytes_per_second != 0) {
      constexpr Nanos kBurst = 10'000'000;  // credit kept while idle
      Nanos now = Now();
      sd.paced_until = std::max(sd.paced_until, now - kBurst) +
                       static_cast<Nanos>(static_cast<double>(n) * 1e9 /
                                          static_cast<double>(f.bytes_per_second));
      if (sd.paced_until > now) {
        SetWantOut(id, s, false);
        timers_.Push({sd.paced_until, id, s});
      }
    }
  }

  void OnTimer(const TimerHeap::Entry& e, Nanos now) {
    Conn& c = conns_[e.conn];
    Side& sd = c.side[e.side];
    if (c.state != State::kReady || sd.dead) return;  // dropped: no further sends
    const Flow& f = c.flow[e.side];
    if (f.kind == Flow::Kind::kBulk) {  // pacing delay over
      SetWantOut(e.conn, e.side, true);
      return;
    }
    sd.pending = std::min(sd.pending + f.message_bytes, kPendingCap);
    if (!sd.want_out) OnWrite(e.conn, e.side);
    if (!sd.dead) timers_.Push({NextDue(e.due, now, ToNanos(f.interval)), e.conn, e.side});
  }

  // One loop iteration: wait at most `max_wait` (less if a periodic send is due), handle events,
  // then due timers. Updates max_latency_ (see Report::loop_max_latency).
  void RunOnce(Nanos max_wait) {
    Nanos now = Now();
    Nanos deadline = now + max_wait;
    if (!timers_.empty()) deadline = std::min(deadline, timers_.top().due);
    Nanos wait = std::max<Nanos>(0, deadline - now);
    timespec ts{static_cast<time_t>(wait / 1'000'000'000), static_cast<long>(wait % 1'000'000'000)};
    int n = epoll_pwait2(epfd_, events_, kMaxEvents, &ts, nullptr);
    const Nanos woke = Now();
    Nanos latency = std::max<Nanos>(0, woke - deadline);
    mark_cache_ = EffectiveMark(mark_ns_.load(std::memory_order_relaxed));
    for (int i = 0; i < n; ++i) {
      uint64_t data = events_[i].data.u64;
      uint32_t ev = events_[i].events;
      auto idx = static_cast<uint32_t>(data >> 2);
      switch (data & 3) {
        case kTagListener:
          OnAccept(idx);
          break;
        case kTagWake: {
          uint64_t v;
          (void)!read(wakefd_, &v, sizeof(v));
          break;
        }
        default: {
          auto s = static_cast<uint32_t>(data & 3);
          Conn& c = conns_[idx];
          if (s == 0 && !c.connected) {
            if (c.state == State::kConnecting) OnConnectDone(idx);
            break;
          }
          if (c.side[s].dead || c.side[s].fd < 0) break;  // stale event from this batch
          if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) OnRead(idx, s);
          if ((ev & EPOLLOUT) && !c.side[s].dead) OnWrite(idx, s);
        }
      }
    }
    now = Now();
    while (!timers_.empty() && timers_.top().due <= now) {
      TimerHeap::Entry e = timers_.Pop();
      latency = std::max(latency, now - e.due);
      OnTimer(e, now);
    }
    // Busy time bounds how stale the loop's view of any socket became in this iteration.
    latency = std::max(latency, Now() - woke);
    if (started_) max_latency_ = std::max(max_latency_, latency);
  }

  const EngineOptions opt_;
  int epfd_;
  int wakefd_;
  std::vector<char> scratch_;
  std::vector<char> pattern_;
  std::vector<Listener> listeners_;
  std::vector<ConnSpec> specs_;
  std::deque<Conn> conns_;  // stable addresses while connections are added
  std::unordered_map<PeerKey, uint32_t, PeerKeyHash> pending_;
  size_t unmatched_ = 0;
  EstablishSummary summary_;
  TimerHeap timers_;
  std::optional<TimelineAccumulator> timeline_;
  epoll_event events_[kMaxEvents] = {};

  bool started_ = false;
  bool stopped_ = false;
  Nanos start_ns_ = 0;
  Nanos max_latency_ = 0;
  Nanos mark_cache_ = 0;  // loop thread's copy of mark_ns_
  std::atomic<Nanos> mark_ns_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace

Nanos MonotonicNow() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<Nanos>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

size_t OpenFdCount() {
  size_t n = 0;
  if (DIR* d = opendir("/proc/self/fd"); d != nullptr) {
    while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
    closedir(d);
  }
  return n;
}

Result<std::unique_ptr<LocalEngine>> CreateLocalEngine(const EngineOptions& options) {
  if (options.timeline_bucket.count() <= 0)
    return Error::Unavailable("timeline bucket must be > 0 ms");
  if (options.max_connecting == 0) return Error::Unavailable("max_connecting must be > 0");
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) return Error::FromErrno(errno, "epoll_create1");
  int wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wakefd < 0) {
    int err = errno;
    close(epfd);
    return Error::FromErrno(err, "eventfd");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kTagWake;
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, wakefd, &ev) != 0) {
    int err = errno;
    close(wakefd);
    close(epfd);
    return Error::FromErrno(err, "epoll_ctl(eventfd)");
  }
  return std::unique_ptr<LocalEngine>(std::make_unique<EngineImpl>(options, epfd, wakefd));
}

}  // namespace fwgate::workload
