#include "gate/nft/source.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace fwgate::nft {
namespace {

namespace fs = std::filesystem;

std::string Normalise(const std::string& p) { return fs::path(p).lexically_normal().string(); }

std::string Absolute(const std::string& p) {
  std::error_code ec;
  auto abs = fs::absolute(p, ec);
  return ec ? Normalise(p) : abs.lexically_normal().string();
}

std::string DirOf(const std::string& p) {
  std::string parent = fs::path(p).parent_path().string();
  return parent.empty() ? "." : parent;
}

bool Under(const std::string& path, const std::string& dir) {
  if (dir == "/") return true;
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
                         path[dir.size()] == '/');
}

bool IsGlob(std::string_view p) { return p.find_first_of("*?[") != std::string_view::npos; }

class Disk final : public RulesetFiles {
 public:
  explicit Disk(const std::vector<std::string>& roots) {
    for (auto& r : roots) {
      char buf[PATH_MAX];
      std::string root = ::realpath(r.c_str(), buf) != nullptr ? std::string(buf) : Absolute(r);
      if (std::find(roots_.begin(), roots_.end(), root) == roots_.end()) roots_.push_back(root);
    }
  }

  Result<std::string> Read(const std::string& path, size_t max_bytes) override {
    char buf[PATH_MAX];
    if (::realpath(path.c_str(), buf) == nullptr) {
      return Error::BadInput("cannot open: " + std::string(std::strerror(errno)));
    }
    std::string real(buf);
    for (const char* sys : {"/proc", "/sys", "/dev"}) {
      if (Under(real, sys)) {
        return Error::BadInput("refusing to read " + real + " (a " + sys +
                               " path, not a ruleset file)");
      }
    }
    bool inside = std::any_of(roots_.begin(), roots_.end(),
                              [&](const std::string& r) { return Under(real, r); });
    if (!inside) {
      std::string allowed;
      for (const auto& r : roots_) allowed += (allowed.empty() ? "" : ", ") + r;
      return Error::BadInput(
          "refusing to read " + real +
          ": it is outside the ruleset's directory and the include directories (" + allowed +
          "); add its directory with --include-dir, or map an absolute directory with "
          "--include-dir /ABS/DIR=LOCAL/DIR");
    }
    struct stat st {};
    if (::stat(real.c_str(), &st) != 0) {
      return Error::BadInput("cannot open: " + std::string(std::strerror(errno)));
    }
    if (S_ISDIR(st.st_mode)) return Error::BadInput("is a directory, not a ruleset file");
    if (!S_ISREG(st.st_mode)) {
      return Error::BadInput("not a regular file (a device, FIFO or socket is never read)");
    }
    if (static_cast<size_t>(st.st_size) > max_bytes) {
      return Error::BadInput("too large (" + std::to_string(st.st_size) + " bytes; the limit is " +
                             std::to_string(max_bytes) + " bytes)");
    }
    // O_NONBLOCK: should the file have been swapped for a FIFO since the check, open does not
    // block; fstat then refuses it.
    int fd = ::open(real.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) return Error::BadInput("cannot open: " + std::string(std::strerror(errno)));
    struct stat fst {};
    if (::fstat(fd, &fst) != 0 || !S_ISREG(fst.st_mode)) {
      ::close(fd);
      return Error::BadInput("not a regular file (a device, FIFO or socket is never read)");
    }
    std::string out;
    out.resize(std::min(max_bytes + 1, static_cast<size_t>(fst.st_size) + 1));
    size_t done = 0;
    while (done < out.size()) {
      ssize_t n = ::read(fd, out.data() + done, out.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    ::close(fd);
    out.resize(done);
    if (out.size() > max_bytes) {
      return Error::BadInput("too large (the limit is " + std::to_string(max_bytes) + " bytes)");
    }
    return out;
  }

  bool Exists(const std::string& path) override {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
  }

  std::vector<std::string> Glob(const std::string& pattern, size_t max) override {
    std::vector<std::string> out;
    glob_t g{};
    if (::glob(pattern.c_str(), 0, nullptr, &g) == 0) {
      for (size_t i = 0; i < g.gl_pathc && out.size() < max; ++i) out.emplace_back(g.gl_pathv[i]);
    }
    ::globfree(&g);
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  std::vector<std::string> roots_;
};

// Line starts of a text, for offset -> line/column.
class LineIndex {
 public:
  explicit LineIndex(std::string_view text) {
    starts_.push_back(0);
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '\n') starts_.push_back(i + 1);
    }
  }
  // 1-based line and column of `offset`.
  [[nodiscard]] std::pair<int, int> At(size_t offset) const {
    auto it = std::upper_bound(starts_.begin(), starts_.end(), offset);
    size_t line = static_cast<size_t>(it - starts_.begin());  // >= 1
    return {static_cast<int>(line), static_cast<int>(offset - starts_[line - 1]) + 1};
  }

 private:
  std::vector<size_t> starts_;
};

bool IsWordChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-' || c == '.' ||
         c == '/' || c == '$' || c == '@' || c == '\\';
}

