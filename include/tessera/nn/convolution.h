// Convolutions (follows MLX's nn.Conv1d / nn.Conv2d): channels-last inputs [N, L, C_in] and
// [N, H, W, C_in], weights [C_out, K, C_in / groups] and [C_out, KH, KW, C_in / groups]
// (PyTorch's weights are [C_out, C_in / groups, K...]: move the channel axis last to load them).
// Weights and bias start uniform(-s, s) with s = 1 / sqrt(C_in * prod(kernel)), as in MLX.
#pragma once

#include <utility>

#include "tessera/nn/module.h"

namespace tessera::nn {

class Conv1d : public Module {
 public:
  Conv1d(int in_channels, int out_channels, int kernel_size, int stride = 1, int padding = 0, int dilation = 1,
         int groups = 1, bool bias = true);
  std::string type_name() const override { return "Conv1d"; }
  std::vector<array> forward(const std::vector<array>& inputs) override;
  using Module::operator();

 private:
  int stride_, padding_, dilation_, groups_;
};

class Conv2d : public Module {
 public:
  Conv2d(int in_channels, int out_channels, std::pair<int, int> kernel_size, std::pair<int, int> stride = {1, 1},
         std::pair<int, int> padding = {0, 0}, std::pair<int, int> dilation = {1, 1}, int groups = 1,
         bool bias = true);
  // Square kernel, stride, padding and dilation.
  Conv2d(int in_channels, int out_channels, int kernel_size, int stride = 1, int padding = 0, int dilation = 1,
         int groups = 1, bool bias = true)
      : Conv2d(in_channels, out_channels, {kernel_size, kernel_size}, {stride, stride}, {padding, padding},
               {dilation, dilation}, groups, bias) {}
  std::string type_name() const override { return "Conv2d"; }
  std::vector<array> forward(const std::vector<array>& inputs) override;
  using Module::operator();

 private:
  std::pair<int, int> stride_, padding_, dilation_;
  int groups_;
};

}  // namespace tessera::nn
