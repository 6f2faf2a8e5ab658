// nftables commits of one network namespace as they happen: a subscriber to the kernel's
// NFNLGRP_NFTABLES group that groups the per-object notifications of each transaction into one
// commit, closed by its NFT_MSG_NEWGEN (generation id, committing process). Also a table owned
// by a netlink socket (NFT_TABLE_F_OWNER, 5.12+): only its socket can change it, another
// socket's `flush ruleset` skips it, and it goes when the socket closes. Parsers are pure.
// Thread-safety: one NftMonitor or OwnedTable belongs to one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/ruleset.h"
#include "sys/netlink_socket.h"
#include "sys/netns.h"

struct nlmsghdr;

namespace fwgate::sys {

// One object a commit added or removed.
struct NftChange {
  enum class Op : uint8_t { kAdd, kDelete };
  enum class What : uint8_t { kTable, kChain, kRule, kSet, kSetElement, kObject, kFlowtable };
  Op op = Op::kAdd;
  What what = What::kRule;
  nft::Family family = nft::Family::kUnspec;
  std::string table;
  std::string name;          // chain (kChain, kRule), set, object or flowtable name
  uint32_t table_flags = 0;  // kTable: NFT_TABLE_F_*
  nft::Rule rule;            // kRule: handle and expressions
  uint32_t object_type = 0;  // kObject: NFT_OBJECT_*
};
[[nodiscard]] std::string_view NftChangeWhatName(NftChange::What w);  // "table", "rule", ...

// One committed transaction.
struct NftCommit {
  uint32_t generation = 0;
  uint32_t pid = 0;     // the committing process, when the kernel says (NFTA_GEN_PROC_PID)
  std::string process;  // its name (NFTA_GEN_PROC_NAME)
  std::chrono::steady_clock::time_point received{};
  std::vector<NftChange> changes;
};

// --- pure parsers ---
// An NFT_MSG_NEW*/DEL* notification; nullopt for messages that are not object changes (NEWGEN
// is parsed by ParseNftGeneration).
[[nodiscard]] Result<std::optional<NftChange>> ParseNftChange(const nlmsghdr* nlh);
struct NftGeneration {
  uint32_t id = 0;
  uint32_t pid = 0;
  std::string process;
};
// An NFT_MSG_NEWGEN message (event or reply).
[[nodiscard]] Result<NftGeneration> ParseNftGeneration(const nlmsghdr* nlh);
[[nodiscard]] bool IsNftGenerationMessage(const nlmsghdr* nlh);

class NftMonitor {
 public:
  // Subscribed to the nftables events of `ns`, with a receive buffer large enough for a big
  // ruleset's flush (events beyond it are lost and reported as ENOBUFS by Poll).
  static Result<NftMonitor> OpenIn(const NetnsHandle& ns, int receive_buffer = 32 << 20);

  // Waits up to `timeout` for events; appends each commit completed by a NEWGEN to `out`.
  // Errors: ENOBUFS when the kernel dropped events (the commits can no longer be followed).
  Status Poll(std::chrono::milliseconds timeout, std::vector<NftCommit>& out);
  // Notifications received since the last NEWGEN (a commit in progress).
  [[nodiscard]] size_t pending() const { return pending_.changes.size(); }

 private:
  explicit NftMonitor(NetlinkSocket s) : sock_(std::move(s)) {}
  NetlinkSocket sock_;
  NftCommit pending_;
};

// A table of `family` named `name` holding one unhooked chain with one `ct state` rule (the
// rule is never evaluated; initialising its ct expression takes the namespace's conntrack
// reference, docs/kernel-conntrack.md §2.1), owned by this object's socket.
class OwnedCtPin {
 public:
  static Result<OwnedCtPin> CreateIn(const NetnsHandle& ns, std::string_view name,
                                     nft::Family family = nft::Family::kInet);
  // Closing the socket removes the table (and the reference).
  void Release() { sock_.reset(); }
  [[nodiscard]] bool held() const { return sock_.has_value(); }

 private:
  explicit OwnedCtPin(NetlinkSocket s) : sock_(std::move(s)) {}
  std::optional<NetlinkSocket> sock_;
};

}  // namespace fwgate::sys
