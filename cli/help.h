// Help, suggestions and shell completion, all read from the CLI11 model of the registered
// commands (the one source of truth: nothing here lists a command or a flag by hand).
// Pure functions of the model; thread-compatible.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fwgate::cli {

// The visible subcommands of `root` (those shown in --help), in the order they were added.
[[nodiscard]] std::vector<const CLI::App*> VisibleCommands(const CLI::App& root);

// The candidate closest to `word` by edit distance (insertions, deletions, substitutions and
// adjacent transpositions), when it is close enough to be a typo: at most 2 edits and fewer
// than half of `word`'s length, or `word` is a prefix of exactly one candidate.
[[nodiscard]] std::optional<std::string> ClosestWord(std::string_view word,
                                                     const std::vector<std::string>& candidates);

// "fwgate: unknown command 'chek'; did you mean 'check'?" (or the hint to run `fwgate help`).
[[nodiscard]] std::string UnknownCommandMessage(const CLI::App& root, std::string_view word);

// A bash completion script for `root` generated from its model: subcommands, each one's flags,
// option values (files for values and positionals, network namespaces for --netns, a
// validator's {choices}; nothing for numbers). It needs only bash (no bash-completion helpers).
[[nodiscard]] std::string BashCompletionScript(const CLI::App& root);

// One line per visible subcommand, "NAME<TAB>description", for the man page generator.
[[nodiscard]] std::string CommandTable(const CLI::App& root);

}  // namespace fwgate::cli
