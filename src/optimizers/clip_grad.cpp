#include "tessera/optimizers/clip_grad.h"

#include <stdexcept>

#include "tessera/ops.h"

namespace tessera::optimizers {

std::pair<Params, array> clip_grad_norm(const Params& grads, float max_norm) {
  if (!(max_norm >= 0.0f)) throw std::invalid_argument("[clip_grad_norm] max_norm must be non-negative.");
  array total_sq = array(0.0f);
  for (const auto& [name, g] : grads) total_sq = total_sq + sum(square(astype(g, float32)));
  array total = sqrt(total_sq);
  array factor = minimum(array(max_norm) / (total + array(1e-6f)), array(1.0f));
  Params clipped;
  for (const auto& [name, g] : grads) clipped.insert_or_assign(name, g * astype(factor, g.dtype()));
  return {std::move(clipped), total};
}

}  // namespace tessera::optimizers
