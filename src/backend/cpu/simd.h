// SIMD float32 kernels (Google Highway, runtime dispatch across AVX2, AVX-512 and NEON).
// Accuracy vs. correctly rounded results, on all float32 inputs (out-of-range inputs, NaN and
// infinities are patched to the IEEE results): exp ≤ 1 ulp, log ≤ 4 ulp, tanh ≤ 4 ulp
// (Highway's documented bounds), sin/cos ≤ 3 ulp for |x| ≤ 39000 (larger |x| use libm),
// sigmoid ≤ 3 ulp, sqrt exact, rsqrt ≤ 1 ulp (1/sqrt computed exactly then rounded twice).
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

}  // namespace tessera::simd
