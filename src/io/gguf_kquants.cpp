// ggml's k-quant super-blocks (Q2_K-Q6_K, Q8_K): decoding to unsigned codes with per-group
// scales and biases, and a round-to-nearest encoder. Layouts are described in gguf_quant.h.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "io/gguf_quant.h"

namespace tessera::gguf::detail {

namespace {

// The 6-bit scale and min of sub-block j (0-7) of a Q4_K/Q5_K block: sub-blocks 0-3 keep them in
// the low 6 bits of bytes j and j + 4; sub-blocks 4-7 split them into a nibble of byte j + 4 and
// the top 2 bits of bytes j - 4 (scale) and j (min).
void scale_min_k4(const uint8_t* s, int j, int* sc, int* m) {
  if (j < 4) {
    *sc = s[j] & 63;
    *m = s[j + 4] & 63;
  } else {
    *sc = (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4);
    *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

void put_scale_min_k4(uint8_t* s, const int* sc, const int* m) {
  for (int j = 0; j < 4; ++j) {
    s[j] = uint8_t(sc[j] | ((sc[j + 4] >> 4) << 6));
    s[j + 4] = uint8_t(m[j] | ((m[j + 4] >> 4) << 6));
    s[j + 8] = uint8_t((sc[j + 4] & 0x0f) | ((m[j + 4] & 0x0f) << 4));
  }
}

// The 6-bit scale of sub-block j (0-15) of a Q3_K block (unsigned; the value is it minus 32):
// its low nibble is in byte j % 8 (low nibble for j < 8, high for j >= 8), its top 2 bits in
// byte 8 + j % 4 at bit 2 * (j / 4).
int scale_q3k(const uint8_t* s, int j) {
  int low = j < 8 ? s[j] & 0x0f : s[j - 8] >> 4;
  int high = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
  return low | (high << 4);
}

// Clamps before converting: NaN and infinities must not reach an out-of-range cast.
int clamp_round(float v, int lo, int hi) {
  v = std::nearbyint(v);
  return v >= float(lo) ? (v <= float(hi) ? int(v) : hi) : lo;
}

// Sub-block scales and offsets for an unsigned code range [0, nmax] with w ≈ s * q - m (m >= 0:
// the range always holds 0, as ggml's min-offset k-quants assume).
void range_scale(const float* x, int n, int nmax, float* s, float* m) {
  float lo = 0.0f, hi = 0.0f;
  for (int j = 0; j < n; ++j) {
    lo = std::min(lo, x[j]);
    hi = std::max(hi, x[j]);
  }
  *s = (hi - lo) / float(nmax);
  *m = -lo;
}

// The value of largest magnitude (keeps its sign), 0 for an all-zero or all-NaN run.
float signed_amax(const float* x, int n) {
  float amax = 0.0f, v = 0.0f;
  for (int j = 0; j < n; ++j) {
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      v = x[j];
    }
  }
  return v;
}

float max_of(const float* v, int n) {
  float m = 0.0f;
  for (int j = 0; j < n; ++j) m = std::max(m, v[j]);
  return m;
}

// Quantizes sub-block scales and mins of a min-offset block against super-block scales d and
// dmin (stored as float16, read back so the codes match what a reader computes).
void super_scales(const float* s, const float* m, int n, int levels, uint8_t* d_at, uint8_t* dmin_at, int* sc,
                  int* mq, float* eff_s, float* eff_m) {
  store_half(d_at, max_of(s, n) / float(levels));
  store_half(dmin_at, max_of(m, n) / float(levels));
  const float d = load_half(d_at), dmin = load_half(dmin_at);
  for (int j = 0; j < n; ++j) {
    sc[j] = d > 0.0f ? clamp_round(s[j] / d, 0, levels) : 0;
    mq[j] = dmin > 0.0f ? clamp_round(m[j] / dmin, 0, levels) : 0;
    eff_s[j] = d * float(sc[j]);
    eff_m[j] = dmin * float(mq[j]);
  }
}

int code_of(float x, float s, float m, int nmax) { return s > 0.0f ? clamp_round((x + m) / s, 0, nmax) : 0; }

}  // namespace

int decode_kblock(TensorType t, const uint8_t* b, KBlock& k) {
  switch (t) {
    case TensorType::q2_k: {
      const uint8_t* sc = b;
      const uint8_t* qs = b + 16;
      const float d = load_half(b + 80), dmin = load_half(b + 82);
      for (int g = 0; g < 16; ++g) {
        k.scale[g] = d * float(sc[g] & 0x0f);
        k.bias[g] = -(dmin * float(sc[g] >> 4));
      }
      // Weight 128 * h + 32 * f + l: bits 2f..2f+1 of byte 32 * h + l.
      for (int h = 0; h < 2; ++h)
        for (int f = 0; f < 4; ++f)
          for (int l = 0; l < 32; ++l) k.codes[128 * h + 32 * f + l] = (qs[32 * h + l] >> (2 * f)) & 3;
      return 16;
    }
    case TensorType::q3_k: {
      const uint8_t* hmask = b;
      const uint8_t* qs = b + 32;
      const uint8_t* sc = b + 96;
      const float d = load_half(b + 108);
      for (int g = 0; g < 16; ++g) {
        k.scale[g] = d * float(scale_q3k(sc, g) - 32);
        k.bias[g] = -4.0f * k.scale[g];
      }
      // Weight 128 * h + 32 * f + l: low bits 2f..2f+1 of byte 32 * h + l, high bit 4h + f of
      // hmask byte l; a set high bit means the code is not shifted down by 4.
      for (int h = 0; h < 2; ++h)
        for (int f = 0; f < 4; ++f)
          for (int l = 0; l < 32; ++l) {
            int low = (qs[32 * h + l] >> (2 * f)) & 3, high = (hmask[l] >> (4 * h + f)) & 1;
            k.codes[128 * h + 32 * f + l] = uint8_t(low | (high << 2));
          }
      return 16;
    }
    case TensorType::q4_k:
    case TensorType::q5_k: {
      const bool five = t == TensorType::q5_k;
      const float d = load_half(b), dmin = load_half(b + 2);
      const uint8_t* sc = b + 4;
      const uint8_t* qh = b + 16;
      const uint8_t* qs = b + (five ? 48 : 16);
      for (int g = 0; g < 8; ++g) {
        int s, m;
        scale_min_k4(sc, g, &s, &m);
        k.scale[g] = d * float(s);
        k.bias[g] = -(dmin * float(m));
      }
      // Weight 64 * p + l (l < 32): low nibble of byte 32 * p + l; 64 * p + 32 + l: its high
      // nibble. Q5_K's fifth bits: bit 2p (resp. 2p + 1) of qh byte l.
      for (int p = 0; p < 4; ++p)
        for (int l = 0; l < 32; ++l) {
          uint8_t q = qs[32 * p + l];
          uint8_t lo = q & 0x0f, hi = q >> 4;
          if (five) {
            lo = uint8_t(lo | (((qh[l] >> (2 * p)) & 1) << 4));
            hi = uint8_t(hi | (((qh[l] >> (2 * p + 1)) & 1) << 4));
          }
          k.codes[64 * p + l] = lo;
          k.codes[64 * p + 32 + l] = hi;
        }
      return 32;
    }
    case TensorType::q6_k: {
      const uint8_t* ql = b;
      const uint8_t* qh = b + 128;
      const uint8_t* sc = b + 192;
      const float d = load_half(b + 208);
      for (int g = 0; g < 16; ++g) {
        k.scale[g] = d * float(int8_t(sc[g]));
        k.bias[g] = -32.0f * k.scale[g];
      }
      // Weight 128 * h + 32 * f + l: the low 4 bits are nibble f / 2 of ql byte 64 * h + 32 * (f % 2)
      // + l, the high 2 bits are bits 2f..2f+1 of qh byte 32 * h + l.
      for (int h = 0; h < 2; ++h)
        for (int f = 0; f < 4; ++f)
          for (int l = 0; l < 32; ++l) {
            int low = (ql[64 * h + 32 * (f % 2) + l] >> (4 * (f / 2))) & 0x0f;
            int high = (qh[32 * h + l] >> (2 * f)) & 3;
            k.codes[128 * h + 32 * f + l] = uint8_t(low | (high << 4));
          }
      return 16;
    }
    default:
      throw std::logic_error("[gguf] decode_kblock called for " + tensor_type_name(t));
  }
}

void dequantize_q8_k(const uint8_t* src, float* dst, int64_t n_blocks) {
  for (int64_t i = 0; i < n_blocks; ++i, src += 292, dst += 256) {
    float d;
    std::memcpy(&d, src, 4);  // little-endian float32, as every GGUF this reader accepts
    for (int j = 0; j < 256; ++j) dst[j] = d * float(int8_t(src[4 + j]));
  }
}

void quantize_kblock(TensorType t, const float* x, uint8_t* b) {
  switch (t) {
    case TensorType::q2_k: {
      float s[16], m[16], es[16], em[16];
      int sc[16], mq[16];
      for (int g = 0; g < 16; ++g) range_scale(x + 16 * g, 16, 3, &s[g], &m[g]);
      super_scales(s, m, 16, 15, b + 80, b + 82, sc, mq, es, em);
      for (int g = 0; g < 16; ++g) b[g] = uint8_t(sc[g] | (mq[g] << 4));
      uint8_t* qs = b + 16;
      std::memset(qs, 0, 64);
      for (int h = 0; h < 2; ++h)
        for (int f = 0; f < 4; ++f)
          for (int l = 0; l < 32; ++l) {
            const int v = 128 * h + 32 * f + l, g = v / 16;
            qs[32 * h + l] = uint8_t(qs[32 * h + l] | (code_of(x[v], es[g], em[g], 3) << (2 * f)));
          }
      return;
    }
    case TensorType::q3_k: {
      // Each sub-block's value of largest magnitude maps to q - 4 = -4 exactly (its scale takes
      // that value's sign); the super-block scale does the same for the sub-block scales.
      float s[16];
      for (int g = 0; g < 16; ++g) s[g] = signed_amax(x + 16 * g, 16) / -4.0f;
      store_half(b + 108, signed_amax(s, 16) / -32.0f);
      const float d = load_half(b + 108);
      uint8_t* hmask = b;
      uint8_t* qs = b + 32;
      uint8_t* sc = b + 96;
      std::memset(b, 0, 108);
      float es[16];
      for (int g = 0; g < 16; ++g) {
        const int q = d != 0.0f ? clamp_round(s[g] / d, -32, 31) : 0;
        es[g] = d * float(q);
        const int u = q + 32;
        if (g < 8) sc[g] = uint8_t(sc[g] | (u & 0x0f));
        else sc[g - 8] = uint8_t(sc[g - 8] | ((u & 0x0f) << 4));
        sc[8 + g % 4] = uint8_t(sc[8 + g % 4] | ((u >> 4) << (2 * (g / 4))));
      }
      for (int h = 0; h < 2; ++h)
        for (int f = 0; f < 4; ++f)
          for (int l = 0; l < 32; ++l) {
            const int v = 128 * h + 32 * f + l, g = v / 16;
            const int code = es[g] != 0.0f ? clamp_round(x[v] / es[g], -4, 3) + 4 : 4;
            qs[32 * h + l] = uint8_t(qs[32 * h + l] | ((code & 3) << (2 * f)));
            hmask[l] = uint8_t(hmask[l] | ((code >> 2) << (4 * h + f)));
          }
      return;
    }
    case TensorType::q4_k:
    case TensorType::q5_k: {
      const bool five = t == TensorType::q5_k;
      const int nmax = five ? 31 : 15;
      float s[8], m[8], es[8], em[8];
      int sc[8], mq[8];
      for (int g = 0; g < 8; ++g) range_scale(x + 32 * g, 32, nmax, &s[g], &m[g]);
      super_scales(s, m, 8, 63, b, b + 2, sc, mq, es, em);
      put_scale_min_k4(b + 4, sc, mq);
      uint8_t* qh = b + 16;
      uint8_t* qs = b + (five ? 48 : 16);
      if (five) std::memset(qh, 0, 32);
      for (int p = 0; p < 4; ++p)
        for (int l = 0; l < 32; ++l) {
          const int lo = code_of(x[64 * p + l], es[2 * p], em[2 * p], nmax);
          const int hi = code_of(x[64 * p + 32 + l], es[2 * p + 1], em[2 * p + 1], nmax);
          qs[32 * p + l] = uint8_t((lo & 0x0f) | ((hi & 0x0f) << 4));
          if (five) qh[l] = uint8_t(qh[l] | ((lo >> 4) << (2 * p)) | ((hi >> 4) << (2 * p + 1)));
        }
      return;
    }
    case TensorType::q6_k: {
      // As Q3_K: the largest magnitude maps to q - 32 = -32, the largest scale to -128.
      float s[16];
      for (int g = 0; g < 16; ++g) s[g] = signed_amax(x + 16 * g, 16) / -32.0f;
      store_half(b + 208, signed_amax(s, 16) / -128.0f);
      const float d = load_half(b + 208);
      uint8_t* ql = b;
      uint8_t* qh = b + 128;
      std::memset(b, 0, 192);
      float es[16];
      for (int g = 0; g < 16; ++g) {
        const int q = d != 0.0f ? clamp_round(s[g] / d, -128, 127) : 0;
        b[192 + g] = uint8_t(int8_t(q));
        es[g] = d * float(q);
      }
      for (int h = 0; h < 2; ++h)
        for (int f = 0; f < 4; ++f)
          for (int l = 0; l < 32; ++l) {
            const int v = 128 * h + 32 * f + l, g = v / 16;
            const int code = es[g] != 0.0f ? clamp_round(x[v] / es[g], -32, 31) + 32 : 32;
            uint8_t& lo = ql[64 * h + 32 * (f % 2) + l];
            lo = uint8_t(lo | ((code & 0x0f) << (4 * (f / 2))));
            qh[32 * h + l] = uint8_t(qh[32 * h + l] | ((code >> 4) << (2 * f)));
          }
      return;
    }
    default:
      throw std::logic_error("[gguf] quantize_kblock called for " + tensor_type_name(t));
  }
}

}  // namespace tessera::gguf::detail
