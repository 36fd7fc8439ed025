// Fused affine-quantization kernels for the CPU. Matrix-vector products unpack one group at a
// time and dot it with x (threads split the output rows); matrix-matrix products dequantize
// tiles of w into a float32 scratch and hand each tile to cblas_sgemm. The whole matrix is
// never dequantized at once.
#include "backend/cpu/quantized_kernels.h"

#include <cblas.h>
#ifdef TESSERA_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "backend/common/layout.h"
#include "core/convert.h"
#include "core/thread_pool.h"
#include "primitives/quantized.h"

namespace tessera {

namespace {

// Row-major C = alpha * op(A) @ op(B) + beta * C: oneDNN's sgemm where built with it (much
// faster than OpenBLAS's generic core on CPUs it does not recognise), else cblas.
void sgemm_rm(bool ta, bool tb, int M, int N, int K, const float* A, int lda, const float* B, int ldb, float beta,
              float* C, int ldc) {
#ifdef TESSERA_HAVE_DNNL
  if (dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, 1.f, A, lda, B, ldb, beta, C, ldc) == dnnl_success) return;
#endif
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 1.f, A, lda, B,
              ldb, beta, C, ldc);
}

// Row-contiguous float32 copy of any float array.
std::vector<float> to_f32(const array& a) {
  std::vector<float> v(a.size());
  if (a.size() == 0) return v;
  if (is_row_contiguous(a)) {
    copy_convert(a.raw_data(), a.dtype(), v.data(), float32, a.size());
  } else {
    array c(a.shape(), a.dtype(), nullptr, {});
    copy_to_row_contiguous(a, c, true);
    copy_convert(c.raw_data(), a.dtype(), v.data(), float32, a.size());
  }
  return v;
}

// Row-contiguous uint32 words (a view when already so).
struct Words {
  array holder;
  const uint32_t* ptr;
};
Words contiguous_words(const array& a) {
  if (is_row_contiguous(a)) return {a, a.data<uint32_t>()};
  array c(a.shape(), a.dtype(), nullptr, {});
  copy_to_row_contiguous(a, c, true);
  return {c, c.data<uint32_t>()};
}

// Unpacks n values (n * bits a multiple of 32) of a little-endian bit stream into floats.
template <int B>
inline void unpack(const uint32_t* w, int n, float* q) {
  constexpr uint32_t mask = (1u << B) - 1;
  if constexpr (32 % B == 0) {
    constexpr int epw = 32 / B;
    for (int i = 0; i < n / epw; ++i) {
      uint32_t v = w[i];
      for (int k = 0; k < epw; ++k) q[i * epw + k] = float((v >> (k * B)) & mask);
    }
  } else {
    for (int j = 0; j < n; ++j) {
      int p = j * B, word = p >> 5, sh = p & 31;
      uint32_t v = w[word] >> sh;
      if (sh + B > 32) v |= w[word + 1] << (32 - sh);
      q[j] = float(v & mask);
    }
  }
}

void unpack_bits(int bits, const uint32_t* w, int n, float* q) {
  switch (bits) {
    case 2: return unpack<2>(w, n, q);
    case 3: return unpack<3>(w, n, q);
    case 4: return unpack<4>(w, n, q);
    case 5: return unpack<5>(w, n, q);
    case 6: return unpack<6>(w, n, q);
    default: return unpack<8>(w, n, q);
  }
}

// Dequantizes one row of `cols` values.
void dequant_row(const uint32_t* w, const float* sc, const float* bi, int cols, int gs, int bits, float* out) {
  int wpg = gs * bits / 32;
  for (int g = 0; g < cols / gs; ++g) {
    float* o = out + int64_t(g) * gs;
    unpack_bits(bits, w + int64_t(g) * wpg, gs, o);
    float s = sc[g], b = bi[g];
    for (int j = 0; j < gs; ++j) o[j] = o[j] * s + b;
  }
}

// Dot of one group of power-of-two-bit values with x permuted so that xp[k * W + i] is the
// value in slot k of word i (W words per group). Lanes of 8 words vectorize.
template <int B, int L>
inline float dot_lanes(const uint32_t* w, const float* xp, int W) {
  constexpr uint32_t mask = (1u << B) - 1;
  constexpr int epw = 32 / B;
  float total = 0.f;
  for (int i0 = 0; i0 < W; i0 += L) {
    float acc[L] = {};
    for (int k = 0; k < epw; ++k) {
      const float* xk = xp + k * W + i0;
      for (int i = 0; i < L; ++i) acc[i] += float((w[i0 + i] >> (k * B)) & mask) * xk[i];
    }
    for (int i = 0; i < L; ++i) total += acc[i];
  }
  return total;
}

