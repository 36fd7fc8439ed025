#include "io/gguf_quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "tessera/half_types.h"

namespace tessera::gguf::detail {

namespace {

constexpr int kBlock = 32;

uint32_t load_u32(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24; }

// One legacy block as unsigned codes with w = scale * code + bias (the form both dequantization
// and the affine conversion need). Returns the block's byte size.
size_t decode_block(TensorType t, const uint8_t* b, uint8_t codes[kBlock], float* scale, float* bias) {
  switch (t) {
    case TensorType::q4_0:
    case TensorType::q4_1: {
      bool has_min = t == TensorType::q4_1;
      float d = load_half(b);
      const uint8_t* qs = b + (has_min ? 4 : 2);
      for (int j = 0; j < 16; ++j) {
        codes[j] = qs[j] & 0x0f;
        codes[j + 16] = qs[j] >> 4;
      }
      *scale = d;
      *bias = has_min ? load_half(b + 2) : -8.0f * d;
      return has_min ? 20 : 18;
    }
    case TensorType::q5_0:
    case TensorType::q5_1: {
      bool has_min = t == TensorType::q5_1;
      float d = load_half(b);
      const uint8_t* p = b + (has_min ? 4 : 2);
      uint32_t high = load_u32(p);
      const uint8_t* qs = p + 4;
      for (int j = 0; j < 16; ++j) {
        codes[j] = uint8_t((qs[j] & 0x0f) | (((high >> j) & 1) << 4));
        codes[j + 16] = uint8_t((qs[j] >> 4) | (((high >> (j + 16)) & 1) << 4));
      }
      *scale = d;
      *bias = has_min ? load_half(b + 2) : -16.0f * d;
      return has_min ? 24 : 22;
    }
    case TensorType::q8_0: {
      float d = load_half(b);
      for (int j = 0; j < kBlock; ++j) codes[j] = uint8_t(int(int8_t(b[2 + j])) + 128);
      *scale = d;
      *bias = -128.0f * d;
      return 34;
    }
    default:
      throw std::logic_error("[gguf] decode_block called for an unsupported type");
  }
}

template <int B>
void pack_codes_t(const uint8_t* codes, int n, uint32_t* w) {
  constexpr int per_word = 32 / B;
  for (int i = 0; i < n / per_word; ++i) {
    uint32_t v = 0;
    for (int k = 0; k < per_word; ++k) v |= uint32_t(codes[i * per_word + k]) << (k * B);
    w[i] = v;
  }
}

// Packs n codes of `bits` bits into a little-endian bit stream (n * bits a multiple of 32).
void pack_codes(const uint8_t* codes, int n, int bits, uint32_t* w) {
  switch (bits) {
    case 2: return pack_codes_t<2>(codes, n, w);
    case 4: return pack_codes_t<4>(codes, n, w);
    case 8: return pack_codes_t<8>(codes, n, w);
    default: break;
  }
  std::fill(w, w + n * bits / 32, 0u);
  for (int j = 0; j < n; ++j) {
    int pos = j * bits;
    uint64_t v = uint64_t(codes[j]) << (pos % 32);
    w[pos / 32] |= uint32_t(v);
    if ((pos % 32) + bits > 32) w[pos / 32 + 1] |= uint32_t(v >> 32);
  }
}

}  // namespace

float load_half(const uint8_t* p) { return tessera::detail::half_to_float(uint16_t(p[0] | (p[1] << 8))); }

void store_half(uint8_t* p, float v) {
  uint16_t h = tessera::detail::float_to_half(v);
  p[0] = uint8_t(h);
  p[1] = uint8_t(h >> 8);
}

bool is_kquant(TensorType t) {
  return t == TensorType::q2_k || t == TensorType::q3_k || t == TensorType::q4_k || t == TensorType::q5_k ||
         t == TensorType::q6_k || t == TensorType::q8_k;
}

bool is_supported_quant(TensorType t) {
  return t == TensorType::q4_0 || t == TensorType::q4_1 || t == TensorType::q5_0 || t == TensorType::q5_1 ||
         t == TensorType::q8_0 || is_kquant(t);
}

AffineForm affine_form(TensorType t) {
  switch (t) {
    case TensorType::q4_0:
    case TensorType::q4_1:
    case TensorType::q4_k:
      return {4, 32};
    case TensorType::q5_0:
    case TensorType::q5_1:
    case TensorType::q5_k:
      return {5, 32};
    case TensorType::q8_0:
      return {8, 32};
    case TensorType::q2_k:
      return {2, 16};
    // A group of 16 3-bit codes does not fill whole words, which the quantized kernels need:
    // Q3_K's codes take 4 bits.
    case TensorType::q3_k:
      return {4, 16};
    case TensorType::q6_k:
      return {kQ6KBits, 16};
    default:
      // Q8_K's float32 scale times an 8-bit code is not exact in float32: dequantized instead.
      return {};
  }
}

void dequantize_blocks(TensorType t, const uint8_t* src, float* dst, int64_t n_blocks) {
  if (t == TensorType::q8_k) return dequantize_q8_k(src, dst, n_blocks);
  if (is_kquant(t)) {
    const size_t nbytes = block_layout(t).second;
    KBlock k;
    for (int64_t i = 0; i < n_blocks; ++i, src += nbytes, dst += 256) {
      const int gs = decode_kblock(t, src, k);
      // scale * code is exact (see gguf_quant.h), so this matches ggml's float32 result.
      for (int g = 0; g < 256 / gs; ++g) {
        const float s = k.scale[g], b = k.bias[g];
        const uint8_t* c = k.codes + g * gs;
        float* o = dst + g * gs;
        for (int j = 0; j < gs; ++j) o[j] = s * float(c[j]) + b;
      }
    }
    return;
  }
  uint8_t codes[kBlock];
  for (int64_t i = 0; i < n_blocks; ++i) {
    float scale, bias;
    src += decode_block(t, src, codes, &scale, &bias);
    // Q4_0/Q5_0/Q8_0 fold their offset into the bias; d * (q - o) and d * q - o * d agree
    // exactly here because o * d is a power-of-two multiple of a float16 value.
    for (int j = 0; j < kBlock; ++j) dst[j] = scale * float(codes[j]) + bias;
    dst += kBlock;
  }
}

void to_affine(TensorType t, const uint8_t* src, uint32_t* words, float* scales, float* biases, int64_t n_blocks) {
  const AffineForm f = affine_form(t);
  if (f.bits == 0) throw std::logic_error("[gguf] to_affine called for " + tensor_type_name(t));
  if (is_kquant(t)) {
    const size_t nbytes = block_layout(t).second;
    const int words_per_block = 256 * f.bits / 32, groups = 256 / f.group_size;
    KBlock k;
    for (int64_t i = 0; i < n_blocks; ++i, src += nbytes) {
      decode_kblock(t, src, k);
      pack_codes(k.codes, 256, f.bits, words + i * words_per_block);
      std::copy(k.scale, k.scale + groups, scales + i * groups);
      std::copy(k.bias, k.bias + groups, biases + i * groups);
    }
    return;
  }
  uint8_t codes[kBlock];
  for (int64_t i = 0; i < n_blocks; ++i) {
    src += decode_block(t, src, codes, &scales[i], &biases[i]);
    pack_codes(codes, kBlock, f.bits, words + i * f.bits);
  }
}

bool can_quantize(TensorType t) {
  return t == TensorType::q8_0 || t == TensorType::q4_0 || (is_kquant(t) && t != TensorType::q8_k);
}

void quantize_blocks(TensorType t, const float* src, uint8_t* dst, int64_t n_blocks) {
  if (is_kquant(t) && t != TensorType::q8_k) {
    const size_t nbytes = block_layout(t).second;
    for (int64_t i = 0; i < n_blocks; ++i) quantize_kblock(t, src + i * 256, dst + i * nbytes);
    return;
  }
  for (int64_t i = 0; i < n_blocks; ++i, src += kBlock) {
    if (t == TensorType::q8_0) {
      float amax = 0.0f;
      for (int j = 0; j < kBlock; ++j) amax = std::max(amax, std::fabs(src[j]));
      float d = amax / 127.0f;
      float id = d != 0.0f ? 1.0f / d : 0.0f;
      store_half(dst, d);
      for (int j = 0; j < kBlock; ++j) {
        // Clamped before converting: NaN or inf inputs must not reach an out-of-range cast.
        float v = std::round(src[j] * id);
        v = v >= -127.0f ? (v <= 127.0f ? v : 127.0f) : -127.0f;
        dst[2 + j] = uint8_t(int8_t(int(v)));
      }
      dst += 34;
    } else if (t == TensorType::q4_0) {
      // The value of largest magnitude maps to code 0 exactly (d = max / -8), so the sign of
      // the scale follows it and the full range of codes is used on that side.
      float amax = 0.0f, max = 0.0f;
      for (int j = 0; j < kBlock; ++j) {
        if (std::fabs(src[j]) > amax) {
          amax = std::fabs(src[j]);
          max = src[j];
        }
      }
      float d = max / -8.0f;
      float id = d != 0.0f ? 1.0f / d : 0.0f;
      store_half(dst, d);
      for (int j = 0; j < 16; ++j) {
        auto code = [&](float x) {
          float v = x * id + 8.5f;
          v = v >= 0.0f ? (v <= 15.0f ? v : 15.0f) : 0.0f;
          return uint8_t(int(v));
        };
        dst[2 + j] = uint8_t(code(src[j]) | code(src[j + 16]) << 4);
      }
      dst += 18;
    } else {
      throw std::invalid_argument("[gguf] quantize_blocks supports Q8_0, Q4_0 and Q2_K-Q6_K only");
    }
  }
}

}  // namespace tessera::gguf::detail
