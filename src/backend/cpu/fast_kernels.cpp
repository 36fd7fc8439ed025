// Fused CPU kernels: one pass structure per row, rows split across threads. 16-bit floats are
// widened to float32 per row; float64 computes in double.
#include "backend/cpu/fast_kernels.h"

#include <algorithm>
#include <cstring>
#include <cmath>
#include <limits>
#include <optional>
#include <span>
#include <type_traits>
#include <vector>

#include "backend/backend.h"
#include "backend/common/axis_rows.h"
#include "backend/cpu/simd.h"
#include "backend/cpu/thread_scratch.h"
#include "core/dispatch.h"
#include "core/thread_pool.h"
#include "primitives/fast.h"
#include "tessera/ops.h"

namespace tessera {

namespace {

template <typename T>
using calc_t = std::conditional_t<std::is_same_v<T, double>, double, float>;

// Rows of `len` elements; splits across threads when there is enough work.
template <typename F>
void for_rows(int64_t rows, int64_t len, F&& body) {
  constexpr int64_t kWork = 1 << 14;
  if (rows > 1 && rows * len >= 2 * kWork) {
    parallel_for(rows, std::max<int64_t>(1, kWork / std::max<int64_t>(len, 1)), body);
  } else {
    body(0, rows);
  }
}

template <typename F>
void dispatch_float(Dtype d, const char* op, F&& f) {
  dispatch_all_types(d, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (is_float_v<T>) f(tag);
    else throw std::invalid_argument(std::string("[") + op + "] Unsupported dtype " + dtype_name(d));
  });
}

// Loads a row of T into float (or double) scratch.
template <typename T, typename C>
inline void load_row(const T* src, C* dst, int64_t n) {
  if constexpr (std::is_same_v<T, C>) {
    std::copy(src, src + n, dst);
  } else if constexpr (is_half_v<T>) {
    simd::f16_to_32(reinterpret_cast<const uint16_t*>(src), dst, size_t(n), std::is_same_v<T, bfloat16_t>);
  } else {
    for (int64_t i = 0; i < n; ++i) dst[i] = C(src[i]);
  }
}

template <typename T, typename C>
inline void store_row(const C* src, T* dst, int64_t n) {
  if constexpr (std::is_same_v<T, C>) {
    std::copy(src, src + n, dst);
  } else if constexpr (is_half_v<T>) {
    simd::f32_to_16(src, reinterpret_cast<uint16_t*>(dst), size_t(n), std::is_same_v<T, bfloat16_t>);
  } else {
    for (int64_t i = 0; i < n; ++i) dst[i] = T(src[i]);
  }
}

template <typename C>
void softmax_row_scalar(const C* in, C* out, int64_t n) {
  C m = -std::numeric_limits<C>::infinity();
  bool nan = false;
  for (int64_t i = 0; i < n; ++i) {
    if (in[i] != in[i]) nan = true;
    m = in[i] > m ? in[i] : m;
  }
  if (nan) {
    for (int64_t i = 0; i < n; ++i) out[i] = std::numeric_limits<C>::quiet_NaN();
    return;
  }
  if (std::isinf(m)) m = 0;
  C sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += (out[i] = std::exp(in[i] - m));
  C inv = C(1) / sum;
  for (int64_t i = 0; i < n; ++i) out[i] *= inv;
}

// Outputs this large (bytes) are written with streaming stores: they exceed the caches, so
// keeping them would only evict the inputs, and skipping the read-for-ownership saves traffic.
inline bool stream_output(const array& o) { return o.nbytes() >= (size_t(4) << 20); }

}  // namespace

void cpu_softmax(const Primitive&, const std::vector<array>& in, std::vector<array>& out) {
  array& o = out[0];
  o.set_data(allocator::malloc(o.nbytes()));
  if (o.size() == 0) return;
  array x = row_contiguous(in[0], true);
  int64_t n = x.shape(-1), rows = int64_t(x.size()) / n;
  dispatch_float(x.dtype(), "softmax", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* src = x.data<T>();
    T* dst = o.data<T>();
    const bool stream = stream_output(o);
    for_rows(rows, n, [&](int64_t r0, int64_t r1) {
      if constexpr (std::is_same_v<T, double>) {
        for (int64_t r = r0; r < r1; ++r) softmax_row_scalar<double>(src + r * n, dst + r * n, n);
      } else {
        std::vector<float> scratch(static_cast<size_t>(2 * n)),
            buf(std::is_same_v<T, float> ? 0 : static_cast<size_t>(n));
        if constexpr (std::is_same_v<T, float>) {
          simd::softmax_rows_f32(src + r0 * n, dst + r0 * n, r1 - r0, n, scratch.data(), stream);
          return;
        }
        for (int64_t r = r0; r < r1; ++r) {
          if constexpr (!std::is_same_v<T, float>) {
            load_row(src + r * n, buf.data(), n);
            simd::softmax_row_f32(buf.data(), buf.data(), scratch.data(), n, false);
            store_row(buf.data(), dst + r * n, n);
          }
        }
      }
    });
  });
}

