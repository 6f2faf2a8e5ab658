// `fwgate probe`: node facts (kernel, conntrack sysctls and statistics, firewall backends and
// services, live ruleset) judged by the kernel knowledge base, for this host, a namespace, an
// Ansible inventory over ssh, probe JSON files gathered by any fleet tool, or one saved output
// of the probe script (what contrib/ansible's playbook fetches).
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "base/outcome.h"
#include "base/text.h"
#include "cli/command.h"
#include "cli/progress.h"
#include "gate/hazards/findings.h"
#include "gate/probe/fleet.h"
#include "gate/probe/inventory.h"
#include "gate/probe/probe_script.h"
#include "gate/probe/prober.h"
#include "report/probe_report.h"

namespace fwgate::cli {
namespace {

struct ProbeFlags {
  bool local = false;
  std::string netns;
  std::string inventory;
  std::string limit;
  std::string from;
  bool json = false;
  bool prometheus = false;
  bool quiet = false;
  int concurrency = 16;
  double timeout_s = 20;
  std::vector<std::string> ssh_options;
  std::string ssh_config;
  std::string ssh_program = "ssh";
  bool ssh_share = false;
  std::string name;
  bool print_script = false;
  std::string nonce;
  std::string parse_output;
  std::string reason;
  bool ansible_inventory = false;
  std::string ansible_inventory_program = "ansible-inventory";
  int storm_daemons = 8;
  double storm_rate = 62.5;
  double storm_boot = 0;
};

// "Key=Value" with an alphanumeric key: passed to ssh as one -o argument.
bool ValidSshOption(const std::string& o) {
  size_t eq = o.find('=');
  if (eq == std::string::npos || eq == 0) return false;
  for (size_t i = 0; i < eq; ++i)
    if (!std::isalnum(static_cast<unsigned char>(o[i]))) return false;
  for (unsigned char c : o)
    if (c < 0x20) return false;
  return true;
}

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == 0) return "localhost";
  return buf;
}

