#include "gate/nft/loader.h"

#include <glob.h>
#include <nftables/libnftables.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>

#include "sys/nft_netlink.h"
#include "sys/netns.h"
#include "sys/rtnl.h"

namespace fwgate::nft {
namespace {

// The one owner of an nft_ctx (libnftables context).
struct NftCtxDeleter {
  void operator()(nft_ctx* ctx) const { nft_ctx_free(ctx); }
};
using NftCtxPtr = std::unique_ptr<nft_ctx, NftCtxDeleter>;

// libnftables keeps process-global state (the interface cache behind "Interface does not exist",
// filled lazily in whichever namespace asks first and released after each command), so only one
// thread may run it at a time.
std::mutex& NftMutex() {
  static std::mutex m;
  return m;
}

constexpr size_t kMaxDiagnostics = 1000;
constexpr int kMaxIncludeDepth = 8;
constexpr size_t kMaxIncludedFiles = 64;

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string_view Trim(std::string_view s) {
  s = TrimRight(s);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

bool ParseInt(std::string_view s, int& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

// nft's caret line: whitespace and at least one '^' or '~'.
bool IsCaretLine(std::string_view s) {
  bool mark = false;
  for (char c : s) {
    if (c == '^' || c == '~') {
      mark = true;
    } else if (c != ' ' && c != '\t' && c != '\r') {
      return false;
    }
  }
  return mark;
}

// "FILE:LINE:COL[-COL | -LINE:COL]: Error: msg" → diagnostic (no source line yet).
std::optional<Diagnostic> MatchLocated(std::string_view line) {
  static const std::regex kPrefix(R"(^(.*):(\d{1,9}):(\d{1,9})(?:-(\d{1,9})(?::(\d{1,9}))?)?$)");
  for (size_t p = line.find(": "); p != std::string_view::npos; p = line.find(": ", p + 1)) {
    std::string_view rest = line.substr(p + 2);
    if (!rest.starts_with("Error:") && !rest.starts_with("Warning:")) continue;
    std::string prefix(line.substr(0, std::min<size_t>(p, 4096)));
    std::smatch m;
    if (p > 4096 || !std::regex_match(prefix, m, kPrefix)) continue;
    Diagnostic d;
    d.file = m[1].str();
    if (!ParseInt(m[2].str(), d.line) || !ParseInt(m[3].str(), d.column)) continue;
    if (m[4].matched && !m[5].matched) ParseInt(m[4].str(), d.end_column);
    d.message = std::string(TrimRight(rest));
    return d;
  }
  return std::nullopt;
}

bool IsUtf8(std::string_view s, size_t& bad_offset) {
  size_t i = 0;
  const auto* b = reinterpret_cast<const unsigned char*>(s.data());
  while (i < s.size()) {
    unsigned char c = b[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n = 0;
    uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      bad_offset = i;
      return false;
    }
    for (size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size() || (b[i + k] & 0xC0) != 0x80) {
        bad_offset = i;
        return false;
      }
      cp = (cp << 6) | (b[i + k] & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      bad_offset = i;
      return false;
    }
    i += n + 1;
  }
  return true;
}

LoadResult InvalidFile(std::string_view file, std::string message) {
  LoadResult r;
  r.status = LoadStatus::kInvalid;
  Diagnostic d;
  d.file = std::string(file);
  d.message = std::move(message);
  r.reason = d.ToString();
  r.diagnostics.push_back(std::move(d));
  return r;
}

// True when every line is blank or a comment.
bool HasStatements(std::string_view text) {
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line =
        Trim(text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos));
    if (!line.empty() && line.front() != '#') return true;
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return false;
}

// --- Pre-scan tokenizer: just enough of nft's lexical rules to find interface arguments. ---
struct Token {
  std::string text;
  bool quoted = false;
};

std::vector<Token> Tokenize(std::string_view s) {
  std::vector<Token> out;
  size_t i = 0;
  auto is_punct = [](char c) {
    return c == '{' || c == '}' || c == '(' || c == ')' || c == ',' || c == ';' || c == ':';
  };
  auto is_op = [](char c) { return c == '=' || c == '!' || c == '<' || c == '>'; };
  while (i < s.size()) {
    char c = s[i];
    if (c == '#') {
      while (i < s.size() && s[i] != '\n') ++i;
    } else if (c == '\n') {
      out.push_back({"\n"});
      ++i;
    } else if (c == ' ' || c == '\t' || c == '\r' || c == '\\') {
      ++i;
    } else if (c == '"') {
      size_t end = i + 1;
      while (end < s.size() && s[end] != '"' && s[end] != '\n') ++end;
      out.push_back({std::string(s.substr(i + 1, end - i - 1)), true});
      i = end < s.size() && s[end] == '"' ? end + 1 : end;
    } else if (is_punct(c)) {
      out.push_back({std::string(1, c)});
      ++i;
    } else if (is_op(c)) {
      size_t end = i;
      while (end < s.size() && is_op(s[end])) ++end;
      out.push_back({std::string(s.substr(i, end - i))});
      i = end;
    } else {
      size_t end = i;
      while (end < s.size() && !is_punct(s[end]) && !is_op(s[end]) && s[end] != '"' &&
             s[end] != '#' && s[end] != ' ' && s[end] != '\t' && s[end] != '\n' && s[end] != '\r') {
        ++end;
      }
      out.push_back({std::string(s.substr(i, end - i))});
      i = end;
    }
  }
  return out;
}

// Words that follow iif/oif/device in nft syntax without being an interface name.
bool IsStopWord(const Token& t) {
  if (t.quoted) return false;
  static const std::set<std::string, std::less<>> kStop = {
      "\n",       ";",      "}",    ")",        ".",       ",",       ":",       "missing",
      "exists",   "oif",    "iif",  "oifname",  "iifname", "oiftype", "iiftype", "type",
      "map",      "vmap",   "set",  "ip",       "ip6",     "meta",    "tcp",     "udp",
      "ct",       "accept", "drop", "jump",     "goto",    "return",  "counter", "log",
      "priority", "eq",     "ne",   "lt",       "gt",      "le",      "ge",      "and",
      "or",       "xor",    "not",  "continue", "reject",  "queue",   "limit",   "notrack"};
  return kStop.contains(t.text);
}

bool IsAllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

class InterfaceScanner {
 public:
  explicit InterfaceScanner(std::vector<Token> tokens) : toks_(std::move(tokens)) {
    CollectDefines();
  }

  std::vector<std::string> Scan() {
    std::vector<std::string> names;
    bool in_fib = false;
    for (size_t i = 0; i < toks_.size(); ++i) {
      const Token& t = toks_[i];
      if (!t.quoted && (t.text == "\n" || t.text == ";" || t.text == "{" || t.text == "}")) {
        in_fib = false;
      }
      if (t.quoted) continue;
      if (t.text == "fib") in_fib = true;
      if (t.text == "define" || t.text == "redefine") {  // skip the definition itself
        while (i + 1 < toks_.size() && toks_[i + 1].text != "\n") ++i;
        continue;
      }
      bool keyword =
          t.text == "iif" || t.text == "oif" || t.text == "device" || t.text == "devices";
      if (!keyword || in_fib) continue;
      if (i > 0 && !toks_[i - 1].quoted && toks_[i - 1].text == ".") continue;  // concatenation
      size_t j = i + 1;
      while (j < toks_.size() && !toks_[j].quoted &&
             (toks_[j].text == "=" || toks_[j].text == "==" || toks_[j].text == "!=")) {
        ++j;
      }
      // `iif vmap { "eth0" : accept, ... }`: the map's keys are interfaces.
      if (j + 1 < toks_.size() && !toks_[j].quoted &&
          (toks_[j].text == "vmap" || toks_[j].text == "map") && toks_[j + 1].text == "{") {
        ++j;
      }
      if (j < toks_.size()) CollectValue(toks_, j, 0, names);
    }
    return names;
  }

 private:
  void CollectDefines() {
    for (size_t i = 0; i + 2 < toks_.size(); ++i) {
      if (toks_[i].quoted || (toks_[i].text != "define" && toks_[i].text != "redefine")) continue;
      const std::string& name = toks_[i + 1].text;
      size_t j = i + 2;
      if (j < toks_.size() && toks_[j].text == "=") ++j;
      std::vector<Token> value;
      int depth = 0;
      for (; j < toks_.size(); ++j) {
        const Token& v = toks_[j];
        if (!v.quoted && v.text == "\n" && depth == 0) break;
        if (!v.quoted && v.text == "{") ++depth;
        if (!v.quoted && v.text == "}") --depth;
        if (!v.quoted && v.text == "\n") continue;
        value.push_back(v);
      }
      defines_[name] = std::move(value);
    }
  }

  // Collects the names of the value starting at toks[pos]: a name, "$var", or "{ a, $b, ... }"
  // (first token of each element: the key of a map element).
  void CollectValue(const std::vector<Token>& toks, size_t pos, int depth,
                    std::vector<std::string>& names) {
    if (depth > kMaxIncludeDepth || pos >= toks.size()) return;
    const Token& t = toks[pos];
    if (!t.quoted && t.text == "{") {
      int level = 0;
      bool element_start = true;
      for (size_t k = pos; k < toks.size(); ++k) {
        const Token& e = toks[k];
        if (!e.quoted && e.text == "{") {
          ++level;
          element_start = true;
          continue;
        }
        if (!e.quoted && e.text == "}") {
          if (--level == 0) return;
          continue;
        }
        if (!e.quoted && (e.text == "," || e.text == "\n")) {
          if (e.text == ",") element_start = true;
          continue;
        }
        if (element_start && level == 1) {
          CollectValue(toks, k, depth + 1, names);
          element_start = false;
        }
      }
      return;
    }
    if (!t.quoted && t.text.starts_with("$")) {
      auto it = defines_.find(t.text.substr(1));
      if (it != defines_.end() && !it->second.empty()) {
        CollectValue(it->second, 0, depth + 1, names);
      }
      return;
    }
    if (IsStopWord(t) || t.text.starts_with("@") || IsAllDigits(t.text)) return;
    if (!sys::IsValidIfname(t.text)) return;
    if (std::find(names.begin(), names.end(), t.text) == names.end()) names.push_back(t.text);
  }

  std::vector<Token> toks_;
  std::map<std::string, std::vector<Token>, std::less<>> defines_;
};

// The text of `text` plus every file it includes (resolved against include_dir when relative;
// globs expanded), bounded in depth and count. Unreadable includes are skipped: nft reports them.
void AppendWithIncludes(const std::string& text, const std::string& include_dir, int depth,
                        size_t max_bytes, std::set<std::string>& seen, std::string& out) {
  out += text;
  out += "\n";
  if (depth >= kMaxIncludeDepth) return;
  std::vector<Token> toks = Tokenize(text);
  for (size_t i = 0; i + 1 < toks.size(); ++i) {
    if (toks[i].quoted || toks[i].text != "include" || !toks[i + 1].quoted) continue;
    std::string pattern = toks[i + 1].text;
    if (pattern.empty()) continue;
    if (pattern.front() != '/') {
      if (include_dir.empty()) continue;
      pattern = include_dir + "/" + pattern;
    }
    glob_t g{};
    if (::glob(pattern.c_str(), 0, nullptr, &g) == 0) {
      for (size_t k = 0; k < g.gl_pathc && seen.size() < kMaxIncludedFiles; ++k) {
        std::string path = g.gl_pathv[k];
        if (!seen.insert(path).second) continue;
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
            static_cast<size_t>(st.st_size) > max_bytes) {
          continue;
        }
        std::ifstream in(path, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        AppendWithIncludes(ss.str(), include_dir, depth + 1, max_bytes, seen, out);
      }
    }
    ::globfree(&g);
  }
}

// What one nft run needs. nft always reads a file by name: its messages carry no usable
// location for text given as a buffer (1.0.6 echoes the buffer's first line), so text goes
// through a memfd (/proc/self/fd/N). Small commands ("add table ...") use the buffer.
struct Source {
  std::string display_name;  // what diagnostics call the file
  std::string path;          // absolute path nft reads; empty: run `text` as a buffer
  std::string text;          // content (also used for the pre-scan)
  std::string include_dir;   // absolute; nft also runs with it as working directory
};

// Owns a file descriptor (the memfd holding text).
class UniqueFd {
 public:
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  [[nodiscard]] int get() const { return fd_; }

 private:
  int fd_;
};

struct RunOutcome {
  bool ok = false;
  std::vector<Diagnostic> diagnostics;
};

// Runs nft once on the calling thread (inside the throwaway namespace).
RunOutcome RunNftOnce(const Source& src) {
  RunOutcome out;
  NftCtxPtr ctx(nft_ctx_new(NFT_CTX_DEFAULT));
  if (!ctx) {
    out.diagnostics.push_back({src.display_name, 0, 0, "Error: cannot create an nftables context"});
    return out;
  }
  nft_ctx_buffer_output(ctx.get());
  nft_ctx_buffer_error(ctx.get());
  // Relative includes resolve against the file's directory only, so validation does not depend
  // on this machine's /etc (nft's default include path).
  nft_ctx_clear_include_paths(ctx.get());
  if (!src.include_dir.empty()) nft_ctx_add_include_path(ctx.get(), src.include_dir.c_str());
  int rc = src.path.empty() ? nft_run_cmd_from_buffer(ctx.get(), src.text.c_str())
                            : nft_run_cmd_from_filename(ctx.get(), src.path.c_str());
  const char* err = nft_ctx_get_error_buffer(ctx.get());
  out.diagnostics = ParseNftErrors(err != nullptr ? err : "", src.display_name);
  for (auto& d : out.diagnostics) {
    if (d.file == src.path || d.file == "<cmdline>") d.file = src.display_name;
  }
  out.ok = rc == 0;
  return out;
}

bool IsPrivilegeError(const Diagnostic& d) {
  return d.message.find("Operation not permitted") != std::string::npos;
}

LoadResult LoadInThrowawayNamespace(const Source& src, const LoadOptions& options) {
  LoadResult result;
  auto ns = sys::CreateAnonymous();
  if (!ns) {
    result.status = LoadStatus::kNoPrivilege;
    result.reason = ns.error().ToString() + " (needs root or CAP_SYS_ADMIN and CAP_NET_ADMIN)";
    return result;
  }
  std::string pre_scan_text;
  std::set<std::string> seen;
  AppendWithIncludes(src.text, src.include_dir, 0, options.max_file_bytes, seen, pre_scan_text);
  std::vector<std::string> wanted = ScanInterfaceNames(pre_scan_text);

  Status ran = sys::RunInNetns(*ns, [&] {
    std::lock_guard<std::mutex> lock(NftMutex());
    // nft resolves `include "./x.nft"` against the working directory: give this thread its own
    // (CLONE_FS) and move it to the file's folder. The thread ends with the call.
    if (!src.include_dir.empty() && ::unshare(CLONE_FS) == 0) {
      (void)::chdir(src.include_dir.c_str());
    }
    std::optional<sys::RtnlSocket> rtnl;
    std::set<std::string> attempted;
    bool over_limit = false;
    std::string link_error;
    // Creates placeholders for `names`; returns how many were new.
    auto ensure = [&](const std::vector<std::string>& names) {
      size_t created = 0;
      if (!options.create_placeholders) return created;
      for (const auto& name : names) {
        if (!attempted.insert(name).second) continue;
        if (!rtnl) {
          auto s = sys::RtnlSocket::Open();
          if (!s) {
            link_error = s.error().ToString();
            return created;
          }
          rtnl.emplace(std::move(*s));
        }
        if (rtnl->IndexOf(name).ok()) continue;  // "lo", or made as a veth peer
        if (result.placeholder_interfaces.size() >= options.max_placeholders) {
          over_limit = true;
          continue;
        }
        if (auto st = rtnl->CreatePlaceholder(name); !st) {
          link_error = st.error().ToString();
          continue;
        }
        result.placeholder_interfaces.push_back(name);
        ++created;
      }
      return created;
    };
    ensure(wanted);
    std::set<std::string> tables_attempted;
    // Creates empty tables the file deletes/flushes; returns how many were new.
    auto ensure_tables = [&](const std::vector<std::string>& tables) {
      size_t created = 0;
      for (const auto& t : tables) {
        if (!tables_attempted.insert(t).second) continue;
        Source add{src.display_name, "", "add table " + t, ""};
        if (RunNftOnce(add).ok) {
          result.placeholder_tables.push_back(t);
          ++created;
        }
      }
      return created;
    };

    RunOutcome run;
    for (int round = 0; round < std::max(1, options.max_rounds); ++round) {
      run = RunNftOnce(src);
      if (run.ok) break;
      size_t progress = ensure(MissingInterfacesFromDiagnostics(run.diagnostics)) +
                        ensure_tables(MissingTablesFromDiagnostics(run.diagnostics));
      if (progress == 0) break;
    }
    result.diagnostics = std::move(run.diagnostics);
    if (run.ok) {
      auto dumped = sys::DumpRuleset();
      if (!dumped) {
        result.status = LoadStatus::kUnsupported;
        result.reason =
            "nft accepted the file but dumping it back failed: " + dumped.error().ToString();
        return;
      }
      result.status = LoadStatus::kOk;
      result.ruleset = std::move(*dumped);
      return;
    }
    for (const auto& d : result.diagnostics) {
      if (IsPrivilegeError(d)) {
        result.status = LoadStatus::kNoPrivilege;
        result.reason = "the kernel refused: " + d.ToString();
        return;
      }
    }
    for (const auto& d : result.diagnostics) {
      if (auto why = UnsupportedReason(d)) {
        result.status = LoadStatus::kUnsupported;
        result.reason = *why;
        return;
      }
    }
    result.status = LoadStatus::kInvalid;
    if (result.diagnostics.empty()) {
      result.diagnostics.push_back({src.display_name, 0, 0, "Error: nft failed without a message"});
    }
    size_t n = result.diagnostics.size();
    result.reason = result.diagnostics.front().ToString();
    if (n > 1) result.reason += " (and " + std::to_string(n - 1) + " more)";
    if (over_limit) {
      result.reason += "; the file names more than " + std::to_string(options.max_placeholders) +
                       " interfaces, the placeholder limit";
    } else if (!link_error.empty()) {
      result.reason += "; could not create a placeholder interface: " + link_error;
    }
  });
  if (!ran) {
    result.status = LoadStatus::kNoPrivilege;
    result.reason = ran.error().ToString();
  }
  return result;
}

std::string DirectoryOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string Absolute(const std::string& path) {
  std::error_code ec;
  auto abs = std::filesystem::absolute(path, ec);
  return ec ? path : abs.lexically_normal().string();
}

LoadResult LoadThroughMemfd(Source src, const LoadOptions& options) {
  UniqueFd fd(::memfd_create("fwgate-ruleset", MFD_CLOEXEC));
  size_t done = 0;
  while (fd.get() >= 0 && done < src.text.size()) {
    ssize_t n = ::write(fd.get(), src.text.data() + done, src.text.size() - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  if (fd.get() < 0 || done != src.text.size()) {
    LoadResult r;
    r.status = LoadStatus::kUnsupported;
    r.reason = Error::FromErrno(errno, "holding the ruleset text in a memfd").ToString();
    return r;
  }
  src.path = "/proc/self/fd/" + std::to_string(fd.get());
  return LoadInThrowawayNamespace(src, options);
}

}  // namespace

std::string Diagnostic::ToString() const {
  if (line <= 0) return file + ": " + message;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
}

std::string Diagnostic::LocatedText() const {
  if (column <= 0 || end_column < column) return "";
  size_t first = static_cast<size_t>(column) - 1;
  if (first >= source_line.size()) return "";
  return source_line.substr(first, static_cast<size_t>(end_column - column) + 1);
}

std::string Diagnostic::ToStringWithContext() const {
  std::string s = ToString();
  if (!source_line.empty() && column > 0) {
    s += "\n" + source_line + "\n";
    // Keep tabs so the caret lines up under the same text.
    for (size_t i = 0; i + 1 < static_cast<size_t>(column) && i < source_line.size(); ++i) {
      s += source_line[i] == '\t' ? '\t' : ' ';
    }
    int width = end_column >= column ? end_column - column + 1 : 1;
    s += std::string(static_cast<size_t>(std::min(width, 4096)), '^');
  }
  return s;
}

std::string_view LoadStatusName(LoadStatus status) {
  switch (status) {
    case LoadStatus::kOk:
      return "ok";
    case LoadStatus::kInvalid:
      return "invalid";
    case LoadStatus::kUnsupported:
      return "unsupported";
    case LoadStatus::kNoPrivilege:
      return "no-privilege";
  }
  return "invalid";
}

Outcome OutcomeOf(LoadStatus status) {
  switch (status) {
    case LoadStatus::kOk:
      return Outcome::kPass;
    case LoadStatus::kInvalid:
      return Outcome::kBadInput;
    case LoadStatus::kUnsupported:
    case LoadStatus::kNoPrivilege:
      return Outcome::kUndecided;
  }
  return Outcome::kUndecided;
}

std::vector<Diagnostic> ParseNftErrors(std::string_view text, std::string_view default_file) {
  std::vector<std::string_view> lines;
  for (size_t pos = 0; pos <= text.size();) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) {
      if (pos < text.size()) lines.push_back(text.substr(pos));
      break;
    }
    lines.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  std::vector<Diagnostic> out;
  for (size_t i = 0; i < lines.size() && out.size() < kMaxDiagnostics;) {
    std::string_view line = TrimRight(lines[i]);
    ++i;
    if (Trim(line).empty() || IsCaretLine(line)) continue;
    // nft's include trail ("In file included from a.nft:3:1-20:") precedes the real message.
    if (Trim(line).starts_with("In file included from")) continue;
    if (auto d = MatchLocated(line)) {
      if (d->file == "internal" && d->line == 0) {  // nft's location-less errors
        d->file = std::string(default_file);
        d->column = d->end_column = 0;
        out.push_back(std::move(*d));
        continue;
      }
      // nft echoes the source line and underlines the location. A next line that is itself a
      // located message with no caret under it means nft printed no source line.
      if (i < lines.size()) {
        bool next_is_message = MatchLocated(TrimRight(lines[i])).has_value() &&
                               !(i + 1 < lines.size() && IsCaretLine(lines[i + 1]));
        if (!next_is_message && !IsCaretLine(lines[i])) {
          d->source_line = std::string(TrimRight(lines[i]));
          ++i;
        }
        if (i < lines.size() && IsCaretLine(lines[i])) ++i;
      }
      out.push_back(std::move(*d));
      continue;
    }
    Diagnostic d;
    d.file = std::string(default_file);
    d.message = std::string(Trim(line));
    out.push_back(std::move(d));
  }
  return out;
}

std::optional<LoadResult> PrecheckRulesetText(std::string_view text, std::string_view display_name,
                                              size_t max_bytes) {
  if (text.size() > max_bytes) {
    return InvalidFile(display_name, "too large (" + std::to_string(text.size()) +
                                         " bytes; the limit is " + std::to_string(max_bytes >> 20) +
                                         " MiB)");
  }
  if (size_t nul = text.find('\0'); nul != std::string_view::npos) {
    return InvalidFile(display_name, "not a text file (NUL byte at offset " + std::to_string(nul) +
                                         "); expected an nft ruleset");
  }
  size_t bad = 0;
  if (!IsUtf8(text, bad)) {
    return InvalidFile(display_name, "not a text file (invalid UTF-8 at byte offset " +
                                         std::to_string(bad) + "); expected an nft ruleset");
  }
  if (!HasStatements(text)) {
    return InvalidFile(display_name,
                       "nothing to validate (the file is empty or holds only comments)");
  }
  return std::nullopt;
}

std::variant<PrecheckedFile, LoadResult> PrecheckRulesetFile(const std::string& path,
                                                             size_t max_bytes) {
  if (path.empty()) return InvalidFile("<empty name>", "no file name given");
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return InvalidFile(path, std::string("cannot open: ") + std::strerror(errno));
  }
  if (S_ISDIR(st.st_mode)) return InvalidFile(path, "is a directory, not a ruleset file");
  if (S_ISREG(st.st_mode) && static_cast<size_t>(st.st_size) > max_bytes) {
    return InvalidFile(path, "too large (" + std::to_string(st.st_size) + " bytes; the limit is " +
                                 std::to_string(max_bytes >> 20) + " MiB)");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidFile(path, std::string("cannot read: ") + std::strerror(errno));
  std::string content;
  // Pipes and devices have no size: read at most one byte past the limit.
  content.resize(std::min<size_t>(
      max_bytes + 1, S_ISREG(st.st_mode) ? static_cast<size_t>(st.st_size) + 1 : max_bytes + 1));
  in.read(content.data(), static_cast<std::streamsize>(content.size()));
  if (in.bad()) return InvalidFile(path, std::string("cannot read: ") + std::strerror(errno));
  content.resize(static_cast<size_t>(in.gcount()));
  if (auto bad = PrecheckRulesetText(content, path, max_bytes)) return std::move(*bad);
  return PrecheckedFile{std::move(content)};
}

std::vector<std::string> ScanInterfaceNames(std::string_view text) {
  return InterfaceScanner(Tokenize(text)).Scan();
}

std::vector<std::string> MissingInterfacesFromDiagnostics(
    const std::vector<Diagnostic>& diagnostics) {
  std::vector<std::string> names;
  for (const auto& d : diagnostics) {
    if (d.message.find("Interface does not exist") == std::string::npos) continue;
    std::string token(Trim(d.LocatedText()));
    if (token.size() >= 2 && token.front() == '"' && token.back() == '"') {
      token = token.substr(1, token.size() - 2);
    }
    if (token.starts_with("$") || !sys::IsValidIfname(token)) continue;
    if (std::find(names.begin(), names.end(), token) == names.end()) names.push_back(token);
  }
  return names;
}

std::vector<std::string> MissingTablesFromDiagnostics(const std::vector<Diagnostic>& diagnostics) {
  static const std::set<std::string, std::less<>> kFamilies = {"ip",  "ip6",    "inet",
                                                               "arp", "bridge", "netdev"};
  std::vector<std::string> tables;
  for (const auto& d : diagnostics) {
    if (d.message.find("No such file or directory") == std::string::npos) continue;
    std::vector<Token> toks = Tokenize(d.source_line);
    while (!toks.empty() && (toks.back().text == ";" || toks.back().text == "\n")) {
      toks.pop_back();
    }
    if (toks.size() < 3 || toks.size() > 4 || toks[1].text != "table" ||
        (toks[0].text != "delete" && toks[0].text != "flush")) {
      continue;
    }
    std::string family = toks.size() == 4 ? toks[2].text : "ip";
    const Token& name = toks.back();
    if (!kFamilies.contains(family) || name.text.empty() ||
        name.text.find_first_of(" \t{}") != std::string::npos) {
      continue;
    }
    std::string located(Trim(d.LocatedText()));
    if (located != name.text && located != "\"" + name.text + "\"") continue;
    std::string t = family + " " + (name.quoted ? "\"" + name.text + "\"" : name.text);
    if (std::find(tables.begin(), tables.end(), t) == tables.end()) tables.push_back(t);
  }
  return tables;
}

std::optional<std::string> UnsupportedReason(const Diagnostic& d) {
  const std::string& msg = d.message;
  std::string where =
      d.line > 0 ? d.file + ":" + std::to_string(d.line) + ":" + std::to_string(d.column) : d.file;
  std::string located(Trim(d.LocatedText()));
  // The word before the underlined text tells what the kernel refused ("chain", "secmark", ...).
  std::string before;
  if (d.column > 1 && static_cast<size_t>(d.column - 1) <= d.source_line.size()) {
    std::string_view head = TrimRight(std::string_view(d.source_line).substr(0, d.column - 1));
    size_t sp = head.find_last_of(" \t");
    before = std::string(sp == std::string_view::npos ? head : head.substr(sp + 1));
  }
  std::string what = located.empty() ? "a construct"
                     : before.empty() || before.find_first_of("{};=") != std::string::npos
                         ? "'" + located + "'"
                         : before + " '" + located + "'";
  if (msg.find("Operation not supported") != std::string::npos) {
    // E.g. nat base chains below conntrack priority (-200) on recent kernels, or a hook/type
    // combination this kernel does not offer.
    return "this kernel refused " + what + " at " + where + " as not supported (" + msg + ")";
  }
  if (msg.find("Protocol not supported") != std::string::npos ||
      msg.find("Address family not supported") != std::string::npos) {
    return "this kernel lacks the table family or protocol used at " + where + " (" + msg + ")";
  }
  if (msg.find("Could not process rule: No such file or directory") == std::string::npos) {
    return std::nullopt;
  }
  if (before == "secmark") {
    // secmark objects resolve their context through the LSM (kernel >= 4.20); with no LSM that
    // knows it the kernel answers ENOENT.
    return "secmark object '" + located + "' at " + where +
           " was refused: secmark needs a Linux security module (SELinux, Smack, AppArmor) "
           "that knows the context, and this kernel has none that does";
  }
  if (before == "flowtable") {
    // Placeholders exist for every device the file names, so ENOENT here means the kernel has
    // no flowtable type for the family (built without CONFIG_NF_FLOW_TABLE).
    return "flowtable '" + located + "' at " + where +
           " was refused: this kernel has no flowtable support for this family "
           "(nf_flow_table not built or not loadable)";
  }
  if (before == "jump" || before == "goto" || located.find('@') != std::string::npos ||
      located.find(" name ") != std::string::npos || located.find('"') != std::string::npos) {
    return std::nullopt;  // a chain, set or object the file does not define
  }
  // Statements served by their own kernel module: ENOENT means the module is absent.
  static const std::set<std::string, std::less<>> kModuleStatements = {
      "osf",   "synproxy", "tproxy", "fib",  "socket",    "ipsec", "numgen",
      "jhash", "symhash",  "tunnel", "last", "connlimit", "dup",   "fwd"};
  std::string first = located.substr(0, located.find_first_of(" \t"));
  if (kModuleStatements.contains(first)) {
    return "this kernel lacks the module for '" + first + "' used at " + where + " (" + msg + ")";
  }
  return std::nullopt;
}

LoadResult LoadRulesetFile(const std::string& path) { return LoadRulesetFile(path, {}); }

LoadResult LoadRulesetFile(const std::string& path, const LoadOptions& options) {
  auto checked = PrecheckRulesetFile(path, options.max_file_bytes);
  if (auto* bad = std::get_if<LoadResult>(&checked)) return std::move(*bad);
  Source src;
  src.display_name = path;
  src.text = std::move(std::get<PrecheckedFile>(checked).content);
  src.include_dir = Absolute(options.include_dir.empty() ? DirectoryOf(path) : options.include_dir);
  struct stat st {};
  // nft reads regular files itself; anything else (a pipe, /dev/stdin) was consumed by the
  // pre-check and goes in through a memfd.
  if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
    src.path = Absolute(path);
    return LoadInThrowawayNamespace(src, options);
  }
  return LoadThroughMemfd(std::move(src), options);
}

LoadResult LoadRulesetText(const std::string& text, const std::string& display_name) {
  return LoadRulesetText(text, display_name, {});
}

LoadResult LoadRulesetText(const std::string& text, const std::string& display_name,
                           const LoadOptions& options) {
  if (auto bad = PrecheckRulesetText(text, display_name, options.max_file_bytes)) {
    return std::move(*bad);
  }
  Source src;
  src.display_name = display_name;
  src.text = text;
  if (!options.include_dir.empty()) src.include_dir = Absolute(options.include_dir);
  return LoadThroughMemfd(std::move(src), options);
}

}  // namespace fwgate::nft
