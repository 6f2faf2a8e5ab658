#include "simulator/workload/daemons.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <future>
#include <map>
#include <mutex>
#include <queue>
#include <thread>
#include <unordered_map>

#include "simulator/workload/local_engine.h"

namespace fwgate::workload {
namespace {

constexpr Nanos kMs = 1'000'000;
constexpr Nanos kTick = 5 * kMs;
constexpr int kMaxEvents = 1024;

Nanos ToNanos(std::chrono::milliseconds d) { return static_cast<Nanos>(d.count()) * kMs; }

// epoll data: kind in the top byte, index below.
enum Kind : uint64_t {
  kWake = 1,
  kListener = 2,  // a daemon's listening socket
  kClient = 3,    // a session's peer end
  kMonListener = 4,
  kMonClient = 5,  // a daemon's session to the monitor
};
uint64_t Tag(Kind k, size_t i) { return (static_cast<uint64_t>(k) << 56) | i; }

Result<sockaddr_in> Parse(const std::string& addr, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  if (inet_pton(AF_INET, addr.c_str(), &a.sin_addr) != 1) {
    return Error::BadInput("'" + addr + "' is not an IPv4 address");
  }
  return a;
}

uint64_t PeerKey(uint32_t addr, uint16_t port, uint32_t listener) {
  return (static_cast<uint64_t>(addr) << 32) ^ (static_cast<uint64_t>(port) << 8) ^ listener;
}

enum class SessState : uint8_t { kIdle, kConnecting, kAwaitBanner, kUp };
enum class DState : uint8_t { kDown, kBooting, kMonConnecting, kUp };

struct Session {
  uint32_t daemon = 0;
  uint32_t source = 0;
  int cfd = -1;  // the peer's socket
  int sfd = -1;  // the daemon's accepted socket (serving daemons only)
  SessState st = SessState::kIdle;
  uint32_t gen = 0;  // invalidates queued timers
  Nanos started = 0;
  uint64_t key = 0;  // pending-accept key while connecting
};

struct Daemon {
  DaemonEndpoint ep;
  sockaddr_in addr{};
  int lfd = -1;
  int mon_cfd = -1;
  int mon_sfd = -1;
  DState st = DState::kMonConnecting;
  Nanos down_until = 0;
  double work_left = 0;  // ns of boot work
  Nanos mon_started = 0;
  uint32_t mon_gen = 0;
  uint64_t mon_key = 0;
  int sessions_up = 0;
  int64_t restarted_ms = -1, back_ms = -1;
  int restarts = 0;
};

struct Timer {
  Nanos due;
  uint32_t index;  // session index, or daemons' base + daemon for the monitor connect
  uint32_t gen;
  bool operator>(const Timer& o) const { return due > o.due; }
};

class DaemonSetImpl final : public DaemonSet {
 public:
  DaemonSetImpl(const DaemonOptions& o, std::vector<DaemonEndpoint> d, std::vector<PeerEndpoint> s,
                PeerEndpoint mon)
      : opt_(o), sources_(std::move(s)), mon_(std::move(mon)) {
    for (auto& e : d) daemons_.push_back(Daemon{std::move(e)});
  }
  ~DaemonSetImpl() override {
    if (thread_.joinable()) (void)Stop();
    if (wake_ >= 0) close(wake_);
    if (ep_ >= 0) close(ep_);
  }

