// Parameter initializers (follows MLX's mlx.nn.init). Each factory returns a function that maps an
// array to a new array of the same shape (the input only supplies the shape; its values are
// ignored), so `init::he_uniform()(weight)` re-initializes a weight in place of MLX's
// `nn.init.he_uniform()(weight)`. Random initializers draw from tessera::random's global key
// unless one is given.
//
// Fans follow MLX (and PyTorch) for weights laid out [out, ..., in]: fan_in = shape[-1] times the
// receptive field (the product of the middle axes), fan_out = shape[0] times the receptive field.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>

#include "tessera/array.h"

namespace tessera::nn::init {

using Initializer = std::function<array(const array&)>;

// (fan_in, fan_out) of a weight shaped [out, ..., in]; throws for fewer than 2 dims.
std::pair<float, float> calculate_fans(const Shape& shape);

Initializer constant(float value, Dtype dtype = float32);
Initializer normal(float mean = 0.0f, float std = 1.0f, Dtype dtype = float32,
                   std::optional<array> key = std::nullopt);
Initializer uniform(float low = 0.0f, float high = 1.0f, Dtype dtype = float32,
                    std::optional<array> key = std::nullopt);
// The identity matrix; needs a square 2-D shape.
Initializer identity(Dtype dtype = float32);
// Glorot/Xavier: std = gain * sqrt(2 / (fan_in + fan_out)); uniform limit gain * sqrt(6 / (fan_in + fan_out)).
Initializer glorot_normal(float gain = 1.0f, Dtype dtype = float32, std::optional<array> key = std::nullopt);
Initializer glorot_uniform(float gain = 1.0f, Dtype dtype = float32, std::optional<array> key = std::nullopt);
// He/Kaiming with mode "fan_in" or "fan_out": std = gain / sqrt(fan); uniform limit gain * sqrt(3 / fan).
Initializer he_normal(const std::string& mode = "fan_in", float gain = 1.0f, Dtype dtype = float32,
                      std::optional<array> key = std::nullopt);
Initializer he_uniform(const std::string& mode = "fan_in", float gain = 1.0f, Dtype dtype = float32,
                       std::optional<array> key = std::nullopt);

}  // namespace tessera::nn::init
