// tessera::nn: modules, layers, activations, losses and initializers (follows MLX's mlx.nn).
//
//   auto model = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(784, 128),
//                                                 std::make_shared<nn::ReLU>(),
//                                                 std::make_shared<nn::Linear>(128, 10));
//   auto step = nn::value_and_grad(*model, [&](const std::vector<array>& in) {
//     return nn::losses::cross_entropy((*model)(in[0]), in[1], std::nullopt, -1, 0.0f,
//                                      nn::losses::Reduction::mean);
//   });
//   auto [loss, grads] = step({x, y});  // grads: nn::Params keyed like trainable_parameters()
#pragma once

#include "tessera/nn/activations.h"
#include "tessera/nn/attention.h"
#include "tessera/nn/containers.h"
#include "tessera/nn/convolution.h"
#include "tessera/nn/dropout.h"
#include "tessera/nn/embedding.h"
#include "tessera/nn/init.h"
#include "tessera/nn/linear.h"
#include "tessera/nn/losses.h"
#include "tessera/nn/module.h"
#include "tessera/nn/normalization.h"
#include "tessera/nn/positional_encoding.h"
#include "tessera/nn/quantized.h"
