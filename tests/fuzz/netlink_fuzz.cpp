// libFuzzer: the nftables netlink message parsers (sys/nft_netlink.h) on arbitrary messages, as
// a dump reply could carry them. The first byte picks the parser.
#include <linux/netlink.h>
#include <setjmp.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "sys/nft_netlink.h"

// libnftnl treats an attribute of the wrong type or size as kernel ABI breakage and calls
// exit() (abi_breakage() in libnftnl 1.2.4). A real kernel never sends such a message; here the
// harness takes that exit as libnftnl refusing the input and goes on with the next one. exit()
// from anywhere else (libFuzzer's own, at the end of a run) exits as usual.
namespace {
sigjmp_buf g_refused;
bool g_in_parser = false;
}  // namespace

extern "C" void exit(int status) {  // NOLINT(bugprone-reserved-identifier)
  if (g_in_parser) siglongjmp(g_refused, 1);
  _exit(status);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 + sizeof(nlmsghdr)) return 0;
  if (sigsetjmp(g_refused, 0) != 0) {
    g_in_parser = false;
    return 0;
  }
  uint8_t which = data[0];
  // An aligned copy whose header length is the real length (the dumper only parses messages
  // libmnl already checked for length), followed by zeros as the socket's receive buffer is
  // (sys/netlink_socket.h kGuardBytes: libnftnl reads unterminated strings until a NUL).
  std::vector<uint32_t> buf((size - 1 + 3) / 4 + 4096 / 4, 0);
  std::memcpy(buf.data(), data + 1, size - 1);
  auto* nlh = reinterpret_cast<nlmsghdr*>(buf.data());
  nlh->nlmsg_len = static_cast<uint32_t>(size - 1);
  using namespace fwgate::sys;
  g_in_parser = true;
  switch (which % 7) {
    case 0:
      (void)ParseTableMessage(nlh);
      break;
    case 1:
      (void)ParseChainMessage(nlh);
      break;
    case 2:
      (void)ParseRuleMessage(nlh);
      (void)ParseRuleOutlineMessage(nlh);
      break;
    case 3:
      (void)ParseSetMessage(nlh);
      break;
    case 4: {
      fwgate::nft::Set set;
      (void)ParseSetElemsMessage(nlh, set);
      break;
    }
    case 5:
      (void)ParseFlowtableMessage(nlh);
      break;
    default:
      (void)ParseObjectMessage(nlh);
      break;
  }
  g_in_parser = false;
  return 0;
}
