#include "backend/common/layout.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "core/dispatch.h"
#include "core/thread_pool.h"

namespace tessera {

Strides row_strides(const Shape& shape) {
  Strides s(shape.size(), 1);
  for (int i = int(shape.size()) - 2; i >= 0; --i) s[i] = s[i + 1] * std::max<int64_t>(shape[i + 1], 1);
  return s;
}

Layout layout_of(const Shape& shape, const Strides& strides) {
  size_t size = 1;
  for (auto d : shape) size *= size_t(d);
  Layout l{{true, true, true}, size};
  if (size == 0) return l;
  // Row-major check ignoring size-1 dims.
  int64_t expect = 1;
  bool row = true;
  for (int i = int(shape.size()) - 1; i >= 0; --i) {
    if (shape[i] == 1) continue;
    if (strides[i] != expect) row = false;
    expect *= shape[i];
  }
  expect = 1;
  bool col = true;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 1) continue;
    if (strides[i] != expect) col = false;
    expect *= shape[i];
  }
  // Dense in some order: sorted |strides| form a row-major chain.
  bool dense = row || col;
  if (!dense) {
    // On the stack for the ranks real programs use (views of 4-d KV caches, attention heads).
    constexpr size_t kStack = 16;
    std::pair<int64_t, int64_t> stack_dims[kStack];
    std::vector<std::pair<int64_t, int64_t>> heap_dims;
    if (shape.size() > kStack) heap_dims.resize(shape.size());
    auto* dims = shape.size() > kStack ? heap_dims.data() : stack_dims;
    size_t n = 0;
    for (size_t i = 0; i < shape.size(); ++i) {
      if (shape[i] != 1) dims[n++] = {strides[i], shape[i]};
    }
    std::sort(dims, dims + n);
    int64_t e = 1;
    dense = true;
    for (size_t i = 0; i < n; ++i) {
      if (dims[i].first != e) dense = false;
      e *= dims[i].second;
    }
  }
  l.flags.row_contiguous = row;
  l.flags.col_contiguous = col;
  l.flags.contiguous = dense;
  // Span of the view (only meaningful for non-negative strides).
  int64_t span = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] > 1) span += std::abs(strides[i]) * (shape[i] - 1);
  }
  l.data_size = dense ? size : size_t(span);
  return l;
}

void collapse_dims(Shape& shape, std::vector<Strides>& strides) {
  // In place: dims are written at w <= i, so nothing is read after it is overwritten, and the
  // vectors only shrink (no allocation).
  size_t w = 0;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 1) continue;
    if (w > 0) {
      bool mergeable = true;
      for (auto& st : strides) {
        if (st[w - 1] != st[i] * shape[i]) {
          mergeable = false;
          break;
        }
      }
      if (mergeable) {
        shape[w - 1] *= shape[i];
        for (auto& st : strides) st[w - 1] = st[i];
        continue;
      }
    }
    shape[w] = shape[i];
    for (auto& st : strides) st[w] = st[i];
    ++w;
  }
  if (w == 0) {
    shape.assign(1, 1);
    for (auto& st : strides) st.assign(1, 1);
    return;
  }
  shape.resize(w);
  for (auto& st : strides) st.resize(w);
}

int64_t num_rows(const Shape& shape) {
  int64_t r = 1;
  for (size_t i = 0; i + 1 < shape.size(); ++i) r *= shape[i];
  return shape.empty() ? 1 : r;
}

