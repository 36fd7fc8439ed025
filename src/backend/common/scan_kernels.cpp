// Scans (cumsum, cumprod, cummax, cummin, logcumsumexp) along one axis, any layout.
#include <cmath>
#include <limits>
#include <vector>

#include "backend/common/axis_rows.h"
#include "backend/common/elementwise_loops.h"
#include "backend/common/scan_sort_kernels.h"
#include "core/allocator.h"
#include "core/dispatch.h"
#include "core/thread_pool.h"
#include "primitives/reduce.h"

namespace tessera {

namespace {

template <typename T>
using scan_acc_t = std::conditional_t<is_half_v<T>, float, T>;

template <ScanOp op, typename A>
A scan_init() {
  if constexpr (op == ScanOp::Sum) return A(0);
  else if constexpr (op == ScanOp::Prod) return A(1);
  else if constexpr (op == ScanOp::LogAddExp) return -std::numeric_limits<A>::infinity();
  else if constexpr (op == ScanOp::Max) {
    if constexpr (std::is_floating_point_v<A>) return -std::numeric_limits<A>::infinity();
    else return std::numeric_limits<A>::lowest();
  } else {
    if constexpr (std::is_floating_point_v<A>) return std::numeric_limits<A>::infinity();
    else return std::numeric_limits<A>::max();
  }
}

template <ScanOp op, typename A>
inline A scan_step(A acc, A x) {
  if constexpr (op == ScanOp::Sum) {
    if constexpr (std::is_same_v<A, bool>) return acc || x;
    else return A(acc + x);
  } else if constexpr (op == ScanOp::Prod) {
    if constexpr (std::is_same_v<A, bool>) return acc && x;
    else return A(acc * x);
  } else if constexpr (op == ScanOp::Max) {
    if (acc != acc) return acc;  // NaN propagates
    return (x != x || x > acc) ? x : acc;
  } else if constexpr (op == ScanOp::Min) {
    if (acc != acc) return acc;
    return (x != x || x < acc) ? x : acc;
  } else {
    if constexpr (std::is_floating_point_v<A>) {
      if (acc != acc || x != x) return acc + x;
      if (acc == x) return acc + A(0.6931471805599453);
      A m = acc > x ? acc : x;
      A d = acc > x ? x - acc : acc - x;
      return m + std::log1p(std::exp(d));
    } else {
      return acc;
    }
  }
}

template <ScanOp op, typename T>
void scan_rows(const AxisRows& p, T* out, bool reverse, bool inclusive, const ElementwiseConfig& cfg) {
  using A = scan_acc_t<T>;
  const T* in = p.in.data<T>();
  int64_t n = p.len, st = p.inner;
  auto body = [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      int64_t b = p.base(r);
      A acc = scan_init<op, A>();
      for (int64_t k = 0; k < n; ++k) {
        int64_t j = reverse ? n - 1 - k : k;
        A x = A(in[b + j * st]);
        if (inclusive) {
          acc = scan_step<op, A>(acc, x);
          out[b + j * st] = T(acc);
        } else {
          out[b + j * st] = T(acc);
          acc = scan_step<op, A>(acc, x);
        }
      }
    }
  };
  int64_t rows = p.rows();
  if (cfg.threads && rows > 1 && rows * n >= 2 * kElementwiseGrain) {
    parallel_for(rows, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(n, 1)), body);
  } else {
    body(0, rows);
  }
}

}  // namespace

void scan_kernel(const Primitive& prim, const std::vector<array>& in, std::vector<array>& out,
                 const ElementwiseConfig& cfg) {
  auto& sp = static_cast<const Scan&>(prim);
  array& o = out[0];
  o.set_data(allocator::malloc(o.nbytes()));
  if (o.size() == 0) return;
  AxisRows p = axis_rows(in[0], sp.axis(), cfg.threads);
  dispatch_enum(sp.op(), [&](auto op_c) {
    constexpr ScanOp kOp = decltype(op_c)::value;
    dispatch_all_types(o.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (is_complex_v<T> || (kOp == ScanOp::LogAddExp && !is_float_v<T>)) {
        throw std::invalid_argument(std::string("[") + sp.name() + "] Unsupported dtype " + dtype_name(o.dtype()));
      } else {
        scan_rows<kOp, T>(p, o.data<T>(), sp.reverse(), sp.inclusive(), cfg);
      }
    });
  });
}

}  // namespace tessera
