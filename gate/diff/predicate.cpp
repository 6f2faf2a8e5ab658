// Readable forms of header-space boxes (predicates) and the choice of example packets.
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cctype>
#include <cstring>

#include "gate/diff/traffic.h"

namespace fwgate::traffic {
namespace {

constexpr size_t kMaxItems = 6;

u128 FullOf(uint32_t bits) { return bits >= 128 ? ~u128{0} : (u128{1} << bits) - 1; }

u128 LowMask(int n) { return n >= 128 ? ~u128{0} : (u128{1} << n) - 1; }

template <typename Fn>
void ForEachPoint(const IntervalSet& s, Fn fn) {
  for (const auto& i : s.intervals()) {
    for (u128 v = i.lo;; ++v) {
      fn(v);
      if (v == i.hi) break;
    }
  }
}

// [lo, hi] as the fewest CIDR blocks (base, prefix length).
std::vector<std::pair<u128, int>> Cidrs(u128 lo, u128 hi, int bits) {
  std::vector<std::pair<u128, int>> out;
  for (;;) {
    int size = 0;  // log2 of the block starting at lo
    while (size < bits) {
      u128 m = LowMask(size + 1);
      if ((lo & m) != 0) break;
      u128 end = lo + m;
      if (end > hi || end < lo) break;
      ++size;
    }
    out.push_back({lo, bits - size});
    u128 last = lo + LowMask(size);
    if (last >= hi || out.size() > 64) break;
    lo = last + 1;
  }
  return out;
}

std::string AddrText(u128 v, bool v6) { return v6 ? Ipv6Text(v) : Ipv4Text(v); }

// The items of an address set: CIDR blocks, or ranges when blocks would be many.
std::vector<std::string> AddrItems(const IntervalSet& s, bool v6) {
  int bits = v6 ? 128 : 32;
  std::vector<std::string> out;
  for (const auto& i : s.intervals()) {
    auto blocks = Cidrs(i.lo, i.hi, bits);
    if (blocks.size() <= 2) {
      for (auto [base, len] : blocks) {
        out.push_back(len == bits ? AddrText(base, v6)
                                  : fmt::format("{}/{}", AddrText(base, v6), len));
      }
    } else {
      out.push_back(fmt::format("{}-{}", AddrText(i.lo, v6), AddrText(i.hi, v6)));
    }
  }
  return out;
}

// The smallest CIDR block holding [lo, hi].
std::pair<u128, int> Hull(u128 lo, u128 hi, int bits) {
  int len = 0;
  while (len < bits) {
    int shift = bits - len - 1;
    u128 a = lo >> shift, b = hi >> shift;
    if (a != b) break;
    ++len;
  }
  u128 base = len == 0 ? 0 : (lo >> (bits - len)) << (bits - len);
  return {base, len};
}

std::vector<std::string> Shorten(std::vector<std::string> items) {
  if (items.size() > kMaxItems) {
    size_t more = items.size() - (kMaxItems - 1);
    items.resize(kMaxItems - 1);
    items.push_back(fmt::format("and {} more", more));
  }
  return items;
}

// An address field as any_of / except.
FieldValues AddrValues(const std::string& name, const IntervalSet& s, bool v6) {
  int bits = v6 ? 128 : 32;
  FieldValues fv;
  fv.field = name;
  auto list = AddrItems(s, v6);
  auto [base, len] = Hull(s.min(), s.max(), bits);
  u128 top = len == 0 ? FullOf(bits) : base | (len >= bits ? 0 : FullOf(bits - len));
  IntervalSet hull = IntervalSet::Of(base, top);
  auto gaps = AddrItems(hull.Subtract(s), v6);
  // Ranges read harder than prefixes.
  auto cost = [](const std::vector<std::string>& items) {
    size_t c = 0;
    for (const auto& i : items) c += i.find('-') == std::string::npos ? 1 : 3;
    return c;
  };
  if (!gaps.empty() && cost(gaps) + 1 <= cost(list) && cost(gaps) < 3 * kMaxItems) {
    if (len > 0) {
      fv.any_of.push_back(len == bits ? AddrText(base, v6)
                                      : fmt::format("{}/{}", AddrText(base, v6), len));
    }
    fv.except = Shorten(gaps);
  } else {
    fv.any_of = Shorten(list);
  }
  return fv;
}

std::string IntItem(const Interval& i, bool hex) {
  auto f = [&](u128 v) {
    return hex ? fmt::format("0x{:x}", static_cast<uint64_t>(v)) : U128Text(v);
  };
  return i.lo == i.hi ? f(i.lo) : f(i.lo) + "-" + f(i.hi);
}

// A numeric field as values, or as all but some when that is shorter.
FieldValues NumValues(const std::string& name, Field f, const IntervalSet& s, bool hex = false) {
  FieldValues fv;
  fv.field = name;
  IntervalSet rest = Domain(f).Subtract(s);
  bool negate = !rest.empty() && rest.size() < s.size();
  const IntervalSet& use = negate ? rest : s;
  std::vector<std::string> items;
  for (const auto& i : use.intervals()) items.push_back(IntItem(i, hex));
  (negate ? fv.except : fv.any_of) = Shorten(std::move(items));
  return fv;
}

std::string IfItem(const Interval& i) {
  if (i.lo == i.hi) return "\"" + IfnameText(i.lo) + "\"";
  // A wildcard "eth*": the prefix followed by anything.
  uint8_t lo[16], hi[16];
  ToBytes(i.lo, lo, 16);
  ToBytes(i.hi, hi, 16);
  size_t p = 0;
  while (p < 16 && lo[p] == hi[p]) ++p;
  bool wild = p < 16 && std::all_of(lo + p, lo + 16, [](uint8_t b) { return b == 0; }) &&
              std::all_of(hi + p, hi + 16, [](uint8_t b) { return b == 0xff; });
  if (wild) return "\"" + IfnameText(i.lo) + "*\"";
  return "\"" + IfnameText(i.lo) + "\"-\"" + IfnameText(i.hi) + "\"";
}

FieldValues IfValues(const std::string& name, const IntervalSet& s) {
  FieldValues fv;
  fv.field = name;
  // A wildcard with a few names cut out: "eth*" except "eth0".
  if (!s.empty() && s.size() <= 4) {
    uint8_t lo[16], hi[16];
    ToBytes(s.min(), lo, 16);
    ToBytes(s.max(), hi, 16);
    size_t p = 0;
    while (p < 16 && lo[p] == hi[p] && lo[p] != 0) ++p;
    if (p > 0 && p < 16) {
      uint8_t top[16];
      std::memcpy(top, lo, p);
      std::memset(top + p, 0xff, 16 - p);
      uint8_t bottom[16] = {};
      std::memcpy(bottom, lo, p);
      IntervalSet wild = IntervalSet::Of(FromBytes(bottom, 16), FromBytes(top, 16));
      IntervalSet gaps = wild.Subtract(s);
      bool points = !gaps.empty() && gaps.size() <= kMaxItems;
      for (const auto& g : gaps.intervals()) points &= g.lo == g.hi;
      if (s.SubsetOf(wild) && points) {
        fv.any_of.push_back(IfItem(wild.intervals()[0]));
        for (const auto& g : gaps.intervals()) fv.except.push_back(IfItem(g));
        return fv;
      }
    }
  }
  IntervalSet rest = Domain(Field::kIifname).Subtract(IntervalSet::Point(0)).Subtract(s);
  bool negate = !rest.empty() && rest.size() < s.size();
  std::vector<std::string> items;
  for (const auto& i : (negate ? rest : s).intervals()) items.push_back(IfItem(i));
  (negate ? fv.except : fv.any_of) = Shorten(std::move(items));
  return fv;
}

FieldValues L4Values(const IntervalSet& s) {
  FieldValues fv;
  fv.field = "l4proto";
  IntervalSet rest = Domain(Field::kL4proto).Subtract(s);
  bool negate = !rest.empty() && rest.Count() < s.Count();
  std::vector<std::string> items;
  const IntervalSet& use = negate ? rest : s;
  if (use.Count() <= kMaxItems) {
    ForEachPoint(use, [&](u128 v) { items.push_back(L4protoName(static_cast<uint32_t>(v))); });
  } else {
    for (const auto& i : use.intervals()) items.push_back(IntItem(i, false));
  }
  (negate ? fv.except : fv.any_of) = Shorten(std::move(items));
  return fv;
}

// TCP flags sets of the form "these set, those clear".
std::optional<std::string> FlagPattern(const IntervalSet& s) {
  u128 n = s.Count();
  for (uint32_t m = 1; m < 256; ++m) {
    uint32_t c = static_cast<uint32_t>(s.min()) & m;
    if ((u128{1} << (8 - std::popcount(m))) != n) continue;
    bool ok = true;
    ForEachPoint(s, [&](u128 v) {
      if ((static_cast<uint32_t>(v) & m) != c) ok = false;
    });
    if (!ok) continue;
    static constexpr std::array<std::string_view, 8> kNames = {"fin", "syn", "rst", "psh",
                                                               "ack", "urg", "ecn", "cwr"};
    std::string set, clear;
    for (int b = 0; b < 8; ++b) {
      if (!((m >> b) & 1)) continue;
      std::string& to = ((c >> b) & 1) ? set : clear;
      if (!to.empty()) to += ',';
      to += kNames[b];
    }
    std::string out;
    if (!set.empty()) out = set;
    if (!clear.empty()) out += (out.empty() ? "" : " ") + std::string("without ") + clear;
    return out;
  }
  return std::nullopt;
}

}  // namespace

std::vector<FieldValues> PredicateFields(const Box& b) {
  std::vector<FieldValues> out;
  const IntervalSet& fam = b.Get(Field::kNfproto);
  bool v4 = fam.Contains(kNfprotoIpv4), v6 = fam.Contains(kNfprotoIpv6);
  if (b.Constrained(Field::kNfproto) && !fam.empty()) {
    out.push_back({"family", {v6 && !v4 ? "ipv6" : "ipv4"}, {}});
  }
  if (b.Constrained(Field::kL4proto)) out.push_back(L4Values(b.Get(Field::kL4proto)));
  const IntervalSet& l4 = b.Get(Field::kL4proto);
  bool icmp = l4.size() == 1 && l4.Count() == 1 && (l4.min() == 1 || l4.min() == 58);
  if (b.Constrained(Field::kSport) && icmp) {
    // ICMP: bytes 0-1 are type and code.
    const IntervalSet& s = b.Get(Field::kSport);
    std::vector<std::string> types;
    bool whole = true;
    for (const auto& i : s.intervals()) {
      if ((i.lo & 0xff) != 0 || (i.hi & 0xff) != 0xff) whole = false;
    }
    if (whole) {
      // Types held, or all but a few.
      IntervalSet rest = Domain(Field::kSport).Subtract(s);
      bool negate = !rest.empty() && rest.Count() < s.Count();
      for (const auto& i : (negate ? rest : s).intervals()) {
        for (u128 t = i.lo >> 8; t <= i.hi >> 8; ++t) {
          types.push_back(IcmpTypeName(l4.min() == 58, static_cast<uint32_t>(t)));
          if (types.size() > 16) break;
        }
      }
      if (negate) {
        out.push_back({"icmp_type", {}, Shorten(types)});
      } else {
        out.push_back({"icmp_type", Shorten(types), {}});
      }
    } else {
      for (const auto& i : s.intervals()) {
        auto tc = [&](u128 v) {
          return fmt::format("{} code {}",
                             IcmpTypeName(l4.min() == 58, static_cast<uint32_t>(v >> 8)),
                             static_cast<uint32_t>(v & 0xff));
        };
        types.push_back(i.lo == i.hi ? tc(i.lo) : tc(i.lo) + " - " + tc(i.hi));
      }
      out.push_back({"icmp_type", Shorten(types), {}});
    }
  }
  if (b.Constrained(Field::kDport))
    out.push_back(NumValues("dport", Field::kDport, b.Get(Field::kDport)));
  if (b.Constrained(Field::kSaddr4))
    out.push_back(AddrValues("saddr", b.Get(Field::kSaddr4), false));
  if (b.Constrained(Field::kSaddr6))
    out.push_back(AddrValues("saddr", b.Get(Field::kSaddr6), true));
  if (b.Constrained(Field::kDaddr4))
    out.push_back(AddrValues("daddr", b.Get(Field::kDaddr4), false));
  if (b.Constrained(Field::kDaddr6))
    out.push_back(AddrValues("daddr", b.Get(Field::kDaddr6), true));
  if (b.Constrained(Field::kSport) && !icmp) {
    out.push_back(NumValues("sport", Field::kSport, b.Get(Field::kSport)));
  }
  if (b.Constrained(Field::kTcpFlags)) {
    const IntervalSet& s = b.Get(Field::kTcpFlags);
    FieldValues fv{"tcp_flags", {}, {}};
    if (auto p = FlagPattern(s)) {
      fv.any_of.push_back(*p);
    } else if (s.Count() <= 4) {
      ForEachPoint(s, [&](u128 v) { fv.any_of.push_back(TcpFlagsText(static_cast<uint32_t>(v))); });
    } else {
      fv.any_of.push_back(fmt::format("{} flag combinations", U128Text(s.Count())));
    }
    out.push_back(std::move(fv));
  }
  IntervalSet none = IntervalSet::Point(0);
  if (b.Constrained(Field::kIifname) && !(b.Get(Field::kIifname) == none) &&
      !(b.Get(Field::kIifname) == Domain(Field::kIifname).Subtract(none))) {
    out.push_back(IfValues("iifname", b.Get(Field::kIifname)));
  }
  if (b.Constrained(Field::kOifname) && !(b.Get(Field::kOifname) == none) &&
      !(b.Get(Field::kOifname) == Domain(Field::kOifname).Subtract(none))) {
    out.push_back(IfValues("oifname", b.Get(Field::kOifname)));
  }
  if (b.Constrained(Field::kMark))
    out.push_back(NumValues("mark", Field::kMark, b.Get(Field::kMark), true));
  if (b.Constrained(Field::kPkttype)) {
    FieldValues fv{"pkttype", {}, {}};
    ForEachPoint(b.Get(Field::kPkttype),
                 [&](u128 v) { fv.any_of.push_back(PkttypeName(static_cast<uint32_t>(v))); });
    out.push_back(std::move(fv));
  }
  return out;
}

std::string PredicateText(const Box& b, const Box& relative_to) {
  Box only = b;
  for (Field f : kAllFields) {
    if (b.Get(f) == relative_to.Get(f)) only.Clear(f);
  }
  // The family stays when the addresses tell it.
  return PredicateText(only);
}

std::string PredicateText(const Box& b) {
  auto fields = PredicateFields(b);
  auto join = [](const std::vector<std::string>& v) {
    return fmt::format("{}", fmt::join(v, ", "));
  };
  bool addr4 = b.Constrained(Field::kSaddr4) || b.Constrained(Field::kDaddr4);
  bool addr6 = b.Constrained(Field::kSaddr6) || b.Constrained(Field::kDaddr6);
  const IntervalSet& l4 = b.Get(Field::kL4proto);
  bool icmp_only = l4.Count() == 1 && (l4.min() == 1 || l4.min() == 58);
  std::vector<std::string> parts;
  for (const auto& f : fields) {
    auto values = [&](const std::string& any_word) {
      std::string s;
      if (!f.any_of.empty()) s = join(f.any_of);
      if (!f.except.empty()) s = (s.empty() ? any_word : s) + " except " + join(f.except);
      return s;
    };
    if (f.field == "family") {
      if (!addr4 && !addr6 && !icmp_only) parts.push_back(f.any_of[0]);
    } else if (f.field == "l4proto") {
      parts.push_back(f.except.empty() ? join(f.any_of) : "not " + join(f.except));
    } else if (f.field == "icmp_type") {
      parts.push_back(f.any_of.empty() ? "type other than " + join(f.except)
                                       : "type " + join(f.any_of));
    } else if (f.field == "dport") {
      bool one =
          f.except.empty() && f.any_of.size() == 1 && f.any_of[0].find('-') == std::string::npos;
      if (f.any_of.empty()) {
        parts.push_back("to " + values("any port"));
      } else {
        parts.push_back(std::string(one ? "to port " : "to ports ") + values("any port"));
      }
    } else if (f.field == "sport") {
      parts.push_back(f.any_of.empty() ? "from " + values("any port") : "from port " + values(""));
    } else if (f.field == "saddr") {
      parts.push_back("from " + values("any address"));
    } else if (f.field == "daddr") {
      parts.push_back("to " + values("any address"));
    } else if (f.field == "tcp_flags") {
      parts.push_back("with flags " + join(f.any_of));
    } else if (f.field == "iifname") {
      parts.push_back(f.any_of.empty() ? "not in on " + join(f.except) : "in on " + values(""));
    } else if (f.field == "oifname") {
      parts.push_back(f.any_of.empty() ? "not out on " + join(f.except) : "out on " + values(""));
    } else if (f.field == "mark") {
      parts.push_back(f.any_of.empty() ? "mark != " + join(f.except) : "mark " + values(""));
    } else if (f.field == "pkttype") {
      parts.push_back("pkttype " + join(f.any_of));
    }
  }
  if (parts.empty()) return "all traffic";
  if (parts.size() == 1 && (parts[0] == "ipv4" || parts[0] == "ipv6")) {
    return "all " + parts[0] + " traffic";
  }
  return fmt::format("{}", fmt::join(parts, " "));
}

std::string PacketText(const Packet& p, Path path) {
  bool v6 = p.Get(Field::kNfproto) == kNfprotoIpv6;
  auto l4 = static_cast<uint32_t>(p.Get(Field::kL4proto));
  std::string src = v6 ? Ipv6Text(p.Get(Field::kSaddr6)) : Ipv4Text(p.Get(Field::kSaddr4));
  std::string dst = v6 ? Ipv6Text(p.Get(Field::kDaddr6)) : Ipv4Text(p.Get(Field::kDaddr4));
  std::string s;
  auto port = [&](const std::string& addr, u128 num) {
    return v6 ? fmt::format("[{}]:{}", addr, U128Text(num)) : addr + ":" + U128Text(num);
  };
  if (l4 == 6 || l4 == 17 || l4 == 132 || l4 == 33 || l4 == 136) {
    s = fmt::format("{} {} -> {}", L4protoName(l4), port(src, p.Get(Field::kSport)),
                    port(dst, p.Get(Field::kDport)));
    if (l4 == 6) s += " [" + TcpFlagsText(static_cast<uint32_t>(p.Get(Field::kTcpFlags))) + "]";
  } else if (l4 == 1 || l4 == 58) {
    auto tc = static_cast<uint32_t>(p.Get(Field::kSport));
    s = fmt::format("{} {} -> {} type {} code {}", L4protoName(l4), src, dst,
                    IcmpTypeName(l4 == 58, tc >> 8), tc & 0xff);
  } else {
    s = fmt::format("{} {} -> {}", L4protoName(l4), src, dst);
  }
  if (path != Path::kOutput) s += ", in on \"" + IfnameText(p.Get(Field::kIifname)) + "\"";
  if (path != Path::kInput) s += ", out on \"" + IfnameText(p.Get(Field::kOifname)) + "\"";
  if (p.Get(Field::kMark) != 0)
    s += fmt::format(", mark 0x{:x}", static_cast<uint64_t>(p.Get(Field::kMark)));
  if (p.Get(Field::kPkttype) != 0)
    s += ", pkttype " + PkttypeName(static_cast<uint32_t>(p.Get(Field::kPkttype)));
  s += ", ct state " + std::string(CtStateName(static_cast<uint32_t>(p.Get(Field::kCtState))));
  return s;
}

namespace {

bool OrdinaryV4(u128 v) {
  auto a = static_cast<uint32_t>(v);
  uint32_t top = a >> 24;
  if (top == 0 || top == 127 || top >= 224) return false;
  if ((a & 0xffff0000u) == 0xa9fe0000u) return false;  // 169.254/16
  uint32_t low = a & 0xff;
  return low != 0 && low != 255;
}
bool OrdinaryV6(u128 v) {
  auto top = static_cast<uint16_t>(v >> 112);
  if (v == 0 || v == 1) return false;
  if ((top & 0xff00) == 0xff00) return false;  // multicast
  if ((top & 0xffc0) == 0xfe80) return false;  // link-local
  if ((v >> 32) == 0xffff) return false;       // v4-mapped
  return true;
}

// The first value of `s` that `ok` accepts among a few candidates per interval, else the
// first value.
template <typename Ok>
u128 Pick(const IntervalSet& s, std::initializer_list<u128> preferred, Ok ok) {
  for (u128 v : preferred) {
    if (s.Contains(v) && ok(v)) return v;
  }
  for (const auto& i : s.intervals()) {
    for (u128 c : {i.lo + 1, i.lo, i.lo + 2, i.hi - 1, i.hi}) {
      if (c >= i.lo && c <= i.hi && ok(c)) return c;
    }
    if (s.size() > 64) break;
  }
  return s.empty() ? 0 : s.min();
}

bool ValidName(u128 v) {
  uint8_t b[16];
  ToBytes(v, b, 16);
  size_t n = 0;
  while (n < 16 && b[n] != 0) ++n;
  if (n == 0 || n > 15) return false;
  for (size_t i = n; i < 16; ++i) {
    if (b[i] != 0) return false;
  }
  for (size_t i = 0; i < n; ++i) {
    char c = static_cast<char>(b[i]);
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) {
      return false;
    }
  }
  return true;
}

u128 PickName(const IntervalSet& s, std::initializer_list<const char*> names, u128 avoid) {
  for (const char* n : names) {
    u128 v = IfnameValue(n);
    if (s.Contains(v) && v != avoid) return v;
  }
  for (const auto& i : s.intervals()) {
    // The interval's start, trimmed to a valid name, or the start of a wildcard.
    for (u128 c : {i.lo, i.lo + 1}) {
      if (c <= i.hi && ValidName(c) && c != avoid) return c;
    }
    uint8_t b[16];
    ToBytes(i.lo, b, 16);
    size_t n = 0;
    while (n < 15 && b[n] != 0) ++n;
    for (char x : std::string("0abcdefghijklmnopqrstuvwxyz123456789")) {
      uint8_t t[16] = {};
      std::memcpy(t, b, n);
      t[n] = static_cast<uint8_t>(x);
      u128 c = FromBytes(t, 16);
      if (c >= i.lo && c <= i.hi && ValidName(c) && c != avoid) return c;
    }
  }
  return s.empty() ? 0 : s.min();
}

}  // namespace