template <int B>
__attribute__((target_clones("avx512f", "avx2", "default"))) float dot_group_p2(const uint32_t* w, const float* xp,
                                                                                int W) {
  if (W % 16 == 0) return dot_lanes<B, 16>(w, xp, W);
  if (W % 8 == 0) return dot_lanes<B, 8>(w, xp, W);
  if (W % 4 == 0) return dot_lanes<B, 4>(w, xp, W);
  return dot_lanes<B, 1>(w, xp, W);
}

__attribute__((target_clones("avx512f", "avx2", "default"))) float dot_f32(const float* a, const float* b, int n) {
  float acc[16] = {};
  int j = 0;
  for (; j + 16 <= n; j += 16)
    for (int i = 0; i < 16; ++i) acc[i] += a[j + i] * b[j + i];
  float t = 0.f;
  for (; j < n; ++j) t += a[j] * b[j];
  for (int i = 0; i < 16; ++i) t += acc[i];
  return t;
}

// One output of a matrix-vector product for power-of-two bits: the whole row of groups in one
// multiversioned function so the group dot inlines.
template <int B>
__attribute__((target_clones("avx512f", "avx2", "default"))) float row_dot_p2(const uint32_t* w, const float* xp,
                                                                              const float* sc, const float* bi,
                                                                              const float* xsum, int G, int gs) {
  const int W = gs * B / 32;
  float acc = 0.f;
  for (int g = 0; g < G; ++g) {
    float d;
    if (W % 16 == 0) d = dot_lanes<B, 16>(w + g * W, xp + g * gs, W);
    else if (W % 8 == 0) d = dot_lanes<B, 8>(w + g * W, xp + g * gs, W);
    else if (W % 4 == 0) d = dot_lanes<B, 4>(w + g * W, xp + g * gs, W);
    else d = dot_lanes<B, 1>(w + g * W, xp + g * gs, W);
    acc += sc[g] * d + bi[g] * xsum[g];
  }
  return acc;
}

float row_dot(int bits, const uint32_t* w, const float* xp, const float* sc, const float* bi, const float* xsum, int G,
              int gs) {
  switch (bits) {
    case 2: return row_dot_p2<2>(w, xp, sc, bi, xsum, G, gs);
    case 4: return row_dot_p2<4>(w, xp, sc, bi, xsum, G, gs);
    default: return row_dot_p2<8>(w, xp, sc, bi, xsum, G, gs);
  }
}

float dot_group(int bits, const uint32_t* w, const float* xp, const float* x, float* scratch, int gs) {
  int W = gs * bits / 32;
  switch (bits) {
    case 2: return dot_group_p2<2>(w, xp, W);
    case 4: return dot_group_p2<4>(w, xp, W);
    case 8: return dot_group_p2<8>(w, xp, W);
    default: unpack_bits(bits, w, gs, scratch); return dot_f32(scratch, x, gs);
  }
}

