// Data and scaffolding for the checkpoint and training tests: a deterministic digits set (5x7
// glyphs of 0-9 placed at random offsets in an 8x8 image, stroke pixels dropped at random,
// Gaussian pixel noise), a small MLP and a data cursor that a checkpoint carries.
#pragma once

#include <stdlib.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "tessera/nn.h"
#include "tessera/tessera.h"
#include "testing/temp_dir.h"

namespace tessera::testing {

// splitmix64: a fixed generator, so the set never changes with the library's RNG.
class SplitMix {
 public:
  explicit SplitMix(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return double(next() >> 11) * (1.0 / 9007199254740992.0); }
  int below(int n) { return int(next() % uint64_t(n)); }
  double normal() {
    double u1 = uniform(), u2 = uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  uint64_t s_;
};

struct Digits {
  int n = 0;
  std::vector<float> x;  // [n, 64]
  std::vector<int32_t> y;
  array images() const { return array(x.begin(), Shape{n, 64}, float32); }
  array labels() const { return array(y.begin(), Shape{n}, int32); }
  // Rows idx as a batch (x, y).
  std::vector<array> batch(const std::vector<int>& idx) const {
    std::vector<float> bx;
    std::vector<int32_t> by;
    for (int i : idx) {
      bx.insert(bx.end(), x.begin() + size_t(i) * 64, x.begin() + size_t(i + 1) * 64);
      by.push_back(y[size_t(i)]);
    }
    int b = int(idx.size());
    return {array(bx.begin(), Shape{b, 64}, float32), array(by.begin(), Shape{b}, int32)};
  }
};

inline Digits make_digits(int n, uint64_t seed, double sigma = 0.15, double drop = 0.05) {
  static const char* glyphs[10][7] = {
      {"01110", "10001", "10011", "10101", "11001", "10001", "01110"},
      {"00100", "01100", "00100", "00100", "00100", "00100", "01110"},
      {"01110", "10001", "00001", "00010", "00100", "01000", "11111"},
      {"11111", "00010", "00100", "00010", "00001", "10001", "01110"},
      {"00010", "00110", "01010", "10010", "11111", "00010", "00010"},
      {"11111", "10000", "11110", "00001", "00001", "10001", "01110"},
      {"00110", "01000", "10000", "11110", "10001", "10001", "01110"},
      {"11111", "00001", "00010", "00100", "01000", "01000", "01000"},
      {"01110", "10001", "10001", "01110", "10001", "10001", "01110"},
      {"01110", "10001", "10001", "01111", "00001", "00010", "01100"},
  };
  SplitMix rng(seed);
  Digits d;
  d.n = n;
  d.x.assign(size_t(n) * 64, 0.0f);
  d.y.resize(size_t(n));
  for (int i = 0; i < n; ++i) {
    int c = i % 10;
    int dx = rng.below(3), dy = rng.below(2);
    double ink = 0.6 + 0.4 * rng.uniform();
    float* img = d.x.data() + size_t(i) * 64;
    for (int r = 0; r < 7; ++r) {
      for (int k = 0; k < 5; ++k) {
        bool on = glyphs[c][r][k] == '1' && rng.uniform() >= drop;
        if (on) img[(r + dy) * 8 + (k + dx)] = float(ink);
      }
    }
    for (int p = 0; p < 64; ++p) img[p] += float(sigma * rng.normal());
    d.y[size_t(i)] = c;
  }
  return d;
}

// Position in the data: epoch and batch index within it; each epoch has its own shuffle.
struct Cursor {
  uint64_t epoch = 0;
  uint64_t index = 0;
};

inline std::vector<int> batch_indices(const Cursor& c, int n, int batch) {
  std::vector<int> perm(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) perm[size_t(i)] = i;
  SplitMix rng(0x5eed0000ULL + c.epoch);
  for (int i = n - 1; i > 0; --i) std::swap(perm[size_t(i)], perm[size_t(rng.below(i + 1))]);
  return std::vector<int>(perm.begin() + long(c.index) * batch, perm.begin() + long(c.index + 1) * batch);
}

inline Cursor advance(Cursor c, int n, int batch) {
  if (++c.index >= uint64_t(n / batch)) {
    c.index = 0;
    ++c.epoch;
  }
  return c;
}

inline std::shared_ptr<nn::Sequential> make_mlp(int hidden, float dropout) {
  std::vector<nn::ModulePtr> layers{std::make_shared<nn::Linear>(64, hidden), std::make_shared<nn::ReLU>()};
  if (dropout > 0.0f) layers.push_back(std::make_shared<nn::Dropout>(dropout));
  layers.push_back(std::make_shared<nn::Linear>(hidden, 10));
  return std::make_shared<nn::Sequential>(layers);
}

inline float accuracy(nn::Module& model, const Digits& d) {
  bool was = model.training();
  model.train(false);
  array logits = astype(model(d.images()), float32);
  array acc = mean(astype(equal(argmax(logits, -1), d.labels()), float32));
  model.train(was);
  return acc.item<float>();
}


}  // namespace tessera::testing
