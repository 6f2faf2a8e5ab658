// Engine::Create's front end: runs the in-process engine when the descriptors fit one process,
// otherwise forks one worker process per shard of listeners (shard_plan.h) and drives them over
// socketpairs (wire.h). Each worker is a fresh in-process engine holding both ends of its
// connections.
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "simulator/workload/engine.h"
#include "simulator/workload/local_engine.h"
#include "simulator/workload/shard_plan.h"
#include "simulator/workload/wire.h"

namespace fwgate::workload {
namespace {

constexpr Nanos kMs = 1'000'000;
constexpr Nanos kNoDeadline = 0;
constexpr Nanos kStartTimeout = 10'000 * kMs;
constexpr Nanos kStopTimeout = 60'000 * kMs;
constexpr Nanos kExitTimeout = 5'000 * kMs;  // after its report, a worker only closes sockets
// A worker's own descriptors beyond its sockets: epoll, eventfd, control socket, spare.
constexpr size_t kWorkerOverhead = 8;

// ---- control socket I/O (blocking sockets, deadlines by poll) ----

Status SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::FromErrno(errno, "writing to a workload worker");
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return OkStatus();
}

Status Send(int fd, wire::Type type, std::string_view payload) {
  return SendAll(fd, wire::Frame(type, payload));
}

// Reads exactly out.size() bytes; waits until `deadline` (kNoDeadline: forever).
Status ReadExact(int fd, std::string& out, Nanos deadline) {
  size_t got = 0;
  while (got < out.size()) {
    if (deadline != kNoDeadline) {
      Nanos left = deadline - MonotonicNow();
      if (left <= 0) return Error::Unavailable("timed out");
      pollfd p{fd, POLLIN, 0};
      int r = poll(&p, 1, static_cast<int>(std::max<Nanos>(1, left / kMs)));
      if (r < 0 && errno != EINTR) return Error::FromErrno(errno, "poll");
      if (r <= 0) continue;
    }
    ssize_t n = read(fd, out.data() + got, out.size() - got);
    if (n == 0) return Error::Unavailable("closed its control socket");
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::FromErrno(errno, "reading its control socket");
    }
    got += static_cast<size_t>(n);
  }
  return OkStatus();
}

struct Frame {
  wire::Type type;
  std::string payload;
};

Result<Frame> ReadFrame(int fd, Nanos deadline) {
  std::string header(wire::kHeaderBytes, '\0');
  if (auto st = ReadExact(fd, header, deadline); !st) return st.error();
  auto h = wire::ParseHeader(header);
  if (!h) return h.error();
  Frame f{h->first, std::string(h->second, '\0')};
  if (auto st = ReadExact(fd, f.payload, deadline); !st) return st.error();
  return f;
}

Result<Frame> Expect(int fd, wire::Type type, Nanos deadline) {
  auto f = ReadFrame(fd, deadline);
  if (!f) return f;
  if (f->type != type) {
    return Error::Unavailable("sent message type " + std::to_string(static_cast<int>(f->type)) +
                          " instead of " + std::to_string(static_cast<int>(type)));
  }
  return f;
}

// ---- process helpers ----

// Threads of this process per /proc/self/status; a thread just joined can still be counted for
// a moment (it leaves the thread group after waking its joiner), hence the short wait.
Result<int> WaitSingleThreaded() {
  int threads = -1;
  for (int attempt = 0; attempt < 200; ++attempt) {
    std::ifstream f("/proc/self/status");
    std::string line;
    threads = -1;
    while (std::getline(f, line)) {
      if (line.rfind("Threads:", 0) == 0) threads = std::atoi(line.c_str() + 8);
    }
    if (threads < 0) return Error::Unavailable("cannot read Threads: from /proc/self/status");
    if (threads == 1) return 1;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return threads;
}

std::string DescribeExit(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const char* name = sigabbrev_np(WTERMSIG(status));
    return "was killed by signal " + std::to_string(WTERMSIG(status)) +
           (name != nullptr ? std::string(" (SIG") + name + ")" : "");
  }
  return "ended (status " + std::to_string(status) + ")";
}

// ---- the worker process ----

