// Shared pieces of the nft-syntax printer: nft datatype ids and value formatting (datatypes.cpp),
// used by the rule delinearizer (print_expr.cpp) and the declaration printer (printer.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/ruleset.h"
#include "gate/nft/printer.h"

namespace fwgate::nft::print {

// nft datatype ids (nftables include/datatype.h, enum datatypes). Set key/data types carry them;
// concatenations pack one id per 6 bits (TYPE_BITS), first component in the highest bits.
enum TypeId : uint32_t {
  kTypeInvalid = 0,
  kTypeVerdict = 1,
  kTypeNfproto = 2,
  kTypeBitmask = 3,
  kTypeInteger = 4,
  kTypeString = 5,
  kTypeLladdr = 6,
  kTypeIpaddr = 7,
  kTypeIp6addr = 8,
  kTypeEtheraddr = 9,
  kTypeEthertype = 10,
  kTypeArpop = 11,
  kTypeInetProtocol = 12,
  kTypeInetService = 13,
  kTypeIcmpType = 14,
  kTypeTcpFlag = 15,
  kTypeDccpPkttype = 16,
  kTypeMhType = 17,
  kTypeTime = 18,
  kTypeMark = 19,
  kTypeIfindex = 20,
  kTypeArphrd = 21,
  kTypeRealm = 22,
  kTypeClassid = 23,
  kTypeUid = 24,
  kTypeGid = 25,
  kTypeCtState = 26,
  kTypeCtDir = 27,
  kTypeCtStatus = 28,
  kTypeIcmp6Type = 29,
  kTypeCtLabel = 30,
  kTypePkttype = 31,
  kTypeIcmpCode = 32,
  kTypeIcmpv6Code = 33,
  kTypeIcmpxCode = 34,
  kTypeDevgroup = 35,
  kTypeDscp = 36,
  kTypeEcn = 37,
  kTypeFibAddr = 38,
  kTypeBoolean = 39,
  kTypeCtEventbit = 40,
  kTypeIfname = 41,
  kTypeIgmpType = 42,
  kTypeTimeDate = 43,
  kTypeTimeHour = 44,
  kTypeTimeDay = 45,
  kTypeCgroupv2 = 46,
  kTypeMax = 46,
};
constexpr uint32_t kTypeBits = 6;
constexpr uint32_t kVerdictDataType = 0xffffff00;

// How a register value is to be shown: datatype, byte order of the register bytes, and the
// right shift that turns the (masked) register into the field value (bit fields such as dscp).
struct ValueType {
  uint32_t type = kTypeInteger;
  bool big_endian = false;
  uint32_t shift = 0;
  uint32_t bits = 0;  // field width in bits when narrower than the register bytes; 0 = all
};

// nft's name for a datatype ("ipv4_addr", "inet_service"); empty when it has none usable in a
// `type` declaration.
std::string_view TypeName(uint32_t type);
// Size in bytes nft gives the type (0 when variable); and whether it is held in network order.
uint32_t TypeSize(uint32_t type);
bool TypeBigEndian(uint32_t type);
bool TypeIsBitmask(uint32_t type);
// Split a (possibly concatenated) set key type into its components, first component first.
std::vector<uint32_t> SplitConcatType(uint32_t key_type);

// Formats `n` register bytes as a value of `vt` ("10.0.0.1", "ssh" is never produced: nft prints
// services numerically; "established,related", "0x00000001", "\"eth0\"").
std::string FormatValue(const ValueType& vt, const uint8_t* p, size_t n,
                        const PrintOptions& options);
inline std::string FormatValue(const ValueType& vt, const Bytes& b, const PrintOptions& o) {
  return FormatValue(vt, b.data(), b.size(), o);
}
// Integer value of register bytes in the given order (first 8 bytes at most).
uint64_t BytesToInt(const uint8_t* p, size_t n, bool big_endian);
// Flag names of a bitmask type joined with ","; "" when some bit has no name.
std::string BitmaskNames(uint32_t type, uint64_t value);
std::string VerdictText(int32_t verdict, const std::string& chain);
// nft's time format: "1h", "2m30s", "500ms".
std::string TimeText(uint64_t ms);
// A limit's rate unit in seconds (1, 60, 3600, 86400, 604800) as nft names it ("second", ...).
std::string_view RateUnitName(uint64_t unit_seconds);
// "25 mbytes" style byte amounts (quota, limit), as nft's get_rate().
std::string ByteAmount(uint64_t bytes);
std::string Quote(std::string_view s);
std::string ProtocolName(uint8_t proto);  // "tcp", or the number

// One component of a set key or map data: how to show it and how many bytes it takes.
struct KeyPart {
  ValueType vt;
  uint32_t len = 0;  // bytes of the component (concatenations pad each to 4 bytes)
  bool prefixable = false;
};
// Components of a set key/data type as nft declares it (interval sets hold keys big-endian).
std::vector<KeyPart> PartsFromType(uint32_t type, uint32_t total_len,
                                   const std::vector<uint8_t>& field_lengths, bool interval);
// Elements as the user writes them, ascending by key; interval start/end pairs merged. Sets
// *ok to false when some element could not be shown in nft syntax.
std::vector<std::string> ElementStrings(const Set& set, const std::vector<KeyPart>& key_parts,
                                        const std::vector<KeyPart>& data_parts,
                                        const PrintOptions& o, bool* ok);

}  // namespace fwgate::nft::print
