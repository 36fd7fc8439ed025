// Products with one to a few rows (the decode shape) take the CPU's skinny kernels: every
// layout of A and B, float32/bfloat16/float16, ragged K and N, broadcast batches and addmm's
// alpha/beta, checked against a float64 product of the same (already rounded) inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "tessera/tessera.h"
#include "testing/values.h"

namespace tessera {
namespace {

using testing::values_f64;

// a [.., M, K] @ b [.., K, N] in float64 with numpy broadcasting of the batch (here: b's batch
// is 1 or equal to a's).
std::vector<double> reference(const array& a, const array& b) {
  auto va = values_f64(a), vb = values_f64(b);
  int64_t M = a.shape(-2), K = a.shape(-1), N = b.shape(-1);
  int64_t na = int64_t(va.size()) / (M * K), nb = int64_t(vb.size()) / (K * N);
  int64_t batch = std::max(na, nb);
  std::vector<double> out(size_t(batch * M * N));
  for (int64_t i = 0; i < batch; ++i) {
    const double* pa = va.data() + (na == 1 ? 0 : i) * M * K;
    const double* pb = vb.data() + (nb == 1 ? 0 : i) * K * N;
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        double s = 0;
        for (int64_t k = 0; k < K; ++k) s += pa[m * K + k] * pb[k * N + n];
        out[size_t((i * M + m) * N + n)] = s;
      }
  }
  return out;
}

// Output rounding of the dtype, relative to the largest reference magnitude.
double tolerance(Dtype d) { return d == float32 ? 1e-5 : d == float16 ? 2e-3 : 1.6e-2; }

void expect_close(const array& got, const std::vector<double>& want, Dtype d, const std::string& what) {
  ASSERT_EQ(got.dtype(), d) << what;
  auto g = values_f64(got);
  ASSERT_EQ(g.size(), want.size()) << what;
  double scale = 1e-30, worst = 0;
  for (double w : want) scale = std::max(scale, std::abs(w));
  for (size_t i = 0; i < g.size(); ++i) worst = std::max(worst, std::abs(g[i] - want[i]) / scale);
  EXPECT_LE(worst, tolerance(d)) << what;
}

const Dtype kTypes[] = {float32, bfloat16, float16};

TEST(SkinnyGemm, EveryRowCountLayoutAndTypeMatchesFloat64) {
  random::seed(7);
  // K and N both ragged (not multiples of any vector width) and both round.
  const std::vector<std::pair<int, int>> kn = {{19, 37}, {64, 256}, {576, 1536}, {130, 2053}};
  for (Dtype d : kTypes) {
    for (auto [K, N] : kn) {
      for (int M : {1, 2, 3, 4, 5}) {
        array x = astype(random::normal({M, K}), d);
        array w = astype(random::normal({N, K}), d);  // a weight as stored: [out, in]
        array wt = contiguous(transpose(w));           // the same weight stored [in, out]
        array xt = transpose(contiguous(transpose(x)));  // x read column-major
        eval(x, w, wt, xt);
        auto want = reference(x, wt);
        std::string what = std::string(dtype_name(d)) + " M=" + std::to_string(M) + " K=" + std::to_string(K) +
                           " N=" + std::to_string(N);
        expect_close(matmul(x, transpose(w)), want, d, what + " (B column-major)");
        expect_close(matmul(x, wt), want, d, what + " (B row-major)");
        expect_close(matmul(xt, wt), want, d, what + " (A column-major)");
      }
    }
  }
}

TEST(SkinnyGemm, BatchesWithBroadcastWeights) {
  random::seed(8);
  for (Dtype d : kTypes) {
    array x = astype(random::normal({3, 1, 96}), d);
    array w = astype(random::normal({96, 40}), d);
    array ws = astype(random::normal({3, 96, 40}), d);
    eval(x, w, ws);
    expect_close(matmul(x, w), reference(x, reshape(w, {1, 96, 40})), d, std::string(dtype_name(d)) + " broadcast");
    expect_close(matmul(x, ws), reference(x, ws), d, std::string(dtype_name(d)) + " batched");
  }
}

TEST(SkinnyGemm, AddmmAppliesAlphaAndBeta) {
  random::seed(9);
  for (Dtype d : kTypes) {
    array x = astype(random::normal({2, 33}), d);
    array w = astype(random::normal({33, 70}), d);
    array c = astype(random::normal({2, 70}), d);
    eval(x, w, c);
    auto p = reference(x, w);
    auto vc = values_f64(c);
    for (size_t i = 0; i < p.size(); ++i) p[i] = 0.5 * p[i] - 2.0 * vc[i];
    expect_close(addmm(c, x, w, 0.5f, -2.0f), p, d, std::string(dtype_name(d)) + " addmm");
  }
}

TEST(SkinnyGemm, EmptyAndSingleColumnProducts) {
  for (Dtype d : kTypes) {
    array x = astype(random::normal({1, 50}), d);
    array v = astype(random::normal({50, 1}), d);
    eval(x, v);
    expect_close(matmul(x, v), reference(x, v), d, std::string(dtype_name(d)) + " N=1");
    array e = matmul(astype(zeros({1, 0}), d), astype(zeros({0, 5}), d));
    auto z = values_f64(e);
    ASSERT_EQ(z.size(), 5u);
    for (double t : z) EXPECT_EQ(t, 0.0);
  }
}

}  // namespace
}  // namespace tessera