struct WorkerArgs {
  const LocalEngine* parent;
  const std::vector<uint32_t>* listeners;  // owned listeners (parent indices)
  const std::vector<size_t>* ids;          // owned connections (parent ids)
  int ctl;
  EngineOptions options;
  Nanos mark;  // a Mark() made before Establish() (0: none)
};

// Runs in the forked child, which is a copy of a single-threaded parent: everything is as safe as
// in any fresh process. Never returns; _exit skips the parent's atexit handlers and stdio buffers.
[[noreturn]] void WorkerMain(const WorkerArgs& a) {
  int code = 0;
  try {
    wire::EstablishReply reply;
    std::unique_ptr<LocalEngine> engine;
    auto fail = [&](Status st) {
      reply.status = std::move(st);
      (void)Send(a.ctl, wire::Type::kEstablished, wire::EncodeEstablish(reply));
      _exit(3);
    };
    auto created = CreateLocalEngine(a.options);
    if (!created) fail(created.error());
    engine = std::move(created).value();
    for (uint32_t l : *a.listeners) {
      if (auto st = engine->AdoptListener(a.parent->listener_spec(l), a.parent->listener_fd(l));
          !st) {
        fail(st);
      }
    }
    for (size_t id : *a.ids) {
      if (auto r = engine->AddConnection(a.parent->connection_spec(id)); !r) fail(r.error());
    }
    if (a.mark != 0) engine->MarkAt(a.mark);
    reply.status = engine->Establish();
    EstablishSummary s = engine->last_establish();
    reply.queued = s.queued;
    reply.failed = s.failed;
    reply.first_failed = s.first_failed;
    reply.first_error = s.first_error;
    if (!Send(a.ctl, wire::Type::kEstablished, wire::EncodeEstablish(reply))) _exit(3);
    Nanos mark_received = 0;
    for (;;) {
      auto f = ReadFrame(a.ctl, kNoDeadline);
      if (!f) _exit(0);  // the front end is gone or confused: nothing left to serve
      switch (f->type) {
        case wire::Type::kStart: {
          auto t = wire::DecodeTime(f->payload);
          Status st = t ? engine->StartAt(*t) : Status(t.error());
          if (!Send(a.ctl, wire::Type::kStarted, wire::EncodeStatus(st))) _exit(3);
          break;
        }
        case wire::Type::kMark: {
          if (mark_received == 0) mark_received = MonotonicNow();
          if (auto t = wire::DecodeTime(f->payload); t) engine->MarkAt(*t);
          break;
        }
        case wire::Type::kStop: {
          wire::WorkerReport wr{engine->Stop(), mark_received};
          code = Send(a.ctl, wire::Type::kReport, wire::EncodeReport(wr)) ? 0 : 3;
          _exit(code);
        }
        default:
          _exit(3);
      }
    }
  } catch (...) {
    code = 4;
  }
  _exit(code);
}

// ---- the front end ----

class ShardingEngine final : public Engine {
 public:
  ShardingEngine(const EngineOptions& o, std::unique_ptr<LocalEngine> local)
      : opt_(o), local_(std::move(local)) {}

  ~ShardingEngine() override {
    if (mode_ == Mode::kSharded && !stopped_) (void)Stop();
    for (Worker& w : workers_) Reap(w);
  }

  Status AddListener(const ListenSpec& spec) override {
    if (mode_ == Mode::kSharded) return ShardedAlready("AddListener");
    return local_->AddListener(spec);
  }

  Result<size_t> AddConnection(const ConnSpec& spec) override {
    if (mode_ == Mode::kSharded) return ShardedAlready("AddConnection");
    return local_->AddConnection(spec);
  }

  Status Establish() override {
    if (mode_ == Mode::kSharded) return ShardedAlready("Establish");
    if (mode_ == Mode::kLocal) return local_->Establish();
    const size_t conns = local_->connection_count();
    const size_t listeners = local_->listener_count();
    const size_t need = 2 * conns + listeners;
    FdBudget budget = ComputeBudget(need, listeners);
    if (need <= budget.per_process) {
      mode_ = Mode::kLocal;
      return local_->Establish();
    }
    return EstablishSharded(budget);
  }

