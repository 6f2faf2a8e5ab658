// Netlink messages built in a buffer with libnftnl and parsed back by our parsers: no kernel.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <array>
#include <cstring>
#include <vector>

#include "sys/nft_netlink.h"
#include "sys/nl_handles.h"

namespace nft = fwgate::nft;
namespace sys = fwgate::sys;
namespace nl = fwgate::sys::nl;

namespace {

struct Buffer {
  std::vector<char> bytes = std::vector<char>(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* Header(uint16_t type, uint16_t family) {
    return nftnl_nlmsg_build_hdr(bytes.data(), type, family, NLM_F_CREATE, 1);
  }
};

nftnl_expr* AddExpr(nftnl_rule* r, const char* kind) {
  nftnl_expr* e = nftnl_expr_alloc(kind);
  nftnl_rule_add_expr(r, e);  // the rule owns it from here
  return e;
}

}  // namespace

TEST(NetlinkParse, RuleRoundTripKeepsEveryExpressionAndAttribute) {
  nl::RulePtr r(nftnl_rule_alloc());
  nftnl_rule_set_u32(r.get(), NFTNL_RULE_FAMILY, NFPROTO_INET);
  nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, "storage");
  nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, "input");
  nftnl_rule_set_u64(r.get(), NFTNL_RULE_HANDLE, 42);

  // ct state established,related accept: ct -> bitwise -> cmp -> immediate
  nftnl_expr* ct = AddExpr(r.get(), "ct");
  nftnl_expr_set_u32(ct, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
  nftnl_expr_set_u32(ct, NFTNL_EXPR_CT_DREG, NFT_REG_1);
  nftnl_expr* bw = AddExpr(r.get(), "bitwise");
  uint32_t mask = 0x6;
  uint32_t xor_ = 0;
  nftnl_expr_set_u32(bw, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
  nftnl_expr_set_u32(bw, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
  nftnl_expr_set_u32(bw, NFTNL_EXPR_BITWISE_LEN, 4);
  nftnl_expr_set(bw, NFTNL_EXPR_BITWISE_MASK, &mask, sizeof(mask));
  nftnl_expr_set(bw, NFTNL_EXPR_BITWISE_XOR, &xor_, sizeof(xor_));
  nftnl_expr* cmp = AddExpr(r.get(), "cmp");
  uint32_t zero = 0;
  nftnl_expr_set_u32(cmp, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
  nftnl_expr_set_u32(cmp, NFTNL_EXPR_CMP_OP, NFT_CMP_NEQ);
  nftnl_expr_set(cmp, NFTNL_EXPR_CMP_DATA, &zero, sizeof(zero));
  nftnl_expr* imm = AddExpr(r.get(), "immediate");
  nftnl_expr_set_u32(imm, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
  nftnl_expr_set_u32(imm, NFTNL_EXPR_IMM_VERDICT, static_cast<uint32_t>(NFT_JUMP));
  nftnl_expr_set_str(imm, NFTNL_EXPR_IMM_CHAIN, "osd");

  // comment in userdata
  nftnl_udata_buf* ud = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);
  nftnl_udata_put_strz(ud, NFTNL_UDATA_RULE_COMMENT, "keep open connections");
  nftnl_rule_set_data(r.get(), NFTNL_RULE_USERDATA, nftnl_udata_buf_data(ud),
                      nftnl_udata_buf_len(ud));
  nftnl_udata_buf_free(ud);

  Buffer buf;
  nlmsghdr* nlh = buf.Header(NFT_MSG_NEWRULE, NFPROTO_INET);
  nftnl_rule_nlmsg_build_payload(nlh, r.get());

  auto parsed = sys::ParseRuleMessage(nlh);
  ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
  EXPECT_EQ(parsed->family, nft::Family::kInet);
  EXPECT_EQ(parsed->table, "storage");
  EXPECT_EQ(parsed->chain, "input");
  EXPECT_EQ(parsed->rule.handle, 42U);
  EXPECT_EQ(parsed->rule.comment, "keep open connections");
  ASSERT_EQ(parsed->rule.exprs.size(), 4U);
  const auto& e = parsed->rule.exprs;
  EXPECT_EQ(e[0].kind, "ct");
  EXPECT_EQ(e[0].Int("key"), static_cast<uint64_t>(NFT_CT_STATE));
  EXPECT_EQ(e[0].Int("dreg"), static_cast<uint64_t>(NFT_REG_1));
  EXPECT_EQ(e[1].kind, "bitwise");
  nft::Bytes expected_mask(4);
  std::memcpy(expected_mask.data(), &mask, 4);
  EXPECT_EQ(e[1].Data("mask"), expected_mask);
  EXPECT_EQ(e[2].kind, "cmp");
  EXPECT_EQ(e[2].Int("op"), static_cast<uint64_t>(NFT_CMP_NEQ));
  EXPECT_EQ(e[3].kind, "immediate");
  EXPECT_EQ(static_cast<int32_t>(e[3].Int("verdict")), NFT_JUMP);
  EXPECT_EQ(e[3].Str("chain"), "osd");

  // The outline reads the same rule without its expressions.
  auto outline = sys::ParseRuleOutlineMessage(nlh);
  ASSERT_TRUE(outline.ok()) << outline.error().ToString();
  EXPECT_EQ(outline->family, nft::Family::kInet);
  EXPECT_EQ(outline->table, "storage");
  EXPECT_EQ(outline->chain, "input");
  EXPECT_EQ(outline->rule.handle, 42U);
  EXPECT_EQ(outline->rule.position, parsed->rule.position);
  EXPECT_EQ(outline->rule.comment, "keep open connections");
  EXPECT_TRUE(outline->rule.exprs.empty());
}

TEST(NetlinkParse, BaseChainKeepsHookPriorityPolicyAndDevices) {
  nl::ChainPtr c(nftnl_chain_alloc());
  nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_FAMILY, NFPROTO_NETDEV);
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, "edge");
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_NAME, "ingress");
  nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_HOOKNUM, NF_NETDEV_INGRESS);
  nftnl_chain_set_s32(c.get(), NFTNL_CHAIN_PRIO, -300);
  nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_POLICY, NF_DROP);
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TYPE, "filter");
  const char* devs[] = {"bond0", "eth1", nullptr};
  nftnl_chain_set_data(c.get(), NFTNL_CHAIN_DEVICES, devs, 0);

  Buffer buf;
  nlmsghdr* nlh = buf.Header(NFT_MSG_NEWCHAIN, NFPROTO_NETDEV);
  nftnl_chain_nlmsg_build_payload(nlh, c.get());
  auto parsed = sys::ParseChainMessage(nlh);
  ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
  EXPECT_EQ(parsed->family, nft::Family::kNetdev);
  ASSERT_TRUE(parsed->chain.base.has_value());
  EXPECT_EQ(parsed->chain.base->priority, -300);
  EXPECT_EQ(parsed->chain.base->policy, static_cast<uint32_t>(NF_DROP));
  EXPECT_EQ(parsed->chain.base->type, "filter");
  EXPECT_EQ(nft::HookName(parsed->family, parsed->chain.base->hook), "ingress");
  EXPECT_EQ(parsed->chain.base->devices, (std::vector<std::string>{"bond0", "eth1"}));
}