  Status Init() {
    if (daemons_.empty() || sources_.empty() || opt_.sessions_per_daemon <= 0) {
      return Error::BadInput("restartable daemons need daemons, session sources and sessions");
    }
    for (auto& d : daemons_) {
      auto a = Parse(d.ep.address, d.ep.port);
      if (!a) return a.error();
      d.addr = *a;
      if (d.ep.ns == nullptr || !d.ep.ns->valid()) return Error::Internal("daemon without netns");
    }
    for (auto& s : sources_) {
      auto a = Parse(s.address, 0);
      if (!a) return a.error();
      src_addr_.push_back(*a);
    }
    auto m = Parse(mon_.address, mon_.port);
    if (!m) return m.error();
    mon_addr_ = *m;
    // Both ends of every session live here: 2 descriptors each, plus listeners and spares.
    rlim_t need = 2 * daemons_.size() * static_cast<size_t>(opt_.sessions_per_daemon) +
                  4 * daemons_.size() + OpenFdCount() + kFdReserve;
    rlimit rl{};
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < need) {
      rlimit up{std::min(need, rl.rlim_max), rl.rlim_max};
      setrlimit(RLIMIT_NOFILE, &up);
      getrlimit(RLIMIT_NOFILE, &rl);
      if (rl.rlim_cur < need) {
        return Error::Unavailable(std::to_string(daemons_.size() * opt_.sessions_per_daemon) +
                                  " daemon sessions need " + std::to_string(need) +
                                  " file descriptors; RLIMIT_NOFILE allows " +
                                  std::to_string(rl.rlim_cur));
      }
    }
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    wake_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (ep_ < 0 || wake_ < 0) return Error::FromErrno(errno, "epoll/eventfd for the daemons");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = Tag(kWake, 0);
    epoll_ctl(ep_, EPOLL_CTL_ADD, wake_, &ev);
    size_t n = daemons_.size() * static_cast<size_t>(opt_.sessions_per_daemon);
    sessions_.resize(n);
    for (size_t i = 0; i < n; ++i) {
      sessions_[i].daemon = static_cast<uint32_t>(i % daemons_.size());
      sessions_[i].source = static_cast<uint32_t>((i / daemons_.size()) % sources_.size());
    }
    return OkStatus();
  }

