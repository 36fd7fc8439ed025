// Reduce and ArgReduce over any axes. The input is first brought to a layout where the reduced
// axes are either the innermost (row reduction) or the outermost (column accumulation) block.
#include <cmath>
#include <cstring>
#include <memory>
#include <limits>
#include <numeric>

#include "backend/common/elementwise_kernels.h"
#include "backend/common/elementwise_loops.h"
#include "backend/common/reduce_kernels.h"
#include "backend/cpu/simd.h"
#include "primitives/reduce.h"
#include "tessera/ops.h"

namespace tessera {

namespace {

template <typename T>
using acc_t = std::conditional_t<is_half_v<T>, float, T>;

template <ReduceOp op, typename A>
constexpr A reduce_init() {
  if constexpr (op == ReduceOp::Sum) return A(0);
  else if constexpr (op == ReduceOp::Prod) return A(1);
  else if constexpr (op == ReduceOp::And) return A(true);
  else if constexpr (op == ReduceOp::Or) return A(false);
  else if constexpr (op == ReduceOp::Max) {
    if constexpr (std::is_floating_point_v<A>) return -std::numeric_limits<A>::infinity();
    else if constexpr (is_complex_v<A>) return A(-std::numeric_limits<float>::infinity(), 0.f);
    else return std::numeric_limits<A>::lowest();
  } else {
    if constexpr (std::is_floating_point_v<A>) return std::numeric_limits<A>::infinity();
    else if constexpr (is_complex_v<A>) return A(std::numeric_limits<float>::infinity(), 0.f);
    else return std::numeric_limits<A>::max();
  }
}

template <ReduceOp op, typename A>
inline A combine(A x, A y) {
  if constexpr (op == ReduceOp::Sum) {
    if constexpr (std::is_same_v<A, bool>) return x || y;
    else return A(x + y);
  } else if constexpr (op == ReduceOp::Prod) {
    if constexpr (std::is_same_v<A, bool>) return x && y;
    else return A(x * y);
  } else if constexpr (op == ReduceOp::And) {
    return x && y;
  } else if constexpr (op == ReduceOp::Or) {
    return x || y;
  } else if constexpr (op == ReduceOp::Max) {
    return scalar::binary<BinaryOp::Maximum>(x, y);
  } else {
    return scalar::binary<BinaryOp::Minimum>(x, y);
  }
}

template <ReduceOp op, typename T>
void reduce_rows(const T* in, T* out, int64_t rows, int64_t len, const ElementwiseConfig& cfg) {
  using A = acc_t<T>;
  auto body = [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* row = in + r * len;
      if constexpr (std::is_same_v<T, float> && (op == ReduceOp::Sum || op == ReduceOp::Max || op == ReduceOp::Min)) {
        if (cfg.simd) {
          out[r] = simd::reduce_f32(op, row, len);
          continue;
        }
      }
      A acc = reduce_init<op, A>();
      if constexpr (op == ReduceOp::Sum && std::is_floating_point_v<A>) {
        // Pairwise blocks keep the rounding error O(log n) like NumPy's sum.
        constexpr int64_t kB = 128;
        std::vector<A> partial;
        for (int64_t i = 0; i < len; i += kB) {
          A p = 0;
          int64_t e = std::min(len, i + kB);
          for (int64_t j = i; j < e; ++j) p += A(row[j]);
          partial.push_back(p);
        }
        while (partial.size() > 1) {
          size_t h = (partial.size() + 1) / 2;
          for (size_t j = 0; j + h < partial.size(); ++j) partial[j] += partial[j + h];
          partial.resize(h);
        }
        acc = partial.empty() ? A(0) : partial[0];
      } else {
        for (int64_t j = 0; j < len; ++j) acc = combine<op, A>(acc, A(row[j]));
      }
      out[r] = T(acc);
    }
  };
  if (cfg.threads && rows * len >= 2 * kElementwiseGrain && rows > 1) {
    parallel_for(rows, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(len, 1)), body);
  } else if (cfg.threads && rows == 1 && len >= 4 * kElementwiseGrain) {
    // One long row: split it, then combine the partial results in order.
    int nt = get_num_threads();
    std::unique_ptr<T[]> part(new T[size_t(nt)]);
    for (int t = 0; t < nt; ++t) part[size_t(t)] = T(reduce_init<op, A>());
    int64_t chunk = (len + nt - 1) / nt;
    parallel_for(nt, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        int64_t b = t * chunk, e = std::min(len, b + chunk);
        if (b < e) reduce_rows<op, T>(in + b, &part[size_t(t)], 1, e - b, ElementwiseConfig{false, cfg.simd});
      }
    });
    A acc = reduce_init<op, A>();
    for (int t = 0; t < nt; ++t) {
      if (t * chunk < len) acc = combine<op, A>(acc, A(part[size_t(t)]));
    }
    out[0] = T(acc);
  } else {
    body(0, rows);
  }
}

