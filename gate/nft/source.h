// Where a ruleset's files come from, and its includes resolved by fwgate itself: the root file
// and everything it includes become one text for nft, with a map from each line of that text
// back to its file and line. Includes are confined to the allowed roots (the root file's
// directory tree and the include directories), only regular files are read, and every size,
// count and depth is bounded, so hostile input cannot leak files, block or exhaust memory.
// Thread-safety: a RulesetFiles object belongs to one thread; Flatten is reentrant.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/finding.h"
#include "base/result.h"

namespace fwgate::nft {

// A tree of files (a directory on disk, a git revision). Paths are absolute and normalised.
class RulesetFiles {
 public:
  virtual ~RulesetFiles() = default;
  // The content of a regular file, at most `max_bytes` (more is an error). Errors are bad input
  // and say why ("not a regular file", "outside the allowed directories", ...).
  [[nodiscard]] virtual Result<std::string> Read(const std::string& path, size_t max_bytes) = 0;
  // Whether `path` names a file here (any type; Read decides whether it may be read).
  [[nodiscard]] virtual bool Exists(const std::string& path) = 0;
  // Paths matching the glob `pattern` (fnmatch rules per path component), sorted, at most
  // `max` (more: the first `max`).
  [[nodiscard]] virtual std::vector<std::string> Glob(const std::string& pattern, size_t max) = 0;
  // How diagnostics name `path` (the git tree prints "REV:path").
  [[nodiscard]] virtual std::string DisplayName(const std::string& path) const { return path; }
};

// The local filesystem, confined to `roots` (absolute directories): a path whose real location
// (symlinks resolved) is outside every root, or under /proc, /sys or /dev, is refused, and only
// regular files are read (no FIFO, device or socket is ever opened).
[[nodiscard]] std::unique_ptr<RulesetFiles> DiskFiles(const std::vector<std::string>& roots);

// An include directory: relative includes are searched in it (like nft -I). With `maps` set
// (an absolute directory such as /etc/nftables.d), absolute includes below `maps` are read from
// `dir` instead.
struct IncludeDir {
  std::string dir;
  std::string maps;
};
// "DIR" or "/ABS/PREFIX=DIR" (the form of --include-dir); DIR made absolute.
[[nodiscard]] Result<IncludeDir> ParseIncludeDir(std::string_view text);

struct FlattenOptions {
  std::vector<IncludeDir> include_dirs;  // after the root file's own directory
  size_t max_total_bytes = size_t{32} << 20;
  size_t max_files = 1024;
  int max_depth = 16;  // nft's own limit (MAX_INCLUDE_DEPTH)
};

// One contiguous run of lines of the flat text that comes from one file.
struct FlatPiece {
  int flat_line = 1;     // first line in the flat text (1-based)
  int lines = 0;         // how many
  size_t file = 0;       // index into FlatText::files
  int file_line = 1;     // first line in that file
  int column_shift = 0;  // added to columns on the first line (text after an include statement)
};

struct FlatText {
  std::string text;  // what nft reads: no include statements left
  struct File {
    std::string path;     // absolute
    std::string display;  // how diagnostics name it
    std::string content;
  };
  std::vector<File> files;  // [0] is the root file
  std::vector<FlatPiece> pieces;
  // Includes that matched no file (a glob; nft accepts that silently): worth a warning, since an
  // absolute one usually means a directory of the node that is not mapped (--include-dir).
  struct Unmatched {
    SourceLocation where;
    std::string path;
  };
  std::vector<Unmatched> unmatched;

  // The file location of a flat line/column; unknown location for lines outside the text.
  [[nodiscard]] SourceLocation Map(int flat_line, int flat_column) const;
  // Line `line` (1-based) of file `display` (as in a SourceLocation), without its newline;
  // empty when unknown.
  [[nodiscard]] std::string_view Line(const std::string& display, int line) const;
};

// A problem found while resolving includes, located at the include statement.
struct FlattenError {
  SourceLocation where;
  std::string message;
};

// Resolves `root` and its includes the way nft 1.0.6 does: a path starting with "./" or "../"
// is relative to the root file's directory (nft's working directory here); another relative
// path is searched in the root file's directory, then each include directory, first match wins
// (for a glob: the first directory with matches); absolute paths are read as they are (or from
// a mapping include directory). A missing non-glob file is an error; a glob matching nothing is
// not. Includes nested deeper than max_depth are an error.
// `root_content`, when given, is the root file's text (held in memory, e.g. read from git);
// otherwise it is read from `files`.
[[nodiscard]] std::variant<FlatText, FlattenError> Flatten(
    RulesetFiles& files, const std::string& root, const FlattenOptions& options,
    std::optional<std::string> root_content = std::nullopt);

// A single text that includes nothing: one piece, one file.
[[nodiscard]] FlatText FlatTextOf(std::string text, const std::string& display);

// Byte offsets of `include "..."` statements (keyword, string and optional `;`) in `text`, as
// nft's lexer sees them (outside comments and strings). Exposed for tests.
struct IncludeStatement {
  size_t begin = 0, end = 0;  // [begin, end) in text
  int line = 1, column = 1;   // of the keyword, 1-based
  std::string path;
};
[[nodiscard]] std::vector<IncludeStatement> FindIncludes(std::string_view text);

}  // namespace fwgate::nft
