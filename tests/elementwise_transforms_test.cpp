// Elementwise, creation and random-bits transform rules where the registry harness cannot look:
// conventions at non-differentiable points (ties, zeros), gradient blocking, casts through
// narrow floats, complex rules, batch axes that differ between inputs, and batched keys.
#include <gtest/gtest.h>

#include <cmath>
#include <complex>

#include "tessera/random.h"
#include "tessera/tessera.h"

namespace tessera {
namespace {

array f64(std::initializer_list<double> v) { return array(v.begin(), {int(v.size())}, float64); }

std::vector<double> values(array a) {
  a = contiguous(astype(a, float64));
  a.eval();
  return std::vector<double>(a.data<double>(), a.data<double>() + a.size());
}

void expect_values(const array& got, std::vector<double> want) {
  auto g = values(got);
  ASSERT_EQ(g.size(), want.size());
  for (size_t i = 0; i < g.size(); ++i) EXPECT_DOUBLE_EQ(g[i], want[i]) << "at " << i;
}

bool same(const array& a, const array& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() && array_equal(a, b, true).item<bool>();
}

// Equal up to rounding: kernels may take a SIMD path for one layout and a scalar tail for another.
bool close(const array& a, const array& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() && allclose(a, b, 1e-6, 0.0).item<bool>();
}

// maximum and minimum follow MLX at ties: the whole derivative goes to the second argument.
TEST(ElementwiseTransforms, MaximumMinimumTiesGoToSecondArgument) {
  array a = f64({1, 2, 3}), b = f64({1, 5, 0});  // tie at 0, b wins at 1, a wins at 2
  for (bool is_max : {true, false}) {
    auto f = [is_max](const std::vector<array>& in) {
      return sum(is_max ? maximum(in[0], in[1]) : minimum(in[0], in[1]));
    };
    auto g = grad(f, std::vector<int>{0, 1})({a, b});
    if (is_max) {
      expect_values(g[0], {0, 0, 1});
      expect_values(g[1], {1, 1, 0});
    } else {
      expect_values(g[0], {0, 1, 0});
      expect_values(g[1], {1, 0, 1});
    }
    // The jvp agrees with the vjp: at the tie only b's tangent passes.
    auto fv = [&f](const std::vector<array>& in) { return std::vector<array>{f(in)}; };
    auto t = jvp(fv, {a, b}, {f64({10, 10, 10}), f64({100, 100, 100})}).second[0];
    EXPECT_DOUBLE_EQ(t.item<double>(), is_max ? 100 + 100 + 10 : 100 + 10 + 100);
  }
  // clip is maximum then minimum, so at a bound the derivative goes to the bound, not to x.
  array x = f64({0, 0.5, 1});
  array gx = grad([](const array& v) { return sum(clip(v, array(0.0), array(1.0))); })(x);
  expect_values(gx, {0, 1, 0});
}

// The registry skips finite differences for maximum, minimum, tan and astype (its cases hit ties,
// poles and float32 rounding on purpose); check them here away from those points.
TEST(ElementwiseTransforms, FiniteDifferencesAwayFromTiesPolesAndRounding) {
  array a = f64({0.3, -1.2, 2.5, 0.7}), b = f64({-0.4, 0.9, 1.1, 1.3});
  array va = f64({0.5, -1.5, 0.25, 2.0}), vb = f64({1.0, 0.75, -2.0, 0.5});
  std::vector<std::function<array(const std::vector<array>&)>> fns = {
      [](const std::vector<array>& in) { return maximum(in[0], in[1]); },
      [](const std::vector<array>& in) { return minimum(in[0], in[1]); },
      [](const std::vector<array>& in) { return multiply(tan(in[0]), in[1]); },
      [](const std::vector<array>& in) { return multiply(astype(astype(in[0], float32), float64), in[1]); },
  };
  for (size_t k = 0; k < fns.size(); ++k) {
    auto f = [&](const std::vector<array>& in) { return std::vector<array>{sum(fns[k](in))}; };
    auto fd_at = [&](double h) {
      return f({add(a, multiply(va, array(h))), add(b, multiply(vb, array(h)))})[0].item<double>();
    };
    // astype rounds to float32, so it needs a step far above float32's resolution (the function
    // is bilinear, so central differences are exact at any step).
    double eps = k == 3 ? 0.1 : 1e-6;
    double fd = (fd_at(eps) - fd_at(-eps)) / (2 * eps);
    double t = jvp(f, {a, b}, {va, vb}).second[0].item<double>();
    auto g = vjp(f, {a, b}, {array(1.0)}).second;
    double v = sum(add(multiply(g[0], va), multiply(g[1], vb))).item<double>();
    double tol = k == 3 ? 1e-5 : 1e-7;
    EXPECT_NEAR(t, fd, tol * (1 + std::fabs(fd))) << "function " << k;
    EXPECT_NEAR(v, fd, tol * (1 + std::fabs(fd))) << "function " << k;
  }
}

// Second derivatives of the pole-having ops the registry skips (tan, reciprocal), away from poles.
TEST(ElementwiseTransforms, SecondDerivativesOfTanAndReciprocal) {
  array x = f64({0.3, -1.2, 0.9, 2.5});
  array v = f64({0.5, -1.5, 0.25, 2.0}), w = f64({1.0, 0.75, -2.0, 0.5});
  std::vector<std::function<array(const array&)>> fns = {[](const array& a) { return tan(a); },
                                                          [](const array& a) { return reciprocal(a); }};
  for (size_t k = 0; k < fns.size(); ++k) {
    // h(x) = <grad of sum(f), v>; its gradient along w against central differences.
    auto h = [&](const array& a) { return sum(multiply(grad([&](const array& b) { return sum(fns[k](b)); })(a), v)); };
    double eps = 1e-5;
    double fd = (h(add(x, multiply(w, array(eps)))).item<double>() - h(add(x, multiply(w, array(-eps)))).item<double>()) /
                (2 * eps);
    double got = sum(multiply(grad(h)(x), w)).item<double>();
    EXPECT_NEAR(got, fd, 1e-6 * (1 + std::fabs(fd))) << "function " << k;
  }
}

TEST(ElementwiseTransforms, WhereRoutesDerivativesByCondition) {
  array c = array({true, false, true}, {3}, bool_);
  array x = f64({1, 2, 3}), y = f64({4, 5, 6});
  auto f = [&c](const std::vector<array>& in) { return sum(multiply(where(c, in[0], in[1]), f64({1, 2, 3}))); };
  auto g = grad(f, std::vector<int>{0, 1})({x, y});
  expect_values(g[0], {1, 0, 3});
  expect_values(g[1], {0, 2, 0});
  // Equal branches (x == y) are no tie: the condition alone decides.
  g = grad(f, std::vector<int>{0, 1})({x, x});
  expect_values(g[0], {1, 0, 3});
  expect_values(g[1], {0, 2, 0});
}

TEST(ElementwiseTransforms, StopGradientBlocksDerivatives) {
  array x = f64({1, 2, 3});
  // d/dx sum(x * sg(x)) = sg(x), not 2x.
  auto f = [](const array& v) { return sum(multiply(v, stop_gradient(v))); };
  expect_values(grad(f)(x), {1, 2, 3});
  expect_values(grad([](const array& v) { return sum(stop_gradient(exp(v))); })(x), {0, 0, 0});
  auto t = jvp([](const array& v) { return stop_gradient(square(v)); }, x, f64({1, 1, 1})).second;
  expect_values(t, {0, 0, 0});
  // Blocking holds at every order: grad f = sg(x), whose own derivative is zero.
  auto d2 = grad([&f](const array& v) { return sum(grad(f)(v)); })(x);
  expect_values(d2, {0, 0, 0});
}

TEST(ElementwiseTransforms, GradThroughBfloat16RoundTrip) {
  array x = array({0.1f, 1.5f, -3.25f}, {3}, float32);
  auto f = [](const array& v) {
    array r = astype(astype(v, bfloat16), float32);
    return sum(multiply(r, array(3.0f)));
  };
  array g = grad(f)(x);
  EXPECT_EQ(g.dtype(), float32);
  expect_values(g, {3, 3, 3});
  // A nonlinear op in bfloat16: the derivative is computed in bfloat16 and cast back.
  auto h = [](const array& v) { return sum(astype(square(astype(v, bfloat16)), float32)); };
  array gh = grad(h)(x);
  EXPECT_EQ(gh.dtype(), float32);
  auto got = values(gh);
  EXPECT_NEAR(got[0], 0.2, 0.01);
  EXPECT_DOUBLE_EQ(got[1], 3.0);
  EXPECT_DOUBLE_EQ(got[2], -6.5);
  // Casts to integers carry no derivative.
  expect_values(grad([](const array& v) { return sum(astype(astype(v, int32), float32)); })(x), {0, 0, 0});
}

TEST(ElementwiseTransforms, PowerAtZeroWithIntegerExponentsIsFinite) {
  array x = f64({0, 0, 0, 0, 2});
  array p = f64({0, 1, 2, 3, 0});
  // d/dx x^p at x = 0: 0 for p = 0, 1 for p = 1, 0 for p >= 2; d/dp x^p at x = 0 is taken as 0.
  auto f = [](const std::vector<array>& in) { return std::vector<array>{power(in[0], in[1])}; };
  auto tx = jvp(f, {x, p}, {ones_like(x), zeros_like(p)}).second[0];
  expect_values(tx, {0, 1, 0, 0, 0});
  auto tp = jvp(f, {x, p}, {zeros_like(x), ones_like(p)}).second[0];
  expect_values(tp, {0, 0, 0, 0, std::log(2.0)});
  auto g = vjp(f, {x, p}, {ones_like(x)}).second;
  expect_values(g[0], {0, 1, 0, 0, 0});
  expect_values(g[1], {0, 0, 0, 0, std::log(2.0)});
  // Second derivative of x^2 and x^3 at 0 (grad of grad goes through the same guards).
  auto d2 = [](double e) {
    return grad([e](const array& v) { return sum(grad([e](const array& w) { return sum(power(w, array(e))); })(v)); });
  };
  expect_values(d2(2.0)(f64({0})), {2});
  expect_values(d2(3.0)(f64({0})), {0});
  // An integer scalar exponent promotes to x's dtype and behaves the same.
  expect_values(grad([](const array& v) { return sum(power(v, array(2))); })(f64({0, 3})), {0, 6});
}

// Complex rules are transposes of their jvps without conjugation (MLX's and JAX's convention):
// for a real cotangent c and a complex tangent t, c * jvp(t) = Re(vjp(c) * t).
TEST(ElementwiseTransforms, ComplexRulesAreTransposesOfTheirJvps) {
  array z = array({complex64_t(3, 4), complex64_t(-1, 2)}, {2}, complex64);
  array t = array({complex64_t(0.5f, -2), complex64_t(1.5f, 0.25f)}, {2}, complex64);
  array c = array({0.75f, -1.25f}, {2}, float32);
  std::vector<std::function<array(const array&)>> fns = {
      [](const array& v) { return abs(v); }, [](const array& v) { return real(v); },
      [](const array& v) { return imag(v); }};
  for (auto& fn : fns) {
    array jt = jvp(fn, z, t).second;
    array vc = vjp(fn, z, c).second;
    ASSERT_EQ(vc.dtype(), complex64);
    double lhs = sum(multiply(c, jt)).item<float>();
    double rhs = sum(real(multiply(vc, t))).item<float>();
    EXPECT_NEAR(lhs, rhs, 1e-5);
  }
  // imag's cotangent is -i c.
  array g = vjp([](const array& v) { return imag(v); }, z, c).second;
  g.eval();
  EXPECT_EQ(g.data<complex64_t>()[0], complex64_t(0, -0.75f));
  // |z| has gradient conj(z) / |z| under this convention.
  g = vjp([](const array& v) { return abs(v); }, z, ones_like(c)).second;
  g.eval();
  EXPECT_NEAR(g.data<complex64_t>()[0].real(), 0.6, 1e-6);
  EXPECT_NEAR(g.data<complex64_t>()[0].imag(), -0.8, 1e-6);
}

// Elementwise batching rules line up inputs batched on different axes, and unbatched ones.
TEST(ElementwiseTransforms, VmapWithDifferentBatchAxes) {
  array a = reshape(astype(arange(24), float32), {2, 3, 4});      // batch on axis 0
  array b = reshape(astype(arange(24), float32), {3, 4, 2});      // batch on axis 2
  array c = greater(reshape(astype(arange(24), float32), {3, 2, 4}), array(11.0f));  // batch on axis 1
  array u = reshape(astype(arange(12), float32), {3, 4});          // not batched
  auto fn = [](const std::vector<array>& in) {
    return std::vector<array>{add(in[0], in[1]), where(in[2], in[0], in[3]), power(in[3], in[1])};
  };
  auto got = vmap(fn, {0, 2, 1, -1}, {0, 1, 2})({a, b, c, u});
  for (int i = 0; i < 2; ++i) {
    auto want = fn({take(a, i, 0), take(b, i, 2), take(c, i, 1), u});
    EXPECT_TRUE(same(take(got[0], i, 0), want[0])) << "add, entry " << i;
    EXPECT_TRUE(same(take(got[1], i, 1), want[1])) << "where, entry " << i;
    EXPECT_TRUE(close(take(got[2], i, 2), want[2])) << "power, entry " << i;
  }
}

TEST(ElementwiseTransforms, VmapOfGradOfElementwise) {
  array x = reshape(f64({0.1, 0.2, 0.3, -0.4, 0.5, 0.6}), {2, 3});
  auto g = grad([](const array& v) { return sum(multiply(sin(v), maximum(v, array(0.0)))); });
  array got = vmap(g, 1, 1)(x);
  array want = g(x);
  auto gv = values(got), wv = values(want);
  for (size_t i = 0; i < gv.size(); ++i) EXPECT_NEAR(gv[i], wv[i], 1e-12);
}

// vmap over a batch of keys gives each entry the bits its own key gives alone.
TEST(ElementwiseTransforms, VmapOfRandomBitsOverKeysEqualsLoop) {
  array keys = random::split(random::key(7), 3);  // [3, 2]
  for (int width : {1, 2, 4}) {
    auto draw = [width](const array& k) { return random::bits({4, 5}, width, k); };
    for (int axis : {0, 1}) {
      array batched = axis == 0 ? keys : transpose(keys);
      array got = vmap(draw, axis, 0)(batched);
      ASSERT_EQ(got.shape(), (Shape{3, 4, 5}));
      for (int i = 0; i < 3; ++i) {
        EXPECT_TRUE(same(take(got, i, 0), draw(take(keys, i, 0)))) << "width " << width << " axis " << axis;
      }
    }
  }
  // Nested: a [2, 3] grid of keys.
  array grid = reshape(random::split(random::key(11), 6), {2, 3, 2});
  auto draw = [](const array& k) { return random::bits({7}, 4, k); };
  array got = vmap(vmap(draw, 0, 0), 1, 1)(transpose(grid, {1, 0, 2}));  // outer batch on axis 1
  ASSERT_EQ(got.shape(), (Shape{3, 2, 7}));
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 3; ++j) {
      array want = draw(take(take(grid, i, 0), j, 0));
      EXPECT_TRUE(same(take(take(got, i, 1), j, 0), want)) << i << "," << j;
    }
  }
}

}  // namespace
}  // namespace tessera
