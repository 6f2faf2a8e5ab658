// Value formatting for the nft-syntax printer: nft datatypes, their symbols and byte orders.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <netdb.h>

#include <array>
#include <cstring>
#include <ctime>
#include <span>
#include <utility>

#include "gate/nft/print_internal.h"
#include "gate/nft/print_keys.h"

namespace fwgate::nft::print {
namespace {

struct Sym {
  uint64_t value;
  std::string_view name;
};

constexpr std::array kCtState = {Sym{1, "invalid"}, Sym{2, "established"}, Sym{4, "related"},
                                 Sym{8, "new"}, Sym{64, "untracked"}};
constexpr std::array kCtStatus = {Sym{1, "expected"},  Sym{2, "seen-reply"}, Sym{4, "assured"},
                                  Sym{8, "confirmed"}, Sym{16, "snat"},      Sym{32, "dnat"},
                                  Sym{512, "dying"}};
constexpr std::array kTcpFlags = {Sym{1, "fin"},  Sym{2, "syn"},  Sym{4, "rst"},  Sym{8, "psh"},
                                  Sym{16, "ack"}, Sym{32, "urg"}, Sym{64, "ecn"}, Sym{128, "cwr"}};
constexpr std::array kCtEvents = {Sym{1, "new"},       Sym{2, "related"},  Sym{4, "destroy"},
                                  Sym{8, "reply"},     Sym{16, "assured"}, Sym{32, "protoinfo"},
                                  Sym{64, "helper"},   Sym{128, "mark"},   Sym{256, "seqadj"},
                                  Sym{512, "secmark"}, Sym{1024, "label"}};
constexpr std::array kIcmpType = {Sym{0, "echo-reply"},           Sym{3, "destination-unreachable"},
                                  Sym{4, "source-quench"},        Sym{5, "redirect"},
                                  Sym{8, "echo-request"},         Sym{9, "router-advertisement"},
                                  Sym{10, "router-solicitation"}, Sym{11, "time-exceeded"},
                                  Sym{12, "parameter-problem"},   Sym{13, "timestamp-request"},
                                  Sym{14, "timestamp-reply"},     Sym{15, "info-request"},
                                  Sym{16, "info-reply"},          Sym{17, "address-mask-request"},
                                  Sym{18, "address-mask-reply"}};
constexpr std::array kIcmp6Type = {
    Sym{1, "destination-unreachable"}, Sym{2, "packet-too-big"},
    Sym{3, "time-exceeded"},           Sym{4, "parameter-problem"},
    Sym{128, "echo-request"},          Sym{129, "echo-reply"},
    Sym{130, "mld-listener-query"},    Sym{131, "mld-listener-report"},
    Sym{132, "mld-listener-done"},     Sym{133, "nd-router-solicit"},
    Sym{134, "nd-router-advert"},      Sym{135, "nd-neighbor-solicit"},
    Sym{136, "nd-neighbor-advert"},    Sym{137, "nd-redirect"},
    Sym{138, "router-renumbering"},    Sym{141, "ind-neighbor-solicit"},
    Sym{142, "ind-neighbor-advert"},   Sym{143, "mld2-listener-report"}};
constexpr std::array kIcmpCode = {Sym{0, "net-unreachable"},  Sym{1, "host-unreachable"},
                                  Sym{2, "prot-unreachable"}, Sym{3, "port-unreachable"},
                                  Sym{4, "frag-needed"},      Sym{9, "net-prohibited"},
                                  Sym{10, "host-prohibited"}, Sym{13, "admin-prohibited"}};
constexpr std::array kIcmpv6Code = {Sym{0, "no-route"},         Sym{1, "admin-prohibited"},
                                    Sym{3, "addr-unreachable"}, Sym{4, "port-unreachable"},
                                    Sym{5, "policy-fail"},      Sym{6, "reject-route"}};
constexpr std::array kIcmpxCode = {Sym{0, "no-route"}, Sym{1, "port-unreachable"},
                                   Sym{2, "host-unreachable"}, Sym{3, "admin-prohibited"}};
constexpr std::array kPkttype = {Sym{0, "host"}, Sym{1, "broadcast"}, Sym{2, "multicast"},
                                 Sym{3, "other"}};
constexpr std::array kCtDir = {Sym{0, "original"}, Sym{1, "reply"}};
constexpr std::array kNfproto = {Sym{2, "ipv4"}, Sym{10, "ipv6"}};
constexpr std::array kEthertype = {Sym{0x0800, "ip"}, Sym{0x0806, "arp"}, Sym{0x86dd, "ip6"},
                                   Sym{0x8100, "vlan"}, Sym{0x88a8, "8021ad"}};
constexpr std::array kDscp = {Sym{0, "cs0"},   Sym{8, "cs1"},  Sym{10, "af11"}, Sym{12, "af12"},
                              Sym{14, "af13"}, Sym{16, "cs2"}, Sym{18, "af21"}, Sym{20, "af22"},
                              Sym{22, "af23"}, Sym{24, "cs3"}, Sym{26, "af31"}, Sym{28, "af32"},
                              Sym{30, "af33"}, Sym{32, "cs4"}, Sym{34, "af41"}, Sym{36, "af42"},
                              Sym{38, "af43"}, Sym{40, "cs5"}, Sym{46, "ef"},   Sym{48, "cs6"},
                              Sym{56, "cs7"}};
constexpr std::array kEcn = {Sym{0, "not-ect"}, Sym{1, "ect1"}, Sym{2, "ect0"}, Sym{3, "ce"}};
constexpr std::array kFibAddr = {Sym{0, "unspec"},    Sym{1, "unicast"},     Sym{2, "local"},
                                 Sym{3, "broadcast"}, Sym{4, "anycast"},     Sym{5, "multicast"},
                                 Sym{6, "blackhole"}, Sym{7, "unreachable"}, Sym{8, "prohibit"}};
constexpr std::array kArpop = {Sym{1, "request"}, Sym{2, "reply"},     Sym{3, "rrequest"},
                               Sym{4, "rreply"},  Sym{8, "inrequest"}, Sym{9, "inreply"},
                               Sym{10, "nak"}};
constexpr std::array kBoolean = {Sym{0, "missing"}, Sym{1, "exists"}};
constexpr std::array kArphrd = {Sym{1, "ether"}, Sym{24, "ieee1394"}, Sym{772, "loopback"},
                                Sym{778, "ipgre"}, Sym{823, "ip6gre"}};
constexpr std::array kDevgroup = {Sym{0, "default"}};
constexpr std::array kIgmp = {Sym{0x11, "membership-query"}, Sym{0x12, "membership-report-v1"},
                              Sym{0x16, "membership-report-v2"}, Sym{0x22, "membership-report-v3"},
                              Sym{0x17, "leave-group"}};

constexpr std::array<std::string_view, 7> kDays = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                   "Thursday", "Friday", "Saturday"};

// The symbols of each symbolic datatype; bitmask types combine them with ",".
struct SymbolTable {
  uint32_t type;
  std::span<const Sym> syms;
  bool bitmask;
};
constexpr std::array kSymbolTables = {
    SymbolTable{kTypeCtState, kCtState, true},
    SymbolTable{kTypeCtStatus, kCtStatus, true},
    SymbolTable{kTypeTcpFlag, kTcpFlags, true},
    SymbolTable{kTypeCtEventbit, kCtEvents, true},
    SymbolTable{kTypeNfproto, kNfproto, false},
    SymbolTable{kTypeEthertype, kEthertype, false},
    SymbolTable{kTypeIcmpType, kIcmpType, false},
    SymbolTable{kTypeIcmp6Type, kIcmp6Type, false},
    SymbolTable{kTypeIcmpCode, kIcmpCode, false},
    SymbolTable{kTypeIcmpv6Code, kIcmpv6Code, false},
    SymbolTable{kTypeIcmpxCode, kIcmpxCode, false},
    SymbolTable{kTypePkttype, kPkttype, false},
    SymbolTable{kTypeCtDir, kCtDir, false},
    SymbolTable{kTypeDscp, kDscp, false},
    SymbolTable{kTypeEcn, kEcn, false},
    SymbolTable{kTypeFibAddr, kFibAddr, false},
    SymbolTable{kTypeArpop, kArpop, false},
    SymbolTable{kTypeBoolean, kBoolean, false},
    SymbolTable{kTypeArphrd, kArphrd, false},
    SymbolTable{kTypeIgmpType, kIgmp, false},
    SymbolTable{kTypeDevgroup, kDevgroup, false},
};

const SymbolTable* SymbolsOf(uint32_t type) {
  for (const SymbolTable& t : kSymbolTables) {
    if (t.type == type) return &t;
  }
  return nullptr;
}

std::string_view Lookup(std::span<const Sym> table, uint64_t v) {
  for (const Sym& s : table) {
    if (s.value == v) return s.name;
  }
  return {};
}

std::string Bits(std::span<const Sym> table, uint64_t v) {
  std::string out;
  uint64_t rest = v;
  for (const Sym& s : table) {
    if ((v & s.value) == s.value && s.value != 0) {
      if (!out.empty()) out += ",";
      out += s.name;
      rest &= ~s.value;
    }
  }
  if (rest != 0) return {};
  return out;
}

// nft's time_type / hour_type / day_type: local time, as nft prints it.
std::string DateText(uint64_t ns) {
  time_t t = static_cast<time_t>(ns / 1000000000ULL);
  tm local{};
  if (localtime_r(&t, &local) != nullptr) t += local.tm_gmtoff;
  tm utc{};
  std::array<char, 32> buf{};
  if (gmtime_r(&t, &utc) == nullptr ||
      strftime(buf.data(), buf.size() - 1, "%Y-%m-%d %T", &utc) == 0)
    return std::to_string(ns);
  return Quote(buf.data());
}

std::string HourText(uint64_t seconds) {
  time_t now = time(nullptr);
  tm local{};
  if (localtime_r(&now, &local) != nullptr)
    seconds = (seconds + static_cast<uint64_t>(local.tm_gmtoff)) % 86400;
  std::string s = fmt::format("\"{:02}:{:02}", seconds / 3600, seconds / 60 % 60);
  if (seconds % 60 != 0) s += fmt::format(":{:02}", seconds % 60);
  return s + "\"";
}

struct TypeDesc {
  uint32_t type;
  std::string_view name;
  uint32_t size;  // bytes
  bool big_endian;
};

constexpr std::array kTypes = {
    TypeDesc{kTypeVerdict, "verdict", 4, false},
    TypeDesc{kTypeNfproto, "nf_proto", 1, false},
    TypeDesc{kTypeBitmask, "bitmask", 0, false},
    TypeDesc{kTypeInteger, "integer", 0, false},
    TypeDesc{kTypeString, "string", 0, false},
    TypeDesc{kTypeLladdr, "ll_addr", 0, true},
    TypeDesc{kTypeIpaddr, "ipv4_addr", 4, true},
    TypeDesc{kTypeIp6addr, "ipv6_addr", 16, true},
    TypeDesc{kTypeEtheraddr, "ether_addr", 6, true},
    TypeDesc{kTypeEthertype, "ether_type", 2, true},
    TypeDesc{kTypeArpop, "arp_op", 2, true},
    TypeDesc{kTypeInetProtocol, "inet_proto", 1, true},
    TypeDesc{kTypeInetService, "inet_service", 2, true},
    TypeDesc{kTypeIcmpType, "icmp_type", 1, true},
    TypeDesc{kTypeTcpFlag, "tcp_flag", 1, true},
    TypeDesc{kTypeDccpPkttype, "dccp_pkttype", 1, true},
    TypeDesc{kTypeMhType, "mh_type", 1, true},
    TypeDesc{kTypeTime, "time", 8, false},
    TypeDesc{kTypeMark, "mark", 4, false},
    TypeDesc{kTypeIfindex, "iface_index", 4, false},
    TypeDesc{kTypeArphrd, "iface_type", 2, false},
    TypeDesc{kTypeRealm, "realm", 4, false},
    TypeDesc{kTypeClassid, "classid", 4, false},
    TypeDesc{kTypeUid, "uid", 4, false},
    TypeDesc{kTypeGid, "gid", 4, false},
    TypeDesc{kTypeCtState, "ct_state", 4, false},
    TypeDesc{kTypeCtDir, "ct_dir", 1, false},
    TypeDesc{kTypeCtStatus, "ct_status", 4, false},
    TypeDesc{kTypeIcmp6Type, "icmpv6_type", 1, true},
    TypeDesc{kTypeCtLabel, "ct_label", 16, false},
    TypeDesc{kTypePkttype, "pkt_type", 1, false},
    TypeDesc{kTypeIcmpCode, "icmp_code", 1, true},
    TypeDesc{kTypeIcmpv6Code, "icmpv6_code", 1, true},
    TypeDesc{kTypeIcmpxCode, "icmpx_code", 1, true},
    TypeDesc{kTypeDevgroup, "devgroup", 4, false},
    TypeDesc{kTypeDscp, "dscp", 1, true},
    TypeDesc{kTypeEcn, "ecn", 1, true},
    TypeDesc{kTypeFibAddr, "fib_addrtype", 4, false},
    TypeDesc{kTypeBoolean, "boolean", 1, false},
    TypeDesc{kTypeCtEventbit, "ct_event", 4, false},
    TypeDesc{kTypeIfname, "ifname", 16, false},
    TypeDesc{kTypeIgmpType, "igmp_type", 1, true},
    TypeDesc{kTypeTimeDate, "time", 8, false},
    TypeDesc{kTypeTimeHour, "hour", 4, false},
    TypeDesc{kTypeTimeDay, "day", 1, false},
    TypeDesc{kTypeCgroupv2, "cgroupsv2", 8, false},
};

const TypeDesc* FindType(uint32_t type) {
  for (const TypeDesc& d : kTypes) {
    if (d.type == type) return &d;
  }
  return nullptr;
}

std::string Hex(const uint8_t* p, size_t n) {
  std::string s = "0x";
  for (size_t i = 0; i < n; ++i) s += fmt::format("{:02x}", p[i]);
  return s;
}

}  // namespace