TEST(NetlinkParse, RegularChainHasNoBase) {
  nl::ChainPtr c(nftnl_chain_alloc());
  nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_FAMILY, NFPROTO_INET);
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, "storage");
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_NAME, "osd");
  Buffer buf;
  nlmsghdr* nlh = buf.Header(NFT_MSG_NEWCHAIN, NFPROTO_INET);
  nftnl_chain_nlmsg_build_payload(nlh, c.get());
  auto parsed = sys::ParseChainMessage(nlh);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->chain.name, "osd");
  EXPECT_FALSE(parsed->chain.base.has_value());
}

TEST(NetlinkParse, SetAndIntervalElementsRoundTrip) {
  nl::SetPtr s(nftnl_set_alloc());
  nftnl_set_set_u32(s.get(), NFTNL_SET_FAMILY, NFPROTO_INET);
  nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, "storage");
  nftnl_set_set_str(s.get(), NFTNL_SET_NAME, "peers");
  nftnl_set_set_u32(s.get(), NFTNL_SET_FLAGS, NFT_SET_INTERVAL);
  nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_TYPE, 7);  // ipv4_addr
  nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_LEN, 4);
  Buffer buf;
  nlmsghdr* nlh = buf.Header(NFT_MSG_NEWSET, NFPROTO_INET);
  nftnl_set_nlmsg_build_payload(nlh, s.get());
  auto parsed = sys::ParseSetMessage(nlh);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->set.name, "peers");
  EXPECT_TRUE(parsed->set.is_interval());
  EXPECT_FALSE(parsed->set.anonymous());
  EXPECT_EQ(parsed->set.key_type, 7U);

  // 10.0.0.0/24 as the kernel holds it: start element, then the exclusive end flagged. One
  // element per message (libnftnl's builder numbers nested elements by index, while the kernel
  // and the parser use NFTA_LIST_ELEM for each; a dump may split elements across messages).
  std::array<uint32_t, 2> keys = {htonl(0x0a000000), htonl(0x0a000100)};
  nft::Set into;
  for (size_t i = 0; i < keys.size(); ++i) {
    nl::SetPtr one(nftnl_set_alloc());
    nftnl_set_set_u32(one.get(), NFTNL_SET_FAMILY, NFPROTO_INET);
    nftnl_set_set_str(one.get(), NFTNL_SET_TABLE, "storage");
    nftnl_set_set_str(one.get(), NFTNL_SET_NAME, "peers");
    nftnl_set_elem* el = nftnl_set_elem_alloc();
    nftnl_set_elem_set(el, NFTNL_SET_ELEM_KEY, &keys[i], 4);
    if (i == 1) nftnl_set_elem_set_u32(el, NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
    nftnl_set_elem_add(one.get(), el);
    Buffer ebuf;
    nlmsghdr* enlh = ebuf.Header(NFT_MSG_NEWSETELEM, NFPROTO_INET);
    nftnl_set_elems_nlmsg_build_payload(enlh, one.get());
    auto st = sys::ParseSetElemsMessage(enlh, into);
    ASSERT_TRUE(st.ok()) << st.error().ToString();
  }
  ASSERT_EQ(into.elements.size(), 2U);
  EXPECT_EQ(into.elements[0].key, (nft::Bytes{10, 0, 0, 0}));
  EXPECT_EQ(into.elements[1].key, (nft::Bytes{10, 0, 1, 0}));
  EXPECT_EQ(into.elements[1].flags, static_cast<uint32_t>(NFT_SET_ELEM_INTERVAL_END));
}

