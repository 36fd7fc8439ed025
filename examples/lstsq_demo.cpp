// Solves a least-squares problem with Tessera's array API and reports the residual and the
// achieved GFLOP/s of the normal-equation products.
#include <chrono>
#include <algorithm>
#include <cstdio>

#include "tessera/tessera.h"

namespace mx = tessera;

int main() {
  mx::random::seed(7);
  const int m = 4096, n = 512;
  mx::array A = mx::random::normal({m, n});
  mx::array x_true = mx::random::normal({n, 1});
  mx::array b = mx::add(mx::matmul(A, x_true), mx::multiply(mx::array(1e-3f), mx::random::normal({m, 1})));
  mx::eval(A, b, x_true);

  // The first product also pays for GEMM kernel generation; time the best of a few runs.
  mx::array AtA = mx::zeros({n, n});
  mx::array Atb = mx::zeros({n, 1});
  double secs = 1e9;
  for (int rep = 0; rep < 3; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    AtA = mx::matmul(mx::transpose(A), A);
    Atb = mx::matmul(mx::transpose(A), b);
    mx::eval(AtA, Atb);
    auto t1 = std::chrono::steady_clock::now();
    secs = std::min(secs, std::chrono::duration<double>(t1 - t0).count());
  }
  double flops = 2.0 * m * n * n + 2.0 * m * n;

  // Solve AtA x = Atb by conjugate gradients (AtA is symmetric positive definite).
  mx::array x = mx::zeros({n, 1});
  mx::array r = Atb;
  mx::array p = r;
  mx::array rs = mx::sum(mx::square(r));
  for (int it = 0; it < 200; ++it) {
    mx::array Ap = mx::matmul(AtA, p);
    mx::array alpha = mx::divide(rs, mx::sum(mx::multiply(p, Ap)));
    x = mx::add(x, mx::multiply(alpha, p));
    r = mx::subtract(r, mx::multiply(alpha, Ap));
    mx::array rs_new = mx::sum(mx::square(r));
    mx::eval(x, r, rs_new);
    if (rs_new.item<float>() < 1e-10f) break;
    p = mx::add(r, mx::multiply(mx::divide(rs_new, rs), p));
    rs = rs_new;
  }
  mx::array resid = mx::sqrt(mx::sum(mx::square(mx::subtract(mx::matmul(A, x), b))));
  mx::array err = mx::max(mx::abs(mx::subtract(x, x_true)));
  std::printf("least squares %dx%d: residual %.6f, max |x - x_true| %.2e\n", m, n, resid.item<float>(),
              err.item<float>());
  std::printf("normal equations: %.1f GFLOP/s (%.2f ms)\n", flops / secs * 1e-9, secs * 1e3);
  return 0;
}
