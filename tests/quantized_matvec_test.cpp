// quantized_matmul in the decode shape (1-4 rows of x, transposed weights) for 4 and 8 bits,
// every group size the byte kernels take, rows that are not a whole number of vectors of words
// (K = 576, the shape where the word kernels do not fit) and scales stored in float32, bfloat16
// and float16 (with activations of the same type or float32), checked against a float64 product with the dequantized weight.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "backend/cpu/quantized_matvec.h"
#include "tessera/tessera.h"
#include "testing/values.h"

namespace tessera {
namespace {

using testing::values_f64;

struct Case {
  int bits, gs, K, N;
};

// A random [N, K] weight quantized as `c` says, scales and biases stored as `d`, and its
// dequantization (with those rounded scales) in float64 for the references.
struct RandomQuantized {
  array wq, sc, bi;
  std::vector<double> dense;
};

RandomQuantized random_quantized(const Case& c, Dtype d) {
  auto q = quantize(random::normal({c.N, c.K}), c.gs, c.bits);
  array wq = q[0], sc = astype(q[1], d), bi = astype(q[2], d);
  array dense = dequantize(wq, sc, bi, c.gs, c.bits, "affine", float32);
  eval(wq, sc, bi, dense);
  return {wq, sc, bi, values_f64(dense)};
}

TEST(QuantizedMatvec, DecodeShapesMatchTheDequantizedProduct) {
  random::seed(11);
  const std::vector<Case> cases = {{4, 32, 576, 70},  {4, 64, 576, 33},  {4, 128, 640, 20}, {8, 16, 576, 41},
                                   {8, 32, 576, 37},  {8, 64, 2048, 9},  {4, 32, 2048, 50}, {8, 128, 384, 12}};
  for (Dtype d : {float32, bfloat16, float16}) {
    for (const auto& c : cases) {
      // The reference dequantizes with the same (rounded) scales and biases.
      const RandomQuantized qw = random_quantized(c, d);
      const array &wq = qw.wq, &sc = qw.sc, &bi = qw.bi;
      const std::vector<double>& wd = qw.dense;
      for (int M : {1, 2, 3, 4}) {
        array x = astype(random::normal({M, c.K}), d);
        x.eval();
        auto xv = values_f64(x);
        array y = quantized_matmul(x, wq, sc, bi, true, c.gs, c.bits);
        auto got = values_f64(y);
        ASSERT_EQ(got.size(), size_t(M * c.N));
        double scale = 1e-30, worst = 0;
        std::vector<double> want(size_t(M * c.N));
        for (int m = 0; m < M; ++m)
          for (int n = 0; n < c.N; ++n) {
            double s = 0;
            for (int k = 0; k < c.K; ++k) s += xv[size_t(m * c.K + k)] * wd[size_t(n * c.K + k)];
            want[size_t(m * c.N + n)] = s;
            scale = std::max(scale, std::abs(s));
          }
        for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(got[i] - want[i]) / scale);
        const double tol = d == float32 ? 2e-5 : d == float16 ? 2e-3 : 1.6e-2;
        EXPECT_LE(worst, tol) << dtype_name(d) << " bits " << c.bits << " group " << c.gs << " K " << c.K << " N "
                              << c.N << " M " << M;
        // float32 activations with narrower stored scales (an MLX model computing in float32):
        // a float32 result, scales read as stored.
        array y32 = quantized_matmul(astype(x, float32), wq, sc, bi, true, c.gs, c.bits);
        ASSERT_EQ(y32.dtype(), float32);
        auto g32 = values_f64(y32);
        double worst32 = 0;
        for (size_t i = 0; i < g32.size(); ++i) worst32 = std::max(worst32, std::abs(g32[i] - want[i]) / scale);
        EXPECT_LE(worst32, 2e-5) << dtype_name(d) << " scales, float32 x: bits " << c.bits << " group " << c.gs
                                 << " M " << M;
      }
    }
  }
}

// quantized_matmul_int8_activations: x rounded to int8 per 32 values, so each output may move by
// at most sum_k |w_k| * (block max of x at k) / 254 from the exact product (plus float32
// rounding); on CPUs with the int8 kernels it must actually differ (the kernel ran).
TEST(QuantizedMatvec, Int8ActivationsStayWithinTheirRoundingBound) {
  random::seed(12);
  // 4-bit rows of 576 and 320 end in half a chunk of the kernel.
  const std::vector<Case> cases = {{4, 32, 512, 37}, {4, 64, 2048, 70}, {4, 128, 384, 9}, {4, 128, 1024, 5},
                                   {4, 32, 576, 19}, {4, 64, 320, 13},  {8, 32, 576, 33}, {8, 64, 2048, 20},
                                   {8, 128, 640, 11}};
  for (Dtype d : {float32, bfloat16, float16}) {
    for (const auto& c : cases) {
      const RandomQuantized qw = random_quantized(c, d);
      const array &wq = qw.wq, &sc = qw.sc, &bi = qw.bi;
      const std::vector<double>& wd = qw.dense;
      const bool kernel = quantized_matvec_int8_supported(c.bits, c.gs, d, 1, c.K);
      for (int M : {1, 2, 4}) {
        // An outlier per row, as activations have.
        array x = multiply(random::normal({M, c.K}), add(astype(equal(arange(c.K), array(7)), float32), array(1.f)));
        x = multiply(x, array(3.f));
        x.eval();
        auto xv = values_f64(x);
        auto got = values_f64(quantized_matmul_int8_activations(x, wq, sc, bi, true, c.gs, c.bits));
        ASSERT_EQ(got.size(), size_t(M * c.N));
        bool differs = false;
        for (int m = 0; m < M; ++m) {
          std::vector<double> bmax(size_t(c.K / 32), 0.0);
          for (int k = 0; k < c.K; ++k)
            bmax[size_t(k / 32)] = std::max(bmax[size_t(k / 32)], std::abs(xv[size_t(m * c.K + k)]));
          for (int n = 0; n < c.N; ++n) {
            double exact = 0, bound = 0, mag = 0;
            for (int k = 0; k < c.K; ++k) {
              const double wv = wd[size_t(n * c.K + k)];
              exact += xv[size_t(m * c.K + k)] * wv;
              bound += std::abs(wv) * bmax[size_t(k / 32)] / 254.0;
              mag += std::abs(wv * xv[size_t(m * c.K + k)]);
            }
            const double err = std::abs(got[size_t(m * c.N + n)] - exact);
            EXPECT_LE(err, bound * 1.001 + 1e-5 * mag)
                << dtype_name(d) << " bits " << c.bits << " group " << c.gs << " K " << c.K << " M " << M << " n " << n;
            differs = differs || err > 1e-4 * mag;
          }
        }
        if (kernel) {
          EXPECT_TRUE(differs) << "the int8 kernel did not run: bits " << c.bits << " group " << c.gs;
        }
      }
    }
  }
}

// Rows the int8 codes cannot carry (NaN, infinity) take the exact kernels: NaN stays NaN, and
// finite inputs of the same call are unaffected.
TEST(QuantizedMatvec, Int8ActivationsWithNonFiniteInputFallBackToTheExactProduct) {
  random::seed(13);
  array w = random::normal({16, 256});
  auto q = quantize(w, 64, 4);
  std::vector<float> xs(256, 0.5f);
  xs[3] = std::nanf("");
  array x(xs.begin(), Shape{1, 256}, float32);
  auto got = values_f64(quantized_matmul_int8_activations(x, q[0], q[1], q[2], true, 64, 4));
  for (double v : got) EXPECT_TRUE(std::isnan(v));
  xs[3] = 0.5f;
  array ok(xs.begin(), Shape{1, 256}, float32);
  auto exact = values_f64(quantized_matmul(ok, q[0], q[1], q[2], true, 64, 4));
  auto approx = values_f64(quantized_matmul_int8_activations(ok, q[0], q[1], q[2], true, 64, 4));
  for (size_t i = 0; i < exact.size(); ++i) EXPECT_NEAR(approx[i], exact[i], 1e-3 * (1 + std::abs(exact[i])));
}

}  // namespace
}  // namespace tessera
