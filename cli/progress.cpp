#include "cli/progress.h"

#include <unistd.h>

#include <iostream>

namespace fwgate::cli {

Progress::Progress(std::string command, bool quiet)
    : command_(std::move(command)), enabled_(!quiet && isatty(STDERR_FILENO) == 1) {}

Progress::~Progress() {
  if (open_line_) std::cerr << "\n" << std::flush;
}

void Progress::Say(const std::string& message) {
  if (!enabled_) return;
  std::lock_guard<std::mutex> lock(mu_);
  std::string stage = message.substr(0, message.find(':'));
  // \r and erase-line: the terminal shows the newest state of a stage on one line.
  if (open_line_ && stage == last_stage_) {
    std::cerr << "\r\033[K";
  } else if (open_line_) {
    std::cerr << "\n";
  }
  std::cerr << "fwgate " << command_ << ": " << message << std::flush;
  open_line_ = true;
  last_stage_ = stage;
}

std::string TimeLeft(size_t done, size_t total, std::chrono::milliseconds elapsed) {
  if (done == 0 || done >= total) return done >= total ? "done" : "estimating time left";
  auto left = elapsed.count() * static_cast<long long>(total - done) / static_cast<long long>(done);
  return "about " + std::to_string((left + 999) / 1000) + " s left";
}

}  // namespace fwgate::cli
