// `fwgate check`: the gate. One verdict for one change on one fleet, from every stage
// (validate, plan, policy, reload lint, fleet, replay), in the formats CI systems and change
// tickets read. Exit 0 pass, 1 the gate says no, 2 bad input, 3 could not decide.
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>

#include "check/run.h"
#include "cli/command.h"
#include "cli/ruleset_input.h"
#include "cli/stop_signal.h"
#include "gate/nft/git_files.h"
#include "report/check_report.h"

namespace fwgate::cli {
namespace {

namespace fs = std::filesystem;

struct CheckArgs {
  std::string proposed, current, base, netns;
  bool live = false;
  std::vector<std::string> include_dirs;
  std::string inventory, limit, from, ssh_config, ssh_program = "ssh";
  bool ansible_inventory = false;
  std::vector<std::string> ssh_options;
  int concurrency = 16;
  double probe_timeout_s = 20;
  std::string kernel, be_liberal;
  std::string reload = "atomic";
  int gap_ms = 1000;
  int reload_timeout_ms = 30000;
  bool no_lab = false;
  int per_node = 2;
  int stall_threshold_ms = 2000;
  std::vector<std::string> formats;
  std::string output_dir;
  bool quiet = false;
  sys::NftLimits nft_limits;
};

// Format name -> file name under --output-dir.
const std::map<std::string, std::string>& Formats() {
  static const std::map<std::string, std::string> k = {
      {"text", "fwgate-check.txt"},         {"json", "fwgate-check.json"},
      {"junit", "fwgate-check.junit.xml"},  {"sarif", "fwgate-check.sarif"},
      {"markdown", "fwgate-check.md"},      {"html", "fwgate-check.html"},
      {"github", "fwgate-check.github.txt"}};
  return k;
}

Result<std::string> Render(const std::string& format, const check::CheckReport& r,
                           const std::string& source_root, bool colour) {
  if (format == "text") return report::CheckToText(r, colour);
  if (format == "json") {
    return report::CheckToJson(r).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) +
           "\n";
  }
  if (format == "junit") return report::CheckToJunit(r);
  if (format == "sarif") return report::CheckToSarif(r, source_root);
  if (format == "github") return report::CheckToGithub(r, source_root);
  if (format == "markdown") return report::CheckToMarkdown(r);
  if (format == "html") return report::CheckToHtml(r);
  return Error::BadInput("--format: unknown format '" + format + "'");
}

bool ValidSshOption(const std::string& o) {
  size_t eq = o.find('=');
  if (eq == std::string::npos || eq == 0) return false;
  for (size_t i = 0; i < eq; ++i) {
    if (!std::isalnum(static_cast<unsigned char>(o[i]))) return false;
  }
  for (unsigned char c : o) {
    if (c < 0x20) return false;
  }
  return true;
}

Outcome RunCheckCommand(const CheckArgs& a) {
  auto usage = [](const std::string& msg) {
    std::cerr << "fwgate: check: " << msg << "\nRun 'fwgate check --help' for usage.\n";
    return Outcome::kBadInput;
  };
  std::vector<std::string> formats =
      a.formats.empty() ? std::vector<std::string>{"text"} : a.formats;
  for (const auto& f : formats) {
    if (!Formats().contains(f)) {
      return usage("--format: unknown format '" + f +
                   "' (text, json, junit, sarif, markdown, html, github)");
    }
  }
  if (formats.size() > 1 && a.output_dir.empty()) {
    return usage("several --format values need --output-dir DIR (one file each)");
  }
  for (const auto& o : a.ssh_options) {
    if (!ValidSshOption(o)) return usage("--ssh-option '" + o + "': expected Key=Value");
  }
  if (!a.limit.empty() && a.inventory.empty()) return usage("--limit needs --inventory");

  check::CheckOptions o;
  o.load.nft = a.nft_limits;
  o.proposed = a.proposed;
  for (const auto& d : a.include_dirs) {
    auto dir = nft::ParseIncludeDir(d);
    if (!dir) return usage(dir.error().context);
    o.include_dirs.push_back(*dir);
  }
  o.current_file = a.current;
  o.live = a.live;
  o.live_netns = a.netns;
  o.base_rev = a.base;
  o.fleet.inventory = a.inventory;
  o.fleet.limit = a.limit;
  o.fleet.ansible_inventory = a.ansible_inventory;
  o.fleet.from = a.from;
  o.fleet.ssh.ssh_binary = a.ssh_program;
  o.fleet.ssh.extra_options = a.ssh_options;
  o.fleet.ssh.config_file = a.ssh_config;
  o.fleet.ssh.connect_timeout_s = std::max(1, static_cast<int>(a.probe_timeout_s / 2));
  o.fleet.probe.concurrency = a.concurrency;
  o.fleet.probe.timeout = std::chrono::milliseconds(static_cast<int64_t>(a.probe_timeout_s * 1000));
  o.probe_fleet = !a.inventory.empty() || !a.from.empty();
  o.kernel_spec = a.kernel;
  o.be_liberal_spec = a.be_liberal;
  o.reload = a.reload;
  o.gap = std::chrono::milliseconds(a.gap_ms);
  o.reload_timeout = std::chrono::milliseconds(a.reload_timeout_ms);
  o.lab = !a.no_lab;
  o.connections_per_node = a.per_node;
  o.stall_threshold = std::chrono::milliseconds(a.stall_threshold_ms);
  const std::atomic<bool>* stop = InstallStopHandlers();
  o.stop = stop;
  const bool tty = isatty(STDERR_FILENO) == 1;
  if (tty && !a.quiet) {
    o.progress = [](const std::string& s) { std::cerr << "fwgate check: " << s << "\n"; };
  }

  auto rep = check::RunCheck(o);
  if (!rep) {
    std::cerr << "fwgate: check: " << rep.error().ToString() << "\n";
    return OutcomeOf(rep.error());
  }
  if (stop->load()) {
    std::cerr << "fwgate: check: interrupted; the lab was torn down\n";
    return Outcome::kUndecided;
  }
  // Paths in SARIF and annotations are relative to the repository the proposed file is in.
  std::string source_root;
  if (auto top = nft::GitTopLevel(a.proposed); top) {
    source_root = *top;
  } else {
    std::error_code ec;
    source_root = fs::current_path(ec).string();
  }
  const bool colour = isatty(STDOUT_FILENO) == 1 && std::getenv("NO_COLOR") == nullptr;
  if (!a.output_dir.empty()) {
    std::error_code ec;
    fs::create_directories(a.output_dir, ec);
    if (ec) return usage("--output-dir " + a.output_dir + ": " + ec.message());
  }
  for (const auto& f : formats) {
    auto text = Render(f, *rep, source_root, colour && a.output_dir.empty());
    if (!text) return usage(text.error().context);
    if (a.output_dir.empty()) {
      std::cout << *text;
    } else {
      fs::path p = fs::path(a.output_dir) / Formats().at(f);
      std::ofstream out(p, std::ios::binary | std::ios::trunc);
      out << *text;
      if (!out) {
        std::cerr << "fwgate: check: cannot write " << p.string() << "\n";
        return Outcome::kUndecided;
      }
    }
  }
  if (!a.output_dir.empty()) std::cout << report::CheckToText(*rep, colour);
  // On GitHub Actions the findings also become annotations on the changed lines.
  const char* gha = std::getenv("GITHUB_ACTIONS");
  if (gha != nullptr && std::string(gha) == "true" &&
      std::find(formats.begin(), formats.end(), "github") == formats.end()) {
    // On stderr: the runner reads workflow commands from both streams, and stdout may carry a
    // JSON or SARIF report that annotation lines would corrupt.
    std::cerr << report::CheckToGithub(*rep, source_root);
  }
  std::cout.flush();
  return rep->verdict;
}

const Registrar kCheck{Command{
    "check", 5, [](CLI::App& root) -> std::function<Outcome()> {
      auto* sub = root.add_subcommand(
          "check",
          "The gate: will open connections survive this change on this fleet? Validates both "
          "rulesets, shows the plan, judges the change and the reload procedure, reads the "
          "fleet and replays the reload in the lab; one verdict.");
      auto a = std::make_shared<CheckArgs>();
      sub->add_option("--proposed", a->proposed, "The proposed ruleset file")
          ->required()
          ->type_name("FILE");
      AddIncludeDirOption(sub, a->include_dirs);
      AddNftLimitOptions(sub, a->nft_limits);
      auto* cur =
          sub->add_option("--current", a->current, "The current ruleset file")->type_name("FILE");
      auto* base = sub->add_option("--base", a->base,
                                   "The current ruleset is the proposed file's path at this git "
                                   "revision, with its includes from that revision's tree")
                       ->type_name("GITREV");
      auto* live =
          sub->add_flag("--live", a->live, "The current ruleset is this host's live ruleset");
      cur->excludes(base)->excludes(live);
      base->excludes(live);
      sub->add_option("--netns", a->netns, "With --live: a named network namespace")
          ->type_name("NAME");
      sub->add_option("--inventory", a->inventory,
                      "Probe the fleet over ssh from an Ansible inventory (INI, YAML, or "
                      "ansible-inventory --list JSON)")
          ->type_name("FILE");
      sub->add_option("--limit", a->limit, "With --inventory: an Ansible host pattern")
          ->type_name("PATTERN");
      sub->add_flag("--ansible-inventory", a->ansible_inventory,
                    "Read --inventory through ansible-inventory --list (plugins, group_vars)");
      sub->add_option("--from", a->from,
                      "The fleet's probe JSON files (fwgate probe --json, the "
                      "contrib/ansible playbook)")
          ->type_name("DIR");
      sub->add_option("--ssh-option", a->ssh_options, "ssh -o Key=Value (repeatable)");
      sub->add_option("--ssh-config", a->ssh_config, "ssh -F FILE");
      sub->add_option("--ssh-program", a->ssh_program, "The ssh client")->capture_default_str();
      sub->add_option("--concurrency", a->concurrency, "Nodes probed at once")
          ->capture_default_str()
          ->check(FiniteRange(1, 1024));
      sub->add_option("--probe-timeout", a->probe_timeout_s, "Seconds per node probe")
          ->capture_default_str()
          ->check(FiniteRange(1, 3600));
      sub->add_option("--kernel", a->kernel,
                      "Declare the fleet's kernels instead of probing: VERSION (every node) or "
                      "node1=4.15,node2=4.4,...");
      sub->add_option("--be-liberal", a->be_liberal,
                      "Declare nf_conntrack_tcp_be_liberal: 0|1 or node1=1,...");
      sub->add_option("--reload", a->reload,
                      "How production reloads: atomic | flush-then-load | command:ARGV (split "
                      "on spaces, quotes group words, never a shell; {} = the proposed file) | "
                      "auto (what each probed node's firewall service does)")
          ->capture_default_str();
      sub->add_option("--gap", a->gap_ms, "flush-then-load: ms between flush and load")
          ->capture_default_str()
          ->check(FiniteRange(0, 600000));
      sub->add_option("--reload-timeout", a->reload_timeout_ms, "command: ms before it is killed")
          ->capture_default_str()
          ->check(FiniteRange(100, 3600000));
      sub->add_flag("--no-lab", a->no_lab,
                    "Skip the lab replays (faster; the verdict then rests on the other "
                    "stages)");
      sub->add_option("--connections-per-node", a->per_node, "Lab connections per node and kind")
          ->capture_default_str()
          ->check(FiniteRange(1, 20000));
      sub->add_option("--stall-threshold", a->stall_threshold_ms,
                      "Lab: a connection stalled longer than this (ms) after the reload is "
                      "broken")
          ->capture_default_str()
          ->check(FiniteRange(200, 600000));
      sub->add_option("--format", a->formats,
                      "text | json | junit | sarif | markdown | html | github; repeatable "
                      "(several need --output-dir)")
          ->type_name("FORMAT");
      sub->add_option("--output-dir", a->output_dir,
                      "Write each format to DIR/fwgate-check.{txt,json,junit.xml,sarif,md,html,"
                      "github.txt}; the text summary still goes to stdout")
          ->type_name("DIR");
      sub->add_flag("--quiet", a->quiet, "No progress on stderr");
      sub->footer(
          "Used in a firewall repo's CI:\n"
          "  fwgate check --base origin/main --proposed firewall/storage.nft \\\n"
          "      --kernel node1=4.15,node2=4.4 --be-liberal 0 --reload flush-then-load \\\n"
          "      --format sarif --format junit --format html --output-dir fwgate-report\n"
          "Used in a change runbook:\n"
          "  fwgate check --inventory inventory.ini --limit storage --live \\\n"
          "      --proposed new.nft --format html --output-dir report\n"
          "Exit codes: 0 pass, 1 the gate says no (a blocking finding or a broken connection), "
          "2 bad input or usage, 3 could not decide (a node unreachable, no privilege for the "
          "lab, a tool missing; never a pass). With GITHUB_ACTIONS=true the findings are also "
          "printed as workflow annotations.");
      return [a] { return RunCheckCommand(*a); };
    }}};

}  // namespace
}  // namespace fwgate::cli
