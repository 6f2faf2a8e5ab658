// Engine::Create's front end: runs the in-process engine when the descriptors fit one process,
// otherwise starts one worker process per shard of listeners (shard_plan.h: this program exec'd
// in the worker role through sys/spawn.h) and drives them over
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
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "simulator/workload/engine.h"
#include "simulator/workload/local_engine.h"
#include "simulator/workload/shard_plan.h"
#include "simulator/workload/wire.h"
#include "sys/spawn.h"

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

std::string DescribeExit(const sys::SpawnResult& r) {
  if (r.signal != 0) {
    const char* name = sigabbrev_np(r.signal);
    return "was killed by signal " + std::to_string(r.signal) +
           (name != nullptr ? std::string(" (SIG") + name + ")" : "");
  }
  return "exited with status " + std::to_string(r.exit_code);
}

// ---- the worker process ----

constexpr const char* kWorkerRole = "workload-worker";
constexpr const char* kWorkerFdEnv = "FWGATE_WORKLOAD_CTL_FD";

// The worker role: a fresh process (this program exec'd through sys/spawn.h) that reads its
// share of the workload from the control socket, takes over the listening sockets and namespace
// descriptors it was given, and serves start/mark/stop. Exits when the front end goes away.
int WorkerMain() {
  const char* fd_text = std::getenv(kWorkerFdEnv);
  if (fd_text == nullptr) return 2;
  const int ctl = std::atoi(fd_text);
  try {
    wire::EstablishReply reply;
    auto fail = [&](Status st) {
      reply.status = std::move(st);
      (void)Send(ctl, wire::Type::kEstablished, wire::EncodeEstablish(reply));
      return 3;
    };
    auto f = Expect(ctl, wire::Type::kSetup, MonotonicNow() + kStartTimeout);
    if (!f) return 3;
    auto setup = wire::DecodeSetup(f->payload);
    if (!setup) return fail(setup.error());
    // Namespaces by descriptor number; the handles own them for the worker's life.
    std::map<int, std::unique_ptr<sys::NetnsHandle>> namespaces;
    auto ns_of = [&](int fd) -> const sys::NetnsHandle* {
      auto& h = namespaces[fd];
      if (!h) h = std::make_unique<sys::NetnsHandle>(fd);
      return h.get();
    };
    auto created = CreateLocalEngine(setup->options);
    if (!created) return fail(created.error());
    std::unique_ptr<LocalEngine> engine = std::move(created).value();
    for (wire::WorkerListener& l : setup->listeners) {
      l.spec.ns = ns_of(l.ns_fd);
      if (auto st = engine->AdoptListener(l.spec, l.fd); !st) return fail(st);
    }
    for (wire::WorkerConnection& c : setup->connections) {
      c.spec.from_ns = ns_of(c.from_ns_fd);
      if (auto r = engine->AddConnection(c.spec); !r) return fail(r.error());
    }
    if (setup->mark != 0) engine->MarkAt(setup->mark);
    reply.status = engine->Establish();
    EstablishSummary es = engine->last_establish();
    reply.queued = es.queued;
    reply.failed = es.failed;
    reply.first_failed = es.first_failed;
    reply.first_error = es.first_error;
    if (!Send(ctl, wire::Type::kEstablished, wire::EncodeEstablish(reply))) return 3;
    Nanos mark_received = 0;
    for (;;) {
      auto fr = ReadFrame(ctl, kNoDeadline);
      if (!fr) return 0;  // the front end is gone or confused: nothing left to serve
      switch (fr->type) {
        case wire::Type::kStart: {
          auto t = wire::DecodeTime(fr->payload);
          Status st = t ? engine->StartAt(*t) : Status(t.error());
          if (!Send(ctl, wire::Type::kStarted, wire::EncodeStatus(st))) return 3;
          break;
        }
        case wire::Type::kMark: {
          if (mark_received == 0) mark_received = MonotonicNow();
          if (auto t = wire::DecodeTime(fr->payload); t) engine->MarkAt(*t);
          break;
        }
        case wire::Type::kStop: {
          wire::WorkerReport wr{engine->Stop(), mark_received};
          return Send(ctl, wire::Type::kReport, wire::EncodeReport(wr)) ? 0 : 3;
        }
        default:
          return 3;
      }
    }
  } catch (...) {
    return 4;
  }
}

const sys::RoleRegistrar kWorker(kWorkerRole, WorkerMain);

// ---- the front end ----

class ShardingEngine final : public Engine {
 public:
  ShardingEngine(const EngineOptions& o, std::unique_ptr<LocalEngine> local)
      : opt_(o), local_(std::move(local)) {}