  Status Start() override {
    if (mode_ != Mode::kSharded) {
      mode_ = Mode::kLocal;
      return local_->Start();
    }
    std::lock_guard lock(mu_);
    if (started_ || stopped_) return Error::Unavailable("Start: engine already started");
    started_ = true;
    const Nanos origin = MonotonicNow();
    for (Worker& w : workers_) {
      if (!w.lost.empty()) continue;
      if (auto st = Send(w.fd, wire::Type::kStart, wire::EncodeTime(origin)); !st) {
        Lose(w, "failed to take the start command: " + st.error().ToString());
      }
    }
    std::optional<Error> first;
    const Nanos deadline = MonotonicNow() + kStartTimeout;
    for (Worker& w : workers_) {
      if (!w.lost.empty()) {
        if (!first) first = Error::Unavailable(w.lost);
        continue;
      }
      auto f = Expect(w.fd, wire::Type::kStarted, deadline);
      if (!f) {
        Lose(w, "did not start: " + f.error().ToString());
        if (!first) first = Error::Unavailable(w.lost);
        continue;
      }
      auto st = wire::DecodeStatus(f->payload);
      if (!st || !*st) {
        Error e = st ? st->error() : st.error();
        if (!first) first = e.Wrap(w.name);
      }
    }
    if (first) return *first;
    return OkStatus();
  }

  void Mark() override {
    const Nanos now = MonotonicNow();
    Nanos expected = 0;
    if (!mark_ns_.compare_exchange_strong(expected, now)) return;
    if (mode_ != Mode::kSharded) {
      local_->MarkAt(now);
      return;
    }
    std::lock_guard lock(mu_);
    if (stopped_) return;
    const std::string frame = wire::Frame(wire::Type::kMark, wire::EncodeTime(now));
    for (Worker& w : workers_) {
      if (w.lost.empty()) (void)SendAll(w.fd, frame);  // a failure shows at Stop()
    }
  }

  Report Stop() override {
    if (mode_ != Mode::kSharded) return local_->Stop();
    std::lock_guard lock(mu_);
    Report r;
    if (stopped_) return r;
    stopped_ = true;
    for (Worker& w : workers_) {
      if (!w.lost.empty()) continue;
      if (auto st = Send(w.fd, wire::Type::kStop, ""); !st) {
        Lose(w, "failed to take the stop command: " + st.error().ToString());
      }
    }
    const size_t n = local_->connection_count();
    r.connections.resize(n);
    for (size_t id = 0; id < n; ++id) {
      const ConnSpec& spec = local_->connection_spec(id);
      r.connections[id].id = id;
      r.connections[id].cls = spec.cls;
      r.connections[id].from_node = spec.from_node;
      r.connections[id].to_node = spec.to_node;
    }
    std::vector<Timeline> timelines;
    Nanos last_mark_seen = 0;
    const Nanos deadline = MonotonicNow() + kStopTimeout;
    for (Worker& w : workers_) {
      if (w.lost.empty()) {
        auto f = Expect(w.fd, wire::Type::kReport, deadline);
        auto wr = f ? wire::DecodeReport(f->payload) : Result<wire::WorkerReport>(f.error());
        if (wr && wr->report.connections.size() == w.ids.size()) {
          for (ConnResult& c : wr->report.connections) {
            if (c.id >= w.ids.size()) continue;
            size_t global = w.ids[c.id];
            c.id = global;
            r.connections[global] = std::move(c);
          }
          r.loop_max_latency = std::max(r.loop_max_latency, wr->report.loop_max_latency);
          timelines.push_back(std::move(wr->report.timeline));
          last_mark_seen = std::max(last_mark_seen, wr->mark_received);
        } else {
          Lose(w, "sent no usable report: " +
                      (wr ? std::string("wrong number of connections") : wr.error().ToString()));
        }
      }
      if (!w.lost.empty()) {
        for (size_t id : w.ids) {
          if (r.connections[id].error.empty()) r.connections[id].error = w.lost;
        }
      }
      Reap(w);
    }
    if (auto merged = wire::MergeTimelines(timelines); merged && !timelines.empty()) {
      r.timeline = std::move(merged).value();
    } else {
      r.timeline.bucket = opt_.timeline_bucket;
      r.timeline.mark_bucket = -1;
    }
    r.workers = workers_.size();
    const Nanos mark = mark_ns_.load();
    if (mark != 0 && last_mark_seen > mark) {
      r.mark_skew = std::chrono::microseconds((last_mark_seen - mark) / 1000);
    }
    return r;
  }

