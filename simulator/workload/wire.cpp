#include "simulator/workload/wire.h"

#include <algorithm>
#include <cstring>
#include <system_error>

namespace fwgate::workload::wire {
namespace {

class Writer {
 public:
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U32(uint32_t v) { Raw(v, 4); }
  void U64(uint64_t v) { Raw(v, 8); }
  void I64(int64_t v) { Raw(static_cast<uint64_t>(v), 8); }
  void Str(std::string_view s) {
    U32(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }
  std::string Take() { return std::move(out_); }

 private:
  void Raw(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  std::string out_;
};

// Reads fields in order; the first read past the end sets failed() and returns zeros from then.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  uint8_t U8() { return static_cast<uint8_t>(Raw(1)); }
  uint32_t U32() { return static_cast<uint32_t>(Raw(4)); }
  uint64_t U64() { return Raw(8); }
  int64_t I64() { return static_cast<int64_t>(Raw(8)); }
  std::string Str() {
    uint32_t n = U32();
    if (failed_ || n > in_.size() - pos_) {
      failed_ = true;
      return {};
    }
    std::string s(in_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  [[nodiscard]] bool failed() const { return failed_; }
  [[nodiscard]] bool at_end() const { return pos_ == in_.size(); }
  // A count of items at least `min_bytes` each must fit in what is left.
  bool Plausible(uint64_t count, size_t min_bytes) {
    if (count > (in_.size() - pos_) / min_bytes) failed_ = true;
    return !failed_;
  }

 private:
  uint64_t Raw(int n) {
    if (failed_ || in_.size() - pos_ < static_cast<size_t>(n)) {
      failed_ = true;
      return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) {
      v |= static_cast<uint64_t>(static_cast<uint8_t>(in_[pos_ + i])) << (8 * i);
    }
    pos_ += n;
    return v;
  }
  std::string_view in_;
  size_t pos_ = 0;
  bool failed_ = false;
};

Error Truncated(std::string_view what) {
  return Error::Unavailable("workload worker message: truncated or malformed " + std::string(what));
}

}  // namespace

std::string Frame(Type type, std::string_view payload) {
  Writer w;
  w.U8(static_cast<uint8_t>(type));
  w.U32(static_cast<uint32_t>(payload.size()));
  std::string out = w.Take();
  out.append(payload);
  return out;
}

Result<std::pair<Type, uint32_t>> ParseHeader(std::string_view header) {
  Reader r(header);
  uint8_t t = r.U8();
  uint32_t len = r.U32();
  if (r.failed()) return Truncated("frame header");
  if (t < static_cast<uint8_t>(Type::kStart) || t > static_cast<uint8_t>(Type::kSetup)) {
    return Error::Unavailable("workload worker message: unknown type " + std::to_string(t));
  }
  if (len > kMaxPayload) {
    return Error::Unavailable("workload worker message: length " + std::to_string(len) +
                              " too large");
  }
  return std::pair{static_cast<Type>(t), len};
}

std::string EncodeTime(Nanos t) {
  Writer w;
  w.I64(t);
  return w.Take();
}

Result<Nanos> DecodeTime(std::string_view payload) {
  Reader r(payload);
  Nanos t = r.I64();
  if (r.failed() || !r.at_end()) return Truncated("time");
  return t;
}

std::string EncodeStatus(const Status& s) {
  Writer w;
  w.U8(s.ok() ? 1 : 0);
  if (!s.ok()) {
    w.U8(static_cast<uint8_t>(s.error().kind));
    w.U32(static_cast<uint32_t>(s.error().Errno()));
    w.Str(s.error().context);
  }
  return w.Take();
}

Result<Status> DecodeStatus(std::string_view payload) {
  Reader r(payload);
  bool ok = r.U8() != 0;
  if (ok) {
    if (r.failed() || !r.at_end()) return Truncated("status");
    return Status(OkStatus());
  }
  uint8_t kind = r.U8();
  int code = static_cast<int>(r.U32());
  std::string context = r.Str();
  if (r.failed() || !r.at_end() || kind > static_cast<uint8_t>(ErrorKind::kInternal)) {
    return Truncated("status");
  }
  Error e{static_cast<ErrorKind>(kind), {}, std::move(context)};
  if (code != 0) e.code = std::error_code(code, std::system_category());
  return Status(std::move(e));
}

std::string EncodeEstablish(const EstablishReply& r) {
  Writer w;
  w.Str(EncodeStatus(r.status));
  w.U64(r.queued);
  w.U64(r.failed);
  w.U64(r.first_failed);
  w.Str(r.first_error);
  return w.Take();
}

Result<EstablishReply> DecodeEstablish(std::string_view payload) {
  Reader r(payload);
  EstablishReply out;
  std::string status = r.Str();
  out.queued = r.U64();
  out.failed = r.U64();
  out.first_failed = r.U64();
  out.first_error = r.Str();
  if (r.failed() || !r.at_end()) return Truncated("establish reply");
  auto st = DecodeStatus(status);
  if (!st) return st.error();
  out.status = *st;
  return out;
}

std::string EncodeReport(const WorkerReport& wr) {
  const Report& rep = wr.report;
  Writer w;
  w.I64(wr.mark_received);
  w.I64(rep.loop_max_latency.count());
  w.I64(rep.timeline.bucket.count());
  w.I64(rep.timeline.mark_bucket);
  w.U32(static_cast<uint32_t>(rep.timeline.series.size()));
  for (const auto& [cls, buckets] : rep.timeline.series) {
    w.U8(static_cast<uint8_t>(cls));
    w.U32(static_cast<uint32_t>(buckets.size()));
    for (uint64_t b : buckets) w.U64(b);
  }
  w.U32(static_cast<uint32_t>(rep.connections.size()));
  for (const ConnResult& c : rep.connections) {
    w.U64(c.id);
    w.U8(static_cast<uint8_t>(c.cls));
    w.Str(c.from_node);
    w.Str(c.to_node);
    w.U32(c.from_port);
    w.U64(c.fwd_bytes_before);
    w.U64(c.fwd_bytes_after);
    w.U64(c.rev_bytes_before);
    w.U64(c.rev_bytes_after);
    w.I64(c.max_stall_after_mark.count());
    w.U8(static_cast<uint8_t>((c.reset ? 1 : 0) | (c.closed ? 2 : 0)));
    w.U32(c.retransmits);
    w.Str(c.error);
  }
  return w.Take();
}

Result<WorkerReport> DecodeReport(std::string_view payload) {
  constexpr uint8_t kClasses = static_cast<uint8_t>(TimelineAccumulator::kClasses);
  Reader r(payload);
  WorkerReport wr;
  Report& rep = wr.report;
  wr.mark_received = r.I64();
  rep.loop_max_latency = std::chrono::milliseconds(r.I64());
  rep.timeline.bucket = std::chrono::milliseconds(r.I64());
  rep.timeline.mark_bucket = r.I64();
  uint32_t nseries = r.U32();
  if (!r.Plausible(nseries, 5)) return Truncated("timeline");
  for (uint32_t i = 0; i < nseries; ++i) {
    uint8_t cls = r.U8();
    uint32_t n = r.U32();
    if (cls >= kClasses || !r.Plausible(n, 8)) return Truncated("timeline");
    std::vector<uint64_t> buckets(n);
    for (uint64_t& b : buckets) b = r.U64();
    rep.timeline.series.emplace_back(static_cast<ConnClass>(cls), std::move(buckets));
  }
  uint32_t nconns = r.U32();
  if (!r.Plausible(nconns, 66)) return Truncated("connection results");
  rep.connections.reserve(nconns);
  for (uint32_t i = 0; i < nconns; ++i) {
    ConnResult c;
    c.id = r.U64();
    uint8_t cls = r.U8();
    if (cls >= kClasses) return Truncated("connection class");
    c.cls = static_cast<ConnClass>(cls);
    c.from_node = r.Str();
    c.to_node = r.Str();
    c.from_port = static_cast<uint16_t>(r.U32());
    c.fwd_bytes_before = r.U64();
    c.fwd_bytes_after = r.U64();
    c.rev_bytes_before = r.U64();
    c.rev_bytes_after = r.U64();
    c.max_stall_after_mark = std::chrono::milliseconds(r.I64());
    uint8_t flags = r.U8();
    c.reset = (flags & 1) != 0;
    c.closed = (flags & 2) != 0;
    c.retransmits = r.U32();
    c.error = r.Str();
    if (r.failed()) return Truncated("connection results");
    rep.connections.push_back(std::move(c));
  }
  if (r.failed() || !r.at_end()) return Truncated("report");
  return wr;
}

namespace {

void PutFlow(Writer& w, const Flow& f) {
  w.U8(static_cast<uint8_t>(f.kind));
  w.U32(f.message_bytes);
  w.I64(f.interval.count());
  w.U64(f.bytes_per_second);
  w.I64(f.first.count());
}

Flow GetFlow(Reader& r, bool& bad) {
  Flow f;
  uint8_t kind = r.U8();
  if (kind > static_cast<uint8_t>(Flow::Kind::kPeriodic)) bad = true;
  f.kind = static_cast<Flow::Kind>(kind);
  f.message_bytes = r.U32();
  f.interval = std::chrono::milliseconds(r.I64());
  f.bytes_per_second = r.U64();
  f.first = std::chrono::milliseconds(r.I64());
  return f;
}

}  // namespace

std::string EncodeSetup(const WorkerSetup& s) {
  Writer w;
  const EngineOptions& o = s.options;
  w.I64(o.timeline_bucket.count());
  w.I64(o.connect_timeout.count());
  w.U64(o.max_connecting);
  w.I64(o.loop_nice);
  w.I64(o.loop_realtime_priority);
  w.I64(s.mark);
  w.U64(s.listeners.size());
  for (const WorkerListener& l : s.listeners) {
    w.Str(l.spec.node);
    w.Str(l.spec.address);
    w.U32(l.spec.port);
    w.I64(l.spec.rcvbuf);
    w.I64(l.spec.sndbuf);
    w.I64(l.ns_fd);
    w.I64(l.fd);
  }
  w.U64(s.connections.size());
  for (const WorkerConnection& c : s.connections) {
    w.U8(static_cast<uint8_t>(c.spec.cls));
    w.Str(c.spec.from_node);
    w.Str(c.spec.to_node);
    w.Str(c.spec.from_address);
    w.Str(c.spec.to_address);
    w.U32(c.spec.to_port);
    PutFlow(w, c.spec.forward);
    PutFlow(w, c.spec.reverse);
    w.I64(c.spec.sndbuf);
    w.I64(c.spec.rcvbuf);
    w.I64(c.from_ns_fd);
  }
  return w.Take();
}

Result<WorkerSetup> DecodeSetup(std::string_view payload) {
  Reader r(payload);
  WorkerSetup s;
  bool bad = false;
  EngineOptions& o = s.options;
  o.timeline_bucket = std::chrono::milliseconds(r.I64());
  o.connect_timeout = std::chrono::milliseconds(r.I64());
  o.max_connecting = r.U64();
  o.loop_nice = static_cast<int>(r.I64());
  o.loop_realtime_priority = static_cast<int>(r.I64());
  o.max_fds_per_process = 0;
  s.mark = r.I64();
  uint64_t nl = r.U64();
  if (!r.Plausible(nl, 40)) return Truncated("setup");
  for (uint64_t i = 0; i < nl && !r.failed(); ++i) {
    WorkerListener l;
    l.spec.node = r.Str();
    l.spec.address = r.Str();
    l.spec.port = static_cast<uint16_t>(r.U32());
    l.spec.rcvbuf = static_cast<int>(r.I64());
    l.spec.sndbuf = static_cast<int>(r.I64());
    l.ns_fd = static_cast<int>(r.I64());
    l.fd = static_cast<int>(r.I64());
    s.listeners.push_back(std::move(l));
  }
  uint64_t nc = r.U64();
  if (!r.Plausible(nc, 76)) return Truncated("setup");
  for (uint64_t i = 0; i < nc && !r.failed(); ++i) {
    WorkerConnection c;
    uint8_t cls = r.U8();
    if (cls > static_cast<uint8_t>(ConnClass::kMon)) bad = true;
    c.spec.cls = static_cast<ConnClass>(cls);
    c.spec.from_node = r.Str();
    c.spec.to_node = r.Str();
    c.spec.from_address = r.Str();
    c.spec.to_address = r.Str();
    c.spec.to_port = static_cast<uint16_t>(r.U32());
    c.spec.forward = GetFlow(r, bad);
    c.spec.reverse = GetFlow(r, bad);
    c.spec.sndbuf = static_cast<int>(r.I64());
    c.spec.rcvbuf = static_cast<int>(r.I64());
    c.from_ns_fd = static_cast<int>(r.I64());
    s.connections.push_back(std::move(c));
  }
  if (bad || r.failed() || !r.at_end()) return Truncated("setup");
  return s;
}

Result<Timeline> MergeTimelines(const std::vector<Timeline>& parts) {
  Timeline out;
  if (parts.empty()) return out;
  out.bucket = parts.front().bucket;
  out.mark_bucket = -1;
  std::vector<uint64_t> sums[TimelineAccumulator::kClasses];
  bool seen[TimelineAccumulator::kClasses] = {};
  size_t length = 0;
  for (const Timeline& t : parts) {
    if (t.bucket != out.bucket) {
      return Error::Unavailable("cannot merge timelines with buckets of " +
                                std::to_string(out.bucket.count()) + " ms and " +
                                std::to_string(t.bucket.count()) + " ms");
    }
    out.mark_bucket = std::max(out.mark_bucket, t.mark_bucket);
    for (const auto& [cls, buckets] : t.series) {
      auto c = static_cast<size_t>(cls);
      if (c >= TimelineAccumulator::kClasses) continue;
      seen[c] = true;
      auto& v = sums[c];
      if (v.size() < buckets.size()) v.resize(buckets.size(), 0);
      for (size_t b = 0; b < buckets.size(); ++b) v[b] += buckets[b];
      length = std::max(length, buckets.size());
    }
  }
  // As TimelineAccumulator::Finish: every class present, all of one length.
  for (size_t c = 0; c < TimelineAccumulator::kClasses; ++c) {
    if (!seen[c]) continue;
    sums[c].resize(length, 0);
    out.series.emplace_back(static_cast<ConnClass>(c), std::move(sums[c]));
  }
  return out;
}

}  // namespace fwgate::workload::wire
