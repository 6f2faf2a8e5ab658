// The netlink dumper against the real kernel, in namespaces the test creates.
#include <gtest/gtest.h>
#include <nftables/libnftables.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "sys/netns.h"
#include "sys/nft_netlink.h"

namespace nft = fwgate::nft;
namespace sys = fwgate::sys;

namespace {

struct CtxFree {
  void operator()(nft_ctx* c) const { nft_ctx_free(c); }
};

// Runs nft commands on the calling thread (which must be inside the test namespace).
bool RunNft(const std::string& cmds, std::string* err = nullptr) {
  std::unique_ptr<nft_ctx, CtxFree> ctx(nft_ctx_new(NFT_CTX_DEFAULT));
  nft_ctx_buffer_output(ctx.get());
  nft_ctx_buffer_error(ctx.get());
  int rc = nft_run_cmd_from_buffer(ctx.get(), cmds.c_str());
  if (err != nullptr) *err = nft_ctx_get_error_buffer(ctx.get());
  return rc == 0;
}

class NetlinkDump : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ns = sys::CreateAnonymous();
    if (!ns) GTEST_SKIP() << "cannot create network namespaces here: " << ns.error().ToString();
    ns_ = std::move(ns.value());
  }
  sys::NetnsHandle ns_;
};

constexpr const char* kRuleset = R"(
table inet storage {
  counter dropped { }
  quota monthly { over 500 mbytes }
  set peers { type ipv4_addr; flags interval; elements = { 10.30.0.0/24, 10.20.0.5 } }
  chain mon {
    accept
  }
  map ports { type inet_service : verdict; elements = { 22 : accept, 3300 : jump mon } }
  chain input {
    type filter hook input priority filter; policy drop;
    ct state established,related accept comment "open connections"
    ip saddr @peers tcp dport 6800-7300 accept
    tcp dport vmap @ports
    tcp dport { 6789, 3300 } counter name "dropped" drop
  }
}
table ip legacy {
  chain c {
  }
}
)";

}  // namespace

TEST_F(NetlinkDump, ReadsEveryObjectKindNftLoaded) {
  fwgate::Result<nft::Ruleset> rs = fwgate::Error::Unavailable("not run");
  std::string err;
  bool loaded = false;
  ASSERT_TRUE(sys::RunInNetns(ns_, [&] {
                loaded = RunNft(kRuleset, &err);
                if (loaded) rs = sys::DumpRuleset();
              }).ok());
  ASSERT_TRUE(loaded) << err;
  ASSERT_TRUE(rs.ok()) << rs.error().ToString();
  ASSERT_EQ(rs->tables.size(), 2U);
  const nft::Table* t = rs->FindTable(nft::Family::kInet, "storage");
  ASSERT_NE(t, nullptr);
  EXPECT_NE(rs->FindTable(nft::Family::kIp, "legacy"), nullptr);

  const nft::Chain* input = t->FindChain("input");
  ASSERT_NE(input, nullptr);
  ASSERT_TRUE(input->base.has_value());
  EXPECT_EQ(input->base->policy, 0U);  // drop
  EXPECT_EQ(nft::HookName(t->family, input->base->hook), "input");
  ASSERT_EQ(input->rules.size(), 4U);
  EXPECT_EQ(input->rules[0].comment, "open connections");
  EXPECT_EQ(input->rules[0].exprs.front().kind, "ct");
  ASSERT_NE(t->FindChain("mon"), nullptr);
  EXPECT_FALSE(t->FindChain("mon")->base.has_value());

  const nft::Set* peers = t->FindSet("peers");
  ASSERT_NE(peers, nullptr);
  EXPECT_TRUE(peers->is_interval());
  EXPECT_GE(peers->elements.size(), 4U);  // two ranges as start/end pairs
  const nft::Set* ports = t->FindSet("ports");
  ASSERT_NE(ports, nullptr);
  EXPECT_TRUE(ports->is_map());
  ASSERT_EQ(ports->elements.size(), 2U);
  // The anonymous set of the last rule is dumped with its elements (rules need its content).
  bool anon_found = false;
  for (const auto& s : t->sets) {
    if (s.anonymous() && s.elements.size() == 2) anon_found = true;
  }
  EXPECT_TRUE(anon_found);

  // Flowtables are not loaded here: kernels built without CONFIG_NF_FLOW_TABLE refuse them; their
  // parsing is covered by tests/unit/netlink_parse_test.cpp.
  ASSERT_EQ(t->objects.size(), 2U);
  EXPECT_NE(rs->generation, 0U);
}

