#include "io/gguf_quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "tessera/half_types.h"

namespace tessera::gguf::detail {

namespace {

constexpr int kBlock = 32;

float load_half(const uint8_t* p) { return tessera::detail::half_to_float(uint16_t(p[0] | (p[1] << 8))); }

void store_half(uint8_t* p, float v) {
  uint16_t h = tessera::detail::float_to_half(v);
  p[0] = uint8_t(h);
  p[1] = uint8_t(h >> 8);
}

uint32_t load_u32(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24; }

// One block as unsigned codes with w = scale * code + bias (the form both dequantization and the
// affine conversion need). Returns the block's byte size.
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

}  // namespace

bool is_supported_quant(TensorType t) {
  return t == TensorType::q4_0 || t == TensorType::q4_1 || t == TensorType::q5_0 || t == TensorType::q5_1 ||
         t == TensorType::q8_0;
}

int affine_bits(TensorType t) {
  switch (t) {
    case TensorType::q4_0:
    case TensorType::q4_1:
      return 4;
    case TensorType::q5_0:
    case TensorType::q5_1:
      return 5;
    default:
      return 8;
  }
}

void dequantize_blocks(TensorType t, const uint8_t* src, float* dst, int64_t n_blocks) {
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
  const int bits = affine_bits(t);
  uint8_t codes[kBlock];
  for (int64_t i = 0; i < n_blocks; ++i) {
    src += decode_block(t, src, codes, &scales[i], &biases[i]);
    // 32 codes of `bits` bits fill exactly `bits` words.
    uint32_t* w = words + i * bits;
    std::fill(w, w + bits, 0u);
    for (int j = 0; j < kBlock; ++j) {
      int pos = j * bits;
      uint64_t v = uint64_t(codes[j]) << (pos % 32);
      w[pos / 32] |= uint32_t(v);
      if ((pos % 32) + bits > 32) w[pos / 32 + 1] |= uint32_t(v >> 32);
    }
  }
}

void quantize_blocks(TensorType t, const float* src, uint8_t* dst, int64_t n_blocks) {
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
      throw std::invalid_argument("[gguf] quantize_blocks supports Q8_0 and Q4_0 only");
    }
  }
}

}  // namespace tessera::gguf::detail
