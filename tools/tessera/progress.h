// Progress of long work on stderr, shared by the subcommands: one line rewritten in place on a
// terminal (at most ten times a second), a line per quarter otherwise (logs stay short).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace tessera::cli {

class ProgressLine {
 public:
  // on=false prints nothing. Work that ends within `quiet_for` prints nothing either.
  explicit ProgressLine(bool on, std::chrono::milliseconds quiet_for = std::chrono::milliseconds(0));
  // `done` of `total` units of the stage `what`.
  void update(const std::string& what, uint64_t done, uint64_t total);

 private:
  bool on_, tty_;
  std::chrono::milliseconds quiet_for_;
  std::string what_;
  int quarter_ = -1;
  std::chrono::steady_clock::time_point start_, last_{};
};

}  // namespace tessera::cli
