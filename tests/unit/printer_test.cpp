// The nft-syntax printer on hand-built models: each construct's exact text, and hostile models
// (bad lengths, unloaded registers, missing attributes) falling back to low-level form.
#include "gate/nft/printer.h"

// libc's netinet headers before the kernel's (linux/libc-compat.h then defers to them).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
// clang-format off
#include <linux/netfilter.h>
#include <linux/netfilter/nf_log.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_synproxy.h>
#include <linux/netfilter/nf_tables.h>
// clang-format on

#include <cstring>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "gate/nft/print_keys.h"

namespace nft = fwgate::nft;
using nft::Bytes;
using nft::Expr;

namespace {

Expr E(std::string kind) {
  Expr e;
  e.kind = std::move(kind);
  return e;
}
Expr Meta(uint64_t key, uint64_t dreg = 1) { return E("meta").Set("key", key).Set("dreg", dreg); }
Expr Ct(uint64_t key, uint64_t dreg = 1) { return E("ct").Set("key", key).Set("dreg", dreg); }
Expr Payload(uint64_t base, uint64_t off, uint64_t len, uint64_t dreg = 1) {
  return E("payload").Set("dreg", dreg).Set("base", base).Set("offset", off).Set("len", len);
}
Expr Cmp(Bytes data, uint64_t op = 0, uint64_t sreg = 1) {
  return E("cmp").Set("sreg", sreg).Set("op", op).Set("data", std::move(data));
}
Expr Bitwise(Bytes mask, uint64_t reg = 1) {
  Bytes x(mask.size(), 0);
  return E("bitwise")
      .Set("sreg", reg)
      .Set("dreg", reg)
      .Set("len", uint64_t{mask.size()})
      .Set("mask", std::move(mask))
      .Set("xor", std::move(x));
}
Expr Verdict(int32_t v, std::string chain = "") {
  Expr e =
      E("immediate").Set("dreg", uint64_t{0}).Set("verdict", uint64_t{static_cast<uint32_t>(v)});
  if (!chain.empty()) e.Set("chain", chain);
  return e;
}
Expr Imm(Bytes data, uint64_t dreg = 1) {
  return E("immediate").Set("dreg", dreg).Set("data", std::move(data));
}

nft::Table Inet() {
  nft::Table t;
  t.family = nft::Family::kInet;
  t.name = "f";
  return t;
}

std::string Text(const nft::Table& t, std::vector<Expr> exprs, nft::PrintOptions o = {}) {
  nft::Rule r;
  r.exprs = std::move(exprs);
  return nft::RuleText(t, r, o);
}

std::vector<Expr> TcpDport(Bytes port) {
  return {Meta(16), Cmp({6}), Payload(2, 2, 2), Cmp(std::move(port))};
}

TEST(Printer, CtStateFlagsAccept) {
  EXPECT_EQ(Text(Inet(), {Ct(0), Bitwise({6, 0, 0, 0}), Cmp({0, 0, 0, 0}, 1), Verdict(1)}),
            "ct state established,related accept");
  EXPECT_EQ(Text(Inet(), {Ct(0), Cmp({1, 0, 0, 0}, 1)}), "ct state != invalid");
}

TEST(Printer, TcpDportConsumesL4protoDependency) {
  auto r = TcpDport({0, 22});
  r.push_back(Verdict(1));
  EXPECT_EQ(Text(Inet(), r), "tcp dport 22 accept");
}

TEST(Printer, L4protoWithoutFollowerIsPrinted) {
  EXPECT_EQ(Text(Inet(), {Meta(16), Cmp({6})}), "meta l4proto tcp");
}

TEST(Printer, TransportWithoutContextIsTh) {
  EXPECT_EQ(Text(Inet(), {Payload(2, 2, 2), Cmp({0, 53})}), "th dport 53");
}

TEST(Printer, IpPrefixFromShortLoadInInet) {
  EXPECT_EQ(Text(Inet(), {Meta(15), Cmp({2}), Payload(1, 12, 1), Cmp({10})}),
            "ip saddr 10.0.0.0/8");
  EXPECT_EQ(Text(Inet(), {Meta(15), Cmp({2}), Payload(1, 12, 4), Bitwise({0xff, 0xff, 0xf0, 0}),
                          Cmp({10, 0, 0, 0})}),
            "ip saddr 10.0.0.0/20");
}

TEST(Printer, NetworkPayloadWithoutContextIsRaw) {
  EXPECT_EQ(Text(Inet(), {Payload(1, 12, 4), Cmp({10, 0, 0, 1})}), "@nh,96,32 167772161");
}

TEST(Printer, BitfieldsDscpAndFlowlabel) {
  nft::Table ip = Inet();
  ip.family = nft::Family::kIp;
  EXPECT_EQ(Text(ip, {Payload(1, 1, 1), Bitwise({0xfc}), Cmp({0x20})}), "ip dscp cs1");
  nft::Table ip6 = Inet();
  ip6.family = nft::Family::kIp6;
  EXPECT_EQ(Text(ip6, {Payload(1, 1, 3), Bitwise({0x0f, 0xff, 0xff}), Cmp({0, 0, 5})}),
            "ip6 flowlabel 5");
}

TEST(Printer, TcpFlagsWithMask) {
  auto base = std::vector<Expr>{Meta(16), Cmp({6}), Payload(2, 13, 1)};
  auto syn = base;
  syn.push_back(Bitwise({0x02}));
  syn.push_back(Cmp({0}, 1));
  EXPECT_EQ(Text(Inet(), syn), "tcp flags syn");
  auto masked = base;
  masked.push_back(Bitwise({0x17}));
  masked.push_back(Cmp({0x02}));
  EXPECT_EQ(Text(Inet(), masked), "tcp flags syn / fin,syn,rst,ack");
}

TEST(Printer, RangesFromTwoCmpsAndRangeExpr) {
  auto r = std::vector<Expr>{Meta(16), Cmp({6}), Payload(2, 2, 2), Cmp({0x1a, 0x90}, 5),
                             Cmp({0x1c, 0x84}, 3)};
  EXPECT_EQ(Text(Inet(), r), "tcp dport 6800-7300");
  auto neq = std::vector<Expr>{Meta(16), Cmp({6}), Payload(2, 2, 2),
                               E("range")
                                   .Set("sreg", uint64_t{1})
                                   .Set("op", uint64_t{1})
                                   .Set("from_data", Bytes{0x1a, 0x90})
                                   .Set("to_data", Bytes{0x1c, 0x84})};
  EXPECT_EQ(Text(Inet(), neq), "tcp dport != 6800-7300");
}

TEST(Printer, InterfaceNamesWildcardAndIndex) {
  Bytes lo(16, 0);
  lo[0] = 'l';
  lo[1] = 'o';
  EXPECT_EQ(Text(Inet(), {Meta(6), Cmp({'e', 't', 'h'})}), "iifname \"eth*\"");
  EXPECT_EQ(Text(Inet(), {Meta(7), Cmp(lo)}), "oifname \"lo\"");
  nft::PrintOptions o;
  o.interface_names[1] = "lo";
  EXPECT_EQ(Text(Inet(), {Meta(4), Cmp({1, 0, 0, 0})}, o), "iif \"lo\"");
  EXPECT_EQ(Text(Inet(), {Meta(4), Cmp({7, 0, 0, 0})}, o), "iif 7");
}

TEST(Printer, MetaAndCtSet) {
  EXPECT_EQ(
      Text(Inet(), {Imm({1, 0, 0, 0}), E("meta").Set("key", uint64_t{3}).Set("sreg", uint64_t{1})}),
      "meta mark set 0x00000001");
  EXPECT_EQ(Text(Inet(), {Meta(3), E("ct").Set("key", uint64_t{3}).Set("sreg", uint64_t{1})}),
            "ct mark set meta mark");
  EXPECT_EQ(
      Text(Inet(),
           {Imm({2, 0}),
            E("ct").Set("key", uint64_t{17}).Set("sreg", uint64_t{1}).Set("dir", uint64_t{0})}),
      "ct original zone set 2");
}

nft::Set AnonSet(std::string name, uint32_t key_type, uint32_t key_len, uint32_t flags = 0x3) {
  nft::Set s;
  s.name = std::move(name);
  s.flags = flags;
  s.key_type = key_type;
  s.key_len = key_len;
  return s;
}

TEST(Printer, AnonymousIntervalSetInlineSorted) {
  nft::Table t = Inet();
  nft::Set s = AnonSet("__set0", 13, 2, 0x7);
  // As the kernel lists them: reverse order, end markers flagged.
  s.elements.push_back({.key = {0x1c, 0x85}, .flags = 1});
  s.elements.push_back({.key = {0x1a, 0x90}});
  s.elements.push_back({.key = {0x00, 0x51}, .flags = 1});
  s.elements.push_back({.key = {0x00, 0x50}});
  s.elements.push_back({.key = {0x00, 0x17}, .flags = 1});
  s.elements.push_back({.key = {0x00, 0x16}});
  s.elements.push_back({.key = {0x00, 0x00}, .flags = 1});
  t.sets.push_back(s);
  auto r = std::vector<Expr>{Meta(16), Cmp({6}), Payload(2, 2, 2),
                             E("lookup")
                                 .Set("sreg", uint64_t{1})
                                 .Set("set", std::string("__set0"))
                                 .Set("flags", uint64_t{0}),
                             E("counter").Set("packets", uint64_t{3}).Set("bytes", uint64_t{180})};
  EXPECT_EQ(Text(t, r), "tcp dport { 22, 80, 6800-7300 } counter packets 3 bytes 180");
  nft::PrintOptions no_counters;
  no_counters.counters = false;
  EXPECT_EQ(Text(t, r, no_counters), "tcp dport { 22, 80, 6800-7300 } counter");
}

TEST(Printer, NamedSetLookupInvertedAndConcat) {
  nft::Table t = Inet();
  t.sets.push_back(AnonSet("s4", 7, 4, 0x4));
  t.sets.push_back(AnonSet("sc", (7 << 6) | 13, 8, 0x80));
  EXPECT_EQ(Text(t, {Meta(15), Cmp({2}), Payload(1, 12, 4),
                     E("lookup")
                         .Set("sreg", uint64_t{1})
                         .Set("set", std::string("s4"))
                         .Set("flags", uint64_t{1})}),
            "ip saddr != @s4");
  EXPECT_EQ(Text(t, {Meta(15), Cmp({2}), Meta(16), Cmp({6}), Payload(1, 12, 4), Payload(2, 2, 2, 9),
                     E("lookup").Set("sreg", uint64_t{1}).Set("set", std::string("sc"))}),
            "ip saddr . tcp dport @sc");
}

TEST(Printer, VerdictMapInline) {
  nft::Table t = Inet();
  nft::Set m = AnonSet("__map0", 13, 2, 0x3 | 0x8);
  m.data_type = 0xffffff00;
  m.elements.push_back({.key = {0, 80}, .verdict = -3, .chain = "web"});
  m.elements.push_back({.key = {0, 22}, .verdict = 1});
  t.sets.push_back(m);
  auto r = TcpDport({});
  r.pop_back();
  r.push_back(E("lookup")
                  .Set("sreg", uint64_t{1})
                  .Set("dreg", uint64_t{0})
                  .Set("set", std::string("__map0")));
  EXPECT_EQ(Text(t, r), "tcp dport vmap { 22 : accept, 80 : jump web }");
}

TEST(Printer, DnatFromMapAndImmediates) {
  nft::Table t = Inet();
  t.family = nft::Family::kIp;
  nft::Set m = AnonSet("__map0", 7, 4, 0x3 | 0x8);
  m.data_type = 7;
  m.data_len = 4;
  m.elements.push_back({.key = {1, 1, 1, 1}, .data = {2, 2, 2, 2}});
  t.sets.push_back(m);
  EXPECT_EQ(Text(t, {Payload(1, 12, 4),
                     E("lookup")
                         .Set("sreg", uint64_t{1})
                         .Set("dreg", uint64_t{1})
                         .Set("set", std::string("__map0")),
                     E("nat")
                         .Set("type", uint64_t{1})
                         .Set("family", uint64_t{2})
                         .Set("reg_addr_min", uint64_t{1})
                         .Set("reg_addr_max", uint64_t{1})}),
            "dnat to ip saddr map { 1.1.1.1 : 2.2.2.2 }");
  auto r = TcpDport({0, 80});
  r.push_back(Imm({10, 0, 0, 1}, 1));
  r.push_back(Imm({0x1f, 0x90}, 2));
  r.push_back(E("nat")
                  .Set("type", uint64_t{1})
                  .Set("family", uint64_t{2})
                  .Set("reg_addr_min", uint64_t{1})
                  .Set("reg_addr_max", uint64_t{1})
                  .Set("reg_proto_min", uint64_t{2})
                  .Set("reg_proto_max", uint64_t{2})
                  .Set("flags", uint64_t{0xf}));
  EXPECT_EQ(Text(t, r), "tcp dport 80 dnat to 10.0.0.1:8080 random,persistent");
}

TEST(Printer, StatementsLogLimitQuotaReject) {
  nft::Table t = Inet();
  EXPECT_EQ(Text(t, {E("log").Set("prefix", std::string("x: ")).Set("level", uint64_t{4})}),
            "log prefix \"x: \"");
  EXPECT_EQ(Text(t, {E("log").Set("level", uint64_t{7}).Set("flags", uint64_t{0x2f})}),
            "log level debug flags all");
  EXPECT_EQ(Text(t, {E("limit")
                         .Set("rate", uint64_t{5})
                         .Set("unit", uint64_t{1})
                         .Set("burst", uint64_t{10})
                         .Set("type", uint64_t{0})}),
            "limit rate 5/second burst 10 packets");
  EXPECT_EQ(Text(t, {E("limit")
                         .Set("rate", uint64_t{10240})
                         .Set("unit", uint64_t{1})
                         .Set("burst", uint64_t{20})
                         .Set("type", uint64_t{1})
                         .Set("flags", uint64_t{1})}),
            "limit rate over 10 kbytes/second burst 20 bytes");
  EXPECT_EQ(Text(t, {E("quota").Set("bytes", uint64_t{1048576}).Set("flags", uint64_t{1})}),
            "quota over 1 mbytes");
  EXPECT_EQ(Text(t, {E("reject").Set("type", uint64_t{2}).Set("code", uint64_t{3})}),
            "reject with icmpx admin-prohibited");
  EXPECT_EQ(Text(t, {E("reject").Set("type", uint64_t{2}).Set("code", uint64_t{1})}), "reject");
  auto rst = TcpDport({0, 1});
  rst.push_back(E("reject").Set("type", uint64_t{1}).Set("code", uint64_t{0}));
  EXPECT_EQ(Text(t, rst), "tcp dport 1 reject with tcp reset");
  EXPECT_EQ(
      Text(t, {Meta(15), Cmp({2}), E("reject").Set("type", uint64_t{0}).Set("code", uint64_t{1})}),
      "reject with icmp host-unreachable");
}

TEST(Printer, ObjrefDynsetNotrackJump) {
  nft::Table t = Inet();
  nft::Set d = AnonSet("d", 7, 4, 0x10 | 0x20);
  t.sets.push_back(d);
  EXPECT_EQ(Text(t, {E("objref").Set("imm_type", uint64_t{1}).Set("imm_name", std::string("cnt"))}),
            "counter name \"cnt\"");
  EXPECT_EQ(Text(t, {E("objref").Set("imm_type", uint64_t{3}).Set("imm_name", std::string("ftp"))}),
            "ct helper set \"ftp\"");
  Expr dyn =
      E("dynset").Set("sreg_key", uint64_t{1}).Set("op", uint64_t{1}).Set("set", std::string("d"));
  dyn.nested.push_back(
      E("limit").Set("rate", uint64_t{10}).Set("unit", uint64_t{60}).Set("burst", uint64_t{5}));
  EXPECT_EQ(Text(t, {Meta(15), Cmp({2}), Payload(1, 12, 4), dyn}),
            "update @d { ip saddr limit rate 10/minute }");
  EXPECT_EQ(Text(t, {E("notrack"), Verdict(-3, "web")}), "notrack jump web");
}

TEST(Printer, FibNumgenHashExthdr) {
  nft::Table t = Inet();
  t.family = nft::Family::kIp;
  EXPECT_EQ(
      Text(t,
           {E("fib").Set("dreg", uint64_t{1}).Set("result", uint64_t{3}).Set("flags", uint64_t{2}),
            Cmp({2, 0, 0, 0})}),
      "fib daddr type local");
  EXPECT_EQ(Text(t, {E("fib")
                         .Set("dreg", uint64_t{1})
                         .Set("result", uint64_t{1})
                         .Set("flags", uint64_t{1 | 8 | 32}),
                     Cmp({0, 0, 0, 0}), Verdict(0)}),
            "fib saddr . iif oif missing drop");
  EXPECT_EQ(Text(t, {E("numgen")
                         .Set("dreg", uint64_t{1})
                         .Set("modulus", uint64_t{2})
                         .Set("type", uint64_t{0})
                         .Set("offset", uint64_t{5}),
                     Cmp({1, 0, 0, 0})}),
            "numgen inc mod 2 offset 5 1");
  EXPECT_EQ(Text(t, {Payload(1, 12, 4, 2),
                     E("hash")
                         .Set("sreg", uint64_t{2})
                         .Set("dreg", uint64_t{1})
                         .Set("len", uint64_t{4})
                         .Set("modulus", uint64_t{10})
                         .Set("seed", uint64_t{0xde})
                         .Set("type", uint64_t{0}),
                     Cmp({5, 0, 0, 0})}),
            "jhash ip saddr mod 10 seed 0xde 5");
  EXPECT_EQ(Text(t, {E("exthdr")
                         .Set("dreg", uint64_t{1})
                         .Set("type", uint64_t{2})
                         .Set("offset", uint64_t{2})
                         .Set("len", uint64_t{2})
                         .Set("op", uint64_t{1}),
                     Cmp({0x05, 0xb4})}),
            "tcp option maxseg size 1460");
}

TEST(Printer, CommentAndHandle) {
  nft::Rule r;
  r.handle = 7;
  r.exprs = {Verdict(1)};
  r.comment = "keep \"open\"";
  nft::PrintOptions o;
  o.handles = true;
  EXPECT_EQ(nft::RuleText(Inet(), r, o), "accept comment \"keep \\\"open\\\"\" # handle 7");
}

// --- hostile models -----------------------------------------------------------------------------

TEST(PrinterFallback, CmpOnUnloadedRegisterIsLowLevel) {
  nft::Rule r;
  r.exprs = {Cmp({1, 2}), Verdict(1)};
  auto rr = nft::RenderRule(Inet(), r);
  EXPECT_EQ(rr.fallback_exprs, 1U);
  EXPECT_EQ(rr.text, "[cmp sreg=1 op=0 data=0x0102] accept");
  EXPECT_EQ(rr.covered, (std::vector<bool>{false, true}));
}

TEST(PrinterFallback, MalformedExpressionsNeverCrashOrVanish) {
  std::vector<Expr> hostile = {
      E("payload"),                               // no attributes
      Payload(1, 12, 0),                          // zero length
      Payload(9, 0, 4),                           // unknown base
      E("cmp").Set("sreg", uint64_t{1}),          // no data
      Meta(999),                                  // unknown key
      E("meta").Set("key", std::string("mark")),  // wrong attribute type
      E("lookup").Set("sreg", uint64_t{1}).Set("set", std::string("nope")),
      E("immediate")
          .Set("dreg", uint64_t{0})
          .Set("verdict", uint64_t{static_cast<uint32_t>(-3)}),  // jump w/o chain
      E("bitwise").Set("sreg", uint64_t{77}),
      E("nat").Set("type", uint64_t{1}).Set("reg_addr_min", uint64_t{3}),
      E("mystery").Set("raw", std::string("[ mystery ]")),
      Cmp({1}, 99),
  };
  for (const auto& e : hostile) {
    nft::Rule r;
    r.exprs = {e};
    auto rr = nft::RenderRule(Inet(), r);
    EXPECT_EQ(rr.fallback_exprs, 1U) << rr.text;
    EXPECT_EQ(rr.text, nft::LowLevelText(e));
  }
}

TEST(PrinterFallback, TruncatedSetElementsDoNotCrash) {
  nft::Table t = Inet();
  nft::Set s = AnonSet("__set0", (7 << 6) | 13, 8, 0x3 | 0x80);
  s.elements.push_back({.key = {10, 0}});  // truncated concatenation
  t.sets.push_back(s);
  nft::Rule r;
  r.exprs = {Meta(15),
             Cmp({2}),
             Meta(16),
             Cmp({6}),
             Payload(1, 12, 4),
             Payload(2, 2, 2, 9),
             E("lookup").Set("sreg", uint64_t{1}).Set("set", std::string("__set0"))};
  auto rr = nft::RenderRule(t, r);
  EXPECT_GE(rr.fallback_exprs, 1U);
  EXPECT_NE(rr.text.find("[lookup"), std::string::npos);
  (void)nft::ElementTexts(t, s);
}

TEST(PrinterFallback, LoadNeverUsedIsShown) {
  nft::Rule r;
  r.exprs = {Meta(3), Verdict(1)};
  auto rr = nft::RenderRule(Inet(), r);
  EXPECT_EQ(rr.fallback_exprs, 1U);
  EXPECT_EQ(rr.text, "[meta key=3 dreg=1] accept");
}

// --- declarations -------------------------------------------------------------------------------

TEST(PrinterDecl, ChainHeaderPriorityNames) {
  nft::Table t = Inet();
  nft::Chain c;
  c.name = "in";
  c.base = nft::BaseChain{.type = "filter", .hook = 1, .priority = 10, .policy = 0};
  EXPECT_EQ(nft::ChainHeaderText(t, c),
            "type filter hook input priority filter + 10; policy drop;");
  c.base = nft::BaseChain{.type = "nat", .hook = 0, .priority = -100, .policy = 1};
  EXPECT_EQ(nft::ChainHeaderText(t, c), "type nat hook prerouting priority dstnat; policy accept;");
  c.base = nft::BaseChain{.type = "nat", .hook = 3, .priority = -100, .policy = 1};
  EXPECT_EQ(nft::ChainHeaderText(t, c), "type nat hook output priority -100; policy accept;");
  t.family = nft::Family::kNetdev;
  c.base =
      nft::BaseChain{.type = "filter", .hook = 0, .priority = 0, .policy = 1, .devices = {"lo"}};
  EXPECT_EQ(nft::ChainHeaderText(t, c),
            "type filter hook ingress device \"lo\" priority filter; policy accept;");
  t.family = nft::Family::kBridge;
  c.base = nft::BaseChain{.type = "filter", .hook = 1, .priority = -200, .policy = 1};
  EXPECT_EQ(nft::ChainHeaderText(t, c), "type filter hook input priority filter; policy accept;");
}

TEST(PrinterDecl, SetHeaderAndIntervalElements) {
  nft::Table t = Inet();
  nft::Set s = AnonSet("s4", 7, 4, 0x4);
  s.elements.push_back({.key = {192, 168, 1, 10}, .flags = 1});
  s.elements.push_back({.key = {192, 168, 1, 1}});
  s.elements.push_back({.key = {11, 0, 0, 0}, .flags = 1});
  s.elements.push_back({.key = {10, 0, 0, 0}});
  s.elements.push_back({.key = {0, 0, 0, 0}, .flags = 1});
  EXPECT_EQ(nft::SetHeaderText(t, s), "type ipv4_addr; flags interval;");
  EXPECT_EQ(nft::ElementTexts(t, s),
            (std::vector<std::string>{"10.0.0.0/8", "192.168.1.1-192.168.1.9"}));
  nft::Set d = AnonSet("d", (7 << 6) | 13, 8, 0x10 | 0x20 | 0x80);
  d.desc_size = 65535;
  d.timeout_ms = 3600000;
  EXPECT_EQ(nft::SetHeaderText(t, d),
            "type ipv4_addr . inet_service; size 65535; flags dynamic,timeout; timeout 1h;");
  nft::Set m = AnonSet("m", 19, 4, 0x4);  // host-order key, stored big-endian in interval sets
  m.elements.push_back({.key = {0, 0, 0, 0x21}, .flags = 1});
  m.elements.push_back({.key = {0, 0, 0, 0x10}});
  EXPECT_EQ(nft::ElementTexts(t, m), (std::vector<std::string>{"0x00000010-0x00000020"}));
}

TEST(PrinterDecl, ObjectsAndRulesetLayout) {
  nft::Ruleset rs;
  nft::Table t = Inet();
  nft::Object helper{
      .name = "ftp-standard",
      .type = 3,
      .attrs = {{"name", std::string("ftp")}, {"l3proto", uint64_t{1}}, {"l4proto", uint64_t{6}}}};
  EXPECT_EQ(nft::ObjectText(t, helper), "type \"ftp\" protocol tcp; l3proto inet");
  nft::Object quota{
      .name = "q",
      .type = 2,
      .attrs = {
          {"bytes", uint64_t{25} << 20}, {"consumed", uint64_t{1024}}, {"flags", uint64_t{1}}}};
  EXPECT_EQ(nft::ObjectText(t, quota), "over 25 mbytes used 1 kbytes");
  nft::PrintOptions no_counters;
  no_counters.counters = false;
  EXPECT_EQ(nft::ObjectText(t, quota, no_counters), "over 25 mbytes");
  t.objects.push_back(helper);
  nft::Chain c;
  c.name = "input";
  c.base = nft::BaseChain{.type = "filter", .hook = 1, .priority = 0, .policy = 0};
  nft::Rule r;
  r.exprs = {Verdict(1)};
  c.rules.push_back(r);
  t.chains.push_back(c);
  rs.tables.push_back(t);
  EXPECT_EQ(
      nft::RulesetText(rs),
      "table inet f {\n"
      "\tct helper ftp-standard {\n\t\ttype \"ftp\" protocol tcp\n\t\tl3proto inet\n\t}\n"
      "\n"
      "\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n\t\taccept\n\t}\n"
      "}\n");
}

// ---------------------------------------------------------------------------------------------
// The key and name tables against the kernel's uapi headers.
// ---------------------------------------------------------------------------------------------
namespace pr = fwgate::nft::print;

using KeyCase = std::pair<const char*, uint32_t>;

void ExpectKeys(const char* family, std::initializer_list<KeyCase> cases) {
  const pr::KeyFamily* f = pr::LoadFamily(family);
  ASSERT_NE(f, nullptr) << family;
  for (const auto& [name, value] : cases) {
    const pr::KeyDef* k = pr::FindKeyByName(*f, name);
    ASSERT_NE(k, nullptr) << family << " " << name;
    EXPECT_EQ(k->key, value) << family << " " << name;
  }
}

void ExpectNames(pr::Names which, std::initializer_list<std::pair<const char*, uint64_t>> cases) {
  for (const auto& [name, value] : cases) EXPECT_EQ(pr::NameOf(which, value), name) << name;
}

TEST(PrinterTables, MetaCtRtSocketFibKeysAreTheUapiNumbers) {
  ExpectKeys("meta", {{"length", NFT_META_LEN},
                      {"protocol", NFT_META_PROTOCOL},
                      {"priority", NFT_META_PRIORITY},
                      {"mark", NFT_META_MARK},
                      {"iif", NFT_META_IIF},
                      {"oif", NFT_META_OIF},
                      {"iifname", NFT_META_IIFNAME},
                      {"oifname", NFT_META_OIFNAME},
                      {"iiftype", NFT_META_IIFTYPE},
                      {"oiftype", NFT_META_OIFTYPE},
                      {"skuid", NFT_META_SKUID},
                      {"skgid", NFT_META_SKGID},
                      {"nftrace", NFT_META_NFTRACE},
                      {"rtclassid", NFT_META_RTCLASSID},
                      {"secmark", NFT_META_SECMARK},
                      {"nfproto", NFT_META_NFPROTO},
                      {"l4proto", NFT_META_L4PROTO},
                      {"ibrname", NFT_META_BRI_IIFNAME},
                      {"obrname", NFT_META_BRI_OIFNAME},
                      {"pkttype", NFT_META_PKTTYPE},
                      {"cpu", NFT_META_CPU},
                      {"iifgroup", NFT_META_IIFGROUP},
                      {"oifgroup", NFT_META_OIFGROUP},
                      {"cgroup", NFT_META_CGROUP},
                      {"random", NFT_META_PRANDOM},
                      {"ipsec", NFT_META_SECPATH},
                      {"iifkind", NFT_META_IIFKIND},
                      {"oifkind", NFT_META_OIFKIND},
                      {"ibrpvid", NFT_META_BRI_IIFPVID},
                      {"ibrvproto", NFT_META_BRI_IIFVPROTO},
                      {"time", NFT_META_TIME_NS},
                      {"day", NFT_META_TIME_DAY},
                      {"hour", NFT_META_TIME_HOUR},
                      {"sdif", NFT_META_SDIF},
                      {"sdifname", NFT_META_SDIFNAME}});
  ExpectKeys("ct", {{"state", NFT_CT_STATE},         {"direction", NFT_CT_DIRECTION},
                    {"status", NFT_CT_STATUS},       {"mark", NFT_CT_MARK},
                    {"secmark", NFT_CT_SECMARK},     {"expiration", NFT_CT_EXPIRATION},
                    {"helper", NFT_CT_HELPER},       {"l3proto", NFT_CT_L3PROTOCOL},
                    {"saddr", NFT_CT_SRC},           {"daddr", NFT_CT_DST},
                    {"protocol", NFT_CT_PROTOCOL},   {"proto-src", NFT_CT_PROTO_SRC},
                    {"proto-dst", NFT_CT_PROTO_DST}, {"label", NFT_CT_LABELS},
                    {"packets", NFT_CT_PKTS},        {"bytes", NFT_CT_BYTES},
                    {"avgpkt", NFT_CT_AVGPKT},       {"zone", NFT_CT_ZONE},
                    {"event", NFT_CT_EVENTMASK},     {"ip saddr", NFT_CT_SRC_IP},
                    {"ip daddr", NFT_CT_DST_IP},     {"ip6 saddr", NFT_CT_SRC_IP6},
                    {"ip6 daddr", NFT_CT_DST_IP6},   {"id", NFT_CT_ID}});
  ExpectKeys("rt", {{"classid", NFT_RT_CLASSID},
                    {"ip nexthop", NFT_RT_NEXTHOP4},
                    {"ip6 nexthop", NFT_RT_NEXTHOP6},
                    {"mtu", NFT_RT_TCPMSS},
                    {"ipsec", NFT_RT_XFRM}});
  ExpectKeys("socket", {{"transparent", NFT_SOCKET_TRANSPARENT},
                        {"mark", NFT_SOCKET_MARK},
                        {"wildcard", NFT_SOCKET_WILDCARD},
                        {"cgroupv2", NFT_SOCKET_CGROUPV2}});
  ExpectKeys("fib", {{"oif", NFT_FIB_RESULT_OIF},
                     {"oifname", NFT_FIB_RESULT_OIFNAME},
                     {"type", NFT_FIB_RESULT_ADDRTYPE}});
  ExpectKeys("numgen", {{"inc", NFT_NG_INCREMENTAL}, {"random", NFT_NG_RANDOM}});
  ExpectKeys("hash", {{"jhash", NFT_HASH_JENKINS}, {"symhash", NFT_HASH_SYM}});
  ExpectKeys("osf", {{"version", NFT_OSF_F_VERSION}});
}

TEST(PrinterTables, StatementNamesAreTheUapiNumbers) {
  auto verdict = [](int v) { return static_cast<uint64_t>(static_cast<uint32_t>(v)); };
  ExpectNames(pr::Names::kVerdict, {{"drop", NF_DROP},
                                    {"accept", NF_ACCEPT},
                                    {"queue", NF_QUEUE},
                                    {"continue", verdict(NFT_CONTINUE)},
                                    {"break", verdict(NFT_BREAK)},
                                    {"jump", verdict(NFT_JUMP)},
                                    {"goto", verdict(NFT_GOTO)},
                                    {"return", verdict(NFT_RETURN)}});
  ExpectNames(pr::Names::kCmpOp, {{"", NFT_CMP_EQ},
                                  {"!=", NFT_CMP_NEQ},
                                  {"<", NFT_CMP_LT},
                                  {"<=", NFT_CMP_LTE},
                                  {">", NFT_CMP_GT},
                                  {">=", NFT_CMP_GTE}});
  ExpectNames(pr::Names::kNatFlags, {{"random", NF_NAT_RANGE_PROTO_RANDOM},
                                     {"fully-random", NF_NAT_RANGE_PROTO_RANDOM_FULLY},
                                     {"persistent", NF_NAT_RANGE_PERSISTENT}});
  ExpectNames(pr::Names::kLogLevel, {{"emerg", NFT_LOGLEVEL_EMERG},
                                     {"warn", NFT_LOGLEVEL_WARNING},
                                     {"debug", NFT_LOGLEVEL_DEBUG},
                                     {"audit", NFT_LOGLEVEL_AUDIT}});
  ExpectNames(pr::Names::kLogFlags, {{"tcp sequence", NF_LOG_TCPSEQ},
                                     {"tcp options", NF_LOG_TCPOPT},
                                     {"ip options", NF_LOG_IPOPT},
                                     {"skuid", NF_LOG_UID},
                                     {"ether", NF_LOG_MACDECODE}});
  ExpectNames(pr::Names::kQueueFlags,
              {{"bypass", NFT_QUEUE_FLAG_BYPASS}, {"fanout", NFT_QUEUE_FLAG_CPU_FANOUT}});
  ExpectNames(pr::Names::kSynproxyFlags,
              {{"timestamp", NF_SYNPROXY_OPT_TIMESTAMP}, {"sack-perm", NF_SYNPROXY_OPT_SACK_PERM}});
  ExpectNames(pr::Names::kFibFlags, {{"saddr", NFTA_FIB_F_SADDR},
                                     {"daddr", NFTA_FIB_F_DADDR},
                                     {"mark", NFTA_FIB_F_MARK},
                                     {"iif", NFTA_FIB_F_IIF},
                                     {"oif", NFTA_FIB_F_OIF}});
  ExpectNames(pr::Names::kObjrefVerb, {{"counter name", NFT_OBJECT_COUNTER},
                                       {"quota name", NFT_OBJECT_QUOTA},
                                       {"ct helper set", NFT_OBJECT_CT_HELPER},
                                       {"limit name", NFT_OBJECT_LIMIT},
                                       {"ct timeout set", NFT_OBJECT_CT_TIMEOUT},
                                       {"meta secmark set", NFT_OBJECT_SECMARK},
                                       {"ct expectation set", NFT_OBJECT_CT_EXPECT},
                                       {"synproxy name", NFT_OBJECT_SYNPROXY}});
  ExpectNames(pr::Names::kDynsetOp, {{"add", NFT_DYNSET_OP_ADD},
                                     {"update", NFT_DYNSET_OP_UPDATE},
                                     {"delete", NFT_DYNSET_OP_DELETE}});
  ExpectNames(pr::Names::kRejectType, {{"icmp", NFT_REJECT_ICMP_UNREACH},
                                       {"tcp reset", NFT_REJECT_TCP_RST},
                                       {"icmpx", NFT_REJECT_ICMPX_UNREACH}});
  ExpectNames(pr::Names::kL3Proto, {{"inet", NFPROTO_INET},
                                    {"ip", NFPROTO_IPV4},
                                    {"arp", NFPROTO_ARP},
                                    {"netdev", NFPROTO_NETDEV},
                                    {"bridge", NFPROTO_BRIDGE},
                                    {"ip6", NFPROTO_IPV6}});
  ExpectNames(pr::Names::kSetFlags, {{"constant", NFT_SET_CONSTANT},
                                     {"interval", NFT_SET_INTERVAL},
                                     {"timeout", NFT_SET_TIMEOUT},
                                     {"dynamic", NFT_SET_EVAL}});
  // NF_OSF_TTL_LESS, NF_OSF_TTL_NOCHECK (linux/netfilter/nfnetlink_osf.h pulls in linux/tcp.h,
  // which clashes with netinet/tcp.h's TCPOPT_* used below).
  ExpectNames(pr::Names::kOsfTtl, {{"loose", 1}, {"skip", 2}});
}

TEST(PrinterTables, ProtocolNumbersAndHeaderOffsets) {
  for (const auto& [name, proto] :
       std::initializer_list<std::pair<const char*, uint32_t>>{{"tcp", IPPROTO_TCP},
                                                               {"udp", IPPROTO_UDP},
                                                               {"udplite", IPPROTO_UDPLITE},
                                                               {"icmp", IPPROTO_ICMP},
                                                               {"icmpv6", IPPROTO_ICMPV6},
                                                               {"sctp", IPPROTO_SCTP},
                                                               {"dccp", IPPROTO_DCCP},
                                                               {"esp", IPPROTO_ESP},
                                                               {"ah", IPPROTO_AH},
                                                               {"igmp", IPPROTO_IGMP}}) {
    ASSERT_NE(pr::TransportByNumber(proto), nullptr) << name;
    EXPECT_EQ(pr::TransportByNumber(proto)->kind, name);
  }
  EXPECT_EQ(pr::Protocol("ip")->id, 0x0800u);    // ETH_P_IP
  EXPECT_EQ(pr::Protocol("ip6")->id, 0x86ddu);   // ETH_P_IPV6
  EXPECT_EQ(pr::Protocol("arp")->id, 0x0806u);   // ETH_P_ARP
  EXPECT_EQ(pr::Protocol("vlan")->id, 0x8100u);  // ETH_P_8021Q
  // Field bit offsets against the kernel's header structs.
  auto at = [](const char* proto, const char* field) {
    const pr::KeyDef* k = pr::FindKeyByName(*pr::Protocol(proto), field);
    return k == nullptr ? ~0u : k->key;
  };
  EXPECT_EQ(at("ip", "saddr"), 12u * 8);
  EXPECT_EQ(at("ip", "daddr"), 16u * 8);
  EXPECT_EQ(at("ip", "protocol"), 9u * 8);
  EXPECT_EQ(at("ip6", "nexthdr"), 6u * 8);
  EXPECT_EQ(at("ip6", "saddr"), 8u * 8);
  EXPECT_EQ(at("tcp", "dport"), 2u * 8);
  EXPECT_EQ(at("tcp", "flags"), 13u * 8);
  EXPECT_EQ(at("udp", "length"), 4u * 8);
  // TCP option kinds (TCPOPT_*) and IPv6 extension headers (IPPROTO_*).
  auto opt = [](std::string_view name) {
    for (const auto& f : pr::TcpOptions()) {
      if (f.kind == name) return f.id;
    }
    return ~0u;
  };
  EXPECT_EQ(opt("eol"), static_cast<uint32_t>(TCPOPT_EOL));
  EXPECT_EQ(opt("nop"), static_cast<uint32_t>(TCPOPT_NOP));
  EXPECT_EQ(opt("maxseg"), static_cast<uint32_t>(TCPOPT_MAXSEG));
  EXPECT_EQ(opt("window"), static_cast<uint32_t>(TCPOPT_WINDOW));
  EXPECT_EQ(opt("sack-perm"), static_cast<uint32_t>(TCPOPT_SACK_PERMITTED));
  EXPECT_EQ(opt("sack"), static_cast<uint32_t>(TCPOPT_SACK));
  EXPECT_EQ(opt("timestamp"), static_cast<uint32_t>(TCPOPT_TIMESTAMP));
  auto ext = [](std::string_view name) {
    for (const auto& f : pr::Ipv6ExtHeaders()) {
      if (f.kind == name) return f.id;
    }
    return ~0u;
  };
  EXPECT_EQ(ext("hbh"), static_cast<uint32_t>(IPPROTO_HOPOPTS));
  EXPECT_EQ(ext("rt"), static_cast<uint32_t>(IPPROTO_ROUTING));
  EXPECT_EQ(ext("frag"), static_cast<uint32_t>(IPPROTO_FRAGMENT));
  EXPECT_EQ(ext("dst"), static_cast<uint32_t>(IPPROTO_DSTOPTS));
  EXPECT_EQ(ext("mh"), static_cast<uint32_t>(IPPROTO_MH));
}

// ---------------------------------------------------------------------------------------------
// nft's dependency rules (src/payload.c, src/netlink_delinearize.c).
// ---------------------------------------------------------------------------------------------
nft::Table Family(nft::Family f) {
  nft::Table t;
  t.family = f;
  t.name = "t";
  return t;
}
std::vector<Expr> IcmpEchoReply(std::vector<Expr> deps) {
  deps.push_back(Payload(2, 0, 1));
  deps.push_back(Cmp({0}));
  deps.push_back(Verdict(1));
  return deps;
}

TEST(PrinterDependencies, IpProtocolIsKeptBeforeIcmpInInetButNotInIp) {
  // inet: `ip protocol icmp` restricts the family: nft keeps it (its nfproto dependency goes).
  EXPECT_EQ(Text(Inet(), IcmpEchoReply({Meta(15), Cmp({2}), Payload(1, 9, 1), Cmp({1})})),
            "ip protocol icmp icmp type echo-reply accept");
  // ip: implied by the icmp match, hidden.
  EXPECT_EQ(Text(Family(nft::Family::kIp), IcmpEchoReply({Payload(1, 9, 1), Cmp({1})})),
            "icmp type echo-reply accept");
}

TEST(PrinterDependencies, ImplicitNfprotoAndL4protoAreHidden) {
  EXPECT_EQ(Text(Inet(), IcmpEchoReply({Meta(15), Cmp({2}), Meta(16), Cmp({1})})),
            "icmp type echo-reply accept");
  // Written without nfproto, nft hides l4proto as well.
  EXPECT_EQ(Text(Inet(), IcmpEchoReply({Meta(16), Cmp({1})})), "icmp type echo-reply accept");
  // nfproto before a non-icmp l4proto is a real restriction: kept.
  auto r = TcpDport({0, 22});
  r.insert(r.begin(), {Meta(15), Cmp({10})});
  EXPECT_EQ(Text(Inet(), r), "meta nfproto ipv6 tcp dport 22");
}

TEST(PrinterDependencies, AStatementInBetweenKeepsTheDependency) {
  std::vector<Expr> r = {Meta(16), Cmp({6}), E("counter"), Payload(2, 2, 2), Cmp({0, 22})};
  nft::PrintOptions o;
  o.counters = false;
  EXPECT_EQ(Text(Inet(), r, o), "meta l4proto tcp counter tcp dport 22");
}

TEST(PrinterDependencies, TcpOptionAndTcpResetHideL4proto) {
  std::vector<Expr> opt = {Meta(16), Cmp({6}),
                           E("exthdr")
                               .Set("dreg", uint64_t{1})
                               .Set("type", uint64_t{2})
                               .Set("offset", uint64_t{2})
                               .Set("len", uint64_t{2})
                               .Set("op", uint64_t{1}),
                           Cmp({0x05, 0xb4})};
  EXPECT_EQ(Text(Inet(), opt), "tcp option maxseg size 1460");
  std::vector<Expr> rst = {Meta(16), Cmp({6}),
                           E("reject").Set("type", uint64_t{1}).Set("code", uint64_t{0})};
  EXPECT_EQ(Text(Family(nft::Family::kIp), rst), "reject with tcp reset");
  EXPECT_EQ(Text(Inet(), rst), "meta l4proto tcp reject with tcp reset");
}

TEST(PrinterInterfaces, RulesetTextResolvesIndexesWithTheDumpedNames) {
  nft::Ruleset rs;
  rs.interfaces[1] = "lo";
  nft::Table t = Inet();
  nft::Chain c;
  c.name = "in";
  nft::Rule r;
  r.exprs = {Meta(4), Cmp({1, 0, 0, 0}), Verdict(1)};
  c.rules.push_back(r);
  r.exprs = {Meta(5), Cmp({9, 0, 0, 0}), Verdict(0)};  // an index the dump did not name
  c.rules.push_back(r);
  t.chains.push_back(c);
  rs.tables.push_back(t);
  std::string text = nft::RulesetText(rs);
  EXPECT_NE(text.find("iif \"lo\" accept"), std::string::npos) << text;
  EXPECT_NE(text.find("oif 9 drop"), std::string::npos) << text;
}

TEST(PrinterXt, TranslatesThroughLibxtablesOrDeclines) {
  nft::XtStatement unknown;
  unknown.name = "no-such-extension";
  EXPECT_FALSE(nft::TranslateXt(unknown).has_value());
  bool installed = false;
  std::error_code ec;
  for (const auto& dir : std::filesystem::directory_iterator("/usr/lib", ec)) {
    installed = installed || std::filesystem::exists(dir.path() / "xtables/libxt_comment.so", ec);
  }
  if (!installed) GTEST_SKIP() << "iptables extensions are not installed (Debian package iptables)";
  // A `-m comment` match translates to no statement text, as nft lists it.
  nft::XtStatement comment;
  comment.name = "comment";
  comment.info = Bytes(256, 0);
  std::memcpy(comment.info.data(), "hello", 5);
  auto text = nft::TranslateXt(comment);
  ASSERT_TRUE(text.has_value());
  EXPECT_EQ(*text, "");
  // Data shorter than the extension's struct is not handed to it.
  nft::XtStatement truncated = comment;
  truncated.info.resize(8);
  EXPECT_FALSE(nft::TranslateXt(truncated).has_value());
  // An xt statement without a translation prints as nft does.
  Expr recent = E("match").Set("name", std::string("recent")).Set("rev", uint64_t{1});
  recent.Set("info", Bytes(200, 0));
  EXPECT_EQ(Text(Family(nft::Family::kIp), {recent}), "xt match recent");
}

}  // namespace
