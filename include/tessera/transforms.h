// Function transformations (follows MLX's transforms.h): reverse and forward mode derivatives,
// vectorizing maps, user-defined rules and rematerialization. They compose: grad of vmap,
// vmap of grad, grad of grad and jvp of vjp all work, because every rule is built from ops.
#pragma once

#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "tessera/array.h"

namespace tessera {

using VectorFn = std::function<std::vector<array>(const std::vector<array>&)>;

// Computes fun(primals) and the vector-Jacobian product of its outputs with `cotangents`
// (one per output, same shapes). Returns {outputs, cotangents of the primals}.
std::pair<std::vector<array>, std::vector<array>> vjp(const VectorFn& fun, const std::vector<array>& primals,
                                                      const std::vector<array>& cotangents);
std::pair<array, array> vjp(const std::function<array(const array&)>& fun, const array& primal,
                            const array& cotangent);

// Computes fun(primals) and the Jacobian-vector product with `tangents` (one per primal).
// Returns {outputs, tangents of the outputs}.
std::pair<std::vector<array>, std::vector<array>> jvp(const VectorFn& fun, const std::vector<array>& primals,
                                                      const std::vector<array>& tangents);
std::pair<array, array> jvp(const std::function<array(const array&)>& fun, const array& primal,
                            const array& tangent);

// value_and_grad: the function's outputs and the gradient of its first output (a scalar) with
// respect to the arguments in `argnums`. Further outputs are auxiliary values.
using ValueAndGradFn = std::function<std::pair<std::vector<array>, std::vector<array>>(const std::vector<array>&)>;
using SimpleValueAndGradFn = std::function<std::pair<array, std::vector<array>>(const std::vector<array>&)>;

ValueAndGradFn value_and_grad(const VectorFn& fun, const std::vector<int>& argnums);
ValueAndGradFn value_and_grad(const VectorFn& fun, int argnum = 0);
std::function<std::pair<array, array>(const array&)> value_and_grad(const std::function<array(const array&)>& fun);
SimpleValueAndGradFn value_and_grad(const std::function<array(const std::vector<array>&)>& fun,
                                    const std::vector<int>& argnums);
SimpleValueAndGradFn value_and_grad(const std::function<array(const std::vector<array>&)>& fun, int argnum = 0);

std::function<std::vector<array>(const std::vector<array>&)> grad(
    const std::function<array(const std::vector<array>&)>& fun, const std::vector<int>& argnums);
std::function<std::vector<array>(const std::vector<array>&)> grad(
    const std::function<array(const std::vector<array>&)>& fun, int argnum = 0);
std::function<array(const array&)> grad(const std::function<array(const array&)>& fun);

// Vectorizing map: runs `fun` over axis in_axes[i] of each input (-1: the input is shared by
// all batch entries) and stacks the results along out_axes[j] of each output. Empty axis lists
// mean axis 0 everywhere.
std::function<array(const array&)> vmap(const std::function<array(const array&)>& fun, int in_axis = 0,
                                        int out_axis = 0);
std::function<array(const array&, const array&)> vmap(const std::function<array(const array&, const array&)>& fun,
                                                      int in_axis_a = 0, int in_axis_b = 0, int out_axis = 0);
VectorFn vmap(const VectorFn& fun, const std::vector<int>& in_axes = {}, const std::vector<int>& out_axes = {});

// Runs a vectorizing map directly on arrays, with explicit axes (as vmap does per call).
std::vector<array> vmap_trace_and_replay(const VectorFn& fun, const std::vector<array>& inputs,
                                         const std::vector<int>& in_axes, const std::vector<int>& out_axes);

// User-defined rules for a function. The vjp receives (primals, cotangents, outputs) and returns
// one cotangent per primal; the jvp receives (primals, tangents, argnums) and returns one tangent
// per output; the vmap receives (inputs, axes) and returns (outputs, output axes). Transforms
// without a user rule differentiate or batch `fun` itself.
using CustomVjpFn =
    std::function<std::vector<array>(const std::vector<array>&, const std::vector<array>&, const std::vector<array>&)>;
using CustomJvpFn =
    std::function<std::vector<array>(const std::vector<array>&, const std::vector<array>&, const std::vector<int>&)>;
using CustomVmapFn =
    std::function<std::pair<std::vector<array>, std::vector<int>>(const std::vector<array>&, const std::vector<int>&)>;

VectorFn custom_function(VectorFn fun, std::optional<CustomVjpFn> fun_vjp = std::nullopt,
                         std::optional<CustomJvpFn> fun_jvp = std::nullopt,
                         std::optional<CustomVmapFn> fun_vmap = std::nullopt);
VectorFn custom_vjp(VectorFn fun, CustomVjpFn fun_vjp);

// Rematerialization: the backward pass recomputes fun's intermediates from its inputs instead of
// keeping them alive from the forward pass.
VectorFn checkpoint(VectorFn fun);

}  // namespace tessera
