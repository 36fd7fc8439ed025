// A per-thread free-list allocator for the small objects every op creates (graph nodes,
// primitives, buffer records). A 100-op graph creates and frees hundreds of them at once,
// which overflows malloc's per-thread cache; this keeps them on the fast path.
#pragma once

#include <cstddef>
#include <new>

namespace tessera::node_pool {

void* allocate(size_t bytes);
void deallocate(void* p, size_t bytes) noexcept;

// Standard allocator for std::allocate_shared.
template <typename T>
struct Allocator {
  using value_type = T;
  Allocator() = default;
  template <typename U>
  Allocator(const Allocator<U>&) noexcept {}
  T* allocate(size_t n) { return static_cast<T*>(node_pool::allocate(n * sizeof(T))); }
  void deallocate(T* p, size_t n) noexcept { node_pool::deallocate(p, n * sizeof(T)); }
  template <typename U>
  bool operator==(const Allocator<U>&) const noexcept {
    return true;
  }
  template <typename U>
  bool operator!=(const Allocator<U>&) const noexcept {
    return false;
  }
};

}  // namespace tessera::node_pool
