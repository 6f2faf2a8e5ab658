#include "tests/support/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

extern char** environ;

namespace fwgate::testing {

ProcessResult RunProcess(std::vector<std::string> args, const std::string& cwd) {
  ProcessResult r;
  if (args.empty()) return r;
  int out[2];
  int err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return r;
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    return r;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&fa, err[1], STDERR_FILENO);
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(out[1]);
  ::close(err[1]);
  if (rc == 0) {
    pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    int open = 2;
    while (open > 0 && ::poll(fds, 2, -1) > 0) {
      for (int i = 0; i < 2; ++i) {
        if (fds[i].fd < 0 || fds[i].revents == 0) continue;
        char buf[8192];
        ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
        if (n <= 0) {
          fds[i].fd = -1;
          --open;
        } else {
          (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(n));
        }
      }
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  } else {
    r.err = "posix_spawn " + args[0] + ": " + std::strerror(rc);
  }
  ::close(out[0]);
  ::close(err[0]);
  return r;
}

ProcessResult RunFwgate(std::vector<std::string> args, const std::string& cwd) {
  args.insert(args.begin(), FWGATE_BINARY);
  return RunProcess(std::move(args), cwd);
}

std::string GitProgram() {
  for (const char* p : {"/usr/bin/git", "/bin/git"}) {
    if (std::filesystem::exists(p)) return p;
  }
  return "";
}

ProcessResult RunGit(const std::string& repo, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {GitProgram(),
                                   "-c",
                                   "user.name=fwgate test",
                                   "-c",
                                   "user.email=test@fwgate.invalid",
                                   "-c",
                                   "commit.gpgsign=false"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProcess(std::move(argv), repo);
}

}  // namespace fwgate::testing
