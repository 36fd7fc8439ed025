// Skinny products (see skinny_gemm.h). Two loops, one per layout of B:
//  - B column-major (a weight stored [N, K], used as W^T): each output is a dot product of an A
//    row with a contiguous row of W; four W rows share each A load, sums reduce once per row.
//  - B row-major ([K, N]): outputs accumulate in an L1-resident float32 tile while four rows of
//    B stream through it, each read contiguously across the tile.
// A is widened to float32 once per call (it is tiny); B is widened in registers as it is loaded.
// Threads split the columns of C, so each reads a disjoint part of B.
#include "backend/cpu/skinny_gemm.h"

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "backend/cpu/float_type_code.h"
#include "backend/cpu/thread_scratch.h"
#include "core/convert.h"
#include "core/thread_pool.h"
#include "tessera/half_types.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backend/cpu/skinny_gemm.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/cache_control.h>
#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace tessera::skinny {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#if HWY_HAVE_SCALABLE
// Sizeless vectors cannot live in arrays: no kernels here (the caller takes the general GEMM).
size_t Lanes() { return 0; }
void DotRows(int, const void*, int64_t, int64_t, int64_t, const float*, int64_t, int64_t, float*, int64_t) {}
void AxpyRows(int, const void*, int64_t, int64_t, int64_t, const float*, int64_t, int64_t, float*, int64_t) {}
#else
using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;

size_t Lanes() { return hn::Lanes(DF()); }

HWY_INLINE VF LoadF(DF df, const float* p) { return hn::LoadU(df, p); }
HWY_INLINE VF LoadF(DF df, const hwy::bfloat16_t* p) {
  const hn::Rebind<hwy::bfloat16_t, DF> dh;
  return hn::PromoteTo(df, hn::LoadU(dh, p));
}
HWY_INLINE VF LoadF(DF df, const hwy::float16_t* p) {
  const hn::Rebind<hwy::float16_t, DF> dh;
  return hn::PromoteTo(df, hn::LoadU(dh, p));
}

HWY_INLINE float ToFloat(float v) { return v; }
HWY_INLINE float ToFloat(hwy::bfloat16_t v) { return hwy::F32FromBF16(v); }
HWY_INLINE float ToFloat(hwy::float16_t v) {
  uint16_t bits;
  std::memcpy(&bits, &v, sizeof(bits));
  return detail::half_to_float(bits);
}

#if HWY_TARGET == HWY_SCALAR
HWY_INLINE void StoreSumsOf4(DF df, VF a0, VF a1, VF a2, VF a3, float* out) {
  out[0] = hn::GetLane(hn::SumOfLanes(df, a0));
  out[1] = hn::GetLane(hn::SumOfLanes(df, a1));
  out[2] = hn::GetLane(hn::SumOfLanes(df, a2));
  out[3] = hn::GetLane(hn::SumOfLanes(df, a3));
}
#else
// Adds the 128-bit blocks of v together and stores the four lanes that remain.
template <class D>
HWY_INLINE void StoreFoldedBlocks(D d, hn::Vec<D> v, float* out) {
  if constexpr (hn::MaxLanes(D()) > 4) {
    const hn::Half<D> dh;
    StoreFoldedBlocks(dh, hn::Add(hn::LowerHalf(dh, v), hn::UpperHalf(dh, v)), out);
  } else {
    hn::StoreU(v, d, out);
  }
}

// out[0..4) = the horizontal sums of a0..a3. Interleaving pairs of accumulators halves the
// lanes per sum twice with two shuffles and one add per pair, so four sums cost about what one
// full reduction does; dot products as short as a decode step's (K = 64) are dominated by it.
HWY_INLINE void StoreSumsOf4(DF df, VF a0, VF a1, VF a2, VF a3, float* out) {
  const hn::Repartition<double, DF> dd;
  // Per 128-bit block: {a0 0+2, a1 0+2, a0 1+3, a1 1+3} and likewise for a2, a3.
  const VF t01 = hn::Add(hn::InterleaveLower(a0, a1), hn::InterleaveUpper(df, a0, a1));
  const VF t23 = hn::Add(hn::InterleaveLower(a2, a3), hn::InterleaveUpper(df, a2, a3));
  // Pairs of lanes as doubles: per block {a0, a1, a2, a3}, each a partial sum.
  const auto w01 = hn::BitCast(dd, t01), w23 = hn::BitCast(dd, t23);
  const VF u = hn::Add(hn::BitCast(df, hn::InterleaveLower(w01, w23)), hn::BitCast(df, hn::InterleaveUpper(dd, w01, w23)));
  StoreFoldedBlocks(df, u, out);
}
#endif

