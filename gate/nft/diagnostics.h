// nft's diagnostics: its error text parsed into FILE:LINE:COL diagnostics, and what they say
// (an interface or table the file needs, a feature this kernel lacks). Pure; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fwgate::nft {

// One diagnostic nft printed: FILE:LINE:COL: message (line/col 1-based; 0 when unknown).
struct Diagnostic {
  std::string file;
  int line = 0;
  int column = 0;
  std::string message;
  [[nodiscard]] std::string ToString() const;  // "file:12:5: Error: syntax error, ..."

  int end_column = 0;       // last column nft underlined (same line); 0 when unknown
  std::string source_line;  // the source line nft echoed under the message; empty when none
  // The text nft underlined (source_line[column-1 .. end_column-1]); empty when unknown.
  [[nodiscard]] std::string LocatedText() const;
  // "FILE:LINE:COL: message" plus the source and caret lines when known.
  [[nodiscard]] std::string ToStringWithContext() const;
};

// nft's error text (`FILE:LINE:COL-COL: Error: msg`, then the source line and a caret line;
// `internal:0:0-0:` and bare `Error: ...` lines have no location; "In file included from"
// trails are folded into the located message they lead to) to diagnostics. Location-less
// diagnostics get `default_file`. Never throws, whatever the text.
[[nodiscard]] std::vector<Diagnostic> ParseNftErrors(std::string_view text,
                                                     std::string_view default_file);

// Interface names nft's "Interface does not exist" diagnostics point at (quotes removed).
[[nodiscard]] std::vector<std::string> MissingInterfacesFromDiagnostics(
    const std::vector<Diagnostic>& diagnostics);

// Tables that `delete table`/`flush table` commands failed on because they do not exist, as
// "family name" (family defaults to ip, as in nft).
[[nodiscard]] std::vector<std::string> MissingTablesFromDiagnostics(
    const std::vector<Diagnostic>& diagnostics);

// Why the kernel could not load a valid file (secmark without an LSM, EOPNOTSUPP, a missing
// expression module); nullopt for diagnostics that mean the file itself is wrong.
[[nodiscard]] std::optional<std::string> UnsupportedReason(const Diagnostic& diagnostic);

}  // namespace fwgate::nft
