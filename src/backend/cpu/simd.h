// SIMD float32 kernels (Google Highway, runtime dispatch across AVX2, AVX-512 and NEON).
// Accuracy vs. correctly rounded results, on all float32 inputs (out-of-range inputs, NaN and
// infinities are patched to the IEEE results): exp ≤ 1 ulp (own kernel; measured 0.94 ulp max
// over all float32 inputs vs double std::exp, subnormal results included, overflow to inf from
// 88.72283935546875), sigmoid ≤ 3 ulp (measured 2.4 ulp max over all inputs, subnormal tail
// included), tanh ≤ 4 ulp (own kernel from the same exp reduction; measured 3.25 ulp max over all
// inputs), log ≤ 4 ulp (Highway's documented bound), sin/cos ≤ 3 ulp for
// |x| ≤ 39000 (larger |x| use libm), sqrt exact, rsqrt ≤ 1 ulp (1/sqrt computed exactly then
// rounded twice).
#pragma once

#include <cstdint>

#include "primitives/elementwise.h"
#include "primitives/reduce.h"

namespace tessera::simd {

bool has_unary_f32(UnaryOp op);
// Returns false (and does nothing) when `op` has no SIMD kernel.
bool unary_f32(UnaryOp op, const float* in, float* out, int64_t n);

bool has_binary_f32(BinaryOp op);
// a_scalar / b_scalar: the operand is a single broadcast value.
bool binary_f32(BinaryOp op, const float* a, bool a_scalar, const float* b, bool b_scalar, float* out, int64_t n);
// out = (a * b) op c, or c op (a * b) with c_first, for op Add or Subtract (false for the
// others), the product rounded to float32 before the second op: bit for bit the two binary
// kernels in one pass. a is a row of n; b and c rows or single values. out may alias a row.
bool mul_then_f32(BinaryOp op, bool c_first, const float* a, const float* b, bool b_scalar, const float* c,
                  bool c_scalar, float* out, int64_t n);
// The same on bfloat16 bit patterns, rounded to nearest even; false where has_binary_f32 is.
bool binary_bf16(BinaryOp op, const uint16_t* a, bool a_scalar, const uint16_t* b, bool b_scalar, uint16_t* out,
                 int64_t n);

// float32 <-> float16/bfloat16 with round-to-nearest-even.
void f32_to_16(const float* in, uint16_t* out, size_t n, bool bf16);
void f16_to_32(const uint16_t* in, float* out, size_t n, bool bf16);

// Reductions of a contiguous run (sum uses several accumulators, so the order differs from a
// sequential sum; the error is bounded like pairwise summation over lanes).
float reduce_f32(ReduceOp op, const float* in, int64_t n);
// Adds/maxes n contiguous floats into acc (acc[i] op= in[i]), for reductions over outer axes.
void accumulate_f32(ReduceOp op, const float* in, float* acc, int64_t n);

// Softmax of a contiguous row (exp(x - max) / sum; NaN rows give NaN). in and out may alias.
void softmax_f32(const float* in, float* out, int64_t n);

// Sum of a[i] * b[i] over a contiguous run (several accumulators).
float dot_f32(const float* a, const float* b, int64_t n);

// Fused row kernels (float32). stream: write `out` with streaming stores (large outputs that
// would only evict the inputs from cache); `out` must then not alias the inputs.
// Softmax through a scratch row of n floats: max pass, exp pass into scratch (one exp per
// element), scaled write to out. NaN rows give NaN; all -inf rows give NaN like the composite.
// next (optional): the next row's n floats, prefetched during the exp pass.
void softmax_row_f32(const float* in, float* out, float* scratch, int64_t n, bool stream,
                     const float* next = nullptr);
// Softmax of `rows` contiguous rows of n floats (as softmax_row_f32), with each row's write
// overlapped with the next row's exp pass; scratch holds 2 * n floats. out must not alias in.
void softmax_rows_f32(const float* in, float* out, int64_t rows, int64_t n, float* scratch, bool stream);
// out = x / sqrt(mean(x^2) + eps) * w.
void rms_norm_row_f32(const float* x, const float* w, float* out, int64_t n, float eps, bool stream);
// One row of rms_norm's gradient: dx = that of x; dw accumulates the row's share of the weight's.
void rms_norm_vjp_row_f32(const float* x, const float* g, const float* w, float* dx, float* dw, int64_t n, float eps);
// out = (x - mean) / sqrt(var + eps) * w + b.
void layer_norm_row_f32(const float* x, const float* w, const float* b, float* out, int64_t n, float eps,
                        bool stream);

// Attention building blocks. Key/value element kinds: 0 float32, 1 float16, 2 bfloat16 (16-bit
// rows are widened in registers).
// scores[g * s_stride + j] = dot(q[g * D ...], k[j * k_stride ...]) for g < G, j < nk.
void attn_scores(int kind, const float* q, int64_t G, int64_t D, const void* k, int64_t k_stride, int64_t nk,
                 float* scores, int64_t s_stride);
// The same scores for many query rows (R of them, prompt processing): the key block is
// transposed into kt (D * round_up(nk, lanes) floats of scratch) and shared by all rows; scores
// fills round_up(nk, lanes) columns per row (s_stride at least that).
void attn_scores_tiled(int kind, const float* q, int64_t R, int64_t D, const void* k, int64_t k_stride, int64_t nk,
                       float* scores, int64_t s_stride, float* kt);
// The same against float32 keys the caller transposed once (kt [D][ldk], ldk a multiple of 16,
// zero past the keys), for the first nk keys (s gets round_up(nk, lanes) <= ldk columns).
void attn_scores_transposed(const float* q, int64_t R, int64_t D, const float* kt, int64_t ldk, int64_t nk,
                            float* scores, int64_t s_stride);
// s[j] = exp(s[j] - m) (0 where s[j] - m < -87.3, NaN kept); returns the sum.
float exp_shift_sum_f32(float* s, int64_t n, float m);
// acc[g * Dv + d] += sum_j p[g * p_stride + j] * v[j * v_stride + d].
void attn_accumulate(int kind, const float* p, int64_t G, int64_t p_stride, const void* v, int64_t v_stride,
                     int64_t nk, int64_t Dv, float* acc);
// The same for many rows (R, prompt processing): register tiles of rows by columns.
void attn_accumulate_tiled(int kind, const float* p, int64_t R, int64_t p_stride, const void* v, int64_t v_stride,
                           int64_t nk, int64_t Dv, float* acc);

}  // namespace tessera::simd
