// The printer's knowledge of the kernel's expressions as data: one key-definition form for every
// expression family (meta, ct, rt, socket, osf, fib, numgen, hash, exthdr, payload fields).
// Values are the kernel's uapi numbers (nf_tables.h); tests/unit/printer_test.cpp checks them.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace fwgate::nft::print {

// Key flags.
enum KeyFlag : uint32_t {
  kKeyUnqualified = 1,  // printed without the family prefix ("iif", not "meta iif")
  kKeyProtocol = 2,     // a protocol key: an equality match on it states the upper protocol
  kKeyFamilyAddr = 4,   // ct saddr/daddr: the address family comes from the protocol context
  kKeySetOnly = 8,      // only ever written (meta nftrace...): never compared
};

// One key of an expression family. For loads (meta, ct, rt, socket, fib, ...) `key` is the
// uapi key number (NFT_META_*, NFT_CT_*, NFT_RT_*, ...); for header fields (payload, tcp
// option, ipv6 extension header fields) `key` is the field's bit offset in its header.
struct KeyDef {
  uint32_t key = 0;
  std::string_view name;  // nft's name: "mark", "state", "ip saddr", "dport"
  uint32_t type = 0;      // nft datatype id (print_internal.h TypeId)
  uint32_t bits = 0;      // width of the value in bits
  bool big_endian = false;
  uint32_t flags = 0;
  uint8_t icmp_dep = 0;  // header fields of icmp/icmpv6: the icmp type they imply (0: none)
};

// A family of keys: an expression kind ("meta", "ct", ...) and the word nft prints before a
// key ("meta", "ct", "rt", ...), or a protocol header / option with its fields.
struct KeyFamily {
  std::string_view kind;    // expression kind, or protocol/option name ("tcp", "maxseg")
  std::string_view prefix;  // printed before the key name
  uint32_t id = 0;          // protocol number (IPPROTO_*), tcp option kind, ipv6 nexthdr
  int base = -1;            // payload base (NFT_PAYLOAD_*_HEADER) for protocol headers
  std::span<const KeyDef> keys;
};

// Expression families whose `key` attribute selects a KeyDef: meta, ct, rt, socket, fib
// (by NFTA_FIB_RESULT), numgen (by type), hash (by type), osf (by flags).
[[nodiscard]] const KeyFamily* LoadFamily(std::string_view kind);
// Protocol headers with their fields (ether, ip, ip6, arp, tcp, udp, ..., th).
[[nodiscard]] std::span<const KeyFamily> Protocols();
[[nodiscard]] const KeyFamily* Protocol(std::string_view name);
// Transport protocol by number (IPPROTO_*): "tcp", "udp", ...; null when unknown.
[[nodiscard]] const KeyFamily* TransportByNumber(uint64_t proto);
// TCP options (by kind) and IPv6 extension headers (by nexthdr number) for exthdr.
[[nodiscard]] std::span<const KeyFamily> TcpOptions();
[[nodiscard]] std::span<const KeyFamily> Ipv6ExtHeaders();
// The key of a family with uapi number `key`; null when none.
[[nodiscard]] const KeyDef* FindKey(const KeyFamily& family, uint64_t key);
[[nodiscard]] const KeyDef* FindKeyByName(const KeyFamily& family, std::string_view name);
// A header field at exactly `off` bits with `bits` width; null when none.
[[nodiscard]] const KeyDef* FieldAt(const KeyFamily& proto, uint32_t off, uint32_t bits);

// A named value or bit of a statement attribute (verdict codes, nat flags, log levels, ...).
struct Named {
  uint64_t value;
  std::string_view name;
};
// Statement attribute tables, by what they name; each value is a uapi number.
enum class Names {
  kVerdict,     // NF_DROP, NF_ACCEPT, NFT_JUMP, ...
  kCmpOp,       // NFT_CMP_EQ .. NFT_CMP_GTE: the operator text nft prints ("" for ==)
  kNatFlags,    // NF_NAT_RANGE_PROTO_RANDOM, ...
  kLogLevel,    // NFT_LOGLEVEL_EMERG .. AUDIT
  kLogFlags,    // NF_LOG_TCPSEQ, ...
  kQueueFlags,  // NFT_QUEUE_FLAG_BYPASS, CPU_FANOUT
  kSynproxyFlags,
  kFibFlags,    // NFTA_FIB_F_SADDR .. OIF: the inputs of a fib lookup
  kObjrefVerb,  // NFT_OBJECT_COUNTER .. : the statement that references an object
  kDynsetOp,    // NFT_DYNSET_OP_ADD, UPDATE, DELETE
  kRejectType,  // NFT_REJECT_ICMP_UNREACH, TCP_RST, ICMPX_UNREACH
  kNgenType,    // NFT_NG_INCREMENTAL, RANDOM
  kL3Proto,     // NFPROTO_*: family names ("ip", "inet", ...)
  kSetFlags,    // NFT_SET_*: the flags nft prints in a set declaration
  kOsfTtl,      // NF_OSF_TTL_*: the ttl option of osf
};
[[nodiscard]] std::span<const Named> NameTable(Names which);
// Name of `value` in the table, or "" when it has none.
[[nodiscard]] std::string_view NameOf(Names which, uint64_t value);
// The names of the bits set in `value`, joined with `sep`, in table order.
[[nodiscard]] std::string FlagNames(Names which, uint64_t value, std::string_view sep);

}  // namespace fwgate::nft::print
