#include "gate/probe/fleet.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>

#include "base/text.h"
#include "gate/probe/probe_json.h"
#include "gate/probe/probe_script.h"

namespace fwgate::probe {

// The inventory as `ansible-inventory -i FILE --list` sees it (plugins, dynamic inventories,
// group_vars/ and host_vars/ next to it), read back as JSON.
Result<Inventory> InventoryThroughAnsible(const std::string& program, const std::string& file) {
  auto run = RunProcess(program, {"-i", file, "--list"}, "", std::chrono::seconds(300),
                        4 * kMaxInventoryBytes);
  if (!run) return run.error().Wrap("running " + program);
  if (run->truncated) return Error::BadInput(program + " -i " + file + " --list: output too large");
  if (run->exit_code != 0) {
    std::string err = std::string(Utf8Prefix(run->err, 2000));
    return Error::BadInput(program + " -i " + file + " --list failed (exit " +
                           std::to_string(run->exit_code) + "): " + TerminalSafe(err));
  }
  return ParseAnsibleInventoryJson(run->out, file + " (via " + program + ")");
}

// One saved output of the probe script as a node. The nonce is the one the script was printed
// with (`fwgate probe --print-script --nonce N`); without it, the first version marker names it.
NodeFacts NodeFromSavedOutput(const std::string& file, const std::string& name, std::string nonce) {
  NodeFacts n;
  n.name = name;
  n.transport = "file";
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    n.readable = false;
    n.error = file + ": cannot open: " + std::strerror(errno ? errno : ENOENT);
    return n;
  }
  std::string text;
  text.resize(kMaxProbeOutput + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxProbeOutput) {
    n.error = file + ": probe output larger than " + std::to_string(kMaxProbeOutput) + " bytes";
    return n;
  }
  if (nonce.empty()) {
    const std::string key = "==fwgate:";
    for (size_t pos = text.find(key); pos != std::string::npos; pos = text.find(key, pos + 1)) {
      if (pos != 0 && text[pos - 1] != '\n') continue;
      size_t colon = text.find(':', pos + key.size());
      if (colon == std::string::npos) break;
      static constexpr std::string_view kVersion = ":section version==";
      if (text.compare(colon, kVersion.size(), kVersion) == 0) {
        nonce = text.substr(pos + key.size(), colon - pos - key.size());
        break;
      }
    }
  }
  if (nonce.empty()) {
    n.error = file + ": no probe output (no fwgate section markers)";
    return n;
  }
  auto parsed = ParseProbeOutput(text, nonce);
  if (!parsed) {
    n.error = file + ": " + parsed.error().context;
    return n;
  }
  NodeFacts f = std::move(parsed).value();
  f.name = name;
  f.transport = "file";
  return f;
}

Result<std::vector<NodeFacts>> GatherFleet(const FleetRequest& f) {
  std::vector<Target> targets;
  bool have_targets = false;
  if (!f.inventory.empty()) {
    auto inv = f.ansible_inventory
                   ? InventoryThroughAnsible(f.ansible_inventory_program, f.inventory)
                   : LoadInventory(f.inventory);
    if (!inv) return inv.error();
    auto sel = inv->Select(f.limit);
    if (!sel) return sel.error().Wrap(f.inventory);
    targets = std::move(sel).value();
    have_targets = true;
  }
  std::vector<NodeFacts> nodes;
  if (have_targets && f.on_start) f.on_start(targets.size());
  if (!f.from.empty()) {
    auto loaded = LoadProbeDir(f.from);
    if (!loaded) return loaded.error();
    if (!have_targets) return loaded;
    // The inventory decides which nodes matter; a node without a file is unreadable.
    for (const auto& t : targets) {
      auto it = std::find_if(loaded->begin(), loaded->end(),
                             [&](const NodeFacts& n) { return n.name == t.name; });
      if (it != loaded->end()) {
        nodes.push_back(*it);
      } else {
        NodeFacts missing;
        missing.name = t.name;
        missing.transport = "file";
        missing.error = "no probe file for this node in " + f.from;
        nodes.push_back(std::move(missing));
      }
      if (f.on_done) f.on_done(nodes.back());
    }
    return nodes;
  }
  if (!have_targets) return Error::BadInput("no inventory and no probe directory given");
  SshOptions options = f.ssh;
  std::optional<SshControlDir> control;
  if (f.share_ssh && options.control_dir.empty()) {
    auto dir = SshControlDir::Create(options.ssh_binary);
    if (!dir) return dir.error();
    control.emplace(std::move(dir).value());
    options.control_dir = control->path();
    // A master idles no longer than a node's whole session may take.
    options.control_persist_s =
        std::max(1, static_cast<int>(
                        std::chrono::duration_cast<std::chrono::seconds>(f.probe.timeout).count()));
  }
  SshTransport ssh(options);
  return ProbeFleet(ssh, targets, f.probe, f.on_done);
}

}  // namespace fwgate::probe