std::string_view TypeName(uint32_t type) {
  const TypeDesc* d = FindType(type);
  if (d == nullptr || type == kTypeInteger || type == kTypeString || type == kTypeBitmask ||
      type == kTypeLladdr)
    return {};
  return d->name;
}

uint32_t TypeSize(uint32_t type) {
  const TypeDesc* d = FindType(type);
  return d != nullptr ? d->size : 0;
}

bool TypeBigEndian(uint32_t type) {
  const TypeDesc* d = FindType(type);
  return d != nullptr && d->big_endian;
}

bool TypeIsBitmask(uint32_t type) {
  const SymbolTable* t = SymbolsOf(type);
  return t != nullptr && t->bitmask;
}

std::vector<uint32_t> SplitConcatType(uint32_t key_type) {
  std::vector<uint32_t> parts;
  if (key_type <= kTypeMax) return {key_type};
  while (key_type != 0) {
    parts.insert(parts.begin(), key_type & ((1U << kTypeBits) - 1));
    key_type >>= kTypeBits;
  }
  return parts;
}

uint64_t BytesToInt(const uint8_t* p, size_t n, bool big_endian) {
  uint64_t v = 0;
  if (n > 8) n = 8;
  if (big_endian) {
    for (size_t i = 0; i < n; ++i) v = (v << 8) | p[i];
  } else {
    for (size_t i = n; i > 0; --i) v = (v << 8) | p[i - 1];
  }
  return v;
}

