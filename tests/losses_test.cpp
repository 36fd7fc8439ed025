// Losses against PyTorch (tests/reference/torch_optim.py, computed in float64) and against
// closed forms where PyTorch has no equivalent; reductions, gradients, dtypes and errors.
#include "tessera/nn/losses.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "tessera/tessera.h"
#include "torch_optim_reference.h"

namespace tessera {
namespace {

using namespace nn::losses;
using testing_torch_optim::torch_optim_reference;

void expect_close(const array& got, const array& want, const std::string& what, float rtol = 1e-5f,
                  float atol = 1e-6f) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  array g = astype(got, float32), w = astype(want, float32);
  array bound = abs(w) * array(rtol) + array(atol);
  bool ok = all(less_equal(abs(g - w), bound)).item<bool>();
  EXPECT_TRUE(ok) << what << ": max abs error " << max(abs(g - w)).item<float>() << " (max |ref| "
                  << max(abs(w)).item<float>() << ")";
}

#define SKIP_WITHOUT_TORCH()                 \
  const auto& ref = torch_optim_reference(); \
  if (!ref.skip_reason.empty()) GTEST_SKIP() << ref.skip_reason

array in(const char* c, const char* k) { return torch_optim_reference().loss(std::string(c) + "." + k); }
array out(const char* c) { return in(c, "out"); }

TEST(Losses, CrossEntropyIndexTargetsAgainstTorch) {
  SKIP_WITHOUT_TORCH();
  array logits = in("ce_none", "logits"), targets = in("ce_none", "targets");
  expect_close(cross_entropy(logits, targets), out("ce_none"), "none");
  expect_close(cross_entropy(logits, targets, std::nullopt, -1, 0.0f, Reduction::mean), out("ce_mean"), "mean");
  expect_close(cross_entropy(logits, targets, std::nullopt, -1, 0.0f, Reduction::sum), out("ce_sum"), "sum");
  expect_close(cross_entropy(logits, targets, std::nullopt, -1, 0.1f), out("ce_smooth"), "label smoothing");
  // Integer targets of another width work the same.
  expect_close(cross_entropy(logits, astype(targets, int64)), out("ce_none"), "int64 targets");
  expect_close(cross_entropy(in("ce_axis1", "logits"), in("ce_axis1", "targets"), std::nullopt, 1), out("ce_axis1"),
               "classes on axis 1");
  expect_close(cross_entropy(logits, targets, in("ce_weights", "weights"), -1, 0.0f, Reduction::mean),
               out("ce_weights"), "weights as a mask");
}

TEST(Losses, CrossEntropyIgnoreIndexAndGradient) {
  SKIP_WITHOUT_TORCH();
  array logits = in("ce_ignore", "logits"), targets = in("ce_ignore", "targets");
  auto loss = [&](const array& l) { return cross_entropy(l, targets, std::nullopt, -1, 0.1f, Reduction::mean, -100); };
  auto [value, grad] = value_and_grad(std::function<array(const array&)>(loss))(logits);
  expect_close(value, out("ce_ignore"), "ignored targets, smoothed mean");
  expect_close(grad, in("ce_ignore", "grad"), "gradient", 1e-4f, 1e-6f);
  // Every target ignored: the mean is 0, not NaN.
  array all_ignored = full(targets.shape(), -100, int32);
  EXPECT_EQ(cross_entropy(logits, all_ignored, std::nullopt, -1, 0.0f, Reduction::mean, -100).item<float>(), 0.0f);
}

TEST(Losses, CrossEntropyProbabilityTargets) {
  SKIP_WITHOUT_TORCH();
  expect_close(cross_entropy(in("ce_probs", "logits"), in("ce_probs", "targets"), std::nullopt, -1, 0.2f),
               out("ce_probs"), "probabilities with smoothing");
}

TEST(Losses, CrossEntropyIsStableForHugeLogits) {
  // A naive softmax overflows here; logsumexp only rounds (float32 spacing at 500 is 3e-5).
  array logits = array({1000.0f, 0.0f, -1000.0f, 500.0f, 500.0f, 0.0f}, {2, 3});
  array loss = cross_entropy(logits, array({0, 1}, int32));
  eval(loss);
  EXPECT_NEAR(loss.data<float>()[0], 0.0f, 1e-6f);
  EXPECT_NEAR(loss.data<float>()[1], std::log(2.0f), 1e-4f);
}

TEST(Losses, CrossEntropyErrors) {
  array logits = zeros({4, 5});
  EXPECT_THROW(cross_entropy(logits, zeros({4}, float32)), std::invalid_argument);  // float indices
  EXPECT_THROW(cross_entropy(logits, zeros({5}, int32)), std::invalid_argument);    // wrong batch shape
  EXPECT_THROW(cross_entropy(logits, zeros({4}, int32), std::nullopt, 2), std::out_of_range);
  EXPECT_THROW(cross_entropy(logits, zeros({4, 5}), std::nullopt, -1, 0.0f, Reduction::none, -100),
               std::invalid_argument);  // ignore_index with probabilities
  EXPECT_THROW(cross_entropy(logits, zeros({4}, int32), std::nullopt, -1, 1.0f), std::invalid_argument);
}

TEST(Losses, BinaryCrossEntropyAgainstTorch) {
  SKIP_WITHOUT_TORCH();
  array x = in("bce_logits", "inputs"), y = in("bce_logits", "targets");
  auto loss = [&](const array& v) { return binary_cross_entropy(v, y); };
  auto [value, grad] = value_and_grad(std::function<array(const array&)>(loss))(x);
  expect_close(value, out("bce_logits"), "logits, mean");
  expect_close(grad, in("bce_logits", "grad"), "gradient", 1e-4f, 1e-7f);
  expect_close(binary_cross_entropy(x, y, in("bce_weights", "weights"), true, Reduction::sum), out("bce_weights"),
               "weights, sum");
  expect_close(
      binary_cross_entropy(in("bce_probs", "inputs"), in("bce_probs", "targets"), std::nullopt, false, Reduction::none),
      out("bce_probs"), "probabilities with exact 0 and 1", 1e-4f, 1e-5f);
  // Logits far out in both tails stay finite.
  array big = binary_cross_entropy(array({200.0f, -200.0f}), array({0.0f, 1.0f}), std::nullopt, true, Reduction::none);
  eval(big);
  EXPECT_FLOAT_EQ(big.data<float>()[0], 200.0f);
  EXPECT_FLOAT_EQ(big.data<float>()[1], 200.0f);
}

TEST(Losses, RegressionLossesAgainstTorch) {
  SKIP_WITHOUT_TORCH();
  array a = in("mse", "a"), b = in("mse", "b");
  expect_close(mse_loss(a, b), out("mse"), "mse mean");
  expect_close(l1_loss(a, b, Reduction::sum), out("l1"), "l1 sum");
  expect_close(smooth_l1_loss(a, b, 0.5f, Reduction::none), out("smooth_l1"), "smooth_l1");
  expect_close(huber_loss(a, b, 0.7f), out("huber"), "huber");
  expect_close(log_cosh_loss(a, b), out("log_cosh"), "log_cosh", 1e-5f, 1e-6f);
  expect_close(gaussian_nll_loss(a, b, in("gaussian_nll", "var"), true, 1e-6f, Reduction::none), out("gaussian_nll"),
               "gaussian_nll");
  // log_cosh stays finite where cosh overflows float32.
  EXPECT_NEAR(log_cosh_loss(array({200.0f}), array({0.0f})).item<float>(), 200.0f - std::log(2.0f), 1e-3f);
}

TEST(Losses, ClassificationLossesAgainstTorch) {
  SKIP_WITHOUT_TORCH();
  expect_close(nll_loss(in("nll", "inputs"), in("nll", "targets")), out("nll"), "nll");
  expect_close(nll_loss(in("nll_ignore", "inputs"), in("nll_ignore", "targets"), -1, Reduction::mean, -1),
               out("nll_ignore"), "nll ignore_index mean");
  expect_close(kl_div_loss(in("kl_div", "inputs"), in("kl_div", "targets")), out("kl_div"), "kl_div", 1e-5f, 1e-6f);
  expect_close(cosine_similarity_loss(in("cosine", "x1"), in("cosine", "x2")), out("cosine"), "cosine");
  expect_close(hinge_loss(in("hinge", "a"), in("hinge", "t")), out("hinge"), "hinge");
  expect_close(
      margin_ranking_loss(in("margin_ranking", "a"), in("margin_ranking", "b"), in("margin_ranking", "t"), 0.3f),
      out("margin_ranking"), "margin_ranking");
  // PyTorch adds eps to the difference, MLX (and Tessera) to the squared sum: ~1e-6 apart.
  expect_close(triplet_loss(in("triplet", "a"), in("triplet", "p"), in("triplet", "n")), out("triplet"), "triplet",
               1e-4f, 1e-5f);
}

TEST(Losses, ReductionsAndDefaults) {
  array p = array({1.0f, 2.0f, 4.0f}), t = array({0.0f, 0.0f, 0.0f});
  EXPECT_FLOAT_EQ(mse_loss(p, t).item<float>(), 7.0f);  // mean by default, as MLX
  EXPECT_FLOAT_EQ(mse_loss(p, t, Reduction::sum).item<float>(), 21.0f);
  EXPECT_EQ(mse_loss(p, t, Reduction::none).shape(), Shape{3});
  EXPECT_EQ(huber_loss(p, t).shape(), Shape{3});  // none by default, as MLX
  // Huber: quadratic inside delta, linear outside, continuous at delta.
  array h = huber_loss(array({0.5f, 1.0f, 3.0f}), zeros({3}));
  eval(h);
  EXPECT_FLOAT_EQ(h.data<float>()[0], 0.125f);
  EXPECT_FLOAT_EQ(h.data<float>()[1], 0.5f);
  EXPECT_FLOAT_EQ(h.data<float>()[2], 2.5f);
  // smooth_l1 with beta 0 is l1.
  EXPECT_FLOAT_EQ(smooth_l1_loss(p, t, 0.0f, Reduction::sum).item<float>(), 7.0f);
  EXPECT_THROW(mse_loss(p, zeros({2})), std::invalid_argument);
}

TEST(Losses, HalfPrecisionStaysHalf) {
  array logits = astype(array({0.5f, 1.0f, -1.0f, 2.0f}, {2, 2}), bfloat16);
  array ce = cross_entropy(logits, array({1, 0}, int32), std::nullopt, -1, 0.1f, Reduction::mean);
  EXPECT_EQ(ce.dtype(), bfloat16);
  array ref = cross_entropy(astype(logits, float32), array({1, 0}, int32), std::nullopt, -1, 0.1f, Reduction::mean);
  EXPECT_NEAR(ce.item<float>(), ref.item<float>(), 2e-2f);
  EXPECT_EQ(huber_loss(logits, zeros_like(logits)).dtype(), bfloat16);
}

}  // namespace
}  // namespace tessera
