// Attention weights from raw scores (AttentionWeights) and their gradient (AttentionWeightsVjp),
// one row of Lk keys at a time in float32: the visible prefix of a row (all of it, or the keys a
// causal query may see) is scaled and normalized, the hidden rest is written as zeros and never
// read. The composite these replace makes half a dozen float32 passes over the [Lq, Lk] scores
// in each direction (widen, scale, mask, softmax, narrow; and their gradients).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "backend/backend.h"
#include "backend/common/axis_rows.h"
#include "backend/cpu/fast_kernels.h"
#include "backend/cpu/simd.h"
#include "core/allocator.h"
#include "core/thread_pool.h"
#include "primitives/fast.h"
#include "tessera/ops.h"

namespace tessera {

namespace {

// The rows [r0, r1) of a row-contiguous float32 / 16-bit array as float32, and back.
void load_rows(const array& a, int64_t first, int64_t n, float* dst) {
  if (a.dtype() == float32) {
    std::memcpy(dst, a.data<float>() + first, size_t(n) * sizeof(float));
  } else {
    simd::f16_to_32(static_cast<const uint16_t*>(a.raw_data()) + first, dst, size_t(n), a.dtype() == bfloat16);
  }
}

void store_rows(const float* src, array& a, int64_t first, int64_t n) {
  if (a.dtype() == float32) {
    std::memcpy(a.data<float>() + first, src, size_t(n) * sizeof(float));
  } else {
    simd::f32_to_16(src, static_cast<uint16_t*>(a.raw_data()) + first, size_t(n), a.dtype() == bfloat16);
  }
}

bool has_row_kernel(Dtype d) { return d == float32 || d == bfloat16 || d == float16; }

// Splits `rows` rows of Lk floats over the threads; body(r0, r1, scratch) gets 2 * Lk floats.
template <typename F>
void over_rows(int64_t rows, int64_t Lk, F&& body) {
  constexpr int64_t kWork = 1 << 15;
  auto run = [&](int64_t r0, int64_t r1) {
    std::vector<float> scratch(static_cast<size_t>(2 * std::max<int64_t>(Lk, 1)));
    body(r0, r1, scratch.data());
  };
  if (rows > 1 && rows * Lk >= 2 * kWork) parallel_for(rows, std::max<int64_t>(1, kWork / std::max<int64_t>(Lk, 1)), run);
  else run(0, rows);
}

}  // namespace

void cpu_attention_weights(const Primitive& p, const std::vector<array>& in, std::vector<array>& out) {
  auto& ap = static_cast<const AttentionWeights&>(p);
  if (!has_row_kernel(in[0].dtype()) || !has_row_kernel(out[0].dtype())) return run_decomposition(p, in, out);
  const array x = row_contiguous(in[0], true);
  array& o = out[0];
  o.set_data(allocator::malloc(o.nbytes()));
  if (o.size() == 0) return;
  const int64_t Lq = x.shape(-2), Lk = x.shape(-1), rows = int64_t(x.size()) / std::max<int64_t>(Lk, 1);
  const float scale = ap.scale();
  over_rows(rows, Lk, [&](int64_t r0, int64_t r1, float* buf) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t i = r % Lq;
      const int64_t visible = ap.causal() ? std::clamp<int64_t>(i + Lk - Lq + 1, 0, Lk) : Lk;
      if (visible == 0) {
        // Every key hidden: the masked softmax is 0 / 0.
        std::fill(buf, buf + Lk, std::numeric_limits<float>::quiet_NaN());
      } else {
        load_rows(x, r * Lk, visible, buf);
        simd::binary_f32(BinaryOp::Multiply, buf, false, &scale, true, buf, visible);
        simd::softmax_f32(buf, buf, visible);
        std::fill(buf + visible, buf + Lk, 0.0f);
      }
      store_rows(buf, o, r * Lk, Lk);
    }
  });
}

void cpu_attention_weights_vjp(const Primitive& p, const std::vector<array>& in, std::vector<array>& out) {
  auto& ap = static_cast<const AttentionWeightsVjp&>(p);
  if (!has_row_kernel(in[0].dtype()) || !has_row_kernel(in[1].dtype()) || !has_row_kernel(out[0].dtype())) {
    return run_decomposition(p, in, out);
  }
  const array w = row_contiguous(in[0], true), g = row_contiguous(in[1], true);
  array& o = out[0];
  o.set_data(allocator::malloc(o.nbytes()));
  if (o.size() == 0) return;
  const int64_t Lk = w.shape(-1), rows = int64_t(w.size()) / std::max<int64_t>(Lk, 1);
  const float scale = ap.scale();
  over_rows(rows, Lk, [&](int64_t r0, int64_t r1, float* buf) {
    float* pr = buf;
    float* gr = buf + Lk;
    for (int64_t r = r0; r < r1; ++r) {
      // scale * p * (g - sum(g * p)): zero wherever the weight is zero (hidden keys).
      load_rows(w, r * Lk, Lk, pr);
      load_rows(g, r * Lk, Lk, gr);
      const float shift = simd::dot_f32(pr, gr, Lk);
      simd::binary_f32(BinaryOp::Subtract, gr, false, &shift, true, gr, Lk);
      simd::binary_f32(BinaryOp::Multiply, gr, false, pr, false, gr, Lk);
      simd::binary_f32(BinaryOp::Multiply, gr, false, &scale, true, gr, Lk);
      store_rows(gr, o, r * Lk, Lk);
    }
  });
}

}  // namespace tessera
