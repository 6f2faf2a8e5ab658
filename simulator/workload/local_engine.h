// The in-process workload engine (one epoll loop; both ends of every connection are sockets of
// this process) and the hooks the sharding front end and its worker processes need. Internal to
// simulator/workload; callers use Engine::Create. Thread-safety: as Engine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "simulator/workload/accounting.h"
#include "simulator/workload/engine.h"

namespace fwgate::workload {

// The outcome of the last Establish() call, for a front end composing one message.
struct EstablishSummary {
  size_t queued = 0;        // connections it tried
  size_t failed = 0;        // of those, how many failed
  size_t first_failed = 0;  // id of the first failure (when failed > 0)
  std::string first_error;
};

class LocalEngine : public Engine {
 public:
  [[nodiscard]] virtual EstablishSummary last_establish() const = 0;

  // Takes over a listening socket another engine opened (a worker inheriting it across fork).
  [[nodiscard]] virtual Status AdoptListener(const ListenSpec& spec, int fd) = 0;

  [[nodiscard]] virtual size_t listener_count() const = 0;
  [[nodiscard]] virtual const ListenSpec& listener_spec(size_t i) const = 0;
  [[nodiscard]] virtual int listener_fd(size_t i) const = 0;
  [[nodiscard]] virtual size_t connection_count() const = 0;
  [[nodiscard]] virtual const ConnSpec& connection_spec(size_t id) const = 0;
  // The listener connection `id` resolves to (as Establish() would), if any.
  [[nodiscard]] virtual std::optional<uint32_t> ListenerOf(size_t id) const = 0;
  // Descriptors the engine holds besides its sockets (epoll, eventfd).
  [[nodiscard]] virtual std::vector<int> ControlFds() const = 0;

  // Start() whose timeline has bucket 0 at `timeline_origin`, a CLOCK_MONOTONIC time: workers
  // given the same origin produce bucket-aligned timelines.
  [[nodiscard]] virtual Status StartAt(Nanos timeline_origin) = 0;
  // Mark() at a given CLOCK_MONOTONIC time (the first mark wins, as with Mark()).
  virtual void MarkAt(Nanos when) = 0;
  // Closes the listeners and forgets everything without reporting (the front end, after
  // handing the work to worker processes). The engine only reports "not established" after.
  virtual void Abandon() = 0;
};

[[nodiscard]] Result<std::unique_ptr<LocalEngine>> CreateLocalEngine(const EngineOptions& options);

// CLOCK_MONOTONIC in nanoseconds: one clock for every process of the machine (this engine does
// not run in time namespaces).
Nanos MonotonicNow();

// Descriptors open in this process now.
size_t OpenFdCount();

// Descriptors kept free beyond the engine's own sockets, for whatever else the process opens
// while traffic runs (netlink sockets, nft, probes).
constexpr size_t kFdReserve = 256;

}  // namespace fwgate::workload
