// Random-number primitives. RandomBits is the only source of randomness: a pure function of its
// key, so every backend, thread count and platform produces the same bits (follows MLX's
// RandomBits). The generator is Threefry-2x32 with 20 rounds (Salmon et al., "Parallel random
// numbers: as easy as 1, 2, 3", SC'11; checked against the Random123 known-answer vectors).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>

#include "primitives/primitive.h"

namespace tessera {

namespace threefry {

using Pair = std::pair<uint32_t, uint32_t>;

inline constexpr uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

// Threefry-2x32-20: encrypts `counter` under `key`.
inline constexpr Pair hash(Pair key, Pair counter) {
  constexpr int kRot[8] = {13, 15, 26, 6, 17, 29, 16, 24};
  const uint32_t ks[3] = {key.first, key.second, key.first ^ key.second ^ 0x1BD11BDAu};
  uint32_t x0 = counter.first + ks[0];
  uint32_t x1 = counter.second + ks[1];
  // Five groups of four rounds; a key injection follows each group.
  for (uint32_t g = 0; g < 5; ++g) {
    for (int r = 0; r < 4; ++r) {
      x0 += x1;
      x1 = rotl32(x1, kRot[(g % 2) * 4 + r]);
      x1 ^= x0;
    }
    x0 += ks[(g + 1) % 3];
    x1 += ks[(g + 2) % 3] + g + 1;
  }
  return {x0, x1};
}

// The bit layout of one key's output (MLX's): `nbytes` bytes form n = ceil(nbytes / 4) words.
// Counter pair (i, half + odd + i) for i < half = n / 2 fills words i and half + odd + i; when n
// is odd, the middle word `half` is the first half of hash(key, (half, 0)). Trailing partial
// words are truncated. Word-pair ranges [w_begin, w_end) of [0, half) allow splitting the work.
struct Layout {
  size_t nbytes, nwords, half;
  bool odd;
  explicit Layout(size_t bytes) : nbytes(bytes), nwords((bytes + 3) / 4), half(nwords / 2), odd(nwords % 2 == 1) {}
};

inline void store_word(uint8_t* out, const Layout& l, size_t word, uint32_t v) {
  size_t at = word * 4;
  size_t n = at + 4 <= l.nbytes ? 4 : l.nbytes - at;
  std::memcpy(out + at, &v, n);  // little-endian byte order, as MLX writes on its platforms
}

// Fills pairs [p_begin, p_end) of the layout (and the odd middle word with the last range).
inline void fill_bits(Pair key, const Layout& l, size_t p_begin, size_t p_end, uint8_t* out) {
  for (size_t i = p_begin; i < p_end; ++i) {
    size_t j = l.half + (l.odd ? 1 : 0) + i;
    Pair r = hash(key, {uint32_t(i), uint32_t(j)});
    store_word(out, l, i, r.first);
    store_word(out, l, j, r.second);
  }
  if (l.odd && p_end == l.half) store_word(out, l, l.half, hash(key, {uint32_t(l.half), 0u}).first);
}

inline void fill_bits(Pair key, size_t nbytes, uint8_t* out) {
  Layout l(nbytes);
  fill_bits(key, l, 0, l.half, out);
}

}  // namespace threefry

// Inputs: keys of shape [..., 2] (uint32). Output: shape [..., M...] of uint8/16/32 (width 1, 2
// or 4 bytes); the elements of each trailing block come from its own key.
class RandomBits : public Primitive {
 public:
  RandomBits(Stream s, Shape shape, int width) : Primitive(s), shape_(std::move(shape)), width_(width) {}
  PrimitiveKind kind() const override { return PrimitiveKind::RandomBits; }
  const char* name() const override { return "random_bits"; }
  bool is_equivalent(const Primitive& o) const override {
    if (o.kind() != kind()) return false;
    auto& r = static_cast<const RandomBits&>(o);
    return r.shape_ == shape_ && r.width_ == width_;
  }
  const Shape& shape() const { return shape_; }
  int width() const { return width_; }
  // Only a batching rule: keys are integers, so the derivative drivers never ask for one.
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                       const std::vector<int>& axes) const override;

 private:
  Shape shape_;
  int width_;
};

}  // namespace tessera
