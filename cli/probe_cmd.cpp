// `fwgate probe`: node facts (kernel, conntrack sysctls and statistics, firewall backends and
// services, live ruleset) judged by the kernel knowledge base, for this host, a namespace, an
// Ansible inventory over ssh, or probe JSON files gathered by any fleet tool.
#include <unistd.h>

#include <iostream>
#include <memory>

#include "base/outcome.h"
#include "cli/command.h"
#include "gate/hazards/findings.h"
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
  int concurrency = 16;
  double timeout_s = 20;
  std::vector<std::string> ssh_options;
  std::string ssh_config;
  std::string ssh_program = "ssh";
  std::string name;
  bool print_script = false;
  int storm_daemons = 8;
  double storm_rate = 62.5;
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
  if (f.print_script) {
    std::cout << probe::ProbeScript(probe::NewNonce());
    return Outcome::kPass;
  }
  int sources = (f.local ? 1 : 0) + (!f.netns.empty() ? 1 : 0) +
                (!f.inventory.empty() || !f.from.empty() ? 1 : 0);
  if (sources != 1) {
    std::cerr << "fwgate probe: choose exactly one of --local, --netns NAME, --inventory FILE, "
                 "--from DIR\n";
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

  std::vector<probe::NodeFacts> nodes;
  if (f.local) {
    nodes.push_back(probe::ProbeHere(f.name.empty() ? HostName() : f.name, opt));
  } else if (!f.netns.empty()) {
    auto n = probe::ProbeNamedNetns(f.netns, opt);
    if (!n) {
      std::cerr << "fwgate probe: " << n.error().ToString() << "\n";
      return Outcome::kBadInput;
    }
    nodes.push_back(std::move(n).value());
  } else {
    std::vector<probe::Target> targets;
    bool have_targets = false;
    if (!f.inventory.empty()) {
      auto inv = probe::LoadInventory(f.inventory);
      if (!inv) {
        // Parse errors are "FILE:LINE:COL: message"; I/O errors carry errno text.
        std::cerr << (inv.error().kind == ErrorKind::kBadInput && !inv.error().code
                          ? inv.error().context
                          : "fwgate probe: " + inv.error().ToString())
                  << "\n";
        return OutcomeOf(inv.error());
      }
      auto sel = inv->Select(f.limit);
      if (!sel) {
        std::cerr << "fwgate probe: " << f.inventory << ": " << sel.error().context << "\n";
        return Outcome::kBadInput;
      }
      targets = std::move(sel).value();
      have_targets = true;
    }
    if (!f.from.empty()) {
      auto loaded = report::LoadProbeDir(f.from);
      if (!loaded) {
        std::cerr << "fwgate probe: " << loaded.error().ToString() << "\n";
        return Outcome::kBadInput;
      }
      if (have_targets) {
        // The inventory decides which nodes matter; a node without a file is unreadable.
        for (const auto& t : targets) {
          auto it = std::find_if(loaded->begin(), loaded->end(),
                                 [&](const probe::NodeFacts& n) { return n.name == t.name; });
          if (it != loaded->end()) {
            nodes.push_back(*it);
          } else {
            probe::NodeFacts missing;
            missing.name = t.name;
            missing.transport = "file";
            missing.error = "no probe file for this node in " + f.from;
            nodes.push_back(std::move(missing));
          }
        }
      } else {
        nodes = std::move(loaded).value();
      }
    } else {
      probe::SshOptions so;
      so.ssh_binary = f.ssh_program;
      so.extra_options = f.ssh_options;
      so.config_file = f.ssh_config;
      so.connect_timeout_s = std::max(1, static_cast<int>(f.timeout_s / 2));
      probe::SshTransport ssh(so);
      nodes = probe::ProbeFleet(ssh, targets, opt);
    }
    if (nodes.empty()) {
      std::cerr << "fwgate probe: no nodes to probe\n";
      return Outcome::kBadInput;
    }
  }

  report::ProbeResults results = report::Judge(std::move(nodes), cfg);
  if (f.json) {
    std::cout << report::ProbeJson(results).dump(2) << "\n";
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
      sub->add_option("--limit", f->limit, "Only the hosts of this inventory group");
      sub->add_option(
          "--from", f->from,
          "Read probe JSON files (*.json, one node each, e.g. from `fwgate probe --local "
          "--json` run by Ansible/Salt/pdsh) instead of connecting");
      auto* j = sub->add_flag("--json", f->json, "JSON output");
      auto* p = sub->add_flag("--prometheus", f->prometheus, "Prometheus text output");
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
      sub->add_flag("--print-script", f->print_script,
                    "Print the read-only sh script sent to nodes (`sh -s` over ssh) and exit");
      sub->add_option("--name", f->name, "Node name for --local (default: host name)");
      sub->add_option("--storm-daemons", f->storm_daemons,
                      "Daemons restarted at once in the restart-storm estimate (default 8: the "
                      "2014 host's OSDs)")
          ->check(CLI::Range(1, 100000));
      sub->add_option("--storm-rate", f->storm_rate,
                      "Reconnect attempts/s per restarting daemon (default 62.5: ~500/s for 8 "
                      "OSDs in the 2014 incident, docs/kernel-conntrack.md §4.4)")
          ->check(CLI::Range(0.001, 1e6));
      return [f]() { return Run(*f); };
    }}};

}  // namespace
}  // namespace fwgate::cli
