// The traffic confirmation's kernel messages, built and parsed back without a kernel: conntrack
// entries (ctnetlink), crafted packets (headers, checksums, malformations), nftrace events.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <cstring>
#include <vector>

#include "sys/ct_entries.h"
#include "sys/nft_trace.h"
#include "sys/packet_io.h"

namespace sys = fwgate::sys;

namespace {

sys::CtTuple Tcp4(const char* src, const char* dst, uint16_t sp, uint16_t dp) {
  sys::CtTuple t;
  t.family = AF_INET;
  inet_pton(AF_INET, src, t.src.data());
  inet_pton(AF_INET, dst, t.dst.data());
  t.proto = IPPROTO_TCP;
  t.sport = sp;
  t.dport = dp;
  return t;
}

// The kernel answers a create with the entry in a CT_NEW message: the same attributes.
TEST(CtEntries, CreateMessageParsesBackToTheSameEntry) {
  sys::CtEntrySpec spec;
  spec.orig = Tcp4("192.0.2.1", "198.51.100.1", 40000, 22);
  spec.timeout_s = 120;
  spec.mark = 7;
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  auto n = sys::BuildCtCreate(spec, false, buf.data(), buf.size());
  ASSERT_TRUE(n) << n.error().ToString();
  auto* nlh = reinterpret_cast<nlmsghdr*>(buf.data());
  EXPECT_EQ(nlh->nlmsg_len, *n);
  EXPECT_TRUE(nlh->nlmsg_flags & NLM_F_CREATE);
  EXPECT_TRUE(nlh->nlmsg_flags & NLM_F_EXCL);
  auto e = sys::ParseCtEntry(nlh);
  ASSERT_TRUE(e) << e.error().ToString();
  EXPECT_EQ(e->orig, spec.orig);
  EXPECT_EQ(e->reply, spec.orig.Reversed());
  // The requested bits (libnetfilter_conntrack marks a created entry CONFIRMED as well).
  uint32_t want = sys::kCtStatusSeenReply | sys::kCtStatusAssured;
  EXPECT_EQ(e->status & want, want);
  ASSERT_TRUE(e->tcp_state.has_value());
  EXPECT_EQ(*e->tcp_state, sys::TcpState::kEstablished);
  EXPECT_EQ(e->timeout_s, 120u);
  EXPECT_EQ(e->mark, 7u);
}

TEST(CtEntries, UpdateIsNotExclusiveAndIpv6TuplesRoundTrip) {
  sys::CtEntrySpec spec;
  spec.orig.family = AF_INET6;
  inet_pton(AF_INET6, "2001:db8::1", spec.orig.src.data());
  inet_pton(AF_INET6, "2001:db8::2", spec.orig.dst.data());
  spec.orig.proto = IPPROTO_UDP;
  spec.orig.sport = 5353;
  spec.orig.dport = 53;
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  auto n = sys::BuildCtCreate(spec, true, buf.data(), buf.size());
  ASSERT_TRUE(n);
  auto* nlh = reinterpret_cast<nlmsghdr*>(buf.data());
  EXPECT_FALSE(nlh->nlmsg_flags & NLM_F_EXCL);
  auto e = sys::ParseCtEntry(nlh);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->orig, spec.orig);
  EXPECT_FALSE(e->tcp_state.has_value());
}

TEST(CtEntries, RejectsUnknownFamiliesAndForeignMessages) {
  sys::CtEntrySpec spec;
  spec.orig.family = 99;
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  EXPECT_FALSE(sys::BuildCtCreate(spec, false, buf.data(), buf.size()));
  size_t n = sys::BuildCtDump(AF_INET, false, buf.data(), buf.size());
  EXPECT_GT(n, 0u);
  auto* nlh = reinterpret_cast<nlmsghdr*>(buf.data());
  EXPECT_TRUE(nlh->nlmsg_flags & NLM_F_DUMP);
  EXPECT_FALSE(sys::ParseCtEntry(nlh));  // a GET request is not an entry
}

TEST(PacketIo, TcpPacketHasValidChecksumsAndParsesBack) {
  sys::PacketSpec s;
  inet_pton(AF_INET, "192.0.2.1", s.src.data());
  inet_pton(AF_INET, "198.51.100.1", s.dst.data());
  s.sport = 40000;
  s.dport = 22;
  s.tcp_flags = 0x02;
  s.marker = 0xbeef;
  auto b = sys::CraftPacket(s);
  ASSERT_EQ(b.size(), 40u);
  EXPECT_EQ(sys::InetChecksum(b.data(), 20), 0);  // a valid header sums to zero
  // TCP checksum over the pseudo header and the segment.
  uint32_t pseudo = 0;
  for (int i = 12; i < 20; i += 2) pseudo += (b[i] << 8) | b[i + 1];
  pseudo += IPPROTO_TCP + 20;
  EXPECT_EQ(sys::InetChecksum(b.data() + 20, 20, pseudo), 0);
  auto p = sys::ParsePacket(b);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->sport, 40000);
  EXPECT_EQ(p->dport, 22);
  EXPECT_EQ(p->tcp_flags, 0x02);
  EXPECT_EQ(p->marker, 0xbeefu);
  EXPECT_EQ(p->malformed, sys::PacketSpec::Malformed::kNone);
}

