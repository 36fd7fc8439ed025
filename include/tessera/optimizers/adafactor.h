// Adafactor (Shazeer & Stern 2018, "Adafactor: Adaptive Learning Rates with Sublinear Memory
// Cost"; MLX's optimizers.Adafactor, whose options and defaults it keeps).
#pragma once

#include <optional>
#include <utility>

#include "tessera/optimizers/optimizer.h"

namespace tessera::optimizers {

// With t the 1-based step, β2 = 1 − t^decay_rate and G = g² + ε1:
//   parameters of rank ≥ 2 keep factored second moments over the last two axes,
//     R ← β2·R + (1 − β2)·mean(G, −1),  C ← β2·C + (1 − β2)·mean(G, −2),
//     u = g · rsqrt(R / mean(R, −1))[..., :, None] · rsqrt(C)[..., None, :];
//   vectors and scalars keep a full one, V ← β2·V + (1 − β2)·G,  u = g·rsqrt(V).
//   u ← u / max(1, rms(u) / clip_threshold)
//   α = ρ · (scale_parameter ? max(ε2, rms(p)) : 1),
//     ρ = relative_step ? min(warmup_init ? 1e-6·t : 1e-2, 1/√t) : learning_rate
//   u ← α·u;  with beta_1, u ← m ← β1·m + (1 − β1)·u
//   p ← p − α·λ·p − u
// A learning rate is needed only when relative_step is false.
class Adafactor : public Optimizer {
 public:
  explicit Adafactor(LearningRate learning_rate = {}, std::pair<float, float> eps = {1e-30f, 1e-3f},
                     float clip_threshold = 1.0f, float decay_rate = -0.8f, std::optional<float> beta_1 = std::nullopt,
                     float weight_decay = 0.0f, bool scale_parameter = true, bool relative_step = true,
                     bool warmup_init = false);
  std::string name() const override { return "adafactor"; }

  std::pair<float, float> eps;
  float clip_threshold, decay_rate;
  std::optional<float> beta_1;
  float weight_decay;
  bool scale_parameter, relative_step, warmup_init;

 protected:
  void init_single(const std::string& param_name, const array& param, Slots& slots) const override;
  array apply_single(const std::string& param_name, const array& grad, const array& param, Slots& slots,
                     const std::optional<array>& lr, int step) const override;
};

}  // namespace tessera::optimizers