Packet ExamplePacket(const Box& b, Path path) {
  Packet p;
  auto get = [&](Field f) -> const IntervalSet& { return b.Get(f); };
  auto any = [](u128) { return true; };
  p.Set(Field::kNfproto, Pick(get(Field::kNfproto), {kNfprotoIpv4}, any));
  bool v6 = p.Get(Field::kNfproto) == kNfprotoIpv6;
  uint32_t ct = static_cast<uint32_t>(Pick(
      get(Field::kCtState), {kCtNew, kCtEstablished, kCtRelated, kCtInvalid, kCtUntracked}, any));
  p.Set(Field::kCtState, ct);
  u128 icmp = v6 ? 58 : 1;
  if (ct == kCtRelated) {
    p.Set(Field::kL4proto, Pick(get(Field::kL4proto), {icmp, 6, 17}, any));
  } else {
    p.Set(Field::kL4proto, Pick(get(Field::kL4proto), {6, 17, icmp}, any));
  }
  auto l4 = static_cast<uint32_t>(p.Get(Field::kL4proto));
  p.Set(Field::kSaddr4, Pick(get(Field::kSaddr4), {0xc0000201 /* 192.0.2.1 */}, OrdinaryV4));
  p.Set(Field::kDaddr4, Pick(get(Field::kDaddr4), {0xc6336401 /* 198.51.100.1 */},
                             [&](u128 v) { return OrdinaryV4(v) && v != p.Get(Field::kSaddr4); }));
  u128 doc = u128{0x20010db8} << 96;
  p.Set(Field::kSaddr6, Pick(get(Field::kSaddr6), {doc | 1}, OrdinaryV6));
  p.Set(Field::kDaddr6, Pick(get(Field::kDaddr6), {doc | 2},
                             [&](u128 v) { return OrdinaryV6(v) && v != p.Get(Field::kSaddr6); }));
  if (l4 == 1 || l4 == 58) {
    // ICMP type << 8 | code: echo request for new and established, an error for related.
    if (ct == kCtRelated) {
      p.Set(Field::kSport, v6 ? Pick(get(Field::kSport), {0x0103, 0x0100, 0x0200, 0x0300}, any)
                              : Pick(get(Field::kSport), {0x0301, 0x0303, 0x0300, 0x0b00}, any));
    } else {
      p.Set(Field::kSport, Pick(get(Field::kSport), {u128{v6 ? 0x8000u : 0x0800u}}, any));
    }
    p.Set(Field::kDport, Pick(get(Field::kDport), {0}, any));
  } else {
    p.Set(Field::kSport,
          Pick(get(Field::kSport), {40000, 50000, 1024}, [](u128 v) { return v != 0; }));
    p.Set(Field::kDport,
          Pick(get(Field::kDport), {80, 443, 22, 8080, 1024}, [](u128 v) { return v != 0; }));
  }
  // TCP: a SYN opens a connection; established and related traffic carries ACKs.
  if (l4 != 6) {
    p.Set(Field::kTcpFlags, Pick(get(Field::kTcpFlags), {0}, any));
  } else if (ct == kCtNew) {
    p.Set(Field::kTcpFlags, Pick(get(Field::kTcpFlags), {0x02}, any));
  } else {
    p.Set(Field::kTcpFlags, Pick(get(Field::kTcpFlags), {0x10, 0x18}, any));
  }
  p.Set(Field::kMark, Pick(get(Field::kMark), {0}, any));
  p.Set(Field::kPkttype, Pick(get(Field::kPkttype), {0}, any));
  u128 iif = 0;
  if (path != Path::kOutput) iif = PickName(get(Field::kIifname), {"eth0", "eth1", "ens3"}, 0);
  p.Set(Field::kIifname, path == Path::kOutput ? 0 : iif);
  p.Set(Field::kOifname,
        path == Path::kInput ? 0 : PickName(get(Field::kOifname), {"eth1", "eth0", "ens4"}, iif));
  return p;
}

}  // namespace fwgate::traffic
