// The header space of the traffic comparison: the packet fields nftables rules commonly test,
// sets of packets as unions of boxes (a box is one interval set per field), and concrete packets.
// Pure values; thread-safe for concurrent reads.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fwgate::traffic {

__extension__ typedef unsigned __int128 u128;  // NOLINT: GCC/Clang extension

// One dimension of the header space. Values are unsigned numbers; byte strings (addresses,
// interface names) are read big-endian, so numeric order is byte order (what nft's memcmp
// comparisons and interval sets use).
enum class Field : uint8_t {
  kNfproto,   // NFPROTO_IPV4 2 / NFPROTO_IPV6 10: the packet's family
  kL4proto,   // IP protocol number (IPv6: the first next header; extension headers not modelled)
  kIifname,   // input interface name, 16 bytes zero-padded ("" where the packet has none)
  kOifname,   // output interface name (the route's device)
  kSaddr4,    // IPv4 source address
  kDaddr4,    // IPv4 destination address
  kSaddr6,    // IPv6 source address
  kDaddr6,    // IPv6 destination address
  kSport,     // transport header bytes 0-1: source port (ICMP/ICMPv6: type << 8 | code)
  kDport,     // transport header bytes 2-3: destination port
  kTcpFlags,  // TCP flags byte (transport header byte 13); meaningful for TCP only
  kCtState,   // the conntrack state the packet has: one of the CtState bits
  kMark,      // meta mark (skb mark) as the packet arrives
  kPkttype,   // meta pkttype: host 0, broadcast 1, multicast 2, other 3
};
inline constexpr size_t kFieldCount = 14;
inline constexpr std::array<Field, kFieldCount> kAllFields = {
    Field::kNfproto,  Field::kL4proto, Field::kIifname, Field::kOifname, Field::kSaddr4,
    Field::kDaddr4,   Field::kSaddr6,  Field::kDaddr6,  Field::kSport,   Field::kDport,
    Field::kTcpFlags, Field::kCtState, Field::kMark,    Field::kPkttype};

[[nodiscard]] std::string_view FieldName(Field f);  // "nfproto", "saddr4", ...
[[nodiscard]] uint32_t FieldBits(Field f);          // width of the field's value
[[nodiscard]] inline uint32_t FieldBytes(Field f) { return (FieldBits(f) + 7) / 8; }

inline constexpr uint64_t kNfprotoIpv4 = 2;
inline constexpr uint64_t kNfprotoIpv6 = 10;

// The ct state bits as nftables numbers them (NF_CT_STATE_*): a packet has exactly one.
enum CtState : uint32_t {
  kCtInvalid = 1,
  kCtEstablished = 2,
  kCtRelated = 4,
  kCtNew = 8,
  kCtUntracked = 64,
};
inline constexpr std::array<uint32_t, 5> kCtStates = {kCtNew, kCtEstablished, kCtRelated,
                                                      kCtInvalid, kCtUntracked};
[[nodiscard]] std::string_view CtStateName(uint32_t bit);  // "new", "established", ...

// A closed interval [lo, hi].
struct Interval {
  u128 lo = 0;
  u128 hi = 0;
  bool operator==(const Interval&) const = default;
};

// A set of values: sorted, disjoint, non-adjacent closed intervals.
class IntervalSet {
 public:
  IntervalSet() = default;  // empty
  static IntervalSet Of(u128 lo, u128 hi);
  static IntervalSet Point(u128 v) { return Of(v, v); }
  // From any intervals (overlapping, unsorted, lo > hi ones dropped).
  static IntervalSet FromIntervals(std::vector<Interval> intervals);

  [[nodiscard]] bool empty() const { return iv_.empty(); }
  [[nodiscard]] size_t size() const { return iv_.size(); }  // number of intervals
  [[nodiscard]] const std::vector<Interval>& intervals() const { return iv_; }
  [[nodiscard]] u128 min() const { return iv_.front().lo; }
  [[nodiscard]] u128 max() const { return iv_.back().hi; }
  // How many values (saturating at the largest u128).
  [[nodiscard]] u128 Count() const;
  [[nodiscard]] bool Contains(u128 v) const;
  [[nodiscard]] bool Intersects(const IntervalSet& o) const;
  [[nodiscard]] bool SubsetOf(const IntervalSet& o) const;

