// Convolution on the CPU: im2col into a scratch tile + GEMM (oneDNN's sgemm when available,
// else cblas). Output rows (batch x output positions) are cut into tiles that bound the scratch;
// each tile's im2col is split across threads and its GEMM runs on the BLAS library's threads.
// 16-bit floats compute in float32, float64 in double. Depthwise-style convolutions (one input
// channel per group) skip im2col and the GEMM: each output pixel accumulates its taps' input
// pixels times the tap's weights, vectorized over channels.
#include "backend/cpu/conv_kernels.h"

#include <cblas.h>
#ifdef TESSERA_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "backend/common/layout.h"
#include "core/convert.h"
#include "core/thread_pool.h"
#include "primitives/conv.h"

namespace tessera {

namespace {

// C[M, N] (leading dim ldc) = A[M, K] (lda) @ B^T, B stored [N, K] (ldb).
void gemm_nt(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
             int64_t ldc) {
#ifdef TESSERA_HAVE_DNNL
  if (M * N * K >= 64 * 64 * 64) {
    if (dnnl_sgemm('N', 'T', M, N, K, 1.f, A, lda, B, ldb, 0.f, C, ldc) == dnnl_success) return;
  }
#endif
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(M), int(N), int(K), 1.f, A, int(lda), B, int(ldb), 0.f, C,
              int(ldc));
}

void gemm_nt(int64_t M, int64_t N, int64_t K, const double* A, int64_t lda, const double* B, int64_t ldb, double* C,
             int64_t ldc) {
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(M), int(N), int(K), 1.0, A, int(lda), B, int(ldb), 0.0, C,
              int(ldc));
}

// A dense row-major copy of `a` in compute type C (no copy when it already is one).
template <typename C>
const C* dense_as(const array& a, array& holder) {
  constexpr Dtype cd = std::is_same_v<C, double> ? float64 : float32;
  if (a.dtype() == cd && is_row_contiguous(a)) return a.data<C>();
  array rc = a;
  if (!is_row_contiguous(a)) {
    rc = array(a.shape(), a.dtype(), nullptr, {});
    copy_to_row_contiguous(a, rc, true);
  }
  if (a.dtype() == cd) {
    holder = rc;
  } else {
    holder = array(a.shape(), cd, nullptr, {});
    holder.set_data(allocator::malloc(holder.nbytes()));
    copy_convert(rc.raw_data(), a.dtype(), holder.raw_data(), cd, a.size());
  }
  return holder.data<C>();
}

struct Geometry {
  int D;
  int64_t N, c_in, c_out, groups, cig, cog;
  int64_t n_pos = 1;   // output positions per image
  int64_t n_taps = 1;  // kernel taps
  int64_t in_image;    // input elements per image
  std::vector<int64_t> O, in_stride;  // output sizes; input element stride of each spatial dim
  // tap_in[d][o * K[d] + k]: input index along d read by output o, tap k; -1 for padding/dilation zeros.
  std::vector<std::vector<int64_t>> tap_in;
  std::vector<int64_t> K;
};

Geometry make_geometry(const Convolution& cp, const array& x, const array& w, const array& y) {
  Geometry g;
  g.D = int(x.ndim()) - 2;
  g.N = x.shape(0);
  g.c_in = x.shape(-1);
  g.c_out = w.shape(0);
  g.groups = cp.groups();
  g.cig = g.c_in / g.groups;
  g.cog = g.c_out / g.groups;
  g.O.resize(g.D);
  g.K.resize(g.D);
  g.in_stride.resize(g.D);
  g.tap_in.resize(g.D);
  int64_t s = g.c_in;
  for (int d = g.D - 1; d >= 0; --d) {
    g.in_stride[d] = s;
    s *= x.shape(1 + d);
  }
  g.in_image = s;
  for (int d = 0; d < g.D; ++d) {
    int64_t L = x.shape(1 + d), K = w.shape(1 + d), O = y.shape(1 + d);
    g.O[d] = O;
    g.K[d] = K;
    g.n_pos *= O;
    g.n_taps *= K;
    auto& t = g.tap_in[d];
    t.resize(size_t(O * K));
    int64_t idil = cp.input_dilation()[d];
    for (int64_t o = 0; o < O; ++o) {
      for (int64_t k = 0; k < K; ++k) {
        int64_t tap = cp.flip() ? K - 1 - k : k;
        int64_t pos = o * cp.stride()[d] - cp.padding_lo()[d] + tap * cp.kernel_dilation()[d];
        t[size_t(o * K + k)] = (pos < 0 || pos % idil != 0 || pos / idil >= L) ? -1 : pos / idil;
      }
    }
  }
  return g;
}

