// Gathering a fleet's facts the ways fwgate reads them: an Ansible inventory probed over ssh
// (the built-in reader or `ansible-inventory --list`, with --limit patterns), probe JSON
// gathered by any fleet tool (--from DIR), both (the inventory names the nodes, the files hold
// their facts), or one saved output of the probe script. Used by `probe` and `check`.
// Thread-safety: reentrant; probes run concurrently inside.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/result.h"
#include "gate/probe/facts.h"
#include "gate/probe/inventory.h"
#include "gate/probe/prober.h"
#include "gate/probe/transport.h"

namespace fwgate::probe {

struct FleetRequest {
  std::string inventory;           // FILE (INI, YAML or ansible-inventory JSON)
  std::string limit;               // Ansible pattern
  bool ansible_inventory = false;  // read the inventory through `ansible-inventory --list`
  std::string ansible_inventory_program = "ansible-inventory";
  std::string from;  // DIR of probe JSON files
  SshOptions ssh;
  // Sessions to the same node share one ssh connection, through control sockets in a private
  // directory made for this call and removed before it returns (SshControlDir). Ignored when
  // ssh.control_dir is already set (the caller's directory).
  bool share_ssh = false;
  ProbeOptions probe;
  std::function<void(const NodeFacts&)> on_done;  // as each node finishes (worker threads)
  std::function<void(size_t nodes)> on_start;     // once the nodes are known, before any runs
};

// The nodes, in inventory order (or file order for --from alone). Errors: bad input (the
// inventory, the pattern, the directory), unavailable (ansible-inventory missing). A node that
// cannot be read is a node with reachable/readable false and its reason, never dropped.
[[nodiscard]] Result<std::vector<NodeFacts>> GatherFleet(const FleetRequest& request);

// The inventory as `ansible-inventory -i FILE --list` sees it (plugins, dynamic inventories,
// group_vars/ and host_vars/ next to it), read back as JSON.
[[nodiscard]] Result<Inventory> InventoryThroughAnsible(const std::string& program,
                                                        const std::string& file);

// One saved output of the probe script as a node. The nonce is the one the script was printed
// with (`fwgate probe --print-script --nonce N`); without it, the first version marker names it.
[[nodiscard]] NodeFacts NodeFromSavedOutput(const std::string& file, const std::string& name,
                                            std::string nonce);

}  // namespace fwgate::probe
