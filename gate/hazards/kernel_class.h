// Kernel versions and the conntrack behaviour class they belong to, as data
// (docs/kernel-conntrack.md §1, §2, §7). One mapping serves the probe (what will this node do?)
// and the lab (which emulation to run).
#pragma once

#include <compare>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace fwgate::hazards {

struct KernelVersion {
  int major = 0;
  int minor = 0;
  int patch = 0;
  std::string release;  // as given ("4.15.0-112-generic"); empty when built from numbers

  auto operator<=>(const KernelVersion& o) const {
    if (auto c = major <=> o.major; c != 0) return c;  // NOLINT(modernize-use-nullptr)
    if (auto c = minor <=> o.minor; c != 0) return c;  // NOLINT(modernize-use-nullptr)
    return patch <=> o.patch;
  }
  bool operator==(const KernelVersion& o) const {
    return major == o.major && minor == o.minor && patch == o.patch;
  }
  [[nodiscard]] std::string ToString() const;  // "4.15.0"
};

// Accepts "4.15", "4.15.18", "4.15.0-112-generic", "5.10.0-21-amd64", "6.18.44-fc-v595",
// "3.10.0-1160.el7.x86_64". Rejects anything else with a message listing the accepted forms.
[[nodiscard]] Result<KernelVersion> ParseKernelVersion(std::string_view text);

// How conntrack behaves across a two-step (flush, then load) reload. docs/kernel-conntrack.md §7.
enum class KernelClass {
  // <= 4.13: hooks stay registered, tracking never stops (docs/kernel-conntrack.md §2.1)
  kContinuous,
  // 4.14 - 4.18: hooks go with the last ct rule, no window fix-up (docs/kernel-conntrack.md §3.4)
  kStaleGap,
  // >= 4.19: windows re-learned on re-registration (docs/kernel-conntrack.md §3.5)
  kRefixup,
};

struct KernelClassInfo {
  KernelClass cls = KernelClass::kRefixup;
  std::string_view name;     // "continuous" | "stale-gap" | "refixup": the JSON value
  std::string_view range;    // "<= 4.13", "4.14 - 4.18", ">= 4.19"
  std::string_view source;   // facts section the rule rests on
  std::string_view summary;  // one line an operator understands
  // 4.19.0-4.19.152 and 5.0-5.9: idle keepalive-only flows can die after a re-register
  // (4f25434bccc2; docs/kernel-conntrack.md §1, §3.5).
  bool keepalive_gap = false;
  // >= 6.1: below-window data and old ACKs are IGNOREd rather than INVALID
  // (docs/kernel-conntrack.md §3.5).
  bool ignore_verdict = false;
};

[[nodiscard]] KernelClassInfo Classify(const KernelVersion& version);
[[nodiscard]] std::string_view ClassName(KernelClass cls);
// "continuous" / "stale-gap" / "refixup"; nullopt otherwise.
[[nodiscard]] std::optional<KernelClass> ClassFromName(std::string_view name);

// How the lab makes its own kernel reach the state a node of `node` class would reach across a
// reload (DESIGN.md "Kernel-behaviour emulation").
enum class Emulation { kNative, kContinuous, kStaleGap };
[[nodiscard]] std::string_view EmulationName(Emulation e);  // "native", "continuous", "stale-gap"
[[nodiscard]] std::optional<Emulation> EmulationFromName(std::string_view name);

struct EmulationChoice {
  Emulation emulation = Emulation::kNative;
  std::string why;  // "node kernel 4.15 is stale-gap class (4.14 - 4.18, docs/kernel-conntrack.md
                    // §3.4); lab ..."
};
// `lab` is the class of the kernel the lab runs on. A node of the lab's own class runs native;
// otherwise the emulation for the node's class. A node newer than the lab cannot be emulated on
// an older lab kernel: native, with the reason saying so.
[[nodiscard]] EmulationChoice ChooseEmulation(const KernelVersion& node, const KernelVersion& lab);

// The running kernel (uname).
[[nodiscard]] Result<KernelVersion> RunningKernel();

}  // namespace fwgate::hazards