// Masked loads never touch the masked-off bytes on AVX-512 (elsewhere Highway may emulate them
// with a full load, which could run past the end of a weight).
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
constexpr bool kMaskedTail = true;
#else
constexpr bool kMaskedTail = false;
#endif

// Rows [n, n + R) of w against MB rows of x. Each row's dot product is one accumulator chain per
// x row, so R chains run side by side: with a decode step's K = 64 a chain is only four FMAs
// long, and eight rows keep the FMA units busy where four leave them waiting on latency.
template <int MB, int R, typename T>
HWY_INLINE void DotGroup(const T* w, int64_t ldw, int64_t n, int64_t n0, const float* x, int64_t K, float* out,
                         int64_t ldo) {
  static_assert(R % 4 == 0, "rows are reduced four at a time");
  const DF df;
  const int64_t L = int64_t(hn::Lanes(df));
  const int64_t kv = K - K % L;
  const T* r[R];
  for (int j = 0; j < R; ++j) r[j] = w + (n + j) * ldw;
  VF acc[MB][R];
  for (int m = 0; m < MB; ++m)
    for (int j = 0; j < R; ++j) acc[m][j] = hn::Zero(df);
  for (int64_t k = 0; k < kv; k += L) {
    VF wv[R];
    for (int j = 0; j < R; ++j) {
      // The same columns one group ahead: hardware prefetchers stop at 4 KiB page edges, and
      // weights mapped from a file sit on 4 KiB pages. Weights resident in L2 gain too (a
      // decode step of a small model is bound by L2 -> L1 traffic).
      hwy::Prefetch(r[j] + R * ldw + k);
      wv[j] = LoadF(df, r[j] + k);
    }
    for (int m = 0; m < MB; ++m) {
      const VF xv = hn::LoadU(df, x + m * K + k);
      for (int j = 0; j < R; ++j) acc[m][j] = hn::MulAdd(xv, wv[j], acc[m][j]);
    }
  }
  bool tail_done = kv == K;
  if constexpr (kMaskedTail && std::is_same_v<T, float>) {
    if (!tail_done) {
      const auto mask = hn::FirstN(df, size_t(K - kv));
      VF wv[R];
      for (int j = 0; j < R; ++j) wv[j] = hn::MaskedLoad(mask, df, r[j] + kv);
      for (int m = 0; m < MB; ++m) {
        const VF xv = hn::MaskedLoad(mask, df, x + m * K + kv);
        for (int j = 0; j < R; ++j) acc[m][j] = hn::MulAdd(xv, wv[j], acc[m][j]);
      }
      tail_done = true;
    }
  }
  for (int m = 0; m < MB; ++m) {
    float* o = out + m * ldo + (n - n0);
    for (int j = 0; j < R; j += 4) StoreSumsOf4(df, acc[m][j], acc[m][j + 1], acc[m][j + 2], acc[m][j + 3], o + j);
    if (tail_done) continue;
    for (int64_t k = kv; k < K; ++k) {
      for (int j = 0; j < R; ++j) o[j] += x[m * K + k] * ToFloat(r[j][k]);
    }
  }
}

