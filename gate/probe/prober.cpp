#include "gate/probe/prober.h"

#include <atomic>
#include <thread>

#include "gate/nft/printer.h"
#include "gate/probe/backends.h"
#include "gate/probe/probe_script.h"
#include "sys/netns.h"
#include "sys/nft_netlink.h"
#include "sys/sysctl.h"

namespace fwgate::probe {
namespace {

NodeFacts Unreachable(const std::string& name, const std::string& transport, std::string why) {
  NodeFacts f;
  f.name = name;
  f.transport = transport;
  f.reachable = false;
  f.error = std::move(why);
  return f;
}

// First line of stderr worth showing (ssh's own diagnostic).
std::string StderrSummary(const std::string& err) {
  std::string out;
  size_t pos = 0;
  while (pos < err.size() && out.size() < 300) {
    size_t nl = err.find('\n', pos);
    std::string line = err.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? err.size() : nl + 1;
    if (line.empty() || line.rfind("Warning: Permanently added", 0) == 0) continue;
    for (char& c : line)
      if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    out += (out.empty() ? "" : " | ") + line;
  }
  return out.substr(0, 300);
}

NodeFacts FromRun(const std::string& name, const std::string& transport, Result<RunOutput> run,
                  const std::string& nonce, const ProbeOptions& options) {
  if (!run) return Unreachable(name, transport, run.error().ToString());
  if (run->timed_out) {
    return Unreachable(
        name, transport,
        "timed out after " + std::to_string(options.timeout.count() / 1000) + " s (killed)");
  }
  if (run->truncated) {
    return Unreachable(
        name, transport,
        "probe output exceeded " + std::to_string(options.max_output) + " bytes (killed)");
  }
  auto facts = ParseProbeOutput(run->out, nonce);
  if (!facts) {
    std::string why = facts.error().context;
    if (run->exit_code != 0) why += "; exit " + std::to_string(run->exit_code);
    std::string err = StderrSummary(run->err);
    if (!err.empty()) why += ": " + err;
    return Unreachable(name, transport, why);
  }
  NodeFacts f = std::move(facts).value();
  f.name = name;
  f.transport = transport;
  return f;
}

}  // namespace

NodeFacts ProbeHere(const std::string& name, const ProbeOptions& options) {
  LocalShellTransport sh;
  std::string nonce = NewNonce();
  NodeFacts f = FromRun(
      name, "local",
      sh.Run(Target{name, "localhost"}, ProbeScript(nonce), options.timeout, options.max_output),
      nonce, options);
  if (!f.reachable) return f;
  // Native reads of the per-netns facts replace what the script saw (same values, exact types).
  if (auto s = sys::ReadConntrackSysctls(); !s.empty()) {
    f.sysctls = std::move(s);
    f.sysctls_readable = f.sysctls.count("nf_conntrack_max") > 0;
  }
  if (auto st = sys::ReadConntrackStats()) f.stats = std::move(st).value();
  if (auto rs = sys::DumpRuleset()) {
    f.ruleset = std::move(rs).value();
    f.ruleset_text = nft::RulesetText(*f.ruleset);
    f.backends.nft_tables.clear();
    f.backends.nft_ct_users = {};
    std::erase_if(f.backends.notes,
                  [](const std::string& n) { return n.rfind("nftables:", 0) == 0; });
    AnalyzeNftRuleset(*f.ruleset, f.backends);
  } else if (!f.backends.nft_readable) {
    f.backends.notes.push_back("nftables netlink dump: " + rs.error().ToString());
  }
  return f;
}

Result<NodeFacts> ProbeNamedNetns(const std::string& name, const ProbeOptions& options) {
  auto ns = sys::OpenNamed(name);
  if (!ns) return ns.error();
  NodeFacts f;
  auto st = sys::RunInNetns(*ns, [&] { f = ProbeHere(name, options); });
  if (!st) return Unreachable(name, "netns", st.error().ToString());
  f.transport = "netns";
  return f;
}

NodeFacts ProbeTarget(Transport& transport, const Target& target, const ProbeOptions& options) {
  std::string nonce = NewNonce();
  return FromRun(target.name, "ssh",
                 transport.Run(target, ProbeScript(nonce), options.timeout, options.max_output),
                 nonce, options);
}

std::vector<NodeFacts> ProbeFleet(Transport& transport, const std::vector<Target>& targets,
                                  const ProbeOptions& options,
                                  const std::function<void(const NodeFacts&)>& on_done) {
  std::vector<NodeFacts> out(targets.size());
  std::atomic<size_t> next{0};
  size_t workers =
      std::min<size_t>(targets.size(), static_cast<size_t>(std::max(1, options.concurrency)));
  std::vector<std::thread> pool;
  pool.reserve(workers);
  for (size_t w = 0; w < workers; ++w) {
    pool.emplace_back([&] {
      for (size_t i = next++; i < targets.size(); i = next++) {
        out[i] = ProbeTarget(transport, targets[i], options);
        if (on_done) on_done(out[i]);
      }
    });
  }
  for (std::thread& t : pool) t.join();
  return out;
}

}  // namespace fwgate::probe
