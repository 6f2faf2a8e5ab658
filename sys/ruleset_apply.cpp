#include "sys/ruleset_apply.h"

#include <unistd.h>

#include <chrono>

#include "sys/spawn.h"
#include "sys/sysctl.h"

namespace fwgate::sys {
namespace {

std::string TrimEnd(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

std::string_view RulesetFormatName(RulesetFormat f) {
  switch (f) {
    case RulesetFormat::kNft:
      return "nft";
    case RulesetFormat::kNftJson:
      return "nft-json";
    case RulesetFormat::kIptables:
      return "iptables";
    case RulesetFormat::kIp6tables:
      return "ip6tables";
  }
  return "nft";
}

Result<std::string> IptablesRestoreProgram(bool ipv6) {
  std::string name = ipv6 ? "ip6tables-nft-restore" : "iptables-nft-restore";
  std::string found = FindProgram(name);
  if (!found.empty()) return found;
  for (const char* dir : {"/usr/sbin/", "/sbin/"}) {
    std::string p = dir + name;
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return Error::Unavailable(name + " is not installed (Debian package iptables); it loads " +
                            (ipv6 ? "ip6tables" : "iptables") + "-restore files");
}

Result<RestoreResult> RunIptablesRestore(const NetnsHandle& ns, const std::string& text, bool ipv6,
                                         const NftLimits& limits) {
  auto initial = IsInitialNetns(ns);
  if (!initial) return initial.error();
  if (*initial) {
    return Error::Internal("refusing to run iptables-nft-restore in the host's own namespace");
  }
  auto program = IptablesRestoreProgram(ipv6);
  if (!program) return program.error();
  SpawnOptions o;
  o.argv = {*program};
  o.netns = &ns;
  o.input = text;
  o.env = {"LC_ALL=C"};
  o.memory_limit_bytes = limits.memory_bytes;
  o.timeout = limits.time;
  o.cpu_limit_seconds =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(limits.time).count()) +
      1;
  o.max_stdout = limits.max_output;
  o.max_stderr = limits.max_errors;
  o.nice = limits.nice;
  auto run = RunProcess(o);
  if (!run) return run.error().Wrap("running " + *program);
  if (run->exec_failed) return Error::Unavailable("running " + *program + ": " + run->Describe());
  RestoreResult out;
  if (run->timed_out) {
    out.limit_hit = "the time limit of " + std::to_string(limits.time.count()) + " ms";
  } else if (run->signal != 0) {
    out.limit_hit = run->Describe();
  }
  out.ok = out.limit_hit.empty() && run->exit_code == 0;
  out.errors = run->err;
  return out;
}

Status ApplyRulesetText(const NetnsHandle& ns, RulesetFormat format, const std::string& text,
                        const std::string& what, const NftLimits& limits,
                        std::optional<std::chrono::steady_clock::time_point>* finished) {
  if (finished != nullptr) finished->reset();
  switch (format) {
    case RulesetFormat::kNft:
      return ApplyNft(ns, text, what, limits, finished);
    case RulesetFormat::kNftJson: {
      NftRequest req;
      req.text = text;
      req.json_input = true;
      req.limits = limits;
      auto r = RunNft(ns, req);
      if (!r) return r.error().Wrap(what);
      if (finished != nullptr) *finished = r->finished;
      if (!r->limit_hit.empty())
        return Error::Unavailable(what + ": nft stopped at " + r->limit_hit);
      if (!r->ok) return Error::Unavailable(what + ": " + TrimEnd(r->errors));
      return OkStatus();
    }
    case RulesetFormat::kIptables:
    case RulesetFormat::kIp6tables: {
      auto r = RunIptablesRestore(ns, text, format == RulesetFormat::kIp6tables, limits);
      if (!r) return r.error().Wrap(what);
      if (!r->limit_hit.empty()) {
        return Error::Unavailable(what + ": iptables-nft-restore stopped at " + r->limit_hit);
      }
      if (!r->ok) return Error::Unavailable(what + ": " + TrimEnd(r->errors));
      return OkStatus();
    }
  }
  return Error::Internal("unknown ruleset format");
}

}  // namespace fwgate::sys