// For output row m (image n, output position p): the element offset of image n, and for each
// kernel tap the offset of the input pixel it reads within the image (-1: padding or a
// dilation hole).
void row_taps(const Geometry& g, int64_t m, int64_t& image_off, std::vector<int64_t>& o, std::vector<int64_t>& k,
              int64_t* tap_off) {
  const int D = g.D;
  int64_t n = m / g.n_pos, pi = m % g.n_pos;
  image_off = n * g.in_image;
  for (int d = D - 1; d >= 0; --d) {
    o[d] = pi % g.O[d];
    pi /= g.O[d];
  }
  std::fill(k.begin(), k.end(), 0);
  for (int64_t t = 0; t < g.n_taps; ++t) {
    int64_t off = 0;
    for (int d = 0; d < D; ++d) {
      int64_t i = g.tap_in[d][size_t(o[d] * g.K[d] + k[d])];
      if (i < 0) {
        off = -1;
        break;
      }
      off += i * g.in_stride[d];
    }
    tap_off[t] = off;
    for (int d = D - 1; d >= 0; --d) {  // next tap (odometer)
      if (++k[d] < g.K[d]) break;
      k[d] = 0;
    }
  }
}

// Fills `col` for output rows m0 + [r_begin, r_end): row r holds, per group, per tap, that
// group's input channels: col[r][g][tap][ci] (zeros where the tap reads padding or holes).
template <typename C>
void im2col_rows(const Geometry& g, const C* x, C* col, int64_t m0, int64_t r_begin, int64_t r_end) {
  const int64_t kc = g.n_taps * g.cig, row_len = g.groups * kc, cig = g.cig;
  std::vector<int64_t> o(size_t(g.D)), k(size_t(g.D)), taps(size_t(g.n_taps));
  for (int64_t r = r_begin; r < r_end; ++r) {
    int64_t image_off;
    row_taps(g, m0 + r, image_off, o, k, taps.data());
    C* row = col + r * row_len;
    const C* xn = x + image_off;
    for (int64_t t = 0; t < g.n_taps; ++t) {
      for (int64_t gi = 0; gi < g.groups; ++gi) {
        C* __restrict dst = row + gi * kc + t * cig;
        if (taps[size_t(t)] >= 0) {
          const C* __restrict src = xn + taps[size_t(t)] + gi * cig;
          for (int64_t c = 0; c < cig; ++c) dst[c] = src[c];
        } else {
          for (int64_t c = 0; c < cig; ++c) dst[c] = C(0);
        }
      }
    }
  }
}

// One input channel per group (depthwise, with channel multiplier cog): per output row, add
// each valid tap's input pixel times that tap's weights, vectorized over output channels.
// wt: the weights as [tap][C_out].
template <typename C>
void depthwise_rows(const Geometry& g, const C* x, const C* wt, C* y, int64_t m_begin, int64_t m_end) {
  const int64_t c_out = g.c_out, cog = g.cog;
  std::vector<int64_t> o(size_t(g.D)), k(size_t(g.D)), taps(size_t(g.n_taps));
  for (int64_t m = m_begin; m < m_end; ++m) {
    int64_t image_off;
    row_taps(g, m, image_off, o, k, taps.data());
    C* __restrict yr = y + m * c_out;
    for (int64_t co = 0; co < c_out; ++co) yr[co] = C(0);
    for (int64_t t = 0; t < g.n_taps; ++t) {
      if (taps[size_t(t)] < 0) continue;
      const C* __restrict xp = x + image_off + taps[size_t(t)];
      const C* __restrict wr = wt + t * c_out;
      if (cog == 1) {
        for (int64_t co = 0; co < c_out; ++co) yr[co] += xp[co] * wr[co];
      } else {
        for (int64_t co = 0; co < c_out; ++co) yr[co] += xp[co / cog] * wr[co];
      }
    }
  }
}

