// Shared by the fuzz targets: each input is written to a per-process temporary file with the
// loader's extension, the loader runs, and every byte of what it returns is read (so ASan sees
// any buffer that is shorter than its shape claims). Loader errors are expected; crashes are not.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "tessera/io.h"
#include "tessera/tessera.h"

namespace fuzz {

// Removed when the fuzzer exits normally (libFuzzer calls exit() at -max_total_time).
struct TempFile {
  std::string path;
  ~TempFile() { unlink(path.c_str()); }
};

inline const std::string& temp_path(const char* ext) {
  static const TempFile file{[&] {
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir && *dir ? dir : "/tmp") + "/tessera-fuzz-" + std::to_string(getpid()) + ext;
  }()};
  return file.path;
}

inline bool write_input(const std::string& path, const uint8_t* data, size_t size) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  bool ok = std::fwrite(data, 1, size, f) == size;
  return std::fclose(f) == 0 && ok;
}

// Reads every element through a dense copy, and the raw view as well.
inline void touch(const tessera::array& a) {
  volatile uint8_t sink = 0;
  if (a.size() == 0) return;
  const uint8_t* p = static_cast<const uint8_t*>(a.raw_data());
  // Row- and column-contiguous arrays cover [p, p + nbytes); read that range directly.
  if (a.flags().contiguous) {
    for (size_t i = 0; i < a.nbytes(); ++i) sink = sink + p[i];
  }
  tessera::array c = tessera::contiguous(a);
  c.eval();
  const uint8_t* q = c.data<uint8_t>();
  for (size_t i = 0; i < c.nbytes(); ++i) sink = sink + q[i];
  (void)sink;
}

}  // namespace fuzz