// One product: x [M, K] (float32) with quantized w; out [M, N] float32.
void qmm_single(const float* x, const uint32_t* w, const float* sc, const float* bi, float* out, int M, int N, int K,
                int gs, int bits, bool transpose) {
  int G = (transpose ? K : N) / gs;
  int64_t wcols = int64_t(transpose ? K : N) * bits / 32;
  if (transpose && M < 8) {
    // Matrix-vector: per-row x group sums and (for power-of-two bits) the permuted x.
    bool p2 = 32 % bits == 0;
    int epw = 32 / bits, W = gs * bits / 32;
    std::vector<float> xsum(size_t(M) * G), xp(p2 ? size_t(M) * K : 0);
    for (int m = 0; m < M; ++m) {
      const float* xm = x + int64_t(m) * K;
      for (int g = 0; g < G; ++g) {
        float t = 0.f;
        for (int j = 0; j < gs; ++j) t += xm[g * gs + j];
        xsum[size_t(m) * G + g] = t;
        if (p2) {
          float* d = xp.data() + size_t(m) * K + size_t(g) * gs;
          for (int i = 0; i < W; ++i)
            for (int k = 0; k < epw; ++k) d[k * W + i] = xm[g * gs + i * epw + k];
        }
      }
    }
    int64_t grain = std::max<int64_t>(16, int64_t(1 << 20) / std::max<int64_t>(1, int64_t(K) * M));
    parallel_for(N, std::min<int64_t>(grain, 256), [&](int64_t n0, int64_t n1) {
      std::vector<float> scratch(gs);
      for (int64_t n = n0; n < n1; ++n) {
        const uint32_t* wr = w + n * wcols;
        const float* sr = sc + n * G;
        const float* br = bi + n * G;
        for (int m = 0; m < M; ++m) {
          const float* xm = x + int64_t(m) * K;
          const float* xpm = p2 ? xp.data() + size_t(m) * K : nullptr;
          if (p2) {
            out[int64_t(m) * N + n] = row_dot(bits, wr, xpm, sr, br, xsum.data() + size_t(m) * G, G, gs);
            continue;
          }
          float acc = 0.f;
          for (int g = 0; g < G; ++g) {
            float d = dot_group(bits, wr + int64_t(g) * W, p2 ? xpm + int64_t(g) * gs : nullptr, xm + int64_t(g) * gs,
                                scratch.data(), gs);
            acc += sr[g] * d + br[g] * xsum[size_t(m) * G + g];
          }
          out[int64_t(m) * N + n] = acc;
        }
      }
    });
    return;
  }
  // Tiles of T rows of w, dequantized into float32 and multiplied with sgemm.
  int rows = transpose ? N : K, cols = transpose ? K : N;
  const int T = 512;
  std::vector<float> tile(size_t(std::min(T, rows)) * cols);
  for (int r0 = 0; r0 < rows; r0 += T) {
    int t = std::min(T, rows - r0);
    // Dequantized on this thread: OpenBLAS's threads spin between calls, and a second pool
    // fighting them over two cores costs more than the dequantization itself.
    [&](int64_t a, int64_t b) {
      for (int64_t r = a; r < b; ++r) {
        dequant_row(w + (r0 + r) * wcols, sc + (r0 + r) * G, bi + (r0 + r) * G, cols, gs, bits,
                    tile.data() + r * cols);
      }
    }(0, t);
    if (transpose) {
      sgemm_rm(false, true, M, t, K, x, K, tile.data(), K, 0.f, out + r0, N);
    } else {
      sgemm_rm(false, false, M, N, t, x + r0, K, tile.data(), N, r0 == 0 ? 0.f : 1.f, out, N);
    }
  }
  if (rows == 0 && M > 0 && N > 0) std::memset(out, 0, sizeof(float) * size_t(M) * N);
}

void finish(std::vector<float>& res, array& out) {
  out.set_data(allocator::malloc(out.nbytes()));
  copy_convert(res.data(), float32, out.raw_data(), out.dtype(), out.size());
}

}  // namespace

