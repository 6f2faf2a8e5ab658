#include "cli/help.h"

#include <algorithm>
#include <cctype>
#include <map>

namespace fwgate::cli {
namespace {

// Optimal string alignment distance (Damerau-Levenshtein without repeated edits of a substring).
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// Words the generated script may contain unquoted: option names and choice values.
bool ShellSafe(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
           c == ':' || c == '=' || c == '+' || c == '/';
  });
}

enum class ValueKind { kFiles, kDirs, kNetns, kChoices, kNone };

struct ValueSpec {
  ValueKind kind = ValueKind::kNone;
  std::vector<std::string> choices;
};

// What a value of `opt` can be, read from its name, type name and validators ("{a,b}" is a
// set validator's description, "[1 - 1024]" a range's).
ValueSpec ValueOf(const CLI::Option& opt) {
  ValueSpec v;
  std::string type = opt.get_type_name();
  size_t open = type.find('{');
  size_t close = type.find('}', open == std::string::npos ? 0 : open);
  if (open != std::string::npos && close != std::string::npos) {
    std::string body = type.substr(open + 1, close - open - 1);
    size_t pos = 0;
    while (pos <= body.size()) {
      size_t comma = body.find(',', pos);
      std::string item = body.substr(pos, comma == std::string::npos ? comma : comma - pos);
      item.erase(0, item.find_first_not_of(' '));
      if (ShellSafe(item)) v.choices.push_back(item);
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
    if (!v.choices.empty()) {
      v.kind = ValueKind::kChoices;
      return v;
    }
  }
  const auto& lnames = opt.get_lnames();
  if (std::find(lnames.begin(), lnames.end(), "netns") != lnames.end()) {
    v.kind = ValueKind::kNetns;
    return v;
  }
  std::string base = type.substr(0, type.find(':'));
  if (base == "DIR") {
    v.kind = ValueKind::kDirs;
  } else if (base == "TEXT" || base == "FILE" || base == "PATH" || base.empty()) {
    v.kind = type.find('[') == std::string::npos ? ValueKind::kFiles : ValueKind::kNone;
  }
  return v;  // numbers (INT, UINT, FLOAT, ranges) and named kinds (NAME, PATTERN): nothing
}

std::string Join(const std::vector<std::string>& words) {
  std::string s;
  for (const auto& w : words) s += (s.empty() ? "" : " ") + w;
  return s;
}

std::vector<std::string> NamesOf(const CLI::Option& opt) {
  std::vector<std::string> out;
  for (const auto& s : opt.get_snames()) out.push_back("-" + s);
  for (const auto& l : opt.get_lnames()) out.push_back("--" + l);
  return out;
}

}  // namespace

std::vector<const CLI::App*> VisibleCommands(const CLI::App& root) {
  return root.get_subcommands(
      [](const CLI::App* sub) { return !sub->get_group().empty() && !sub->get_name().empty(); });
}

std::optional<std::string> ClosestWord(std::string_view word,
                                       const std::vector<std::string>& candidates) {
  if (word.empty()) return std::nullopt;
  std::vector<std::string> prefixed;
  for (const auto& c : candidates) {
    if (c.size() > word.size() && c.compare(0, word.size(), word) == 0) prefixed.push_back(c);
  }
  if (prefixed.size() == 1) return prefixed.front();
  std::optional<std::string> best;
  size_t best_d = 0;
  for (const auto& c : candidates) {
    size_t d = EditDistance(word, c);
    if (!best || d < best_d) {
      best = c;
      best_d = d;
    }
  }
  if (best && best_d <= 2 && best_d * 2 < std::max(word.size(), size_t{2})) return best;
  return std::nullopt;
}

std::string UnknownCommandMessage(const CLI::App& root, std::string_view word) {
  std::vector<std::string> names;
  for (const auto* sub : VisibleCommands(root)) names.push_back(sub->get_name());
  std::string shown;
  for (char c : word.substr(0, 64)) {
    shown += std::isprint(static_cast<unsigned char>(c)) ? c : '?';
  }
  std::string msg = "fwgate: unknown command '" + shown + "'";
  if (auto near = ClosestWord(word, names)) return msg + "; did you mean '" + *near + "'?";
  return msg + "; run 'fwgate help' for the list of commands";
}

