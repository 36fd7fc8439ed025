// Direct checks of the reduction and scan rules at the points finite differences cannot judge
// (zeros in products, ties in max) and of closed forms (softmax, logsumexp's Hessian).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "tessera/tessera.h"

using namespace tessera;

namespace {

std::vector<double> values(const array& a) {
  array d = astype(a, float64);
  eval(d);
  std::vector<double> out(d.size());
  array flat = reshape(d, {-1});
  for (size_t i = 0; i < out.size(); ++i) out[i] = take(flat, int(i)).item<double>();
  return out;
}

void expect_near(const array& got, const std::vector<double>& want, double tol = 1e-12) {
  auto g = values(got);
  ASSERT_EQ(g.size(), want.size());
  for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], want[i], tol) << "at " << i;
}

array vec(std::vector<double> v) { return array(v.begin(), {int(v.size())}, float64); }

}  // namespace

TEST(ReduceTransforms, ProdGradWithOneZero) {
  auto f = [](const array& x) { return prod(x); };
  expect_near(grad(f)(vec({2, 0, 3, 4})), {0, 24, 0, 0});
  // Along one axis of a matrix: each row has its own zero (or none).
  auto g = [](const array& x) { return sum(prod(x, 1)); };
  array m = array({2.0, 0.0, 5.0, 1.0, 3.0, 4.0}, {2, 3}, float64);
  expect_near(grad(g)(m), {0, 10, 0, 12, 4, 3});
  // Over several axes at once.
  auto h = [](const array& x) { return prod(x, std::vector<int>{0, 1}); };
  expect_near(grad(h)(m), {0, 120, 0, 0, 0, 0});
}

TEST(ReduceTransforms, ProdGradWithTwoZerosInARow) {
  auto f = [](const array& x) { return prod(x); };
  expect_near(grad(f)(vec({2, 0, 0, 3})), {0, 0, 0, 0});
  // And the forward derivative agrees.
  auto [y, t] = jvp(f, vec({2, 0, 0, 3}), vec({1, 1, 1, 1}));
  expect_near(t, {0});
}

TEST(ReduceTransforms, CumprodGradWithZeros) {
  // y = [2, 0, 0, 0, 0]; only x0 (through y0) and the first zero x1 (through y1, y2) matter.
  auto f = [](const array& x) { return sum(cumprod(x, 0)); };
  expect_near(grad(f)(vec({2, 0, 3, 0, 5})), {1, 8, 0, 0, 0});
  // Its jvp is the transpose: <grad, v> for v = e_k.
  auto [y, t] = jvp(f, vec({2, 0, 3, 0, 5}), vec({0, 1, 0, 0, 0}));
  expect_near(t, {8});
}

TEST(ReduceTransforms, MaxGradSplitsTiesEvenly) {
  auto f = [](const array& x) { return max(x); };
  expect_near(grad(f)(vec({1, 3, 3, 2})), {0, 0.5, 0.5, 0});
  auto g = [](const array& x) { return min(x); };
  expect_near(grad(g)(vec({1, 3, 1, 1})), {1.0 / 3, 0, 1.0 / 3, 1.0 / 3});
  auto [y, t] = jvp(f, vec({1, 3, 3, 2}), vec({0, 1, 0, 0}));
  expect_near(t, {0.5});
}

TEST(ReduceTransforms, CummaxGradSplitsTiesEvenly) {
  // cummax = [1, 3, 3, 3]: output 1 comes from x1; outputs 2 and 3 from the tie x1 = x2, half each.
  auto f = [](const array& x) { return sum(cummax(x, 0)); };
  expect_near(grad(f)(vec({1, 3, 3, 2})), {1, 2, 1, 0});
  // Reverse: cummax from the right = [3, 3, 3, 2]; outputs 0 and 1 share between x1 and x2.
  auto r = [](const array& x) { return sum(cummax(x, 0, true)); };
  expect_near(grad(r)(vec({1, 3, 3, 2})), {0, 1, 2, 1});
  // Exclusive: outputs [-inf, 1, 3, 3]; the first depends on nothing.
  auto e = [](const array& x) { return sum(multiply(cummax(x, 0, false, false), vec({0, 1, 1, 1}))); };
  expect_near(grad(e)(vec({1, 3, 3, 2})), {1, 1.5, 0.5, 0});
  // cummin's jvp is the transpose of its vjp: <jvp(e_k), 1> = grad_k.
  auto m = [](const array& x) { return sum(cummin(x, 0)); };
  expect_near(grad(m)(vec({2, 1, 1, 1})), {1, 1 + 0.5 + 1.0 / 3, 0.5 + 1.0 / 3, 1.0 / 3});
  auto [y, t] = jvp(m, vec({2, 1, 1, 1}), vec({0, 0, 1, 0}));
  expect_near(t, {0.5 + 1.0 / 3});
}