// out[j] = op over i of in[i * inner + j]
template <ReduceOp op, typename T>
void reduce_cols(const T* in, T* out, int64_t outer, int64_t inner, const ElementwiseConfig& cfg) {
  using A = acc_t<T>;
  auto body = [&](int64_t c0, int64_t c1) {
    int64_t w = c1 - c0;
    if constexpr (std::is_same_v<T, float> && op != ReduceOp::And && op != ReduceOp::Or) {
      if (cfg.simd) {
        std::memcpy(out + c0, in + c0, size_t(w) * sizeof(float));
        for (int64_t i = 1; i < outer; ++i) simd::accumulate_f32(op, in + i * inner + c0, out + c0, w);
        return;
      }
    }
    std::unique_ptr<A[]> acc(new A[size_t(w)]);
    for (int64_t j = 0; j < w; ++j) acc[size_t(j)] = reduce_init<op, A>();
    for (int64_t i = 0; i < outer; ++i) {
      const T* row = in + i * inner + c0;
      for (int64_t j = 0; j < w; ++j) acc[size_t(j)] = combine<op, A>(acc[size_t(j)], A(row[j]));
    }
    for (int64_t j = 0; j < w; ++j) out[c0 + j] = T(acc[size_t(j)]);
  };
  if (cfg.threads && outer * inner >= 2 * kElementwiseGrain && inner >= 64) {
    parallel_for(inner, 64, body);
  } else {
    body(0, inner);
  }
}

// Returns `a` as a row-contiguous array whose dims are permuted so reduced axes come last
// (or first when that avoids a copy), and the (outer, reduced, inner) sizes.
struct ReducePlan {
  array in;
  int64_t outer, reduced, inner;
};

ReducePlan plan_reduce(const array& a, const std::vector<int>& axes, const ElementwiseConfig& cfg) {
  int nd = int(a.ndim());
  std::vector<bool> red(nd, false);
  for (int ax : axes) red[ax] = true;
  auto contig = [&](const array& x) {
    if (x.flags().row_contiguous) return x;
    array c(x.shape(), x.dtype(), nullptr, {});
    copy_to_row_contiguous(x, c, cfg.threads);
    return c;
  };
  // Reduced axes form a single block in the middle of a row-major layout?
  int first = axes.front(), last = axes.back();
  bool block = last - first + 1 == int(axes.size());
  if (block && a.flags().row_contiguous) {
    int64_t o = 1, r = 1, i = 1;
    for (int d = 0; d < nd; ++d) (d < first ? o : (d <= last ? r : i)) *= a.shape(d);
    return {a, o, r, i};
  }
  // Otherwise move reduced axes last and copy.
  std::vector<int> perm;
  for (int d = 0; d < nd; ++d)
    if (!red[d]) perm.push_back(d);
  for (int d : axes) perm.push_back(d);
  Shape ps(nd);
  Strides pst(nd);
  for (int d = 0; d < nd; ++d) {
    ps[d] = a.shape(perm[d]);
    pst[d] = a.strides()[perm[d]];
  }
  array view(ps, a.dtype(), nullptr, {});
  Layout l = layout_of(ps, pst);
  view.copy_shared_buffer(a, pst, l.flags, a.data_size());
  array c = contig(view);
  int64_t o = 1, r = 1;
  for (int d = 0; d < nd - int(axes.size()); ++d) o *= ps[d];
  for (int d = nd - int(axes.size()); d < nd; ++d) r *= ps[d];
  return {c, o, r, 1};
}