std::string CommandTable(const CLI::App& root) {
  std::string out;
  for (const auto* sub : VisibleCommands(root)) {
    std::string d = sub->get_description();
    std::replace(d.begin(), d.end(), '\n', ' ');
    out += sub->get_name() + "\t" + d + "\n";
  }
  return out;
}

std::string BashCompletionScript(const CLI::App& root) {
  std::vector<std::string> commands;
  for (const auto* sub : VisibleCommands(root)) commands.push_back(sub->get_name());
  std::vector<std::string> root_flags;
  for (const auto* opt : root.get_options()) {
    for (auto& n : NamesOf(*opt)) root_flags.push_back(n);
  }
  std::string s =
      "# bash completion for fwgate: subcommands, their flags and option values.\n"
      "# Generated by `fwgate __bash-completion` from fwgate's own command definitions; do not "
      "edit.\n"
      "_fwgate_files() { compopt -o filenames 2>/dev/null; "
      "mapfile -t COMPREPLY < <(compgen -f -- \"$1\"); }\n"
      "_fwgate_dirs() { compopt -o filenames 2>/dev/null; "
      "mapfile -t COMPREPLY < <(compgen -d -- \"$1\"); }\n"
      "_fwgate_words() { mapfile -t COMPREPLY < <(compgen -W \"$1\" -- \"$2\"); }\n"
      "_fwgate() {\n"
      "  local cur=${COMP_WORDS[COMP_CWORD]} prev= sub= i\n"
      "  ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}\n"
      "  COMPREPLY=()\n"
      "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
      "    case ${COMP_WORDS[i]} in\n"
      "      -*) ;;\n"
      "      *) sub=${COMP_WORDS[i]}; break ;;\n"
      "    esac\n"
      "  done\n"
      "  local commands='" +
      Join(commands) +
      "' flags= positional=\n"
      "  case $sub in\n"
      "    '')\n"
      "      if [[ $cur == -* ]]; then _fwgate_words '" +
      Join(root_flags) +
      "' \"$cur\"; else _fwgate_words \"$commands\" \"$cur\"; fi\n"
      "      return ;;\n";
  for (const auto* sub : VisibleCommands(root)) {
    if (!ShellSafe(sub->get_name())) continue;
    std::vector<std::string> flags;
    std::map<std::string, std::vector<std::string>> by_action;  // case body -> option names
    bool positional = false;
    for (const auto* opt : sub->get_options()) {
      if (!opt->nonpositional()) {
        positional = true;
        continue;
      }
      auto names = NamesOf(*opt);
      for (auto& n : names) flags.push_back(n);
      if (opt->get_expected_max() == 0) continue;  // a flag takes no value
      ValueSpec v = ValueOf(*opt);
      std::string action;
      switch (v.kind) {
        case ValueKind::kFiles:
          action = "_fwgate_files \"$cur\"";
          break;
        case ValueKind::kDirs:
          action = "_fwgate_dirs \"$cur\"";
          break;
        case ValueKind::kNetns:
          action = "_fwgate_words \"$(ls /run/netns 2>/dev/null)\" \"$cur\"";
          break;
        case ValueKind::kChoices:
          action = "_fwgate_words '" + Join(v.choices) + "' \"$cur\"";
          break;
        case ValueKind::kNone:
          action = ":";
          break;
      }
      for (auto& n : names) by_action[action].push_back(n);
    }
    std::sort(flags.begin(), flags.end());
    s += "    " + sub->get_name() + ")\n";
    if (sub->get_name() == "help") {
      s += "      _fwgate_words \"$commands\" \"$cur\"\n      return ;;\n";
      continue;
    }
    s += "      flags='" + Join(flags) + "'\n";
    if (!by_action.empty()) {
      s += "      case $prev in\n";
      for (const auto& [action, names] : by_action) {
        std::string pattern;
        for (const auto& n : names) pattern += (pattern.empty() ? "" : "|") + n;
        s += "        " + pattern + ") " + action + "; return ;;\n";
      }
      s += "      esac\n";
    }
    if (positional) s += "      positional=files\n";
    s += "      ;;\n";
  }
  s += "    *) return ;;\n"
       "  esac\n"
       "  if [[ $cur == -* || -z $positional ]]; then\n"
       "    _fwgate_words \"$flags\" \"$cur\"\n"
       "  else\n"
       "    _fwgate_files \"$cur\"\n"
       "  fi\n"
       "}\n"
       "complete -F _fwgate fwgate\n";
  return s;
}

}  // namespace fwgate::cli
