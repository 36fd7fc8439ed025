// Choosing the next token from a row of logits. The order follows llama.cpp's default chain and
// mlx-lm: logit bias, penalties over the recent tokens, then the filters (top-k, top-p, min-p)
// on the untempered distribution, then sampling at the temperature. Temperature 0 is greedy
// (argmax, lowest id on ties). Random draws come from tessera::random (threefry), so a seed gives
// the same tokens on every machine.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "tessera/array.h"

namespace tessera::lm {

struct SamplingOptions {
  float temperature = 0.0f;  // 0: greedy
  int top_k = 0;             // keep the k most likely (0: off)
  float top_p = 1.0f;        // keep the smallest set whose probability reaches top_p (1: off)
  float min_p = 0.0f;        // keep tokens with p >= min_p * p_max (0: off)
  float repetition_penalty = 1.0f;  // logits of recent tokens: / penalty if > 0, * penalty if < 0
  float presence_penalty = 0.0f;    // subtracted once from each recent token's logit
  float frequency_penalty = 0.0f;   // subtracted per occurrence
  int penalty_window = 64;          // how many recent tokens the penalties look at
  std::vector<std::pair<int, float>> logit_bias;
  uint64_t seed = 0;
};

struct Sample {
  int id;
  float logprob;  // log-probability of `id` after bias and penalties (NaN when not computed)
};

class Sampler {
 public:
  // std::invalid_argument for out-of-range options (negative temperature, top_p outside (0, 1]...).
  explicit Sampler(SamplingOptions options);
  // logits: `vocab` float32 values; history: the ids so far (prompt and generated).
  Sample sample(const float* logits, int vocab, std::span<const int> history, bool want_logprob = false);
  // Takes the last row of a [..., vocab] logits array (evaluates it; float32 or converted).
  Sample sample(const array& logits, std::span<const int> history, bool want_logprob = false);
  const SamplingOptions& options() const { return opt_; }

 private:
  float next_uniform();
  SamplingOptions opt_;
  std::optional<array> key_;
  std::vector<float> uniforms_;
  size_t next_ = 0;
  // Scratch reused across calls.
  std::vector<float> work_;
  std::vector<int> order_;
  std::vector<int> counts_;
};

}  // namespace tessera::lm