void cpu_logsumexp(const Primitive& p, const std::vector<array>& in, std::vector<array>& out) {
  // float64 keeps the composite (no double row kernel).
  if (in[0].dtype() == float64) return run_decomposition(p, in, out);
  array& o = out[0];
  o.set_data(allocator::malloc(o.nbytes()));
  if (o.size() == 0) return;
  const array x = row_contiguous(in[0], true);
  const int64_t n = x.shape(-1), rows = int64_t(o.size());
  dispatch_float(x.dtype(), "logsumexp", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!std::is_same_v<T, double>) {
      const T* src = x.data<T>();
      T* dst = o.data<T>();
      for_rows(rows, n, [&](int64_t r0, int64_t r1) {
        std::vector<float> buf(static_cast<size_t>(n));
        for (int64_t r = r0; r < r1; ++r) {
          load_row(src + r * n, buf.data(), n);
          const float m = simd::reduce_f32(ReduceOp::Max, buf.data(), n);
          float lse;
          if (std::isinf(m)) {
            // The sum is dominated by (+inf) or made of (-inf) the maximum, unless a NaN is there.
            bool nan = false;
            for (int64_t i = 0; i < n; ++i) nan = nan || buf[size_t(i)] != buf[size_t(i)];
            lse = nan ? std::numeric_limits<float>::quiet_NaN() : m;
          } else {
            // NaN lanes stay NaN through the shifted exponentials and their sum.
            lse = std::log(simd::exp_shift_sum_f32(buf.data(), n, m)) + m;
          }
          store_row(&lse, dst + r, 1);
        }
      });
    }
  });
}

void cpu_rms_norm(const Primitive& p, const std::vector<array>& in, std::vector<array>& out) {
  float eps = static_cast<const RMSNorm&>(p).eps();
  array& o = out[0];
  o.set_data(allocator::malloc(o.nbytes()));
  if (o.size() == 0) return;
  const RowContiguous xc(in[0], true), wc(in[1], true);
  const array &x = *xc, &w = *wc;
  int64_t n = x.shape(-1), rows = int64_t(x.size()) / n;
  dispatch_float(x.dtype(), "rms_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = calc_t<T>;
    const T* src = x.data<T>();
    T* dst = o.data<T>();
    // float32 weights are used in place (a decode step normalizes one row per call: a copy
    // would be an allocation for a few dozen multiplies).
    std::vector<C> wf(std::is_same_v<T, float> ? 0 : static_cast<size_t>(n));
    if constexpr (!std::is_same_v<T, float>) load_row(w.data<T>(), wf.data(), n);
    const C* weights = std::is_same_v<T, float> ? reinterpret_cast<const C*>(w.data<T>()) : wf.data();
    const bool stream = stream_output(o);
    for_rows(rows, n, [&](int64_t r0, int64_t r1) {
      std::vector<C> buf(std::is_same_v<T, float> ? 0 : static_cast<size_t>(n));
      for (int64_t r = r0; r < r1; ++r) {
        if constexpr (std::is_same_v<T, float>) {
          simd::rms_norm_row_f32(src + r * n, weights, dst + r * n, n, eps, stream);
        } else if constexpr (std::is_same_v<C, float>) {
          load_row(src + r * n, buf.data(), n);
          simd::rms_norm_row_f32(buf.data(), weights, buf.data(), n, eps, false);
          store_row(buf.data(), dst + r * n, n);
        } else {
          load_row(src + r * n, buf.data(), n);
          C ss = 0;
          for (int64_t i = 0; i < n; ++i) ss += buf[size_t(i)] * buf[size_t(i)];
          C inv = C(1) / std::sqrt(ss / C(n) + C(eps));
          for (int64_t i = 0; i < n; ++i) buf[size_t(i)] = buf[size_t(i)] * inv * weights[i];
          store_row(buf.data(), dst + r * n, n);
        }
      }
    });
  });
}