std::string BitmaskNames(uint32_t type, uint64_t value) {
  const SymbolTable* t = SymbolsOf(type);
  return t != nullptr && t->bitmask ? Bits(t->syms, value) : std::string();
}

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string ProtocolName(uint8_t proto) {
  // nft resolves protocol names through the protocols database like this.
  protoent ent{};
  protoent* res = nullptr;
  std::array<char, 1024> buf{};
  if (getprotobynumber_r(proto, &ent, buf.data(), buf.size(), &res) == 0 && res != nullptr &&
      res->p_name != nullptr)
    return res->p_name;
  return std::to_string(proto);
}

std::string VerdictText(int32_t verdict, const std::string& chain) {
  std::string_view name = NameOf(Names::kVerdict, static_cast<uint32_t>(verdict));
  if (name.empty()) return fmt::format("verdict {}", verdict);
  if (verdict == -3 || verdict == -4) return std::string(name) + " " + chain;  // NFT_JUMP, GOTO
  return std::string(name);
}

std::string_view RateUnitName(uint64_t unit_seconds) {
  static constexpr std::array kUnits = {Sym{60, "minute"}, Sym{3600, "hour"}, Sym{86400, "day"},
                                        Sym{604800, "week"}};
  std::string_view name = Lookup(kUnits, unit_seconds);
  return name.empty() ? "second" : name;
}

