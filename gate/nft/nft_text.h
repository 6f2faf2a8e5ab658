// Lexical helpers over nft ruleset text: just enough of nft's scanner (comments, quoted strings,
// punctuation, words, newlines) for fwgate's own pre-scans, with each token's position. Linear
// in the text. Pure; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace fwgate::nft {

struct Token {
  std::string text;  // "\n" for a newline; a string's content without its quotes
  bool quoted = false;
  int line = 1, column = 1;  // 1-based, of the token's first character (or its opening quote)
  size_t offset = 0;         // byte offset of the same
};

// Comments and blanks are dropped; a backslash-newline is a blank (line continuation).
[[nodiscard]] std::vector<Token> Tokenize(std::string_view text);

[[nodiscard]] std::string_view TrimRight(std::string_view s);
[[nodiscard]] std::string_view Trim(std::string_view s);

}  // namespace fwgate::nft
