// Stable sorts along one axis (NaN last, like NumPy), partitions (implemented as full sorts,
// which satisfy the partition contract) and searchsorted. Rows split across threads.
#include <algorithm>
#include <numeric>
#include <vector>

#include "backend/common/axis_rows.h"
#include "backend/common/scan_sort_kernels.h"
#include "core/dispatch.h"
#include "core/thread_pool.h"
#include "primitives/sort.h"

namespace tessera {

namespace {

template <typename T>
using key_t = std::conditional_t<is_half_v<T>, float, T>;

// Strict weak order with NaN after every number.
template <typename K>
inline bool nan_last_less(K a, K b) {
  if constexpr (std::is_floating_point_v<K>) {
    if (b != b) return a == a;
    return a < b;
  } else {
    return a < b;
  }
}

template <typename T>
void sort_rows(const AxisRows& p, void* out_ptr, bool want_indices, const ElementwiseConfig& cfg) {
  using K = key_t<T>;
  const T* in = p.in.data<T>();
  int64_t n = p.len, st = p.inner;
  auto body = [&](int64_t r0, int64_t r1) {
    std::vector<K> keys(static_cast<size_t>(n));
    std::vector<uint32_t> idx(static_cast<size_t>(n));
    for (int64_t r = r0; r < r1; ++r) {
      int64_t b = p.base(r);
      for (int64_t j = 0; j < n; ++j) keys[size_t(j)] = K(in[b + j * st]);
      std::iota(idx.begin(), idx.end(), 0u);
      std::stable_sort(idx.begin(), idx.end(),
                       [&](uint32_t x, uint32_t y) { return nan_last_less<K>(keys[x], keys[y]); });
      if (want_indices) {
        auto* o = static_cast<uint32_t*>(out_ptr);
        for (int64_t j = 0; j < n; ++j) o[b + j * st] = idx[size_t(j)];
      } else {
        auto* o = static_cast<T*>(out_ptr);
        for (int64_t j = 0; j < n; ++j) o[b + j * st] = in[b + int64_t(idx[size_t(j)]) * st];
      }
    }
  };
  int64_t rows = p.rows();
  if (cfg.threads && rows > 1 && rows * n >= 4096) {
    parallel_for(rows, std::max<int64_t>(1, 4096 / std::max<int64_t>(n, 1)), body);
  } else {
    body(0, rows);
  }
}

}  // namespace

void sort_kernel(const Primitive& prim, const std::vector<array>& in, std::vector<array>& out,
                 const ElementwiseConfig& cfg) {
  auto& sp = static_cast<const SortLike&>(prim);
  bool want_indices = prim.kind() == PrimitiveKind::ArgSort || prim.kind() == PrimitiveKind::ArgPartition;
  array& o = out[0];
  o.set_data(allocator::malloc(o.nbytes()));
  if (o.size() == 0) return;
  AxisRows p = axis_rows(in[0], sp.axis(), cfg.threads);
  dispatch_all_types(in[0].dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (is_complex_v<T>) {
      throw std::invalid_argument(std::string("[") + prim.name() + "] complex64 is not supported");
    } else {
      sort_rows<T>(p, o.raw_data(), want_indices, cfg);
    }
  });
}

void search_sorted_kernel(const Primitive& prim, const std::vector<array>& in, std::vector<array>& out,
                          const ElementwiseConfig& cfg) {
  bool right = static_cast<const SearchSorted&>(prim).right();
  array& o = out[0];
  o.set_data(allocator::malloc(o.nbytes()));
  if (o.size() == 0) return;
  array a = row_contiguous(in[0], cfg.threads);
  array v = row_contiguous(in[1], cfg.threads);
  dispatch_all_types(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (is_complex_v<T>) {
      throw std::invalid_argument("[searchsorted] complex64 is not supported");
    } else {
      using K = key_t<T>;
      const T* ap = a.data<T>();
      const T* vp = v.data<T>();
      uint32_t* op = o.data<uint32_t>();
      int64_t n = int64_t(a.size());
      auto body = [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) {
          K x = K(vp[i]);
          int64_t lo = 0, hi = n;
          while (lo < hi) {
            int64_t mid = (lo + hi) / 2;
            K m = K(ap[mid]);
            bool go_right = right ? !nan_last_less<K>(x, m) : nan_last_less<K>(m, x);
            if (go_right) lo = mid + 1;
            else hi = mid;
          }
          op[i] = uint32_t(lo);
        }
      };
      int64_t nv = int64_t(v.size());
      if (cfg.threads && nv >= 8192) parallel_for(nv, 4096, body);
      else body(0, nv);
    }
  });
}

}  // namespace tessera
