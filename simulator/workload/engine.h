// Ceph-shaped TCP traffic in the lab: listeners and connections opened inside node namespaces,
// driven by one epoll loop, with per-connection progress in both directions (<= 10 ms resolution)
// and TCP_INFO retransmits. Both ends of a connection are sockets of one process; when the
// workload needs more descriptors than RLIMIT_NOFILE allows one process, Establish() shards it
// over worker processes (one loop each; this program exec'd in a worker role), transparently to
// the caller.
// Thread-safety: configure, then Start(); Mark()/Stop() from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "sys/netns.h"

namespace fwgate::workload {

enum class ConnClass { kReplication, kHeartbeat, kClient, kMon };
std::string_view ConnClassName(ConnClass c);  // "replication", "heartbeat", "client", "mon"

// What one direction of a connection sends.
struct Flow {
  enum class Kind { kNone, kBulk, kPeriodic } kind = Kind::kNone;
  uint32_t message_bytes = 0;             // kPeriodic: bytes per message
  std::chrono::milliseconds interval{0};  // kPeriodic: one message per interval
  // kBulk: pacing in bytes/s (0: as fast as the socket takes it). Unpaced bulk keeps the loop
  // thread 100% busy, which on a shared machine costs the other connections' timestamp
  // resolution; tens of MB/s already move a sender far past a stale window
  // (docs/kernel-conntrack.md §3.4).
  uint64_t bytes_per_second = 0;
  // kPeriodic: the first message this long after Start() (negative: spread over one interval
  // by connection, the default).
  std::chrono::milliseconds first{-1};
};

struct ListenSpec {
  std::string node;  // "node1"
  const sys::NetnsHandle* ns =
      nullptr;          // namespace the socket is opened in (must outlive the engine)
  std::string address;  // IPv4/IPv6 literal to bind
  uint16_t port = 0;
  int rcvbuf = 0;  // SO_RCVBUF/SO_SNDBUF for accepted sockets (0: kernel default)
  int sndbuf = 0;
};

struct ConnSpec {
  ConnClass cls = ConnClass::kHeartbeat;
  std::string from_node;
  std::string to_node;
  const sys::NetnsHandle* from_ns = nullptr;
  std::string from_address;  // bind address ("" = let the kernel choose)
  std::string to_address;
  uint16_t to_port = 0;
  Flow forward;    // from -> to
  Flow reverse;    // to -> from (sent by the accepted socket)
  int sndbuf = 0;  // both ends; large buffers make window scaling matter (replication)
  int rcvbuf = 0;
};

// Per connection, after Stop().
struct ConnResult {
  size_t id = 0;
  ConnClass cls = ConnClass::kHeartbeat;
  std::string from_node, to_node;
  uint16_t from_port = 0;  // the connecting end's local port (0 when it never connected)
  uint64_t fwd_bytes_before = 0, fwd_bytes_after = 0;  // received by `to`, split at the mark
  uint64_t rev_bytes_before = 0, rev_bytes_after = 0;  // received by `from`
  // Longest time after the mark during which a direction that should make progress made none
  // (periodic flows: minus their interval), including a stall still running at Stop().
  std::chrono::milliseconds max_stall_after_mark{0};
  bool reset = false;        // ECONNRESET/EPIPE or RST seen
  bool closed = false;       // orderly close by the peer
  uint32_t retransmits = 0;  // tcpi_total_retrans, both ends
  std::string error;         // first socket error, if any
};

struct Timeline {
  std::chrono::milliseconds bucket{100};
  int64_t mark_bucket = -1;  // bucket index in which Mark() was called
  // bytes received per class per bucket: series[class][bucket]
  std::vector<std::pair<ConnClass, std::vector<uint64_t>>> series;
};

struct Report {
  std::vector<ConnResult> connections;  // indexed by the id AddConnection returned
  Timeline timeline;
  std::chrono::milliseconds loop_max_latency{0};  // worst epoll iteration lateness (all workers)
  size_t workers = 0;  // worker processes the workload was sharded over (0: in this process)
  // Sharded: how long after Mark() the last worker read it (the split itself uses Mark()'s own
  // time in every worker, so this only bounds how stale the mark was in a worker's loop).
  std::chrono::microseconds mark_skew{0};
};

struct EngineOptions {
  std::chrono::milliseconds timeline_bucket{100};
  // Per connection: from its connect() until both ends are up (accepted by our listener).
  std::chrono::milliseconds connect_timeout{5000};
  // Connects in flight at once during Establish(): keeps listen backlogs (net.core.somaxconn)
  // from overflowing, which would turn into 1 s SYN retransmits.
  size_t max_connecting = 1024;
  // Nice value for the loop thread (best effort; needs CAP_SYS_NICE below 0). On a shared
  // 2-core lab machine a negative value keeps compilers and other runs from delaying the loop
  // past the 10 ms progress resolution. 0 leaves the thread as created.
  int loop_nice = -10;
  // SCHED_RR priority (1..99) for the loop thread; 0 keeps normal scheduling (with loop_nice).
  // Real-time scheduling lets the loop preempt CPU-bound neighbours (measured: worst lateness
  // 1-10 ms instead of 11-100+ ms on a loaded 2-core machine). With an unpaced bulk flow the
  // loop never sleeps, so it would take a whole core and be RT-throttled (50 ms gaps per
  // second). -1 (default): priority 10 when every bulk flow is paced, else normal scheduling.
  // Best effort, needs CAP_SYS_NICE.
  int loop_realtime_priority = -1;
  // Descriptors one process may use for the engine's sockets (2 per connection, 1 per listener).
  // 0 (default): derived from RLIMIT_NOFILE (the soft limit is raised to the hard one; the hard
  // one too when allowed), minus what the process has open and a reserve. When the workload
  // needs more, Establish() shards it over worker processes (see Engine::Establish). Tests set a
  // small value to force sharding.
  size_t max_fds_per_process = 0;
};

class Engine {
 public:
  static Result<std::unique_ptr<Engine>> Create(const EngineOptions& options = {});
  virtual ~Engine() = default;

  virtual Status AddListener(const ListenSpec& spec) = 0;
  // Queues a connection; Establish() opens them.
  virtual Result<size_t> AddConnection(const ConnSpec& spec) = 0;
  // Connects everything queued and waits until all are established (or the timeout). Raises
  // RLIMIT_NOFILE as needed (both ends are fds of this process: 2 per connection). On error the
  // failed connections carry their message in the Report and the others can still Start().
  //
  // Sharding, when the descriptors do not fit one process: listeners are split into shards
  // balanced by connection count (a connection goes with its target listener, so a listener
  // with more connections than one process can hold is an error asking for more listener
  // ports), and one worker process is started per shard (this program exec'd in the worker
  // role, from any thread). Workers die with the thread that called Establish()
  // (PR_SET_PDEATHSIG), also on SIGKILL; Stop() and the destructor reap them. Call Establish()
  // once per engine when sharded.
  virtual Status Establish() = 0;
  // Starts traffic on a background thread.
  virtual Status Start() = 0;
  // Records the reload moment: "before"/"after" split and stall measurement start here.
  virtual void Mark() = 0;
  // Stops traffic and returns the measurements. Closes every socket.
  virtual Report Stop() = 0;
};

}  // namespace fwgate::workload
