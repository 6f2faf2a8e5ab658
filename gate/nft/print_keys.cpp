// The key and name tables of the printer (print_keys.h). Every number is a uapi value of
// nf_tables.h and friends; nftables' meta.c, ct.c, rt.c, proto.c, tcpopt.c and exthdr.c give
// the names and datatypes.
#include "gate/nft/print_keys.h"

#include <array>

#include "gate/nft/print_internal.h"

namespace fwgate::nft::print {
namespace {

constexpr bool B = true;   // big endian (network order)
constexpr bool H = false;  // host order
constexpr uint32_t U = kKeyUnqualified;
constexpr uint32_t P = kKeyProtocol;

// NFT_META_*
constexpr std::array kMeta = {
    KeyDef{0, "length", kTypeInteger, 32, H},
    KeyDef{1, "protocol", kTypeEthertype, 16, B, P},
    KeyDef{2, "priority", kTypeClassid, 32, H},
    KeyDef{3, "mark", kTypeMark, 32, H},
    KeyDef{4, "iif", kTypeIfindex, 32, H, U},
    KeyDef{5, "oif", kTypeIfindex, 32, H, U},
    KeyDef{6, "iifname", kTypeIfname, 128, H, U},
    KeyDef{7, "oifname", kTypeIfname, 128, H, U},
    KeyDef{8, "iiftype", kTypeArphrd, 16, H, P},
    KeyDef{9, "oiftype", kTypeArphrd, 16, H},
    KeyDef{10, "skuid", kTypeUid, 32, H},
    KeyDef{11, "skgid", kTypeGid, 32, H},
    KeyDef{12, "nftrace", kTypeInteger, 8, H},
    KeyDef{13, "rtclassid", kTypeRealm, 32, H},
    KeyDef{14, "secmark", kTypeInteger, 32, H},
    KeyDef{15, "nfproto", kTypeNfproto, 8, H, P},
    KeyDef{16, "l4proto", kTypeInetProtocol, 8, H, P},
    KeyDef{17, "ibrname", kTypeIfname, 128, H},
    KeyDef{18, "obrname", kTypeIfname, 128, H},
    KeyDef{19, "pkttype", kTypePkttype, 8, H},
    KeyDef{20, "cpu", kTypeInteger, 32, H},
    KeyDef{21, "iifgroup", kTypeDevgroup, 32, H, U},
    KeyDef{22, "oifgroup", kTypeDevgroup, 32, H, U},
    KeyDef{23, "cgroup", kTypeInteger, 32, H},
    KeyDef{24, "random", kTypeInteger, 32, B},
    KeyDef{25, "ipsec", kTypeBoolean, 8, H},  // nft 1.0.6 lists "secpath" as "ipsec"
    KeyDef{26, "iifkind", kTypeIfname, 128, H},
    KeyDef{27, "oifkind", kTypeIfname, 128, H},
    KeyDef{28, "ibrpvid", kTypeInteger, 16, H},
    KeyDef{29, "ibrvproto", kTypeEthertype, 16, B},
    KeyDef{30, "time", kTypeTimeDate, 64, H},
    KeyDef{31, "day", kTypeTimeDay, 8, H},
    KeyDef{32, "hour", kTypeTimeHour, 32, H},
    KeyDef{33, "sdif", kTypeIfindex, 32, H},
    KeyDef{34, "sdifname", kTypeIfname, 128, H},
    KeyDef{35, "broute", kTypeBoolean, 8, H},
};

// NFT_CT_*
constexpr std::array kCt = {
    KeyDef{0, "state", kTypeCtState, 32, H},
    KeyDef{1, "direction", kTypeCtDir, 8, H},
    KeyDef{2, "status", kTypeCtStatus, 32, H},
    KeyDef{3, "mark", kTypeMark, 32, H},
    KeyDef{4, "secmark", kTypeInteger, 32, H},
    KeyDef{5, "expiration", kTypeTime, 32, H},
    KeyDef{6, "helper", kTypeString, 128, H},
    KeyDef{7, "l3proto", kTypeNfproto, 8, H},
    KeyDef{8, "saddr", kTypeIpaddr, 32, B, kKeyFamilyAddr},
    KeyDef{9, "daddr", kTypeIpaddr, 32, B, kKeyFamilyAddr},
    KeyDef{10, "protocol", kTypeInetProtocol, 8, B, P},
    KeyDef{11, "proto-src", kTypeInetService, 16, B},
    KeyDef{12, "proto-dst", kTypeInetService, 16, B},
    KeyDef{13, "label", kTypeCtLabel, 128, H},
    KeyDef{14, "packets", kTypeInteger, 64, H},
    KeyDef{15, "bytes", kTypeInteger, 64, H},
    KeyDef{16, "avgpkt", kTypeInteger, 64, H},
    KeyDef{17, "zone", kTypeInteger, 16, H},
    KeyDef{18, "event", kTypeCtEventbit, 32, H},
    KeyDef{19, "ip saddr", kTypeIpaddr, 32, B},
    KeyDef{20, "ip daddr", kTypeIpaddr, 32, B},
    KeyDef{21, "ip6 saddr", kTypeIp6addr, 128, B},
    KeyDef{22, "ip6 daddr", kTypeIp6addr, 128, B},
    KeyDef{23, "id", kTypeInteger, 32, B},
};

// NFT_RT_*
constexpr std::array kRt = {
    KeyDef{0, "classid", kTypeRealm, 32, H},        KeyDef{1, "ip nexthop", kTypeIpaddr, 32, B},
    KeyDef{2, "ip6 nexthop", kTypeIp6addr, 128, B}, KeyDef{3, "mtu", kTypeInteger, 16, H},
    KeyDef{4, "ipsec", kTypeBoolean, 8, H},
};

// NFT_SOCKET_*
constexpr std::array kSocket = {
    KeyDef{0, "transparent", kTypeInteger, 8, H},
    KeyDef{1, "mark", kTypeMark, 32, H},
    KeyDef{2, "wildcard", kTypeInteger, 8, H},
    KeyDef{3, "cgroupv2", kTypeCgroupv2, 64, H},
};

// NFT_FIB_RESULT_*
constexpr std::array kFib = {
    KeyDef{1, "oif", kTypeIfindex, 32, H},
    KeyDef{2, "oifname", kTypeIfname, 128, H},
    KeyDef{3, "type", kTypeFibAddr, 32, H},
};

// NFT_NG_*
constexpr std::array kNumgen = {
    KeyDef{0, "inc", kTypeInteger, 32, H},
    KeyDef{1, "random", kTypeInteger, 32, H},
};

// NFT_HASH_*
constexpr std::array kHash = {
    KeyDef{0, "jhash", kTypeInteger, 32, H},
    KeyDef{1, "symhash", kTypeInteger, 32, H},
};

// NFT_OSF_F_VERSION selects the version string instead of the name.
constexpr std::array kOsf = {
    KeyDef{0, "name", kTypeString, 128, H},
    KeyDef{1, "version", kTypeString, 128, H},
};

constexpr std::array kLoads = {
    KeyFamily{"meta", "meta", 0, -1, kMeta}, KeyFamily{"ct", "ct", 0, -1, kCt},
    KeyFamily{"rt", "rt", 0, -1, kRt},       KeyFamily{"socket", "socket", 0, -1, kSocket},
    KeyFamily{"fib", "fib", 0, -1, kFib},    KeyFamily{"numgen", "numgen", 0, -1, kNumgen},
    KeyFamily{"hash", "", 0, -1, kHash},     KeyFamily{"osf", "osf", 0, -1, kOsf},
};

// Protocol header fields: key = bit offset.
constexpr std::array kEther = {
    KeyDef{0, "daddr", kTypeEtheraddr, 48, B},
    KeyDef{48, "saddr", kTypeEtheraddr, 48, B},
    KeyDef{96, "type", kTypeEthertype, 16, B, P},
};
constexpr std::array kVlan = {
    KeyDef{0, "pcp", kTypeInteger, 3, B},
    KeyDef{3, "dei", kTypeInteger, 1, B},
    KeyDef{4, "id", kTypeInteger, 12, B},
    KeyDef{16, "type", kTypeEthertype, 16, B, P},
};
constexpr std::array kIp = {
    KeyDef{0, "version", kTypeInteger, 4, B},
    KeyDef{4, "hdrlength", kTypeInteger, 4, B},
    KeyDef{8, "dscp", kTypeDscp, 6, B},
    KeyDef{14, "ecn", kTypeEcn, 2, B},
    KeyDef{16, "length", kTypeInteger, 16, B},
    KeyDef{32, "id", kTypeInteger, 16, B},
    KeyDef{48, "frag-off", kTypeInteger, 16, B},
    KeyDef{64, "ttl", kTypeInteger, 8, B},
    KeyDef{72, "protocol", kTypeInetProtocol, 8, B, P},
    KeyDef{80, "checksum", kTypeInteger, 16, B},
    KeyDef{96, "saddr", kTypeIpaddr, 32, B},
    KeyDef{128, "daddr", kTypeIpaddr, 32, B},
};
constexpr std::array kIp6 = {
    KeyDef{0, "version", kTypeInteger, 4, B},   KeyDef{4, "dscp", kTypeDscp, 6, B},
    KeyDef{10, "ecn", kTypeEcn, 2, B},          KeyDef{12, "flowlabel", kTypeInteger, 20, B},
    KeyDef{32, "length", kTypeInteger, 16, B},  KeyDef{48, "nexthdr", kTypeInetProtocol, 8, B, P},
    KeyDef{56, "hoplimit", kTypeInteger, 8, B}, KeyDef{64, "saddr", kTypeIp6addr, 128, B},
    KeyDef{192, "daddr", kTypeIp6addr, 128, B},
};
constexpr std::array kArp = {
    KeyDef{0, "htype", kTypeInteger, 16, B},    KeyDef{16, "ptype", kTypeEthertype, 16, B},
    KeyDef{32, "hlen", kTypeInteger, 8, B},     KeyDef{40, "plen", kTypeInteger, 8, B},
    KeyDef{48, "operation", kTypeArpop, 16, B},
};
constexpr std::array kTcp = {
    KeyDef{0, "sport", kTypeInetService, 16, B},  KeyDef{16, "dport", kTypeInetService, 16, B},
    KeyDef{32, "sequence", kTypeInteger, 32, B},  KeyDef{64, "ackseq", kTypeInteger, 32, B},
    KeyDef{96, "doff", kTypeInteger, 4, B},       KeyDef{100, "reserved", kTypeInteger, 4, B},
    KeyDef{104, "flags", kTypeTcpFlag, 8, B},     KeyDef{112, "window", kTypeInteger, 16, B},
    KeyDef{128, "checksum", kTypeInteger, 16, B}, KeyDef{144, "urgptr", kTypeInteger, 16, B},
};
constexpr std::array kUdp = {
    KeyDef{0, "sport", kTypeInetService, 16, B},
    KeyDef{16, "dport", kTypeInetService, 16, B},
    KeyDef{32, "length", kTypeInteger, 16, B},
    KeyDef{48, "checksum", kTypeInteger, 16, B},
};
constexpr std::array kUdplite = {
    KeyDef{0, "sport", kTypeInetService, 16, B},
    KeyDef{16, "dport", kTypeInetService, 16, B},
    KeyDef{32, "csumcov", kTypeInteger, 16, B},
    KeyDef{48, "checksum", kTypeInteger, 16, B},
};
// icmp_dep: ICMP_ECHO 8, ICMP_REDIRECT 5, ICMP_DEST_UNREACH 3 (nftables proto.c).
constexpr std::array kIcmp = {
    KeyDef{0, "type", kTypeIcmpType, 8, B, P},
    KeyDef{8, "code", kTypeIcmpCode, 8, B},
    KeyDef{16, "checksum", kTypeInteger, 16, B},
    KeyDef{32, "id", kTypeInteger, 16, B, 0, 8},
    KeyDef{48, "sequence", kTypeInteger, 16, B, 0, 8},
    KeyDef{32, "gateway", kTypeIpaddr, 32, B, 0, 5},
    KeyDef{48, "mtu", kTypeInteger, 16, B, 0, 3},
};
// icmp_dep: ICMP6_PARAM_PROB 4, ICMP6_PACKET_TOO_BIG 2, ICMP6_ECHO_REQUEST 128,
// MLD_LISTENER_QUERY 130.
constexpr std::array kIcmp6 = {
    KeyDef{0, "type", kTypeIcmp6Type, 8, B, P},
    KeyDef{8, "code", kTypeIcmpv6Code, 8, B},
    KeyDef{16, "checksum", kTypeInteger, 16, B},
    KeyDef{32, "parameter-problem", kTypeInteger, 32, B, 0, 4},
    KeyDef{32, "mtu", kTypeInteger, 32, B, 0, 2},
    KeyDef{32, "id", kTypeInteger, 16, B, 0, 128},
    KeyDef{48, "sequence", kTypeInteger, 16, B, 0, 128},
    KeyDef{32, "max-delay", kTypeInteger, 16, B, 0, 130},
};
constexpr std::array kSctp = {
    KeyDef{0, "sport", kTypeInetService, 16, B},
    KeyDef{16, "dport", kTypeInetService, 16, B},
    KeyDef{32, "vtag", kTypeInteger, 32, B},
    KeyDef{64, "checksum", kTypeInteger, 32, B},
};
constexpr std::array kDccp = {
    KeyDef{0, "sport", kTypeInetService, 16, B},
    KeyDef{16, "dport", kTypeInetService, 16, B},
};
constexpr std::array kEsp = {
    KeyDef{0, "spi", kTypeInteger, 32, B},
    KeyDef{32, "sequence", kTypeInteger, 32, B},
};
constexpr std::array kAh = {
    KeyDef{0, "nexthdr", kTypeInetProtocol, 8, B, P}, KeyDef{8, "hdrlength", kTypeInteger, 8, B},
    KeyDef{16, "reserved", kTypeInteger, 16, B},      KeyDef{32, "spi", kTypeInteger, 32, B},
    KeyDef{64, "sequence", kTypeInteger, 32, B},
};
constexpr std::array kIgmp = {
    KeyDef{0, "type", kTypeIgmpType, 8, B},
    KeyDef{8, "mrt", kTypeInteger, 8, B},
    KeyDef{16, "checksum", kTypeInteger, 16, B},
    KeyDef{32, "group", kTypeIpaddr, 32, B},
};
constexpr std::array kTh = {
    KeyDef{0, "sport", kTypeInetService, 16, B},
    KeyDef{16, "dport", kTypeInetService, 16, B},
};

// id: the protocol number the lower layer names this header by (ETH_P_* for network
// headers, IPPROTO_* for transport headers).
constexpr std::array kProtocols = {
    KeyFamily{"ether", "ether", 0, 0, kEther}, KeyFamily{"vlan", "vlan", 0x8100, 0, kVlan},
    KeyFamily{"ip", "ip", 0x0800, 1, kIp},     KeyFamily{"ip6", "ip6", 0x86dd, 1, kIp6},
    KeyFamily{"arp", "arp", 0x0806, 1, kArp},  KeyFamily{"tcp", "tcp", 6, 2, kTcp},
    KeyFamily{"udp", "udp", 17, 2, kUdp},      KeyFamily{"udplite", "udplite", 136, 2, kUdplite},
    KeyFamily{"icmp", "icmp", 1, 2, kIcmp},    KeyFamily{"icmpv6", "icmpv6", 58, 2, kIcmp6},
    KeyFamily{"sctp", "sctp", 132, 2, kSctp},  KeyFamily{"dccp", "dccp", 33, 2, kDccp},
    KeyFamily{"esp", "esp", 50, 2, kEsp},      KeyFamily{"ah", "ah", 51, 2, kAh},
    KeyFamily{"igmp", "igmp", 2, 2, kIgmp},    KeyFamily{"th", "th", 0, 2, kTh},
};

// TCP option fields: key = bit offset within the option.
constexpr std::array kOptKind = {KeyDef{0, "kind", kTypeInteger, 8, B}};
constexpr std::array kOptKindLen = {KeyDef{0, "kind", kTypeInteger, 8, B},
                                    KeyDef{8, "length", kTypeInteger, 8, B}};
constexpr std::array kOptMaxseg = {KeyDef{0, "kind", kTypeInteger, 8, B},
                                   KeyDef{8, "length", kTypeInteger, 8, B},
                                   KeyDef{16, "size", kTypeInteger, 16, B}};
constexpr std::array kOptWindow = {KeyDef{0, "kind", kTypeInteger, 8, B},
                                   KeyDef{8, "length", kTypeInteger, 8, B},
                                   KeyDef{16, "count", kTypeInteger, 8, B}};
constexpr std::array kOptSack = {
    KeyDef{0, "kind", kTypeInteger, 8, B}, KeyDef{8, "length", kTypeInteger, 8, B},
    KeyDef{16, "left", kTypeInteger, 32, B}, KeyDef{48, "right", kTypeInteger, 32, B}};
constexpr std::array kOptTimestamp = {
    KeyDef{0, "kind", kTypeInteger, 8, B}, KeyDef{8, "length", kTypeInteger, 8, B},
    KeyDef{16, "tsval", kTypeInteger, 32, B}, KeyDef{48, "tsecr", kTypeInteger, 32, B}};
// id: TCPOPT_KIND_*.
constexpr std::array kTcpOptions = {
    KeyFamily{"eol", "tcp option eol", 0, -1, kOptKind},
    KeyFamily{"nop", "tcp option nop", 1, -1, kOptKind},
    KeyFamily{"maxseg", "tcp option maxseg", 2, -1, kOptMaxseg},
    KeyFamily{"window", "tcp option window", 3, -1, kOptWindow},
    KeyFamily{"sack-perm", "tcp option sack-perm", 4, -1, kOptKindLen},
    KeyFamily{"sack", "tcp option sack", 5, -1, kOptSack},
    KeyFamily{"timestamp", "tcp option timestamp", 8, -1, kOptTimestamp},
};

constexpr std::array kExtNexthdr = {KeyDef{0, "nexthdr", kTypeInetProtocol, 8, B},
                                    KeyDef{8, "hdrlength", kTypeInteger, 8, B}};
// id: IPPROTO_HOPOPTS 0, ROUTING 43, FRAGMENT 44, DSTOPTS 60, MH 135.
constexpr std::array kIpv6Ext = {
    KeyFamily{"hbh", "hbh", 0, -1, kExtNexthdr},    KeyFamily{"rt", "rt", 43, -1, kExtNexthdr},
    KeyFamily{"frag", "frag", 44, -1, kExtNexthdr}, KeyFamily{"dst", "dst", 60, -1, kExtNexthdr},
    KeyFamily{"mh", "mh", 135, -1, kExtNexthdr},
};

constexpr uint64_t Verdict(int32_t v) { return static_cast<uint32_t>(v); }
constexpr std::array kVerdicts = {
    Named{Verdict(0), "drop"},      Named{Verdict(1), "accept"},  Named{Verdict(3), "queue"},
    Named{Verdict(-1), "continue"}, Named{Verdict(-2), "break"},  Named{Verdict(-3), "jump"},
    Named{Verdict(-4), "goto"},     Named{Verdict(-5), "return"},
};
constexpr std::array kCmpOps = {Named{0, ""},   Named{1, "!="}, Named{2, "<"},
                                Named{3, "<="}, Named{4, ">"},  Named{5, ">="}};
// In the order nft prints them.
constexpr std::array kNatFlags = {Named{0x4, "random"}, Named{0x10, "fully-random"},
                                  Named{0x8, "persistent"}};
constexpr std::array kLogLevels = {Named{0, "emerg"}, Named{1, "alert"}, Named{2, "crit"},
                                   Named{3, "err"},   Named{4, "warn"},  Named{5, "notice"},
                                   Named{6, "info"},  Named{7, "debug"}, Named{8, "audit"}};
constexpr std::array kLogFlags = {Named{0x1, "tcp sequence"}, Named{0x2, "tcp options"},
                                  Named{0x4, "ip options"}, Named{0x8, "skuid"},
                                  Named{0x20, "ether"}};
constexpr std::array kQueueFlags = {Named{0x1, "bypass"}, Named{0x2, "fanout"}};
// NF_SYNPROXY_OPT_* (mss and wscale are printed with their values).
constexpr std::array kSynproxyFlags = {Named{0x8, "timestamp"}, Named{0x4, "sack-perm"}};
constexpr std::array kFibFlags = {Named{0x1, "saddr"}, Named{0x2, "daddr"}, Named{0x4, "mark"},
                                  Named{0x8, "iif"}, Named{0x10, "oif"}};
constexpr std::array kObjrefVerbs = {
    Named{1, "counter name"},       Named{2, "quota name"},     Named{3, "ct helper set"},
    Named{4, "limit name"},         Named{7, "ct timeout set"}, Named{8, "meta secmark set"},
    Named{9, "ct expectation set"}, Named{10, "synproxy name"},
};
constexpr std::array kDynsetOps = {Named{0, "add"}, Named{1, "update"}, Named{2, "delete"}};
constexpr std::array kRejectTypes = {Named{0, "icmp"}, Named{1, "tcp reset"}, Named{2, "icmpx"}};
constexpr std::array kNgenTypes = {Named{0, "inc"}, Named{1, "random"}};
constexpr std::array kL3Protos = {Named{1, "inet"},   Named{2, "ip"},     Named{3, "arp"},
                                  Named{5, "netdev"}, Named{7, "bridge"}, Named{10, "ip6"}};
// In the order nft prints them.
constexpr std::array kSetFlags = {Named{0x2, "constant"}, Named{0x20, "dynamic"},
                                  Named{0x4, "interval"}, Named{0x10, "timeout"}};
constexpr std::array kOsfTtl = {Named{1, "loose"}, Named{2, "skip"}};

}  // namespace

const KeyFamily* LoadFamily(std::string_view kind) {
  for (const KeyFamily& f : kLoads) {
    if (f.kind == kind) return &f;
  }
  return nullptr;
}

std::span<const KeyFamily> Protocols() { return kProtocols; }

const KeyFamily* Protocol(std::string_view name) {
  for (const KeyFamily& f : kProtocols) {
    if (f.kind == name) return &f;
  }
  return nullptr;
}

const KeyFamily* TransportByNumber(uint64_t proto) {
  for (const KeyFamily& f : kProtocols) {
    if (f.base == 2 && f.id == proto && f.kind != "th") return &f;
  }
  return nullptr;
}

std::span<const KeyFamily> TcpOptions() { return kTcpOptions; }
std::span<const KeyFamily> Ipv6ExtHeaders() { return kIpv6Ext; }

const KeyDef* FindKey(const KeyFamily& family, uint64_t key) {
  for (const KeyDef& k : family.keys) {
    if (k.key == key) return &k;
  }
  return nullptr;
}

const KeyDef* FindKeyByName(const KeyFamily& family, std::string_view name) {
  for (const KeyDef& k : family.keys) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

const KeyDef* FieldAt(const KeyFamily& proto, uint32_t off, uint32_t bits) {
  for (const KeyDef& k : proto.keys) {
    if (k.key == off && k.bits == bits) return &k;
  }
  return nullptr;
}

std::span<const Named> NameTable(Names which) {
  // In the order of enum Names.
  static constexpr std::array<std::span<const Named>, 15> kTables = {
      kVerdicts,    kCmpOps,        kNatFlags, kLogLevels,   kLogFlags,
      kQueueFlags,  kSynproxyFlags, kFibFlags, kObjrefVerbs, kDynsetOps,
      kRejectTypes, kNgenTypes,     kL3Protos, kSetFlags,    kOsfTtl};
  auto i = static_cast<size_t>(which);
  return i < kTables.size() ? kTables[i] : std::span<const Named>();
}

std::string_view NameOf(Names which, uint64_t value) {
  for (const Named& n : NameTable(which)) {
    if (n.value == value) return n.name;
  }
  return {};
}

std::string FlagNames(Names which, uint64_t value, std::string_view sep) {
  std::string out;
  for (const Named& n : NameTable(which)) {
    if ((value & n.value) != n.value) continue;
    if (!out.empty()) out += sep;
    out += n.name;
  }
  return out;
}

}  // namespace fwgate::nft::print
