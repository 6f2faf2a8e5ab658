// The probe script's output parser on a captured-style 4.15 node (tests/data/probe) and on hostile
// output: truncated, garbage, forged markers, megabytes. Also the backend/ct-user analysis.
#include "gate/probe/probe_script.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "gate/probe/backends.h"
#include "gate/probe/transport.h"

using fwgate::probe::BackendFacts;
using fwgate::probe::ModuleState;
using fwgate::probe::ParseProbeOutput;

namespace {
constexpr const char* kNonce = "fixture0nonce01";

std::string Fixture() {
  std::ifstream in(std::string(FWGATE_SOURCE_DIR) + "/tests/data/probe/node-4.15.txt");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

TEST(ProbeOutputParse, ReadsEveryFactOfA415Node) {
  auto f = ParseProbeOutput(Fixture(), kNonce);
  ASSERT_TRUE(f.ok()) << f.error().ToString();
  EXPECT_TRUE(f->reachable);
  EXPECT_EQ(f->kernel, "4.15.0-112-generic");
  EXPECT_EQ(f->Sysctl("nf_conntrack_tcp_be_liberal"), 0);
  EXPECT_EQ(f->Sysctl("nf_conntrack_max"), 65536);
  EXPECT_EQ(f->Sysctl("nf_conntrack_udp_timeout_stream"), 180);
  EXPECT_FALSE(f->Sysctl("not_a_conntrack_sysctl"));
  EXPECT_FALSE(f->Sysctl("nf_conntrack_weird"));  // not a number
  EXPECT_TRUE(f->sysctls_readable);
  EXPECT_EQ(f->conntrack_module, ModuleState::kLoadable);
  EXPECT_EQ(f->enable_hooks, false);
  ASSERT_TRUE(f->stats);
  EXPECT_EQ(f->stats->count.value_or(0), 5800u);
  EXPECT_EQ(f->stats->Get("invalid"), 4u);
  // nft: one iptables-nft table using xt conntrack (ipv4 only).
  ASSERT_EQ(f->backends.nft_tables.size(), 1u);
  EXPECT_TRUE(f->backends.nft_tables[0].iptables_nft);
  EXPECT_EQ(f->backends.nft_ct_users.by_family.count("ipv4"), 1u);
  EXPECT_EQ(f->backends.nft_ct_users.by_family.count("ipv6"), 0u);
  // legacy: filter (conntrack match) and nat (MASQUERADE) both use conntrack.
  EXPECT_TRUE(f->backends.legacy_readable);
  EXPECT_EQ(f->backends.legacy_ct_users.by_family.at("ipv4").size(), 2u);
  ASSERT_EQ(f->services.size(), 1u);
  EXPECT_EQ(f->services[0].name, "netfilter-persistent");
  EXPECT_EQ(f->services[0].style, "two-step");
  EXPECT_NE(f->ruleset_text.find("table ip filter"), std::string::npos);
}

TEST(ProbeOutputParse, DetectsEnableHooksOnCmdlineAndInModprobe) {
  std::string t = Fixture();
  std::string cmd = "ro quiet\n";
  auto with_cmdline = t;
  with_cmdline.replace(with_cmdline.find(cmd), cmd.size(),
                       "ro quiet nf_conntrack.enable_hooks=1\n");
  auto f = ParseProbeOutput(with_cmdline, kNonce);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->enable_hooks, true);
  EXPECT_EQ(f->enable_hooks_source, "/proc/cmdline");
  auto with_modprobe = t;
  std::string opt = "options nf_conntrack hashsize=65536";
  with_modprobe.replace(with_modprobe.find(opt), opt.size(),
                        "options nf_conntrack enable_hooks=1 hashsize=65536");
  f = ParseProbeOutput(with_modprobe, kNonce);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->enable_hooks, true);
  EXPECT_EQ(f->enable_hooks_source, "/etc/modprobe.d/conntrack.conf");
}

TEST(ProbeOutputParse, TruncatedOutputIsAnError) {
  std::string t = Fixture();
  for (size_t cut : {size_t{0}, size_t{10}, t.size() / 3, t.size() / 2, t.size() - 30}) {
    auto f = ParseProbeOutput(t.substr(0, cut), kNonce);
    EXPECT_FALSE(f.ok()) << "cut at " << cut;
  }
}

TEST(ProbeOutputParse, MarkersWithAnotherNonceCannotForgeSections) {
  std::string t = Fixture();
  // A ruleset line that is a whole forged marker line ends nothing: the nonce differs.
  std::string needle = "table ip filter {\n";
  t.insert(t.find(needle),
           "==fwgate:attacker0nonce:section end==\n==fwgate:attacker0nonce:section sysctls==\n"
           "nf_conntrack_tcp_be_liberal=1\n");
  auto f = ParseProbeOutput(t, kNonce);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->Sysctl("nf_conntrack_tcp_be_liberal"), 0);
}

