// The one outcome vocabulary every stage and command reports in: pass, fail (the gate says no),
// bad input, undecided. Only cli/main.cpp turns an outcome into an exit code (DESIGN.md: 0, 1,
// 2, 3). Pure; thread-safe.
#pragma once

#include <initializer_list>
#include <string_view>

#include "base/result.h"

namespace fwgate {

enum class Outcome {
  kPass,       // no breakage, no blocking finding
  kFail,       // the gate says no: a connection broke, a blocking finding
  kBadInput,   // usage error or bad input (ruleset, inventory, flag)
  kUndecided,  // could not decide: unreachable, no privilege, tool missing. Never a pass.
};

// "pass", "fail", "bad-input", "undecided": the JSON value.
[[nodiscard]] constexpr std::string_view OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kPass:
      return "pass";
    case Outcome::kFail:
      return "fail";
    case Outcome::kBadInput:
      return "bad-input";
    case Outcome::kUndecided:
      return "undecided";
  }
  return "undecided";
}

// The outcome of several parts: bad input first (nothing can be trusted), then fail (a decided
// "no" stands whatever the undecided parts would say), then undecided, then pass.
[[nodiscard]] constexpr Outcome Combine(Outcome a, Outcome b) {
  auto rank = [](Outcome o) {
    switch (o) {
      case Outcome::kBadInput:
        return 3;
      case Outcome::kFail:
        return 2;
      case Outcome::kUndecided:
        return 1;
      case Outcome::kPass:
        return 0;
    }
    return 1;
  };
  return rank(a) >= rank(b) ? a : b;
}
[[nodiscard]] constexpr Outcome Combine(std::initializer_list<Outcome> all) {
  Outcome out = Outcome::kPass;
  for (Outcome o : all) out = Combine(out, o);
  return out;
}

// What an error means for the answer: bad input, or undecided (unavailable and internal errors
// never become a pass).
[[nodiscard]] constexpr Outcome OutcomeOf(ErrorKind kind) {
  return kind == ErrorKind::kBadInput ? Outcome::kBadInput : Outcome::kUndecided;
}
[[nodiscard]] inline Outcome OutcomeOf(const Error& e) { return OutcomeOf(e.kind); }

}  // namespace fwgate
