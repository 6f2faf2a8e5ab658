#include "gate/diff/header_space.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <unordered_map>

namespace fwgate::traffic {
namespace {

constexpr u128 kMaxU128 = ~u128{0};

u128 MaxOf(uint32_t bits) { return bits >= 128 ? kMaxU128 : (u128{1} << bits) - 1; }

size_t Mix(size_t h, uint64_t v) {
  return h ^ (std::hash<uint64_t>{}(v) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
}
size_t MixU128(size_t h, u128 v) {
  return Mix(Mix(h, static_cast<uint64_t>(v)), static_cast<uint64_t>(v >> 64));
}

}  // namespace

std::string_view FieldName(Field f) {
  switch (f) {
    case Field::kNfproto:
      return "nfproto";
    case Field::kL4proto:
      return "l4proto";
    case Field::kIifname:
      return "iifname";
    case Field::kOifname:
      return "oifname";
    case Field::kSaddr4:
      return "saddr4";
    case Field::kDaddr4:
      return "daddr4";
    case Field::kSaddr6:
      return "saddr6";
    case Field::kDaddr6:
      return "daddr6";
    case Field::kSport:
      return "sport";
    case Field::kDport:
      return "dport";
    case Field::kTcpFlags:
      return "tcp_flags";
    case Field::kCtState:
      return "ct_state";
    case Field::kMark:
      return "mark";
    case Field::kPkttype:
      return "pkttype";
  }
  return "?";
}

uint32_t FieldBits(Field f) {
  switch (f) {
    case Field::kNfproto:
    case Field::kL4proto:
    case Field::kTcpFlags:
    case Field::kPkttype:
      return 8;
    case Field::kIifname:
    case Field::kOifname:
    case Field::kSaddr6:
    case Field::kDaddr6:
      return 128;
    case Field::kSaddr4:
    case Field::kDaddr4:
    case Field::kCtState:
    case Field::kMark:
      return 32;
    case Field::kSport:
    case Field::kDport:
      return 16;
  }
  return 0;
}

std::string_view CtStateName(uint32_t bit) {
  switch (bit) {
    case kCtNew:
      return "new";
    case kCtEstablished:
      return "established";
    case kCtRelated:
      return "related";
    case kCtInvalid:
      return "invalid";
    case kCtUntracked:
      return "untracked";
    default:
      return "?";
  }
}

// --- IntervalSet ---

IntervalSet IntervalSet::Of(u128 lo, u128 hi) {
  IntervalSet s;
  if (lo <= hi) s.iv_.push_back({lo, hi});
  return s;
}

IntervalSet IntervalSet::FromIntervals(std::vector<Interval> in) {
  std::erase_if(in, [](const Interval& i) { return i.lo > i.hi; });
  std::sort(in.begin(), in.end(), [](const Interval& a, const Interval& b) { return a.lo < b.lo; });
  IntervalSet s;
  for (const auto& i : in) {
    if (!s.iv_.empty() && (s.iv_.back().hi == kMaxU128 || i.lo <= s.iv_.back().hi + 1)) {
      s.iv_.back().hi = std::max(s.iv_.back().hi, i.hi);
    } else {
      s.iv_.push_back(i);
    }
  }
  return s;
}

u128 IntervalSet::Count() const {
  u128 n = 0;
  for (const auto& i : iv_) {
    u128 w = i.hi - i.lo;
    if (w == kMaxU128 || n > kMaxU128 - w - 1) return kMaxU128;
    n += w + 1;
  }
  return n;
}

bool IntervalSet::Contains(u128 v) const {
  auto it = std::upper_bound(iv_.begin(), iv_.end(), v,
                             [](u128 x, const Interval& i) { return x < i.lo; });
  if (it == iv_.begin()) return false;
  --it;
  return v <= it->hi;
}

bool IntervalSet::Intersects(const IntervalSet& o) const {
  size_t i = 0, j = 0;
  while (i < iv_.size() && j < o.iv_.size()) {
    const auto& a = iv_[i];
    const auto& b = o.iv_[j];
    if (a.hi < b.lo) {
      ++i;
    } else if (b.hi < a.lo) {
      ++j;
    } else {
      return true;
    }
  }
  return false;
}

bool IntervalSet::SubsetOf(const IntervalSet& o) const {
  size_t j = 0;
  for (const auto& a : iv_) {
    while (j < o.iv_.size() && o.iv_[j].hi < a.lo) ++j;
    if (j == o.iv_.size() || o.iv_[j].lo > a.lo || o.iv_[j].hi < a.hi) return false;
  }
  return true;
}

IntervalSet IntervalSet::Intersect(const IntervalSet& o) const {
  IntervalSet r;
  size_t i = 0, j = 0;
  while (i < iv_.size() && j < o.iv_.size()) {
    const auto& a = iv_[i];
    const auto& b = o.iv_[j];
    u128 lo = std::max(a.lo, b.lo);
    u128 hi = std::min(a.hi, b.hi);
    if (lo <= hi) r.iv_.push_back({lo, hi});
    if (a.hi < b.hi) {
      ++i;
    } else {
      ++j;
    }
  }
  return r;
}

IntervalSet IntervalSet::Union(const IntervalSet& o) const {
  if (o.empty()) return *this;
  if (empty()) return o;
  std::vector<Interval> all;
  all.reserve(iv_.size() + o.iv_.size());
  std::merge(iv_.begin(), iv_.end(), o.iv_.begin(), o.iv_.end(), std::back_inserter(all),
             [](const Interval& a, const Interval& b) { return a.lo < b.lo; });
  IntervalSet s;
  for (const auto& i : all) {
    if (!s.iv_.empty() && (s.iv_.back().hi == kMaxU128 || i.lo <= s.iv_.back().hi + 1)) {
      s.iv_.back().hi = std::max(s.iv_.back().hi, i.hi);
    } else {
      s.iv_.push_back(i);
    }
  }
  return s;
}

IntervalSet IntervalSet::Subtract(const IntervalSet& o) const {
  if (o.empty() || empty()) return *this;
  IntervalSet r;
  size_t j = 0;
  for (const auto& a : iv_) {
    u128 lo = a.lo;
    bool done = false;
    while (j < o.iv_.size() && o.iv_[j].hi < lo) ++j;
    size_t k = j;
    while (k < o.iv_.size() && o.iv_[k].lo <= a.hi) {
      const auto& b = o.iv_[k];
      if (b.lo > lo) r.iv_.push_back({lo, b.lo - 1});
      if (b.hi >= a.hi) {
        done = true;
        break;
      }
      lo = b.hi + 1;
      ++k;
    }
    if (!done) r.iv_.push_back({lo, a.hi});
  }
  return r;
}

void IntervalSet::Add(u128 lo, u128 hi) { *this = Union(Of(lo, hi)); }

size_t IntervalSet::Hash() const {
  size_t h = iv_.size();
  for (const auto& i : iv_) h = MixU128(MixU128(h, i.lo), i.hi);
  return h;
}

const IntervalSet& Domain(Field f) {
  static const std::array<IntervalSet, kFieldCount> kDomains = [] {
    std::array<IntervalSet, kFieldCount> d;
    for (Field x : kAllFields) d[static_cast<size_t>(x)] = IntervalSet::Of(0, MaxOf(FieldBits(x)));
    d[static_cast<size_t>(Field::kNfproto)] =
        IntervalSet::FromIntervals({{kNfprotoIpv4, kNfprotoIpv4}, {kNfprotoIpv6, kNfprotoIpv6}});
    std::vector<Interval> ct;
    ct.reserve(kCtStates.size());
    for (uint32_t b : kCtStates) ct.push_back({b, b});
    d[static_cast<size_t>(Field::kCtState)] = IntervalSet::FromIntervals(ct);
    d[static_cast<size_t>(Field::kPkttype)] = IntervalSet::Of(0, 3);
    return d;
  }();
  return kDomains[static_cast<size_t>(f)];
}

// --- Box ---

const IntervalSet& Box::Get(Field f) const {
  if (Constrained(f)) return sets_[static_cast<size_t>(f)];
  return Domain(f);
}

void Box::Set(Field f, IntervalSet s) {
  const IntervalSet& dom = Domain(f);
  size_t i = static_cast<size_t>(f);
  if (!s.SubsetOf(dom)) s = s.Intersect(dom);
  if (s == dom) {
    Clear(f);
    return;
  }
  if (s.empty()) empty_ = true;
  sets_[i] = std::move(s);
  mask_ |= 1u << i;
}

void Box::Clear(Field f) {
  size_t i = static_cast<size_t>(f);
  if (!Constrained(f)) return;
  bool was_empty_here = sets_[i].empty();
  sets_[i] = IntervalSet();
  mask_ &= ~(1u << i);
  if (was_empty_here) {
    empty_ = false;
    for (Field g : kAllFields) {
      if (Constrained(g) && sets_[static_cast<size_t>(g)].empty()) empty_ = true;
    }
  }
}

bool Box::Restrict(Field f, const IntervalSet& s) {
  if (empty_) return false;
  if (!Constrained(f)) {
    Set(f, s);
  } else {
    size_t i = static_cast<size_t>(f);
    if (!sets_[i].SubsetOf(s)) {
      sets_[i] = sets_[i].Intersect(s);
      if (sets_[i].empty()) empty_ = true;
    }
  }
  return !empty_;
}

bool Box::Intersects(const Box& o) const {
  if (empty_ || o.empty_) return false;
  uint32_t both = mask_ & o.mask_;
  for (size_t i = 0; i < kFieldCount; ++i) {
    if (((both >> i) & 1) && !sets_[i].Intersects(o.sets_[i])) return false;
  }
  return true;
}

std::optional<Box> Box::Intersect(const Box& o) const {
  if (!Intersects(o)) return std::nullopt;
  Box r = *this;
  for (size_t i = 0; i < kFieldCount; ++i) {
    if (!((o.mask_ >> i) & 1)) continue;
    if (!((r.mask_ >> i) & 1)) {
      r.sets_[i] = o.sets_[i];
      r.mask_ |= 1u << i;
    } else if (!r.sets_[i].SubsetOf(o.sets_[i])) {
      r.sets_[i] = r.sets_[i].Intersect(o.sets_[i]);
    }
  }
  return r;
}

bool Box::SubsetOf(const Box& o) const {
  if (empty_) return true;
  if (o.empty_) return false;
  for (size_t i = 0; i < kFieldCount; ++i) {
    if (!((o.mask_ >> i) & 1)) continue;
    if (!((mask_ >> i) & 1)) {
      if (!Domain(static_cast<Field>(i)).SubsetOf(o.sets_[i])) return false;
    } else if (!sets_[i].SubsetOf(o.sets_[i])) {
      return false;
    }
  }
  return true;
}

bool Box::Contains(const std::array<u128, kFieldCount>& p) const {
  if (empty_) return false;
  for (size_t i = 0; i < kFieldCount; ++i) {
    if (!Get(static_cast<Field>(i)).Contains(p[i])) return false;
  }
  return true;
}

void Box::SubtractInto(const Box& o, std::vector<Box>& out) const {
  if (empty_) return;
  if (!Intersects(o)) {
    out.push_back(*this);
    return;
  }
  Box rest = *this;  // the part still inside o on the fields handled so far
  for (size_t i = 0; i < kFieldCount; ++i) {
    if (!((o.mask_ >> i) & 1)) continue;
    Field f = static_cast<Field>(i);
    const IntervalSet& mine = rest.Get(f);
    IntervalSet outside = mine.Subtract(o.sets_[i]);
    if (!outside.empty()) {
      Box piece = rest;
      piece.Set(f, std::move(outside));
      out.push_back(std::move(piece));
      rest.Set(f, mine.Intersect(o.sets_[i]));
    }
  }
}

bool Box::operator==(const Box& o) const {
  if (empty_ || o.empty_) return empty_ == o.empty_;
  if (mask_ != o.mask_) return false;
  for (size_t i = 0; i < kFieldCount; ++i) {
    if (((mask_ >> i) & 1) && !(sets_[i] == o.sets_[i])) return false;
  }
  return true;
}

size_t Box::Hash() const {
  size_t h = mask_;
  for (size_t i = 0; i < kFieldCount; ++i) {
    if ((mask_ >> i) & 1) h = Mix(h, sets_[i].Hash());
  }
  return h;
}

size_t Box::HashWithout(Field skip) const {
  uint32_t m = mask_ & ~(1u << static_cast<int>(skip));
  size_t h = m;
  for (size_t i = 0; i < kFieldCount; ++i) {
    if ((m >> i) & 1) h = Mix(h, sets_[i].Hash());
  }
  return h;
}

bool Box::EqualWithout(const Box& o, Field skip) const {
  uint32_t bit = 1u << static_cast<int>(skip);
  if ((mask_ & ~bit) != (o.mask_ & ~bit)) return false;
  for (size_t i = 0; i < kFieldCount; ++i) {
    if (i == static_cast<size_t>(skip)) continue;
    if (((mask_ >> i) & 1) && !(sets_[i] == o.sets_[i])) return false;
  }
  return true;
}

std::optional<Space> Disjoint(const Space& boxes, size_t limit) {
  Space out;
  for (const Box& b : boxes) {
    if (b.empty()) continue;
    auto pieces = SubtractSpace(b, out, limit);
    if (!pieces) return std::nullopt;
    for (auto& p : *pieces) out.push_back(std::move(p));
    if (out.size() > limit) return std::nullopt;
  }
  return out;
}

std::optional<Space> SubtractSpace(const Box& box, const Space& space, size_t limit) {
  Space rem{box};
  Space next;
  for (const Box& s : space) {
    if (rem.empty()) break;
    next.clear();
    for (const Box& r : rem) r.SubtractInto(s, next);
    rem.swap(next);
    if (rem.size() > limit) return std::nullopt;
  }
  return rem;
}

void MergeBoxes(Space& boxes) {
  std::erase_if(boxes, [](const Box& b) { return b.empty(); });
  bool changed = true;
  while (changed && boxes.size() > 1) {
    changed = false;
    for (Field f : kAllFields) {
      std::unordered_map<size_t, std::vector<size_t>> buckets;
      for (size_t i = 0; i < boxes.size(); ++i) buckets[boxes[i].HashWithout(f)].push_back(i);
      std::vector<bool> gone(boxes.size(), false);
      for (auto& [h, idx] : buckets) {
        if (idx.size() < 2) continue;
        for (size_t a = 0; a < idx.size(); ++a) {
          if (gone[idx[a]]) continue;
          for (size_t b = a + 1; b < idx.size(); ++b) {
            if (gone[idx[b]]) continue;
            Box& x = boxes[idx[a]];
            const Box& y = boxes[idx[b]];
            if (!x.EqualWithout(y, f)) continue;
            x.Set(f, x.Get(f).Union(y.Get(f)));
            gone[idx[b]] = true;
            changed = true;
          }
        }
      }
      if (changed) {
        Space kept;
        kept.reserve(boxes.size());
        for (size_t i = 0; i < boxes.size(); ++i) {
          if (!gone[i]) kept.push_back(std::move(boxes[i]));
        }
        boxes.swap(kept);
      }
    }
  }
}

// --- formatting ---

u128 FromBytes(const uint8_t* p, size_t n) {
  u128 v = 0;
  for (size_t i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

void ToBytes(u128 v, uint8_t* out, size_t n) {
  for (size_t i = n; i > 0; --i) {
    out[i - 1] = static_cast<uint8_t>(v & 0xff);
    v >>= 8;
  }
}

std::string U128Text(u128 v) {
  if (v == 0) return "0";
  std::string s;
  while (v != 0) {
    s.push_back(static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  }
  std::reverse(s.begin(), s.end());
  return s;
}

std::string Ipv4Text(u128 v) {
  auto x = static_cast<uint32_t>(v);
  return fmt::format("{}.{}.{}.{}", x >> 24, (x >> 16) & 0xff, (x >> 8) & 0xff, x & 0xff);
}

std::string Ipv6Text(u128 v) {
  uint16_t w[8];
  for (int i = 0; i < 8; ++i) w[i] = static_cast<uint16_t>(v >> (112 - 16 * i));
  // Longest run of zero words (length >= 2) becomes "::".
  int best = -1, best_len = 0;
  for (int i = 0; i < 8;) {
    if (w[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && w[j] == 0) ++j;
    if (j - i > best_len && j - i >= 2) {
      best = i;
      best_len = j - i;
    }
    i = j;
  }
  std::string s;
  for (int i = 0; i < 8; ++i) {
    if (i == best) {
      s += "::";
      i += best_len - 1;
      continue;
    }
    if (!s.empty() && s.back() != ':') s += ':';
    s += fmt::format("{:x}", w[i]);
  }
  return s;
}

std::string IfnameText(u128 v) {
  uint8_t b[16];
  ToBytes(v, b, 16);
  std::string s;
  for (uint8_t c : b) {
    if (c == 0) break;
    if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
      s += fmt::format("\\x{:02x}", c);
    } else {
      s.push_back(static_cast<char>(c));
    }
  }
  return s;
}

u128 IfnameValue(std::string_view name) {
  uint8_t b[16] = {};
  for (size_t i = 0; i < name.size() && i < 16; ++i) b[i] = static_cast<uint8_t>(name[i]);
  return FromBytes(b, 16);
}

std::string L4protoName(uint32_t p) {
  switch (p) {
    case 1:
      return "icmp";
    case 2:
      return "igmp";
    case 6:
      return "tcp";
    case 17:
      return "udp";
    case 33:
      return "dccp";
    case 41:
      return "ipv6";
    case 47:
      return "gre";
    case 50:
      return "esp";
    case 51:
      return "ah";
    case 58:
      return "icmpv6";
    case 132:
      return "sctp";
    case 136:
      return "udplite";
    default:
      return std::to_string(p);
  }
}

std::string TcpFlagsText(uint32_t f) {
  static constexpr std::array<std::string_view, 8> kNames = {"fin", "syn", "rst", "psh",
                                                             "ack", "urg", "ecn", "cwr"};
  std::string s;
  for (size_t i = 0; i < 8; ++i) {
    if ((f >> i) & 1) {
      if (!s.empty()) s += ',';
      s += kNames[i];
    }
  }
  return s.empty() ? "none" : s;
}

std::string PkttypeName(uint32_t v) {
  switch (v) {
    case 0:
      return "host";
    case 1:
      return "broadcast";
    case 2:
      return "multicast";
    case 3:
      return "other";
    default:
      return std::to_string(v);
  }
}

std::string IcmpTypeName(bool v6, uint32_t t) {
  if (!v6) {
    switch (t) {
      case 0:
        return "echo-reply";
      case 3:
        return "destination-unreachable";
      case 5:
        return "redirect";
      case 8:
        return "echo-request";
      case 9:
        return "router-advertisement";
      case 10:
        return "router-solicitation";
      case 11:
        return "time-exceeded";
      case 12:
        return "parameter-problem";
      case 13:
        return "timestamp-request";
      case 14:
        return "timestamp-reply";
      default:
        return std::to_string(t);
    }
  }
  switch (t) {
    case 1:
      return "destination-unreachable";
    case 2:
      return "packet-too-big";
    case 3:
      return "time-exceeded";
    case 4:
      return "parameter-problem";
    case 128:
      return "echo-request";
    case 129:
      return "echo-reply";
    case 133:
      return "nd-router-solicit";
    case 134:
      return "nd-router-advert";
    case 135:
      return "nd-neighbor-solicit";
    case 136:
      return "nd-neighbor-advert";
    case 137:
      return "nd-redirect";
    default:
      return std::to_string(t);
  }
}

}  // namespace fwgate::traffic