 private:
  enum class Mode { kUndecided, kLocal, kSharded };

  struct Worker {
    std::string name;  // "workload worker 2 of 6 (pid 1234; listeners node1 ...)"
    pid_t pid = -1;
    int fd = -1;
    std::vector<uint32_t> listeners;
    std::vector<size_t> ids;  // worker id -> front-end id
    std::string lost;         // why the worker is gone (empty while it serves)
    bool reaped = false;
  };

  struct FdBudget {
    size_t per_process = 0;  // descriptors for engine sockets in one process
    rlimit limit{};
  };

  static Error ShardedAlready(std::string_view what) {
    return Error::Unavailable(std::string(what) +
                      ": the workload was already sharded over worker processes by Establish(); "
                      "add every listener and connection before calling it (once)");
  }

  // Raises RLIMIT_NOFILE toward what the workload needs (the hard limit only with
  // CAP_SYS_RESOURCE; the soft limit up to the hard one always), then returns what one process
  // can give the engine's sockets.
  FdBudget ComputeBudget(size_t need, size_t listeners) const {
    FdBudget b;
    const size_t open = OpenFdCount();
    const size_t other = open > listeners ? open - listeners : 0;  // listeners count in `need`
    const rlim_t wanted = need + other + kFdReserve;
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < wanted) {
      rlimit up{wanted, std::max(rl.rlim_max, wanted)};
      if (setrlimit(RLIMIT_NOFILE, &up) != 0) {
        up = {rl.rlim_max, rl.rlim_max};
        (void)setrlimit(RLIMIT_NOFILE, &up);
      }
      (void)getrlimit(RLIMIT_NOFILE, &rl);
    }
    b.limit = rl;
    const size_t reserved = other + kFdReserve + kWorkerOverhead;
    b.per_process = rl.rlim_cur > reserved ? rl.rlim_cur - reserved : 0;
    if (opt_.max_fds_per_process > 0) {
      b.per_process = std::min(b.per_process, opt_.max_fds_per_process);
    }
    return b;
  }

  std::string ListenerName(size_t l) const {
    const ListenSpec& s = local_->listener_spec(l);
    return s.node + " " + s.address + ":" + std::to_string(s.port);
  }

  Status EstablishSharded(const FdBudget& budget) {
    const size_t conns = local_->connection_count();
    const size_t listeners = local_->listener_count();
    const std::string why =
        std::to_string(conns) + " connections need " + std::to_string(2 * conns + listeners) +
        " socket descriptors (both ends of each are ours) but one process may "
        "use " +
        std::to_string(budget.per_process) + " (RLIMIT_NOFILE " +
        std::to_string(budget.limit.rlim_cur) + "/" + std::to_string(budget.limit.rlim_max) +
        "; raising the hard limit needs CAP_SYS_RESOURCE)";
    // Each connection goes with the listener it targets; unresolved ones fail in a worker with
    // the same message as in-process.
    std::vector<size_t> per_listener(listeners, 0);
    std::vector<std::optional<uint32_t>> target(conns);
    for (size_t id = 0; id < conns; ++id) {
      target[id] = local_->ListenerOf(id);
      if (target[id]) ++per_listener[*target[id]];
    }
    std::vector<std::string> names;
    for (size_t l = 0; l < listeners; ++l) names.push_back(ListenerName(l));
    auto plan = PlanShards(per_listener, names, budget.per_process);
    if (!plan) return Error{plan.error().kind, plan.error().code, why + "; " + plan.error().context};
    std::vector<size_t> shard_of(listeners);
    for (size_t k = 0; k < plan->size(); ++k) {
      for (uint32_t l : (*plan)[k].listeners) shard_of[l] = k;
    }
    workers_.resize(plan->size());
    for (size_t k = 0; k < plan->size(); ++k) workers_[k].listeners = (*plan)[k].listeners;
    for (size_t id = 0; id < conns; ++id) {
      workers_[target[id] ? shard_of[*target[id]] : 0].ids.push_back(id);
    }
    for (size_t k = 0; k < workers_.size(); ++k) {
      Worker& w = workers_[k];
      w.name = "workload worker " + std::to_string(k + 1) + " of " +
               std::to_string(workers_.size()) + " (listeners " + names[w.listeners.front()] +
               (w.listeners.size() > 1 ? " and " + std::to_string(w.listeners.size() - 1) + " more"
                                       : "") +
               ")";
    }

    auto threads = WaitSingleThreaded();
    if (!threads || *threads != 1) {
      workers_.clear();
      return Error::Unavailable(
          why +
              "; sharding over worker processes forks, which needs a single-threaded caller, "
              "but " +
              (threads ? "this process has " + std::to_string(*threads) + " threads"
                       : threads.error().context));
    }
    mode_ = Mode::kSharded;
    if (auto st = Fork(); !st) {
      for (Worker& w : workers_) {
        if (w.lost.empty()) Lose(w, "was stopped: " + st.error().context);
      }
      local_->Abandon();  // Stop() reports every connection with its worker's fate
      return Error{st.error().kind, st.error().code, why + "; " + st.error().context};
    }
    local_->Abandon();  // the workers own the listeners now
    return CollectEstablished();
  }

  // One fork per worker. Every child is forked from this single-threaded process before any
  // engine thread exists, so it may use anything (malloc, threads) like a fresh process.
  Status Fork() {
    const pid_t self = getpid();
    const Nanos mark = mark_ns_.load();
    for (size_t k = 0; k < workers_.size(); ++k) {
      Worker& w = workers_[k];
      int sv[2];
      if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        return Error::FromErrno(errno, "socketpair for " + w.name);
      }
      pid_t pid = fork();
      if (pid < 0) {
        int err = errno;
        close(sv[0]);
        close(sv[1]);
        return Error::FromErrno(err, "fork for " + w.name);
      }
      if (pid == 0) {
        // Die with the thread that forked us (the only one), even when it is SIGKILLed; it may
        // have died before prctl took effect.
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != self) _exit(1);
        CloseInheritedFds(w, sv[1]);
        EngineOptions o = opt_;
        o.max_fds_per_process = 0;
        WorkerMain({local_.get(), &w.listeners, &w.ids, sv[1], o, mark});
      }
      close(sv[1]);
      w.pid = pid;
      w.fd = sv[0];
      w.name.insert(w.name.find(" (") + 2, "pid " + std::to_string(pid) + "; ");
    }
    return OkStatus();
  }

  // In a new worker: closes every inherited descriptor except stdio, its control socket, its
  // listeners and the namespaces its sockets are opened in. The caller's other descriptors (the
  // front end's epoll, other workers' control sockets, pipes whose EOF someone waits for) must
  // not live on in workers.
  void CloseInheritedFds(const Worker& w, int ctl) const {
    std::vector<int> keep = {0, 1, 2, ctl};
    for (uint32_t l : w.listeners) {
      keep.push_back(local_->listener_fd(l));
      keep.push_back(local_->listener_spec(l).ns->fd());
    }
    for (size_t id : w.ids) keep.push_back(local_->connection_spec(id).from_ns->fd());
    std::sort(keep.begin(), keep.end());
    std::vector<int> open;
    if (DIR* d = opendir("/proc/self/fd"); d != nullptr) {
      const int own = dirfd(d);
      while (dirent* e = readdir(d)) {
        if (e->d_name[0] == '.') continue;
        int fd = std::atoi(e->d_name);
        if (fd != own && !std::binary_search(keep.begin(), keep.end(), fd)) open.push_back(fd);
      }
      closedir(d);
    }
    for (int fd : open) close(fd);
  }

  // Waits for every worker's Establish() and words one status for all of them: connection
  // failures as the in-process engine words them (first failure, counts over all workers),
  // anything else with the worker's name.
  Status CollectEstablished() {
    size_t queued = 0, failed = 0;
    std::optional<std::pair<size_t, std::string>> first_conn;  // (front-end id, message)
    std::optional<Error> first_other;
    for (Worker& w : workers_) {
      const Nanos rounds =
          static_cast<Nanos>(w.ids.size() / std::max<size_t>(1, opt_.max_connecting) + 2);
      const Nanos deadline =
          MonotonicNow() + rounds * opt_.connect_timeout.count() * kMs + 60'000 * kMs;
      auto f = Expect(w.fd, wire::Type::kEstablished, deadline);
      auto reply = f ? wire::DecodeEstablish(f->payload) : Result<wire::EstablishReply>(f.error());
      if (!reply) {
        Lose(w, "failed while establishing: " + reply.error().ToString());
        if (!first_other) first_other = Error::Unavailable(w.lost);
        queued += w.ids.size();
        failed += w.ids.size();
        continue;
      }
      queued += reply->queued;
      failed += reply->failed;
      if (reply->failed > 0 && reply->first_failed < w.ids.size()) {
        size_t global = w.ids[reply->first_failed];
        if (!first_conn || global < first_conn->first) first_conn = {global, reply->first_error};
      }
      if (!reply->status && reply->failed == 0 && !first_other) {
        first_other =
            reply->status.error().Wrap(w.name);
      }
    }
    if (first_other) return *first_other;
    if (failed > 0 && first_conn) {
      return Error::Unavailable(first_conn->second + " (" + std::to_string(failed) + " of " +
                            std::to_string(queued) + " connections failed)");
    }
    return OkStatus();
  }

  // Records why a worker is gone and makes sure it is: killed and reaped.
  void Lose(Worker& w, const std::string& why) {
    if (!w.lost.empty()) return;
    if (w.pid > 0 && !w.reaped) {
      int status = 0;
      if (waitpid(w.pid, &status, WNOHANG) == w.pid) {
        w.reaped = true;
        w.lost = w.name + " " + DescribeExit(status) + "; it " + why;
      } else {
        kill(w.pid, SIGKILL);
        (void)waitpid(w.pid, &status, 0);
        w.reaped = true;
        w.lost = w.name + " " + why + " (killed)";
      }
    } else {
      w.lost = w.name + " " + why;
    }
  }

  // Closes the control socket (a worker still waiting for commands exits on EOF), waits a
  // bounded time for the worker to exit, then kills it.
  static void Reap(Worker& w) {
    if (w.fd >= 0) close(w.fd);
    w.fd = -1;
    if (w.pid <= 0 || w.reaped) return;
    int status = 0;
    const Nanos deadline = MonotonicNow() + kExitTimeout;
    while (MonotonicNow() < deadline) {
      pid_t r = waitpid(w.pid, &status, WNOHANG);
      if (r == w.pid || (r < 0 && errno == ECHILD)) {
        w.reaped = true;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    kill(w.pid, SIGKILL);
    (void)waitpid(w.pid, &status, 0);
    w.reaped = true;
  }

  const EngineOptions opt_;
  std::unique_ptr<LocalEngine> local_;        // all specs; the engine itself unless sharded
  std::atomic<Mode> mode_{Mode::kUndecided};  // set by Establish()/Start(), read by Mark()
  std::vector<Worker> workers_;
  std::mutex mu_;  // workers' control sockets after Establish()
  bool started_ = false;
  bool stopped_ = false;
  std::atomic<Nanos> mark_ns_{0};
};

}  // namespace

Result<std::unique_ptr<Engine>> Engine::Create(const EngineOptions& options) {
  if (options.timeline_bucket.count() <= 0) return Error::Unavailable("timeline bucket must be > 0 ms");
  if (options.max_connecting == 0) return Error::Unavailable("max_connecting must be > 0");
  auto local = CreateLocalEngine(options);
  if (!local) return local.error();
  return std::unique_ptr<Engine>(
      std::make_unique<ShardingEngine>(options, std::move(local).value()));
}

}  // namespace fwgate::workload