template <typename C>
void conv_compute(const Convolution& cp, const Geometry& g, const C* x, const C* w, C* y) {
  const int64_t M = g.N * g.n_pos;
  const int64_t kc = g.n_taps * g.cig;
  if (M == 0 || g.c_out == 0) return;
  if (kc == 0) {
    std::memset(y, 0, size_t(M * g.c_out) * sizeof(C));
    return;
  }
  bool pointwise = true;
  for (int d = 0; d < g.D; ++d) {
    pointwise = pointwise && g.K[d] == 1 && cp.stride()[d] == 1 && cp.padding_lo()[d] == 0 &&
                cp.padding_hi()[d] == 0 && cp.input_dilation()[d] == 1;
  }
  if (pointwise) {
    // 1x1 convolution: the input already is the im2col matrix.
    for (int64_t gi = 0; gi < g.groups; ++gi) {
      gemm_nt(M, g.cog, g.cig, x + gi * g.cig, g.c_in, w + gi * g.cog * kc, kc, y + gi * g.cog, g.c_out);
    }
    return;
  }
  const int64_t row_len = g.groups * kc;
  constexpr int64_t kWork = 1 << 14;
  const int64_t grain = std::max<int64_t>(1, kWork / row_len);
  if (g.cig == 1 && g.groups > 1) {
    std::vector<C> wt(static_cast<size_t>(g.n_taps * g.c_out));
    for (int64_t co = 0; co < g.c_out; ++co) {
      for (int64_t t = 0; t < g.n_taps; ++t) wt[size_t(t * g.c_out + co)] = w[co * g.n_taps + t];
    }
    const int64_t dw_grain = std::max<int64_t>(1, kWork / std::max<int64_t>(1, g.n_taps * g.c_out));
    parallel_for(M, dw_grain, [&](int64_t b, int64_t e) { depthwise_rows(g, x, wt.data(), y, b, e); });
    return;
  }
  // Tiles of output rows; the scratch holds at most ~16 MiB of float32.
  constexpr int64_t kScratch = int64_t(1) << 22;
  const int64_t tile = std::clamp<int64_t>(kScratch / row_len, 1, M);
  // From the library's allocator: its cache hands back warm pages (a fresh 16 MiB vector would
  // be zeroed and faulted in on every call).
  struct Scratch {
    allocator::Buffer buf;
    explicit Scratch(size_t bytes) : buf(allocator::malloc(bytes)) {}
    ~Scratch() { allocator::free(buf); }
  } scratch(size_t(tile * row_len) * sizeof(C));
  C* col = static_cast<C*>(scratch.buf.raw_ptr());
  for (int64_t m0 = 0; m0 < M; m0 += tile) {
    const int64_t mt = std::min(tile, M - m0);
    if (mt * row_len >= 2 * kWork) {
      parallel_for(mt, grain, [&](int64_t b, int64_t e) { im2col_rows(g, x, col, m0, b, e); });
    } else {
      im2col_rows(g, x, col, m0, 0, mt);
    }
    for (int64_t gi = 0; gi < g.groups; ++gi) {
      gemm_nt(mt, g.cog, kc, col + gi * kc, row_len, w + gi * g.cog * kc, kc, y + m0 * g.c_out + gi * g.cog,
              g.c_out);
    }
  }
}

}  // namespace

void cpu_conv(const Primitive& p, const std::vector<array>& in, std::vector<array>& out) {
  auto& cp = static_cast<const Convolution&>(p);
  const array& x = in[0];
  const array& w = in[1];
  array& y = out[0];
  y.set_data(allocator::malloc(y.nbytes()));
  Dtype d = y.dtype();
  if (d != float32 && d != float64 && d != float16 && d != bfloat16) {
    throw std::invalid_argument(std::string("[conv] has no CPU kernel for ") + dtype_name(d));
  }
  Geometry g = make_geometry(cp, x, w, y);
  array xh = x, wh = w;
  if (d == float64) {
    const double* px = dense_as<double>(x, xh);
    const double* pw = dense_as<double>(w, wh);
    conv_compute(cp, g, px, pw, y.data<double>());
    return;
  }
  const float* px = dense_as<float>(x, xh);
  const float* pw = dense_as<float>(w, wh);
  if (d == float32) {
    conv_compute(cp, g, px, pw, y.data<float>());
    return;
  }
  array y32(y.shape(), float32, nullptr, {});
  y32.set_data(allocator::malloc(y32.nbytes()));
  conv_compute(cp, g, px, pw, y32.data<float>());
  copy_convert(y32.raw_data(), float32, y.raw_data(), d, y.size());
}

}  // namespace tessera