std::string TimeText(uint64_t ms) {
  if (ms == 0) return "0s";
  std::string out;
  uint64_t days = ms / 86400000;
  ms %= 86400000;
  uint64_t hours = ms / 3600000;
  ms %= 3600000;
  uint64_t minutes = ms / 60000;
  ms %= 60000;
  uint64_t seconds = ms / 1000;
  ms %= 1000;
  if (days != 0) out += fmt::format("{}d", days);
  if (hours != 0) out += fmt::format("{}h", hours);
  if (minutes != 0) out += fmt::format("{}m", minutes);
  if (seconds != 0) out += fmt::format("{}s", seconds);
  if (ms != 0) out += fmt::format("{}ms", ms);
  return out;
}

std::string ByteAmount(uint64_t bytes) {
  static constexpr std::array<std::string_view, 5> kUnits = {"bytes", "kbytes", "mbytes", "gbytes",
                                                             "tbytes"};
  size_t u = 0;
  while (u + 1 < kUnits.size() && bytes != 0 && bytes % 1024 == 0) {
    bytes /= 1024;
    ++u;
  }
  return fmt::format("{} {}", bytes, kUnits[u]);
}

namespace {

// An integer-held value of `type` as nft prints it.
std::string IntegerText(uint32_t type, uint64_t v, const PrintOptions& options) {
  switch (type) {
    case kTypeMark:
      return fmt::format("0x{:08x}", v);
    case kTypeInetProtocol:
      return ProtocolName(static_cast<uint8_t>(v));
    case kTypeTime:
      return TimeText(v);
    case kTypeTimeDate:
      return DateText(v);
    case kTypeTimeHour:
      return HourText(v);
    case kTypeTimeDay:
      return v < kDays.size() ? Quote(kDays[v]) : std::to_string(v);
    case kTypeClassid:
      if (v == 0xffffffff) return "root";
      if (v == 0) return "none";
      return fmt::format("{:x}:{:x}", v >> 16, v & 0xffff);
    case kTypeIfindex: {
      auto it = options.interface_names.find(static_cast<uint32_t>(v));
      if (it != options.interface_names.end()) return Quote(it->second);
      return std::to_string(v);
    }
    default:
      break;
  }
  const SymbolTable* t = SymbolsOf(type);
  if (t == nullptr) return std::to_string(v);
  if (t->bitmask) {
    std::string names = Bits(t->syms, v);
    return names.empty() ? fmt::format("0x{:x}", v) : names;
  }
  std::string_view sym = Lookup(t->syms, v);
  if (type == kTypeDevgroup && !sym.empty()) return Quote(sym);  // names from iproute2's group
  if (!sym.empty()) return std::string(sym);
  if (type == kTypeEthertype) return fmt::format("0x{:04x}", v);
  return std::to_string(v);
}

}  // namespace