void cpu_rms_norm_vjp(const Primitive& p, const std::vector<array>& in, std::vector<array>& out) {
  const float eps = static_cast<const RMSNormVjp&>(p).eps();
  // Differentiation keeps float64 on the composite; a node made some other way runs it here.
  if (in[0].dtype() == float64) return run_decomposition(p, in, out);
  array& dx = out[0];
  array& dw = out[1];
  dx.set_data(allocator::malloc(dx.nbytes()));
  dw.set_data(allocator::malloc(dw.nbytes()));
  const array x = row_contiguous(in[0], true), w = row_contiguous(in[1], true), g = row_contiguous(in[2], true);
  const int64_t n = x.ndim() > 0 ? x.shape(-1) : 1;
  const int64_t rows = n > 0 ? int64_t(x.size()) / n : 0;
  // The weight's gradient sums over rows: each block of kBlockRows rows sums into its own row of
  // `partial`, and the blocks are added in order afterwards, so the result does not depend on
  // how threads split the rows.
  constexpr int64_t kBlockRows = 64;
  const int64_t blocks = (rows + kBlockRows - 1) / kBlockRows;
  std::vector<float> partial(static_cast<size_t>(std::max<int64_t>(blocks, 1) * n), 0.f);
  dispatch_float(x.dtype(), "rms_norm_vjp", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!std::is_same_v<T, double>) {
      const T* xs = x.data<T>();
      const T* gs = g.data<T>();
      T* dxs = dx.data<T>();
      std::vector<float> wf(static_cast<size_t>(n));
      load_row(w.data<T>(), wf.data(), n);
      for_rows(blocks, kBlockRows * n * 3, [&](int64_t b0, int64_t b1) {
        std::vector<float> buf(std::is_same_v<T, float> ? 0 : static_cast<size_t>(3 * n));
        for (int64_t b = b0; b < b1; ++b) {
          float* acc = partial.data() + b * n;
          for (int64_t r = b * kBlockRows; r < std::min(rows, (b + 1) * kBlockRows); ++r) {
            if constexpr (std::is_same_v<T, float>) {
              simd::rms_norm_vjp_row_f32(xs + r * n, gs + r * n, wf.data(), dxs + r * n, acc, n, eps);
            } else {
              float *xr = buf.data(), *gr = xr + n, *dr = gr + n;
              load_row(xs + r * n, xr, n);
              load_row(gs + r * n, gr, n);
              simd::rms_norm_vjp_row_f32(xr, gr, wf.data(), dr, acc, n, eps);
              store_row(dr, dxs + r * n, n);
            }
          }
        }
      });
      for (int64_t b = 1; b < blocks; ++b) {
        const float* src = partial.data() + b * n;
        for (int64_t i = 0; i < n; ++i) partial[size_t(i)] += src[i];
      }
      store_row(partial.data(), dw.data<T>(), n);
    }
  });
}

void cpu_layer_norm(const Primitive& p, const std::vector<array>& in, std::vector<array>& out) {
  float eps = static_cast<const LayerNorm&>(p).eps();
  array& o = out[0];
  o.set_data(allocator::malloc(o.nbytes()));
  if (o.size() == 0) return;
  array x = row_contiguous(in[0], true), w = row_contiguous(in[1], true), b = row_contiguous(in[2], true);
  int64_t n = x.shape(-1), rows = int64_t(x.size()) / n;
  dispatch_float(x.dtype(), "layer_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = calc_t<T>;
    const T* src = x.data<T>();
    T* dst = o.data<T>();
    std::vector<C> wf(static_cast<size_t>(n)), bf(static_cast<size_t>(n));
    load_row(w.data<T>(), wf.data(), n);
    load_row(b.data<T>(), bf.data(), n);
    const bool stream = stream_output(o);
    for_rows(rows, n, [&](int64_t r0, int64_t r1) {
      std::vector<C> buf(std::is_same_v<T, float> ? 0 : static_cast<size_t>(n));
      for (int64_t r = r0; r < r1; ++r) {
        if constexpr (std::is_same_v<T, float>) {
          simd::layer_norm_row_f32(src + r * n, wf.data(), bf.data(), dst + r * n, n, eps, stream);
          continue;
        } else if constexpr (std::is_same_v<C, float>) {
          load_row(src + r * n, buf.data(), n);
          simd::layer_norm_row_f32(buf.data(), wf.data(), bf.data(), buf.data(), n, eps, false);
          store_row(buf.data(), dst + r * n, n);
          continue;
        }
        load_row(src + r * n, buf.data(), n);
        C s = 0;
        for (int64_t i = 0; i < n; ++i) s += buf[size_t(i)];
        C mu = s / C(n);
        C v = 0;
        for (int64_t i = 0; i < n; ++i) {
          C c = buf[size_t(i)] - mu;
          v += c * c;
        }
        C inv = C(1) / std::sqrt(v / C(n) + C(eps));
        for (int64_t i = 0; i < n; ++i) buf[size_t(i)] = (buf[size_t(i)] - mu) * inv * wf[size_t(i)] + bf[size_t(i)];
        store_row(buf.data(), dst + r * n, n);
      }
    });
  });
}

