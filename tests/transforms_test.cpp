// The transform API itself: value_and_grad's argnums and auxiliary outputs, composition
// (grad of grad, grad of vmap, vmap of grad, jvp of vjp), custom rules, checkpoint, errors.
// Per-op rules are covered by transforms_registry_test.cpp.
#include <gtest/gtest.h>

#include <cmath>

#include "tessera/tessera.h"

namespace tessera {
namespace {

array f64(std::initializer_list<double> v) { return array(v.begin(), {int(v.size())}, float64); }

double at(const array& a, int i) {
  array d = astype(a, float64);
  d.eval();
  return d.data<double>()[i];
}

void expect_near_all(array got, array want, double tol = 1e-10) {
  got = astype(got, float64);
  want = astype(want, float64);
  eval(got, want);
  ASSERT_EQ(got.shape(), want.shape());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got.data<double>()[i], want.data<double>()[i], tol) << "at " << i;
}

TEST(Transforms, ValueAndGradWithArgnumsAndAux) {
  auto fn = [](const std::vector<array>& in) {
    array loss = sum(multiply(multiply(in[0], in[1]), in[2]));
    return std::vector<array>{loss, multiply(in[0], array(2.0))};  // second output is auxiliary
  };
  array a = f64({1, 2}), b = f64({3, 4}), c = f64({5, 6});
  auto [values, grads] = value_and_grad(fn, std::vector<int>{0, 2})({a, b, c});
  ASSERT_EQ(values.size(), 2u);
  ASSERT_EQ(grads.size(), 2u);
  EXPECT_DOUBLE_EQ(values[0].item<double>(), 1 * 3 * 5 + 2 * 4 * 6);
  expect_near_all(values[1], f64({2, 4}));
  expect_near_all(grads[0], f64({15, 24}));
  expect_near_all(grads[1], f64({3, 8}));
}

TEST(Transforms, GradOfGrad) {
  // f = x^3 sin x; f'' = 6x sin x + 6x^2 cos x - x^3 sin x.
  auto f = [](const array& x) { return sum(multiply(power(x, array(3.0)), sin(x))); };
  auto d2 = grad([&](const array& x) { return sum(grad(f)(x)); });
  array x = f64({0.3, 1.7, -2.1});
  array got = d2(x);
  for (int i = 0; i < 3; ++i) {
    double v = at(x, i);
    double want = 6 * v * std::sin(v) + 6 * v * v * std::cos(v) - v * v * v * std::sin(v);
    EXPECT_NEAR(at(got, i), want, 1e-9);
  }
}

TEST(Transforms, GradOfVmapAndVmapOfGrad) {
  // Per-example gradients of w -> sum(tanh(x_i * w)) over a batch of x_i.
  array x = reshape(f64({0.1, 0.2, 0.3, -0.4, 0.5, 0.6}), {3, 2});
  array w = f64({0.7, -1.1});
  auto per_example = [](const array& xi, const array& wv) { return sum(tanh(multiply(xi, wv))); };
  // vmap of grad: one gradient per row.
  auto g = [&](const array& xi, const array& wv) {
    return grad([&](const std::vector<array>& in) { return per_example(in[0], in[1]); }, 1)({xi, wv})[0];
  };
  array per_row = vmap(g, 0, -1, 0)(x, w);
  ASSERT_EQ(per_row.shape(), Shape({3, 2}));
  for (int r = 0; r < 3; ++r) {
    for (int j = 0; j < 2; ++j) {
      double xv = at(x, r * 2 + j), wv = at(w, j);
      double t = std::tanh(xv * wv);
      EXPECT_NEAR(at(per_row, r * 2 + j), xv * (1 - t * t), 1e-12);
    }
  }
  // grad of vmap: the sum of the per-row gradients.
  auto total = [&](const array& wv) {
    auto batched = vmap([&](const array& a, const array& b) { return per_example(a, b); }, 0, -1, 0);
    return sum(batched(x, wv));
  };
  expect_near_all(grad(total)(w), sum(per_row, 0), 1e-12);
}

TEST(Transforms, JvpOfVjpIsHessianVectorProduct) {
  // f = sum(exp(x) * x): Hessian is diag(exp(x) (x + 2)).
  auto f = [](const array& x) { return sum(multiply(exp(x), x)); };
  array x = f64({0.1, -0.5, 1.2});
  array v = f64({1.0, 2.0, -1.0});
  auto g = [&](const std::vector<array>& in) { return vjp([&](const array& a) { return f(a); }, in[0], array(1.0)).second; };
  auto gv = [&](const std::vector<array>& in) { return std::vector<array>{g(in)}; };
  auto [outs, hv] = jvp(gv, {x}, {v});
  for (int i = 0; i < 3; ++i) {
    double xv = at(x, i);
    EXPECT_NEAR(at(hv[0], i), std::exp(xv) * (xv + 2) * at(v, i), 1e-12);
  }
}

TEST(Transforms, CustomVjpIsUsed) {
  int calls = 0;
  auto fn = custom_vjp([](const std::vector<array>& in) { return std::vector<array>{exp(in[0])}; },
                       [&calls](const std::vector<array>&, const std::vector<array>& cot, const std::vector<array>&) {
                         ++calls;
                         return std::vector<array>{multiply(cot[0], array(10.0))};
                       });
  array x = f64({0.0, 1.0});
  auto [out, g] = vjp(fn, {x}, {f64({1.0, 2.0})});
  expect_near_all(out[0], exp(x));
  expect_near_all(g[0], f64({10.0, 20.0}));
  EXPECT_EQ(calls, 1);
}

TEST(Transforms, CustomFunctionJvpAndVmap) {
  int vmaps = 0;
  auto fn = custom_function(
      [](const std::vector<array>& in) { return std::vector<array>{sin(in[0])}; }, std::nullopt,
      [](const std::vector<array>& primals, const std::vector<array>& tangents, const std::vector<int>&) {
        return std::vector<array>{multiply(cos(primals[0]), tangents[0])};
      },
      [&vmaps](const std::vector<array>& in, const std::vector<int>& axes) {
        ++vmaps;
        return std::make_pair(std::vector<array>{sin(in[0])}, std::vector<int>{axes[0]});
      });
  array x = f64({0.5, 1.5});
  auto [o, t] = jvp(fn, {x}, {f64({1.0, 1.0})});
  expect_near_all(t[0], cos(x));
  array xb = reshape(f64({0.1, 0.2, 0.3, 0.4}), {2, 2});
  array ob = vmap(fn, {1}, {1})({xb})[0];
  expect_near_all(ob, sin(xb));
  EXPECT_EQ(vmaps, 1);
  // Without a user vjp the function itself is differentiated.
  expect_near_all(vjp(fn, {x}, {f64({1.0, 1.0})}).second[0], cos(x));
}

TEST(Transforms, CheckpointRecomputesAndMatches) {
  int traces = 0;
  auto body = [&traces](const std::vector<array>& in) {
    ++traces;
    return std::vector<array>{tanh(multiply(in[0], in[1]))};
  };
  auto loss = [](const VectorFn& f) {
    return [f](const std::vector<array>& in) { return sum(square(f(in)[0])); };
  };
  array a = f64({0.3, -0.2, 0.9}), b = f64({1.5, 0.5, -0.7});
  auto plain = grad(loss(body), std::vector<int>{0, 1})({a, b});
  eval(plain);
  traces = 0;
  auto ck = grad(loss(checkpoint(body)), std::vector<int>{0, 1})({a, b});
  eval(ck);
  expect_near_all(ck[0], plain[0], 1e-12);
  expect_near_all(ck[1], plain[1], 1e-12);
  // Traced for shapes, run in the forward pass, traced again for the backward pass.
  EXPECT_GE(traces, 3);
}

TEST(Transforms, EvalInsideGradKeepsTheGraph) {
  auto f = [](const array& x) {
    array y = exp(x);
    eval(y);
    EXPECT_GT(y.size(), 0u);
    return sum(multiply(y, x));
  };
  array x = f64({0.2, -0.3});
  array g = grad(f)(x);
  for (int i = 0; i < 2; ++i) EXPECT_NEAR(at(g, i), std::exp(at(x, i)) * (1 + at(x, i)), 1e-12);
}

TEST(Transforms, IntegerArgumentsGetZeroGradient) {
  auto f = [](const std::vector<array>& in) { return sum(multiply(in[0], astype(in[1], float64))); };
  auto g = grad(f, std::vector<int>{0, 1})({f64({1.0, 2.0}), array({3, 4}, int32)});
  expect_near_all(g[0], f64({3.0, 4.0}));
  EXPECT_EQ(g[1].dtype(), int32);
  EXPECT_EQ(sum(abs(g[1])).item<int>(), 0);
}

TEST(Transforms, LongChainsDoNotRecurse) {
  auto f = [](const array& x) {
    array y = x;
    for (int i = 0; i < 20000; ++i) y = add(y, multiply(y, array(1e-5)));
    return sum(y);
  };
  array g = grad(f)(f64({1.0}));
  EXPECT_NEAR(at(g, 0), std::pow(1 + 1e-5, 20000), 1e-9);
}

TEST(Transforms, VmapAxesAndErrors) {
  array x = reshape(astype(arange(6), float64), {2, 3});
  array y = f64({10, 20});
  // x batched along axis 1, y shared; output batch on axis 1.
  auto out = vmap([](const std::vector<array>& in) { return std::vector<array>{add(in[0], in[1])}; }, {1, -1}, {1})(
      {x, y});
  expect_near_all(out[0], add(x, reshape(y, {2, 1})));
  EXPECT_THROW(vmap([](const std::vector<array>& in) { return in; }, {0, 0}, {})({x, f64({1, 2, 3})}),
               std::invalid_argument);
  EXPECT_THROW(vmap([](const std::vector<array>& in) { return in; }, {-1}, {})({x}), std::invalid_argument);
  EXPECT_THROW(vmap([](const std::vector<array>& in) { return in; }, {5}, {})({x}), std::invalid_argument);
  // Outputs that do not depend on the batch are broadcast along it.
  auto c = vmap([](const std::vector<array>& in) { return std::vector<array>{f64({1, 2})}; }, {0}, {0})({x});
  EXPECT_EQ(c[0].shape(), Shape({2, 2}));
}

TEST(Transforms, ErrorsNameTheTransform) {
  auto f = [](const std::vector<array>& in) { return std::vector<array>{exp(in[0])}; };
  try {
    vjp(f, {f64({1, 2})}, {f64({1, 2, 3})});
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("[vjp]"), std::string::npos) << e.what();
  }
  try {
    jvp(f, {f64({1, 2})}, {});
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("[jvp]"), std::string::npos) << e.what();
  }
  try {
    value_and_grad([](const std::vector<array>& in) { return exp(in[0]); })({f64({1, 2})});
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("scalar"), std::string::npos) << e.what();
  }
}

