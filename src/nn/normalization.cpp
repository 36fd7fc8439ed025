// Normalization layers over fast::rms_norm / fast::layer_norm and plain reductions.
#include "tessera/nn/normalization.h"

#include <numeric>
#include <stdexcept>

#include "tessera/fast.h"
#include "tessera/ops.h"

namespace tessera::nn {

namespace {

void check_features(const char* layer, const array& x, int dims) {
  if (x.ndim() == 0 || x.shape(-1) != dims) {
    throw std::invalid_argument(std::string("[") + layer + "] Expected the last axis to have " + std::to_string(dims) +
                                " features.");
  }
}

}  // namespace

// ---------------------------------------------------------------- RMSNorm

RMSNorm::RMSNorm(int dims, float eps) : eps_(eps) { register_parameter("weight", ones({dims})); }

std::vector<array> RMSNorm::forward(const std::vector<array>& inputs) {
  const array& x = single_input(inputs);
  check_features("RMSNorm", x, param("weight").shape(0));
  return {fast::rms_norm(x, param("weight"), eps_)};
}

// ---------------------------------------------------------------- LayerNorm

LayerNorm::LayerNorm(int dims, float eps, bool affine, bool bias) : eps_(eps) {
  if (affine) {
    register_parameter("weight", ones({dims}));
    if (bias) register_parameter("bias", zeros({dims}));
  }
}

std::vector<array> LayerNorm::forward(const std::vector<array>& inputs) {
  const array& x = single_input(inputs);
  std::optional<array> w, b;
  if (has_param("weight")) {
    w = param("weight");
    check_features("LayerNorm", x, w->shape(0));
  }
  if (has_param("bias")) b = param("bias");
  return {fast::layer_norm(x, w, b, eps_)};
}

// ---------------------------------------------------------------- GroupNorm

GroupNorm::GroupNorm(int num_groups, int dims, float eps, bool affine, bool pytorch_compatible)
    : num_groups_(num_groups), dims_(dims), eps_(eps), pytorch_compatible_(pytorch_compatible) {
  if (num_groups <= 0 || dims % num_groups != 0) {
    throw std::invalid_argument("[GroupNorm] dims (" + std::to_string(dims) + ") must be a multiple of num_groups (" +
                                std::to_string(num_groups) + ").");
  }
  if (affine) {
    register_parameter("weight", ones({dims}));
    register_parameter("bias", zeros({dims}));
  }
}

std::vector<array> GroupNorm::forward(const std::vector<array>& inputs) {
  const array& x = single_input(inputs);
  check_features("GroupNorm", x, dims_);
  if (x.ndim() < 2) throw std::invalid_argument("[GroupNorm] Expected a batch axis and a feature axis.");
  int batch = x.shape(0), g = num_groups_, group_size = dims_ / g;
  array y = x;
  if (pytorch_compatible_) {
    // [N, S, G, D/G] -> [N, G, S * D/G]: each group's features and positions in one row.
    array t = transpose(reshape(x, {batch, -1, g, group_size}), {0, 2, 1, 3});
    array normed = fast::layer_norm(reshape(t, {batch, g, -1}), std::nullopt, std::nullopt, eps_);
    y = reshape(transpose(reshape(normed, {batch, g, -1, group_size}), {0, 2, 1, 3}), x.shape());
  } else {
    // Flattened features interleave groups: element i of a sample belongs to group i % G.
    array t = reshape(x, {batch, -1, g});
    array mu = mean(t, 1, true);
    array v = var(t, 1, true);
    y = reshape(multiply(subtract(t, mu), rsqrt(add(v, array(eps_, v.dtype())))), x.shape());
  }
  if (has_param("weight")) y = add(multiply(y, param("weight")), param("bias"));
  return {y};
}

// ---------------------------------------------------------------- BatchNorm

BatchNorm::BatchNorm(int num_features, float eps, float momentum, bool affine, bool track_running_stats)
    : eps_(eps), momentum_(momentum) {
  if (affine) {
    register_parameter("weight", ones({num_features}));
    register_parameter("bias", zeros({num_features}));
  }
  if (track_running_stats) {
    register_buffer("running_mean", zeros({num_features}));
    register_buffer("running_var", ones({num_features}));
  }
}

std::vector<array> BatchNorm::forward(const std::vector<array>& inputs) {
  const array& x = single_input(inputs);
  if (x.ndim() < 2 || x.ndim() > 4) {
    throw std::invalid_argument("[BatchNorm] Expected an input with 2 to 4 dimensions (channels last), got " +
                                std::to_string(x.ndim()) + ".");
  }
  bool tracking = has_param("running_mean");
  int features = tracking ? param("running_mean").shape(0) : has_param("weight") ? param("weight").shape(0) : x.shape(-1);
  check_features("BatchNorm", x, features);
  std::vector<int> axes(x.ndim() - 1);
  std::iota(axes.begin(), axes.end(), 0);

  array mu = x, v = x;
  if (training() || !tracking) {
    mu = mean(x, axes);
    v = var(x, axes);
    if (training() && tracking) {
      int64_t n = int64_t(x.size()) / features;
      float m = momentum_;
      // The running statistics are state, not part of the differentiated computation.
      array batch_mean = stop_gradient(mu);
      array unbiased = stop_gradient(n > 1 ? multiply(v, array(float(n) / float(n - 1), v.dtype())) : v);
      array& rm = param("running_mean");
      array& rv = param("running_var");
      rm = add(multiply(rm, array(1.0f - m, rm.dtype())), multiply(batch_mean, array(m, rm.dtype())));
      rv = add(multiply(rv, array(1.0f - m, rv.dtype())), multiply(unbiased, array(m, rv.dtype())));
    }
  } else {
    mu = param("running_mean");
    v = param("running_var");
  }
  array y = multiply(subtract(x, mu), rsqrt(add(v, array(eps_, v.dtype()))));
  if (has_param("weight")) y = add(multiply(y, param("weight")), param("bias"));
  return {y};
}

}  // namespace tessera::nn
