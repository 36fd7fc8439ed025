// Conv1d / Conv2d over tessera::conv1d / conv2d.
#include "tessera/nn/convolution.h"

#include <cmath>
#include <stdexcept>

#include "tessera/ops.h"
#include "tessera/random.h"

namespace tessera::nn {

namespace {

void check_channels(const char* layer, int in_channels, int out_channels, int groups) {
  if (in_channels <= 0 || out_channels <= 0 || groups <= 0 || in_channels % groups || out_channels % groups) {
    throw std::invalid_argument(std::string("[") + layer + "] in_channels (" + std::to_string(in_channels) +
                                ") and out_channels (" + std::to_string(out_channels) +
                                ") must be positive multiples of groups (" + std::to_string(groups) + ").");
  }
}

}  // namespace

Conv1d::Conv1d(int in_channels, int out_channels, int kernel_size, int stride, int padding, int dilation, int groups,
               bool bias)
    : stride_(stride), padding_(padding), dilation_(dilation), groups_(groups) {
  check_channels("Conv1d", in_channels, out_channels, groups);
  float scale = 1.0f / std::sqrt(float(in_channels) * kernel_size);
  register_parameter("weight", random::uniform(-scale, scale, {out_channels, kernel_size, in_channels / groups}));
  if (bias) register_parameter("bias", random::uniform(-scale, scale, {out_channels}));
}

std::vector<array> Conv1d::forward(const std::vector<array>& inputs) {
  array y = conv1d(single_input(inputs), param("weight"), stride_, padding_, dilation_, groups_);
  if (has_param("bias")) y = add(y, param("bias"));
  return {y};
}

Conv2d::Conv2d(int in_channels, int out_channels, std::pair<int, int> kernel_size, std::pair<int, int> stride,
               std::pair<int, int> padding, std::pair<int, int> dilation, int groups, bool bias)
    : stride_(stride), padding_(padding), dilation_(dilation), groups_(groups) {
  check_channels("Conv2d", in_channels, out_channels, groups);
  auto [kh, kw] = kernel_size;
  float scale = 1.0f / std::sqrt(float(in_channels) * kh * kw);
  register_parameter("weight", random::uniform(-scale, scale, {out_channels, kh, kw, in_channels / groups}));
  if (bias) register_parameter("bias", random::uniform(-scale, scale, {out_channels}));
}

std::vector<array> Conv2d::forward(const std::vector<array>& inputs) {
  array y = conv2d(single_input(inputs), param("weight"), stride_, padding_, dilation_, groups_);
  if (has_param("bias")) y = add(y, param("bias"));
  return {y};
}

}  // namespace tessera::nn