// rope is a rotation, so its input gradient is the cotangent rotated back (one RoPE node with
// the angles negated): <rope(x), g> == <x, vjp(g)>, and rotating rope(x) back gives x. Partial
// rotation (dims < D), both layouts, an offset, a scale, and 16-bit inputs computed in float32.
TEST(Transforms, RopeGradientIsTheInverseRotation) {
  for (Dtype dt : {float32, bfloat16}) {
    for (bool traditional : {false, true}) {
      SCOPED_TRACE(std::string(dtype_name(dt)) + (traditional ? " traditional" : ""));
      array x = astype(random::normal({2, 3, 7, 10}, float32, random::key(1)), dt);
      array g = astype(random::normal({2, 3, 7, 10}, float32, random::key(2)), dt);
      auto fn = [&](const std::vector<array>& in) {
        return std::vector<array>{fast::rope(in[0], 6, traditional, 10000.0f, 0.7f, 3)};
      };
      auto [y, dx] = vjp(fn, {x}, {g});
      ASSERT_EQ(dx[0].dtype(), dt);
      const float lhs = sum(multiply(astype(y[0], float32), astype(g, float32))).item<float>();
      const float rhs = sum(multiply(astype(x, float32), astype(dx[0], float32))).item<float>();
      // bfloat16: y and dx are each rounded to 8 significant bits.
      EXPECT_NEAR(lhs, rhs, (dt == float32 ? 1e-4f : 5e-2f) * (1.0f + std::fabs(lhs)));
      auto [y2, back] = vjp(fn, {x}, {y[0]});
      const float err = max(abs(subtract(astype(back[0], float32), astype(x, float32)))).item<float>();
      EXPECT_LT(err, dt == float32 ? 1e-5f : 0.07f);
      // The untouched tail (dims 6..9) passes the cotangent through unchanged.
      EXPECT_TRUE(array_equal(slice(dx[0], {0, 0, 0, 6}, {2, 3, 7, 10}), slice(g, {0, 0, 0, 6}, {2, 3, 7, 10})).item<bool>());
    }
  }
}

}  // namespace
}  // namespace tessera
