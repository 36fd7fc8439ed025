// quantized_matmul in the decode shape (1-4 rows of x, transposed weights) for 4 and 8 bits,
// every group size the byte kernels take, rows that are not a whole number of vectors of words
// (K = 576, the shape where the word kernels do not fit) and scales stored in float32, bfloat16
// and float16 (with activations of the same type or float32), checked against a float64 product with the dequantized weight.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "tessera/tessera.h"
#include "testing/values.h"

namespace tessera {
namespace {

using testing::values_f64;

TEST(QuantizedMatvec, DecodeShapesMatchTheDequantizedProduct) {
  random::seed(11);
  struct Case {
    int bits, gs, K, N;
  };
  const std::vector<Case> cases = {{4, 32, 576, 70},  {4, 64, 576, 33},  {4, 128, 640, 20}, {8, 16, 576, 41},
                                   {8, 32, 576, 37},  {8, 64, 2048, 9},  {4, 32, 2048, 50}, {8, 128, 384, 12}};
  for (Dtype d : {float32, bfloat16, float16}) {
    for (const auto& c : cases) {
      array w = random::normal({c.N, c.K});
      auto q = quantize(w, c.gs, c.bits);
      array wq = q[0], sc = astype(q[1], d), bi = astype(q[2], d);
      // The reference dequantizes with the same (rounded) scales and biases.
      array dense = dequantize(wq, sc, bi, c.gs, c.bits, "affine", float32);
      eval(wq, sc, bi, dense);
      auto wd = values_f64(dense);
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

}  // namespace
}  // namespace tessera
