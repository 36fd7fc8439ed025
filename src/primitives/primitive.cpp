// Default transform rules: differentiate or batch the primitive's decomposition.
#include "primitives/primitive.h"

#include <stdexcept>
#include <string>

#include "tessera/transforms.h"
#include "transforms/autodiff.h"

namespace tessera {

namespace {

VectorFn decomposition_of(const Primitive& p, const char* rule) {
  return [&p, rule](const std::vector<array>& inputs) {
    std::vector<array> outs = p.decompose(inputs);
    if (outs.empty()) {
      throw std::invalid_argument(std::string("[") + p.name() + "] has no " + rule + " rule and no decomposition.");
    }
    return outs;
  };
}

}  // namespace

std::vector<array> Primitive::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                  const std::vector<int>& argnums, const std::vector<array>& outputs) const {
  (void)outputs;
  return detail::vjp_impl(decomposition_of(*this, "vjp"), primals, cotangents, argnums).second;
}

std::vector<array> Primitive::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                  const std::vector<int>& argnums) const {
  return detail::jvp_impl(decomposition_of(*this, "jvp"), primals, tangents, argnums).second;
}

std::pair<std::vector<array>, std::vector<int>> Primitive::vmap(const std::vector<array>& inputs,
                                                                const std::vector<int>& axes) const {
  auto fn = decomposition_of(*this, "vmap");
  std::vector<array> outs = vmap_trace_and_replay(fn, inputs, axes, {});
  return {outs, std::vector<int>(outs.size(), 0)};
}

}  // namespace tessera