TEST(ProbeOutputParse, GarbageAndHugeOutputAreRejectedSafely) {
  EXPECT_FALSE(ParseProbeOutput("Permission denied (publickey).\n", kNonce).ok());
  EXPECT_FALSE(ParseProbeOutput(std::string("\0\xff\x01garbage", 10), kNonce).ok());
  EXPECT_FALSE(ParseProbeOutput(Fixture(), "short").ok());  // invalid nonce
  std::string huge(fwgate::probe::kMaxProbeOutput + 1, 'x');
  auto f = ParseProbeOutput(huge, kNonce);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.error().context.find("too large"), std::string::npos);
  // Megabytes of junk inside a valid frame parse without trouble.
  std::string t = Fixture();
  std::string junk;
  for (int i = 0; i < 200000; ++i) junk += "nf_conntrack_" + std::to_string(i) + "=zz\n";
  t.insert(t.find("nf_conntrack_buckets"), junk);
  auto g = ParseProbeOutput(t, kNonce);
  ASSERT_TRUE(g.ok());
  EXPECT_LE(g->sysctls.size(), 256u);
}

TEST(ProbeScript, IsReadOnlyShellWithTheNonceInEveryMarker) {
  std::string s = fwgate::probe::ProbeScript("abcdefgh12345678");
  EXPECT_NE(s.find("N=abcdefgh12345678\n"), std::string::npos);
  EXPECT_NE(s.find("nft list ruleset"), std::string::npos);
  for (const char* forbidden :
       {" rm ", "nft -f", "sysctl -w", "modprobe ", "iptables-restore", " > /"}) {
    EXPECT_EQ(s.find(forbidden), std::string::npos) << forbidden;
  }
}

TEST(BackendAnalysis, FindsCtUsersPerFamilyInNftText) {
  BackendFacts b;
  fwgate::probe::AnalyzeNftText(
      "table inet storage {\n\tct helper ftp-standard {\n\t\ttype \"ftp\" protocol tcp\n\t}\n"
      "\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n"
      "\t\tct state established,related accept\n\t\ttcp dport 22 accept comment \"ct is "
      "fine\"\n\t}\n}\n"
      "table ip6 nat6 {\n\tchain post {\n\t\ttype nat hook postrouting priority "
      "srcnat;\n\t\tmasquerade\n\t}\n}\n"
      "table ip quiet {\n\tchain c {\n\t\ttype filter hook input priority 0;\n\t\ttcp dport 22 "
      "accept comment \"ct state\"\n\t}\n}\n",
      b);
  ASSERT_EQ(b.nft_tables.size(), 3u);
  EXPECT_FALSE(b.nft_tables[0].iptables_nft);
  EXPECT_EQ(b.nft_ct_users.by_family["ipv4"].size(),
            2u);  // helper object + ct state (quiet: comment only)
  EXPECT_EQ(b.nft_ct_users.by_family["ipv6"].size(), 3u);  // + masquerade
}

namespace {
// Runs `argv` with the probe script on stdin inside a fresh network namespace (`unshare -n`), so
// the script's read-only nft/iptables listing never touches the host's namespace.
fwgate::Result<fwgate::probe::RunOutput> RunScriptInNetns(std::vector<std::string> argv,
                                                          const std::string& script) {
  std::vector<std::string> args = {"-n"};
  args.insert(args.end(), argv.begin(), argv.end());
  return fwgate::probe::RunProcess("/usr/bin/unshare", args, script, std::chrono::seconds(60),
                                   8u << 20);
}
}  // namespace

TEST(ProbeScriptRun, OneAwkReadsTheSysctlsThatTheParserAccepts) {
  const std::string nonce = "runtest0nonce01";
  auto run = RunScriptInNetns({"/bin/sh", "-s"}, fwgate::probe::ProbeScript(nonce));
  if (!run || run->exit_code != 0) GTEST_SKIP() << "cannot create a network namespace here";
  auto f = ParseProbeOutput(run->out, nonce);
  ASSERT_TRUE(f.ok()) << f.error().ToString();
  if (!f->sysctls_readable) GTEST_SKIP() << "nf_conntrack not loaded on this kernel";
  EXPECT_GT(f->sysctls.size(), 10u);
  EXPECT_TRUE(f->Sysctl("nf_conntrack_tcp_be_liberal"));
  EXPECT_GT(f->Sysctl("nf_conntrack_max").value_or(0), 0);
  // One awk, not a head|cut pair per sysctl.
  std::string script = fwgate::probe::ProbeScript(nonce);
  EXPECT_EQ(script.find("head -n 1"), std::string::npos);
  EXPECT_NE(script.find("awk 'FNR == 1"), std::string::npos);
}

TEST(ProbeScriptRun, ReadsEverythingWithAHandfulOfProcessLaunches) {
  if (access("/usr/bin/strace", X_OK) != 0) GTEST_SKIP() << "strace not installed";
  std::string out = "/tmp/fwgate-probe-strace-" + std::to_string(getpid());
  auto run = RunScriptInNetns(
      {"/usr/bin/strace", "-f", "-c", "-o", out, "-e", "trace=execve", "/bin/sh", "-s"},
      fwgate::probe::ProbeScript("runtest0nonce02"));
  if (!run || run->exit_code != 0) GTEST_SKIP() << "cannot trace in a network namespace here";
  std::ifstream in(out);
  std::string line;
  long calls = -1;
  while (std::getline(in, line)) {
    if (line.find("execve") == std::string::npos) continue;
    std::istringstream ws(line);
    std::string pct, secs, usecs;
    ws >> pct >> secs >> usecs >> calls;
  }
  unlink(out.c_str());
  ASSERT_GT(calls, 0);
  EXPECT_LE(calls, 30) << "the probe script launches too many processes";  // 104 before
}
