// Progress on stderr for long runs (replay, fleet probe), in check's style ("fwgate check:
// stage ..."): shown only when stderr is a terminal and --quiet is not given, so pipes, files
// and CI logs stay clean. A line that continues the previous one's stage overwrites it.
// Thread-safety: Say may be called from any thread.
#pragma once

#include <chrono>
#include <mutex>
#include <string>

namespace fwgate::cli {

class Progress {
 public:
  Progress(std::string command, bool quiet);
  ~Progress();  // ends an overwritten line
  [[nodiscard]] bool enabled() const { return enabled_; }
  // "fwgate COMMAND: message". A message with the same text before its first ':' as the last
  // one (its stage) replaces it on the terminal.
  void Say(const std::string& message);

 private:
  std::string command_;
  bool enabled_ = false;
  std::mutex mu_;
  std::string last_stage_;
  bool open_line_ = false;
};

// "about 12 s left" from what is done and the time it took.
[[nodiscard]] std::string TimeLeft(size_t done, size_t total, std::chrono::milliseconds elapsed);

}  // namespace fwgate::cli
