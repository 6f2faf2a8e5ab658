#include "sys/conntrack_stats.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <charconv>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include "sys/netlink_socket.h"

namespace fwgate::sys {
namespace {

// Lower-case names as `conntrack -S` prints them, indexed by CTA_STATS_* (facts/netlink.md §4.6).
constexpr std::array<const char*, CTA_STATS_MAX + 1> kCpuAttrNames = {
    nullptr,     // UNSPEC
    "searched",  // no longer sent (4.4 era only)
    "found",         "new",           "invalid", "ignore",     "delete", "delete_list",
    "insert",        "insert_failed", "drop",    "early_drop", "error",  "search_restart",
    "clash_resolve", "chaintoolong",
};
static_assert(CTA_STATS_CHAIN_TOOLONG == 15, "uapi numbering changed");

// /proc/net/stat/nf_conntrack column names whose `conntrack -S` name differs.
std::string CanonicalProcName(std::string_view col) {
  if (col == "icmp_error") return "error";
  if (col == "clashres") return "clash_resolve";
  if (col == "chainlength") return "chaintoolong";
  return std::string(col);
}

constexpr size_t kMaxAttr =
    (CTA_STATS_MAX > CTA_STATS_GLOBAL_MAX ? CTA_STATS_MAX : CTA_STATS_GLOBAL_MAX) + 1;
struct AttrTable {
  std::array<const nlattr*, kMaxAttr> tb{};
  int max = 0;
};

// mnl_attr_parse callback: keep every known, well-formed u32 attribute; skip the rest.
int CollectAttr(const nlattr* attr, void* data) {
  auto* t = static_cast<AttrTable*>(data);
  int type = mnl_attr_get_type(attr);
  if (mnl_attr_type_valid(attr, static_cast<uint16_t>(t->max)) < 0) return MNL_CB_OK;
  if (mnl_attr_validate(attr, MNL_TYPE_U32) < 0) return MNL_CB_OK;
  t->tb[static_cast<size_t>(type)] = attr;
  return MNL_CB_OK;
}

int CpuStatsCb(const nlmsghdr* nlh, void* data) {
  auto* out = static_cast<ConntrackStats*>(data);
  AttrTable t;
  t.max = CTA_STATS_MAX;
  if (mnl_attr_parse(nlh, sizeof(nfgenmsg), CollectAttr, &t) < 0) return MNL_CB_ERROR;
  for (int i = 1; i <= CTA_STATS_MAX; ++i) {
    if (t.tb[static_cast<size_t>(i)] == nullptr) continue;
    out->counters[kCpuAttrNames[static_cast<size_t>(i)]] +=
        ntohl(mnl_attr_get_u32(t.tb[static_cast<size_t>(i)]));
  }
  return MNL_CB_OK;
}

int GlobalStatsCb(const nlmsghdr* nlh, void* data) {
  auto* out = static_cast<ConntrackStats*>(data);
  AttrTable t;
  t.max = CTA_STATS_GLOBAL_MAX;
  if (mnl_attr_parse(nlh, sizeof(nfgenmsg), CollectAttr, &t) < 0) return MNL_CB_ERROR;
  if (t.tb[CTA_STATS_GLOBAL_ENTRIES] != nullptr)
    out->count = ntohl(mnl_attr_get_u32(t.tb[CTA_STATS_GLOBAL_ENTRIES]));
  if (t.tb[CTA_STATS_GLOBAL_MAX_ENTRIES] != nullptr)
    out->max = ntohl(mnl_attr_get_u32(t.tb[CTA_STATS_GLOBAL_MAX_ENTRIES]));
  return MNL_CB_OK;
}

// One ctnetlink request (no payload beyond nfgenmsg) and its replies.
Status Request(NetlinkSocket& nl, uint16_t msg_type, uint16_t flags, mnl_cb_t cb,
               ConntrackStats* out, const char* what) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = static_cast<uint16_t>((NFNL_SUBSYS_CTNETLINK << 8) | msg_type);
  nlh->nlmsg_flags = flags;
  auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  nfg->nfgen_family = AF_UNSPEC;
  nfg->version = NFNETLINK_V0;
  nfg->res_id = 0;
  return nl.Request(nlh, what, [&](const nlmsghdr* m) -> Status {
    if (cb(m, out) == MNL_CB_ERROR)
      return Error::Unavailable(std::string(what) + ": malformed reply");
    return OkStatus();
  });
}

Result<ConntrackStats> ReadOverNetlink() {
  auto nl = NetlinkSocket::Open(NETLINK_NETFILTER);
  if (!nl) return nl.error().Wrap("ctnetlink");
  ConntrackStats stats;
  if (auto st = Request(*nl, IPCTNL_MSG_CT_GET_STATS_CPU, NLM_F_DUMP, CpuStatsCb, &stats,
                        "dumping per-CPU conntrack statistics");
      !st)
    return st.error();
  if (auto st = Request(*nl, IPCTNL_MSG_CT_GET_STATS, NLM_F_ACK, GlobalStatsCb, &stats,
                        "reading the conntrack entry count");
      !st)
    return st.error();
  return stats;
}

std::optional<uint64_t> ReadSysctlU64(const char* path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::string s;
  std::getline(in, s);
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p == s.data()) return std::nullopt;
  return v;
}