class Flattener {
 public:
  Flattener(RulesetFiles& files, const FlattenOptions& options, const std::string& root_abs,
            const std::string& root_display)
      : files_(files),
        options_(options),
        root_dir_(DirOf(root_abs)),
        root_display_dir_(DirOf(root_display)) {}

  std::variant<FlatText, FlattenError> Run(const std::string& root_abs,
                                           const std::string& root_display,
                                           std::optional<std::string> given) {
    Result<std::string> content = given ? Result<std::string>(std::move(*given))
                                        : files_.Read(root_abs, options_.max_total_bytes);
    if (!content) return FlattenError{{root_display, 0, 0}, content.error().context};
    total_ = content->size();
    out_.files.push_back({root_abs, root_display, std::move(*content)});
    if (auto err = Expand(0, 0)) return *err;
    if (!out_.text.empty() && out_.text.back() != '\n') out_.text += '\n';
    return std::move(out_);
  }

 private:
  // Emits file[index] with its includes expanded; nullopt on success.
  std::optional<FlattenError> Expand(size_t index, int depth) {
    // Copies: out_.files grows while we recurse, which invalidates references into it.
    const std::string content = out_.files[index].content;
    const std::string display = out_.files[index].display;
    LineIndex lines(content);
    size_t pos = 0;
    int shift = 0;
    for (const IncludeStatement& inc : FindIncludes(content)) {
      Emit(content, pos, inc.begin, index, lines, shift);
      SourceLocation where{display, inc.line, inc.column};
      if (depth + 1 > options_.max_depth) {
        return FlattenError{where, "Include nested too deeply, max " +
                                       std::to_string(options_.max_depth) + " levels"};
      }
      auto targets = Resolve(inc.path);
      if (!targets) return FlattenError{where, targets.error().context};
      if (targets->empty()) out_.unmatched.push_back({where, inc.path});
      for (const std::string& target : *targets) {
        if (out_.files.size() >= options_.max_files) {
          return FlattenError{where, "too many included files (the limit is " +
                                         std::to_string(options_.max_files) + ")"};
        }
        size_t room = options_.max_total_bytes > total_ ? options_.max_total_bytes - total_ : 0;
        auto text = files_.Read(target, room);
        if (!text) {
          std::string shown = files_.DisplayName(target);
          return FlattenError{where, "include \"" + inc.path + "\"" +
                                         (shown == inc.path ? "" : " (" + shown + ")") + ": " +
                                         text.error().context};
        }
        total_ += text->size();
        out_.files.push_back({target, DisplayOf(target), std::move(*text)});
        if (auto err = Expand(out_.files.size() - 1, depth + 1)) return err;
      }
      pos = inc.end;
      shift = lines.At(inc.end).second - 1;
      // Nothing but blanks after the statement: the next line follows the included text.
      size_t nl = content.find('\n', pos);
      if (nl != std::string::npos && content.find_first_not_of(" \t\r;", pos) >= nl) {
        pos = nl + 1;
        shift = 0;
      }
    }
    Emit(content, pos, content.size(), index, lines, shift);
    return std::nullopt;
  }