// The outline (validate's counts) has every table, chain, set and rule of the full dump, with the
// same handles, positions and comments, and neither expressions nor elements.
TEST_F(NetlinkDump, OutlineHasEveryObjectWithoutExpressionsOrElements) {
  fwgate::Result<nft::Ruleset> full = fwgate::Error::Unavailable("not run");
  fwgate::Result<nft::Ruleset> outline = fwgate::Error::Unavailable("not run");
  std::string err;
  bool loaded = false;
  sys::DumpOptions o;
  o.outline_only = true;
  ASSERT_TRUE(sys::RunInNetns(ns_, [&] {
                loaded = RunNft(kRuleset, &err);
                if (!loaded) return;
                full = sys::DumpRuleset();
                outline = sys::DumpRuleset(o);
              }).ok());
  ASSERT_TRUE(loaded) << err;
  ASSERT_TRUE(full.ok()) << full.error().ToString();
  ASSERT_TRUE(outline.ok()) << outline.error().ToString();
  ASSERT_EQ(outline->tables.size(), full->tables.size());
  for (size_t i = 0; i < full->tables.size(); ++i) {
    const nft::Table& f = full->tables[i];
    const nft::Table& l = outline->tables[i];
    EXPECT_EQ(l.name, f.name);
    EXPECT_EQ(l.family, f.family);
    ASSERT_EQ(l.chains.size(), f.chains.size());
    for (size_t c = 0; c < f.chains.size(); ++c) {
      EXPECT_EQ(l.chains[c].name, f.chains[c].name);
      ASSERT_EQ(l.chains[c].rules.size(), f.chains[c].rules.size());
      for (size_t r = 0; r < f.chains[c].rules.size(); ++r) {
        const nft::Rule& fr = f.chains[c].rules[r];
        const nft::Rule& lr = l.chains[c].rules[r];
        EXPECT_EQ(lr.handle, fr.handle);
        EXPECT_EQ(lr.position, fr.position);
        EXPECT_EQ(lr.comment, fr.comment);
        EXPECT_FALSE(fr.exprs.empty());
        EXPECT_TRUE(lr.exprs.empty());
      }
    }
    ASSERT_EQ(l.sets.size(), f.sets.size());
    for (const auto& s : l.sets) EXPECT_TRUE(s.elements.empty()) << s.name;
    EXPECT_EQ(l.objects.size(), f.objects.size());
  }
  const nft::Chain* input = outline->FindTable(nft::Family::kInet, "storage")->FindChain("input");
  ASSERT_NE(input, nullptr);
  ASSERT_EQ(input->rules.size(), 4U);
  EXPECT_EQ(input->rules[0].comment, "open connections");
}

TEST_F(NetlinkDump, EmptyNamespaceHasNoTables) {
  fwgate::Result<nft::Ruleset> rs = fwgate::Error::Unavailable("not run");
  ASSERT_TRUE(sys::RunInNetns(ns_, [&] { rs = sys::DumpRuleset(); }).ok());
  ASSERT_TRUE(rs.ok()) << rs.error().ToString();
  EXPECT_TRUE(rs->tables.empty());
}

// Each writer transaction adds one rule and one set element. A dump that mixed generations could
// see more rules than elements (rules are read after elements); the generation check must redo
// such a dump, so every dump we get has equal counts.
TEST_F(NetlinkDump, DumpIsConsistentWhileTheRulesetChanges) {
  std::string err;
  bool loaded = false;
  ASSERT_TRUE(sys::RunInNetns(ns_, [&] {
                loaded =
                    RunNft("table inet t { set s { type inet_service; }; chain c { }; }", &err);
              }).ok());
  ASSERT_TRUE(loaded) << err;

  std::atomic<bool> stop{false};
  std::atomic<int> written{0};
  std::thread writer([&] {
    (void)sys::RunInNetns(ns_, [&] {
      for (int i = 1; i <= 2000 && !stop; ++i) {
        std::string cmd = "add rule inet t c tcp dport " + std::to_string(i) + " accept\n" +
                          "add element inet t s { " + std::to_string(i) + " }\n";
        if (!RunNft(cmd)) break;
        ++written;
      }
    });
  });
  int dumps = 0;
  int mismatches = 0;
  int unexpected_errors = 0;
  std::string last_error;
  ASSERT_TRUE(sys::RunInNetns(ns_, [&] {
                while (written < 2000 && dumps < 400) {
                  auto rs = sys::DumpRuleset();
                  if (!rs.ok()) {
                    last_error = rs.error().ToString();
                    if (rs.error().code.value() == EAGAIN) continue;  // kept changing: allowed
                    ++unexpected_errors;
                    break;
                  }
                  ++dumps;
                  const nft::Table* t = rs->FindTable(nft::Family::kInet, "t");
                  if (t == nullptr || t->chains.empty() || t->sets.empty()) {
                    ++mismatches;
                    continue;
                  }
                  if (t->chains[0].rules.size() != t->sets[0].elements.size()) ++mismatches;
                }
              }).ok());
  stop = true;
  writer.join();
  EXPECT_GT(dumps, 0) << last_error;
  EXPECT_EQ(unexpected_errors, 0) << last_error;
  EXPECT_EQ(mismatches, 0) << "of " << dumps << " dumps";
  RecordProperty("dumps", dumps);
  RecordProperty("transactions", written.load());
}
