// Gradient clipping by global norm (MLX's optimizers.clip_grad_norm, PyTorch's
// clip_grad_norm_).
#pragma once

#include <utility>

#include "tessera/optimizers/optimizer.h"

namespace tessera::optimizers {

// Returns the gradients scaled by min(1, max_norm / (‖g‖ + 1e-6)), where ‖g‖ is the L2 norm of
// all gradients together, and ‖g‖ itself (a float32 scalar). The norm is accumulated in float32
// whatever the gradients' dtype; each clipped gradient keeps its dtype. Lazy.
std::pair<Params, array> clip_grad_norm(const Params& grads, float max_norm);

}  // namespace tessera::optimizers
