// Restartable storage daemons: D daemons of one host, each listening on its own port and holding
// its share of the host's sessions, opened by peers in other namespaces; a restart closes a
// daemon's sessions and listener, and the peers and the daemon reconnect as Ceph's messenger does
// (docs/lab-scenarios.md "2014-restart-storm"): every session that is not back retries at once and
// then once per `retry` (no backoff), a connect that gets no answer is abandoned after
// `connect_timeout` and retried with a new socket, a booting daemon accepts and closes every
// session, and daemons booting together share the host's boot work.
// Thread-safety: Start() once; Restart()/Snapshot() from any thread; Stop() once.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "sys/netns.h"

namespace fwgate::workload {

struct DaemonEndpoint {
  std::string name;  // "osd.0"
  const sys::NetnsHandle* ns = nullptr;
  std::string address;  // IPv4 literal the daemon listens on and connects from
  uint16_t port = 0;
};

// Where sessions come from (a peer node or the client) and where the monitor listens.
struct PeerEndpoint {
  std::string node;
  const sys::NetnsHandle* ns = nullptr;
  std::string address;
  uint16_t port = 0;  // the monitor's port (PeerEndpoint as monitor); unused for session sources
};

struct DaemonOptions {
  int sessions_per_daemon = 750;
  // After a restart the daemon does not listen for `down` (peers' connects are refused), then
  // boots: `boot_work` of host time, shared by the daemons booting at once (two booting daemons
  // each take twice as long) and counted at the host's pace (the session attempts the loop
  // makes against those due at full speed: a starved host boots slower), then a session to the
  // monitor; it serves sessions once that session is up.
  std::chrono::milliseconds down{500};
  std::chrono::milliseconds boot_work{2000};
  // A session that is not back makes one attempt per `retry` (the first at once).
  std::chrono::milliseconds retry{1000};
  // A connect (or the banner after it) not answered within this is abandoned; the next attempt
  // uses a new socket.
  std::chrono::milliseconds connect_timeout{1000};
};

// Cumulative since Start().
struct DaemonCounters {
  uint64_t attempts = 0;   // connects started by peers and daemons
  uint64_t refused = 0;    // answered by RST (nothing listening)
  uint64_t timed_out = 0;  // no answer within connect_timeout (a dropped SYN, SYN/ACK or banner)
  uint64_t rejected = 0;   // accepted and closed by a booting daemon
  uint64_t sessions_made = 0;
};

struct DaemonState {
  std::string name;
  bool up = false;
  int sessions_up = 0;
  // Since Start(); -1 when not restarted / not back since its last restart.
  int64_t restarted_ms = -1;
  int64_t back_ms = -1;  // every session of this daemon up again (and the daemon serving)
  int restarts = 0;
};

struct DaemonSnapshot {
  int64_t t_ms = 0;  // since Start()
  DaemonCounters counters;
  int sessions_up = 0;
  int sessions_total = 0;
  std::vector<DaemonState> daemons;
};

class DaemonSet {
 public:
  // `monitor` listens on its node; sessions come from `sources` round robin.
  static Result<std::unique_ptr<DaemonSet>> Create(const DaemonOptions& options,
                                                   std::vector<DaemonEndpoint> daemons,
                                                   std::vector<PeerEndpoint> sources,
                                                   PeerEndpoint monitor);
  virtual ~DaemonSet() = default;

  // Opens the listeners, starts the loop thread and waits until every daemon serves and every
  // session is up, or `timeout`.
  virtual Status Start(std::chrono::milliseconds timeout) = 0;
  // Restarts daemon `index` now (closes its sessions, its monitor session and its listener).
  virtual void Restart(size_t index) = 0;
  virtual DaemonSnapshot Snapshot() = 0;
  // Stops the loop and closes every socket (abortively: no TIME_WAIT left).
  virtual DaemonSnapshot Stop() = 0;
};

}  // namespace fwgate::workload
