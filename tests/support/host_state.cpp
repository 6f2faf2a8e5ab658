#include "tests/support/host_state.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

namespace fwgate::testing {
namespace {

std::string ReadWhole(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return {};
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// /proc/PID/stat; false when the process is gone. comm may hold spaces and parentheses, so the
// fields are read after its last ')'.
bool ReadStat(pid_t pid, ProcessInfo* p) {
  std::string s = ReadWhole("/proc/" + std::to_string(pid) + "/stat");
  auto open = s.find('(');
  auto close = s.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return false;
  p->pid = pid;
  p->comm = s.substr(open + 1, close - open - 1);
  std::istringstream rest(s.substr(close + 1));
  std::string field;
  std::vector<std::string> f;  // f[0] is field 3 (state)
  while (rest >> field && f.size() < 20) f.push_back(field);
  if (f.size() < 20) return false;
  p->state = f[0].empty() ? '?' : f[0][0];
  p->ppid = static_cast<pid_t>(std::atoi(f[1].c_str()));
  p->pgid = static_cast<pid_t>(std::atoi(f[2].c_str()));
  p->start_time = std::strtoull(f[19].c_str(), nullptr, 10);
  return true;
}

}  // namespace

std::string CaptureStdout(std::vector<std::string> argv) {
  std::vector<char*> c;
  c.reserve(argv.size() + 1);
  for (auto& a : argv) c.push_back(a.data());
  c.push_back(nullptr);
  int p[2];
  if (pipe(p) != 0) return "";
  pid_t pid = fork();
  if (pid < 0) {
    close(p[0]);
    close(p[1]);
    return "";
  }
  if (pid == 0) {
    dup2(p[1], 1);
    close(p[0]);
    close(p[1]);
    execvp(c[0], c.data());
    _exit(127);
  }
  close(p[1]);
  std::string s;
  char buf[4096];
  ssize_t n;
  while ((n = read(p[0], buf, sizeof(buf))) > 0) s.append(buf, static_cast<size_t>(n));
  close(p[0]);
  waitpid(pid, nullptr, 0);
  return s;
}

HostState SnapshotHost() {
  HostState h;
  std::istringstream links(CaptureStdout({"ip", "-o", "link", "show"}));
  for (std::string line; std::getline(links, line);) {
    // "2: eth0@if5: <...>" -> "eth0"
    auto a = line.find(": ");
    if (a == std::string::npos) continue;
    auto b = line.find_first_of(":@", a + 2);
    if (b != std::string::npos) h.links.insert(line.substr(a + 2, b - a - 2));
  }
  std::istringstream netns(CaptureStdout({"ip", "netns", "list"}));
  for (std::string line; std::getline(netns, line);) {
    // "name (id: 3)" -> "name"
    auto sp = line.find(' ');
    if (!line.empty()) h.netns.insert(line.substr(0, sp));
  }
  h.ruleset = CaptureStdout({"nft", "list", "ruleset"});
  h.mounts = ReadWhole("/proc/self/mountinfo");
  std::error_code ec;
  const std::filesystem::path root = "/proc/sys/net/netfilter";
  for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    std::string name = it->path().lexically_relative(root).string();
    if (name == "nf_conntrack_count") continue;  // a counter the host's own traffic moves
    std::string value = ReadWhole(it->path().string());
    while (!value.empty() && value.back() == '\n') value.pop_back();
    h.sysctls[name] = value;
  }
  return h;
}

std::string DescribeHostChange(const HostState& before, const HostState& after) {
  std::string out;
  auto sets = [&](const char* what, const std::set<std::string>& b,
                  const std::set<std::string>& a) {
    for (const auto& x : a) {
      if (b.count(x) == 0) out += std::string("new ") + what + ": " + x + "\n";
    }
    for (const auto& x : b) {
      if (a.count(x) == 0) out += std::string("missing ") + what + ": " + x + "\n";
    }
  };
  sets("link", before.links, after.links);
  sets("named network namespace", before.netns, after.netns);
  if (before.ruleset != after.ruleset) {
    out += "host ruleset changed:\n--- before\n" + before.ruleset + "--- after\n" + after.ruleset;
  }
  if (before.mounts != after.mounts) out += "host mounts changed\n";
  for (const auto& [k, v] : after.sysctls) {
    auto it = before.sysctls.find(k);
    if (it == before.sysctls.end()) {
      out += "new sysctl " + k + "\n";
    } else if (it->second != v) {
      out += "sysctl " + k + " changed: " + it->second + " -> " + v + "\n";
    }
  }
  for (const auto& [k, v] : before.sysctls) {
    if (after.sysctls.count(k) == 0) out += "missing sysctl " + k + "\n";
  }
  return out;
}

std::vector<ProcessInfo> ListProcesses() {
  std::vector<ProcessInfo> out;
  DIR* d = opendir("/proc");
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0) continue;
    ProcessInfo p;
    if (ReadStat(pid, &p)) out.push_back(p);
  }
  closedir(d);
  return out;
}

std::vector<ProcessInfo> Descendants(const std::vector<ProcessInfo>& all, pid_t root) {
  std::set<pid_t> tree{root};
  std::vector<ProcessInfo> out;
  // Parents usually precede children in /proc order but not always (pid wrap): iterate until
  // nothing more joins.
  for (bool grew = true; grew;) {
    grew = false;
    for (const auto& p : all) {
      if (tree.count(p.pid) == 0 && tree.count(p.ppid) != 0) {
        tree.insert(p.pid);
        out.push_back(p);
        grew = true;
      }
    }
  }
  return out;
}

bool StillAlive(const ProcessInfo& p) {
  ProcessInfo now;
  if (!ReadStat(p.pid, &now)) return false;
  return now.start_time == p.start_time && now.state != 'Z';
}

std::vector<ProcessInfo> ProcessesWithEnv(const std::string& name, const std::string& value) {
  std::string entry = name + "=" + value;
  std::vector<ProcessInfo> out;
  for (const auto& p : ListProcesses()) {
    if (p.state == 'Z') continue;
    std::string env = ReadWhole("/proc/" + std::to_string(p.pid) + "/environ");
    size_t at = 0;
    while (at < env.size()) {
      size_t end = env.find('\0', at);
      if (end == std::string::npos) end = env.size();
      if (env.compare(at, end - at, entry) == 0) {
        out.push_back(p);
        break;
      }
      at = end + 1;
    }
  }
  return out;
}

std::vector<pid_t> FindProcesses(const std::string& needle) {
  std::vector<pid_t> out;
  DIR* d = opendir("/proc");
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0) continue;
    std::string cmd = ReadWhole("/proc/" + std::string(e->d_name) + "/cmdline");
    if (cmd.find(needle) != std::string::npos) out.push_back(pid);
  }
  closedir(d);
  return out;
}

std::vector<std::string> ListTree(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    out.push_back(it->path().lexically_relative(dir).string());
  }
  return out;
}

}  // namespace fwgate::testing
