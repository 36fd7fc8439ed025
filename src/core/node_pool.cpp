#include "core/node_pool.h"

#include <cstdlib>

namespace tessera::node_pool {

namespace {

constexpr size_t kGranule = 16;
constexpr size_t kMaxBytes = 512;
constexpr size_t kClasses = kMaxBytes / kGranule;
constexpr size_t kMaxCached = 4096;  // blocks kept per size class and thread

struct FreeBlock {
  FreeBlock* next;
};

struct ThreadCache {
  FreeBlock* heads[kClasses] = {};
  size_t counts[kClasses] = {};
  ~ThreadCache() {
    for (size_t c = 0; c < kClasses; ++c) {
      while (heads[c]) {
        FreeBlock* b = heads[c];
        heads[c] = b->next;
        std::free(b);
      }
    }
  }
};

ThreadCache& cache() {
  thread_local ThreadCache c;
  return c;
}

size_t size_class(size_t bytes) { return (bytes + kGranule - 1) / kGranule - 1; }

}  // namespace

void* allocate(size_t bytes) {
  if (bytes == 0 || bytes > kMaxBytes) {
    void* p = std::malloc(bytes ? bytes : 1);
    if (!p) throw std::bad_alloc();
    return p;
  }
  size_t c = size_class(bytes);
  ThreadCache& tc = cache();
  if (FreeBlock* b = tc.heads[c]) {
    tc.heads[c] = b->next;
    --tc.counts[c];
    return b;
  }
  void* p = std::malloc((c + 1) * kGranule);
  if (!p) throw std::bad_alloc();
  return p;
}

void deallocate(void* p, size_t bytes) noexcept {
  if (!p) return;
  if (bytes == 0 || bytes > kMaxBytes) {
    std::free(p);
    return;
  }
  // Blocks freed on another thread join that thread's cache; all come from malloc, so any
  // thread may return them to it.
  size_t c = size_class(bytes);
  ThreadCache& tc = cache();
  if (tc.counts[c] >= kMaxCached) {
    std::free(p);
    return;
  }
  auto* b = static_cast<FreeBlock*>(p);
  b->next = tc.heads[c];
  tc.heads[c] = b;
  ++tc.counts[c];
}

}  // namespace tessera::node_pool