std::string FormatValue(const ValueType& vt, const uint8_t* p, size_t n,
                        const PrintOptions& options) {
  if (n == 0) return "0";
  switch (vt.type) {
    case kTypeIpaddr:
      if (n == 4) return fmt::format("{}.{}.{}.{}", p[0], p[1], p[2], p[3]);
      break;
    case kTypeIp6addr:
      if (n == 16) {
        std::array<char, INET6_ADDRSTRLEN> buf{};
        if (inet_ntop(AF_INET6, p, buf.data(), buf.size()) != nullptr) return buf.data();
      }
      break;
    case kTypeEtheraddr:
    case kTypeLladdr: {
      std::string s;
      for (size_t i = 0; i < n; ++i) s += fmt::format("{}{:02x}", i == 0 ? "" : ":", p[i]);
      return s;
    }
    case kTypeIfname:
    case kTypeString: {
      size_t len = strnlen(reinterpret_cast<const char*>(p), n);
      return Quote(std::string_view(reinterpret_cast<const char*>(p), len));
    }
    case kTypeCtLabel:
      break;
    default: {
      if (n > 8) break;
      uint64_t v = BytesToInt(p, n, vt.big_endian) >> vt.shift;
      if (vt.bits != 0 && vt.bits < 64) v &= (uint64_t{1} << vt.bits) - 1;
      return IntegerText(vt.type, v, options);
    }
  }
  return Hex(p, n);
}

}  // namespace fwgate::nft::print