  // Appends content[begin, end) as whole lines and records where they came from.
  void Emit(const std::string& content, size_t begin, size_t end, size_t file,
            const LineIndex& lines, int shift) {
    if (begin >= end) return;
    std::string_view seg(content.data() + begin, end - begin);
    // A segment that is only the blank rest of an include line adds nothing.
    if (seg.find_first_not_of(" \t\r;") == std::string_view::npos) return;
    int count = static_cast<int>(std::count(seg.begin(), seg.end(), '\n'));
    FlatPiece p;
    p.flat_line = flat_line_;
    p.file = file;
    p.file_line = lines.At(begin).first;
    p.column_shift = shift;
    out_.text.append(seg);
    if (seg.back() != '\n') {
      out_.text += '\n';
      ++count;
    }
    p.lines = count;
    flat_line_ += count;
    out_.pieces.push_back(p);
  }

  Result<std::vector<std::string>> Resolve(const std::string& path) {
    if (path.empty()) return Error::BadInput("include of an empty file name");
    const bool glob = IsGlob(path);
    auto pick = [&](const std::string& candidate) -> std::vector<std::string> {
      if (glob) return files_.Glob(candidate, options_.max_files);
      return files_.Exists(candidate) ? std::vector<std::string>{candidate}
                                      : std::vector<std::string>{};
    };
    std::vector<std::string> found;
    if (path.front() == '/') {
      std::string mapped = path;
      for (const IncludeDir& d : options_.include_dirs) {
        if (!d.maps.empty() && Under(Normalise(path), d.maps)) {
          mapped = d.dir + Normalise(path).substr(d.maps.size());
          break;
        }
      }
      found = pick(Normalise(mapped));
    } else if (path.rfind("./", 0) == 0 || path.rfind("../", 0) == 0) {
      found = pick(Normalise(root_dir_ + "/" + path));
    } else {
      std::vector<std::string> dirs = {root_dir_};
      for (const IncludeDir& d : options_.include_dirs) {
        if (d.maps.empty()) dirs.push_back(d.dir);
      }
      for (const std::string& dir : dirs) {
        found = pick(Normalise(dir + "/" + path));
        if (!found.empty()) break;
      }
    }
    if (found.empty() && !glob) return Error::BadInput("File not found: " + path);
    return found;
  }

  std::string DisplayOf(const std::string& abs) const {
    if (Under(abs, root_dir_) && abs != root_dir_) {
      std::string rel = abs.substr(root_dir_ == "/" ? 1 : root_dir_.size() + 1);
      return root_display_dir_ == "." ? rel : root_display_dir_ + "/" + rel;
    }
    return files_.DisplayName(abs);
  }

  RulesetFiles& files_;
  const FlattenOptions& options_;
  std::string root_dir_, root_display_dir_;
  FlatText out_;
  int flat_line_ = 1;
  size_t total_ = 0;
};

}  // namespace

std::unique_ptr<RulesetFiles> DiskFiles(const std::vector<std::string>& roots) {
  return std::make_unique<Disk>(roots);
}

Result<IncludeDir> ParseIncludeDir(std::string_view text) {
  IncludeDir d;
  std::string s(text);
  if (size_t eq = s.find('='); eq != std::string::npos) {
    d.maps = s.substr(0, eq);
    s = s.substr(eq + 1);
    if (d.maps.empty() || d.maps.front() != '/') {
      return Error::BadInput("--include-dir " + std::string(text) +
                             ": the part before '=' must be an absolute directory "
                             "(e.g. /etc/nftables.d=firewall/nftables.d)");
    }
    d.maps = Normalise(d.maps);
    if (d.maps.size() > 1 && d.maps.back() == '/') d.maps.pop_back();
  }
  if (s.empty()) return Error::BadInput("--include-dir needs a directory");
  std::error_code ec;
  if (!fs::is_directory(s, ec)) {
    return Error::BadInput("--include-dir " + std::string(text) + ": '" + s +
                           "' is not a directory");
  }
  char buf[PATH_MAX];
  d.dir = ::realpath(s.c_str(), buf) != nullptr ? std::string(buf) : Absolute(s);
  return d;
}

