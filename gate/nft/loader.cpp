#include "gate/nft/loader.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "gate/nft/input_format.h"
#include "gate/nft/nft_text.h"
#include "sys/fd.h"
#include "sys/netns.h"
#include "sys/nft_netlink.h"
#include "sys/rtnl.h"

namespace fwgate::nft {
namespace {

namespace fs = std::filesystem;

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

std::string Absolute(const std::string& path) {
  std::error_code ec;
  auto abs = fs::absolute(path, ec);
  return ec ? path : abs.lexically_normal().string();
}

std::string DirectoryOf(const std::string& path) {
  std::string parent = fs::path(Absolute(path)).parent_path().string();
  return parent.empty() ? "/" : parent;
}

bool IsPrivilegeError(const Diagnostic& d) {
  return d.message.find("Operation not permitted") != std::string::npos;
}

// The flat text in a memfd nft reads by name, so its diagnostics carry real line numbers.
struct Memfd {
  sys::UniqueFd fd;
  std::string path;  // /proc/self/fd/N, valid in a child given the same descriptor
};
Result<Memfd> HoldText(const std::string& text) {
  sys::UniqueFd fd(::memfd_create("fwgate-ruleset", MFD_CLOEXEC));
  if (!fd) return Error::FromErrno(errno, "holding the ruleset text in a memfd");
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
    if (n <= 0) return Error::FromErrno(errno, "holding the ruleset text in a memfd");
    done += static_cast<size_t>(n);
  }
  std::string path = "/proc/self/fd/" + std::to_string(fd.get());
  return Memfd{std::move(fd), std::move(path)};
}

// nft's diagnostics for the flat text, put back on the files and lines they came from.
std::vector<Diagnostic> MapDiagnostics(std::vector<Diagnostic> ds, const FlatText& flat,
                                       const std::string& memfd_path, const std::string& display) {
  for (Diagnostic& d : ds) {
    if (d.file == memfd_path || d.file == "<cmdline>" || d.file == display) {
      if (d.line > 0) {
        SourceLocation loc = flat.Map(d.line, d.column);
        if (loc.known()) {
          int shift = loc.column - d.column;
          d.file = loc.file;
          d.line = loc.line;
          d.column = loc.column;
          if (d.end_column > 0) d.end_column += shift;
          d.source_line = std::string(flat.Line(loc.file, loc.line));
        } else {
          d.file = display;
        }
      } else {
        d.file = display;
      }
    }
  }
  return ds;
}

// A load that failed before the kernel: one located diagnostic.
LoadResult InvalidAt(const SourceLocation& where, const std::string& message,
                     std::string_view source_line = {}) {
  LoadResult r;
  r.status = LoadStatus::kInvalid;
  Diagnostic d;
  d.file = where.file;
  d.line = where.line;
  d.column = where.column;
  d.message = "Error: " + message;
  d.source_line = std::string(source_line);
  r.reason = d.ToString();
  r.diagnostics.push_back(std::move(d));
  return r;
}

std::string NftLimitMessage(const std::string& limit_hit) {
  return "Error: ruleset too large or too complex: nft stopped at " + limit_hit +
         " (see --nft-memory-limit / --nft-time-limit)";
}

// libnftables' JSON errors carry no position ("internal:0:0-0: Error: Could not process rule"):
// the refused command is the one whose prefix of the document first fails a check-only run
// (a binary search, at most ~log2(commands) + 1 runs in the same throwaway namespace, where the
// failed load committed nothing). Its diagnostic points at that command's line and column.
std::optional<Diagnostic> LocateJsonFailure(const sys::NetnsHandle& ns, const FlatText& flat,
                                            const std::string& display,
                                            const sys::NftLimits& limits) {
  const std::string& text = flat.text;
  auto commands = NftJsonCommands(text);
  if (commands.empty()) return std::nullopt;
  std::string last_errors;
  auto fails = [&](size_t count) -> std::optional<bool> {
    sys::NftRequest req;
    req.text = NftJsonPrefix(text, commands, count);
    req.json_input = true;
    req.check_only = true;
    req.limits = limits;
    auto r = sys::RunNft(ns, req);
    if (!r || !r->limit_hit.empty()) return std::nullopt;
    if (!r->ok) last_errors = r->errors;
    return !r->ok;
  };
  size_t ok = 0, bad = commands.size();  // prefix(ok) passes, prefix(bad) fails
  auto whole = fails(bad);
  if (!whole || !*whole) return std::nullopt;
  std::string errors = last_errors;
  for (int runs = 0; bad - ok > 1 && runs < 64; ++runs) {
    size_t mid = ok + (bad - ok) / 2;
    auto f = fails(mid);
    if (!f) return std::nullopt;
    if (*f) {
      bad = mid;
      errors = last_errors;
    } else {
      ok = mid;
    }
  }
  const JsonCommandSpan& culprit = commands[bad - 1];
  auto ds = ParseNftErrors(errors, display);
  Diagnostic d =
      ds.empty() ? Diagnostic{display, 0, 0, "Error: nft refused this command"} : ds.front();
  d.file = display;
  d.line = culprit.line;
  d.column = culprit.column;
  std::string_view src = flat.Line(display, culprit.line);
  d.source_line = std::string(src);
  size_t end_on_line = src.size();
  d.end_column = static_cast<int>(std::min(
      end_on_line, static_cast<size_t>(culprit.column) - 1 + (culprit.end - culprit.begin)));
  return d;
}

// The rules of a ruleset loaded into a fresh namespace, in the order its transaction added them:
// tables by handle (the namespace numbers them as they are made), then each table's rules by
// handle. Shaped as nft's echo of the load, for LocateRules.
std::vector<EchoedRule> RulesInCommandOrder(const Ruleset& rs) {
  std::vector<const Table*> tables;
  tables.reserve(rs.tables.size());
  for (const auto& t : rs.tables) tables.push_back(&t);
  std::stable_sort(tables.begin(), tables.end(),
                   [](const Table* a, const Table* b) { return a->handle < b->handle; });
  std::vector<EchoedRule> out;
  for (const Table* t : tables) {
    size_t first = out.size();
    for (const auto& c : t->chains) {
      for (const auto& r : c.rules) out.push_back({t->family, t->name, c.name, r.handle});
    }
    std::stable_sort(out.begin() + static_cast<std::ptrdiff_t>(first), out.end(),
                     [](const EchoedRule& a, const EchoedRule& b) { return a.handle < b.handle; });
  }
  return out;
}

LoadResult LoadFlat(std::shared_ptr<const FlatText> flat, const std::string& display,
                    const LoadOptions& options,
                    sys::RulesetFormat format = sys::RulesetFormat::kNft) {
  LoadResult result;
  result.flat = flat;
  result.display_name = display;
  result.format = format;
  const bool nft_text = format == sys::RulesetFormat::kNft;
  const bool iptables =
      format == sys::RulesetFormat::kIptables || format == sys::RulesetFormat::kIp6tables;
  // iptables-nft matches interfaces by name (iifname): it needs no links.
  std::vector<std::string> wanted =
      nft_text   ? ScanInterfaceNames(flat->text, options.max_placeholders + 1)
      : iptables ? std::vector<std::string>{}
                 : JsonInterfaceNames(flat->text, options.max_placeholders + 1);
  auto memfd = HoldText(flat->text);
  if (!memfd) {
    result.status = LoadStatus::kUnsupported;
    result.reason = memfd.error().ToString();
    return result;
  }
  auto ns = sys::CreateAnonymous();
  if (!ns) {
    result.status = LoadStatus::kNoPrivilege;
    result.reason = ns.error().ToString() + " (needs root or CAP_SYS_ADMIN and CAP_NET_ADMIN)";
    return result;
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
        auto s = sys::RtnlSocket::OpenIn(*ns);
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
  auto ensure_tables = [&](const std::vector<std::string>& tables) {
    size_t created = 0;
    for (const auto& t : tables) {
      if (!tables_attempted.insert(t).second) continue;
      if (sys::ApplyNft(*ns, "add table " + t, "placeholder table").ok()) {
        result.placeholder_tables.push_back(t);
        ++created;
      }
    }
    return created;
  };

  sys::NftRequest req;
  req.path = memfd->path;
  req.pass_fds = {memfd->fd.get()};
  // Rules are located from nft's echo of nft text; JSON and iptables inputs are not located.
  const bool locate = nft_text && options.locate && options.dump && !options.outline_only;
  ScannedSource scanned;
  if (locate) scanned = ScanStatements(flat->text);
  // Rules are matched to their statements in command order. The kernel numbers a table's
  // objects in the order the transaction adds them (nf_tables_alloc_handle), so in this fresh
  // namespace a chain's rules sorted by handle are in command order and the dump alone places
  // them; nft's echo (which costs nft a listing of every rule) is needed only to tell apart
  // anonymous chains (`jump { ... }`), which the echo names in file order.
  const bool order_from_handles =
      std::none_of(scanned.rules.begin(), scanned.rules.end(),
                   [](const ScannedStatement& st) { return st.anonymous >= 0; });
  req.echo = locate && !order_from_handles;
  req.check_only = !options.dump && !iptables;
  req.json_input = format == sys::RulesetFormat::kNftJson;
  req.limits = options.nft;
  sys::NftResult run;
  for (int round = 0; round < std::max(1, options.max_rounds); ++round) {
    if (iptables) {
      // The kernel is the parser here too: iptables-nft-restore runs inside the namespace.
      auto r = sys::RunIptablesRestore(*ns, flat->text, format == sys::RulesetFormat::kIp6tables,
                                       options.nft);
      if (!r) {
        result.status = LoadStatus::kUnsupported;
        result.reason = r.error().ToString();
        return result;
      }
      run = {};
      run.ok = r->ok;
      run.errors = r->errors;
      run.limit_hit = r->limit_hit;
    } else {
      auto r = sys::RunNft(*ns, req);
      if (!r) {
        result.status = LoadStatus::kUnsupported;
        result.reason = r.error().ToString();
        return result;
      }
      run = std::move(*r);
    }
    if (!run.limit_hit.empty()) {
      result.status = LoadStatus::kInvalid;
      Diagnostic d{display, 0, 0,
                   iptables ? "Error: iptables-nft-restore stopped at " + run.limit_hit
                            : NftLimitMessage(run.limit_hit)};
      result.reason = d.ToString();
      result.diagnostics.push_back(std::move(d));
      return result;
    }
    if (iptables) {
      result.diagnostics = run.ok ? std::vector<Diagnostic>{}
                                  : ParseIptablesRestoreErrors(run.errors, flat->text, display);
      break;  // iptables-nft needs no placeholders
    }
    result.diagnostics =
        MapDiagnostics(ParseNftErrors(run.errors, display), *flat, memfd->path, display);
    if (run.ok) break;
    size_t progress = ensure(MissingInterfacesFromDiagnostics(result.diagnostics)) +
                      ensure_tables(MissingTablesFromDiagnostics(result.diagnostics));
    if (progress == 0) break;
  }
  if (run.ok) {
    result.status = LoadStatus::kOk;
    if (!options.dump) return result;
    Result<Ruleset> dumped = Error::Internal("the dump did not run");
    sys::DumpOptions dump_options;
    dump_options.outline_only = options.outline_only;
    if (auto st = sys::RunInNetns(*ns, [&] { dumped = sys::DumpRuleset(dump_options); }); !st) {
      dumped = st.error();
    }
    if (!dumped) {
      result.status = LoadStatus::kUnsupported;
      result.reason =
          "nft accepted the file but dumping it back failed: " + dumped.error().ToString();
      return result;
    }
    result.ruleset = std::move(*dumped);
    if (locate) {
      result.sources =
          LocateRules(req.echo ? ParseEchoedRules(run.output) : RulesInCommandOrder(result.ruleset),
                      scanned, [&](int line, int col) { return flat->Map(line, col); });
    }
    return result;
  }
  if (format == sys::RulesetFormat::kNftJson && !result.diagnostics.empty() &&
      std::none_of(result.diagnostics.begin(), result.diagnostics.end(),
                   [](const Diagnostic& d) { return d.line > 0; })) {
    if (auto located = LocateJsonFailure(*ns, *flat, display, options.nft)) {
      result.diagnostics = {std::move(*located)};
    }
  }
  for (const auto& d : result.diagnostics) {
    if (IsPrivilegeError(d)) {
      result.status = LoadStatus::kNoPrivilege;
      result.reason = "the kernel refused: " + d.ToString();
      return result;
    }
  }
  if (over_limit) {
    result.status = LoadStatus::kUnsupported;
    result.reason = "the ruleset names more than " + std::to_string(options.max_placeholders) +
                    " interfaces, the placeholder limit (--max-placeholders)";
    return result;
  }
  for (const auto& d : result.diagnostics) {
    if (auto why = UnsupportedReason(d)) {
      result.status = LoadStatus::kUnsupported;
      result.reason = *why;
      return result;
    }
  }
  result.status = LoadStatus::kInvalid;
  if (result.diagnostics.empty()) {
    result.diagnostics.push_back({display, 0, 0, "Error: nft failed without a message"});
  }
  size_t n = result.diagnostics.size();
  result.reason = result.diagnostics.front().ToString();
  if (n > 1) result.reason += " (and " + std::to_string(n - 1) + " more)";
  if (!link_error.empty()) {
    result.reason += "; could not create a placeholder interface: " + link_error;
  }
  return result;
}

// Content checks on every file of a flat text (the root must also hold statements).
std::optional<LoadResult> CheckContents(const FlatText& flat, size_t max_bytes) {
  for (size_t i = 0; i < flat.files.size(); ++i) {
    const auto& f = flat.files[i];
    auto bad = PrecheckRulesetText(f.content, f.display, max_bytes);
    if (bad && (i == 0 || bad->reason.find("nothing to validate") == std::string::npos)) {
      return bad;
    }
  }
  return std::nullopt;
}

LoadResult LoadResolved(RulesetFiles& files, const std::string& path, const std::string& display,
                        const LoadOptions& options, std::optional<std::string> content) {
  FlattenOptions fo;
  fo.include_dirs = options.include_dirs;
  fo.max_total_bytes = options.max_file_bytes;
  auto flat = Flatten(files, path, fo, std::move(content));
  if (auto* err = std::get_if<FlattenError>(&flat)) {
    SourceLocation where = err->where;
    if (where.file.empty()) where.file = display;
    if (where.line <= 0) {
      LoadResult r = InvalidFile(where.file, err->message);
      return r;
    }
    return InvalidAt(where, err->message);
  }
  auto text = std::make_shared<FlatText>(std::move(std::get<FlatText>(flat)));
  if (!text->files.empty()) text->files[0].display = display;
  for (auto& p : text->pieces) (void)p;
  if (auto bad = CheckContents(*text, options.max_file_bytes)) return std::move(*bad);
  LoadResult r = LoadFlat(text, display, options);
  for (const auto& u : text->unmatched) {
    Diagnostic d{u.where.file, u.where.line, u.where.column,
                 "Warning: include \"" + u.path + "\" matched no file" +
                     (u.path.front() == '/' ? " (a directory of the node? map it onto a local "
                                              "folder with --include-dir " +
                                                  u.path.substr(0, u.path.rfind('/')) + "=DIR)"
                                            : "")};
    d.source_line = std::string(text->Line(u.where.file, u.where.line));
    r.diagnostics.insert(r.diagnostics.begin(), std::move(d));
  }
  return r;
}

// A JSON or iptables-restore input: loaded as it is (no includes), after its own syntax checks.
LoadResult LoadForeign(std::string content, const std::string& display, sys::RulesetFormat format,
                       const LoadOptions& options);

// The result for content that is not nft text (another format, or one fwgate does not read);
// nullopt for nft text, which the caller flattens and loads.
std::optional<LoadResult> LoadOtherFormat(std::string& content, const std::string& display,
                                          const LoadOptions& options) {
  if (auto why = UnsupportedInputReason(content)) {
    return InvalidAt({display, 1, 1}, *why, content.substr(0, content.find('\n')));
  }
  auto f = DetectRulesetFormat(content);
  if (f == sys::RulesetFormat::kNft) return std::nullopt;
  return LoadForeign(std::move(content), display, f, options);
}

LoadResult LoadForeign(std::string content, const std::string& display, sys::RulesetFormat format,
                       const LoadOptions& options) {
  if (format == sys::RulesetFormat::kNftJson) {
    if (auto d = CheckNftJson(content, display)) {
      LoadResult r;
      r.status = LoadStatus::kInvalid;
      r.format = format;
      r.reason = d->ToString();
      r.diagnostics.push_back(std::move(*d));
      return r;
    }
  }
  auto flat = std::make_shared<FlatText>(FlatTextOf(std::move(content), display));
  return LoadFlat(flat, display, options, format);
}

}  // namespace

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

std::string DefaultIncludeRoot(const std::string& path) {
  std::string dir = DirectoryOf(path);
  // The git work tree the file is in (a firewall repo), found by walking up for .git.
  for (fs::path p = dir; !p.empty(); p = p.parent_path()) {
    std::error_code ec;
    if (fs::exists(p / ".git", ec)) return p.string();
    if (p == p.root_path()) break;
  }
  return dir;
}

LoadResult LoadRulesetFile(const std::string& path) { return LoadRulesetFile(path, {}); }

LoadResult LoadRulesetFile(const std::string& path, const LoadOptions& options) {
  if (options.files != nullptr) {
    // A tree other than the disk (a git revision): the root comes from it too.
    std::string abs = Absolute(path);
    std::string display = options.files->DisplayName(abs);
    auto content = options.files->Read(abs, options.max_file_bytes);
    if (!content) return InvalidFile(display, content.error().context);
    if (auto bad = PrecheckRulesetText(*content, display, options.max_file_bytes)) {
      return std::move(*bad);
    }
    if (auto other = LoadOtherFormat(*content, display, options)) return std::move(*other);
    return LoadResolved(*options.files, abs, display, options, std::move(*content));
  }
  // The root file's own checks first, with the messages users know ("cannot open", ...).
  auto checked = PrecheckRulesetFile(path, options.max_file_bytes);
  if (auto* bad = std::get_if<LoadResult>(&checked)) return std::move(*bad);
  std::string content = std::move(std::get<PrecheckedFile>(checked).content);
  if (auto other = LoadOtherFormat(content, path, options)) return std::move(*other);
  std::vector<std::string> roots = {DefaultIncludeRoot(path), DirectoryOf(path)};
  for (const auto& d : options.include_dirs) roots.push_back(d.dir);
  auto files = DiskFiles(roots);
  return LoadResolved(*files, path, path, options, std::move(content));
}

std::vector<LoadResult> LoadRulesetFiles(const std::vector<std::string>& paths,
                                         const LoadOptions& options, size_t parallel) {
  std::vector<LoadResult> results(paths.size());
  if (parallel == 0) parallel = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 8);
  parallel = std::min(parallel, paths.size());
  if (parallel <= 1) {
    for (size_t i = 0; i < paths.size(); ++i) results[i] = LoadRulesetFile(paths[i], options);
    return results;
  }
  // Each load spends most of its time in its own nft child and kernel namespace: a few
  // workers take the next file until none is left.
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < paths.size(); i = next++) {
      results[i] = LoadRulesetFile(paths[i], options);
    }
  };
  std::vector<std::thread> workers;
  workers.reserve(parallel - 1);
  for (size_t w = 1; w < parallel; ++w) workers.emplace_back(work);
  work();
  for (auto& t : workers) t.join();
  return results;
}