void cpu_rope(const Primitive& p, const std::vector<array>& in, std::vector<array>& out) {
  auto& rp = static_cast<const RoPE&>(p);
  array& o = out[0];
  o.set_data(allocator::malloc(o.nbytes()));
  if (o.size() == 0) return;
  const RowContiguous xc(in[0], true), offc(in[1], false), invc(in[2], false);
  const array& x = *xc;
  const int offset = offc->data<int32_t>()[0];
  const float* inv = invc->data<float>();
  int64_t D = x.shape(-1), L = x.shape(-2), rows = int64_t(x.size()) / D;
  int64_t h = rp.dims() / 2;
  float scale = rp.scale();
  bool trad = rp.traditional();
  dispatch_float(x.dtype(), "rope", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = calc_t<T>;
    const T* src = x.data<T>();
    T* dst = o.data<T>();
    // Every batch row and head at a position turns by the same angles: cos and sin once per
    // (position, frequency), not once per row (a training batch has batch * heads rows per
    // position).
    std::vector<float> angles(size_t(L * h * 2));
    for_rows(L, 16 * h, [&](int64_t l0, int64_t l1) {
      for (int64_t l = l0; l < l1; ++l) {
        float pos = float(offset + int(l));
        for (int64_t i = 0; i < h; ++i) {
          float th = (pos * inv[i]) * scale;
          angles[size_t((l * h + i) * 2)] = std::cos(th);
          angles[size_t((l * h + i) * 2 + 1)] = std::sin(th);
        }
      }
    });
    for_rows(rows, D, [&](int64_t r0, int64_t r1) {
      std::vector<C> buf(static_cast<size_t>(D));
      for (int64_t r = r0; r < r1; ++r) {
        const float* cs = angles.data() + (r % L) * h * 2;
        load_row(src + r * D, buf.data(), D);
        for (int64_t i = 0; i < h; ++i) {
          C c = C(cs[2 * i]), s = C(cs[2 * i + 1]);
          int64_t a = trad ? 2 * i : i, b = trad ? 2 * i + 1 : i + h;
          C x1 = buf[size_t(a)], x2 = buf[size_t(b)];
          buf[size_t(a)] = x1 * c - x2 * s;
          buf[size_t(b)] = x1 * s + x2 * c;
        }
        store_row(buf.data(), dst + r * D, D);
      }
    });
  });
}

