// Fused CPU kernels: one pass structure per row, rows split across threads. 16-bit floats are
// widened to float32 per row; float64 computes in double.
#include "backend/cpu/fast_kernels.h"

#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "backend/common/axis_rows.h"
#include "backend/cpu/simd.h"
#include "core/dispatch.h"
#include "core/thread_pool.h"
#include "primitives/fast.h"

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

}  // namespace

void cpu_softmax(const Primitive&, const std::vector<array>& in, std::vector<array>& out) {
  array& o = out[0];
  o.set_data(allocator::malloc(o.nbytes()));
  if (o.size() == 0) return;
  array x = row_contiguous(in[0], true);
  int64_t n = x.shape(-1), rows = int64_t(x.size()) / n;
  dispatch_float(x.dtype(), "softmax", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = calc_t<T>;
    const T* src = x.data<T>();
    T* dst = o.data<T>();
    for_rows(rows, n, [&](int64_t r0, int64_t r1) {
      std::vector<C> buf(std::is_same_v<T, C> ? 0 : static_cast<size_t>(n));
      for (int64_t r = r0; r < r1; ++r) {
        if constexpr (std::is_same_v<T, float>) {
          simd::softmax_f32(src + r * n, dst + r * n, n);
        } else if constexpr (std::is_same_v<T, double>) {
          softmax_row_scalar<double>(src + r * n, dst + r * n, n);
        } else {
          load_row(src + r * n, buf.data(), n);
          simd::softmax_f32(buf.data(), buf.data(), n);
          store_row(buf.data(), dst + r * n, n);
        }
      }
    });
  });
}

void cpu_rms_norm(const Primitive& p, const std::vector<array>& in, std::vector<array>& out) {
  float eps = static_cast<const RMSNorm&>(p).eps();
  array& o = out[0];
  o.set_data(allocator::malloc(o.nbytes()));
  if (o.size() == 0) return;
  array x = row_contiguous(in[0], true), w = row_contiguous(in[1], true);
  int64_t n = x.shape(-1), rows = int64_t(x.size()) / n;
  dispatch_float(x.dtype(), "rms_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = calc_t<T>;
    const T* src = x.data<T>();
    T* dst = o.data<T>();
    std::vector<C> wf(static_cast<size_t>(n));
    load_row(w.data<T>(), wf.data(), n);
    for_rows(rows, n, [&](int64_t r0, int64_t r1) {
      std::vector<C> buf(static_cast<size_t>(n));
      for (int64_t r = r0; r < r1; ++r) {
        if constexpr (std::is_same_v<T, float>) {
          const float* xr = src + r * n;
          float inv = 1.0f / std::sqrt(simd::dot_f32(xr, xr, n) / float(n) + eps);
          float* orow = dst + r * n;
          const float* wp = wf.data();
          for (int64_t i = 0; i < n; ++i) orow[i] = xr[i] * inv * wp[i];
          continue;
        }
        load_row(src + r * n, buf.data(), n);
        C ss = 0;
        if constexpr (std::is_same_v<C, float>) ss = simd::dot_f32(buf.data(), buf.data(), n);
        else for (int64_t i = 0; i < n; ++i) ss += buf[size_t(i)] * buf[size_t(i)];
        C inv = C(1) / std::sqrt(ss / C(n) + C(eps));
        for (int64_t i = 0; i < n; ++i) buf[size_t(i)] = buf[size_t(i)] * inv * wf[size_t(i)];
        store_row(buf.data(), dst + r * n, n);
      }
    });
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
    for_rows(rows, n, [&](int64_t r0, int64_t r1) {
      std::vector<C> buf(static_cast<size_t>(n));
      for (int64_t r = r0; r < r1; ++r) {
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
  array x = row_contiguous(in[0], true);
  int offset = row_contiguous(in[1], false).data<int32_t>()[0];
  array invf = row_contiguous(in[2], false);
  const float* inv = invf.data<float>();
  int64_t D = x.shape(-1), L = x.shape(-2), rows = int64_t(x.size()) / D;
  int64_t h = rp.dims() / 2;
  float scale = rp.scale();
  bool trad = rp.traditional();
  dispatch_float(x.dtype(), "rope", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = calc_t<T>;
    const T* src = x.data<T>();
    T* dst = o.data<T>();
    for_rows(rows, D, [&](int64_t r0, int64_t r1) {
      std::vector<C> buf(static_cast<size_t>(D));
      for (int64_t r = r0; r < r1; ++r) {
        float pos = float(offset + int(r % L));
        load_row(src + r * D, buf.data(), D);
        for (int64_t i = 0; i < h; ++i) {
          float th = (pos * inv[i]) * scale;
          C c = C(std::cos(th)), s = C(std::sin(th));
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

// Attention with online softmax: one pass over the keys per query row, rows over threads.
void cpu_sdpa(const Primitive& p, const std::vector<array>& in, std::vector<array>& out) {
  auto& ap = static_cast<const ScaledDotProductAttention&>(p);
  array& o = out[0];
  o.set_data(allocator::malloc(o.nbytes()));
  if (o.size() == 0) return;
  array q = row_contiguous(in[0], true), k = row_contiguous(in[1], true), v = row_contiguous(in[2], true);
  size_t next = 3;
  const array* mask = ap.has_mask() ? &in[next++] : nullptr;
  array sinks = ap.has_sinks() ? row_contiguous(in[next], false) : array(0.0f);
  int64_t B = q.shape(0), Hq = q.shape(1), Lq = q.shape(2), D = q.shape(3);
  int64_t Hkv = k.shape(1), Lk = k.shape(2), Dv = v.shape(3);
  int64_t rep = Hq / Hkv;
  float scale = ap.scale();
  bool causal = ap.causal();
  dispatch_float(q.dtype(), "scaled_dot_product_attention", [&](auto tag) {
    using T = typename decltype(tag)::type;
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
    const float* sk = ap.has_sinks() ? sinks.data<float>() : nullptr;
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
  });
}

}  // namespace tessera
