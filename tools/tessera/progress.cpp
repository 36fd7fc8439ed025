#include "progress.h"

#include <unistd.h>

#include <cstdio>

namespace tessera::cli {

ProgressLine::ProgressLine(bool on, std::chrono::milliseconds quiet_for)
    : on_(on), tty_(on && ::isatty(STDERR_FILENO)), quiet_for_(quiet_for), start_(std::chrono::steady_clock::now()) {}

void ProgressLine::update(const std::string& what, uint64_t done, uint64_t total) {
  if (!on_ || total == 0) return;
  const int percent = int(100 * done / total);
  const auto now = std::chrono::steady_clock::now();
  if (what_.empty() && now - start_ < quiet_for_) return;
  if (tty_) {
    if (percent != 100 && what == what_ && now - last_ < std::chrono::milliseconds(100)) return;
    std::fprintf(stderr, "\r%s: %3d%% (%llu/%llu)\033[K", what.c_str(), percent, (unsigned long long)done,
                 (unsigned long long)total);
    if (done == total) std::fputc('\n', stderr);
  } else {
    const int quarter = percent / 25;
    if (what == what_ && quarter == quarter_) return;
    std::fprintf(stderr, "%s: %d%% (%llu/%llu)\n", what.c_str(), percent, (unsigned long long)done,
                 (unsigned long long)total);
    quarter_ = quarter;
  }
  what_ = what;
  last_ = now;
  std::fflush(stderr);
}

}  // namespace tessera::cli