void cpu_affine_quantize(const Primitive& p, const std::vector<array>& in, std::vector<array>& out) {
  auto& q = static_cast<const AffineQuantize&>(p);
  int gs = q.group_size(), bits = q.bits();
  if (q.is_dequantize()) {
    Words w = contiguous_words(in[0]);
    std::vector<float> sc = to_f32(in[1]), bi = to_f32(in[2]);
    int cols = out[0].shape(-1);
    int64_t rows = cols ? int64_t(out[0].size()) / cols : 0;
    int64_t wcols = int64_t(cols) * bits / 32, G = cols / gs;
    std::vector<float> res(out[0].size());
    parallel_for(rows, std::max<int64_t>(1, 4096 / std::max(1, cols)), [&](int64_t a, int64_t b) {
      for (int64_t r = a; r < b; ++r)
        dequant_row(w.ptr + r * wcols, sc.data() + r * G, bi.data() + r * G, cols, gs, bits, res.data() + r * cols);
    });
    finish(res, out[0]);
    return;
  }
  std::vector<float> x = to_f32(in[0]);
  int64_t ngroups = int64_t(x.size()) / gs;
  int wpg = gs * bits / 32;
  out[0].set_data(allocator::malloc(out[0].nbytes()));
  uint32_t* wq = out[0].data<uint32_t>();
  std::vector<float> sc(ngroups), bi(ngroups);
  const float n_bins = float((1 << bits) - 1), eps = 1e-7f;
  parallel_for(ngroups, 256, [&](int64_t a, int64_t b) {
    for (int64_t g = a; g < b; ++g) {
      const float* xg = x.data() + g * gs;
      float wmax = -INFINITY, wmin = INFINITY;
      for (int j = 0; j < gs; ++j) {
        wmax = std::max(wmax, xg[j]);
        wmin = std::min(wmin, xg[j]);
      }
      bool mask = std::fabs(wmin) > std::fabs(wmax);
      float scale = std::max((wmax - wmin) / n_bins, eps);
      scale = mask ? scale : -scale;
      float edge = mask ? wmin : wmax;
      float q0 = std::nearbyint(edge / scale);
      float bias = 0.f;
      if (q0 != 0.f) {
        scale = edge / q0;
        bias = edge;
      }
      sc[g] = scale;
      bi[g] = bias;
      uint32_t* o = wq + g * wpg;
      std::memset(o, 0, sizeof(uint32_t) * wpg);
      for (int j = 0; j < gs; ++j) {
        float v = std::nearbyint((xg[j] - bias) / scale);
        v = std::min(std::max(v, 0.f), n_bins);
        uint32_t u = uint32_t(v);
        int pbit = j * bits, word = pbit >> 5, sh = pbit & 31;
        o[word] |= u << sh;
        if (sh + bits > 32) o[word + 1] |= u >> (32 - sh);
      }
    }
  });
  finish(sc, out[1]);
  finish(bi, out[2]);
}

void cpu_quantized_matmul(const Primitive& p, const std::vector<array>& in, std::vector<array>& out) {
  auto& q = static_cast<const QuantizedMatmul&>(p);
  array& o = out[0];
  int M = o.shape(-2), N = o.shape(-1), K = in[0].shape(-1);
  int64_t B = (int64_t(M) * N) ? int64_t(o.size()) / (int64_t(M) * N) : 0;
  std::vector<float> x = to_f32(in[0]), sc = to_f32(in[2]), bi = to_f32(in[3]);
  Words w = contiguous_words(in[1]);
  std::vector<float> res(o.size());
  int64_t wsz = int64_t(in[1].shape(-2)) * in[1].shape(-1), ssz = int64_t(in[2].shape(-2)) * in[2].shape(-1);
  for (int64_t b = 0; b < B; ++b) {
    qmm_single(x.data() + b * M * K, w.ptr + b * wsz, sc.data() + b * ssz, bi.data() + b * ssz,
               res.data() + b * M * N, M, N, K, q.group_size(), q.bits(), q.transpose());
  }
  finish(res, o);
}

void cpu_gather_qmm(const Primitive& p, const std::vector<array>& in, std::vector<array>& out) {
  auto& q = static_cast<const GatherQMM&>(p);
  array& o = out[0];
  int M = o.shape(-2), N = o.shape(-1), K = in[0].shape(-1);
  std::vector<float> x = to_f32(in[0]), sc = to_f32(in[2]), bi = to_f32(in[3]);
  Words w = contiguous_words(in[1]);
  Words li = contiguous_words(in[4]), ri = contiguous_words(in[5]);
  int64_t B = int64_t(in[4].size());
  int64_t bx = in[0].shape(0), bw = in[1].shape(0);
  int64_t wsz = int64_t(in[1].shape(-2)) * in[1].shape(-1), ssz = int64_t(in[2].shape(-2)) * in[2].shape(-1);
  std::vector<float> res(o.size());
  for (int64_t b = 0; b < B; ++b) {
    int64_t l = li.ptr[b], r = ri.ptr[b];
    if (l >= bx || r >= bw) {
      throw std::out_of_range("[gather_qmm] index out of range: lhs " + std::to_string(l) + " of " +
                              std::to_string(bx) + ", rhs " + std::to_string(r) + " of " + std::to_string(bw) + ".");
    }
    qmm_single(x.data() + l * M * K, w.ptr + r * wsz, sc.data() + r * ssz, bi.data() + r * ssz,
               res.data() + b * M * N, M, N, K, q.group_size(), q.bits(), q.transpose());
  }
  finish(res, o);
}

}  // namespace tessera
