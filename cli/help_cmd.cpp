// `fwgate help [COMMAND]`: the command list, or one command's --help; and two hidden commands
// the build uses to generate the shell completion and the man pages from the same definitions.
#include <iostream>
#include <memory>

#include "base/outcome.h"
#include "cli/command.h"
#include "cli/help.h"

namespace fwgate::cli {
namespace {

const Registrar kHelp{Command{"help", 1000, [](CLI::App& root) -> std::function<Outcome()> {
                                auto* sub = root.add_subcommand(
                                    "help", "Show the list of commands, or one command's help");
                                auto name = std::make_shared<std::string>();
                                sub->add_option("COMMAND", *name, "The command to explain");
                                sub->footer("Exit codes: 0 shown; 2 no such command.");
                                return [&root, name]() -> Outcome {
                                  if (name->empty()) {
                                    // root.help() would show the selected subcommand's (this one's)
                                    // help.
                                    std::cout << root.get_formatter()->make_help(
                                        &root, root.get_name(), CLI::AppFormatMode::Normal);
                                    return Outcome::kPass;
                                  }
                                  for (const auto* c : VisibleCommands(root)) {
                                    if (c->get_name() == *name) {
                                      std::cout << c->help(root.get_name());
                                      return Outcome::kPass;
                                    }
                                  }
                                  std::cerr << UnknownCommandMessage(root, *name) << "\n";
                                  return Outcome::kBadInput;
                                };
                              }}};

// Hidden (empty group): not in --help, the man pages or the completion's command list.
const Registrar kBashCompletion{Command{
    "__bash-completion", 1001, [](CLI::App& root) -> std::function<Outcome()> {
      auto* sub = root.add_subcommand("__bash-completion", "Print the bash completion script");
      sub->group("");
      return [&root]() -> Outcome {
        std::cout << BashCompletionScript(root);
        return Outcome::kPass;
      };
    }}};

const Registrar kCommands{Command{
    "__commands", 1002, [](CLI::App& root) -> std::function<Outcome()> {
      auto* sub = root.add_subcommand("__commands", "Print NAME<TAB>description per command");
      sub->group("");
      return [&root]() -> Outcome {
        std::cout << CommandTable(root);
        return Outcome::kPass;
      };
    }}};

}  // namespace
}  // namespace fwgate::cli