// out[m * ldo + (n - n0)] = sum_k x[m * K + k] * w[n * ldw + k] for n in [n0, n1), MB rows of x.
template <int MB, typename T>
HWY_NOINLINE void DotRowsT(const T* w, int64_t ldw, int64_t n0, int64_t n1, const float* x, int64_t K, float* out,
                           int64_t ldo) {
  const DF df;
  const int64_t L = int64_t(hn::Lanes(df));
  const int64_t kv = K - K % L;
  int64_t n = n0;
  // Eight rows per group while the accumulators fit in registers (MB x 8 plus 8 weight vectors).
  if constexpr (MB <= 2) {
    for (; n + 8 <= n1; n += 8) DotGroup<MB, 8>(w, ldw, n, n0, x, K, out, ldo);
  }
  for (; n + 4 <= n1; n += 4) DotGroup<MB, 4>(w, ldw, n, n0, x, K, out, ldo);
  for (; n < n1; ++n) {
    const T* r = w + n * ldw;
    VF acc[MB];
    for (int m = 0; m < MB; ++m) acc[m] = hn::Zero(df);
    for (int64_t k = 0; k < kv; k += L) {
      const VF wv = LoadF(df, r + k);
      for (int m = 0; m < MB; ++m) acc[m] = hn::MulAdd(hn::LoadU(df, x + m * K + k), wv, acc[m]);
    }
    for (int m = 0; m < MB; ++m) {
      float s = hn::GetLane(hn::SumOfLanes(df, acc[m]));
      for (int64_t k = kv; k < K; ++k) s += x[m * K + k] * ToFloat(r[k]);
      out[m * ldo + (n - n0)] = s;
    }
  }
}

// out[m * ldo + (n - c0)] = sum_k x[m * K + k] * b[k * ldb + n] for n in [c0, c1), MB rows of x.
// out is the accumulator: a tile of at most a few KiB per row, so it stays in L1.
template <int MB, typename T>
HWY_NOINLINE void AxpyRowsT(const T* b, int64_t ldb, int64_t c0, int64_t c1, const float* x, int64_t K, float* out,
                            int64_t ldo) {
  const DF df;
  const int64_t L = int64_t(hn::Lanes(df));
  const int64_t width = c1 - c0, wv = width - width % L;
  for (int m = 0; m < MB; ++m) std::memset(out + m * ldo, 0, size_t(width) * sizeof(float));
  int64_t k = 0;
  for (; k + 4 <= K; k += 4) {
    const T* r0 = b + k * ldb + c0;
    const T* r1 = r0 + ldb;
    const T* r2 = r1 + ldb;
    const T* r3 = r2 + ldb;
    VF xs[MB][4];
    for (int m = 0; m < MB; ++m)
      for (int j = 0; j < 4; ++j) xs[m][j] = hn::Set(df, x[m * K + k + j]);
    for (int64_t v = 0; v < wv; v += L) {
      // The same columns four rows on (see DotRowsT).
      hwy::Prefetch(r0 + 4 * ldb + v);
      hwy::Prefetch(r1 + 4 * ldb + v);
      hwy::Prefetch(r2 + 4 * ldb + v);
      hwy::Prefetch(r3 + 4 * ldb + v);
      const VF b0 = LoadF(df, r0 + v), b1 = LoadF(df, r1 + v), b2 = LoadF(df, r2 + v), b3 = LoadF(df, r3 + v);
      for (int m = 0; m < MB; ++m) {
        float* o = out + m * ldo + v;
        VF a = hn::LoadU(df, o);
        a = hn::MulAdd(xs[m][0], b0, a);
        a = hn::MulAdd(xs[m][1], b1, a);
        a = hn::MulAdd(xs[m][2], b2, a);
        a = hn::MulAdd(xs[m][3], b3, a);
        hn::StoreU(a, df, o);
      }
    }
    for (int64_t v = wv; v < width; ++v) {
      const float f0 = ToFloat(r0[v]), f1 = ToFloat(r1[v]), f2 = ToFloat(r2[v]), f3 = ToFloat(r3[v]);
      for (int m = 0; m < MB; ++m) {
        const float* xm = x + m * K + k;
        out[m * ldo + v] += xm[0] * f0 + xm[1] * f1 + xm[2] * f2 + xm[3] * f3;
      }
    }
  }
  for (; k < K; ++k) {
    const T* r0 = b + k * ldb + c0;
    VF xs[MB];
    for (int m = 0; m < MB; ++m) xs[m] = hn::Set(df, x[m * K + k]);
    for (int64_t v = 0; v < wv; v += L) {
      const VF b0 = LoadF(df, r0 + v);
      for (int m = 0; m < MB; ++m) {
        float* o = out + m * ldo + v;
        hn::StoreU(hn::MulAdd(xs[m], b0, hn::LoadU(df, o)), df, o);
      }
    }
    for (int64_t v = wv; v < width; ++v) {
      const float f0 = ToFloat(r0[v]);
      for (int m = 0; m < MB; ++m) out[m * ldo + v] += x[m * K + k] * f0;
    }
  }
}