namespace {

// An attention mask's elements (bool or additive float) and strides; all null without one.
struct MaskView {
  const bool* mb = nullptr;
  const float* mf = nullptr;
  const int64_t* strides = kNoStrides;  // 4 of them (the mask's own, not a copy)
  static constexpr int64_t kNoStrides[4] = {0, 0, 0, 0};
};

inline MaskView mask_view(const array* mask) {
  MaskView v;
  if (!mask) return v;
  v.strides = mask->strides().data();
  if (mask->dtype() == bool_) v.mb = mask->data<bool>();
  else v.mf = mask->data<float>();
  return v;
}

// One block of a row's attention scores against an explicit mask row (bool: false masks the
// key; float: added), mask elements `step` apart from moff.
inline void apply_mask(float* s, int64_t nk, const bool* mb, const float* mf, int64_t moff, int64_t step) {
  constexpr float ninf = -std::numeric_limits<float>::infinity();
  if (mb) {
    for (int64_t j = 0; j < nk; ++j)
      if (!mb[moff + j * step]) s[j] = ninf;
  } else {
    for (int64_t j = 0; j < nk; ++j) s[j] += mf[moff + j * step];
  }
}

// Folds one block of a row's scores into its online-softmax state (running maximum m, sum l,
// value accumulator acc of Dv): acc and l are rescaled to the new maximum, and s becomes the
// block's weights exp(s - m) for the value accumulation (zeros when every key is masked).
inline void softmax_block(float* s, int64_t nk, float& m, float& l, float* acc, int64_t Dv) {
  constexpr float ninf = -std::numeric_limits<float>::infinity();
  const float bm = simd::reduce_f32(ReduceOp::Max, s, nk);
  if (bm == ninf) {
    std::fill(s, s + nk, 0.f);  // every key masked out in this block
    return;
  }
  // NaN scores make the block maximum NaN and so the whole row NaN, as in the composite.
  const float mn = bm != bm ? bm : std::max(m, bm);
  if (m != mn) {
    const float c = m == ninf ? 0.f : std::exp(m - mn);
    l *= c;
    for (int64_t x = 0; x < Dv; ++x) acc[x] *= c;
    m = mn;
  }
  l += simd::exp_shift_sum_f32(s, nk, mn);
}

// Attention for float32 and 16-bit types. The query heads sharing a key/value head (GQA) are
// processed together so each key and value row is read once per query position; keys go in
// blocks of kKeyBlock: scores for the block, online-softmax update, value accumulation. When
// there are few (batch, kv head, query) groups (decoding), each group's key range is also split
// across threads and the partial results are merged afterwards (flash-decoding). 16-bit keys and
// values are widened in registers.
template <typename T>
void sdpa_fast(const ScaledDotProductAttention& ap, const array& q, const array& k, const array& v,
               const array* mask, const float* sk, int64_t Lk, array& o) {
  constexpr int kind = std::is_same_v<T, float> ? 0 : std::is_same_v<T, float16_t> ? 1 : 2;
  constexpr int64_t kKeyBlock = 128;
  const int64_t B = q.shape(0), Hq = q.shape(1), Lq = q.shape(2), D = q.shape(3);
  const int64_t Hkv = k.shape(1), Dv = v.shape(3);
  const int64_t G = Hq / Hkv;
  const float scale = ap.scale();
  const bool causal = ap.causal();
  const T* qp = q.data<T>();
  const T* kp = k.data<T>();
  const T* vp = v.data<T>();
  T* op = o.data<T>();
  const MaskView mv = mask_view(mask);
  const bool* mb = mv.mb;
  const float* mf = mv.mf;
  const int64_t* ms = mv.strides;
  const int64_t groups = B * Hkv * Lq;
  // Split the keys when there are too few groups to keep every thread busy with balanced work.
  const int64_t threads = std::max(1, get_num_threads());
  int64_t nsplit = 1;
  if (groups < 4 * threads && Lk >= 2 * kKeyBlock) {
    nsplit = std::min<int64_t>((4 * threads + groups - 1) / groups, Lk / kKeyBlock);
  }
  const int64_t tasks = groups * nsplit;
  // Partial results per task and query head: m, l, acc[Dv].
  const int64_t pw = Dv + 2;
  std::vector<float> partial(nsplit > 1 ? static_cast<size_t>(tasks * G * pw) : 0);
  constexpr float ninf = -std::numeric_limits<float>::infinity();

  // Merges (m2, l2, acc2) into (m, l, acc).
  auto merge = [Dv](float& m, float& l, float* acc, float m2, float l2, const float* acc2) {
    if (m2 == ninf && l2 == l2) return;
    float mn = std::max(m, m2);
    float c1 = m == ninf ? 0.f : std::exp(m - mn), c2 = std::exp(m2 - mn);
    l = l * c1 + l2 * c2;
    for (int64_t x = 0; x < Dv; ++x) acc[x] = acc[x] * c1 + (acc2 ? acc2[x] * c2 : 0.f);
    m = mn;
  };
  // Output row of query head hq at (b, i) from its merged state plus the sink.
  auto finish = [&](int64_t b, int64_t hq, int64_t i, float m, float l, float* acc) {
    if (sk) merge(m, l, acc, sk[hq], 1.f, nullptr);
    float inv = 1.f / l;
    for (int64_t x = 0; x < Dv; ++x) acc[x] *= inv;
    store_row(acc, op + ((b * Hq + hq) * Lq + i) * Dv, Dv);
  };

  for_rows(tasks, G * (Lk / nsplit) * (D + Dv), [&](int64_t t0, int64_t t1) {
    // Query rows, one score block, accumulators and softmax state for the G heads, in the
    // thread's scratch: a decode step runs this for every layer, so heap blocks would cost more
    // than the arithmetic over a short cache.
    float* const scratch = static_cast<float*>(thread_scratch(size_t(G * (D + kKeyBlock + Dv + 2)) * sizeof(float)));
    const std::span<float> qs(scratch, size_t(G * D)), sc(qs.data() + qs.size(), size_t(G * kKeyBlock)),
        acc(sc.data() + sc.size(), size_t(G * Dv)), m(acc.data() + acc.size(), size_t(G)), l(m.data() + G, size_t(G));
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t sp = t % nsplit, grp = t / nsplit;
      const int64_t i = grp % Lq, hk = (grp / Lq) % Hkv, b = grp / (Lq * Hkv);
      for (int64_t g = 0; g < G; ++g) {
        float* qg = qs.data() + g * D;
        load_row(qp + ((b * Hq + hk * G + g) * Lq + i) * D, qg, D);
        for (int64_t x = 0; x < D; ++x) qg[x] *= scale;
      }
      std::fill(acc.begin(), acc.end(), 0.f);
      std::fill(m.begin(), m.end(), ninf);
      std::fill(l.begin(), l.end(), 0.f);
      const int64_t jend = causal ? std::clamp<int64_t>(i + (Lk - Lq) + 1, 0, Lk) : Lk;
      const int64_t js = jend * sp / nsplit, je = jend * (sp + 1) / nsplit;
      const T* kb = kp + b * k.strides()[0] + hk * k.strides()[1];
      const T* vb = vp + b * v.strides()[0] + hk * v.strides()[1];
      for (int64_t j0 = js; j0 < je; j0 += kKeyBlock) {
        const int64_t nk = std::min(kKeyBlock, je - j0);
        simd::attn_scores(kind, qs.data(), G, D, kb + j0 * D, D, nk, sc.data(), kKeyBlock);
        if (mask) {
          for (int64_t g = 0; g < G; ++g) {
            float* s = sc.data() + g * kKeyBlock;
            const int64_t moff = b * ms[0] + (hk * G + g) * ms[1] + i * ms[2] + j0 * ms[3];
            apply_mask(s, nk, mb, mf, moff, ms[3]);
          }
        }
        for (int64_t g = 0; g < G; ++g) {
          softmax_block(sc.data() + g * kKeyBlock, nk, m[size_t(g)], l[size_t(g)], acc.data() + g * Dv, Dv);
        }
        simd::attn_accumulate(kind, sc.data(), G, kKeyBlock, vb + j0 * Dv, Dv, nk, Dv, acc.data());
      }
      for (int64_t g = 0; g < G; ++g) {
        if (nsplit == 1) {
          finish(b, hk * G + g, i, m[size_t(g)], l[size_t(g)], acc.data() + g * Dv);
        } else {
          float* pr = partial.data() + (t * G + g) * pw;
          pr[0] = m[size_t(g)];
          pr[1] = l[size_t(g)];
          std::copy(acc.data() + g * Dv, acc.data() + (g + 1) * Dv, pr + 2);
        }
      }
    }
  });
  if (nsplit == 1) return;
  for_rows(groups * G, nsplit * Dv * 4, [&](int64_t r0, int64_t r1) {
    std::vector<float> acc(static_cast<size_t>(Dv));
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t g = r % G, grp = r / G;
      const int64_t i = grp % Lq, hk = (grp / Lq) % Hkv, b = grp / (Lq * Hkv);
      float m = ninf, l = 0.f;
      std::fill(acc.begin(), acc.end(), 0.f);
      for (int64_t sp = 0; sp < nsplit; ++sp) {
        const float* pr = partial.data() + ((grp * nsplit + sp) * G + g) * pw;
        merge(m, l, acc.data(), pr[0], pr[1], pr + 2);
      }
      finish(b, hk * G + g, i, m, l, acc.data());
    }
  });
}

