#include "backend/cpu/thread_scratch.h"

#include <cstdlib>
#include <memory>

namespace tessera {

void* thread_scratch(size_t bytes) {
  struct Free {
    void operator()(void* p) const { std::free(p); }
  };
  thread_local std::unique_ptr<void, Free> buf;
  thread_local size_t have = 0;
  if (bytes > have) {
    buf.reset();
    size_t n = (bytes + 4095) & ~size_t(4095);
    buf.reset(std::aligned_alloc(64, n));
    have = buf ? n : 0;
  }
  return buf.get();
}

}  // namespace tessera
