// Acceptance: real lab replays driven by the fixture table of reload cases
// (tests/fixtures/reload-cases/cases.json: rulesets, reload, kernels, be_liberal, and the verdict
// the kernel facts predict). Each case runs `fwgate replay --json` as a child and checks the exit
// code, the verdict, where the breakage is, the commits the lab followed and that no emulation
// table is left behind. The default run takes the table's quick cases, once each (a few seconds
// each); FWGATE_FIDELITY_ALL=1 takes every case and FWGATE_FIDELITY_REPEAT=N runs each N times
// in a row, all of which must match (scripts/fidelity.sh). FWGATE_FIDELITY_GUEST=1 takes the
// table's guest cases instead (the QEMU cross-check, scripts/kernel-crosscheck.sh), and
// FWGATE_FIDELITY_RESULTS=FILE appends one line per run to FILE, the form the cross-check's
// report reads (scripts/kernel-crosscheck-report.sh):
//   case TAB run TAB expected TAB verdict TAB exit TAB matched(1|0) TAB seconds TAB reason
// where verdict is the report's (survived, broken, undecided) or "-" when there was no report.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "sys/netns.h"
#include "tests/support/reload_cases.h"
#include "tests/support/subprocess.h"

namespace fwgate::testing {
// gtest prints the case by its name, not its bytes.
void PrintTo(const ReloadCase& c, std::ostream* os) { *os << c.name; }
}  // namespace fwgate::testing

