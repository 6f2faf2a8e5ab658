// What the sharding front end and its worker processes say to each other over a socketpair:
// length-prefixed frames holding commands, statuses and reports in a compact little-endian
// binary form, plus merging the workers' timelines. Pure (the frame I/O lives in the engine).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "simulator/workload/accounting.h"
#include "simulator/workload/engine.h"

namespace fwgate::workload::wire {

// Frame: u8 type, u32 payload length, payload.
enum class Type : uint8_t {
  kStart = 1,        // front end -> worker: i64 timeline origin (CLOCK_MONOTONIC ns)
  kMark = 2,         // front end -> worker: i64 mark time
  kStop = 3,         // front end -> worker: (empty)
  kEstablished = 4,  // worker -> front end: EstablishReply
  kStarted = 5,      // worker -> front end: status
  kReport = 6,       // worker -> front end: WorkerReport
  kSetup = 7,        // front end -> worker: WorkerSetup (first frame a worker reads)
};
constexpr size_t kHeaderBytes = 5;
constexpr uint32_t kMaxPayload = 1U << 30;

std::string Frame(Type type, std::string_view payload);
// Type and payload length from a 5-byte header; error for an unknown type or oversized length.
[[nodiscard]] Result<std::pair<Type, uint32_t>> ParseHeader(std::string_view header);

std::string EncodeTime(Nanos t);
[[nodiscard]] Result<Nanos> DecodeTime(std::string_view payload);

// An error as it crosses the process boundary (its code is an errno value).
std::string EncodeStatus(const Status& s);
[[nodiscard]] Result<Status> DecodeStatus(std::string_view payload);

// A worker's Establish(): its status plus the summary the front end needs to word one message
// for all workers (ids are the worker's own).
struct EstablishReply {
  Status status = OkStatus();
  uint64_t queued = 0;
  uint64_t failed = 0;
  uint64_t first_failed = 0;
  std::string first_error;
};
std::string EncodeEstablish(const EstablishReply& r);
[[nodiscard]] Result<EstablishReply> DecodeEstablish(std::string_view payload);

struct WorkerReport {
  Report report;            // connection ids are the worker's own (0..n-1)
  Nanos mark_received = 0;  // when the worker read the mark command (0: none)
};
std::string EncodeReport(const WorkerReport& r);
[[nodiscard]] Result<WorkerReport> DecodeReport(std::string_view payload);

// What an exec'd worker process needs to start its share of the workload. Descriptors (listening
// sockets, network namespaces) are passed to the worker under the same numbers; the specs refer
// to namespaces by descriptor number.
struct WorkerListener {
  ListenSpec spec;  // spec.ns is null on the wire; ns_fd names it
  int ns_fd = -1;
  int fd = -1;  // the listening socket
};
struct WorkerConnection {
  ConnSpec spec;  // spec.from_ns is null on the wire; from_ns_fd names it
  int from_ns_fd = -1;
};
struct WorkerSetup {
  EngineOptions options;
  Nanos mark = 0;  // a Mark() made before Establish() (0: none)
  std::vector<WorkerListener> listeners;
  std::vector<WorkerConnection> connections;  // worker ids in this order
};
std::string EncodeSetup(const WorkerSetup& s);
[[nodiscard]] Result<WorkerSetup> DecodeSetup(std::string_view payload);

// Sum of timelines that share one origin and bucket size: series added per class and bucket
// (shorter ones count as zero past their end), mark bucket the latest one set (they agree when
// the workers were given one mark time). Timelines with a different bucket size than the first
// are an error.
[[nodiscard]] Result<Timeline> MergeTimelines(const std::vector<Timeline>& parts);

}  // namespace fwgate::workload::wire