Result<ConntrackStats> ReadOverProcfs() {
  std::ifstream in("/proc/thread-self/net/stat/nf_conntrack");
  if (!in) {
    return Error::FromErrno(errno ? errno : ENOENT,
                            "reading /proc/net/stat/nf_conntrack (is nf_conntrack loaded?)");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto stats = ParseProcConntrackStats(ss.str());
  if (!stats) return stats;
  if (auto c = ReadSysctlU64("/proc/sys/net/netfilter/nf_conntrack_count")) stats->count = c;
  return stats;
}

bool IsColumnName(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (unsigned char c : s) {
    if (!(std::islower(c) || std::isdigit(c) || c == '_')) return false;
  }
  return true;
}

std::vector<std::string_view> SplitWs(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

}  // namespace

uint64_t ConntrackStats::Get(std::string_view name) const {
  auto it = counters.find(std::string(name));
  return it == counters.end() ? 0 : it->second;
}

ConntrackStats ConntrackStats::DeltaSince(const ConntrackStats& earlier) const {
  ConntrackStats d;
  d.count = count;
  d.max = max;
  for (const auto& [name, v] : counters) {
    uint64_t before = earlier.Get(name);
    d.counters[name] = v > before ? v - before : 0;
  }
  return d;
}

Result<ConntrackStats> ParseProcConntrackStats(std::string_view text) {
  // A real file has one header and one row per possible CPU (<= 8192): a few hundred KiB at most.
  constexpr size_t kMaxText = 4u << 20;
  constexpr size_t kMaxRows = 8192;
  if (text.size() > kMaxText) return Error::Unavailable("conntrack statistics text too large");
  size_t eol = text.find('\n');
  std::string_view header = text.substr(0, eol);
  std::vector<std::string_view> cols = SplitWs(header);
  if (cols.empty()) return Error::Unavailable("conntrack statistics: empty text");
  if (cols.size() > 64) return Error::Unavailable("conntrack statistics: too many columns");
  for (std::string_view c : cols) {
    if (!IsColumnName(c)) {
      return Error::Unavailable("conntrack statistics: header is not a list of column names");
    }
  }
  ConntrackStats stats;
  size_t rows = 0;
  size_t pos = eol == std::string_view::npos ? text.size() : eol + 1;
  size_t line_no = 1;
  while (pos < text.size()) {
    size_t next = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos);
    pos = next == std::string_view::npos ? text.size() : next + 1;
    ++line_no;
    std::vector<std::string_view> fields = SplitWs(line);
    if (fields.empty()) continue;
    if (fields.size() != cols.size()) {
      return Error::Unavailable("conntrack statistics line " + std::to_string(line_no) + ": " +
                                std::to_string(fields.size()) + " fields, header names " +
                                std::to_string(cols.size()));
    }
    if (++rows > kMaxRows) return Error::Unavailable("conntrack statistics: too many rows");
    for (size_t i = 0; i < cols.size(); ++i) {
      std::string_view f = fields[i];
      uint64_t v = 0;
      if (f.size() > 16) return Error::Unavailable("conntrack statistics: value too long");
      auto [p, ec] = std::from_chars(f.data(), f.data() + f.size(), v, 16);
      if (ec != std::errc() || p != f.data() + f.size()) {
        return Error::Unavailable("conntrack statistics line " + std::to_string(line_no) +
                                  ": not a hex number: '" + std::string(f.substr(0, 32)) + "'");
      }
      if (cols[i] == "entries") {
        // Every row repeats the per-netns count (not per CPU).
        stats.count = v;
        continue;
      }
      uint64_t& slot = stats.counters[CanonicalProcName(cols[i])];
      slot = (slot + v < slot) ? UINT64_MAX : slot + v;
    }
  }
  if (rows == 0) return Error::Unavailable("conntrack statistics: no CPU rows (truncated?)");
  return stats;
}

Result<ConntrackStats> ReadConntrackStats() {
  auto nl = ReadOverNetlink();
  if (nl) {
    ConntrackStats s = std::move(nl).value();
    if (!s.max) s.max = ReadSysctlU64("/proc/sys/net/netfilter/nf_conntrack_max");
    if (!s.count) s.count = ReadSysctlU64("/proc/sys/net/netfilter/nf_conntrack_count");
    return s;
  }
  auto proc = ReadOverProcfs();
  if (!proc) {
    return Error{proc.error().kind, proc.error().code,
                 nl.error().ToString() + "; fallback: " + proc.error().context};
  }
  if (!proc->max) proc->max = ReadSysctlU64("/proc/sys/net/netfilter/nf_conntrack_max");
  return proc;
}

}  // namespace fwgate::sys
