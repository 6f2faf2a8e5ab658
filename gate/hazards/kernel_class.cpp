#include "gate/hazards/kernel_class.h"

#include <sys/utsname.h>

#include <array>
#include <cctype>
#include <charconv>

namespace fwgate::hazards {
namespace {

// The knowledge base: version ranges and what they mean. Each row cites the facts section.
struct ClassRow {
  KernelVersion from;  // inclusive
  KernelVersion to;    // inclusive
  KernelClassInfo info;
};

const std::array<ClassRow, 3>& Rows() {
  static const std::array<ClassRow, 3> kRows = {{
      // docs/kernel-conntrack.md §2.1: <= 4.9 hooks registered for every netns at module load;
      // 4.10 - 4.13 the default_on=1 sysctl takes one reference per netns. A rule flush never
      // stops tracking.
      {{0, 0, 0, ""},
       {4, 13, 9999, ""},
       {KernelClass::kContinuous, "continuous", "<= 4.13", "docs/kernel-conntrack.md §2.1, §7",
        "conntrack keeps tracking while no rule uses it; a two-step reload survives"}},
      // docs/kernel-conntrack.md §2.1, §3.4: 4.14 removed default_on (4d3a57f23dec); the last ct
      // rule going away unregisters the hooks and nothing re-syncs the windows when they come back.
      {{4, 14, 0, ""},
       {4, 18, 9999, ""},
       {KernelClass::kStaleGap, "stale-gap", "4.14 - 4.18", "docs/kernel-conntrack.md §3.4, §7",
        "a two-step reload leaves conntrack windows stale: busy connections are dropped as "
        "INVALID unless nf_conntrack_tcp_be_liberal=1"}},
      // docs/kernel-conntrack.md §3.5: 4.19 f94e63801ab2 zeroes td_maxwin of ESTABLISHED entries
      // on re-register.
      {{4, 19, 0, ""},
       {9999, 0, 0, ""},
       {KernelClass::kRefixup, "refixup", ">= 4.19", "docs/kernel-conntrack.md §3.5, §7",
        "conntrack re-learns windows when tracking restarts; a two-step reload survives"}},
  }};
  return kRows;
}

bool ParseInt(std::string_view s, int& out) {
  if (s.empty() || s.size() > 6) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::string KernelVersion::ToString() const {
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

Result<KernelVersion> ParseKernelVersion(std::string_view text) {
  auto bad = [&] {
    return Error::BadInput(
        "unknown kernel version '" + std::string(text) +
        "': expected MAJOR.MINOR[.PATCH][-SUFFIX], e.g. 4.4, 4.15, 4.15.0-112-generic, "
        "5.10.0-21-amd64, 6.1.0");
  };
  if (text.empty() || text.size() > 128) return bad();
  // The numeric part ends at the first character that is neither a digit nor a dot.
  size_t end = 0;
  while (end < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[end])) || text[end] == '.'))
    ++end;
  std::string_view num = text.substr(0, end);
  std::string_view rest = text.substr(end);
  if (!rest.empty() && rest.front() != '-' && rest.front() != '+' && rest.front() != '_')
    return bad();
  for (unsigned char c : rest) {
    if (!std::isalnum(c) && c != '-' && c != '.' && c != '_' && c != '+' && c != '~') return bad();
  }
  std::array<int, 3> parts{0, 0, 0};
  size_t count = 0;
  size_t pos = 0;
  while (pos <= num.size()) {
    size_t dot = num.find('.', pos);
    std::string_view piece =
        num.substr(pos, dot == std::string_view::npos ? num.size() - pos : dot - pos);
    if (count >= 3 || !ParseInt(piece, parts[count])) return bad();
    ++count;
    if (dot == std::string_view::npos) break;
    pos = dot + 1;
  }
  if (count < 2 || parts[0] < 2 || parts[0] > 99) return bad();
  KernelVersion v;
  v.major = parts[0];
  v.minor = parts[1];
  v.patch = parts[2];
  v.release = std::string(text);
  return v;
}

KernelClassInfo Classify(const KernelVersion& v) {
  KernelClassInfo info = Rows().back().info;
  for (const ClassRow& row : Rows()) {
    if (v >= row.from && v <= row.to) {
      info = row.info;
      break;
    }
  }
  // docs/kernel-conntrack.md §1 / §3.5: 4f25434bccc2 (keepalive after re-register) is in 5.10 and
  // was backported to 4.19.153; 5.4.124 is known to carry it. Earlier 4.19.x and 5.0 - 5.9 lack it.
  if (info.cls == KernelClass::kRefixup) {
    KernelVersion v5_10{5, 10, 0, ""};
    bool fixed = v >= v5_10 || (v.major == 4 && v.minor == 19 && v.patch >= 153) ||
                 (v.major == 5 && v.minor == 4 && v.patch >= 124);
    info.keepalive_gap = !fixed;
    // docs/kernel-conntrack.md §3.5 (6e250dcbff1d)
    info.ignore_verdict = v >= KernelVersion{6, 1, 0, ""};
  }
  return info;
}

std::string_view ClassName(KernelClass cls) {
  for (const ClassRow& row : Rows()) {
    if (row.info.cls == cls) return row.info.name;
  }
  return "unknown";
}

std::optional<KernelClass> ClassFromName(std::string_view name) {
  for (const ClassRow& row : Rows()) {
    if (row.info.name == name) return row.info.cls;
  }
  return std::nullopt;
}

std::string_view EmulationName(Emulation e) {
  switch (e) {
    case Emulation::kNative:
      return "native";
    case Emulation::kContinuous:
      return "continuous";
    case Emulation::kStaleGap:
      return "stale-gap";
  }
  return "native";
}

std::optional<Emulation> EmulationFromName(std::string_view name) {
  for (Emulation e : {Emulation::kNative, Emulation::kContinuous, Emulation::kStaleGap}) {
    if (EmulationName(e) == name) return e;
  }
  return std::nullopt;
}

EmulationChoice ChooseEmulation(const KernelVersion& node, const KernelVersion& lab) {
  KernelClassInfo n = Classify(node);
  KernelClassInfo l = Classify(lab);
  std::string node_desc = "node kernel " + node.ToString() + " is " + std::string(n.name) +
                          " class (" + std::string(n.range) + ", " + std::string(n.source) + ")";
  std::string lab_desc = "lab kernel " + lab.ToString() + " is " + std::string(l.name) + " class";
  if (n.cls == l.cls) return {Emulation::kNative, node_desc + "; " + lab_desc + ": run natively"};
  switch (n.cls) {
    case KernelClass::kContinuous:
      return {Emulation::kContinuous,
              node_desc + "; " + lab_desc +
                  ": a table owned by fwgate keeps tracking on through the reload"};
    case KernelClass::kStaleGap:
      return {Emulation::kStaleGap,
              node_desc + "; " + lab_desc +
                  ": the reload's commits unregister the hooks as they would on the node, and "
                  "the lab's window fix-up is kept from the node's entries, so they go stale"};
    case KernelClass::kRefixup:
      return {Emulation::kNative,
              node_desc + "; " + lab_desc +
                  ": an older lab kernel cannot show the re-learning of newer kernels; ran "
                  "natively, the verdict is pessimistic"};
  }
  return {Emulation::kNative, node_desc};
}

Result<KernelVersion> RunningKernel() {
  utsname u{};
  if (uname(&u) != 0) return Error::FromErrno(errno, "uname");
  return ParseKernelVersion(u.release);
}

}  // namespace fwgate::hazards
