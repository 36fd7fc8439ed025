// custom_function, custom_vjp and checkpoint: a CustomTransforms node wraps the function.
#include <sstream>
#include <stdexcept>

#include "core/node_pool.h"
#include "primitives/custom.h"
#include "tessera/ops.h"
#include "tessera/transforms.h"

namespace tessera {

std::vector<array> CustomTransforms::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                         const std::vector<int>& argnums, const std::vector<array>& outputs) const {
  if (!vjp_) return Primitive::vjp(primals, cotangents, argnums, outputs);
  std::vector<array> all = (*vjp_)(primals, cotangents, outputs);
  if (all.size() != primals.size()) {
    std::ostringstream os;
    os << "[" << name_ << "] the custom vjp returned " << all.size() << " cotangents for " << primals.size()
       << " primals.";
    throw std::invalid_argument(os.str());
  }
  std::vector<array> out;
  for (int i : argnums) out.push_back(all[i]);
  return out;
}

std::vector<array> CustomTransforms::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                         const std::vector<int>& argnums) const {
  if (!jvp_) return Primitive::jvp(primals, tangents, argnums);
  return (*jvp_)(primals, tangents, argnums);
}

std::pair<std::vector<array>, std::vector<int>> CustomTransforms::vmap(const std::vector<array>& inputs,
                                                                       const std::vector<int>& axes) const {
  if (!vmap_) return Primitive::vmap(inputs, axes);
  return (*vmap_)(inputs, axes);
}

namespace {

VectorFn wrap(const char* name, VectorFn fun, std::optional<CustomVjpFn> fun_vjp, std::optional<CustomJvpFn> fun_jvp,
              std::optional<CustomVmapFn> fun_vmap) {
  auto prim_args = std::make_shared<std::tuple<VectorFn, std::optional<CustomVjpFn>, std::optional<CustomJvpFn>,
                                               std::optional<CustomVmapFn>>>(std::move(fun), std::move(fun_vjp),
                                                                             std::move(fun_jvp), std::move(fun_vmap));
  return [name, prim_args](const std::vector<array>& inputs) {
    auto& [f, v, j, m] = *prim_args;
    // Tracing the function once gives the outputs' shapes and dtypes; eval runs it again.
    std::vector<array> traced = f(inputs);
    std::vector<Shape> shapes;
    std::vector<Dtype> dtypes;
    for (auto& t : traced) {
      shapes.push_back(t.shape());
      dtypes.push_back(t.dtype());
    }
    auto prim = std::make_shared<CustomTransforms>(to_stream({}), name, f, v, j, m);
    return array::make_arrays(std::move(shapes), dtypes, prim, inputs);
  };
}

}  // namespace

VectorFn custom_function(VectorFn fun, std::optional<CustomVjpFn> fun_vjp, std::optional<CustomJvpFn> fun_jvp,
                         std::optional<CustomVmapFn> fun_vmap) {
  return wrap("custom_function", std::move(fun), std::move(fun_vjp), std::move(fun_jvp), std::move(fun_vmap));
}

VectorFn custom_vjp(VectorFn fun, CustomVjpFn fun_vjp) {
  return wrap("custom_vjp", std::move(fun), std::move(fun_vjp), std::nullopt, std::nullopt);
}

VectorFn checkpoint(VectorFn fun) { return wrap("checkpoint", std::move(fun), std::nullopt, std::nullopt, std::nullopt); }

}  // namespace tessera
