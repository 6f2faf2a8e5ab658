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

Plan PlanReload(const Procedure& procedure, hazards::Emulation emulation,
                const ProposedRuleset& proposed) {
  Plan plan;
  plan.emulation = emulation;
  Step load;
  load.kind = Step::Kind::kNftText;
  load.label = "load proposed";
  load.text = proposed.text;
  load.format = proposed.format;
  switch (procedure.style) {
    case Style::kAtomic:
      plan.note = proposed.flushes_ruleset
                      ? "one transaction: the conntrack use count never touches zero "
                        "(docs/kernel-conntrack.md §2.3, §7 column A)"
                      : "one transaction replacing the file's own tables "
                        "(docs/kernel-conntrack.md §2.3, §7 column A)";
      plan.steps.push_back(load);
      return plan;
    case Style::kCommand: {
      plan.note =
          "the command runs as written; the lab follows its commits "
          "(docs/kernel-conntrack.md §7 note c)";
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
  Step first;
  first.kind = Step::Kind::kNftText;
  if (proposed.flushes_ruleset || proposed.tables.empty()) {
    first.label = "flush";
    first.text = "flush ruleset\n";
    plan.note = "flush ruleset, gap, load: two commits (docs/kernel-conntrack.md §7 column B)";
  } else {
    // The file replaces only its own tables: production's two-step form removes those and
    // leaves the others (and their conntrack users) in place (docs/kernel-conntrack.md §2.3).
    first.label = "delete the file's tables";
    std::string names;
    for (const auto& t : proposed.tables) {
      first.text += "add table " + t + "\ndelete table " + t + "\n";
      names += (names.empty() ? "" : ", ") + t;
    }
    plan.note = "delete " + names +
                ", gap, load: two commits; other tables stay (docs/kernel-conntrack.md §2.3, §7 "
                "column B)";
  }
  plan.steps.push_back(first);
  load.wait_before = procedure.gap;
  plan.steps.push_back(load);
  return plan;
}

}  // namespace fwgate::reload
