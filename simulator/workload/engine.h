// Ceph-shaped TCP traffic in the lab: listeners and connections opened inside node namespaces,
// driven by one epoll loop, with per-connection progress in both directions (<= 10 ms resolution)
// and TCP_INFO retransmits. Thread-safety: configure, then Start(); Mark()/Stop() from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "simulator/netns/netns.h"

namespace fwgate::workload {

enum class ConnClass { kReplication, kHeartbeat, kClient, kMon };
std::string_view ConnClassName(ConnClass c);  // "replication", "heartbeat", "client", "mon"

// What one direction of a connection sends.
struct Flow {
  enum class Kind { kNone, kBulk, kPeriodic } kind = Kind::kNone;
  uint32_t message_bytes = 0;                      // kPeriodic: bytes per message
  std::chrono::milliseconds interval{0};           // kPeriodic: one message per interval
};

struct ListenSpec {
  std::string node;               // "node1"
  const netns::NetnsHandle* ns;   // namespace the socket is opened in (must outlive the engine)
  std::string address;            // IPv4/IPv6 literal to bind
  uint16_t port = 0;
  int rcvbuf = 0;                 // SO_RCVBUF/SO_SNDBUF for accepted sockets (0: kernel default)
  int sndbuf = 0;
};

struct ConnSpec {
  ConnClass cls = ConnClass::kHeartbeat;
  std::string from_node;
  std::string to_node;
  const netns::NetnsHandle* from_ns = nullptr;
  std::string from_address;  // bind address ("" = let the kernel choose)
  std::string to_address;
  uint16_t to_port = 0;
  Flow forward;   // from -> to
  Flow reverse;   // to -> from (sent by the accepted socket)
  int sndbuf = 0; // both ends; large buffers make window scaling matter (replication)
  int rcvbuf = 0;
};

// Per connection, after Stop().
struct ConnResult {
  size_t id = 0;
  ConnClass cls = ConnClass::kHeartbeat;
  std::string from_node, to_node;
  uint64_t fwd_bytes_before = 0, fwd_bytes_after = 0;  // received by `to`, split at the mark
  uint64_t rev_bytes_before = 0, rev_bytes_after = 0;  // received by `from`
  // Longest time after the mark during which a direction that should make progress made none
  // (periodic flows: minus their interval), including a stall still running at Stop().
  std::chrono::milliseconds max_stall_after_mark{0};
  bool reset = false;   // ECONNRESET/EPIPE or RST seen
  bool closed = false;  // orderly close by the peer
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
  std::vector<ConnResult> connections;
  Timeline timeline;
  std::chrono::milliseconds loop_max_latency{0};  // worst epoll iteration lateness seen
};

struct EngineOptions {
  std::chrono::milliseconds timeline_bucket{100};
  // Per connection: from its connect() until both ends are up (accepted by our listener).
  std::chrono::milliseconds connect_timeout{5000};
  // Connects in flight at once during Establish(): keeps listen backlogs (net.core.somaxconn)
  // from overflowing, which would turn into 1 s SYN retransmits.
  size_t max_connecting = 1024;
};

class Engine {
 public:
  static Result<std::unique_ptr<Engine>> Create(const EngineOptions& options = {});
  virtual ~Engine() = default;

  virtual Status AddListener(const ListenSpec& spec) = 0;
  // Queues a connection; Establish() opens them.
  virtual Result<size_t> AddConnection(const ConnSpec& spec) = 0;
  // Connects everything queued and waits until all are established (or the timeout).
  virtual Status Establish() = 0;
  // Starts traffic on a background thread.
  virtual Status Start() = 0;
  // Records the reload moment: "before"/"after" split and stall measurement start here.
  virtual void Mark() = 0;
  // Stops traffic and returns the measurements. Closes every socket.
  virtual Report Stop() = 0;
};

}  // namespace fwgate::workload