TEST(NetlinkParse, VerdictMapElementKeepsVerdictAndChain) {
  nl::SetPtr s(nftnl_set_alloc());
  nftnl_set_set_u32(s.get(), NFTNL_SET_FAMILY, NFPROTO_INET);
  nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, "storage");
  nftnl_set_set_str(s.get(), NFTNL_SET_NAME, "__map0");
  uint16_t port = htons(22);
  nftnl_set_elem* el = nftnl_set_elem_alloc();
  nftnl_set_elem_set(el, NFTNL_SET_ELEM_KEY, &port, 2);
  nftnl_set_elem_set_u32(el, NFTNL_SET_ELEM_VERDICT, static_cast<uint32_t>(NFT_GOTO));
  nftnl_set_elem_set_str(el, NFTNL_SET_ELEM_CHAIN, "ssh");
  nftnl_set_elem_add(s.get(), el);
  Buffer buf;
  nlmsghdr* nlh = buf.Header(NFT_MSG_NEWSETELEM, NFPROTO_INET);
  nftnl_set_elems_nlmsg_build_payload(nlh, s.get());
  nft::Set into;
  ASSERT_TRUE(sys::ParseSetElemsMessage(nlh, into).ok());
  ASSERT_EQ(into.elements.size(), 1U);
  ASSERT_TRUE(into.elements[0].verdict.has_value());
  EXPECT_EQ(*into.elements[0].verdict, NFT_GOTO);
  EXPECT_EQ(into.elements[0].chain, "ssh");
}