Outcome Run(const ProbeFlags& f) {
  if (!f.nonce.empty()) {
    bool ok = f.nonce.size() >= 8 && f.nonce.size() <= 64 &&
              std::all_of(f.nonce.begin(), f.nonce.end(),
                          [](unsigned char c) { return std::isalnum(c); });
    if (!ok) {
      std::cerr << "fwgate probe: --nonce must be 8-64 letters or digits\n";
      return Outcome::kBadInput;
    }
  }
  if (f.print_script) {
    std::cout << probe::ProbeScript(f.nonce.empty() ? probe::NewNonce() : f.nonce);
    return Outcome::kPass;
  }
  int sources = (f.local ? 1 : 0) + (!f.netns.empty() ? 1 : 0) +
                (!f.inventory.empty() || !f.from.empty() ? 1 : 0) +
                (!f.parse_output.empty() ? 1 : 0);
  if (sources != 1) {
    std::cerr << "fwgate probe: choose exactly one of --local, --netns NAME, --inventory FILE, "
                 "--from DIR, --parse-output FILE\n";
    return Outcome::kBadInput;
  }
  if (!f.parse_output.empty() && f.name.empty()) {
    std::cerr << "fwgate probe: --parse-output needs --name NODE\n";
    return Outcome::kBadInput;
  }
  if (f.ansible_inventory && f.inventory.empty()) {
    std::cerr << "fwgate probe: --ansible-inventory needs --inventory\n";
    return Outcome::kBadInput;
  }
  if (!f.limit.empty() && f.inventory.empty()) {
    std::cerr << "fwgate probe: --limit needs --inventory\n";
    return Outcome::kBadInput;
  }
  for (const auto& o : f.ssh_options) {
    if (!ValidSshOption(o)) {
      std::cerr << "fwgate probe: --ssh-option '" << o << "': expected Key=Value\n";
      return Outcome::kBadInput;
    }
  }
  probe::ProbeOptions opt;
  opt.concurrency = f.concurrency;
  opt.timeout = std::chrono::milliseconds(static_cast<int64_t>(f.timeout_s * 1000));
  hazards::FindingsConfig cfg;
  cfg.storm_daemons = f.storm_daemons;
  cfg.storm_attempts_per_daemon = f.storm_rate;
  cfg.storm_boot_s = f.storm_boot;

  std::vector<probe::NodeFacts> nodes;
  if (!f.parse_output.empty()) {
    probe::NodeFacts n = probe::NodeFromSavedOutput(f.parse_output, f.name, f.nonce);
    std::string why(Utf8Prefix(f.reason, 2000));
    while (!why.empty() && std::isspace(static_cast<unsigned char>(why.back()))) why.pop_back();
    while (!why.empty() && std::isspace(static_cast<unsigned char>(why.front()))) why.erase(0, 1);
    if (!n.reachable && !why.empty()) n.error += " (" + why + ")";
    nodes.push_back(std::move(n));
  } else if (f.local) {
    nodes.push_back(probe::ProbeHere(f.name.empty() ? HostName() : f.name, opt));
  } else if (!f.netns.empty()) {
    auto n = probe::ProbeNamedNetns(f.netns, opt);
    if (!n) {
      std::cerr << "fwgate probe: " << n.error().ToString() << "\n";
      return Outcome::kBadInput;
    }
    nodes.push_back(std::move(n).value());
  } else {
    probe::FleetRequest req;
    req.inventory = f.inventory;
    req.limit = f.limit;
    req.ansible_inventory = f.ansible_inventory;
    req.ansible_inventory_program = f.ansible_inventory_program;
    req.from = f.from;
    req.ssh.ssh_binary = f.ssh_program;
    req.ssh.extra_options = f.ssh_options;
    req.ssh.config_file = f.ssh_config;
    req.ssh.connect_timeout_s = std::max(1, static_cast<int>(f.timeout_s / 2));
    req.share_ssh = f.ssh_share;
    req.probe = opt;
    // Nodes done and time left, on a terminal (worker threads call on_done).
    auto progress = std::make_shared<Progress>("probe", f.quiet);
    if (progress->enabled()) {
      auto started = std::chrono::steady_clock::now();
      auto total = std::make_shared<std::atomic<size_t>>(0);
      auto done = std::make_shared<std::atomic<size_t>>(0);
      req.on_start = [=](size_t n) {
        *total = n;
        progress->Say("nodes: 0/" + std::to_string(n) + " done");
      };
      req.on_done = [=](const probe::NodeFacts& n) {
        size_t d = ++*done;
        auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - started);
        progress->Say("nodes: " + std::to_string(d) + "/" + std::to_string(total->load()) +
                      " done (last: " + TerminalSafe(n.name) +
                      (n.reachable ? "" : ", unreachable") + "), " +
                      TimeLeft(d, total->load(), elapsed));
      };
    }
    auto gathered = probe::GatherFleet(req);
    if (!gathered) {
      // Inventory parse errors read "FILE:LINE:COL: message"; others carry their context.
      const Error& e = gathered.error();
      std::cerr << (e.kind == ErrorKind::kBadInput && !e.code &&
                            e.context.find(':') != std::string::npos
                        ? e.context
                        : "fwgate probe: " + e.ToString())
                << "\n";
      return OutcomeOf(e);
    }
    nodes = std::move(gathered).value();
    if (nodes.empty()) {
      std::cerr << "fwgate probe: no nodes to probe\n";
      return Outcome::kBadInput;
    }
  }

  report::ProbeResults results = report::Judge(std::move(nodes), cfg);
  if (f.json) {
    std::cout << report::ProbeJson(results).dump(2, ' ', false,
                                                 nlohmann::json::error_handler_t::replace)
              << "\n";
  } else if (f.prometheus) {
    std::cout << report::ProbePrometheus(results);
  } else {
    std::cout << report::ProbeTable(results);
  }
  Outcome outcome = hazards::ProbeOutcome(results.node_findings, results.fleet_findings);
  if (outcome == Outcome::kUndecided) {
    std::cerr << "fwgate probe: could not decide: some nodes or facts could not be read (exit 3)\n";
  }
  return outcome;
}