  [[nodiscard]] IntervalSet Intersect(const IntervalSet& o) const;
  [[nodiscard]] IntervalSet Union(const IntervalSet& o) const;
  [[nodiscard]] IntervalSet Subtract(const IntervalSet& o) const;
  void Add(u128 lo, u128 hi);  // union with one interval

  bool operator==(const IntervalSet&) const = default;
  [[nodiscard]] size_t Hash() const;

 private:
  std::vector<Interval> iv_;
};

// All values a field can take (nfproto {2, 10}, ct state the five bits, pkttype 0-7, the
// others their full width).
[[nodiscard]] const IntervalSet& Domain(Field f);

// A product of one value set per field: a set of packets. Fields a box does not constrain hold
// their whole domain. A box with an empty field is empty.
class Box {
 public:
  Box() = default;  // every packet

  [[nodiscard]] const IntervalSet& Get(Field f) const;
  [[nodiscard]] bool Constrained(Field f) const { return (mask_ >> static_cast<int>(f)) & 1; }
  [[nodiscard]] uint32_t constrained_mask() const { return mask_; }
  [[nodiscard]] bool empty() const { return empty_; }
  // Sets field f to `s` intersected with its domain.
  void Set(Field f, IntervalSet s);
  // Field f loses its constraint (whole domain).
  void Clear(Field f);
  // Intersects field f with `s`; false when the box became empty.
  bool Restrict(Field f, const IntervalSet& s);

  [[nodiscard]] bool Intersects(const Box& o) const;
  [[nodiscard]] std::optional<Box> Intersect(const Box& o) const;
  [[nodiscard]] bool SubsetOf(const Box& o) const;
  [[nodiscard]] bool Contains(const std::array<u128, kFieldCount>& point) const;
  // this \ o as disjoint boxes appended to `out` (nothing when o covers this).
  void SubtractInto(const Box& o, std::vector<Box>& out) const;

  bool operator==(const Box& o) const;
  [[nodiscard]] size_t Hash() const;
  // Hash and equality ignoring field `skip` (for merging boxes that differ in one field).
  [[nodiscard]] size_t HashWithout(Field skip) const;
  [[nodiscard]] bool EqualWithout(const Box& o, Field skip) const;

 private:
  std::array<IntervalSet, kFieldCount> sets_;
  uint32_t mask_ = 0;
  bool empty_ = false;
};

// A set of packets as a union of boxes. Functions below say whether they keep boxes disjoint.
using Space = std::vector<Box>;

// The disjoint union of `boxes` (overlaps removed); stops after `limit` boxes (nullopt).
[[nodiscard]] std::optional<Space> Disjoint(const Space& boxes, size_t limit = 1u << 16);
// box \ (union of `space`), disjoint when `box` is; nullopt when over `limit` pieces.
[[nodiscard]] std::optional<Space> SubtractSpace(const Box& box, const Space& space,
                                                 size_t limit = 1u << 16);
// Merges boxes that differ in exactly one field until none do (the union is unchanged; a
// disjoint input stays disjoint).
void MergeBoxes(Space& boxes);

// One concrete packet: a value for every field.
struct Packet {
  std::array<u128, kFieldCount> v{};
  [[nodiscard]] u128 Get(Field f) const { return v[static_cast<size_t>(f)]; }
  void Set(Field f, u128 x) { v[static_cast<size_t>(f)] = x; }
};

// --- value formatting (shared by predicates, examples and JSON) ---
[[nodiscard]] std::string Ipv4Text(u128 v);
[[nodiscard]] std::string Ipv6Text(u128 v);
[[nodiscard]] std::string IfnameText(u128 v);                    // the name without quotes
[[nodiscard]] u128 IfnameValue(std::string_view name);           // 16 bytes zero-padded, big-endian
[[nodiscard]] std::string L4protoName(uint32_t proto);           // "tcp", "udp", "icmp", "47"
[[nodiscard]] std::string TcpFlagsText(uint32_t flags);          // "syn,ack", "none"
[[nodiscard]] std::string PkttypeName(uint32_t v);               // "host", "broadcast", ...
[[nodiscard]] std::string IcmpTypeName(bool v6, uint32_t type);  // "echo-request", "3"
// Big-endian bytes <-> numbers.
[[nodiscard]] u128 FromBytes(const uint8_t* p, size_t n);
void ToBytes(u128 v, uint8_t* out, size_t n);
[[nodiscard]] std::string U128Text(u128 v);  // decimal

}  // namespace fwgate::traffic
