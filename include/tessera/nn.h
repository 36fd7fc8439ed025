// tessera::nn: modules, layers, activations and initializers (follows MLX's mlx.nn).
#pragma once

#include "tessera/nn/activations.h"
#include "tessera/nn/attention.h"
#include "tessera/nn/containers.h"
#include "tessera/nn/convolution.h"
#include "tessera/nn/dropout.h"
#include "tessera/nn/embedding.h"
#include "tessera/nn/init.h"
#include "tessera/nn/linear.h"
#include "tessera/nn/module.h"
#include "tessera/nn/normalization.h"
#include "tessera/nn/positional_encoding.h"
#include "tessera/nn/quantized.h"
