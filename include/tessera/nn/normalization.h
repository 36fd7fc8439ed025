// Normalization layers (follows MLX's nn.RMSNorm, nn.LayerNorm, nn.GroupNorm, nn.BatchNorm).
// Features are on the last axis (channels-last, like MLX's convolutions), so BatchNorm and
// GroupNorm take [N, ..., C] where PyTorch takes [N, C, ...].
#pragma once

#include "tessera/nn/module.h"

namespace tessera::nn {

// x * rsqrt(mean(x^2) + eps) * weight over the last axis; weight starts at ones.
class RMSNorm : public Module {
 public:
  explicit RMSNorm(int dims, float eps = 1e-5f);
  std::string type_name() const override { return "RMSNorm"; }
  std::vector<array> forward(const std::vector<array>& inputs) override;
  using Module::operator();

 private:
  float eps_;
};

// (x - mean) * rsqrt(var + eps) * weight + bias over the last axis. affine=false drops both
// parameters; bias=false drops only the bias.
class LayerNorm : public Module {
 public:
  explicit LayerNorm(int dims, float eps = 1e-5f, bool affine = true, bool bias = true);
  std::string type_name() const override { return "LayerNorm"; }
  std::vector<array> forward(const std::vector<array>& inputs) override;
  using Module::operator();

 private:
  float eps_;
};

// Normalizes each sample over groups of features (and all spatial positions). MLX's default
// assigns feature c to group c % num_groups; pytorch_compatible=true uses PyTorch's contiguous
// blocks (feature c in group c / (dims / num_groups)), which is what PyTorch checkpoints expect.
class GroupNorm : public Module {
 public:
  GroupNorm(int num_groups, int dims, float eps = 1e-5f, bool affine = true, bool pytorch_compatible = false);
  std::string type_name() const override { return "GroupNorm"; }
  std::vector<array> forward(const std::vector<array>& inputs) override;
  using Module::operator();

 private:
  int num_groups_, dims_;
  float eps_;
  bool pytorch_compatible_;
};

// Normalizes each feature over the batch (and spatial axes) of a [N, C], [N, L, C] or
// [N, H, W, C] input. In training mode it uses the batch statistics (biased variance) and moves
// the running statistics by `momentum`: running = (1 - momentum) * running + momentum * batch.
// The running variance takes the unbiased batch variance, as PyTorch does (MLX takes the biased
// one), so a model trained here evaluates like its PyTorch twin. In eval mode (train(false)) the
// running statistics normalize. The running statistics are buffers: saved and loaded, never
// trained.
class BatchNorm : public Module {
 public:
  explicit BatchNorm(int num_features, float eps = 1e-5f, float momentum = 0.1f, bool affine = true,
                     bool track_running_stats = true);
  std::string type_name() const override { return "BatchNorm"; }
  std::vector<array> forward(const std::vector<array>& inputs) override;
  using Module::operator();

 private:
  float eps_, momentum_;
};

}  // namespace tessera::nn
