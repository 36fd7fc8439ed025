// Direct checks of the product rules (matmul, convolution, quantized products) beyond the
// registry-wide finite-difference sweep: broadcast batch dims, grouped strided convolutions
// element by element, and the quantized products against their dense equivalents.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "tessera/tessera.h"

namespace tessera {
namespace {

double max_abs_diff(const array& a, const array& b) {
  return max(abs(subtract(astype(a, float64), astype(b, float64)))).item<double>();
}

double max_abs(const array& a) { return max(abs(astype(a, float64))).item<double>(); }

// <f(x), c> as a scalar function of one argument, for gradients against finite differences.
using ScalarFn = std::function<array(const array&)>;

ScalarFn project(const std::function<array(const array&)>& f, const array& c) {
  return [f, c](const array& x) { return sum(multiply(f(x), c)); };
}

TEST(LinalgTransforms, MatmulGradBroadcastBatchDims) {
  // a [2, 1, 3, 4] and b [5, 4, 2] broadcast to a batch of [2, 5]: each gradient sums the
  // products over the batch entries its input was broadcast to.
  array a = random::normal({2, 1, 3, 4}, float64), b = random::normal({5, 4, 2}, float64);
  array c = random::normal({2, 5, 3, 2}, float64);
  auto f = [&](const std::vector<array>& in) { return sum(multiply(matmul(in[0], in[1]), c)); };
  auto g = grad(f, std::vector<int>{0, 1})({a, b});
  ASSERT_EQ(g[0].shape(), a.shape());
  ASSERT_EQ(g[1].shape(), b.shape());
  array want_a = sum(matmul(c, swapaxes(broadcast_to(b, {2, 5, 4, 2}), -1, -2)), 1, true);
  array want_b = sum(matmul(swapaxes(broadcast_to(a, {2, 5, 3, 4}), -1, -2), c), 0);
  EXPECT_LT(max_abs_diff(g[0], want_a), 1e-12 * (1 + max_abs(want_a)));
  EXPECT_LT(max_abs_diff(g[1], want_b), 1e-12 * (1 + max_abs(want_b)));

  // The 1-D promotions: vector @ batched matrix and batched matrix @ vector.
  array v = random::normal({4}, float64), cv = random::normal({5, 2}, float64);
  array gv = grad([&](const array& x) { return sum(multiply(matmul(x, b), cv)); })(v);
  array want_v = sum(matmul(b, expand_dims(cv, -1)), {0, 2});
  EXPECT_LT(max_abs_diff(gv, want_v), 1e-12 * (1 + max_abs(want_v)));
  array w = random::normal({2}, float64), cw = random::normal({5, 4}, float64);
  array gw = grad([&](const array& x) { return sum(multiply(matmul(b, x), cw)); })(w);
  array want_w = sum(matmul(expand_dims(cw, 1), b), {0, 1});
  EXPECT_LT(max_abs_diff(gw, want_w), 1e-12 * (1 + max_abs(want_w)));
}

TEST(LinalgTransforms, MatmulVjpOfTransposedViews) {
  // Primals that are themselves transposed views (the layout the vjp feeds back to matmul).
  array a = swapaxes(random::normal({3, 6, 4}, float64), -1, -2);  // [3, 4, 6] view
  array b = random::normal({6, 5}, float64);
  array c = random::normal({3, 4, 5}, float64);
  auto [outs, cots] = vjp([](const std::vector<array>& in) { return std::vector<array>{matmul(in[0], in[1])}; },
                          {a, b}, {c});
  array want_a = matmul(c, transpose(b));
  array want_b = sum(matmul(swapaxes(a, -1, -2), c), 0);
  EXPECT_LT(max_abs_diff(cots[0], want_a), 1e-12 * (1 + max_abs(want_a)));
  EXPECT_LT(max_abs_diff(cots[1], want_b), 1e-12 * (1 + max_abs(want_b)));
}

TEST(LinalgTransforms, Conv2dWeightGradGroupsStrideAgainstFiniteDifferences) {
  // groups = 2, stride 2, asymmetric input (7 x 6) so the stride leaves rows unread, padding
  // on one axis: every element of the weight gradient against a central difference (the loss
  // is linear in w, so the difference is exact up to rounding).
  array x = random::normal({2, 7, 6, 4}, float64);
  array w = random::normal({6, 3, 2, 2}, float64);
  auto conv = [&](const array& xx, const array& ww) { return conv2d(xx, ww, {2, 2}, {1, 0}, {1, 1}, 2); };
  array c = random::normal(conv(x, w).shape(), float64);
  ScalarFn loss = project([&](const array& ww) { return conv(x, ww); }, c);
  array g = grad(loss)(w);
  ASSERT_EQ(g.shape(), w.shape());
  eval(g);
  array flat = reshape(w, {-1});
  array gflat = reshape(g, {-1});
  const double eps = 1e-3;
  for (int i = 0; i < int(w.size()); ++i) {
    array e = reshape(astype(equal(arange(int(w.size())), array(i)), float64), w.shape());
    double up = loss(add(w, multiply(e, array(eps)))).item<double>();
    double down = loss(subtract(w, multiply(e, array(eps)))).item<double>();
    double fd = (up - down) / (2 * eps);
    double got = take(gflat, i).item<double>();
    EXPECT_NEAR(got, fd, 1e-8 * (1 + std::fabs(fd))) << "weight element " << i;
  }
  // The input gradient of the same convolution along a random direction.
  ScalarFn loss_x = project([&](const array& xx) { return conv(xx, w); }, c);
  array gx = grad(loss_x)(x);
  array dir = random::normal(x.shape(), float64);
  double fd = (loss_x(add(x, multiply(dir, array(eps)))).item<double>() -
               loss_x(subtract(x, multiply(dir, array(eps)))).item<double>()) /
              (2 * eps);
  EXPECT_NEAR(sum(multiply(gx, dir)).item<double>(), fd, 1e-8 * (1 + std::fabs(fd)));
}

TEST(LinalgTransforms, ConvGeneralAllParametersAgainstFiniteDifferences) {
  // Strides, negative and asymmetric padding, kernel and input dilation, groups and flip at once.
  array x = random::normal({2, 9, 8, 6}, float64);
  array w = random::normal({4, 3, 2, 3}, float64);
  for (bool flip : {false, true}) {
    auto conv = [&](const array& xx, const array& ww) {
      return conv_general(xx, ww, {2, 3}, {1, -1}, {0, 2}, {2, 1}, {1, 2}, 2, flip);
    };
    array c = random::normal(conv(x, w).shape(), float64);
    auto f = [&](const std::vector<array>& in) { return sum(multiply(conv(in[0], in[1]), c)); };
    auto g = grad(f, std::vector<int>{0, 1})({x, w});
    array dx = random::normal(x.shape(), float64), dw = random::normal(w.shape(), float64);
    const double eps = 1e-3;
    double fd = (f({add(x, multiply(dx, array(eps))), add(w, multiply(dw, array(eps)))}).item<double>() -
                 f({subtract(x, multiply(dx, array(eps))), subtract(w, multiply(dw, array(eps)))}).item<double>()) /
                (2 * eps);
    double got = sum(multiply(g[0], dx)).item<double>() + sum(multiply(g[1], dw)).item<double>();
    // Bilinear: the central difference carries only the eps^2 cross term's odd part (zero).
    EXPECT_NEAR(got, fd, 1e-7 * (1 + std::fabs(fd))) << "flip " << flip;
  }
}

TEST(LinalgTransforms, QuantizedMatmulVjpMatchesDequantizedMatmul) {
  for (bool transpose : {true, false}) {
    array wd = random::normal(transpose ? Shape{64, 128} : Shape{128, 64}, float32);
    auto q = quantize(wd, 64, 4);
    array x = random::normal({2, 3, 128}, float32);
    array cot = random::normal({2, 3, 64}, float32);
    auto qmm = [&](const std::vector<array>& in) {
      return std::vector<array>{quantized_matmul(in[0], q[0], in[1], in[2], transpose, 64, 4)};
    };
    auto mm = [&](const std::vector<array>& in) {
      array d = dequantize(q[0], in[1], in[2], 64, 4);
      return std::vector<array>{matmul(in[0], transpose ? swapaxes(d, -1, -2) : d)};
    };
    auto got = vjp(qmm, {x, q[1], q[2]}, {cot}).second;
    auto want = vjp(mm, {x, q[1], q[2]}, {cot}).second;
    for (int i = 0; i < 3; ++i) {
      ASSERT_EQ(got[i].shape(), want[i].shape());
      EXPECT_LT(max_abs_diff(got[i], want[i]), 1e-4 * (1 + max_abs(want[i])))
          << "argument " << i << (transpose ? " (transpose)" : "");
    }
  }
}

TEST(LinalgTransforms, GatherQmmVjpMatchesGatherMmOfDequantized) {
  // x entries read by several products (lhs repeats 1) and weights read twice (rhs repeats):
  // their cotangents add up.
  array x = random::normal({4, 2, 128}, float32);
  auto q = quantize(random::normal({3, 24, 128}, float32), 64, 4);
  array lhs = array({0u, 3u, 1u, 1u, 2u}, {5}, uint32), rhs = array({2u, 0u, 1u, 2u, 0u}, {5}, uint32);
  array cot = random::normal({5, 2, 24}, float32);
  auto gqmm = [&](const std::vector<array>& in) {
    return std::vector<array>{gather_qmm(in[0], q[0], in[1], in[2], lhs, rhs, true, 64, 4)};
  };
  auto gmm = [&](const std::vector<array>& in) {
    array d = dequantize(q[0], in[1], in[2], 64, 4);
    return std::vector<array>{gather_mm(in[0], swapaxes(d, -1, -2), lhs, rhs)};
  };
  auto got = vjp(gqmm, {x, q[1], q[2]}, {cot}).second;
  auto want = vjp(gmm, {x, q[1], q[2]}, {cot}).second;
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(got[i].shape(), want[i].shape());
    EXPECT_LT(max_abs_diff(got[i], want[i]), 1e-4 * (1 + max_abs(want[i]))) << "argument " << i;
  }
}

}  // namespace
}  // namespace tessera