TEST(ReduceTransforms, SoftmaxGradMatchesClosedForm) {
  array x = array({0.3, -1.2, 2.0, 0.5, 0.1, -0.4}, {2, 3}, float64);
  array w = array({1.0, -2.0, 0.5, 3.0, 0.25, -1.0}, {2, 3}, float64);
  auto f = [&](const array& a) { return sum(multiply(softmax(a, -1), w)); };
  array y = softmax(x, -1);
  array want = multiply(y, subtract(w, sum(multiply(w, y), -1, true)));
  expect_near(grad(f)(x), values(want));
  // Over the first axis (the op moves it last around the primitive).
  auto f0 = [&](const array& a) { return sum(multiply(softmax(a, 0), w)); };
  array y0 = softmax(x, 0);
  expect_near(grad(f0)(x), values(multiply(y0, subtract(w, sum(multiply(w, y0), 0, true)))));
}

TEST(ReduceTransforms, GradOfGradOfLogsumexp) {
  // grad logsumexp = p = softmax(x); its derivative along w is p * w - p * <p, w>.
  array x = vec({0.5, -1.0, 2.0, 0.25});
  array w = vec({1.0, 2.0, -1.0, 0.5});
  auto g = [&](const array& a) {
    auto inner = grad([](const array& b) { return logsumexp(b); });
    return sum(multiply(inner(a), w));
  };
  array p = softmax(x);
  array want = subtract(multiply(p, w), multiply(p, sum(multiply(p, w))));
  expect_near(grad(g)(x), values(want), 1e-12);
}

TEST(ReduceTransforms, VmapOfCumsumAlongLastAxis) {
  array x = reshape(astype(arange(12.0), float64), {3, 4});
  auto f = [](const array& a) { return cumsum(a, -1); };
  // Batch along rows: each row's cumsum.
  expect_near(vmap(f, 0, 0)(x), values(cumsum(x, 1)));
  // Batch along the last axis: each column's cumsum, stacked as rows.
  expect_near(vmap(f, 1, 0)(x), values(transpose(cumsum(x, 0))));
  // And reverse / exclusive variants keep their options under vmap.
  auto fr = [](const array& a) { return cumsum(a, -1, true, false); };
  expect_near(vmap(fr, 0, 0)(x), values(cumsum(x, 1, true, false)));
}

TEST(ReduceTransforms, LogcumsumexpGradStaysFiniteForLargeInputs) {
  // exp(1000) overflows; the log-domain rule does not. d/dx sum(logcumsumexp(x)) at x = (1000,
  // 1000, 1000): output i splits 1 evenly over its i + 1 inputs.
  auto f = [](const array& x) { return sum(logcumsumexp(x, 0)); };
  expect_near(grad(f)(vec({1000, 1000, 1000})), {1 + 0.5 + 1.0 / 3, 0.5 + 1.0 / 3, 1.0 / 3}, 1e-12);
  // A cotangent of mixed signs goes through both log-domain halves.
  auto [y, g] = vjp([](const array& x) { return logcumsumexp(x, 0, true); }, vec({1000, 999, 1001}),
                    vec({1.0, -2.0, 0.5}));
  auto [y2, g2] = vjp([](const array& x) { return logcumsumexp(x, 0, true); }, vec({1, 0, 2}), vec({1.0, -2.0, 0.5}));
  expect_near(g, values(g2), 1e-12);  // shift invariance of the weights exp(x_k - y_i)
}

TEST(ReduceTransforms, VmapOfGradMatchesLoop) {
  array x = array({0.5, 0.0, 2.0, -1.0, 3.0, 3.0, 1.5, -0.5, 0.0, 0.0, 2.5, 1.0}, {3, 4}, float64);
  std::vector<std::pair<const char*, std::function<array(const array&)>>> fns = {
      {"prod", [](const array& a) { return prod(a); }},
      {"max", [](const array& a) { return max(a); }},
      {"cumprod", [](const array& a) { return sum(multiply(cumprod(a, 0), a)); }},
      {"cummax", [](const array& a) { return sum(multiply(cummax(a, 0, true), a)); }},
      {"logcumsumexp", [](const array& a) { return sum(square(logcumsumexp(a, 0, false, false))); }},
      {"softmax", [](const array& a) { return sum(square(softmax(a, 0))); }},
  };
  for (auto& [name, f] : fns) {
    auto gf = grad(f);
    for (int axis : {0, 1}) {
      std::vector<array> rows;
      for (int b = 0; b < x.shape(axis); ++b) rows.push_back(gf(take(x, b, axis)));
      SCOPED_TRACE(std::string(name) + " axis " + std::to_string(axis));
      expect_near(vmap(gf, axis, 0)(x), values(stack(rows, 0)), 1e-12);
    }
  }
}

TEST(ReduceTransforms, JvpOfVjpOfProdWithZero) {
  // Second derivative of prod at a point with one zero: d/dx_j (d prod / dx_k) = prod of the
  // others without j and k. x = (2, 0, 3): H = [[0, 3, 0], [3, 0, 2], [0, 2, 0]].
  array x = vec({2, 0, 3});
  auto g = [](const array& a) { return grad([](const array& b) { return prod(b); })(a); };
  auto [gx, hv] = jvp(g, x, vec({1, 0, 0}));
  expect_near(hv, {0, 3, 0});
  std::tie(gx, hv) = jvp(g, x, vec({0, 1, 0}));
  expect_near(hv, {3, 0, 2});
}
