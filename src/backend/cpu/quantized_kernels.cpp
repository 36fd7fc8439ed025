// Fused affine-quantization kernels for the CPU. Matrix-vector products (M < 8, transposed w)
// run Highway SIMD kernels for 2/4/8 bits: 16 packed words (for 4 bits, 128 values) per
// vector, every field extracted with a shift (and a permute-as-lookup on AVX-512) and FMA'd
// against x pre-arranged into the order the fields come out; several rows share each x load,
// scales apply per group and biases through precomputed group sums of x. Threads split the
// output rows. Matrix-matrix products dequantize tiles of w into a float32 scratch and hand
// each tile to sgemm. The whole matrix is never dequantized at once.
#include "backend/cpu/thread_scratch.h"
#include "backend/cpu/quantized_kernels.h"
#include "backend/cpu/quantized_matvec.h"

#include <cstdint>
#include <utility>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backend/cpu/quantized_kernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
// GCC builds AVX-512, AVX2 and baseline clones of these generic fallback loops and picks one at
// load time; clang (used for the fuzzing build) cannot clone templates, so it gets one version.
#if defined(__clang__)
#define TESSERA_MULTIVERSION
#else
#define TESSERA_MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))
#endif

namespace tessera::qkern {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#if HWY_HAVE_SCALABLE
// Sizeless vectors cannot live in arrays: no kernels here (callers take the generic path).
size_t QLanes() { return 0; }
void QmvPrepare(int, const float*, int64_t, float*) {}
void DequantRow(int, const uint32_t*, const float*, const float*, int64_t, int, float*) {}
void DequantRowBf16(int, const uint32_t*, const float*, const float*, int64_t, int, uint16_t*) {}
void QmvRows(int, const uint32_t*, int64_t, const float*, const float*, int, int, const float*, const float*, int,
             int64_t, float*, int64_t, int64_t, int64_t) {}
#else
using DF = hn::ScalableTag<float>;
using DU = hn::RebindToUnsigned<DF>;
using DI = hn::RebindToSigned<DF>;
using VF = hn::Vec<DF>;
using VU = hn::Vec<DU>;

size_t QLanes() { return hn::Lanes(DF()); }

// Field k (B bits wide) of each lane's word, as a float.
template <int B, int k>
HWY_INLINE VF Field(VU w, VF table) {
  const DF df;
  const DU du;
  const DI di;
  constexpr int sh = k * B;
  const VU s = hn::ShiftRight<sh>(w);
  if constexpr (sh + B == 32) {
    (void)du;
    (void)table;
    return hn::ConvertTo(df, hn::BitCast(di, s));
  } else {
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
    // vpermps reads only the low 4 bits of each index: a 16-entry lookup does mask + convert.
    if constexpr (B <= 4) return VF{_mm512_permutexvar_ps(s.raw, table.raw)};
#endif
    (void)table;
    return hn::ConvertTo(df, hn::BitCast(di, hn::And(s, hn::Set(du, (1u << B) - 1))));
  }
}

template <int B, int R, int MM, bool First, int k>
HWY_INLINE void FieldStep(const VU* wv, VF table, const float* xb, int64_t K, int64_t L, VF (*acc)[MM]) {
  const DF df;
  VF q[R];
  for (int r = 0; r < R; ++r) q[r] = Field<B, k>(wv[r], table);
  for (int m = 0; m < MM; ++m) {
    const VF xv = hn::LoadU(df, xb + m * K + k * L);
    for (int r = 0; r < R; ++r) {
      if constexpr (First && k == 0) {
        acc[r][m] = hn::Mul(q[r], xv);
      } else {
        acc[r][m] = hn::MulAdd(q[r], xv, acc[r][m]);
      }
    }
  }
}

// acc[r][m] (+)= sum over the F fields of one block of L words per row.
template <int B, int R, int MM, bool First, int... ks>
HWY_INLINE void AllFields(std::integer_sequence<int, ks...>, const uint32_t* w, int64_t wcols, VF table,
                          const float* xb, int64_t K, int64_t L, VF (*acc)[MM]) {
  const DU du;
  VU wv[R];
  for (int r = 0; r < R; ++r) wv[r] = hn::LoadU(du, w + r * wcols);
  (FieldStep<B, R, MM, First, ks>(wv, table, xb, K, L, acc), ...);
}

// dots[r * MM + m] = sum over groups of scale * (q . x) for R rows of power-of-two-bit words
// (row stride wcols) against MM field-ordered x rows (stride K). NG groups per vector of
// words (NG == 1: W, the words per group, is a multiple of the lanes).
template <int B, int R, int MM, int NG>
HWY_NOINLINE void DotRowsP2(const uint32_t* w, int64_t wcols, const float* sc, int G, int W, const float* xp,
                            int64_t K, float* dots) {
  const DF df;
  const DU du;
  const DI di;
  constexpr int F = 32 / B;
  const int64_t L = int64_t(hn::Lanes(df));
  const VF table = hn::ConvertTo(df, hn::BitCast(di, hn::And(hn::Iota(du, 0), hn::Set(du, (1u << B) - 1))));
  VF tot[R][MM];
  for (int r = 0; r < R; ++r)
    for (int m = 0; m < MM; ++m) tot[r][m] = hn::Zero(df);
  if constexpr (NG == 1) {
    const int64_t bpg = W / L;
    for (int g = 0; g < G; ++g) {
      VF acc[R][MM];
      AllFields<B, R, MM, true>(std::make_integer_sequence<int, F>(), w + g * W, wcols, table, xp + g * W * F, K, L,
                                acc);
      for (int64_t bb = 1; bb < bpg; ++bb) {
        AllFields<B, R, MM, false>(std::make_integer_sequence<int, F>(), w + g * W + bb * L, wcols, table,
                                   xp + (g * W + bb * L) * F, K, L, acc);
      }
      for (int r = 0; r < R; ++r) {
        const VF sv = hn::Set(df, sc[r * G + g]);
        for (int m = 0; m < MM; ++m) tot[r][m] = hn::MulAdd(acc[r][m], sv, tot[r][m]);
      }
    }
  } else {
    const int64_t nblk = wcols / L;
    const int64_t wg = L / NG;  // words per group
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
    // Lane i takes group i / wg: the block's NG scales loaded under a mask (AVX-512 never touches
    // the bytes past them) and spread with one permute, instead of NG broadcasts and NG - 1
    // blends per row and block (with 4-bit group 32, a third of the block's instructions).
    alignas(64) int32_t lane_group[hn::MaxLanes(DF())];
    for (int64_t i = 0; i < L; ++i) lane_group[i] = int32_t(i / wg);
    const auto spread = hn::SetTableIndices(df, lane_group);
    const auto first = hn::FirstN(df, size_t(NG));
    auto block_scales = [&](const float* s) { return hn::TableLookupLanes(hn::MaskedLoad(first, df, s), spread); };
#else
    auto block_scales = [&](const float* s) {
      VF sv = hn::Set(df, s[NG - 1]);
      for (int j = NG - 2; j >= 0; --j) sv = hn::IfThenElse(hn::FirstN(df, size_t((j + 1) * wg)), hn::Set(df, s[j]), sv);
      return sv;
    };
#endif
    for (int64_t b = 0; b < nblk; ++b) {
      VF acc[R][MM];
      AllFields<B, R, MM, true>(std::make_integer_sequence<int, F>(), w + b * L, wcols, table, xp + b * L * F, K, L,
                                acc);
      for (int r = 0; r < R; ++r) {
        const VF sv = block_scales(sc + r * G + b * NG);
        for (int m = 0; m < MM; ++m) tot[r][m] = hn::MulAdd(acc[r][m], sv, tot[r][m]);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int m = 0; m < MM; ++m) dots[r * MM + m] = hn::GetLane(hn::SumOfLanes(df, tot[r][m]));
}

template <int B, int R, int MM>
HWY_INLINE void DotRowsP2Any(const uint32_t* w, int64_t wcols, const float* sc, int G, int W, const float* xp,
                             int64_t K, float* dots) {
  const int64_t L = int64_t(hn::Lanes(DF()));
  if (W >= L) return DotRowsP2<B, R, MM, 1>(w, wcols, sc, G, W, xp, K, dots);
  switch (L / W) {
    case 2: return DotRowsP2<B, R, MM, 2>(w, wcols, sc, G, W, xp, K, dots);
    case 4: return DotRowsP2<B, R, MM, 4>(w, wcols, sc, G, W, xp, K, dots);
    case 8: return DotRowsP2<B, R, MM, 8>(w, wcols, sc, G, W, xp, K, dots);
    // 2 bits, group 16 on 16 lanes: a group per word.
    default: return DotRowsP2<B, R, MM, 16>(w, wcols, sc, G, W, xp, K, dots);
  }
}

// 8 bits: bytes are the values in order, so x needs no permutation. gs % Lanes == 0.
template <int R, int MM>
HWY_NOINLINE void DotRows8(const uint32_t* w, int64_t wcols, const float* sc, int G, int gs, const float* x,
                           int64_t K, float* dots) {
  const DF df;
  const DU du;
  const DI di;
  const hn::Rebind<uint8_t, DF> d8;
  const int64_t L = int64_t(hn::Lanes(df));
  const uint8_t* bytes = reinterpret_cast<const uint8_t*>(w);
  const int64_t bstride = wcols * 4;
  VF tot[R][MM];
  for (int r = 0; r < R; ++r)
    for (int m = 0; m < MM; ++m) tot[r][m] = hn::Zero(df);
  for (int g = 0; g < G; ++g) {
    VF acc[R][MM];
    for (int r = 0; r < R; ++r)
      for (int m = 0; m < MM; ++m) acc[r][m] = hn::Zero(df);
    for (int64_t off = int64_t(g) * gs; off < int64_t(g + 1) * gs; off += L) {
      VF q[R];
      for (int r = 0; r < R; ++r)
        q[r] = hn::ConvertTo(df, hn::BitCast(di, hn::PromoteTo(du, hn::LoadU(d8, bytes + r * bstride + off))));
      for (int m = 0; m < MM; ++m) {
        const VF xv = hn::LoadU(df, x + m * K + off);
        for (int r = 0; r < R; ++r) acc[r][m] = hn::MulAdd(q[r], xv, acc[r][m]);
      }
    }
    for (int r = 0; r < R; ++r) {
      const VF sv = hn::Set(df, sc[r * G + g]);
      for (int m = 0; m < MM; ++m) tot[r][m] = hn::MulAdd(acc[r][m], sv, tot[r][m]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int m = 0; m < MM; ++m) dots[r * MM + m] = hn::GetLane(hn::SumOfLanes(df, tot[r][m]));
}

template <int R, int MM>
HWY_INLINE void DotRows(int bits, const uint32_t* w, int64_t wcols, const float* sc, int G, int gs, const float* xp,
                        int64_t K, float* dots) {
  const int W = gs * bits / 32;
  switch (bits) {
    case 2: return DotRowsP2Any<2, R, MM>(w, wcols, sc, G, W, xp, K, dots);
    case 4: return DotRowsP2Any<4, R, MM>(w, wcols, sc, G, W, xp, K, dots);
    default: return DotRows8<R, MM>(w, wcols, sc, G, gs, xp, K, dots);
  }
}

// sum_g a[g] * b[g]
HWY_INLINE float DotShort(const float* a, const float* b, int n) {
  const DF df;
  const int L = int(hn::Lanes(df));
  VF acc = hn::Zero(df);
  int i = 0;
  for (; i + L <= n; i += L) acc = hn::MulAdd(hn::LoadU(df, a + i), hn::LoadU(df, b + i), acc);
  float s = hn::GetLane(hn::SumOfLanes(df, acc));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

template <int R, int MM>
HWY_INLINE void RowsChunk(int bits, const uint32_t* w, int64_t wcols, const float* sc, const float* bi, int G, int gs,
                          const float* xp, const float* xsum, int m0, int64_t K, float* out, int64_t N, int64_t n) {
  float dots[R * MM];
  DotRows<R, MM>(bits, w + n * wcols, wcols, sc + n * G, G, gs, xp + m0 * K, K, dots);
  for (int r = 0; r < R; ++r)
    for (int m = 0; m < MM; ++m)
      out[(m0 + m) * N + n + r] = dots[r * MM + m] + DotShort(bi + (n + r) * G, xsum + (m0 + m) * G, G);
}

template <int MM>
HWY_INLINE void RowsM(int bits, const uint32_t* w, int64_t wcols, const float* sc, const float* bi, int G, int gs,
                      const float* xp, const float* xsum, int m0, int64_t K, float* out, int64_t N, int64_t n0,
                      int64_t n1) {
  constexpr int R = MM == 1 ? 4 : MM == 2 ? 2 : 1;
  int64_t n = n0;
  for (; n + R <= n1; n += R) RowsChunk<R, MM>(bits, w, wcols, sc, bi, G, gs, xp, xsum, m0, K, out, N, n);
  for (; n < n1; ++n) RowsChunk<1, MM>(bits, w, wcols, sc, bi, G, gs, xp, xsum, m0, K, out, N, n);
}

// Rows [n0, n1) of out[M, N] = x @ dequantize(w).T for bits 2/4/8; xp from QmvPrepare (bits
// 2/4) or x itself (8), xsum[m * G + g] the group sums of x.
void QmvRows(int bits, const uint32_t* w, int64_t wcols, const float* sc, const float* bi, int G, int gs,
             const float* xp, const float* xsum, int M, int64_t K, float* out, int64_t N, int64_t n0, int64_t n1) {
  int m0 = 0;
  for (; m0 + 4 <= M; m0 += 4) RowsM<4>(bits, w, wcols, sc, bi, G, gs, xp, xsum, m0, K, out, N, n0, n1);
  switch (M - m0) {
    case 3: return RowsM<3>(bits, w, wcols, sc, bi, G, gs, xp, xsum, m0, K, out, N, n0, n1);
    case 2: return RowsM<2>(bits, w, wcols, sc, bi, G, gs, xp, xsum, m0, K, out, N, n0, n1);
    case 1: return RowsM<1>(bits, w, wcols, sc, bi, G, gs, xp, xsum, m0, K, out, N, n0, n1);
    default: return;
  }
}

// One row of cols values (bits 2/4/8, gs % Lanes == 0, cols % (32/bits * Lanes) == 0):
// out = scale * q + bias in natural order. Each output vector takes its words with a lane
// permute and its fields with a per-lane shift.
template <int B>
HWY_INLINE void DequantRowT(const uint32_t* w, const float* sc, const float* bi, int64_t cols, int gs, float* out) {
  const DF df;
  const DU du;
  const DI di;
  constexpr int F = 32 / B;
  const int64_t L = int64_t(hn::Lanes(df));
  const VU iota = hn::Iota(du, 0);
  const VU shifts = hn::Mul(hn::And(iota, hn::Set(du, F - 1)), hn::Set(du, B));
  const VU lane_word = hn::ShiftRight<(B == 2 ? 4 : B == 4 ? 3 : 2)>(iota);
  const VU mask = hn::Set(du, (1u << B) - 1);
  for (int64_t b = 0; b < cols / (F * L); ++b) {
    const VU wv = hn::LoadU(du, w + b * L);
    for (int c = 0; c < F; ++c) {
      const int64_t j = (b * F + c) * L;
      const VU words = hn::TableLookupLanes(wv, hn::IndicesFromVec(du, hn::Add(lane_word, hn::Set(du, uint32_t(c * L / F)))));
      const VF q = hn::ConvertTo(df, hn::BitCast(di, hn::And(hn::Shr(words, shifts), mask)));
      const int64_t g = j / gs;
      hn::StoreU(hn::MulAdd(q, hn::Set(df, sc[g]), hn::Set(df, bi[g])), df, out + j);
    }
  }
}

// As DequantRowT, rounded to bfloat16 (nearest even; values are finite) as uint16 bits.
template <int B>
HWY_INLINE void DequantRowBf16T(const uint32_t* w, const float* sc, const float* bi, int64_t cols, int gs,
                                uint16_t* out) {
  const DF df;
  const DU du;
  const DI di;
  const hn::Rebind<uint16_t, DF> d16;
  constexpr int F = 32 / B;
  const int64_t L = int64_t(hn::Lanes(df));
  const VU iota = hn::Iota(du, 0);
  const VU shifts = hn::Mul(hn::And(iota, hn::Set(du, F - 1)), hn::Set(du, B));
  const VU lane_word = hn::ShiftRight<(B == 2 ? 4 : B == 4 ? 3 : 2)>(iota);
  const VU mask = hn::Set(du, (1u << B) - 1);
  const VU half = hn::Set(du, 0x7FFFu), one = hn::Set(du, 1u);
  for (int64_t b = 0; b < cols / (F * L); ++b) {
    const VU wv = hn::LoadU(du, w + b * L);
    for (int c = 0; c < F; ++c) {
      const int64_t j = (b * F + c) * L;
      const VU words = hn::TableLookupLanes(wv, hn::IndicesFromVec(du, hn::Add(lane_word, hn::Set(du, uint32_t(c * L / F)))));
      const VF q = hn::ConvertTo(df, hn::BitCast(di, hn::And(hn::Shr(words, shifts), mask)));
      const int64_t g = j / gs;
      const VU u = hn::BitCast(du, hn::MulAdd(q, hn::Set(df, sc[g]), hn::Set(df, bi[g])));
      const VU r = hn::ShiftRight<16>(hn::Add(u, hn::Add(half, hn::And(hn::ShiftRight<16>(u), one))));
      hn::StoreU(hn::DemoteTo(d16, hn::BitCast(di, r)), d16, out + j);
    }
  }
}

void DequantRowBf16(int bits, const uint32_t* w, const float* sc, const float* bi, int64_t cols, int gs,
                    uint16_t* out) {
  switch (bits) {
    case 2: return DequantRowBf16T<2>(w, sc, bi, cols, gs, out);
    case 4: return DequantRowBf16T<4>(w, sc, bi, cols, gs, out);
    default: return DequantRowBf16T<8>(w, sc, bi, cols, gs, out);
  }
}

void DequantRow(int bits, const uint32_t* w, const float* sc, const float* bi, int64_t cols, int gs, float* out) {
  switch (bits) {
    case 2: return DequantRowT<2>(w, sc, bi, cols, gs, out);
    case 4: return DequantRowT<4>(w, sc, bi, cols, gs, out);
    default: return DequantRowT<8>(w, sc, bi, cols, gs, out);
  }
}

// One x row into field order: xp[b*F*L + k*L + i] = x[(b*L + i)*F + k] (F fields per word).
void QmvPrepare(int bits, const float* x, int64_t K, float* xp) {
  const int64_t L = int64_t(hn::Lanes(DF()));
  const int64_t F = 32 / bits;
  for (int64_t b = 0; b < K / (F * L); ++b)
    for (int64_t k = 0; k < F; ++k)
      for (int64_t i = 0; i < L; ++i) xp[(b * F + k) * L + i] = x[(b * L + i) * F + k];
}
#endif  // HWY_HAVE_SCALABLE

}  // namespace HWY_NAMESPACE
}  // namespace tessera::qkern
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace tessera::qkern {
HWY_EXPORT(QLanes);
HWY_EXPORT(QmvPrepare);
HWY_EXPORT(QmvRows);
HWY_EXPORT(DequantRow);
HWY_EXPORT(DequantRowBf16);
// Whether dequant_row_simd handles rows with this layout, and how many leading values of a row
// of `cols` it writes (whole vectors of words; the caller finishes the rest, a whole number of
// groups since gs divides the vector's values).
bool dequant_simd_ok(int bits, int gs) {
  int64_t L = int64_t(HWY_DYNAMIC_DISPATCH(QLanes)());
  const int64_t block = int64_t(32 / bits) * L;
  return L > 0 && (bits == 2 || bits == 4 || bits == 8) && gs % L == 0 && (block % gs == 0 || gs % block == 0);
}
int64_t dequant_simd_cols(int bits, int64_t cols) {
  const int64_t block = int64_t(32 / bits) * int64_t(HWY_DYNAMIC_DISPATCH(QLanes)());
  return cols - cols % block;
}
void dequant_row_simd(int bits, const uint32_t* w, const float* sc, const float* bi, int64_t cols, int gs,
                      float* out) {
  HWY_DYNAMIC_DISPATCH(DequantRow)(bits, w, sc, bi, cols, gs, out);
}
void dequant_row_bf16_simd(int bits, const uint32_t* w, const float* sc, const float* bi, int64_t cols, int gs,
                           uint16_t* out) {
  HWY_DYNAMIC_DISPATCH(DequantRowBf16)(bits, w, sc, bi, cols, gs, out);
}
}  // namespace tessera::qkern

namespace tessera::qkern {
size_t qlanes() { return HWY_DYNAMIC_DISPATCH(QLanes)(); }
void qmv_prepare(int bits, const float* x, int64_t K, float* xp) { HWY_DYNAMIC_DISPATCH(QmvPrepare)(bits, x, K, xp); }
void qmv_rows(int bits, const uint32_t* w, int64_t wcols, const float* sc, const float* bi, int G, int gs,
              const float* xp, const float* xsum, int M, int64_t K, float* out, int64_t N, int64_t n0, int64_t n1) {
  HWY_DYNAMIC_DISPATCH(QmvRows)(bits, w, wcols, sc, bi, G, gs, xp, xsum, M, K, out, N, n0, n1);
}
}  // namespace tessera::qkern

#include <cblas.h>
#ifdef TESSERA_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>

#include <list>
#include <memory>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <unordered_map>
#endif

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>

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

#ifdef TESSERA_HAVE_DNNL
// bfloat16 x bfloat16 -> float32 products through oneDNN's matmul primitive (AMX / AVX512-BF16
// kernels where the CPU has them), primitives cached by shape and strides.
namespace qdnnl {
namespace dn = dnnl;

dn::engine& engine() {
  static dn::engine* e = new dn::engine(dn::engine::kind::cpu, 0);  // never destroyed
  return *e;
}

struct Entry {
  dn::matmul prim;
  dn::memory::desc a, b, c, scratch;
  size_t scratch_bytes = 0;
};

using Key = std::array<int64_t, 8>;

std::shared_ptr<Entry> lookup(const Key& k) {
  static std::mutex mu;
  static auto* items = new std::list<std::pair<Key, std::shared_ptr<Entry>>>();
  {
    std::lock_guard<std::mutex> l(mu);
    for (auto it = items->begin(); it != items->end(); ++it) {
      if (it->first == k) {
        items->splice(items->begin(), *items, it);
        return items->front().second;
      }
    }
  }
  using dt = dn::memory::data_type;
  const int64_t M = k[0], N = k[1], K = k[2];
  auto e = std::make_shared<Entry>();
  e->a = dn::memory::desc({M, K}, dt::bf16, {k[3], 1});
  e->b = dn::memory::desc({K, N}, dt::bf16, {k[4], k[5]});
  e->c = dn::memory::desc({M, N}, dt::f32, {k[6], 1});
  dn::primitive_attr attr;
  attr.set_scratchpad_mode(dn::scratchpad_mode::user);
  if (k[7]) {
    dn::post_ops po;
    po.append_sum(1.f);
    attr.set_post_ops(po);
  }
  dn::matmul::primitive_desc pd(dn::matmul::desc(e->a, e->b, e->c), attr, engine());
  e->prim = dn::matmul(pd);
  e->scratch = pd.scratchpad_desc();
  e->scratch_bytes = e->scratch.get_size();
  std::lock_guard<std::mutex> l(mu);
  items->emplace_front(k, e);
  if (items->size() > 16) items->pop_back();
  return e;
}

// C[M, N] (row stride ldc) (+)= A[M, K] (row stride lda) @ B[K, N] (strides bs0, bs1).
bool gemm_bf16(int64_t M, int64_t N, int64_t K, const bfloat16_t* A, int64_t lda, const bfloat16_t* B, int64_t bs0,
               int64_t bs1, float* C, int64_t ldc, bool accumulate) {
  try {
    auto e = lookup(Key{M, N, K, lda, bs0, bs1, ldc, accumulate ? 1 : 0});
    dn::engine& eng = engine();
    thread_local dn::stream st(eng);
    dn::memory ma(e->a, eng, const_cast<bfloat16_t*>(A)), mb(e->b, eng, const_cast<bfloat16_t*>(B)),
        mc(e->c, eng, C);
    std::unordered_map<int, dn::memory> args{{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}};
    if (e->scratch_bytes) {
      void* sp = thread_scratch(e->scratch_bytes);
      if (!sp) return false;
      args.emplace(DNNL_ARG_SCRATCHPAD, dn::memory(e->scratch, eng, sp));
    }
    e->prim.execute(st, args);
    st.wait();
    return true;
  } catch (const dn::error&) {
    return false;
  }
}
}  // namespace qdnnl
#endif

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

// Row-contiguous float32 data of a: a view when it already is, else converted into tmp.
const float* f32_view(const array& a, std::vector<float>& tmp) {
  if (a.dtype() == float32 && is_row_contiguous(a)) return a.data<float>();
  tmp = to_f32(a);
  return tmp.data();
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
  int g0 = 0;
  if (qkern::dequant_simd_ok(bits, gs)) {
    const int64_t done = qkern::dequant_simd_cols(bits, cols);
    qkern::dequant_row_simd(bits, w, sc, bi, cols, gs, out);
    g0 = int(done / gs);
  }
  int wpg = gs * bits / 32;
  for (int g = g0; g < cols / gs; ++g) {
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
TESSERA_MULTIVERSION float dot_group_p2(const uint32_t* w, const float* xp,
                                                                                int W) {
  if (W % 16 == 0) return dot_lanes<B, 16>(w, xp, W);
  if (W % 8 == 0) return dot_lanes<B, 8>(w, xp, W);
  if (W % 4 == 0) return dot_lanes<B, 4>(w, xp, W);
  return dot_lanes<B, 1>(w, xp, W);
}

TESSERA_MULTIVERSION float dot_f32(const float* a, const float* b, int n) {
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
TESSERA_MULTIVERSION float row_dot_p2(const uint32_t* w, const float* xp,
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

#ifdef TESSERA_HAVE_DNNL
// One product with bfloat16 x [M, K]: tiles of w dequantized to bfloat16 and multiplied with
// oneDNN's bf16 matmul into out [M, N] float32. False (nothing written that matters) if
// oneDNN has no kernel.
constexpr int kBf16Tile = 1024;

// One row's G scales (or biases) as float32: in place when stored so, else widened into buf.
const float* row_as_f32(const void* base, Dtype type, int64_t row, int64_t G, std::vector<float>& buf) {
  const char* p = static_cast<const char*>(base) + size_t(row * G) * type.size;
  if (type == float32) return reinterpret_cast<const float*>(p);
  buf.resize(size_t(G));
  copy_convert(p, type, buf.data(), float32, size_t(G));
  return buf.data();
}

// Scales and biases are rows of G values of type st (float32, bfloat16 or float16), widened a
// row at a time as the tiles are dequantized: converting whole arrays on every call cost a
// fresh multi-megabyte buffer (page faults included) per product of a prompt.
bool qmm_bf16(const bfloat16_t* x, const uint32_t* w, const void* sc, const void* bi, Dtype st, float* out, int M,
              int N, int K, int gs, int bits, bool transpose) {
  const int G = (transpose ? K : N) / gs;
  const int64_t wcols = int64_t(transpose ? K : N) * bits / 32;
  const int rows = transpose ? N : K, cols = transpose ? K : N;
  const int T = std::min(rows, kBf16Tile);
  thread_local std::vector<bfloat16_t> tile_buf;
  tile_buf.resize(size_t(T) * cols);
  bfloat16_t* tile = tile_buf.data();  // workers must see this thread's buffer
  thread_local std::vector<float> part;  // used on this thread only
  const bool simd_bf16 = qkern::dequant_simd_ok(bits, gs);
  const int64_t simd_cols = simd_bf16 ? qkern::dequant_simd_cols(bits, cols) : 0;
  for (int r0 = 0; r0 < rows; r0 += T) {
    const int t = std::min(T, rows - r0);
    parallel_for(t, 16, [&](int64_t a, int64_t b) {
      std::vector<float> sbuf, bbuf;
      if (simd_bf16) {
        // The row's tail past the last whole vector of words goes group by group.
        const int64_t tail = cols - simd_cols, g0 = simd_cols / gs, w0 = simd_cols * bits / 32;
        std::vector<float> row(static_cast<size_t>(tail));
        for (int64_t r = a; r < b; ++r) {
          const float* srow = row_as_f32(sc, st, r0 + r, G, sbuf);
          const float* brow = row_as_f32(bi, st, r0 + r, G, bbuf);
          qkern::dequant_row_bf16_simd(bits, w + (r0 + r) * wcols, srow, brow, cols, gs,
                                       reinterpret_cast<uint16_t*>(tile + r * cols));
          if (tail == 0) continue;
          dequant_row(w + (r0 + r) * wcols + w0, srow + g0, brow + g0, int(tail), gs, bits, row.data());
          copy_convert(row.data(), float32, tile + r * cols + simd_cols, bfloat16, size_t(tail));
        }
        return;
      }
      std::vector<float> row(cols);
      for (int64_t r = a; r < b; ++r) {
        dequant_row(w + (r0 + r) * wcols, row_as_f32(sc, st, r0 + r, G, sbuf), row_as_f32(bi, st, r0 + r, G, bbuf),
                    cols, gs, bits, row.data());
        copy_convert(row.data(), float32, tile + r * cols, bfloat16, size_t(cols));
      }
    });
    if (transpose && t != N) {
      // oneDNN's AMX kernels want a dense destination: the tile's columns go through part.
      part.resize(size_t(M) * t);
      if (!qdnnl::gemm_bf16(M, t, K, x, K, tile, 1, K, part.data(), t, false)) return false;
      for (int m = 0; m < M; ++m)
        std::memcpy(out + int64_t(m) * N + r0, part.data() + size_t(m) * t, sizeof(float) * size_t(t));
    } else {
      bool ok = transpose ? qdnnl::gemm_bf16(M, t, K, x, K, tile, 1, K, out, N, false)
                          : qdnnl::gemm_bf16(M, N, t, x + r0, K, tile, N, 1, out, N, r0 != 0);
      if (!ok) return false;
    }
  }
  if (rows == 0 && M > 0 && N > 0) std::memset(out, 0, sizeof(float) * size_t(M) * N);
  return true;
}
#endif

// Whether the word-at-a-time matrix-vector kernels (QmvRows) take rows of K values: they read
// a vector of whole words per step, so a row must be a whole number of vectors.
bool word_kernel_fits(int bits, int gs, int64_t K) {
  const int64_t L = int64_t(qkern::qlanes());
  const int64_t wcols = K * bits / 32;
  const int W = gs * bits / 32;
  return L > 0 && (bits == 8 ? gs % L == 0 && K % L == 0
                             : (bits == 2 || bits == 4) && wcols % L == 0 && (W % L == 0 || (L % W == 0 && L / W <= 16)));
}

// Matrix-vector (M < 8 rows of x, w transposed) on the word-at-a-time kernels, for rows of K
// that word_kernel_fits. Scales and biases stay in their stored type (float32, bfloat16 or
// float16): each thread widens those of its own rows as it reaches them, so a call never converts
// the whole arrays.
void qmv_words(const float* x, const uint32_t* w, const void* sc, const void* bi, Dtype scale_type, float* out, int M,
               int N, int K, int gs, int bits) {
  const int G = K / gs;
  const int64_t wcols = int64_t(K) * bits / 32;
  const std::vector<float> xsum = group_sums(x, M, K, gs);
  std::vector<float> xp;
  const float* xin = x;
  if (bits != 8) {
    xp.resize(size_t(M) * K);
    for (int m = 0; m < M; ++m) qkern::qmv_prepare(bits, x + int64_t(m) * K, K, xp.data() + size_t(m) * K);
    xin = xp.data();
  }
  const int64_t grain =
      std::min<int64_t>(256, std::max<int64_t>(16, int64_t(1 << 20) / std::max<int64_t>(1, int64_t(K) * M)));
  parallel_for(N, grain, [&](int64_t n0, int64_t n1) {
    if (scale_type == float32) {
      qkern::qmv_rows(bits, w, wcols, static_cast<const float*>(sc), static_cast<const float*>(bi), G, gs, xin,
                      xsum.data(), M, K, out, N, n0, n1);
      return;
    }
    // Widened a window of rows at a time, small enough to stay in L1 next to the weights.
    auto widened = [&](auto* typed_scales) {
      using S = std::remove_const_t<std::remove_pointer_t<decltype(typed_scales)>>;
      WidenedRows<S> scales(typed_scales, G, n1), biases(static_cast<const S*>(bi), G, n1);
      for (int64_t a = n0; a < n1; a += scales.window()) {
        const int64_t rows = std::min(scales.window(), n1 - a);
        qkern::qmv_rows(bits, w + a * wcols, wcols, scales.at(a, rows), biases.at(a, rows), G, gs, xin, xsum.data(),
                        M, K, out + a, N, 0, rows);
      }
    };
    if (scale_type == bfloat16) widened(static_cast<const bfloat16_t*>(sc));
    else widened(static_cast<const float16_t*>(sc));
  });
}

// One product: x [M, K] (float32) with quantized w; out [M, N] float32.
void qmm_single(const float* x, const uint32_t* w, const float* sc, const float* bi, float* out, int M, int N, int K,
                int gs, int bits, bool transpose) {
  int G = (transpose ? K : N) / gs;
  int64_t wcols = int64_t(transpose ? K : N) * bits / 32;
  if (transpose && M < 8) {
    if (word_kernel_fits(bits, gs, K)) return qmv_words(x, w, sc, bi, float32, out, M, N, K, gs, bits);
    // Matrix-vector: per-row x group sums and (for power-of-two bits) the permuted x.
    const int W = gs * bits / 32;
    const std::vector<float> xsum = group_sums(x, M, K, gs);
    int64_t grain = std::min<int64_t>(256, std::max<int64_t>(16, int64_t(1 << 20) / std::max<int64_t>(1, int64_t(K) * M)));
    bool p2 = 32 % bits == 0;
    int epw = 32 / bits;
    std::vector<float> xp(p2 ? size_t(M) * K : 0);
    if (p2) {
      for (int m = 0; m < M; ++m)
        for (int g = 0; g < G; ++g) {
          const float* xm = x + int64_t(m) * K;
          float* d = xp.data() + size_t(m) * K + size_t(g) * gs;
          for (int i = 0; i < W; ++i)
            for (int k = 0; k < epw; ++k) d[k * W + i] = xm[g * gs + i * epw + k];
        }
    }
    parallel_for(N, grain, [&](int64_t n0, int64_t n1) {
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
  const int T = 1024;
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
  int64_t B = (int64_t(M) * N != 0) ? int64_t(o.size()) / (int64_t(M) * N) : 0;
  std::vector<float> xt, st, bt, res;
  // The float32 result: the output itself, or a buffer that finish() converts into it.
  auto result_buffer = [&]() -> float* {
    if (o.dtype() == float32) {
      o.set_data(allocator::malloc(o.nbytes()));
      return o.data<float>();
    }
    res.resize(o.size());
    return res.data();
  };
  const int64_t wsz = int64_t(in[1].shape(-2)) * in[1].shape(-1);
  const int64_t ssz = int64_t(in[2].shape(-2)) * in[2].shape(-1);
  // Decode shapes (measured on AVX-512 with AVX512-BF16): the word-at-a-time float kernels where
  // rows fit them (4096x4096 4-bit: 0.5-0.7 ms against 0.8-0.9 ms on bfloat16 dot products with
  // float32 x, whose two halves double the dot products); bfloat16 dot products for 4-bit rows
  // they do not fit, or when x came from bfloat16 (one half: 0.55-0.65 ms); the byte kernels for
  // the rest. Scales and biases are read in their stored type, nothing is converted whole.
  const bool matvec_layout = q.transpose() && in[3].dtype() == in[2].dtype() && is_row_contiguous(in[2]) &&
                             is_row_contiguous(in[3]) && B > 0 && K > 0;
  const bool scales_float = in[2].dtype() == float32 || in[2].dtype() == bfloat16 || in[2].dtype() == float16;
  const bool words = matvec_layout && scales_float && M < 8 && word_kernel_fits(q.bits(), q.group_size(), K);
  const bool bf16_dp = matvec_layout && (!words || in[0].dtype() == bfloat16) &&
                       quantized_matvec_bf16_supported(q.bits(), q.group_size(), in[2].dtype(), M, K);
  // Opted in (quantized_matmul_int8_activations): x quantized to int8 for the VNNI kernels. Every
  // layout they take the byte kernels take too, which run when x is not finite.
  const bool int8 = matvec_layout && q.int8_activations() &&
                    quantized_matvec_int8_supported(q.bits(), q.group_size(), in[2].dtype(), M, K);
  if (bf16_dp || words || (matvec_layout && quantized_matvec_supported(q.bits(), q.group_size(), in[2].dtype(), M))) {
    Words w = contiguous_words(in[1]);
    const float* x = f32_view(in[0], xt);
    float* dst = result_buffer();
    const size_t item = in[2].dtype().size;
    for (int64_t b = 0; b < B; ++b) {
      const char* sb = static_cast<const char*>(in[2].raw_data()) + b * ssz * item;
      const char* bb = static_cast<const char*>(in[3].raw_data()) + b * ssz * item;
      if (int8 && quantized_matvec_int8(q.bits(), q.group_size(), w.ptr + b * wsz, sb, bb, in[2].dtype(), x + b * M * K,
                                        M, N, K, dst + b * M * N)) {
        continue;
      }
      if (words && !bf16_dp) {
        qmv_words(x + b * M * K, w.ptr + b * wsz, sb, bb, in[2].dtype(), dst + b * M * N, M, N, K, q.group_size(),
                  q.bits());
      } else if (bf16_dp) {
        quantized_matvec_bf16(q.group_size(), w.ptr + b * wsz, sb, bb, in[2].dtype(), x + b * M * K, M, N, K,
                              dst + b * M * N);
      } else {
        quantized_matvec(q.bits(), q.group_size(), w.ptr + b * wsz, sb, bb, in[2].dtype(), x + b * M * K, M, N, K,
                         dst + b * M * N);
      }
    }
    if (o.dtype() != float32) finish(res, o);
    return;
  }
  Words w = contiguous_words(in[1]);
  float* dst = result_buffer();
#ifdef TESSERA_HAVE_DNNL
  // bfloat16 activations with enough rows: bfloat16 tiles through oneDNN's bf16 matmul; scales
  // and biases read in their stored type when they are row-contiguous.
  if (in[0].dtype() == bfloat16 && M >= 32 && K > 0) {
    Words xb = contiguous_words(in[0]);  // a view when row-contiguous (copied otherwise)
    const bfloat16_t* xp = reinterpret_cast<const bfloat16_t*>(xb.holder.raw_data());
    const bool stored = in[3].dtype() == in[2].dtype() && scales_float && is_row_contiguous(in[2]) &&
                        is_row_contiguous(in[3]);
    const Dtype sty = stored ? in[2].dtype() : float32;
    const char* sp = stored ? static_cast<const char*>(in[2].raw_data())
                            : reinterpret_cast<const char*>(f32_view(in[2], st));
    const char* bp = stored ? static_cast<const char*>(in[3].raw_data())
                            : reinterpret_cast<const char*>(f32_view(in[3], bt));
    bool ok = true;
    for (int64_t b = 0; ok && b < B; ++b) {
      ok = qmm_bf16(xp + b * M * K, w.ptr + b * wsz, sp + size_t(b * ssz) * sty.size, bp + size_t(b * ssz) * sty.size,
                    sty, dst + b * M * N, M, N, K, q.group_size(), q.bits(), q.transpose());
    }
    if (ok) {
      if (o.dtype() != float32) finish(res, o);
      return;
    }
  }
#endif
  const float* sc = f32_view(in[2], st);
  const float* bi = f32_view(in[3], bt);
  const float* x = f32_view(in[0], xt);
  for (int64_t b = 0; b < B; ++b) {
    qmm_single(x + b * M * K, w.ptr + b * wsz, sc + b * ssz, bi + b * ssz, dst + b * M * N, M, N, K,
               q.group_size(), q.bits(), q.transpose());
  }
  if (o.dtype() != float32) finish(res, o);
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

#endif  // HWY_ONCE
