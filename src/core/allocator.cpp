#include "core/allocator.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "tessera/memory.h"

namespace tessera {
namespace allocator {
namespace {

constexpr size_t kAlign = 64;
constexpr size_t kHugeAlign = size_t(2) << 20;

size_t total_ram() {
  long pages = sysconf(_SC_PHYS_PAGES);
  long page = sysconf(_SC_PAGE_SIZE);
  return (pages > 0 && page > 0) ? size_t(pages) * size_t(page) : (size_t(8) << 30);
}

class CachingAllocator {
 public:
  CachingAllocator() : memory_limit_(total_ram()), cache_limit_(total_ram() / 4) {}

  // Each buffer is preceded by a kAlign-byte header holding its size class, so free() needs no
  // lookup table.
  void* allocate(size_t requested) {
    size_t size = allocation_size(requested);
    std::unique_lock<std::mutex> lock(mu_);
    auto it = cache_.find(size);
    if (it != cache_.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      cache_bytes_ -= size;
      note_alloc(size);
      return static_cast<char*>(p) + kAlign;
    }
    if (active_ + size > memory_limit_ || active_ + cache_bytes_ + size > memory_limit_) {
      release_cache_locked(cache_bytes_);
    }
    lock.unlock();
    void* p = nullptr;
    size_t align = size >= kHugeAlign ? kHugeAlign : kAlign;
    if (posix_memalign(&p, align, size + kAlign) != 0 || p == nullptr) {
      lock.lock();
      release_cache_locked(cache_bytes_);
      lock.unlock();
      if (posix_memalign(&p, align, size + kAlign) != 0 || p == nullptr) {
        throw std::runtime_error("[malloc] Unable to allocate " + std::to_string(requested) + " bytes.");
      }
    }
#ifdef MADV_HUGEPAGE
    if (size >= kHugeAlign) madvise(p, size + kAlign, MADV_HUGEPAGE);
#endif
    *static_cast<size_t*>(p) = size;
    lock.lock();
    note_alloc(size);
    return static_cast<char*>(p) + kAlign;
  }

  void release(void* user) {
    if (!user) return;
    void* p = static_cast<char*>(user) - kAlign;
    size_t size = *static_cast<size_t*>(p);
    std::lock_guard<std::mutex> lock(mu_);
    active_ -= size;
    if (cache_bytes_ + size <= cache_limit_) {
      cache_[size].push_back(p);
      cache_bytes_ += size;
    } else {
      ::free(p);
    }
  }

  size_t active() {
    std::lock_guard<std::mutex> l(mu_);
    return active_;
  }
  size_t peak() {
    std::lock_guard<std::mutex> l(mu_);
    return peak_;
  }
  void reset_peak() {
    std::lock_guard<std::mutex> l(mu_);
    peak_ = active_;
  }
  size_t cache() {
    std::lock_guard<std::mutex> l(mu_);
    return cache_bytes_;
  }
  size_t set_memory_limit(size_t v) {
    std::lock_guard<std::mutex> l(mu_);
    std::swap(v, memory_limit_);
    return v;
  }
  size_t memory_limit() {
    std::lock_guard<std::mutex> l(mu_);
    return memory_limit_;
  }
  size_t set_cache_limit(size_t v) {
    std::lock_guard<std::mutex> l(mu_);
    std::swap(v, cache_limit_);
    if (cache_bytes_ > cache_limit_) release_cache_locked(cache_bytes_ - cache_limit_);
    return v;
  }
  void clear() {
    std::lock_guard<std::mutex> l(mu_);
    release_cache_locked(cache_bytes_);
  }

 private:
  void note_alloc(size_t size) {
    active_ += size;
    if (active_ > peak_) peak_ = active_;
  }

  // Frees cached buffers, largest first, until `bytes` have been released.
  void release_cache_locked(size_t bytes) {
    size_t freed = 0;
    for (auto it = cache_.rbegin(); it != cache_.rend() && freed < bytes; ++it) {
      auto& v = it->second;
      while (!v.empty() && freed < bytes) {
        ::free(v.back());
        v.pop_back();
        freed += it->first;
        cache_bytes_ -= it->first;
      }
    }
  }

  std::mutex mu_;
  std::map<size_t, std::vector<void*>> cache_;
  size_t active_ = 0;
  size_t peak_ = 0;
  size_t cache_bytes_ = 0;
  size_t memory_limit_;
  size_t cache_limit_;
};

CachingAllocator& instance() {
  // Never destroyed: buffers may be released by static arrays after main returns.
  static CachingAllocator* a = new CachingAllocator();
  return *a;
}

}  // namespace

size_t allocation_size(size_t requested) {
  if (requested == 0) requested = 1;
  if (requested <= 4096) {
    size_t s = kAlign;
    while (s < requested) s <<= 1;
    return s;
  }
  // Larger buffers: round to 1/8 of the next power of two, so reuse wastes at most 12.5%.
  size_t p = 1;
  while ((p << 1) <= requested) p <<= 1;
  size_t step = p / 8;
  return (requested + step - 1) / step * step;
}

Buffer malloc(size_t size) { return Buffer(instance().allocate(size)); }

void free(Buffer buffer) { instance().release(buffer.raw_ptr()); }

}  // namespace allocator

size_t get_active_memory() { return allocator::instance().active(); }
size_t get_peak_memory() { return allocator::instance().peak(); }
void reset_peak_memory() { allocator::instance().reset_peak(); }
size_t get_cache_memory() { return allocator::instance().cache(); }
size_t set_memory_limit(size_t limit) { return allocator::instance().set_memory_limit(limit); }
size_t get_memory_limit() { return allocator::instance().memory_limit(); }
size_t set_cache_limit(size_t limit) { return allocator::instance().set_cache_limit(limit); }
size_t set_wired_limit(size_t limit) {
  // CPU memory is not wired; accepted for API compatibility.
  (void)limit;
  return 0;
}
void clear_cache() { allocator::instance().clear(); }

}  // namespace tessera
