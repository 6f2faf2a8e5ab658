// What the lab does around a node's reload so that its own kernel reaches the conntrack state the
// node's kernel class would reach, whatever the reload's commits are (DESIGN.md "Kernel-behaviour
// emulation"; docs/kernel-conntrack.md §2.1, §3.4, §3.5). The user's transactions are never
// touched:
// - continuous (<= 4.13): a table owned by fwgate's socket holds a conntrack reference for the
//   whole run, so no user commit (`flush ruleset` included) can bring the use count to zero;
// - stale-gap (4.14 - 4.18): the lab kernel already unregisters the hooks when the user's commits
//   take the last user away and re-registers them in the commit that brings one back; what 4.19+
//   adds is the fix-up that zeroes the windows of ESTABLISHED TCP entries at re-registration.
//   Just before the reload, the node's ESTABLISHED TCP entries are moved to CLOSE_WAIT (the
//   fix-up skips that state; its timeout is raised to the established one in the node's
//   namespace so nothing expires), and moved back once the reload has finished with users back;
// - native: nothing.
// Thread-safety: one NodeEmulator per node, used from one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/result.h"
#include "gate/hazards/kernel_class.h"
#include "simulator/reload/commit_follower.h"
#include "sys/ct_entries.h"
#include "sys/netns.h"
#include "sys/nft_monitor.h"
#include "sys/tcp_diag.h"

namespace fwgate::reload {

// A TCP connection of the node whose data in one direction advanced, while the node's conntrack
// had no user (the gap), further than the window its stale conntrack entry could admit
// (docs/kernel-conntrack.md §3.4: on 4.14-4.18 every later packet of that direction is INVALID;
// the lab kernel's 6.1 overshoot tolerance, §1 and §3.5, may let it recover).
struct WindowOvershoot {
  std::string sender, receiver;  // "10.20.0.1:40000"
  uint64_t moved = 0;            // bytes the sender had acknowledged during the gap
  uint64_t window = 0;           // the most its entry could admit (the peer's advertised window)
  [[nodiscard]] uint64_t beyond() const { return moved > window ? moved - window : 0; }
};

// The owned pin table's name (a lab table: kLabTablePrefix).
inline constexpr const char* kOwnedPinTable = "fwgate_pin";

class NodeEmulator {
 public:
  // continuous: loads the owned pin now (before the node's current ruleset, so tracking is
  // continuous from the first packet on, as on a <= 4.13 node). `ns` must outlive the emulator.
  static Result<std::unique_ptr<NodeEmulator>> Create(const sys::NetnsHandle& ns,
                                                      hazards::Emulation emulation);
  // Right before the node's reload starts. stale-gap: raises the CLOSE_WAIT timeout and moves
  // every ESTABLISHED TCP entry to CLOSE_WAIT.
  Status BeforeReload();
  // After the reload's last commit. stale-gap: entries of families whose users are back
  // (`users`) return to ESTABLISHED; the CLOSE_WAIT timeout returns once none is left.
  Status AfterReload(const CtCounts& users);
  // Ends the emulation (continuous: the pin goes with its socket). Also done by the destructor.
  void Release();

  // stale-gap: the namespaces holding the other ends of the node's connections (the other nodes,
  // the client), read with the node's own sockets at both moments. Must outlive the emulator.
  void WatchPeers(std::vector<const sys::NetnsHandle*> peers) { peers_ = std::move(peers); }
  // stale-gap: after each of the node's commits during the reload (CommitFollower's on_commit,
  // any thread). The commit that takes a family's last user away starts the gap, the one that
  // brings users back ends it; the node's and its peers' TCP sockets are read at both moments.
  void OnCommit(const CtCounts& users);
  // stale-gap: the connections of the node (sender or receiver in it) whose data in a direction
  // moved during the gap beyond the window their stale entry could admit. Empty before the gap
  // ended and on other emulations; a socket that could not be read at both moments is left out
  // (never judged broken).
  [[nodiscard]] std::vector<WindowOvershoot> overshoots() const;

  [[nodiscard]] hazards::Emulation emulation() const { return emulation_; }
  // One line for the report: what the lab did and why.
  [[nodiscard]] std::string Describe() const;
  [[nodiscard]] size_t flipped() const { return flipped_.size(); }
  [[nodiscard]] size_t restored() const { return restored_; }

 private:
  NodeEmulator(const sys::NetnsHandle& ns, hazards::Emulation e) : ns_(&ns), emulation_(e) {}
  const sys::NetnsHandle* ns_;
  hazards::Emulation emulation_;
  std::unique_ptr<sys::OwnedCtPin> pin_;
  std::vector<sys::CtTuple> flipped_;
  size_t restored_ = 0;
  std::string close_wait_timeout_;  // the value before the raise ("" when not raised)
  std::vector<const sys::NetnsHandle*> peers_;
  mutable std::mutex mu_;  // the gap's readings (OnCommit runs on the follower's thread)
  bool in_gap_ = false, gap_done_ = false;
  std::vector<sys::TcpSocketInfo> sockets_before_;
  std::vector<WindowOvershoot> overshoots_;
};

}  // namespace fwgate::reload