const Registrar kProbe{Command{
    "probe", 30, [](CLI::App& root) -> std::function<Outcome()> {
      auto* sub = root.add_subcommand(
          "probe",
          "Probe nodes (kernel, conntrack sysctls and statistics, firewall backends, services, "
          "live "
          "ruleset) and judge them against the kernel facts (docs/kernel-conntrack.md).\n"
          "Exit: 0 no blocking finding; 1 a blocking finding (wins over 3: the answer is already "
          "no); 3 a node or a deciding fact could not be read; 2 bad inventory or flags.");
      auto f = std::make_shared<ProbeFlags>();
      sub->add_flag("--local", f->local, "Probe this host (its current network namespace)");
      sub->add_option("--netns", f->netns, "Probe the named network namespace (/run/netns/NAME)");
      sub->add_option("--inventory", f->inventory,
                      "Ansible inventory (INI or YAML): probe its hosts over ssh");
      sub->add_option("--limit", f->limit,
                      "Only these hosts: an Ansible pattern (host, group, glob, ~regex, joined by "
                      "':' or ',' ; ':&' intersects, ':!' excludes)");
      sub->add_flag("--ansible-inventory", f->ansible_inventory,
                    "Read --inventory through `ansible-inventory -i FILE --list` (dynamic "
                    "inventories, plugins, group_vars/host_vars)");
      sub->add_option("--ansible-inventory-program", f->ansible_inventory_program,
                      "ansible-inventory to run (default: from PATH)");
      sub->add_option("--parse-output", f->parse_output,
                      "Read one saved output of the probe script (as printed by --print-script "
                      "and run with `sh -s` on NODE) instead of probing; needs --name");
      sub->add_option("--reason", f->reason,
                      "With --parse-output: why the output may be missing (a fleet tool's "
                      "message), added to the node's error when it is unreachable");
      sub->add_option("--nonce", f->nonce,
                      "Section-marker nonce for --print-script / --parse-output (8-64 letters "
                      "or digits; default: random / read from the output)");
      sub->add_option(
          "--from", f->from,
          "Read probe JSON files (*.json, one node each, e.g. from `fwgate probe --local "
          "--json` run by Ansible/Salt/pdsh) instead of connecting");
      auto* j = sub->add_flag("--json", f->json, "JSON output");
      auto* p = sub->add_flag("--prometheus", f->prometheus, "Prometheus text output");
      sub->add_flag("--quiet", f->quiet,
                    "No progress on stderr (fleet probes show nodes done and time left when "
                    "stderr is a terminal)");
      j->excludes(p);
      sub->add_option("--concurrency", f->concurrency, "Nodes probed at once (default 16)")
          ->check(CLI::Range(1, 1024));
      sub->add_option("--timeout", f->timeout_s,
                      "Seconds per node before its ssh is killed (default 20)")
          ->check(CLI::Range(0.1, 3600.0));
      sub->add_option("--ssh-option", f->ssh_options,
                      "Extra ssh option Key=Value (repeatable; passed as -o)");
      sub->add_option("--ssh-config", f->ssh_config,
                      "ssh_config file to use (-F); default: ssh's own");
      sub->add_option("--ssh-program", f->ssh_program,
                      "ssh client to run (default: ssh from PATH)");
      sub->add_flag("--ssh-share", f->ssh_share,
                    "Sessions to the same node share one ssh connection (ControlMaster, control "
                    "sockets in a private 0700 directory removed when the probe ends). To reuse "
                    "connections across runs, set ControlMaster/ControlPath/ControlPersist in "
                    "your ssh_config instead; fwgate never changes your key exchange or ciphers");
      sub->add_flag("--print-script", f->print_script,
                    "Print the read-only sh script sent to nodes (`sh -s` over ssh) and exit");
      sub->add_option("--name", f->name,
                      "Node name for --local (default: host name) and --parse-output");
      sub->add_option("--storm-daemons", f->storm_daemons,
                      "Daemons restarted at once in the restart-storm estimate (default 8: the "
                      "2014 host's OSDs)")
          ->check(CLI::Range(1, 100000));
      sub->add_option("--storm-rate", f->storm_rate,
                      "Reconnect attempts/s per restarting daemon (default 62.5: ~500/s for 8 "
                      "OSDs in the 2014 incident, docs/kernel-conntrack.md §4.4)")
          ->check(CLI::Range(0.001, 1e6));
      sub->add_option("--storm-boot", f->storm_boot,
                      "Seconds one daemon takes to come back when restarted alone (its peers "
                      "spin meanwhile; daemons restarted together share the host). Default 0: "
                      "unknown, the spin is taken to last as long as an attempt lingers (120 s), "
                      "as in 2014")
          ->check(CLI::Range(0.0, 86400.0));
      return [f]() { return Run(*f); };
    }}};

}  // namespace
}  // namespace fwgate::cli
