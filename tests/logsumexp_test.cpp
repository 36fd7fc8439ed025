// logsumexp over the last axis is one LogSumExp node: its CPU kernel against the composite on the
// reference backend in every float type (16-bit rows computed in float32), rows with -inf, +inf
// and NaN, and its gradient (softmax times the cotangent) against the composite's gradient.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/eval_stats.h"
#include "tessera/tessera.h"

namespace tessera {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

TEST(LogSumExp, KernelMatchesTheCompositeInEveryFloatType) {
  std::vector<float> v(6 * 37);
  for (size_t i = 0; i < v.size(); ++i) v[i] = 20.0f * std::sin(0.37f * float(i));
  for (int j = 0; j < 37; ++j) v[size_t(j)] = -kInf;  // row 0: all -inf -> -inf
  v[37 + 5] = kInf;                                     // row 1: +inf -> +inf
  v[2 * 37 + 3] = kNaN;                                 // row 2: NaN -> NaN
  v[3 * 37 + 1] = kNaN;                                 // row 3: NaN and +inf -> NaN
  v[3 * 37 + 2] = kInf;
  const array x32(v.begin(), Shape{6, 37}, float32);
  for (Dtype dt : {float32, bfloat16, float16, float64}) {
    SCOPED_TRACE(dtype_name(dt));
    const array x = astype(x32, dt);
    const uint64_t runs = kernel_run_count(Device::cpu, PrimitiveKind::LogSumExp);
    array got = logsumexp(x, -1, false, Device::cpu);
    array want = logsumexp(x, -1, false, Device::reference);
    eval(got, want);
    EXPECT_EQ(kernel_run_count(Device::cpu, PrimitiveKind::LogSumExp) - runs, 1u);
    ASSERT_EQ(got.dtype(), dt);
    ASSERT_EQ(got.shape(), Shape({6}));
    const array g = astype(got, float64), w = astype(want, float64);
    EXPECT_TRUE(array_equal(isnan(g), isnan(w)).item<bool>());
    EXPECT_TRUE(array_equal(isposinf(g), isposinf(w)).item<bool>());
    EXPECT_TRUE(array_equal(isneginf(g), isneginf(w)).item<bool>());
    const array finite = isfinite(w);
    const double tol = dt == bfloat16 ? 0.25 : dt == float16 ? 0.03 : 1e-5;
    EXPECT_TRUE(all(less_equal(where(finite, abs(subtract(g, w)), array(0.0, float64)), array(tol, float64)))
                    .item<bool>());
    EXPECT_EQ(std::isnan(g.data<double>()[0]), false);
    EXPECT_TRUE(std::isinf(g.data<double>()[0]) && g.data<double>()[0] < 0);
    EXPECT_TRUE(std::isnan(g.data<double>()[3]));
  }
}

TEST(LogSumExp, GradientIsSoftmaxTimesTheCotangent) {
  const array x = multiply(random::normal({3, 4, 29}, float32, random::key(3)), array(4.0f));
  const array cot = random::normal({3, 4}, float32, random::key(4));
  auto f = [](const std::vector<array>& in) { return std::vector<array>{logsumexp(in[0], -1)}; };
  auto [out, grads] = vjp(f, {x}, {cot});
  const array want = multiply(softmax(x, -1), expand_dims(cot, -1));
  EXPECT_TRUE(allclose(grads[0], want, 1e-5, 1e-6).item<bool>());
  // keepdims and a leading axis still reduce the last axis only.
  EXPECT_EQ(logsumexp(x, -1, true).shape(), Shape({3, 4, 1}));
  EXPECT_TRUE(allclose(logsumexp(x, 0), logsumexp(moveaxis(x, 0, -1), -1), 1e-5, 1e-5).item<bool>());
}

}  // namespace
}  // namespace tessera
