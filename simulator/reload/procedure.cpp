#include "simulator/reload/procedure.h"

#include <cctype>

namespace fwgate::reload {

std::string_view StyleName(Style s) {
  switch (s) {
    case Style::kAtomic:
      return "atomic";
    case Style::kFlushThenLoad:
      return "flush-then-load";
    case Style::kCommand:
      return "command";
  }
  return "?";
}

std::string Procedure::Describe() const {
  switch (style) {
    case Style::kAtomic:
      return "atomic";
    case Style::kFlushThenLoad:
      return "flush-then-load (gap " + std::to_string(gap.count()) + " ms)";
    case Style::kCommand: {
      std::string s = "command:";
      for (size_t i = 0; i < argv.size(); ++i) s += (i ? " " : "") + argv[i];
      return s;
    }
  }
  return "?";
}

Result<std::vector<std::string>> SplitWords(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  bool in_word = false;
  char quote = 0;
  for (char c : text) {
    if (quote != 0) {
      if (c == quote) {
        quote = 0;
      } else {
        cur += c;
      }
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      if (in_word) out.push_back(cur);
      cur.clear();
      in_word = false;
    } else {
      cur += c;
      in_word = true;
    }
  }
  if (quote != 0) return Error::BadInput("unterminated quote in '" + std::string(text) + "'");
  if (in_word) out.push_back(cur);
  return out;
}

Result<Procedure> ParseProcedure(std::string_view text) {
  static const std::string kForms =
      "valid forms: atomic, flush-then-load, command:ARGV... (e.g. "
      "'command:/usr/sbin/nft -f {}'; {} is replaced by the proposed file)";
  Procedure p;
  if (text == "atomic") return p;
  if (text == "flush-then-load") {
    p.style = Style::kFlushThenLoad;
    return p;
  }
  constexpr std::string_view kCmd = "command:";
  if (text.substr(0, kCmd.size()) == kCmd) {
    auto words = SplitWords(text.substr(kCmd.size()));
    if (!words) return Error::BadInput("--reload: " + words.error().context + "; " + kForms);
    if (words->empty()) return Error::BadInput("--reload: command: needs a program; " + kForms);
    p.style = Style::kCommand;
    p.argv = std::move(*words);
    return p;
  }
  return Error::BadInput("--reload: unknown procedure '" + std::string(text) + "'; " + kForms);
}

std::vector<std::string> SubstitutePath(const std::vector<std::string>& argv,
                                        const std::string& path) {
  std::vector<std::string> out;
  for (const auto& a : argv) {
    std::string s;
    for (size_t i = 0; i < a.size(); ++i) {
      if (a.compare(i, 2, "{}") == 0) {
        s += path;
        ++i;
      } else {
        s += a[i];
      }
    }
    out.push_back(s);
  }
  return out;
}

std::string PinTableText() {
  // An unhooked chain: the rule is never evaluated, but its ct expression is initialised, which
  // takes the conntrack reference (nf_ct_netns_get) for both IPv4 and IPv6 (inet).
  // docs/kernel-conntrack.md §2.1.
  return std::string("table inet ") + kPinTable +
         " {\n"
         "  chain pin {\n"
         "    ct state established,related counter\n"
         "  }\n"
         "}\n";
}

std::string GapTableText() {
  // Priority -300 (raw) runs before conntrack (-200): packets get the untracked template and
  // conntrack neither updates nor judges them. docs/kernel-conntrack.md §3.4 [E].
  return std::string("table inet ") + kGapTable +
         " {\n"
         "  chain pre {\n"
         "    type filter hook prerouting priority -300; policy accept;\n"
         "    notrack\n"
         "  }\n"
         "  chain out {\n"
         "    type filter hook output priority -300; policy accept;\n"
         "    notrack\n"
         "  }\n"
         "}\n";
}

Plan PlanReload(const Procedure& procedure, hazards::Emulation emulation,
                const ProposedRuleset& proposed) {
  using hazards::Emulation;
  Plan plan;
  Step load;
  load.kind = Step::Kind::kNftText;
  load.label = "load proposed";
  load.text = proposed.text;
  load.format = proposed.format;
  switch (procedure.style) {
    case Style::kAtomic:
      plan.emulation = emulation;
      plan.note =
          "atomic reload has no gap, so every kernel class behaves alike "
          "(docs/kernel-conntrack.md §2.3, §7 column A)";
      plan.steps.push_back(load);
      return plan;
    case Style::kCommand: {
      plan.emulation = Emulation::kNative;
      plan.note = emulation == Emulation::kNative
                      ? "the command runs as written"
                      : "the command runs as written: emulation cannot reach inside its steps, "
                        "so it ran natively";
      Step c;
      c.kind = Step::Kind::kCommand;
      c.label = "command";
      c.argv = SubstitutePath(procedure.argv, proposed.path);
      size_t slash = proposed.path.rfind('/');
      c.working_dir =
          slash == std::string::npos ? "." : proposed.path.substr(0, slash + (slash == 0));
      plan.steps.push_back(c);
      return plan;
    }
    case Style::kFlushThenLoad:
      break;
  }
  plan.emulation = emulation;
  Step first;
  first.kind = Step::Kind::kNftText;
  first.text = "flush ruleset\n";
  switch (emulation) {
    case Emulation::kNative:
      first.label = "flush";
      plan.note = "flush, gap, load: the lab kernel decides";
      break;
    case Emulation::kContinuous:
      // <= 4.13: tracking never stops across the gap (docs/kernel-conntrack.md §2.1).
      first.label = "flush + pin";
      first.text += PinTableText();
      plan.note =
          "the pin table keeps conntrack tracking through the gap (docs/kernel-conntrack.md §2.1)";
      break;
    case Emulation::kStaleGap:
      // 4.14 - 4.18: no tracking during the gap, no fix-up afterwards (docs/kernel-conntrack.md
      // §3.4).
      first.label = "flush + pin + notrack gap";
      first.text += PinTableText() + GapTableText();
      plan.note =
          "packets bypass conntrack during the gap with hooks kept registered; no "
          "window fix-up afterwards (docs/kernel-conntrack.md §3.4)";
      break;
  }
  plan.steps.push_back(first);
  load.wait_before = procedure.gap;
  plan.steps.push_back(load);
  if (emulation != Emulation::kNative && proposed.format != sys::RulesetFormat::kNft) {
    // An iptables-restore file replaces only its own tables (and a JSON listing adds), so the
    // pin and gap tables would outlive the load: they go right after it, in one transaction
    // (`add` first, so the step holds whether or not the load already removed them).
    Step drop;
    drop.kind = Step::Kind::kNftText;
    drop.label = "drop pin + gap";
    for (const char* t : {kPinTable, kGapTable}) {
      drop.text += std::string("add table inet ") + t + "\ndelete table inet " + t + "\n";
    }
    plan.steps.push_back(drop);
  }
  return plan;
}

}  // namespace fwgate::reload