// Attention over many query rows (prompt processing). kTile consecutive query positions of the
// G query heads sharing one key/value head form up to kTile * G rows that share every key and
// value block: scores through simd::attn_scores_tiled (the block transposed once, no per-score
// horizontal sums), then per-row masking and online softmax as in sdpa_fast, and one value
// accumulation for all rows. Tasks are (batch, kv head, query tile).
// Query rows from which attention takes the tiled kernel.
constexpr int64_t kTiledAttentionRows = 16;

template <typename T>
void sdpa_tiled(const ScaledDotProductAttention& ap, const array& q, const array& k, const array& v,
                const array* mask, const float* sk, array& o) {
  constexpr int kind = std::is_same_v<T, float> ? 0 : std::is_same_v<T, float16_t> ? 1 : 2;
  constexpr int64_t kKeyBlock = 128, kTile = 16;
  const int64_t B = q.shape(0), Hq = q.shape(1), Lq = q.shape(2), D = q.shape(3);
  const int64_t Hkv = k.shape(1), Lk = k.shape(2), Dv = v.shape(3);
  const int64_t G = Hq / Hkv;
  const float scale = ap.scale();
  const bool causal = ap.causal();
  const T* qp = q.data<T>();
  const T* kp = k.data<T>();
  const T* vp = v.data<T>();
  T* op = o.data<T>();
  const MaskView mv = mask_view(mask);
  const bool* mb = mv.mb;
  const float* mf = mv.mf;
  const int64_t* ms = mv.strides;
  constexpr float ninf = -std::numeric_limits<float>::infinity();
  const int64_t tiles = (Lq + kTile - 1) / kTile;
  const int64_t R = kTile * G;
  for_rows(B * Hkv * tiles, R * Lk * (D + Dv) / 2, [&](int64_t t0, int64_t t1) {
    std::vector<float> qs(static_cast<size_t>(R * D)), sc(static_cast<size_t>(R * kKeyBlock)),
        acc(static_cast<size_t>(R * Dv)), m(static_cast<size_t>(R)), l(static_cast<size_t>(R)),
        kt(static_cast<size_t>(D * kKeyBlock));
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t tile = t % tiles, hk = (t / tiles) % Hkv, b = t / (tiles * Hkv);
      const int64_t i0 = tile * kTile, nq = std::min(kTile, Lq - i0), rows = nq * G;
      // Row r is query position i0 + r / G of query head hk * G + r % G.
      for (int64_t r = 0; r < rows; ++r) {
        float* qr = qs.data() + r * D;
        load_row(qp + ((b * Hq + hk * G + r % G) * Lq + i0 + r / G) * D, qr, D);
        for (int64_t x = 0; x < D; ++x) qr[x] *= scale;
      }
      std::fill(acc.begin(), acc.begin() + rows * Dv, 0.f);
      std::fill(m.begin(), m.begin() + rows, ninf);
      std::fill(l.begin(), l.begin() + rows, 0.f);
      // Keys past the tile's last query position are masked for every row of a causal tile.
      const int64_t jend = causal ? std::clamp<int64_t>(i0 + nq + (Lk - Lq), 0, Lk) : Lk;
      const T* kb = kp + b * k.strides()[0] + hk * k.strides()[1];
      const T* vb = vp + b * v.strides()[0] + hk * v.strides()[1];
      for (int64_t j0 = 0; j0 < jend; j0 += kKeyBlock) {
        const int64_t nk = std::min(kKeyBlock, jend - j0);
        simd::attn_scores_tiled(kind, qs.data(), rows, D, kb + j0 * D, D, nk, sc.data(), kKeyBlock, kt.data());
        for (int64_t r = 0; r < rows; ++r) {
          const int64_t g = r % G, i = i0 + r / G;
          float* s = sc.data() + r * kKeyBlock;
          if (causal) {
            const int64_t valid = std::clamp<int64_t>(i + (Lk - Lq) + 1 - j0, 0, nk);
            for (int64_t j = valid; j < nk; ++j) s[j] = ninf;
          }
          if (mask) apply_mask(s, nk, mb, mf, b * ms[0] + (hk * G + g) * ms[1] + i * ms[2] + j0 * ms[3], ms[3]);
          softmax_block(s, nk, m[size_t(r)], l[size_t(r)], acc.data() + r * Dv, Dv);
        }
        simd::attn_accumulate_tiled(kind, sc.data(), rows, kKeyBlock, vb + j0 * Dv, Dv, nk, Dv, acc.data());
      }
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t hq = hk * G + r % G, i = i0 + r / G;
        float mr = m[size_t(r)], lr = l[size_t(r)];
        float* ar = acc.data() + r * Dv;
        if (sk && sk[hq] != ninf) {
          // The sink joins the softmax's normalizer only (it has no value row).
          const float mn = std::max(mr, sk[hq]);
          const float c = mr == ninf ? 0.f : std::exp(mr - mn);
          lr = lr * c + std::exp(sk[hq] - mn);
          for (int64_t x = 0; x < Dv; ++x) ar[x] *= c;
        }
        const float inv = 1.f / lr;
        for (int64_t x = 0; x < Dv; ++x) ar[x] *= inv;
        store_row(ar, op + ((b * Hq + hq) * Lq + i) * Dv, Dv);
      }
    }
  });
}

