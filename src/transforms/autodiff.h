// Internal entry points of the derivative transforms, with an explicit list of the primals that
// need derivatives (the public API differentiates all of them).
#pragma once

#include <utility>
#include <vector>

#include "tessera/transforms.h"

namespace tessera::detail {

// Cotangents are returned for the primals in `argnums`, in that order.
std::pair<std::vector<array>, std::vector<array>> vjp_impl(const VectorFn& fun, const std::vector<array>& primals,
                                                           const std::vector<array>& cotangents,
                                                           const std::vector<int>& argnums);
// tangents[k] belongs to primals[argnums[k]]; the others have zero tangent.
std::pair<std::vector<array>, std::vector<array>> jvp_impl(const VectorFn& fun, const std::vector<array>& primals,
                                                           const std::vector<array>& tangents,
                                                           const std::vector<int>& argnums);

}  // namespace tessera::detail
