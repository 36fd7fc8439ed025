// Generic elementwise loops over any strides, instantiated per (op, dtype) by each backend.
// `threads` selects the multithreaded split (the reference backend passes false).
#pragma once

#include <utility>

#include "backend/common/layout.h"
#include "core/dispatch.h"
#include "core/thread_pool.h"
#include "primitives/elementwise.h"
#include "primitives/scalar_ops.h"

namespace tessera {

template <typename E, typename F, size_t... I>
void dispatch_enum_impl(E e, F&& f, std::index_sequence<I...>) {
  (void)((static_cast<size_t>(e) == I ? (f(std::integral_constant<E, E(I)>{}), true) : false) || ...);
}
// Calls f(std::integral_constant<E, e>) so kernels can be templates on the op.
template <typename E, typename F>
void dispatch_enum(E e, F&& f) {
  dispatch_enum_impl(e, std::forward<F>(f), std::make_index_sequence<static_cast<size_t>(E::Count)>{});
}

// Output storage type of unary op `op` on input type T.
template <UnaryOp op, typename T>
using unary_out_t = std::conditional_t<
    elementwise_tables::kUnary[static_cast<int>(op)].bool_output, bool,
    std::conditional_t<is_half_v<T>, T, decltype(scalar::unary<op>(std::declval<T>()))>>;

template <BinaryOp op, typename T>
using binary_out_t = std::conditional_t<
    elementwise_tables::kBinary[static_cast<int>(op)].bool_output, bool,
    std::conditional_t<is_half_v<T>, T, decltype(scalar::binary<op>(std::declval<T>(), std::declval<T>()))>>;

// Allocates `out` row-contiguous, or reuses a donatable input buffer of the same layout.
inline void prepare_output(array& out, const std::vector<array>& inputs) {
  for (auto& in : inputs) {
    if (in.is_donatable() && in.itemsize() == out.itemsize() && in.flags().row_contiguous &&
        in.shape() == out.shape() && in.data_size() == in.size()) {
      out.copy_shared_buffer(in);
      return;
    }
  }
  out.set_data(allocator::malloc(out.nbytes()));
}

// True when all operands are dense with identical strides (so a flat loop over data is exact).
inline bool same_dense_layout(const std::vector<const array*>& ops) {
  for (auto* a : ops) {
    if (!a->flags().contiguous || a->data_size() != a->size()) return false;
    if (a->strides() != ops[0]->strides()) return false;
  }
  return true;
}

template <typename Body>
void run_rows(const Shape& shape, const std::vector<Strides>& st, bool threads, Body&& body) {
  int64_t rows = num_rows(shape);
  int64_t inner = shape.empty() ? 1 : shape.back();
  if (threads && rows > 1 && rows * inner >= 2 * kElementwiseGrain) {
    parallel_for(rows, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(inner, 1)),
                 [&](int64_t r0, int64_t r1) { for_each_row(shape, st, r0, r1, body); });
  } else {
    for_each_row(shape, st, 0, rows, body);
  }
}

template <typename Body>
void run_flat(int64_t n, bool threads, Body&& body) {
  if (threads && n >= 2 * kElementwiseGrain) {
    parallel_for(n, kElementwiseGrain, body);
  } else {
    body(0, n);
  }
}

}  // namespace tessera