// Where one boolean mask row serves every query (strides 0 over batch, heads and queries) and
// shows the first n > 0 keys only (a decode step over a preallocated cache, the positions
// written so far), the keys past n need not be read: returns n. Otherwise Lk.
int64_t visible_prefix(const array* mask, int64_t Lk) {
  if (!mask || mask->dtype() != bool_ || Lk == 0) return Lk;
  const Strides& st = mask->strides();
  for (int d = 0; d < 3; ++d) {
    if (st[size_t(d)] != 0 && mask->shape(d) != 1) return Lk;
  }
  const bool* row = mask->data<bool>();
  const int64_t step = st[3];
  if (step == 1) {
    // bools are bytes 0 and 1: memchr finds the first hidden key and any visible one after it.
    const void* hidden = std::memchr(row, 0, size_t(Lk));
    const int64_t n = hidden ? static_cast<const bool*>(hidden) - row : Lk;
    if (n == 0 || n == Lk || std::memchr(row + n, 1, size_t(Lk - n))) return Lk;
    return n;
  }
  int64_t n = 0;
  while (n < Lk && row[n * step]) ++n;
  if (n == 0 || n == Lk) return Lk;
  for (int64_t j = n; j < Lk; ++j) {
    if (row[j * step]) return Lk;
  }
  return n;
}

}  // namespace