std::vector<IncludeStatement> FindIncludes(std::string_view t) {
  std::vector<IncludeStatement> out;
  LineIndex lines(t);
  size_t i = 0;
  const size_t n = t.size();
  while (i < n) {
    char c = t[i];
    if (c == '#') {
      while (i < n && t[i] != '\n') ++i;
      continue;
    }
    if (c == '"') {
      size_t end = t.find('"', i + 1);
      i = end == std::string_view::npos ? n : end + 1;
      continue;
    }
    if (!IsWordChar(c)) {
      ++i;
      continue;
    }
    size_t w = i;
    while (i < n && IsWordChar(t[i])) ++i;
    if (t.substr(w, i - w) != "include") continue;
    size_t j = i;
    while (j < n && (t[j] == ' ' || t[j] == '\t')) ++j;
    if (j >= n || t[j] != '"') continue;
    size_t close = t.find('"', j + 1);
    if (close == std::string_view::npos) continue;
    IncludeStatement s;
    s.begin = w;
    s.path = std::string(t.substr(j + 1, close - j - 1));
    size_t end = close + 1;
    size_t k = end;
    while (k < n && (t[k] == ' ' || t[k] == '\t')) ++k;
    if (k < n && t[k] == ';') end = k + 1;
    s.end = end;
    auto [line, col] = lines.At(w);
    s.line = line;
    s.column = col;
    out.push_back(std::move(s));
    i = end;
  }
  return out;
}

std::variant<FlatText, FlattenError> Flatten(RulesetFiles& files, const std::string& root,
                                             const FlattenOptions& options,
                                             std::optional<std::string> root_content) {
  std::string abs = Absolute(root);
  Flattener f(files, options, abs, root);
  return f.Run(abs, root, std::move(root_content));
}

FlatText FlatTextOf(std::string text, const std::string& display) {
  FlatText f;
  f.text = text;
  if (!f.text.empty() && f.text.back() != '\n') f.text += '\n';
  int lines = static_cast<int>(std::count(f.text.begin(), f.text.end(), '\n'));
  f.files.push_back({display, display, std::move(text)});
  f.pieces.push_back({1, lines, 0, 1, 0});
  return f;
}

SourceLocation FlatText::Map(int flat_line, int flat_column) const {
  auto it = std::upper_bound(pieces.begin(), pieces.end(), flat_line,
                             [](int l, const FlatPiece& p) { return l < p.flat_line; });
  if (it == pieces.begin()) return {};
  const FlatPiece& p = *(it - 1);
  if (flat_line >= p.flat_line + p.lines) return {};
  SourceLocation loc;
  loc.file = files[p.file].display;
  loc.line = p.file_line + (flat_line - p.flat_line);
  loc.column = flat_column;
  if (flat_line == p.flat_line && flat_column > 0) loc.column += p.column_shift;
  return loc;
}

std::string_view FlatText::Line(const std::string& display, int line) const {
  if (line <= 0) return {};
  for (const File& f : files) {
    if (f.display != display) continue;
    std::string_view c = f.content;
    size_t pos = 0;
    for (int l = 1; l < line; ++l) {
      pos = c.find('\n', pos);
      if (pos == std::string_view::npos) return {};
      ++pos;
    }
    size_t end = c.find('\n', pos);
    std::string_view s = c.substr(pos, end == std::string_view::npos ? c.size() - pos : end - pos);
    if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
    return s;
  }
  return {};
}

}  // namespace fwgate::nft
