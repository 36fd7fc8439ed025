// The gradient of attention (ScaledDotProductAttentionVjp) in one pass per key/value head.
// With P the attention weights of a block of query rows, O the output and G its cotangent:
//   dV += P^T G,  dS = scale * P * (G V^T - rowsum(G * O)),  dQ = dS K,  dK += dS^T Q.
// P is recomputed from the scores block by block (it is never stored whole), so the work is the
// four products plus one of the forward's, all on tiles that stay in cache; the composite's
// gradient instead streams half a dozen [Lq, Lk] float32 arrays through memory per head.
#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "backend/common/axis_rows.h"
#include "backend/cpu/fast_kernels.h"
#include "backend/cpu/simd.h"
#include "core/allocator.h"
#include "core/convert.h"
#include "core/thread_pool.h"
#include "primitives/fast.h"

namespace tessera {

namespace {

// Query rows per block: a block's scores, their gradient and both transposes take
// 4 * kRows * Lk floats (128 KiB at 1,024 keys).
constexpr int64_t kRows = 32;

const char* at(const array& a, int64_t elem) { return static_cast<const char*>(a.raw_data()) + elem * a.itemsize(); }
char* at(array& a, int64_t elem) { return static_cast<char*>(a.raw_data()) + elem * a.itemsize(); }

}  // namespace

void cpu_sdpa_vjp(const Primitive& p, const std::vector<array>& in, std::vector<array>& out) {
  auto& ap = static_cast<const ScaledDotProductAttentionVjp&>(p);
  const array q = row_contiguous(in[0], true), k = row_contiguous(in[1], true), v = row_contiguous(in[2], true);
  const array o = row_contiguous(in[3], true), g = row_contiguous(in[4], true);
  for (auto& x : out) {
    x.set_data(allocator::malloc(x.nbytes()));
    if (x.nbytes() > 0) std::memset(x.raw_data(), 0, x.nbytes());
  }
  const int64_t B = q.shape(0), Hq = q.shape(1), Lq = q.shape(2), D = q.shape(3);
  const int64_t Hkv = k.shape(1), Lk = k.shape(2), Dv = v.shape(3);
  if (B == 0 || Hq == 0 || Lq == 0 || Lk == 0 || D == 0) return;
  const int64_t rep = Hq / Hkv;
  const float scale = ap.scale();
  const bool causal = ap.causal();
  // Query i sees keys j <= i + shift when causal (the queries are the last Lq positions).
  const int64_t shift = Lk - Lq;
  // Score rows padded to whole vectors of any SIMD width the kernels use.
  const int64_t ldk = (Lk + 15) / 16 * 16;
  const Dtype dt = q.dtype();

  parallel_for(B * Hkv, 1, [&](int64_t t0, int64_t t1) {
    std::vector<float> kf(size_t(Lk * D)), vf(size_t(Lk * Dv)), dk(size_t(Lk * D)), dv(size_t(Lk * Dv));
    // Keys and values transposed once per head ([D][ldk], zero padded) for the score products.
    std::vector<float> kt(size_t(D * ldk), 0.f), vt(size_t(Dv * ldk), 0.f);
    std::vector<float> qb(size_t(kRows * D)), ob(size_t(kRows * Dv)), gb(size_t(kRows * Dv)), dq(size_t(kRows * D));
    std::vector<float> s(size_t(kRows * ldk)), ds(size_t(kRows * ldk)), pt(size_t(ldk * kRows)), dst(size_t(ldk * kRows));
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t b = t / Hkv, hk = t % Hkv;
      const int64_t kv_row = (b * Hkv + hk) * Lk;
      copy_convert(at(k, kv_row * D), dt, kf.data(), float32, size_t(Lk * D));
      copy_convert(at(v, kv_row * Dv), dt, vf.data(), float32, size_t(Lk * Dv));
      for (int64_t j = 0; j < Lk; ++j) {
        for (int64_t x = 0; x < D; ++x) kt[size_t(x * ldk + j)] = kf[size_t(j * D + x)];
        for (int64_t x = 0; x < Dv; ++x) vt[size_t(x * ldk + j)] = vf[size_t(j * Dv + x)];
      }
      std::fill(dk.begin(), dk.end(), 0.f);
      std::fill(dv.begin(), dv.end(), 0.f);
      for (int64_t hq = hk * rep; hq < (hk + 1) * rep; ++hq) {
        const int64_t q_row = (b * Hq + hq) * Lq;
        for (int64_t i0 = 0; i0 < Lq; i0 += kRows) {
          const int64_t rows = std::min(kRows, Lq - i0);
          // Keys any row of the block may see.
          const int64_t nk = causal ? std::clamp(i0 + rows + shift, int64_t(0), Lk) : Lk;
          if (nk == 0) continue;  // no key visible: the gradients stay zero
          copy_convert(at(q, (q_row + i0) * D), dt, qb.data(), float32, size_t(rows * D));
          copy_convert(at(o, (q_row + i0) * Dv), dt, ob.data(), float32, size_t(rows * Dv));
          copy_convert(at(g, (q_row + i0) * Dv), dt, gb.data(), float32, size_t(rows * Dv));
          simd::attn_scores_transposed(qb.data(), rows, D, kt.data(), ldk, nk, s.data(), ldk);
          simd::attn_scores_transposed(gb.data(), rows, Dv, vt.data(), ldk, nk, ds.data(), ldk);
          for (int64_t r = 0; r < rows; ++r) {
            float* sr = s.data() + r * ldk;
            float* dr = ds.data() + r * ldk;
            const int64_t seen = causal ? std::clamp(i0 + r + shift + 1, int64_t(0), nk) : nk;
            if (seen == 0) {
              std::fill(sr, sr + nk, 0.f);
              std::fill(dr, dr + nk, 0.f);
              continue;
            }
            float m = -std::numeric_limits<float>::infinity();
            for (int64_t j = 0; j < seen; ++j) {
              sr[j] *= scale;
              m = std::max(m, sr[j]);
            }
            const float inv = 1.f / simd::exp_shift_sum_f32(sr, seen, m);
            float row = 0.f;  // rowsum(G * O)
            for (int64_t x = 0; x < Dv; ++x) row += gb[size_t(r * Dv + x)] * ob[size_t(r * Dv + x)];
            for (int64_t j = 0; j < seen; ++j) {
              sr[j] *= inv;
              dr[j] = scale * sr[j] * (dr[j] - row);
            }
            std::fill(sr + seen, sr + nk, 0.f);
            std::fill(dr + seen, dr + nk, 0.f);
          }
          std::fill(dq.begin(), dq.begin() + rows * D, 0.f);
          simd::attn_accumulate_tiled(0, ds.data(), rows, ldk, kf.data(), D, nk, D, dq.data());
          copy_convert(dq.data(), float32, at(out[0], (q_row + i0) * D), dt, size_t(rows * D));
          for (int64_t r = 0; r < rows; ++r) {
            for (int64_t j = 0; j < nk; ++j) {
              pt[size_t(j * kRows + r)] = s[size_t(r * ldk + j)];
              dst[size_t(j * kRows + r)] = ds[size_t(r * ldk + j)];
            }
          }
          simd::attn_accumulate_tiled(0, pt.data(), nk, kRows, gb.data(), Dv, rows, Dv, dv.data());
          simd::attn_accumulate_tiled(0, dst.data(), nk, kRows, qb.data(), D, rows, D, dk.data());
        }
      }
      copy_convert(dk.data(), float32, at(out[1], kv_row * D), dt, size_t(Lk * D));
      copy_convert(dv.data(), float32, at(out[2], kv_row * Dv), dt, size_t(Lk * Dv));
    }
  });
}

}  // namespace tessera