namespace {

using fwgate::testing::ReloadCase;

const std::vector<ReloadCase>& Cases() {
  static const std::vector<ReloadCase> k = fwgate::testing::LoadReloadCases(FWGATE_SOURCE_DIR);
  return k;
}

bool EnvOn(const char* name) {
  const char* v = getenv(name);
  return v != nullptr && std::string(v) == "1";
}

// One line of FWGATE_FIDELITY_RESULTS: tabs and line breaks in a field become spaces.
void AppendResult(const ReloadCase& c, int run, const fwgate::testing::ProcessResult& r,
                  bool matched, double seconds) {
  const char* path = getenv("FWGATE_FIDELITY_RESULTS");
  if (path == nullptr || *path == '\0') return;
  auto clean = [](std::string s) {
    for (char& ch : s) {
      if (ch == '\t' || ch == '\n' || ch == '\r') ch = ' ';
    }
    return s;
  };
  std::string verdict = "-", reason;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  if (!j.is_discarded() && j.is_object()) {
    if (j.contains("verdict") && j["verdict"].is_string()) verdict = j["verdict"];
    if (j.contains("reason") && j["reason"].is_string()) reason = j["reason"];
  }
  if (reason.empty()) reason = r.err.substr(0, 300);
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.1f", seconds);
  std::ofstream out(path, std::ios::app);
  out << clean(c.name) << '\t' << run << '\t' << c.verdict << '\t' << clean(verdict) << '\t'
      << r.exit_code << '\t' << (matched ? 1 : 0) << '\t' << secs << '\t'
      << clean(reason.substr(0, 300)) << '\n';
}

int Repeats() {
  const char* v = getenv("FWGATE_FIDELITY_REPEAT");
  int n = v != nullptr ? std::atoi(v) : 1;
  return n < 1 ? 1 : n;
}

fwgate::testing::ProcessResult RunCase(const ReloadCase& c) {
  // FWGATE_BINARY_OVERRIDE lets a long repeat loop run a frozen copy of the program.
  std::vector<std::string> args = fwgate::testing::ReplayArgs(c);
  if (const char* bin = getenv("FWGATE_BINARY_OVERRIDE")) {
    args.insert(args.begin(), bin);
    return fwgate::testing::RunProcess(args);
  }
  return fwgate::testing::RunFwgate(args);
}

// Everything about one run that disagrees with the case; empty when it matches.
std::vector<std::string> Mismatches(const ReloadCase& c, const fwgate::testing::ProcessResult& r) {
  std::vector<std::string> out;
  if (r.exit_code != 0 && r.exit_code != 1) {
    // Undecided (3) still prints the report: its reason says why (lab overloaded, a step's
    // time limit, commits not followed).
    auto u = nlohmann::json::parse(r.out, nullptr, false);
    std::string why;
    if (u.is_object() && u.contains("reason") && u["reason"].is_string()) {
      why = u["reason"].get<std::string>();
    }
    out.push_back("exit " + std::to_string(r.exit_code) + ": " + why + (why.empty() ? "" : " ") +
                  r.err);
    return out;
  }
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  if (j.is_discarded()) {
    out.push_back("not JSON: " + r.out.substr(0, 200));
    return out;
  }
  std::string nodes_seen;
  for (const auto& n : j["nodes"]) {
    nodes_seen += " " + n["name"].get<std::string>() + "(" + n["emulation"].get<std::string>() +
                  " invalid=" + std::to_string(n["conntrack"]["invalid"].get<uint64_t>()) + ")";
  }
  auto say = [&](const std::string& what) {
    out.push_back(what + " [" + j["reason"].get<std::string>() + ";" + nodes_seen + "]");
  };
  if (j["verdict"] != c.verdict) say("verdict " + j["verdict"].get<std::string>());
  if (r.exit_code != (c.verdict == "survived" ? 0 : 1)) {
    say("exit " + std::to_string(r.exit_code));
  }
  if (j["nodes"].size() != 3u) say("nodes " + std::to_string(j["nodes"].size()));
  for (const auto& n : j["nodes"]) {
    const std::string name = n["name"];
    auto in = [&](const std::vector<std::string>& v) {
      return std::find(v.begin(), v.end(), name) != v.end();
    };
    uint64_t invalid = n["conntrack"]["invalid"].get<uint64_t>();
    if (in(c.invalid_on) && invalid == 0) say(name + ": no INVALID counted");
    if (in(c.clean) && invalid != 0) say(name + ": INVALID counted on a node that must stay clean");
    if (!n.value("commits_followed", false)) say(name + ": commits not followed");
    bool none = false, kept_lost = false;
    for (const auto& g : n.value("no_ct_user", nlohmann::json::array())) {
      if (g["family"] == c.no_ct_user) none = true;
      if (g["family"] == c.users_kept) kept_lost = true;
    }
    if (!c.no_ct_user.empty() && !none)
      say(name + ": no interval without " + c.no_ct_user + " users");
    if (!c.users_kept.empty() && kept_lost) say(name + ": " + c.users_kept + " lost its users");
    std::vector<std::string> tables;
    for (const auto& t : n.value("tables_after", nlohmann::json::array())) {
      tables.push_back(t.get<std::string>());
      if (t.get<std::string>().find("fwgate_") != std::string::npos) {
        say(name + ": lab table left behind: " + t.get<std::string>());
      }
    }
    if (!c.tables_after.empty() && tables != c.tables_after) {
      std::string got;
      for (const auto& t : tables) got += "'" + t + "' ";
      say(name + ": tables after the reload: " + got);
    }
  }
  if (!c.broken_touching.empty()) {
    if (j["broken_connections"].empty()) say("no broken connection");
    for (const auto& b : j["broken_connections"]) {
      bool touches = false;
      for (const auto& node : c.broken_touching)
        touches = touches || b["from"] == node || b["to"] == node;
      if (!touches) say("broken elsewhere: " + b.dump());
    }
  }
  if (c.verdict == "survived" && !j["broken_connections"].empty()) say("broken connections");
  return out;
}

class ReplayAcceptance : public ::testing::TestWithParam<ReloadCase> {
 protected:
  void SetUp() override {
    if (auto st = fwgate::sys::CanCreateNamespaces(); !st) {
      GTEST_SKIP() << st.error().ToString();
    }
    if (EnvOn("FWGATE_FIDELITY_GUEST")) {
      if (!GetParam().guest) GTEST_SKIP() << "not a guest case of the QEMU cross-check";
      return;
    }
    if (!GetParam().quick && !EnvOn("FWGATE_FIDELITY_ALL")) {
      GTEST_SKIP() << "not a quick case: scripts/fidelity.sh (FWGATE_FIDELITY_ALL=1) runs it";
    }
  }
};

TEST_P(ReplayAcceptance, VerdictMatchesTheKernelFacts) {
  const ReloadCase& c = GetParam();
  SCOPED_TRACE(c.description + " (docs/kernel-conntrack.md " + c.facts + ")");
  const int runs = Repeats();
  int matched = 0;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    auto r = RunCase(c);
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - t0;
    auto bad = Mismatches(c, r);
    AppendResult(c, i + 1, r, bad.empty(), took.count());
    if (bad.empty()) {
      ++matched;
      continue;
    }
    for (const auto& b : bad) ADD_FAILURE() << "run " << i + 1 << " of " << runs << ": " << b;
  }
  RecordProperty("matched", std::to_string(matched) + "/" + std::to_string(runs));
  EXPECT_EQ(matched, runs) << c.name << ": " << matched << " of " << runs << " runs matched";
}

INSTANTIATE_TEST_SUITE_P(Table, ReplayAcceptance, ::testing::ValuesIn(Cases()),
                         [](const auto& p) { return p.param.name; });

}  // namespace