// Attention with online softmax. float64 takes one pass over the keys per query row, rows over
// threads; the other float types use sdpa_fast, or sdpa_tiled for prompt-sized query blocks.
void cpu_sdpa(const Primitive& p, const std::vector<array>& in, std::vector<array>& out) {
  auto& ap = static_cast<const ScaledDotProductAttention&>(p);
  array& o = out[0];
  o.set_data(allocator::malloc(o.nbytes()));
  if (o.size() == 0) return;
  // Keys and values may be views into a longer KV cache buffer: sdpa_fast reads each head's rows
  // where they are (rows contiguous, any batch and head strides), so a decode step does not copy
  // the cache. float64 takes dense copies.
  auto head_rows = [&](const array& a) {
    const Strides& st = a.strides();
    const bool rows = a.ndim() == 4 && st[3] == 1 && (a.shape(2) <= 1 || st[2] == a.shape(3)) && st[0] >= 0 &&
                      st[1] >= 0 && a.dtype() != float64;
    return !rows && !a.flags().row_contiguous;
  };
  const RowContiguous q_rows(in[0], true), k_rows(in[1], head_rows(in[1]), true), v_rows(in[2], head_rows(in[2]), true);
  const array &q = *q_rows, &k = *k_rows, &v = *v_rows;
  size_t next = 3;
  const array* mask = ap.has_mask() ? &in[next++] : nullptr;
  std::optional<array> sinks;
  if (ap.has_sinks()) sinks = row_contiguous(in[next], false);
  int64_t B = q.shape(0), Hq = q.shape(1), Lq = q.shape(2), D = q.shape(3);
  int64_t Hkv = k.shape(1), Lk = k.shape(2), Dv = v.shape(3);
  int64_t rep = Hq / Hkv;
  float scale = ap.scale();
  bool causal = ap.causal();
  dispatch_float(q.dtype(), "scaled_dot_product_attention", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!std::is_same_v<T, double>) {
      const float* sk = sinks ? sinks->data<float>() : nullptr;
      if (Lq >= kTiledAttentionRows) {
        sdpa_tiled<T>(ap, q, k, v, mask, sk, o);
      } else {
        const int64_t keys = visible_prefix(mask, Lk);
        sdpa_fast<T>(ap, q, k, v, keys < Lk ? nullptr : mask, sk, keys, o);
      }
      return;
    } else {
    using C = calc_t<T>;
    const T* qp = q.data<T>();
    const T* kp = k.data<T>();
    const T* vp = v.data<T>();
    T* op = o.data<T>();
    // Keys/values widened once when 16-bit.
    std::vector<C> kf, vf;
    const C* kc;
    const C* vc;
    if constexpr (std::is_same_v<T, C>) {
      kc = kp;
      vc = vp;
    } else {
      kf.resize(k.size());
      vf.resize(v.size());
      load_row(kp, kf.data(), int64_t(k.size()));
      load_row(vp, vf.data(), int64_t(v.size()));
      kc = kf.data();
      vc = vf.data();
    }
    const bool* mb = nullptr;
    const float* mf = nullptr;
    Strides ms(4, 0);
    if (mask) {
      ms = mask->strides();
      if (mask->dtype() == bool_) mb = mask->data<bool>();
      else mf = mask->data<float>();
    }
    const float* sk = sinks ? sinks->data<float>() : nullptr;
    int64_t rows = B * Hq * Lq;
    for_rows(rows, Lk * (D + Dv), [&](int64_t r0, int64_t r1) {
      std::vector<C> qv(static_cast<size_t>(D)), acc(static_cast<size_t>(Dv));
      for (int64_t r = r0; r < r1; ++r) {
        int64_t i = r % Lq, hq = (r / Lq) % Hq, b = r / (Lq * Hq);
        int64_t hk = hq / rep;
        load_row(qp + r * D, qv.data(), D);
        for (int64_t d = 0; d < D; ++d) qv[size_t(d)] *= C(scale);
        const C* kb = kc + (b * Hkv + hk) * Lk * D;
        const C* vb = vc + (b * Hkv + hk) * Lk * Dv;
        C m = sk ? C(sk[hq]) : -std::numeric_limits<C>::infinity();
        C l = sk ? C(1) : C(0);
        std::fill(acc.begin(), acc.end(), C(0));
        int64_t jend = causal ? std::min<int64_t>(Lk, i + (Lk - Lq) + 1) : Lk;
        int64_t moff = b * ms[0] + hq * ms[1] + i * ms[2];
        for (int64_t j = 0; j < jend; ++j) {
          if (mb && !mb[moff + j * ms[3]]) continue;
          const C* kr = kb + j * D;
          C s = 0;
          if constexpr (std::is_same_v<C, float>) s = simd::dot_f32(qv.data(), kr, D);
          else for (int64_t d = 0; d < D; ++d) s += qv[size_t(d)] * kr[d];
          if (mf) s += C(mf[moff + j * ms[3]]);
          if (s == -std::numeric_limits<C>::infinity()) continue;
          const C* vr = vb + j * Dv;
          if (s > m) {
            C corr = std::exp(m - s);
            l = l * corr + C(1);
            for (int64_t d = 0; d < Dv; ++d) acc[size_t(d)] = acc[size_t(d)] * corr + vr[d];
            m = s;
          } else {
            C pj = std::exp(s - m);
            l += pj;
            for (int64_t d = 0; d < Dv; ++d) acc[size_t(d)] += pj * vr[d];
          }
        }
        C inv = C(1) / l;
        for (int64_t d = 0; d < Dv; ++d) acc[size_t(d)] *= inv;
        store_row(acc.data(), op + r * Dv, Dv);
      }
    });
    }
  });
}

}  // namespace tessera
