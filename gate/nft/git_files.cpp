#include "gate/nft/git_files.h"

#include <fnmatch.h>
#include <limits.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "sys/spawn.h"

namespace fwgate::nft {
namespace {

namespace fs = std::filesystem;

constexpr std::chrono::milliseconds kGitTimeout{60000};

Result<sys::SpawnResult> Git(const std::string& toplevel, std::vector<std::string> args,
                             size_t max_output) {
  sys::SpawnOptions o;
  o.argv = {"git", "-C", toplevel};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.timeout = kGitTimeout;
  o.max_stdout = max_output;
  // The user's repository, read-only: no pager, no prompts, no hooks run by these commands.
  o.env = {"GIT_PAGER=cat", "GIT_TERMINAL_PROMPT=0", "LC_ALL=C"};
  auto r = sys::RunProcess(o);
  if (!r) return r.error();
  if (r->exec_failed) return Error::Unavailable("git is not installed: " + r->Describe());
  return r;
}

class GitTree final : public RulesetFiles {
 public:
  GitTree(std::string toplevel, std::string rev, std::string commit, std::set<std::string> paths)
      : top_(std::move(toplevel)),
        rev_(std::move(rev)),
        commit_(std::move(commit)),
        paths_(std::move(paths)) {}

  Result<std::string> Read(const std::string& path, size_t max_bytes) override {
    auto rel = Relative(path);
    if (!rel) return Error::BadInput("refusing to read " + path + ": outside the repository");
    if (!paths_.contains(*rel)) {
      return Error::BadInput("cannot open: not in " + rev_ + " (" + *rel + ")");
    }
    auto r = Git(top_, {"cat-file", "blob", commit_ + ":" + *rel}, max_bytes + 1);
    if (!r) return r.error();
    if (r->truncated || r->out.size() > max_bytes) {
      return Error::BadInput("too large (the limit is " + std::to_string(max_bytes) + " bytes)");
    }
    if (!r->ok()) return Error::BadInput("cannot read " + DisplayName(path) + ": " + r->Describe());
    return std::move(r->out);
  }

  bool Exists(const std::string& path) override {
    auto rel = Relative(path);
    return rel && paths_.contains(*rel);
  }

  std::vector<std::string> Glob(const std::string& pattern, size_t max) override {
    std::vector<std::string> out;
    auto rel = Relative(pattern);
    if (!rel) return out;
    for (const std::string& p : paths_) {
      if (out.size() >= max) break;
      if (fnmatch(rel->c_str(), p.c_str(), FNM_PATHNAME | FNM_PERIOD) == 0) {
        out.push_back(top_ + "/" + p);
      }
    }
    return out;  // std::set iterates sorted
  }

  std::string DisplayName(const std::string& path) const override {
    auto rel = Relative(path);
    return rel ? rev_ + ":" + *rel : path;
  }

 private:
  std::optional<std::string> Relative(const std::string& path) const {
    std::string p = fs::path(path).lexically_normal().string();
    if (p.size() <= top_.size() + 1 || p.compare(0, top_.size(), top_) != 0 ||
        p[top_.size()] != '/') {
      return std::nullopt;
    }
    return p.substr(top_.size() + 1);
  }

  std::string top_, rev_, commit_;
  std::set<std::string> paths_;  // every file of the revision's tree, relative
};

}  // namespace

Result<std::string> GitTopLevel(const std::string& path) {
  std::error_code ec;
  fs::path abs = fs::absolute(path, ec).lexically_normal();
  fs::path dir = fs::is_directory(abs, ec) ? abs : abs.parent_path();
  auto r = Git(dir.string(), {"rev-parse", "--show-toplevel"}, 1 << 16);
  if (!r) return r.error();
  if (!r->ok()) {
    return Error::BadInput(path +
                           " is not in a git work tree (--base needs one): " + r->Describe());
  }
  std::string top = r->out;
  while (!top.empty() && (top.back() == '\n' || top.back() == '\r')) top.pop_back();
  char buf[PATH_MAX];
  if (::realpath(top.c_str(), buf) != nullptr) top = buf;
  return top;
}

Result<std::unique_ptr<RulesetFiles>> GitRevisionFiles(const std::string& toplevel,
                                                       const std::string& rev) {
  if (rev.empty() || rev.front() == '-' || rev.find_first_of(" \t\n:") != std::string::npos) {
    return Error::BadInput("--base: '" + rev + "' is not a revision name");
  }
  auto commit = Git(toplevel, {"rev-parse", "--verify", "--quiet", rev + "^{commit}"}, 1 << 12);
  if (!commit) return commit.error();
  if (!commit->ok()) {
    return Error::BadInput("--base: '" + rev + "' names no commit in " + toplevel +
                           " (fetch it first, e.g. `git fetch origin main`)");
  }
  std::string id = commit->out;
  while (!id.empty() && (id.back() == '\n' || id.back() == '\r')) id.pop_back();
  auto tree = Git(toplevel, {"ls-tree", "-r", "-z", "--name-only", id}, size_t{64} << 20);
  if (!tree) return tree.error();
  if (!tree->ok()) return Error::Unavailable("listing " + rev + ": " + tree->Describe());
  std::set<std::string> paths;
  size_t start = 0;
  const std::string& out = tree->out;
  while (start < out.size()) {
    size_t nul = out.find('\0', start);
    if (nul == std::string::npos) nul = out.size();
    if (nul > start) paths.insert(out.substr(start, nul - start));
    start = nul + 1;
  }
  return std::unique_ptr<RulesetFiles>(
      std::make_unique<GitTree>(toplevel, rev, id, std::move(paths)));
}

}  // namespace fwgate::nft