// Element type codes: 0 float32, 1 bfloat16, 2 float16.
template <int MB>
HWY_INLINE void DotRowsM(int type, const void* w, int64_t ldw, int64_t n0, int64_t n1, const float* x, int64_t K,
                         float* out, int64_t ldo) {
  if (type == 0) DotRowsT<MB>(static_cast<const float*>(w), ldw, n0, n1, x, K, out, ldo);
  else if (type == 1) DotRowsT<MB>(static_cast<const hwy::bfloat16_t*>(w), ldw, n0, n1, x, K, out, ldo);
  else DotRowsT<MB>(static_cast<const hwy::float16_t*>(w), ldw, n0, n1, x, K, out, ldo);
}

template <int MB>
HWY_INLINE void AxpyRowsM(int type, const void* b, int64_t ldb, int64_t c0, int64_t c1, const float* x, int64_t K,
                          float* out, int64_t ldo) {
  if (type == 0) AxpyRowsT<MB>(static_cast<const float*>(b), ldb, c0, c1, x, K, out, ldo);
  else if (type == 1) AxpyRowsT<MB>(static_cast<const hwy::bfloat16_t*>(b), ldb, c0, c1, x, K, out, ldo);
  else AxpyRowsT<MB>(static_cast<const hwy::float16_t*>(b), ldb, c0, c1, x, K, out, ldo);
}

// Rows of x are taken in blocks of up to four (kSkinnyRows), each block one pass over B.
void DotRows(int type, const void* w, int64_t ldw, int64_t n0, int64_t n1, const float* x, int64_t M, int64_t K,
             float* out, int64_t ldo) {
  switch (M) {
    case 1: return DotRowsM<1>(type, w, ldw, n0, n1, x, K, out, ldo);
    case 2: return DotRowsM<2>(type, w, ldw, n0, n1, x, K, out, ldo);
    case 3: return DotRowsM<3>(type, w, ldw, n0, n1, x, K, out, ldo);
    default: return DotRowsM<4>(type, w, ldw, n0, n1, x, K, out, ldo);
  }
}