LoadResult LoadRulesetText(const std::string& text, const std::string& display_name) {
  return LoadRulesetText(text, display_name, {});
}

LoadResult LoadRulesetText(const std::string& text, const std::string& display_name,
                           const LoadOptions& options) {
  if (auto bad = PrecheckRulesetText(text, display_name, options.max_file_bytes)) {
    return std::move(*bad);
  }
  std::string copy = text;
  if (auto other = LoadOtherFormat(copy, display_name, options)) return std::move(*other);
  std::error_code ec;
  std::string cwd = fs::current_path(ec).string();
  std::string root = (fs::path(cwd) / "fwgate-text.nft").string();
  if (options.files != nullptr) {
    LoadResult r = LoadResolved(*options.files, root, display_name, options, text);
    return r;
  }
  std::vector<std::string> roots = {cwd};
  for (const auto& d : options.include_dirs) roots.push_back(d.dir);
  auto files = DiskFiles(roots);
  return LoadResolved(*files, root, display_name, options, text);
}

Status CreatePlaceholders(const sys::NetnsHandle& ns, const LoadResult& loaded) {
  if (!loaded.placeholder_interfaces.empty()) {
    auto rtnl = sys::RtnlSocket::OpenIn(ns);
    if (!rtnl) return rtnl.error();
    for (const auto& name : loaded.placeholder_interfaces) {
      if (rtnl->IndexOf(name).ok()) continue;
      if (auto st = rtnl->CreatePlaceholder(name); !st) {
        return st.error().Wrap("placeholder interface " + name);
      }
    }
  }
  for (const auto& t : loaded.placeholder_tables) {
    if (auto st = sys::ApplyNft(ns, "add table " + t, "placeholder table " + t); !st) return st;
  }
  return OkStatus();
}