TEST(NetlinkParse, TableFlowtableAndCounterObject) {
  nl::TablePtr t(nftnl_table_alloc());
  nftnl_table_set_u32(t.get(), NFTNL_TABLE_FAMILY, NFPROTO_IPV4);
  nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, "legacy");
  nftnl_table_set_u32(t.get(), NFTNL_TABLE_FLAGS, 1);
  Buffer tb;
  nlmsghdr* tn = tb.Header(NFT_MSG_NEWTABLE, NFPROTO_IPV4);
  nftnl_table_nlmsg_build_payload(tn, t.get());
  auto table = sys::ParseTableMessage(tn);
  ASSERT_TRUE(table.ok());
  EXPECT_EQ(table->family, nft::Family::kIp);
  EXPECT_EQ(table->name, "legacy");
  EXPECT_EQ(table->flags, 1U);

  nl::FlowtablePtr f(nftnl_flowtable_alloc());
  nftnl_flowtable_set_u32(f.get(), NFTNL_FLOWTABLE_FAMILY, NFPROTO_INET);
  nftnl_flowtable_set_str(f.get(), NFTNL_FLOWTABLE_TABLE, "storage");
  nftnl_flowtable_set_str(f.get(), NFTNL_FLOWTABLE_NAME, "ft");
  nftnl_flowtable_set_u32(f.get(), NFTNL_FLOWTABLE_HOOKNUM, NF_NETDEV_INGRESS);
  nftnl_flowtable_set_s32(f.get(), NFTNL_FLOWTABLE_PRIO, 5);
  const char* devs[] = {"eth0", "eth1", nullptr};
  nftnl_flowtable_set_data(f.get(), NFTNL_FLOWTABLE_DEVICES, devs, 0);
  Buffer fb;
  nlmsghdr* fn = fb.Header(NFT_MSG_NEWFLOWTABLE, NFPROTO_INET);
  nftnl_flowtable_nlmsg_build_payload(fn, f.get());
  auto ft = sys::ParseFlowtableMessage(fn);
  ASSERT_TRUE(ft.ok());
  EXPECT_EQ(ft->flowtable.name, "ft");
  EXPECT_EQ(ft->flowtable.priority, 5);
  EXPECT_EQ(ft->flowtable.devices, (std::vector<std::string>{"eth0", "eth1"}));

  nl::ObjPtr o(nftnl_obj_alloc());
  nftnl_obj_set_u32(o.get(), NFTNL_OBJ_FAMILY, NFPROTO_INET);
  nftnl_obj_set_str(o.get(), NFTNL_OBJ_TABLE, "storage");
  nftnl_obj_set_str(o.get(), NFTNL_OBJ_NAME, "dropped");
  nftnl_obj_set_u32(o.get(), NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
  nftnl_obj_set_u64(o.get(), NFTNL_OBJ_CTR_PKTS, 7);
  nftnl_obj_set_u64(o.get(), NFTNL_OBJ_CTR_BYTES, 700);
  Buffer ob;
  nlmsghdr* on = ob.Header(NFT_MSG_NEWOBJ, NFPROTO_INET);
  nftnl_obj_nlmsg_build_payload(on, o.get());
  auto obj = sys::ParseObjectMessage(on);
  ASSERT_TRUE(obj.ok());
  EXPECT_EQ(obj->object.name, "dropped");
  EXPECT_EQ(nft::ObjectTypeName(obj->object.type), "counter");
  ASSERT_EQ(obj->object.attrs.size(), 2U);
  EXPECT_EQ(std::get<uint64_t>(obj->object.attrs[0].second), 7U);
}

TEST(NetlinkParse, TruncatedOrGarbageMessagesAreErrorsNotCrashes) {
  nl::RulePtr r(nftnl_rule_alloc());
  nftnl_rule_set_u32(r.get(), NFTNL_RULE_FAMILY, NFPROTO_INET);
  nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, "t");
  nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, "c");
  nftnl_expr* e = AddExpr(r.get(), "counter");
  nftnl_expr_set_u64(e, NFTNL_EXPR_CTR_PACKETS, 1);
  Buffer buf;
  nlmsghdr* nlh = buf.Header(NFT_MSG_NEWRULE, NFPROTO_INET);
  nftnl_rule_nlmsg_build_payload(nlh, r.get());
  const uint32_t full = nlh->nlmsg_len;
  // Every truncation point: the header claims fewer bytes; attributes past it must be ignored
  // or rejected, never read.
  for (uint32_t len = sizeof(nlmsghdr); len < full; len += 3) {
    std::vector<char> copy(buf.bytes.begin(), buf.bytes.begin() + full);
    auto* h = reinterpret_cast<nlmsghdr*>(copy.data());
    h->nlmsg_len = len;
    auto parsed = sys::ParseRuleMessage(h);
    (void)parsed;  // either outcome is fine; reaching here without a crash is the assertion
    auto outline = sys::ParseRuleOutlineMessage(h);
    (void)outline;
  }
  // Attribute payload overwritten with garbage.
  std::vector<char> garbage(buf.bytes.begin(), buf.bytes.begin() + full);
  for (size_t i = sizeof(nlmsghdr) + 4; i < garbage.size(); ++i)
    garbage[i] = static_cast<char>(0xff);
  auto g = sys::ParseRuleMessage(reinterpret_cast<nlmsghdr*>(garbage.data()));
  EXPECT_FALSE(g.ok());
  EXPECT_FALSE(sys::ParseRuleOutlineMessage(reinterpret_cast<nlmsghdr*>(garbage.data())).ok());
}
