// Dropout (follows MLX's nn.Dropout, nn.Dropout2d, nn.Dropout3d). Active only in training mode:
// each element (or channel) is zeroed with probability p and survivors are scaled by 1 / (1 - p),
// so eval mode (train(false)) is the identity. Masks come from tessera::random's global key, so
// seeding it (random::seed) makes a run repeatable.
#pragma once

#include "tessera/nn/module.h"

namespace tessera::nn {

class Dropout : public Module {
 public:
  explicit Dropout(float p = 0.5f);
  std::string type_name() const override { return "Dropout"; }
  std::vector<array> forward(const std::vector<array>& inputs) override;
  using Module::operator();

 protected:
  // Drops with a mask of `mask_shape` broadcast over x.
  array drop(const array& x, const Shape& mask_shape) const;
  float p_;
};

// Zeroes whole channels of [N, H, W, C] or [H, W, C] inputs (the mask broadcasts over H and W).
class Dropout2d : public Dropout {
 public:
  explicit Dropout2d(float p = 0.5f) : Dropout(p) {}
  std::string type_name() const override { return "Dropout2d"; }
  std::vector<array> forward(const std::vector<array>& inputs) override;
};

// Zeroes whole channels of [N, D, H, W, C] or [D, H, W, C] inputs.
class Dropout3d : public Dropout {
 public:
  explicit Dropout3d(float p = 0.5f) : Dropout(p) {}
  std::string type_name() const override { return "Dropout3d"; }
  std::vector<array> forward(const std::vector<array>& inputs) override;
};

}  // namespace tessera::nn