void AxpyRows(int type, const void* b, int64_t ldb, int64_t c0, int64_t c1, const float* x, int64_t M, int64_t K,
              float* out, int64_t ldo) {
  switch (M) {
    case 1: return AxpyRowsM<1>(type, b, ldb, c0, c1, x, K, out, ldo);
    case 2: return AxpyRowsM<2>(type, b, ldb, c0, c1, x, K, out, ldo);
    case 3: return AxpyRowsM<3>(type, b, ldb, c0, c1, x, K, out, ldo);
    default: return AxpyRowsM<4>(type, b, ldb, c0, c1, x, K, out, ldo);
  }
}
#endif  // HWY_HAVE_SCALABLE

}  // namespace HWY_NAMESPACE
}  // namespace tessera::skinny
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace tessera {
namespace skinny {
HWY_EXPORT(Lanes);
HWY_EXPORT(DotRows);
HWY_EXPORT(AxpyRows);
}  // namespace skinny

namespace {

// Columns of C per accumulator tile in the row-major loop: 4 rows of float32 fit in 32 KiB.
constexpr int64_t kTileCols = 2048;

}  // namespace

bool skinny_gemm(Dtype d, const MatrixView& a, const MatrixView& b, const void* pa, const void* pb, void* c,
                 int64_t M, int64_t N, int64_t K, float alpha, float beta) {
  const int type = float_type_code(d);
  if (type < 0 || M < 1 || M > kSkinnyRows || N < 1 || K < 1) return false;
  const int64_t L = int64_t(HWY_DYNAMIC_DISPATCH(skinny::Lanes)());
  if (L == 0) return false;
  const size_t item = d.size;

  // A widened to float32, rows contiguous. A tiny copy the caller's thread keeps between
  // products (decode runs hundreds of them per token; thread_scratch holds the tiles below);
  // float32 rows already contiguous are read in place.
  thread_local std::vector<float> widened;
  const bool a_in_place = type == 0 && !a.transposed && (M == 1 || a.ld == K);
  widened.resize(a_in_place ? 0 : size_t(M * K));
  std::vector<float>& xs = widened;
  if (a_in_place) {
    // nothing to copy
  } else if (!a.transposed) {
    for (int64_t m = 0; m < M; ++m) {
      copy_convert(static_cast<const char*>(pa) + size_t(m * a.ld) * item, d, xs.data() + m * K, float32, size_t(K));
    }
  } else {
    // Column-major A: each k holds the M values contiguously; widen them a column at a time.
    float col[kSkinnyRows];
    for (int64_t k = 0; k < K; ++k) {
      copy_convert(static_cast<const char*>(pa) + size_t(k * a.ld) * item, d, col, float32, size_t(M));
      for (int64_t m = 0; m < M; ++m) xs[size_t(m * K + k)] = col[m];
    }
  }

  // Writes one finished float32 tile [M, width] into C's columns [c0, c0 + width); tmp holds
  // `width` floats.
  auto store = [&](const float* tile, float* tmp, int64_t ldt, int64_t c0, int64_t width) {
    for (int64_t m = 0; m < M; ++m) {
      const float* t = tile + m * ldt;
      char* dst = static_cast<char*>(c) + size_t(m * N + c0) * item;
      if (alpha == 1.f && beta == 0.f) {
        copy_convert(t, float32, dst, d, size_t(width));
        continue;
      }
      if (beta != 0.f) copy_convert(dst, d, tmp, float32, size_t(width));
      for (int64_t j = 0; j < width; ++j) tmp[j] = alpha * t[j] + (beta != 0.f ? beta * tmp[j] : 0.f);
      copy_convert(tmp, float32, dst, d, size_t(width));
    }
  };

  // Split the columns in units of one vector so that only the last chunk has a ragged edge; a
  // chunk is worth a thread wake-up when it reads at least kStreamGrainBytes of B.
  const int64_t units = (N + L - 1) / L;
  const int64_t grain = std::max<int64_t>(1, kStreamGrainBytes / std::max<int64_t>(1, K * int64_t(item) * L));
  const float* x = a_in_place ? static_cast<const float*>(pa) : xs.data();
  // A float32 C with alpha 1 and beta 0 is written by the kernels directly (row stride N),
  // without a tile to copy from.
  const bool c_direct = type == 0 && alpha == 1.f && beta == 0.f;
  auto run = [&](auto rows_fn) {
    parallel_for(units, grain, [&](int64_t u0, int64_t u1) {
      const int64_t c0 = u0 * L, c1 = std::min(N, u1 * L);
      for (int64_t t0 = c0; t0 < c1; t0 += kTileCols) {
        const int64_t t1 = std::min(c1, t0 + kTileCols);
        if (c_direct) {
          rows_fn(t0, t1, static_cast<float*>(c) + t0, N);
          continue;
        }
        float* tile = static_cast<float*>(thread_scratch(size_t((M + 1) * (t1 - t0)) * sizeof(float)));
        rows_fn(t0, t1, tile, t1 - t0);
        store(tile, tile + M * (t1 - t0), t1 - t0, t0, t1 - t0);
      }
    });
  };
  if (b.transposed) {
    run([&](int64_t t0, int64_t t1, float* out, int64_t ldo) {
      HWY_DYNAMIC_DISPATCH(skinny::DotRows)(type, pb, b.ld, t0, t1, x, M, K, out, ldo);
    });
  } else {
    run([&](int64_t t0, int64_t t1, float* out, int64_t ldo) {
      HWY_DYNAMIC_DISPATCH(skinny::AxpyRows)(type, pb, b.ld, t0, t1, x, M, K, out, ldo);
    });
  }
  return true;
}

}  // namespace tessera
#endif  // HWY_ONCE