void for_each_row(const Shape& shape, const std::vector<Strides>& strides, int64_t row_begin, int64_t row_end,
                  RowFn fn) {
  const int nd = int(shape.size());
  const size_t nops = strides.size();
  int64_t inner = nd == 0 ? 1 : shape[nd - 1];
  // The odometer on the stack unless the iteration is unusually deep or wide.
  constexpr size_t kStack = 16;
  int64_t stack_idx[kStack] = {}, stack_off[kStack] = {};
  std::vector<int64_t> heap_idx, heap_off;
  int64_t* idx = stack_idx;
  int64_t* off = stack_off;
  if (size_t(std::max(nd - 1, 0)) > kStack) {
    heap_idx.assign(size_t(nd - 1), 0);
    idx = heap_idx.data();
  }
  if (nops > kStack) {
    heap_off.assign(nops, 0);
    off = heap_off.data();
  }
  // Position the odometer at row_begin.
  int64_t r = row_begin;
  for (int d = nd - 2; d >= 0; --d) {
    idx[d] = r % shape[d];
    r /= shape[d];
    for (size_t k = 0; k < nops; ++k) off[k] += idx[d] * strides[k][d];
  }
  for (int64_t row = row_begin; row < row_end; ++row) {
    fn(off, inner);
    for (int d = nd - 2; d >= 0; --d) {
      if (++idx[d] < shape[d]) {
        for (size_t k = 0; k < nops; ++k) off[k] += strides[k][d];
        break;
      }
      for (size_t k = 0; k < nops; ++k) off[k] -= (shape[d] - 1) * strides[k][d];
      idx[d] = 0;
    }
  }
}

namespace {

template <typename U>
void copy_rows(const U* src, U* dst, const Shape& shape, const std::vector<Strides>& st, int64_t r0, int64_t r1) {
  int64_t ss = st[0].back(), ds = st[1].back();
  for_each_row(shape, st, r0, r1, [&](const int64_t* off, int64_t n) {
    const U* s = src + off[0];
    U* d = dst + off[1];
    if (ss == 1 && ds == 1) {
      std::memcpy(d, s, size_t(n) * sizeof(U));
    } else {
      for (int64_t i = 0; i < n; ++i) d[i * ds] = s[i * ss];
    }
  });
}

}  // namespace

void copy_strided(const array& src, void* dst, const Strides& dst_strides, bool parallel) {
  if (src.size() == 0) return;
  // Scratch that keeps its capacity: a decode step copies tokens into KV caches dozens of
  // times, and four small allocations per copy showed up next to the copy itself.
  thread_local Shape scratch_shape;
  thread_local std::vector<Strides> scratch_strides(2);
  // Named references: the worker threads below must see this thread's scratch, not their own.
  Shape& shape = scratch_shape;
  std::vector<Strides>& st = scratch_strides;
  shape = src.shape();
  st[0] = src.strides();
  st[1] = dst_strides;
  collapse_dims(shape, st);
  int64_t rows = num_rows(shape);
  int64_t inner = shape.back();
  auto run = [&](auto tag) {
    using U = typename decltype(tag)::type;
    const U* s = static_cast<const U*>(src.raw_data());
    U* d = static_cast<U*>(dst);
    if (parallel && rows > 1 && rows * inner >= kElementwiseGrain) {
      parallel_for(rows, std::max<int64_t>(1, kElementwiseGrain / inner),
                   [&](int64_t r0, int64_t r1) { copy_rows(s, d, shape, st, r0, r1); });
    } else {
      copy_rows(s, d, shape, st, 0, rows);
    }
  };
  switch (src.itemsize()) {
    case 1: run(TypeTag<uint8_t>{}); break;
    case 2: run(TypeTag<uint16_t>{}); break;
    case 4: run(TypeTag<uint32_t>{}); break;
    case 8: run(TypeTag<uint64_t>{}); break;
    default: {
      // complex64 is 8 bytes; wider types do not exist yet.
      throw std::logic_error("[copy] unsupported item size");
    }
  }
}

void copy_to_row_contiguous(const array& src, array& out, bool parallel) {
  out.set_data(allocator::malloc(out.nbytes()));
  if (src.flags().row_contiguous) {
    std::memcpy(out.raw_data(), src.raw_data(), src.nbytes());
    return;
  }
  copy_strided(src, out.raw_data(), out.strides(), parallel);
}

}  // namespace tessera
