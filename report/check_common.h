// What the gate's CI and page renderings (check_ci.cpp, check_page.cpp) share: the outcome a
// stage or node shows, findings in reading order, plain-text finding bodies, repository paths.
// Internal to report/; pure functions of the report; thread-safe.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "check/check.h"

namespace fwgate::report::check_render {

// What one finding says about the answer: blocking -> fail, undecided -> undecided, else pass.
[[nodiscard]] Outcome FindingOutcome(const Finding& f);

// A stage's outcome as reports show it: its own outcome combined with its findings' (a stage
// that reports a blocking finding never shows as passed). Only for stages that ran.
[[nodiscard]] Outcome StageShown(const check::StageResult& s);

// The findings about one node (Finding::node == name), in stage order.
[[nodiscard]] std::vector<const Finding*> NodeFindings(const check::CheckReport& r,
                                                       std::string_view node);

// A node's outcome as reports show it: its row's outcome, unreachable as undecided, combined with
// its findings'.
[[nodiscard]] Outcome NodeShown(const check::CheckReport& r, const check::NodeRow& n);

// Every finding in reading order: blocking, then undecided, warning, info; stage order within.
[[nodiscard]] std::vector<const Finding*> FindingsInOrder(const check::CheckReport& r);

// One line for the verdict: "the gate says no", "could not decide (this is not a pass)", ...
[[nodiscard]] std::string_view VerdictHeadline(Outcome verdict);

// What the failure is due to, in a sentence for the reader ("" for Cause::kNone).
[[nodiscard]] std::string_view CauseSentence(check::Cause cause);

// A rule's one-line summary from the rule tables (gate/hazards), or the id in words
// ("established-accept-lost" -> "Established accept lost").
[[nodiscard]] std::string RuleSummary(std::string_view id);

// The finding as plain text, several lines, without its id: the message, where, the related
// places, the fix with its commands and persistent lines, the kernel fact it rests on.
[[nodiscard]] std::string FindingBody(const Finding& f);

// `file` as a path relative to the repository's top level `root` when it names a file of the
// work tree: a relative path is taken as relative to `root` already; an absolute one must lie
// under `root`. Revision-qualified names ("origin/main:fw/storage.nft"), paths outside `root`
// and ones that climb out of it ("../x") are not work-tree files: nullopt. Lexical only.
[[nodiscard]] std::optional<std::string> RepoRelative(std::string_view file, std::string_view root);

// Seconds with millisecond precision: "1.234".
[[nodiscard]] std::string Seconds(std::chrono::milliseconds ms);

}  // namespace fwgate::report::check_render