TEST(PacketIo, MalformedPacketsKeepTheirPortsAndFlags) {
  sys::PacketSpec s;
  s.sport = 1;
  s.dport = 2;
  s.tcp_flags = 0x10;
  s.malformed = sys::PacketSpec::Malformed::kTcpDataOffset;
  auto p = sys::ParsePacket(sys::CraftPacket(s));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->malformed, sys::PacketSpec::Malformed::kTcpDataOffset);
  EXPECT_EQ(p->tcp_flags, 0x10);
  s.proto = IPPROTO_UDP;
  s.malformed = sys::PacketSpec::Malformed::kUdpLength;
  p = sys::ParsePacket(sys::CraftPacket(s));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->malformed, sys::PacketSpec::Malformed::kUdpLength);
  EXPECT_EQ(p->dport, 2);
}

TEST(PacketIo, Icmpv6ErrorQuotesThePacketAndSumsToZero) {
  sys::PacketSpec inner;
  inner.family = AF_INET6;
  inet_pton(AF_INET6, "2001:db8::2", inner.src.data());
  inet_pton(AF_INET6, "2001:db8::1", inner.dst.data());
  inner.sport = 40001;
  inner.dport = 443;
  sys::PacketSpec s;
  s.family = AF_INET6;
  s.src = inner.dst;
  s.dst = inner.src;
  s.proto = IPPROTO_ICMPV6;
  s.icmp_type = 1;
  s.icmp_code = 3;
  s.quoted = sys::CraftPacket(inner);
  s.marker = 0x12345;
  auto b = sys::CraftPacket(s);
  ASSERT_EQ(b.size(), 40u + 8u + 60u);
  uint32_t pseudo = 0;
  for (int i = 8; i < 40; i += 2) pseudo += (b[i] << 8) | b[i + 1];
  pseudo += IPPROTO_ICMPV6 + (b.size() - 40);
  EXPECT_EQ(sys::InetChecksum(b.data() + 40, b.size() - 40, pseudo), 0);
  auto p = sys::ParsePacket(b);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->marker, 0x12345u);
  EXPECT_EQ(p->quoted, s.quoted);
}

// A trace event as the kernel sends it (nf_tables_trace.c): attributes in a NFT_MSG_TRACE.
TEST(NftTrace, ParsesRuleVerdictsAndPolicies) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_TRACE;
  auto* g = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  g->nfgen_family = NFPROTO_INET;
  mnl_attr_put_strz(nlh, NFTA_TRACE_TABLE, "storage");
  mnl_attr_put_strz(nlh, NFTA_TRACE_CHAIN, "input");
  mnl_attr_put_u32(nlh, NFTA_TRACE_TYPE, htonl(NFT_TRACETYPE_RULE));
  mnl_attr_put_u32(nlh, NFTA_TRACE_ID, htonl(77));
  mnl_attr_put_u64(nlh, NFTA_TRACE_RULE_HANDLE, htobe64(9));
  nlattr* v = mnl_attr_nest_start(nlh, NFTA_TRACE_VERDICT);
  mnl_attr_put_u32(nlh, NFTA_VERDICT_CODE, htonl(static_cast<uint32_t>(NFT_JUMP)));
  mnl_attr_put_strz(nlh, NFTA_VERDICT_CHAIN, "st_new");
  mnl_attr_nest_end(nlh, v);
  mnl_attr_put_u32(nlh, NFTA_TRACE_NFPROTO, htonl(NFPROTO_IPV4));
  uint8_t hdr[20] = {0x45};
  mnl_attr_put(nlh, NFTA_TRACE_NETWORK_HEADER, sizeof hdr, hdr);
  auto e = sys::ParseTraceEvent(nlh);
  ASSERT_TRUE(e) << e.error().ToString();
  EXPECT_EQ(e->type, sys::TraceEvent::Type::kRule);
  EXPECT_EQ(e->id, 77u);
  EXPECT_EQ(e->table, "storage");
  EXPECT_EQ(e->chain, "input");
  ASSERT_TRUE(e->rule_handle);
  EXPECT_EQ(*e->rule_handle, 9u);
  ASSERT_TRUE(e->verdict);
  EXPECT_EQ(*e->verdict, NFT_JUMP);
  EXPECT_EQ(e->jump_target, "st_new");
  EXPECT_EQ(e->nfproto, NFPROTO_IPV4);
  EXPECT_EQ(e->network_header.size(), 20u);

  nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_TRACE;
  g = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  g->nfgen_family = NFPROTO_INET;
  mnl_attr_put_strz(nlh, NFTA_TRACE_TABLE, "storage");
  mnl_attr_put_strz(nlh, NFTA_TRACE_CHAIN, "input");
  mnl_attr_put_u32(nlh, NFTA_TRACE_TYPE, htonl(NFT_TRACETYPE_POLICY));
  mnl_attr_put_u32(nlh, NFTA_TRACE_ID, htonl(77));
  mnl_attr_put_u32(nlh, NFTA_TRACE_POLICY, htonl(NF_DROP));
  e = sys::ParseTraceEvent(nlh);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type, sys::TraceEvent::Type::kPolicy);
  ASSERT_TRUE(e->verdict);
  EXPECT_EQ(*e->verdict, NF_DROP);
  EXPECT_FALSE(e->rule_handle);
}

TEST(NftTrace, RefusesOtherMessages) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWRULE;
  mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg));
  EXPECT_FALSE(sys::ParseTraceEvent(nlh));
}

}  // namespace