Status LoadIntoNamespace(const sys::NetnsHandle& ns, const LoadResult& loaded,
                         const sys::NftLimits& limits) {
  if (loaded.status != LoadStatus::kOk || !loaded.flat) {
    return Error::Internal("LoadIntoNamespace needs a ruleset that loaded");
  }
  if (auto st = CreatePlaceholders(ns, loaded); !st) return st;
  if (loaded.format != sys::RulesetFormat::kNft) {
    return sys::ApplyRulesetText(ns, loaded.format, loaded.flat->text,
                                 "loading " + loaded.display_name, limits);
  }
  auto memfd = HoldText(loaded.flat->text);
  if (!memfd) return memfd.error();
  sys::NftRequest req;
  req.path = memfd->path;
  req.pass_fds = {memfd->fd.get()};
  req.limits = limits;
  auto r = sys::RunNft(ns, req);
  if (!r) return r.error().Wrap("loading " + loaded.display_name);
  if (!r->limit_hit.empty()) {
    return Error::Unavailable("loading " + loaded.display_name + ": nft stopped at " +
                              r->limit_hit);
  }
  if (!r->ok) {
    auto ds = MapDiagnostics(ParseNftErrors(r->errors, loaded.display_name), *loaded.flat,
                             memfd->path, loaded.display_name);
    std::string msg = ds.empty() ? r->errors : ds.front().ToString();
    return Error::Unavailable("loading " + loaded.display_name + ": " + msg);
  }
  return OkStatus();
}

}  // namespace fwgate::nft