  Status Start(std::chrono::milliseconds timeout) override {
    if (thread_.joinable()) return Error::Internal("DaemonSet started twice");
    std::promise<Status> setup;
    auto ready = setup.get_future();
    thread_ = std::thread([this, p = std::move(setup)]() mutable { Loop(std::move(p)); });
    Status st = ready.get();
    if (!st) {
      (void)Stop();
      return st;
    }
    const auto end = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      DaemonSnapshot s = Snapshot();
      bool all = s.sessions_up == s.sessions_total;
      for (const auto& d : s.daemons) all = all && d.up;
      if (all) return OkStatus();
      if (std::chrono::steady_clock::now() >= end) {
        return Error::Unavailable(
            std::to_string(s.sessions_up) + " of " + std::to_string(s.sessions_total) +
            " daemon sessions up before the restart storm (" + std::to_string(s.counters.refused) +
            " refused, " + std::to_string(s.counters.timed_out) + " unanswered)");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  void Restart(size_t index) override {
    {
      std::lock_guard l(cmd_mu_);
      restarts_.push_back(index);
    }
    uint64_t one = 1;
    (void)!write(wake_, &one, sizeof one);
  }

  DaemonSnapshot Snapshot() override {
    std::lock_guard l(snap_mu_);
    return snap_;
  }

  DaemonSnapshot Stop() override {
    stop_.store(true);
    uint64_t one = 1;
    if (wake_ >= 0) (void)!write(wake_, &one, sizeof one);
    if (thread_.joinable()) thread_.join();
    linger lg{1, 0};
    auto shut = [&](int& fd) {
      if (fd < 0) return;
      setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
      close(fd);
      fd = -1;
    };
    for (auto& s : sessions_) {
      shut(s.cfd);
      shut(s.sfd);
    }
    for (auto& d : daemons_) {
      shut(d.mon_cfd);
      shut(d.mon_sfd);
      if (d.lfd >= 0) close(d.lfd);
      d.lfd = -1;
    }
    if (mon_lfd_ >= 0) close(mon_lfd_);
    mon_lfd_ = -1;
    return Snapshot();
  }

 private:
  // The loop thread changes its own network namespace to open sockets where they belong.
  bool Enter(const sys::NetnsHandle* ns) {
    if (ns == cur_ns_) return true;
    if (setns(ns->fd(), CLONE_NEWNET) != 0) return false;
    cur_ns_ = ns;
    return true;
  }

  int NewSocket(const sys::NetnsHandle* ns) {
    if (!Enter(ns)) return -1;
    return socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  }

  Status Listen(const sys::NetnsHandle* ns, const sockaddr_in& a, int& fd, uint64_t tag) {
    fd = NewSocket(ns);
    if (fd < 0) return Error::FromErrno(errno, "daemon listening socket");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0 || listen(fd, 65535) != 0) {
      int err = errno;
      close(fd);
      fd = -1;
      return Error::FromErrno(err, "daemon listener");
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tag;
    epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
    return OkStatus();
  }

  // Starts a nonblocking connect from `ns`/`from` to `to`; returns the fd (or -1 with errno) and
  // the local port through `key_port`.
  int Connect(const sys::NetnsHandle* ns, const sockaddr_in& from, const sockaddr_in& to,
              uint16_t* local_port) {
    int fd = NewSocket(ns);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in f = from;
    f.sin_port = 0;
    if (bind(fd, reinterpret_cast<const sockaddr*>(&f), sizeof f) != 0 ||
        (connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0 &&
         errno != EINPROGRESS)) {
      int err = errno;
      close(fd);
      errno = err;
      return -1;
    }
    sockaddr_in local{};
    socklen_t len = sizeof local;
    getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len);
    *local_port = ntohs(local.sin_port);
    return fd;
  }

  void Arm(uint32_t index, uint32_t gen, Nanos due) { timers_.push(Timer{due, index, gen}); }

  // ---- sessions ----

  void Schedule(uint32_t i, Nanos now) {
    Session& s = sessions_[i];
    s.st = SessState::kIdle;
    ++s.gen;
    Nanos due = std::max(now, s.started + ToNanos(opt_.retry));
    if (s.started == 0) due = now;
    Arm(i, s.gen, due);
  }

  void CloseClient(Session& s) {
    if (s.cfd >= 0) {
      epoll_ctl(ep_, EPOLL_CTL_DEL, s.cfd, nullptr);
      close(s.cfd);
      s.cfd = -1;
    }
    if (s.key != 0) {
      pending_.erase(s.key);
      s.key = 0;
    }
  }

  void SessionFailed(uint32_t i, Nanos now, uint64_t DaemonCounters::*counter) {
    Session& s = sessions_[i];
    counters_.*counter += 1;
    CloseClient(s);
    if (s.sfd >= 0) {
      close(s.sfd);
      s.sfd = -1;
    }
    Schedule(i, now);
  }

  void Attempt(uint32_t i, Nanos now) {
    Session& s = sessions_[i];
    const Daemon& d = daemons_[s.daemon];
    ++counters_.attempts;
    s.started = now;
    uint16_t port = 0;
    s.cfd = Connect(sources_[s.source].ns, src_addr_[s.source], d.addr, &port);
    if (s.cfd < 0) {
      counters_.refused += 1;
      Schedule(i, now);
      return;
    }
    s.key = PeerKey(src_addr_[s.source].sin_addr.s_addr, port, s.daemon);
    pending_[s.key] = i;
    s.st = SessState::kConnecting;
    ++s.gen;
    epoll_event ev{};
    ev.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP;
    ev.data.u64 = Tag(kClient, i);
    epoll_ctl(ep_, EPOLL_CTL_ADD, s.cfd, &ev);
    Arm(i, s.gen, now + ToNanos(opt_.connect_timeout));
  }

  void OnClient(uint32_t i, uint32_t events, Nanos now) {
    Session& s = sessions_[i];
    if (s.cfd < 0) return;
    if (s.st == SessState::kConnecting) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(s.cfd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        SessionFailed(i, now,
                      err == ECONNREFUSED ? &DaemonCounters::refused : &DaemonCounters::timed_out);
        return;
      }
      if ((events & EPOLLOUT) == 0 && (events & (EPOLLIN | EPOLLRDHUP)) == 0) return;
      s.st = SessState::kAwaitBanner;
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLRDHUP;
      ev.data.u64 = Tag(kClient, i);
      epoll_ctl(ep_, EPOLL_CTL_MOD, s.cfd, &ev);
    }
    char buf[64];
    ssize_t n = recv(s.cfd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (s.st == SessState::kAwaitBanner) {
      if (n > 0) {
        s.st = SessState::kUp;
        ++s.gen;  // the banner timeout no longer applies
        if (s.key != 0) {
          pending_.erase(s.key);
          s.key = 0;
        }
        ++counters_.sessions_made;
        ++sessions_up_;
        Daemon& d = daemons_[s.daemon];
        ++d.sessions_up;
        CheckBack(d, now);
        return;
      }
      SessionFailed(i, now, &DaemonCounters::rejected);
      return;
    }
    if (s.st == SessState::kUp && n <= 0) {  // the daemon went away
      --sessions_up_;
      --daemons_[s.daemon].sessions_up;
      CloseClient(s);
      if (s.sfd >= 0) {
        close(s.sfd);
        s.sfd = -1;
      }
      s.started = 0;  // the first reconnect is immediate
      Schedule(i, now);
    }
  }

  void OnSessionTimer(uint32_t i, Nanos now) {
    Session& s = sessions_[i];
    if (s.st == SessState::kIdle) {
      Attempt(i, now);
    } else if (s.st == SessState::kConnecting || s.st == SessState::kAwaitBanner) {
      SessionFailed(i, now, &DaemonCounters::timed_out);
    }
  }

  void CheckBack(Daemon& d, Nanos now) {
    if (d.st == DState::kUp && d.sessions_up == opt_.sessions_per_daemon && d.back_ms < 0 &&
        d.restarts > 0) {
      d.back_ms = (now - start_) / kMs;
    }
  }

  // ---- daemons ----

  void OnAccept(uint32_t di, Nanos now) {
    Daemon& d = daemons_[di];
    for (;;) {
      sockaddr_in peer{};
      socklen_t len = sizeof peer;
      int fd =
          accept4(d.lfd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        return;
      }
      auto it = pending_.find(PeerKey(peer.sin_addr.s_addr, ntohs(peer.sin_port), di));
      if (d.st != DState::kUp || it == pending_.end()) {
        close(fd);  // a booting daemon resets the session: the peer sees it closed
        continue;
      }
      Session& s = sessions_[it->second];
      pending_.erase(it);
      s.key = 0;
      if (s.sfd >= 0) close(s.sfd);
      s.sfd = fd;
      char banner = 'B';
      (void)!send(fd, &banner, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    (void)now;
  }

  void DoRestart(size_t di, Nanos now) {
    if (di >= daemons_.size()) return;
    Daemon& d = daemons_[di];
    for (auto& s : sessions_) {
      if (s.daemon == di && s.sfd >= 0) {
        close(s.sfd);  // orderly: the peer reads EOF and reconnects
        s.sfd = -1;
      }
    }
    if (d.lfd >= 0) {
      epoll_ctl(ep_, EPOLL_CTL_DEL, d.lfd, nullptr);
      close(d.lfd);
      d.lfd = -1;
    }
    CloseMon(d);
    d.st = DState::kDown;
    d.down_until = now + ToNanos(opt_.down);
    d.restarted_ms = (now - start_) / kMs;
    d.back_ms = -1;
    ++d.restarts;
  }

  void CloseMon(Daemon& d) {
    if (d.mon_cfd >= 0) {
      epoll_ctl(ep_, EPOLL_CTL_DEL, d.mon_cfd, nullptr);
      close(d.mon_cfd);
      d.mon_cfd = -1;
    }
    if (d.mon_sfd >= 0) {
      close(d.mon_sfd);
      d.mon_sfd = -1;
    }
    if (d.mon_key != 0) mon_pending_.erase(d.mon_key);
    d.mon_key = 0;
  }

  void MonAttempt(uint32_t di, Nanos now) {
    Daemon& d = daemons_[di];
    CloseMon(d);
    ++counters_.attempts;
    d.mon_started = now;
    uint16_t port = 0;
    d.mon_cfd = Connect(d.ep.ns, d.addr, mon_addr_, &port);
    ++d.mon_gen;
    const uint32_t index = static_cast<uint32_t>(sessions_.size() + di);
    if (d.mon_cfd < 0) {
      ++counters_.refused;
      Arm(index, d.mon_gen, now + ToNanos(opt_.connect_timeout));
      return;
    }
    d.mon_key = PeerKey(d.addr.sin_addr.s_addr, port, 0xffffff);
    mon_pending_[d.mon_key] = di;
    epoll_event ev{};
    ev.events = EPOLLOUT;
    ev.data.u64 = Tag(kMonClient, di);
    epoll_ctl(ep_, EPOLL_CTL_ADD, d.mon_cfd, &ev);
    Arm(index, d.mon_gen, now + ToNanos(opt_.connect_timeout));
  }

  void OnMonClient(uint32_t di, Nanos now) {
    Daemon& d = daemons_[di];
    if (d.mon_cfd < 0 || d.st != DState::kMonConnecting) return;
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(d.mon_cfd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      ++(err == ECONNREFUSED ? counters_.refused : counters_.timed_out);
      MonAttempt(di, now);  // tight loop: at once
      return;
    }
    epoll_ctl(ep_, EPOLL_CTL_DEL, d.mon_cfd, nullptr);
    ++d.mon_gen;
    d.st = DState::kUp;
    CheckBack(d, now);
  }

  void OnMonAccept() {
    for (;;) {
      sockaddr_in peer{};
      socklen_t len = sizeof peer;
      int fd =
          accept4(mon_lfd_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        return;
      }
      auto it = mon_pending_.find(PeerKey(peer.sin_addr.s_addr, ntohs(peer.sin_port), 0xffffff));
      if (it == mon_pending_.end()) {
        close(fd);
        continue;
      }
      Daemon& d = daemons_[it->second];
      if (d.mon_sfd >= 0) close(d.mon_sfd);
      d.mon_sfd = fd;
      d.mon_key = 0;
      mon_pending_.erase(it);
    }
  }

  // The host's pace: the session attempts the loop made against those the sessions that are not
  // up would make at full speed (one per retry each), since the last time every session was up.
  // Boot work advances at this pace, so a starved host boots its daemons proportionally slower,
  // as CPU-bound daemons do, and a restart's storm holds as many attempts as on an idle host.
  double Pace(Nanos dt) {
    const uint64_t made = counters_.attempts - attempts_seen_;
    attempts_seen_ = counters_.attempts;
    if (sessions_up_ == static_cast<int>(sessions_.size())) {
      pace_expected_ = 0;
      pace_made_ = 0;
      return 1.0;
    }
    const double down = static_cast<double>(sessions_.size()) - sessions_up_;
    pace_expected_ += down * static_cast<double>(dt) / static_cast<double>(ToNanos(opt_.retry));
    pace_made_ += static_cast<double>(made);
    if (pace_expected_ < 1) return 1.0;
    return std::clamp(pace_made_ / pace_expected_, 0.05, 1.0);
  }

  void Advance(Nanos now, Nanos dt) {
    const double pace = Pace(dt);
    size_t booting = 0;
    for (const auto& d : daemons_) booting += d.st == DState::kBooting;
    for (size_t di = 0; di < daemons_.size(); ++di) {
      Daemon& d = daemons_[di];
      if (d.st == DState::kDown && now >= d.down_until) {
        if (Listen(d.ep.ns, d.addr, d.lfd, Tag(kListener, di))) {
          d.st = DState::kBooting;
          d.work_left = static_cast<double>(ToNanos(opt_.boot_work));
        } else {
          d.down_until = now + 100 * kMs;  // the port is still taken: try again shortly
        }
      } else if (d.st == DState::kBooting && booting > 0) {
        d.work_left -= static_cast<double>(dt) * pace / static_cast<double>(booting);
        if (d.work_left <= 0) {
          d.st = DState::kMonConnecting;
          MonAttempt(static_cast<uint32_t>(di), now);
        }
      }
    }
  }

  void Publish(Nanos now) {
    DaemonSnapshot s;
    s.t_ms = (now - start_) / kMs;
    s.counters = counters_;
    s.sessions_up = sessions_up_;
    s.sessions_total = static_cast<int>(sessions_.size());
    for (const auto& d : daemons_) {
      s.daemons.push_back(DaemonState{d.ep.name, d.st == DState::kUp, d.sessions_up, d.restarted_ms,
                                      d.back_ms, d.restarts});
    }
    std::lock_guard l(snap_mu_);
    snap_ = std::move(s);
  }

  void Loop(std::promise<Status> setup) {
    (void)setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), -10);
    start_ = MonotonicNow();
    Status st = OkStatus();
    if (auto s = Listen(mon_.ns, mon_addr_, mon_lfd_, Tag(kMonListener, 0)); !s) {
      st = s.error().Wrap("monitor " + mon_.node);
    }
    for (size_t di = 0; di < daemons_.size() && st; ++di) {
      if (auto s =
              Listen(daemons_[di].ep.ns, daemons_[di].addr, daemons_[di].lfd, Tag(kListener, di));
          !s) {
        st = s.error().Wrap(daemons_[di].ep.name);
      }
    }
    if (st) {
      for (size_t di = 0; di < daemons_.size(); ++di) {
        MonAttempt(static_cast<uint32_t>(di), start_);
      }
      // First attempts spread over one retry interval, so the listeners' backlogs hold them.
      const Nanos spread = std::max<Nanos>(ToNanos(opt_.retry), 1);
      for (uint32_t i = 0; i < sessions_.size(); ++i) {
        Arm(i, sessions_[i].gen,
            start_ + static_cast<Nanos>(i) * spread / static_cast<Nanos>(sessions_.size()));
      }
    }
    Publish(start_);
    bool ok = st.ok();
    setup.set_value(std::move(st));
    if (!ok) return;
    epoll_event events[kMaxEvents];
    Nanos last = start_;
    while (!stop_.load()) {
      Nanos now = MonotonicNow();
      Nanos wait = kTick;
      if (!timers_.empty()) wait = std::clamp<Nanos>(timers_.top().due - now, 0, kTick);
      timespec ts{0, static_cast<long>(wait)};
      int n = epoll_pwait2(ep_, events, kMaxEvents, &ts, nullptr);
      now = MonotonicNow();
      for (int k = 0; k < n; ++k) {
        uint64_t tag = events[k].data.u64;
        auto kind = static_cast<Kind>(tag >> 56);
        auto idx = static_cast<uint32_t>(tag & ((1ULL << 56) - 1));
        switch (kind) {
          case kWake: {
            uint64_t v;
            (void)!read(wake_, &v, sizeof v);
            break;
          }
          case kListener:
            OnAccept(idx, now);
            break;
          case kClient:
            OnClient(idx, events[k].events, now);
            break;
          case kMonListener:
            OnMonAccept();
            break;
          case kMonClient:
            OnMonClient(idx, now);
            break;
        }
      }
      std::vector<size_t> restarts;
      {
        std::lock_guard l(cmd_mu_);
        restarts.swap(restarts_);
      }
      for (size_t di : restarts) DoRestart(di, now);
      while (!timers_.empty() && timers_.top().due <= now) {
        Timer t = timers_.top();
        timers_.pop();
        if (t.index < sessions_.size()) {
          if (sessions_[t.index].gen == t.gen) OnSessionTimer(t.index, now);
        } else {
          uint32_t di = t.index - static_cast<uint32_t>(sessions_.size());
          Daemon& d = daemons_[di];
          if (d.mon_gen == t.gen && d.st == DState::kMonConnecting) {
            ++counters_.timed_out;
            MonAttempt(di, now);
          }
        }
      }
      Advance(now, now - last);
      last = now;
      Publish(now);
    }
  }

  const DaemonOptions opt_;
  std::vector<Daemon> daemons_;
  std::vector<PeerEndpoint> sources_;
  std::vector<sockaddr_in> src_addr_;
  PeerEndpoint mon_;
  sockaddr_in mon_addr_{};
  int mon_lfd_ = -1;
  std::vector<Session> sessions_;
  std::unordered_map<uint64_t, uint32_t> pending_, mon_pending_;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  DaemonCounters counters_;
  int sessions_up_ = 0;
  uint64_t attempts_seen_ = 0;
  double pace_expected_ = 0, pace_made_ = 0;
  int ep_ = -1, wake_ = -1;
  const sys::NetnsHandle* cur_ns_ = nullptr;
  Nanos start_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex cmd_mu_, snap_mu_;
  std::vector<size_t> restarts_;
  DaemonSnapshot snap_;
};

}  // namespace

Result<std::unique_ptr<DaemonSet>> DaemonSet::Create(const DaemonOptions& options,
                                                     std::vector<DaemonEndpoint> daemons,
                                                     std::vector<PeerEndpoint> sources,
                                                     PeerEndpoint monitor) {
  auto d = std::make_unique<DaemonSetImpl>(options, std::move(daemons), std::move(sources),
                                           std::move(monitor));
  if (auto st = d->Init(); !st) return st.error();
  return std::unique_ptr<DaemonSet>(std::move(d));
}

}  // namespace fwgate::workload
