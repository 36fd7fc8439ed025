// Loss functions (follows MLX's mlx.nn.losses: names, argument order, defaults and semantics,
// including each function's default reduction). All are lazy, differentiable and computed in
// the inputs' dtype; the forms are the numerically stable ones (logsumexp for softmax
// cross-entropy, log-sigmoid via logaddexp for binary cross-entropy, clamped logs for
// probabilities).
#pragma once

#include <optional>

#include "tessera/array.h"

namespace tessera::nn::losses {

enum class Reduction { none, mean, sum };

// Softmax cross-entropy along `axis` of `logits` (any batch shape). `targets` are either class
// indices (integer, logits' shape without `axis`) or probabilities (logits' shape).
//   loss = logsumexp(logits) − (1 − ls)·score − ls·mean(logits),
// score being the target logit (or Σ targets·logits), ls the label smoothing (PyTorch's form).
// `weights` (the loss's shape, broadcastable) multiply each entry, e.g. a 0/1 mask. With
// `ignore_index`, index targets equal to it contribute zero, and the mean divides by the number
// of the other targets (PyTorch's rule; 0 rather than NaN when every target is ignored).
array cross_entropy(const array& logits, const array& targets, const std::optional<array>& weights = std::nullopt,
                    int axis = -1, float label_smoothing = 0.0f, Reduction reduction = Reduction::none,
                    std::optional<int> ignore_index = std::nullopt);

// Binary cross-entropy. with_logits: −[t·log σ(x) + (1 − t)·log(1 − σ(x))] computed as
// logaddexp(0, x) − t·x; otherwise `inputs` are probabilities and each log is clamped at −100
// (as PyTorch does) so that 0 and 1 stay finite.
array binary_cross_entropy(const array& inputs, const array& targets,
                           const std::optional<array>& weights = std::nullopt, bool with_logits = true,
                           Reduction reduction = Reduction::mean);

array l1_loss(const array& predictions, const array& targets, Reduction reduction = Reduction::mean);
array mse_loss(const array& predictions, const array& targets, Reduction reduction = Reduction::mean);

// −inputs[target] along `axis` (inputs are log-probabilities, targets class indices). With
// `ignore_index`, as cross_entropy.
array nll_loss(const array& inputs, const array& targets, int axis = -1, Reduction reduction = Reduction::none,
               std::optional<int> ignore_index = std::nullopt);

// Σ_axis exp(targets)·(targets − inputs): KL(targets ‖ inputs) with both given as
// log-probabilities (PyTorch's kl_div with log_target=True, summed over `axis`).
array kl_div_loss(const array& inputs, const array& targets, int axis = -1, Reduction reduction = Reduction::none);

// 0.5·d²/β where |d| < β, else |d| − 0.5·β (d = predictions − targets).
array smooth_l1_loss(const array& predictions, const array& targets, float beta = 1.0f,
                     Reduction reduction = Reduction::mean);

// 0.5·d² where |d| ≤ δ, else δ·(|d| − 0.5·δ).
array huber_loss(const array& inputs, const array& targets, float delta = 1.0f, Reduction reduction = Reduction::none);

// Σ x1·x2 / max(‖x1‖·‖x2‖, eps) along `axis` (the similarity itself, as in MLX).
array cosine_similarity_loss(const array& x1, const array& x2, int axis = 1, float eps = 1e-8f,
                             Reduction reduction = Reduction::none);

// 0.5·(log(max(var, eps)) + (inputs − targets)²/max(var, eps)) [+ 0.5·log 2π when full].
array gaussian_nll_loss(const array& inputs, const array& targets, const array& vars, bool full = false,
                        float eps = 1e-6f, Reduction reduction = Reduction::mean);

// log(cosh(d)), computed as logaddexp(d, −d) − log 2 so large |d| does not overflow.
array log_cosh_loss(const array& inputs, const array& targets, Reduction reduction = Reduction::none);

// max(1 − inputs·targets, 0), targets in {−1, 1}.
array hinge_loss(const array& inputs, const array& targets, Reduction reduction = Reduction::none);

// max(‖a − p‖ − ‖a − n‖ + margin, 0), distances along `axis` as (Σ|·|ᵖ + eps)^(1/p).
array triplet_loss(const array& anchors, const array& positives, const array& negatives, int axis = -1, int p = 2,
                   float margin = 1.0f, float eps = 1e-6f, Reduction reduction = Reduction::none);

// max(−targets·(inputs1 − inputs2) + margin, 0), targets in {−1, 1}.
array margin_ranking_loss(const array& inputs1, const array& inputs2, const array& targets, float margin = 0.0f,
                          Reduction reduction = Reduction::none);

}  // namespace tessera::nn::losses
