// ggml's block-quantized formats that Tessera reads and writes (ggml-common.h block layouts, the
// reference (de)quantizers of ggml-quants.c). Every block holds 32 weights:
//   Q4_0: f16 d, 16 bytes of nibbles              w = d * (q - 8)
//   Q4_1: f16 d, f16 m, 16 bytes of nibbles       w = d * q + m
//   Q5_0: f16 d, u32 high bits, 16 bytes          w = d * (q - 16)
//   Q5_1: f16 d, f16 m, u32 high bits, 16 bytes   w = d * q + m
//   Q8_0: f16 d, 32 int8                          w = d * q
// Low nibbles hold weights 0-15 of a block and high nibbles weights 16-31.
#pragma once

#include <cstdint>

#include "tessera/gguf.h"

namespace tessera::gguf::detail {

// True for the types dequantize_blocks and to_affine handle.
bool is_supported_quant(TensorType t);
int affine_bits(TensorType t);  // 4, 5 or 8

// Dequantizes `n_blocks` consecutive blocks into 32 * n_blocks floats.
void dequantize_blocks(TensorType t, const uint8_t* src, float* dst, int64_t n_blocks);

// Converts `n_blocks` blocks to the affine layout: per block, its 32 values packed as a
// little-endian bit stream of `affine_bits(t)`-bit unsigned integers into `words` (bits uint32
// words per block), and one scale and bias with w = scale * q + bias. Exact: every ggml type
// here is an affine map of unsigned codes once its offset is folded into the bias.
void to_affine(TensorType t, const uint8_t* src, uint32_t* words, float* scales, float* biases, int64_t n_blocks);

// Quantizes 32 * n_blocks floats to Q8_0 or Q4_0 blocks, rounding as ggml's reference
// quantizers do (Q8_0: d = amax / 127; Q4_0: d = max / -8 with max the signed value of
// largest magnitude).
void quantize_blocks(TensorType t, const float* src, uint8_t* dst, int64_t n_blocks);

}  // namespace tessera::gguf::detail
