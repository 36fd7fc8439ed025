// Matrix products with a handful of rows: the shape of decoding one token (x [1..4, K] times a
// weight matrix). Such a product reads every element of B once and does two flops with it, so it
// is a stream over B and runs at memory speed only if B is read contiguously, by every core, in
// its stored type. GEMM libraries tune for the square case and copy or re-pack B on every call,
// which for one row costs more than the product itself.
#pragma once

#include <cstdint>

#include "backend/common/matmul_layout.h"
#include "tessera/dtype.h"

namespace tessera {

// Products with at most this many rows of A take skinny_gemm.
inline constexpr int64_t kSkinnyRows = 4;

// C[M, N] = alpha * A[M, K] @ B[K, N] + beta * C for float32, bfloat16 and float16 (A, B and C
// in dtype d, C row-contiguous, accumulation in float32). Returns false when d is another
// type or the build has no vector kernel for this CPU; then nothing was written.
bool skinny_gemm(Dtype d, const MatrixView& a, const MatrixView& b, const void* pa, const void* pb, void* c,
                 int64_t M, int64_t N, int64_t K, float alpha, float beta);

}  // namespace tessera
