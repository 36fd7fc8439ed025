// Loss functions. Constants are built in the inputs' dtype so that half-precision losses stay in
// half precision (float32 constants would promote them, unlike MLX's weakly typed scalars).
#include "tessera/nn/losses.h"

#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>

#include "ops/op_utils.h"
#include "tessera/ops.h"

namespace tessera::nn::losses {

namespace {

array c(double v, const array& like) {
  Dtype d = issubdtype(like.dtype(), inexact) ? like.dtype() : float32;
  return array(float(v), d);
}

array reduce(const array& loss, Reduction reduction) {
  switch (reduction) {
    case Reduction::mean:
      return mean(loss);
    case Reduction::sum:
      return sum(loss);
    case Reduction::none:
      break;
  }
  return loss;
}

int normalize_axis(const char* op, int axis, int ndim) {
  int ax = axis < 0 ? axis + ndim : axis;
  if (ax < 0 || ax >= ndim) {
    throw std::out_of_range(std::string("[") + op + "] Axis " + std::to_string(axis) + " is out of range for " +
                            std::to_string(ndim) + "-d inputs.");
  }
  return ax;
}

void check_same_shape(const char* op, const array& a, const array& b, const char* what) {
  if (a.shape() != b.shape()) {
    throw std::invalid_argument(std::string("[") + op + "] " + what + " shapes differ: " + shape_list(a.shape()) +
                                " vs " + shape_list(b.shape()) + ".");
  }
}

// Checks index targets against the class axis and returns the (safe) indices with the axis
// re-inserted, ready for take_along_axis. Ignored entries are pointed at class 0.
array class_indices(const char* op, const array& inputs, const array& targets, int ax,
                    const std::optional<int>& ignore_index) {
  if (!issubdtype(targets.dtype(), integer)) {
    throw std::invalid_argument(std::string("[") + op + "] Class-index targets must be integers, got " +
                                dtype_name(targets.dtype()) + ".");
  }
  Shape want = inputs.shape();
  want.erase(want.begin() + ax);
  if (targets.shape() != want) {
    throw std::invalid_argument(std::string("[") + op + "] Targets of shape " + shape_list(targets.shape()) +
                                " do not match inputs of shape " + shape_list(inputs.shape()) + " without axis " +
                                std::to_string(ax) + " (expected " + shape_list(want) + ").");
  }
  array t = targets;
  if (ignore_index) t = where(equal(targets, array(*ignore_index, targets.dtype())), zeros_like(targets), targets);
  return expand_dims(t, ax);
}

// Zeroes ignored entries and reduces; the mean counts only the kept entries.
array reduce_ignoring(array loss, const array& targets, const std::optional<int>& ignore_index, Reduction reduction) {
  if (!ignore_index) return reduce(loss, reduction);
  array keep = not_equal(targets, array(*ignore_index, targets.dtype()));
  loss = where(keep, loss, zeros_like(loss));
  if (reduction != Reduction::mean) return reduce(loss, reduction);
  array count = maximum(sum(astype(keep, loss.dtype())), c(1.0, loss));
  return sum(loss) / count;
}

}  // namespace

array cross_entropy(const array& logits, const array& targets, const std::optional<array>& weights, int axis,
                    float label_smoothing, Reduction reduction, std::optional<int> ignore_index) {
  const char* op = "cross_entropy";
  if (label_smoothing < 0.0f || label_smoothing >= 1.0f) {
    throw std::invalid_argument("[cross_entropy] Label smoothing must lie in [0, 1).");
  }
  const int ax = normalize_axis(op, axis, int(logits.ndim()));
  const bool as_probs = targets.ndim() == logits.ndim();
  array score = [&] {
    if (as_probs) {
      if (ignore_index) throw std::invalid_argument("[cross_entropy] ignore_index needs class-index targets.");
      check_same_shape(op, logits, targets, "Logits and probability targets");
      return sum(logits * targets, ax);
    }
    return squeeze(take_along_axis(logits, class_indices(op, logits, targets, ax, ignore_index), ax), ax);
  }();
  array lse = logsumexp(logits, ax);
  array loss = label_smoothing > 0.0f
                   ? lse - c(1.0 - label_smoothing, logits) * score - c(label_smoothing, logits) * mean(logits, ax)
                   : lse - score;
  if (weights) loss = loss * *weights;
  return reduce_ignoring(loss, targets, as_probs ? std::nullopt : ignore_index, reduction);
}

array binary_cross_entropy(const array& inputs, const array& targets, const std::optional<array>& weights,
                           bool with_logits, Reduction reduction) {
  check_same_shape("binary_cross_entropy", inputs, targets, "Inputs and targets");
  array loss = [&] {
    if (with_logits) return logaddexp(zeros_like(inputs), inputs) - inputs * targets;
    array floor = c(-100.0, inputs);
    array log_p = maximum(log(inputs), floor);
    array log_not_p = maximum(log1p(-inputs), floor);
    return -(targets * log_p + (c(1.0, inputs) - targets) * log_not_p);
  }();
  if (weights) loss = loss * *weights;
  return reduce(loss, reduction);
}

array l1_loss(const array& predictions, const array& targets, Reduction reduction) {
  check_same_shape("l1_loss", predictions, targets, "Predictions and targets");
  return reduce(abs(predictions - targets), reduction);
}

array mse_loss(const array& predictions, const array& targets, Reduction reduction) {
  check_same_shape("mse_loss", predictions, targets, "Predictions and targets");
  return reduce(square(predictions - targets), reduction);
}

array nll_loss(const array& inputs, const array& targets, int axis, Reduction reduction,
               std::optional<int> ignore_index) {
  const char* op = "nll_loss";
  const int ax = normalize_axis(op, axis, int(inputs.ndim()));
  array loss = -squeeze(take_along_axis(inputs, class_indices(op, inputs, targets, ax, ignore_index), ax), ax);
  return reduce_ignoring(loss, targets, ignore_index, reduction);
}

array kl_div_loss(const array& inputs, const array& targets, int axis, Reduction reduction) {
  check_same_shape("kl_div_loss", inputs, targets, "Inputs and targets");
  const int ax = normalize_axis("kl_div_loss", axis, int(inputs.ndim()));
  return reduce(sum(exp(targets) * (targets - inputs), ax), reduction);
}

array smooth_l1_loss(const array& predictions, const array& targets, float beta, Reduction reduction) {
  check_same_shape("smooth_l1_loss", predictions, targets, "Predictions and targets");
  if (beta < 0.0f) throw std::invalid_argument("[smooth_l1_loss] beta must be non-negative.");
  array d = abs(predictions - targets);
  if (beta == 0.0f) return reduce(d, reduction);  // the L1 limit; avoids 0/0 below
  array b = c(beta, d);
  array loss = where(less(d, b), c(0.5, d) * square(d) / b, d - c(0.5 * beta, d));
  return reduce(loss, reduction);
}

array huber_loss(const array& inputs, const array& targets, float delta, Reduction reduction) {
  check_same_shape("huber_loss", inputs, targets, "Inputs and targets");
  array d = abs(inputs - targets);
  // Splitting |d| into its quadratic part min(|d|, δ) and the linear rest keeps one expression
  // (and a continuous gradient) for both regimes.
  array quadratic = minimum(d, c(delta, d));
  array linear = d - quadratic;
  return reduce(c(0.5, d) * square(quadratic) + c(delta, d) * linear, reduction);
}

array cosine_similarity_loss(const array& x1, const array& x2, int axis, float eps, Reduction reduction) {
  const int ax = normalize_axis("cosine_similarity_loss", axis, int(x1.ndim()));
  array n1 = sqrt(sum(square(x1), ax));
  array n2 = sqrt(sum(square(x2), ax));
  return reduce(sum(x1 * x2, ax) / maximum(n1 * n2, c(eps, x1)), reduction);
}

array gaussian_nll_loss(const array& inputs, const array& targets, const array& vars, bool full, float eps,
                        Reduction reduction) {
  check_same_shape("gaussian_nll_loss", inputs, targets, "Inputs and targets");
  // MLX's clamp: variances below eps get no gradient (PyTorch passes it through the clamp).
  array v = maximum(vars, c(eps, vars));
  array loss = c(0.5, inputs) * (log(v) + square(targets - inputs) / v);
  if (full) loss = loss + c(0.5 * std::log(2.0 * std::numbers::pi), loss);
  return reduce(loss, reduction);
}

array log_cosh_loss(const array& inputs, const array& targets, Reduction reduction) {
  array d = inputs - targets;
  return reduce(logaddexp(d, -d) - c(std::numbers::ln2, d), reduction);
}

array hinge_loss(const array& inputs, const array& targets, Reduction reduction) {
  array m = c(1.0, inputs) - inputs * targets;
  return reduce(maximum(m, zeros_like(m)), reduction);
}

array triplet_loss(const array& anchors, const array& positives, const array& negatives, int axis, int p, float margin,
                   float eps, Reduction reduction) {
  if (p < 1) throw std::invalid_argument("[triplet_loss] The norm degree p must be at least 1.");
  const int ax = normalize_axis("triplet_loss", axis, int(anchors.ndim()));
  auto dist = [&](const array& other) {
    array d = abs(anchors - other);
    array s = sum(p == 2 ? square(d) : power(d, c(p, d)), ax) + c(eps, d);
    return p == 2 ? sqrt(s) : power(s, c(1.0 / p, s));
  };
  array m = dist(positives) - dist(negatives) + c(margin, anchors);
  return reduce(maximum(m, zeros_like(m)), reduction);
}

array margin_ranking_loss(const array& inputs1, const array& inputs2, const array& targets, float margin,
                          Reduction reduction) {
  check_same_shape("margin_ranking_loss", inputs1, inputs2, "Inputs");
  array m = -targets * (inputs1 - inputs2) + c(margin, inputs1);
  return reduce(maximum(m, zeros_like(m)), reduction);
}

}  // namespace tessera::nn::losses
