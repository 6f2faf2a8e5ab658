// `fwgate validate FILE... [--json]`: load each ruleset into a throwaway network namespace (the
// kernel is the validator) and report nft's own errors as FILE:LINE:COL: message.
#include <algorithm>
#include <iostream>
#include <nlohmann/json.hpp>

#include "base/outcome.h"
#include "cli/command.h"
#include "cli/ruleset_input.h"
#include "gate/nft/loader.h"

namespace fwgate::cli {
namespace {

constexpr int kValidateSchemaVersion = 1;

struct Counts {
  size_t tables = 0, chains = 0, rules = 0, sets = 0;
};

// Named sets only: anonymous sets are nft's implementation of `{ a, b }` in a rule.
Counts CountOf(const nft::Ruleset& rs) {
  Counts c;
  c.tables = rs.tables.size();
  for (const auto& t : rs.tables) {
    c.chains += t.chains.size();
    for (const auto& ch : t.chains) c.rules += ch.rules.size();
    c.sets += static_cast<size_t>(
        std::count_if(t.sets.begin(), t.sets.end(), [](const auto& s) { return !s.anonymous(); }));
  }
  return c;
}

nlohmann::json ToJson(const std::string& file, const nft::LoadResult& r) {
  Counts c = r.status == nft::LoadStatus::kOk ? CountOf(r.ruleset) : Counts{};
  nlohmann::json diags = nlohmann::json::array();
  for (const auto& d : r.diagnostics) {
    diags.push_back(
        {{"file", d.file}, {"line", d.line}, {"column", d.column}, {"message", d.message}});
  }
  nlohmann::json j = {{"file", file},
                      {"valid", r.status == nft::LoadStatus::kOk},
                      {"status", std::string(nft::LoadStatusName(r.status))},
                      {"format", std::string(sys::RulesetFormatName(r.format))},
                      {"diagnostics", diags},
                      {"placeholder_interfaces", r.placeholder_interfaces},
                      {"placeholder_tables", r.placeholder_tables},
                      {"tables", c.tables},
                      {"chains", c.chains},
                      {"rules", c.rules},
                      {"sets", c.sets}};
  if (r.status != nft::LoadStatus::kOk) j["reason"] = r.reason;
  return j;
}

// The one shape of `validate --json` (docs/schemas/validate.schema.json): an object with every
// file's entry in "files". With exactly one file its keys are also copied to the top level, so
// consumers of the single-object form from before schema_version keep working.
nlohmann::json ValidateDocument(const nlohmann::json& entries) {
  nlohmann::json doc = nlohmann::json::object();
  if (entries.size() == 1) doc = entries[0];
  bool valid = std::all_of(entries.begin(), entries.end(),
                           [](const nlohmann::json& e) { return e.value("valid", false); });
  doc["schema_version"] = kValidateSchemaVersion;
  doc["files"] = entries;
  doc["valid"] = valid;
  return doc;
}

void PrintText(const std::string& file, const nft::LoadResult& r) {
  switch (r.status) {
    case nft::LoadStatus::kOk: {
      Counts c = CountOf(r.ruleset);
      // nft text as before; other formats say which they were read as.
      std::string format = r.format == sys::RulesetFormat::kNft
                               ? ""
                               : std::string(sys::RulesetFormatName(r.format)) + ", ";
      std::cout << file << ": ok (" << format << c.tables << " tables, " << c.chains << " chains, "
                << c.rules << " rules, " << c.sets << " sets)\n";
      if (!r.placeholder_interfaces.empty()) {
        std::cout << file << ": note: created placeholder interfaces for names the ruleset uses:";
        for (size_t i = 0; i < r.placeholder_interfaces.size(); ++i) {
          std::cout << (i == 0 ? " " : ", ") << r.placeholder_interfaces[i];
        }
        std::cout << "\n";
      }
      if (!r.placeholder_tables.empty()) {
        std::cout << file << ": note: created empty tables the ruleset deletes or flushes first:";
        for (size_t i = 0; i < r.placeholder_tables.size(); ++i) {
          std::cout << (i == 0 ? " " : ", ") << r.placeholder_tables[i];
        }
        std::cout << "\n";
      }
      for (const auto& d : r.diagnostics) std::cerr << d.ToStringWithContext() << "\n";
      break;
    }
    case nft::LoadStatus::kInvalid:
      for (const auto& d : r.diagnostics) std::cerr << d.ToStringWithContext() << "\n";
      break;
    case nft::LoadStatus::kUnsupported:
    case nft::LoadStatus::kNoPrivilege:
      std::cerr << file << ": could not validate (" << nft::LoadStatusName(r.status)
                << "): " << r.reason << "\n";
      for (const auto& d : r.diagnostics) std::cerr << d.ToStringWithContext() << "\n";
      break;
  }
}

const Registrar kValidate{Command{
    "validate", 10, [](CLI::App& root) -> std::function<Outcome()> {
      auto* sub = root.add_subcommand(
          "validate",
          "Load ruleset files into a throwaway network namespace and report the kernel's verdict");
      sub->footer(
          "Each FILE is loaded with nft's own parser (define, include relative to the file, sets)\n"
          "into a fresh network namespace that vanishes afterwards; nothing is applied to this\n"
          "host. The format is told from the content: an `nft -j` JSON ruleset is loaded by\n"
          "libnftables' JSON parser, an iptables-save file (`*filter` ... `COMMIT`) by\n"
          "iptables-nft-restore (ip6tables-nft-restore when its header or addresses say IPv6)\n"
          "inside the namespace. Interfaces the file binds to (iif, oif, device, devices) get "
          "placeholder links\n"
          "in that namespace, so a ruleset written for a real host validates here.\n"
          "\n"
          "Output: 'FILE: ok (N tables, M chains, K rules, S sets)' on stdout; errors on stderr "
          "as\n"
          "'FILE:LINE:COL: message' (nft's own locations).\n"
          "Exit codes: 0 every file is valid; 2 a file is invalid (syntax, semantics, unreadable,\n"
          "empty, binary); 3 could not decide (the kernel lacks a feature the file needs, or no\n"
          "privilege to create a namespace: run as root). With several files: 2 if any file is\n"
          "invalid, else 3 if any could not be decided.");
      auto files = std::make_shared<std::vector<std::string>>();
      auto json = std::make_shared<bool>(false);
      auto include_dirs = std::make_shared<std::vector<std::string>>();
      AddIncludeDirOption(sub, *include_dirs);
      auto limits = std::make_shared<sys::NftLimits>();
      AddNftLimitOptions(sub, *limits);
      sub->add_option("FILE", *files,
                      "Ruleset file(s): nft text (as given to `nft -f`), an `nft -j` JSON "
                      "ruleset, or an iptables-save/iptables-restore file (IPv4 or IPv6)")
          ->required()
          ->type_name("FILE");
      sub->add_flag("--json", *json,
                    "Print JSON to stdout: {\"schema_version\":1,\"files\":[...],\"valid\":...}; "
                    "with one FILE its keys are also at the top level "
                    "(docs/schemas/validate.schema.json)");
      return [=]() -> Outcome {
        nft::LoadOptions options;
        options.nft = *limits;
        // The counts are all validate reports of a loaded ruleset: the outline suffices.
        options.outline_only = true;
        if (auto bad = IncludeDirsOrReport("validate", *include_dirs, options)) return *bad;
        Outcome worst = Outcome::kPass;
        nlohmann::json all = nlohmann::json::array();
        // The files load concurrently; each is reported in the order given.
        std::vector<nft::LoadResult> results = nft::LoadRulesetFiles(*files, options);
        for (size_t i = 0; i < files->size(); ++i) {
          const std::string& file = (*files)[i];
          const nft::LoadResult& r = results[i];
          worst = Combine(worst, nft::OutcomeOf(r.status));
          if (*json) {
            all.push_back(ToJson(file, r));
          } else {
            PrintText(file, r);
          }
        }
        if (*json) std::cout << ValidateDocument(all).dump(2) << "\n";
        return worst;
      };
    }}};

}  // namespace
}  // namespace fwgate::cli
