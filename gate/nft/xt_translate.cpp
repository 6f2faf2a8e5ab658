// Translation of iptables-nft's xt matches and targets to nft syntax through libxtables, the
// way nft 1.0.6 itself lists them (nftables src/xt.c xt_stmt_xlate): the extension's own
// `xlate` callback, given the match/target data the kernel dumped. The extensions are the
// shared objects of Debian's iptables package; without them nothing is translated.
// libc's netinet/in.h before the kernel's headers (linux/libc-compat.h then defers to it).
#include <getopt.h>
#include <netinet/in.h>
#include <xtables.h>
// clang-format off
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter_arp/arp_tables.h>
#include <linux/netfilter_bridge/ebtables.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
// clang-format on

#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "gate/nft/printer.h"

namespace fwgate::nft {
namespace {

// Every revision the kernel dumped is one it accepted: no kernel query is needed.
int AnyRevision(const char* /*name*/, uint8_t /*rev*/, int /*opt*/) { return 1; }

option kNoOptions[] = {{nullptr, 0, nullptr, 0}};

xtables_globals kGlobals = {
    .option_offset = 0,
    .program_name = "nft",
    .program_version = "1.0.6",
    .orig_opts = kNoOptions,
    .opts = nullptr,
    .exit_err = nullptr,
    .compat_rev = AnyRevision,
};

// libxtables keeps global state (the loaded extensions, the current family): one caller at a
// time.
std::mutex& XtMutex() {
  static std::mutex m;
  return m;
}

bool InitOnce() {
  static const bool ok = [] {
    // Loading an extension reads XTABLES_LIBDIR or the built-in directory; a missing
    // directory only means no extension is found.
    return xtables_init_all(&kGlobals, NFPROTO_IPV4) == 0;
  }();
  return ok;
}

// The ip/ip6/arp/ebt entry the extension reads its protocol context from (nft's
// xt_entry_alloc).
union Entry {
  ipt_entry ipt;
  ip6t_entry ip6t;
  arpt_entry arpt;
  ebt_entry ebt;
};

struct XlateFree {
  void operator()(xt_xlate* x) const { xt_xlate_free(x); }
};

// An xt_entry_match/xt_entry_target with the dumped data behind its header (both headers
// start with the size and the revision).
template <typename EntryHeader>
std::vector<uint8_t> EntryData(const XtStatement& x) {
  std::vector<uint8_t> buf(XT_ALIGN(sizeof(EntryHeader)) + x.info.size(), 0);
  auto* h = reinterpret_cast<EntryHeader*>(buf.data());
  std::memcpy(h->data, x.info.data(), x.info.size());
  h->u.user.revision = static_cast<uint8_t>(x.revision);
  const auto size = static_cast<uint16_t>(buf.size());  // u.match_size / u.target_size
  std::memcpy(buf.data(), &size, sizeof(size));
  return buf;
}

}  // namespace

std::optional<std::string> TranslateXt(const XtStatement& x) {
  if (x.name.empty() || x.name.size() >= XT_EXTENSION_MAXNAMELEN) return std::nullopt;
  std::lock_guard<std::mutex> lock(XtMutex());
  if (!InitOnce()) return std::nullopt;
  const auto family = static_cast<uint8_t>(x.family);
  xtables_set_nfproto(family);
  Entry entry{};
  switch (x.family) {
    case Family::kIp:
      entry.ipt.ip.proto = x.proto;
      break;
    case Family::kIp6:
      entry.ip6t.ipv6.proto = x.proto;
      break;
    case Family::kBridge:
      entry.ebt.ethproto = htons(x.proto);
      break;
    case Family::kArp:
      entry.arpt.arp.arhln_mask = 0xff;
      entry.arpt.arp.arhln = 6;
      break;
    default:
      break;
  }
  std::unique_ptr<xt_xlate, XlateFree> xl(xt_xlate_alloc(10240));
  if (!xl) return std::nullopt;
  int rc = 0;
  if (!x.target) {
    xtables_match* mt = xtables_find_match(x.name.c_str(), XTF_TRY_LOAD, nullptr);
    // The extension reads its whole struct: data shorter than that is not translated.
    if (mt == nullptr || mt->xlate == nullptr || x.info.size() < mt->size) return std::nullopt;
    auto buf = EntryData<xt_entry_match>(x);
    auto* m = reinterpret_cast<xt_entry_match*>(buf.data());
    xt_xlate_mt_params params{};
    params.ip = &entry;
    params.match = m;
    params.numeric = 1;
    rc = mt->xlate(xl.get(), &params);
  } else {
    xtables_target* tg = xtables_find_target(x.name.c_str(), XTF_TRY_LOAD);
    if (tg == nullptr || tg->xlate == nullptr || x.info.size() < tg->size) return std::nullopt;
    auto buf = EntryData<xt_entry_target>(x);
    auto* t = reinterpret_cast<xt_entry_target*>(buf.data());
    std::strncpy(t->u.user.name, tg->name, sizeof(t->u.user.name) - 1);
    xt_xlate_tg_params params{};
    params.ip = &entry;
    params.target = t;
    params.numeric = 1;
    rc = tg->xlate(xl.get(), &params);
  }
  if (rc != 1) return std::nullopt;
  const char* out = xt_xlate_get(xl.get());
  return std::string(out != nullptr ? out : "");
}

}  // namespace fwgate::nft
