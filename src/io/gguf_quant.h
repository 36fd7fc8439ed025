// ggml's block-quantized formats that Tessera reads and writes (ggml-common.h block layouts, the
// reference (de)quantizers of ggml-quants.c). Legacy blocks hold 32 weights:
//   Q4_0: f16 d, 16 bytes of nibbles              w = d * (q - 8)
//   Q4_1: f16 d, f16 m, 16 bytes of nibbles       w = d * q + m
//   Q5_0: f16 d, u32 high bits, 16 bytes          w = d * (q - 16)
//   Q5_1: f16 d, f16 m, u32 high bits, 16 bytes   w = d * q + m
//   Q8_0: f16 d, 32 int8                          w = d * q
// Low nibbles hold weights 0-15 of a block and high nibbles weights 16-31.
//
// k-quant super-blocks hold 256 weights in sub-blocks whose scales (and mins) are themselves
// quantized against one or two f16 super-block scales:
//   Q2_K (84 B):  16 bytes of 4-bit scale | 4-bit min << 4, 64 bytes of 2-bit q, f16 d, f16 dmin
//                 16 sub-blocks of 16: w = d * sc * q - dmin * m
//   Q3_K (110 B): 32 bytes of high bits, 64 bytes of low 2 bits, 12 bytes of 6-bit scales, f16 d
//                 16 sub-blocks of 16: w = d * (sc - 32) * (q - 4), q = low | high << 2
//   Q4_K (144 B): f16 d, f16 dmin, 12 bytes of 6-bit scales and mins, 128 bytes of nibbles
//                 8 sub-blocks of 32: w = d * sc * q - dmin * m
//   Q5_K (176 B): as Q4_K with 32 bytes of fifth bits before the nibbles
//   Q6_K (210 B): 128 bytes of low 4 bits, 64 bytes of high 2 bits, 16 int8 scales, f16 d
//                 16 sub-blocks of 16: w = d * sc * (q - 32)
//   Q8_K (292 B): f32 d, 256 int8, 16 int16 sums (ggml's activation format): w = d * q
// Within each 128 (Q2_K, Q3_K, Q6_K) or 64 (Q4_K, Q5_K) weights, consecutive runs of 32 share
// the bytes of one 32-byte column and take successive bit fields of it.
//
// Every product d * sc * q above is exact in float32 (at most 24 significant bits), so the
// affine form scale * q + bias with scale = d * sc reproduces ggml's float32 dequantization bit
// for bit.
#pragma once

#include <cstdint>

#include "tessera/gguf.h"

namespace tessera::gguf::detail {

// The exact affine layout a block type converts to (tessera::quantize's: `bits`-bit codes,
// one scale and bias per `group_size` weights); bits == 0 where the type has none.
// Q6_K's 6-bit codes are stored in 8 bits: the quantized kernels have SIMD paths for 2, 4 and 8
// bits, and a 6-bit matrix-vector product takes the scalar path, 30 to 50 times slower than the
// 8-bit one that reads a third more bytes (benchmarks/quantized_bench.cpp, BM_QuantizedMatvec).
constexpr int kQ6KBits = 8;

struct AffineForm {
  int bits = 0;
  int group_size = 0;
};
AffineForm affine_form(TensorType t);

// True for the block types dequantize_blocks handles (legacy types and Q2_K-Q8_K).
bool is_supported_quant(TensorType t);
bool is_kquant(TensorType t);

// Dequantizes `n_blocks` consecutive blocks into block_layout(t).first * n_blocks floats.
void dequantize_blocks(TensorType t, const uint8_t* src, float* dst, int64_t n_blocks);

// Converts `n_blocks` blocks to affine_form(t): per block, its codes packed as a little-endian
// bit stream into `words` (values * bits / 32 words per block), and a scale and bias per group
// with w = scale * code + bias. Exact: each of these types is an affine map of unsigned codes
// once its offset is folded into the bias.
void to_affine(TensorType t, const uint8_t* src, uint32_t* words, float* scales, float* biases, int64_t n_blocks);

// The types quantize_blocks writes: Q8_0, Q4_0 and Q2_K-Q6_K.
bool can_quantize(TensorType t);
// Quantizes block_layout(t).first * n_blocks floats. Q8_0 and Q4_0 round as ggml's reference
// quantizers do (Q8_0: d = amax / 127; Q4_0: d = max / -8 with max the signed value of largest
// magnitude); the k-quants take each sub-block's range and round to nearest, without ggml's
// search for the scale that minimizes the weighted error.
void quantize_blocks(TensorType t, const float* src, uint8_t* dst, int64_t n_blocks);

// One k-quant super-block as unsigned codes and per-group scales and biases (gguf_kquants.cpp).
struct KBlock {
  uint8_t codes[256];
  float scale[16];
  float bias[16];
};
// Decodes a Q2_K-Q6_K block; returns its group size (16 or 32).
int decode_kblock(TensorType t, const uint8_t* b, KBlock& out);
void dequantize_q8_k(const uint8_t* src, float* dst, int64_t n_blocks);
void quantize_kblock(TensorType t, const float* x, uint8_t* dst);

float load_half(const uint8_t* p);
void store_half(uint8_t* p, float v);

}  // namespace tessera::gguf::detail