template <ReduceOp op, typename T>
void reduce_typed(const ReducePlan& p, array& out, const ElementwiseConfig& cfg) {
  const T* in = p.in.data<T>();
  T* o = out.data<T>();
  if (p.inner == 1) {
    reduce_rows<op, T>(in, o, p.outer, p.reduced, cfg);
  } else {
    for (int64_t b = 0; b < p.outer; ++b) {
      reduce_cols<op, T>(in + b * p.reduced * p.inner, o + b * p.inner, p.reduced, p.inner, cfg);
    }
  }
}

}  // namespace

void reduce_kernel(const Primitive& prim, const std::vector<array>& in, std::vector<array>& out,
                   const ElementwiseConfig& cfg) {
  auto& rp = static_cast<const Reduce&>(prim);
  const array& a = in[0];
  array& o = out[0];
  o.set_data(allocator::malloc(o.nbytes()));
  if (a.size() == 0) {
    // Empty reductions give the identity (sum 0, prod 1, all true, any false).
    dispatch_all_types(o.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      using A = acc_t<T>;
      T v{};
      dispatch_enum(rp.op(), [&](auto op_c) {
        constexpr ReduceOp kOp = decltype(op_c)::value;
        if constexpr (kOp == ReduceOp::Sum || kOp == ReduceOp::Prod || kOp == ReduceOp::And || kOp == ReduceOp::Or) {
          v = T(reduce_init<kOp, A>());
        }
      });
      T* d = o.data<T>();
      for (size_t i = 0; i < o.size(); ++i) d[i] = v;
    });
    return;
  }
  ReducePlan plan = plan_reduce(a, rp.axes(), cfg);
  dispatch_enum(rp.op(), [&](auto op_c) {
    constexpr ReduceOp kOp = decltype(op_c)::value;
    dispatch_all_types(a.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr ((kOp == ReduceOp::And || kOp == ReduceOp::Or) != std::is_same_v<T, bool>) {
        throw std::invalid_argument(std::string("[") + reduce_op_name(kOp) + "] Unsupported dtype " + dtype_name(a.dtype()));
      } else if constexpr ((kOp == ReduceOp::Sum || kOp == ReduceOp::Prod) && std::is_same_v<T, bool>) {
        throw std::invalid_argument(std::string("[") + reduce_op_name(kOp) + "] Unsupported dtype bool");
      } else {
        reduce_typed<kOp, T>(plan, o, cfg);
      }
    });
  });
}

void arg_reduce_kernel(const Primitive& prim, const std::vector<array>& in, std::vector<array>& out,
                       const ElementwiseConfig& cfg) {
  auto& ap = static_cast<const ArgReduce&>(prim);
  const array& a = in[0];
  array& o = out[0];
  o.set_data(allocator::malloc(o.nbytes()));
  int ax = ap.axis();
  int64_t len = a.shape(ax), stride = a.strides()[ax];
  // Iterate over every output position; each walks its axis with the input's stride.
  Shape oshape = a.shape();
  oshape[ax] = 1;
  Strides ist = a.strides();
  Strides ost = o.strides();
  bool is_max = ap.op() == ArgReduceOp::ArgMax;
  dispatch_all_types(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = acc_t<T>;
    const T* src = a.data<T>();
    uint32_t* dst = o.data<uint32_t>();
    std::vector<Strides> st{ist, ost};
    // Rows over the output's (collapsed) index space.
    Shape sh = oshape;
    for_each_row(sh, st, 0, num_rows(sh), [&](const int64_t* off, int64_t n) {
      for (int64_t k = 0; k < n; ++k) {
        const T* p = src + off[0] + k * st[0].back();
        uint32_t best = 0;
        A bv = A(p[0]);
        if (!scalar::isnan_v(bv)) {
          for (int64_t i = 1; i < len; ++i) {
            A v = A(p[i * stride]);
            if (scalar::isnan_v(v)) {
              best = uint32_t(i);
              break;
            }
            bool better;
            if constexpr (is_complex_v<A>) {
              better = is_max ? scalar::binary<BinaryOp::Greater>(v, bv) : scalar::binary<BinaryOp::Less>(v, bv);
            } else {
              better = is_max ? (v > bv) : (v < bv);
            }
            if (better) {
              bv = v;
              best = uint32_t(i);
            }
          }
        }
        dst[off[1] + k * st[1].back()] = best;
      }
    });
  });
  (void)cfg;
}

}  // namespace tessera
