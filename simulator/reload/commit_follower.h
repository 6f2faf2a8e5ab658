// Follows a lab node's nftables commits while a reload runs (any style: atomic, flush-then-load,
// the user's own command) and knows after each commit which rules and objects hold a conntrack
// reference, per family, as the node's kernel class counts them (docs/kernel-conntrack.md §2.1,
// §7 note (c)). The ledger is pure; the follower runs it on its own thread over
// sys/nft_monitor.h. Thread-safety: CtUserLedger is a value; a CommitFollower's Users() and
// WaitForKernel() may be called from any thread, Finish() once.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "base/result.h"
#include "base/ruleset.h"
#include "gate/hazards/ct_users.h"
#include "sys/netns.h"
#include "sys/nft_monitor.h"

namespace fwgate::reload {

// Tables whose names start with this are the lab's own (the conntrack pin) and never counted.
inline constexpr const char* kLabTablePrefix = "fwgate_";

using CtCounts = std::map<hazards::CtFamily, int>;

// The conntrack users of one namespace's ruleset.
class CtUserLedger {
 public:
  // From a dump; replaces what the ledger held.
  void Seed(const nft::Ruleset& ruleset);
  // One commit's changes, in order.
  void Apply(const sys::NftCommit& commit);
  // Users per family. `older_kernel`: count as 4.14-4.18 do (without the users only newer
  // kernels count, docs/kernel-conntrack.md §2.1); otherwise as the lab's kernel does.
  [[nodiscard]] CtCounts Counts(bool older_kernel) const;
  // "inet storage/input: ct expression", at most `max` per family.
  [[nodiscard]] std::vector<std::string> Describe(hazards::CtFamily family, size_t max = 8) const;
  bool operator==(const CtUserLedger& o) const { return users_ == o.users_; }

 private:
  struct Key {
    uint8_t family = 0;
    std::string table, chain, object;
    uint64_t handle = 0;
    bool operator<(const Key& o) const {
      return std::tie(family, table, chain, object, handle) <
             std::tie(o.family, o.table, o.chain, o.object, o.handle);
    }
    bool operator==(const Key&) const = default;
  };
  struct Use {
    std::string what;
    bool newer_only = false;
    bool operator==(const Use&) const = default;
  };
  void AddRule(nft::Family f, const std::string& table, const std::string& chain,
               const nft::Rule& r);
  void EraseTable(uint8_t family, const std::string& table, const std::string* chain);
  std::map<Key, Use> users_;
};

// One commit as the report shows it.
struct CommitRecord {
  uint32_t generation = 0;
  std::chrono::milliseconds at{0};  // since the follower's origin
  std::string process;              // "nft", "iptables-nft-re", ... ("" when not said)
  uint32_t pid = 0;
  std::string summary;  // "-1 table, -14 rules" / "+1 table, +3 chains, +14 rules"
  CtCounts users;       // after the commit, as the node's kernel class counts
};

// A time during which `family` had no conntrack user.
struct NoUserInterval {
  hazards::CtFamily family = hazards::CtFamily::kIpv4;
  std::chrono::milliseconds from{0};
  std::optional<std::chrono::milliseconds> to;  // unset: still none when following ended
  uint32_t from_generation = 0, to_generation = 0;
};

struct FollowResult {
  bool followed = true;
  std::string failure;  // why the commits could not be followed (followed == false)
  CtCounts users_before, users_after;
  std::vector<CommitRecord> commits;
  std::vector<NoUserInterval> no_user;
  // The lab kernel keeps a reference the node's kernel would not (a newer-kernels-only user is
  // the last one): the lab's hooks stay registered where the node's would go.
  std::string divergence;
};

class CommitFollower {
 public:
  struct Options {
    bool older_kernel = false;  // count users as 4.14-4.18 do (docs/kernel-conntrack.md §2.1)
    std::chrono::steady_clock::time_point origin = std::chrono::steady_clock::now();
    // Called on the follower's thread right after each commit is applied, with the users
    // after it (the moments a family's users go and come back). Must not call the follower.
    std::function<void(const CtCounts&)> on_commit;
  };
  // Subscribes to `ns`'s nftables events, then seeds the ledger from a dump (commits the dump
  // already holds are skipped by generation). `ns` must outlive the follower.
  static Result<std::unique_ptr<CommitFollower>> Start(const sys::NetnsHandle& ns,
                                                       const Options& options);
  ~CommitFollower();
  CommitFollower(const CommitFollower&) = delete;
  CommitFollower& operator=(const CommitFollower&) = delete;

  // Users now (after the last commit seen).
  [[nodiscard]] CtCounts Users() const;
  // Waits (up to `timeout`) until every commit the kernel has made is applied; false when not.
  bool WaitForKernel(std::chrono::milliseconds timeout);
  // Stops following, applies what is still queued, and checks the ledger against a fresh dump.
  [[nodiscard]] FollowResult Finish();

 private:
  CommitFollower(const sys::NetnsHandle& ns, sys::NftMonitor monitor, const Options& options);
  void Loop();
  void Absorb(std::vector<sys::NftCommit>& commits);  // holds mu_
  void Fail(const std::string& why);                  // holds mu_

  const sys::NetnsHandle* ns_;
  sys::NftMonitor monitor_;
  Options options_;
  mutable std::mutex mu_;
  CtUserLedger ledger_;
  uint32_t generation_ = 0;  // last applied (or the seed dump's)
  FollowResult result_;
  std::map<hazards::CtFamily, size_t> open_;  // family -> index in result_.no_user
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// "ipv4 1, ipv6 1" (families with a zero count included; bridge only when non-zero).
[[nodiscard]] std::string DescribeCounts(const CtCounts& counts);

}  // namespace fwgate::reload
