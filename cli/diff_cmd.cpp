// `fwgate diff --current FILE | --live [--netns NAME] --proposed FILE [--json] [--exit-code]
// [--fail-on WHAT,...] [--no-traffic] [--confirm]`: the structural plan of what would change if
// the proposed ruleset replaced the current one, then the traffic that changes verdict (per path,
// family and conntrack state, with example packets; --confirm has the kernel check every
// example). --fail-on lets a CI tell a harmless change from a dangerous one.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <set>

#include "base/outcome.h"
#include "cli/command.h"
#include "cli/ruleset_input.h"
#include "gate/diff/confirm.h"
#include "gate/diff/diff.h"
#include "gate/diff/traffic.h"
#include "gate/nft/loader.h"
#include "report/diff_report.h"

namespace fwgate::cli {
namespace {

// What --fail-on can name; each is a question over the plan and the traffic comparison.
enum class FailOn { kChange, kTraffic, kCut, kExposure, kNewlyDropped };
const std::map<std::string, FailOn> kFailOnNames = {{"change", FailOn::kChange},
                                                    {"traffic", FailOn::kTraffic},
                                                    {"cut", FailOn::kCut},
                                                    {"exposure", FailOn::kExposure},
                                                    {"drop", FailOn::kNewlyDropped}};

struct DiffArgs {
  std::string current, proposed, netns;
  std::vector<std::string> include_dirs;
  std::vector<std::string> fail_on;
  sys::NftLimits nft_limits;
  bool live = false, json = false, exit_code = false, no_traffic = false, confirm = false;
};

// Regions of `d` that answer `what`.
std::vector<const traffic::Region*> RegionsFor(FailOn what, const traffic::TrafficDiff& d) {
  std::vector<const traffic::Region*> out;
  switch (what) {
    case FailOn::kChange:
      break;
    case FailOn::kTraffic:
      for (const auto& r : d.regions) out.push_back(&r);
      break;
    case FailOn::kCut:
      out = traffic::EstablishedCut(d);
      break;
    case FailOn::kExposure:
      for (const traffic::Region* r : traffic::NewlyAccepted(d, true)) {
        if (r->path != traffic::Path::kOutput) out.push_back(r);
      }
      break;
    case FailOn::kNewlyDropped:
      for (const auto& r : d.regions) {
        bool stopped = r.after.verdict == traffic::VerdictKind::kDrop ||
                       r.after.verdict == traffic::VerdictKind::kReject;
        if (r.before.verdict == traffic::VerdictKind::kAccept && stopped) out.push_back(&r);
      }
      break;
  }
  return out;
}

// --fail-on: 1 when a named question is answered yes by a certain region (or, for `change`, by
// the plan); 3 when none is but the comparison is incomplete or a region that could answer yes
// is uncertain ("could not decide" is never pass); 0 otherwise. Says why on stderr.
Outcome JudgeFailOn(const std::vector<std::string>& names, const diff::Plan& plan,
                    const traffic::TrafficDiff* d) {
  bool fail = false, undecided = false;
  for (const std::string& name : names) {
    FailOn what = kFailOnNames.at(name);
    if (what == FailOn::kChange) {
      if (!plan.empty()) {
        std::cerr << "fwgate: diff: --fail-on change: the plan has " << plan.changes.size()
                  << " change(s)\n";
        fail = true;
      }
      continue;
    }
    std::vector<std::string> sure, maybe;
    for (const traffic::Region* r : RegionsFor(what, *d))
      (r->certain ? sure : maybe).push_back(r->id);
    // Uncertain regions whose outcome is unknown on either side could be any of the questions.
    if (what != FailOn::kTraffic) {
      for (const auto& r : d->regions) {
        bool unknown = r.before.verdict == traffic::VerdictKind::kUnknown ||
                       r.after.verdict == traffic::VerdictKind::kUnknown;
        if (unknown && std::find(maybe.begin(), maybe.end(), r.id) == maybe.end()) {
          maybe.push_back(r.id);
        }
      }
    }
    auto list = [](const std::vector<std::string>& ids) {
      std::string s;
      for (const auto& id : ids) s += (s.empty() ? "" : ", ") + id;
      return s;
    };
    if (!sure.empty()) {
      std::cerr << "fwgate: diff: --fail-on " << name << ": region(s) " << list(sure) << "\n";
      fail = true;
    } else if (!maybe.empty()) {
      std::cerr << "fwgate: diff: --fail-on " << name << ": undecided: region(s) " << list(maybe)
                << " may change depending on what fwgate does not model\n";
      undecided = true;
    } else if (!d->complete) {
      std::cerr << "fwgate: diff: --fail-on " << name
                << ": undecided: the traffic comparison is incomplete (see its notes)\n";
      undecided = true;
    }
  }
  if (fail) return Outcome::kFail;
  return undecided ? Outcome::kUndecided : Outcome::kPass;
}

Outcome RunDiff(const DiffArgs& a) {
  auto usage = [](const std::string& msg) {
    std::cerr << "fwgate: diff: " << msg << "\nRun 'fwgate diff --help' for usage.\n";
    return Outcome::kBadInput;
  };
  if (a.current.empty() == !a.live) {
    return usage(a.live ? "give either --current FILE or --live, not both"
                        : "give the current ruleset: --current FILE or --live");
  }
  if (!a.netns.empty() && !a.live) return usage("--netns only goes with --live");
  if (a.proposed.empty()) return usage("--proposed FILE is required");

  nft::LoadOptions options;
  options.nft = a.nft_limits;
  if (auto bad = IncludeDirsOrReport("diff", a.include_dirs, options)) return *bad;
  nft::Ruleset current;
  nft::LoadResult cur, prop;
  if (a.live) {
    if (auto o = ReadLiveOrReport("diff", a.netns, current)) return *o;
    if (auto o = LoadRulesetOrReport("diff", a.proposed, prop, options)) return *o;
  } else {
    // Both files load at once, each in its own namespace.
    std::vector<nft::LoadResult> both;
    if (auto o = LoadRulesetsOrReport("diff", {a.current, a.proposed}, both, options)) return *o;
    cur = std::move(both[0]);
    prop = std::move(both[1]);
    current = std::move(cur.ruleset);
  }
  const nft::Ruleset& proposed = prop.ruleset;

  if (a.confirm && a.no_traffic) return usage("--confirm needs the traffic comparison");
  for (const std::string& name : a.fail_on) {
    if (a.no_traffic && name != "change") {
      return usage("--fail-on " + name + " needs the traffic comparison (drop --no-traffic)");
    }
  }

  diff::Plan plan = diff::DiffRulesets(current, proposed);
  std::optional<traffic::TrafficDiff> moved;
  if (!a.no_traffic) {
    traffic::TrafficOptions to;
    if (!a.live) {
      to.current_sources = &cur.sources;
      to.current_interfaces = cur.ruleset.interfaces;
    }
    to.proposed_sources = &prop.sources;
    to.proposed_interfaces = prop.ruleset.interfaces;
    moved = traffic::CompareTraffic(current, proposed, plan, to);
    if (a.confirm) {
      traffic::ConfirmOptions co;
      if (auto st = traffic::ConfirmRegions(a.live ? nullptr : &cur, prop, *moved, co); !st) {
        std::cerr << "fwgate: diff: --confirm: " << st.error().ToString() << "\n";
        return OutcomeOf(st.error());
      }
    }
  }
  if (a.json) {
    nlohmann::json j = report::PlanToJson(plan);
    if (moved) j["traffic"] = report::TrafficToJson(*moved);
    std::cout << j.dump(2) << "\n";
  } else {
    bool colour = isatty(STDOUT_FILENO) == 1 && std::getenv("NO_COLOR") == nullptr;
    std::cout << report::PlanToText(plan, colour);
    // An empty plan changes no traffic: "No changes." says it all.
    if (moved && !plan.empty()) std::cout << "\n" << report::TrafficToText(*moved, colour);
  }
  std::cout.flush();
  if (moved && a.confirm) {
    for (const auto& r : moved->regions) {
      for (const auto& c : r.confirm) {
        if (c && c->status == traffic::ConfirmStatus::kDefect) {
          std::cerr << "fwgate: diff: region " << r.id
                    << ": the kernel's verdict disagrees with fwgate's (" << c->detail << ")\n";
          return Outcome::kUndecided;
        }
      }
    }
  }
  if (!a.fail_on.empty()) return JudgeFailOn(a.fail_on, plan, moved ? &*moved : nullptr);
  return a.exit_code && !plan.empty() ? Outcome::kFail : Outcome::kPass;
}

const Registrar kDiff{Command{
    "diff", 20, [](CLI::App& root) -> std::function<Outcome()> {
      auto* sub = root.add_subcommand(
          "diff",
          "Show what would change (plan-style) if the proposed ruleset replaced the current one");
      auto args = std::make_shared<DiffArgs>();
      sub->add_option("--current", args->current,
                      "Current ruleset file (loaded through the kernel in a throwaway namespace)")
          ->type_name("FILE");
      sub->add_flag("--live", args->live,
                    "Use the live ruleset of this host (or of --netns NAME) as the current one");
      sub->add_option("--netns", args->netns,
                      "With --live: named network namespace (/run/netns/NAME)")
          ->type_name("NAME");
      sub->add_option("--proposed", args->proposed, "Proposed ruleset file")->type_name("FILE");
      sub->add_flag("--json", args->json, "Machine-readable output (stable JSON contract)");
      AddIncludeDirOption(sub, args->include_dirs);
      AddNftLimitOptions(sub, args->nft_limits);
      sub->add_flag("--exit-code", args->exit_code,
                    "Exit 1 when there are changes (like git diff --exit-code)");
      sub->add_option("--fail-on", args->fail_on,
                      "Exit 1 when the change does any of WHAT (comma-separated): change (any "
                      "structural change), traffic (any packet changes verdict), cut (open "
                      "connections cut: established/related accepted before, dropped after), "
                      "exposure (new connections from any source newly accepted on input or "
                      "forward), drop (traffic accepted before, dropped or rejected after)")
          ->delimiter(',')
          ->check(CLI::IsMember({"change", "traffic", "cut", "exposure", "drop"}))
          ->type_name("WHAT");
      sub->add_flag("--no-traffic", args->no_traffic,
                    "Only the structural plan: skip the traffic that changes verdict");
      sub->add_flag("--confirm", args->confirm,
                    "Have the kernel confirm every example packet: load each ruleset into a "
                    "throwaway namespace, create the conntrack entry the packet's state needs, "
                    "send it through a veth and trace its verdict");
      sub->footer(
          "Marks: + add, - remove, ~ change (before, then → after), > move (rule kept, new "
          "place).\n"
          "Rules are matched by content, not handle; counter/quota values are ignored.\n"
          "Traffic: each region of packets whose verdict changes, per path (input, forward,\n"
          "output), family and ct state, with the deciding rules before and after and an example\n"
          "packet (docs/traffic-diff.md). \"may change\" marks regions that depend on what fwgate\n"
          "does not model (rate limits, meta skuid, NAT, ...).\n"
          "With --confirm, a region whose kernel verdict disagrees exits 3.\n"
          "--fail-on for CI: `--fail-on cut,exposure` passes a harmless change (a rewrite,\n"
          "a new port for a restricted source) and fails one that cuts open connections or\n"
          "opens the node; it exits 3 when only a region fwgate cannot decide could say yes.\n"
          "Exit codes: 0 the plan was computed, whether or not there are changes (it is a plan,\n"
          "not a gate; with --exit-code: 1 when there are changes; with --fail-on: 1 when the "
          "change\n"
          "does what it names), 2 bad input or usage\n"
          "(unloadable file, unknown namespace), 3 could not decide (no privilege, kernel lacks a\n"
          "feature the file needs).\n"
          "Colour only when stdout is a terminal and NO_COLOR is unset.");
      return [args] { return RunDiff(*args); };
    }}};

}  // namespace
}  // namespace fwgate::cli
