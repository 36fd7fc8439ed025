// bfloat16 binary ops run in one vector pass (widen, combine in float32, round to nearest even).
// Every result must be bit-identical to the float32 result of the same operands rounded once,
// with NaN kept NaN, over lengths with vector tails and with a broadcast scalar on either side.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <vector>

#include "tessera/tessera.h"

namespace tessera {
namespace {

float widen(uint16_t h) {
  uint32_t x = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

// Round to nearest, ties to even, on the bit pattern.
uint16_t round_bf16(float f) {
  if (std::isnan(f)) return 0x7fc0;
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t upper = x >> 16, lower = x & 0xffffu;
  if (lower > 0x8000u || (lower == 0x8000u && (upper & 1u))) return uint16_t(upper + 1);
  return uint16_t(upper);
}

std::vector<uint16_t> bits_of(const array& a) {
  array c = contiguous(a);
  c.eval();
  const auto* p = reinterpret_cast<const uint16_t*>(c.data<bfloat16_t>());
  return std::vector<uint16_t>(p, p + c.size());
}

array from_bits(const std::vector<uint16_t>& v) {
  std::vector<float> f;
  for (auto h : v) f.push_back(widen(h));
  return astype(array(f.begin(), Shape{int(f.size())}, float32), bfloat16);
}

TEST(Bfloat16Binary, BitIdenticalToRoundedFloat32) {
  struct Op {
    const char* name;
    std::function<array(const array&, const array&)> tessera;
    std::function<float(float, float)> reference;
  };
  const std::vector<Op> ops = {
      {"add", [](auto& a, auto& b) { return add(a, b); }, [](float x, float y) { return x + y; }},
      {"subtract", [](auto& a, auto& b) { return subtract(a, b); }, [](float x, float y) { return x - y; }},
      {"multiply", [](auto& a, auto& b) { return multiply(a, b); }, [](float x, float y) { return x * y; }},
      {"divide", [](auto& a, auto& b) { return divide(a, b); }, [](float x, float y) { return x / y; }},
      {"maximum", [](auto& a, auto& b) { return maximum(a, b); },
       [](float x, float y) { return std::isnan(x) || std::isnan(y) ? NAN : std::max(x, y); }},
      {"minimum", [](auto& a, auto& b) { return minimum(a, b); },
       [](float x, float y) { return std::isnan(x) || std::isnan(y) ? NAN : std::min(x, y); }},
  };
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> bits(0, 0xffff);
  for (int n : {1, 15, 16, 37, 1000}) {
    std::vector<uint16_t> a(static_cast<size_t>(n)), b(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      // Mostly finite values of moderate size, with some specials mixed in.
      a[size_t(i)] = uint16_t(i % 11 == 3 ? bits(rng) : (0x3c00 + bits(rng) % 0x0800) ^ (bits(rng) & 0x8000));
      b[size_t(i)] = uint16_t(i % 13 == 5 ? bits(rng) : (0x3c00 + bits(rng) % 0x0800) ^ (bits(rng) & 0x8000));
    }
    a[0] = 0x7f80;  // +inf
    if (n > 1) b[1] = 0x7fc1;  // NaN
    const array A = from_bits(a), B = from_bits(b), S = from_bits({b[size_t(n / 2)]});
    for (const auto& op : ops) {
      SCOPED_TRACE(std::string(op.name) + " n=" + std::to_string(n));
      auto check = [&](const array& got, auto x_at, auto y_at) {
        ASSERT_EQ(got.dtype(), bfloat16);
        auto g = bits_of(got);
        for (int i = 0; i < n; ++i) {
          const float r = op.reference(widen(x_at(i)), widen(y_at(i)));
          const uint16_t want = round_bf16(r);
          if (std::isnan(r)) {
            EXPECT_TRUE(std::isnan(widen(g[size_t(i)]))) << "index " << i;
          } else {
            EXPECT_EQ(g[size_t(i)], want) << "index " << i << ": " << widen(x_at(i)) << ", " << widen(y_at(i));
          }
        }
      };
      const uint16_t s = b[size_t(n / 2)];
      check(op.tessera(A, B), [&](int i) { return a[size_t(i)]; }, [&](int i) { return b[size_t(i)]; });
      check(op.tessera(A, S), [&](int i) { return a[size_t(i)]; }, [&](int) { return s; });
      check(op.tessera(S, A), [&](int) { return s; }, [&](int i) { return a[size_t(i)]; });
    }
  }
}

}  // namespace
}  // namespace tessera