  ~ShardingEngine() override {
    try {
      if (mode_ == Mode::kSharded && !stopped_) (void)Stop();
    } catch (...) {  // NOLINT(bugprone-empty-catch): a destructor reaps whatever happened
    }
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
    std::optional<sys::Process> process;
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
    return Error::Unavailable(
        std::string(what) +
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
    if (!plan)
      return Error{plan.error().kind, plan.error().code, why + "; " + plan.error().context};
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

    mode_ = Mode::kSharded;
    if (auto st = Spawn(); !st) {
      for (Worker& w : workers_) {
        if (w.lost.empty()) Lose(w, "was stopped: " + st.error().context);
      }
      local_->Abandon();  // Stop() reports every connection with its worker's fate
      return Error{st.error().kind, st.error().code, why + "; " + st.error().context};
    }
    local_->Abandon();  // the workers own the listeners now
    return CollectEstablished();
  }

  // One worker process per shard: this program exec'd in the worker role (sys/spawn.h), so
  // sharding works from any thread of a multithreaded process. A worker is given its control
  // socket, its listening sockets and the namespaces its sockets live in; nothing else crosses.
  // Workers die with the thread that calls Establish() (the parent-death signal).
  Status Spawn() {
    const Nanos mark = mark_ns_.load();
    for (size_t k = 0; k < workers_.size(); ++k) {
      Worker& w = workers_[k];
      int sv[2];
      if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        return Error::FromErrno(errno, "socketpair for " + w.name);
      }
      sys::UniqueFd mine(sv[0]), theirs(sv[1]);
      wire::WorkerSetup setup;
      setup.options = opt_;
      setup.options.max_fds_per_process = 0;
      setup.mark = mark;
      std::set<int> pass = {theirs.get()};
      for (uint32_t l : w.listeners) {
        const ListenSpec& spec = local_->listener_spec(l);
        wire::WorkerListener wl{spec, spec.ns->fd(), local_->listener_fd(l)};
        wl.spec.ns = nullptr;
        pass.insert(wl.ns_fd);
        pass.insert(wl.fd);
        setup.listeners.push_back(std::move(wl));
      }
      for (size_t id : w.ids) {
        const ConnSpec& spec = local_->connection_spec(id);
        wire::WorkerConnection wc{spec, spec.from_ns->fd()};
        wc.spec.from_ns = nullptr;
        pass.insert(wc.from_ns_fd);
        setup.connections.push_back(std::move(wc));
      }
      sys::SpawnOptions o;
      o.argv = {sys::SelfExecutable()};
      o.env = {std::string(sys::kRoleEnv) + "=" + kWorkerRole,
               std::string(kWorkerFdEnv) + "=" + std::to_string(theirs.get())};
      o.pass_fds.assign(pass.begin(), pass.end());
      auto p = sys::Process::Start(o);
      if (!p) return p.error().Wrap("starting " + w.name);
      w.name.insert(w.name.find(" (") + 2, "pid " + std::to_string(p->pid()) + "; ");
      w.process.emplace(std::move(*p));
      theirs.reset();
      w.fd = mine.release();
      if (auto st = Send(w.fd, wire::Type::kSetup, wire::EncodeSetup(setup)); !st) {
        return st.error().Wrap(w.name);
      }
    }
    return OkStatus();
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
        first_other = reply->status.error().Wrap(w.name);
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
    if (w.process && !w.reaped) {
      sys::SpawnResult status;
      if (w.process->Wait(std::chrono::milliseconds(0), &status)) {
        w.lost = w.name + " " + DescribeExit(status) + "; it " + why;
      } else {
        w.process->Kill();
        w.lost = w.name + " " + why + " (killed)";
      }
      w.reaped = true;
    } else {
      w.lost = w.name + " " + why;
    }
  }

  // Closes the control socket (a worker still waiting for commands exits on EOF), waits a
  // bounded time for the worker to exit, then kills it.
  static void Reap(Worker& w) {
    if (w.fd >= 0) close(w.fd);
    w.fd = -1;
    if (!w.process || w.reaped) return;
    if (!w.process->Wait(std::chrono::milliseconds(kExitTimeout / kMs))) w.process->Kill();
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
  if (options.timeline_bucket.count() <= 0)
    return Error::Unavailable("timeline bucket must be > 0 ms");
  if (options.max_connecting == 0) return Error::Unavailable("max_connecting must be > 0");
  auto local = CreateLocalEngine(options);
  if (!local) return local.error();
  return std::unique_ptr<Engine>(
      std::make_unique<ShardingEngine>(options, std::move(local).value()));
}

}  // namespace fwgate::workload
