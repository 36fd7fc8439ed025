// Timing probes for the fused kernels (disabled by default; run with
// --gtest_also_run_disabled_tests --gtest_filter='*FastPerf*').
#include <chrono>
#include <cstdio>

#include <gtest/gtest.h>

#include "tessera/fast.h"
#include "tessera/tessera.h"

namespace tessera {
namespace {

template <typename F>
double best_ms(F&& f, int reps = 10) {
  double best = 1e30;
  for (int i = 0; i < reps; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, ms);
  }
  return best;
}

TEST(FastPerf, DISABLED_Softmax4096) {
  StreamContext ctx(Device::cpu);
  set_num_threads(2);
  array x = random::normal({4096, 4096}, 0.f, 1.f);
  eval(x);
  double ms = best_ms([&] { eval(softmax(x, -1)); });
  std::printf("softmax [4096,4096] float32, 2 threads: %.2f ms\n", ms);
  std::printf("multiply(x, 2) [4096,4096] float32 (bandwidth floor): %.2f ms\n",
              best_ms([&] { eval(multiply(x, array(2.0f))); }));
  std::printf("exp(x) [4096,4096] float32: %.2f ms\n", best_ms([&] { eval(exp(x)); }));
  set_num_threads(1);
  std::printf("softmax [4096,4096] float32, 1 thread: %.2f ms\n", best_ms([&] { eval(softmax(x, -1)); }));
  set_num_threads(2);
  array xh = astype(x, float16);
  eval(xh);
  std::printf("softmax [4096,4096] float16, 2 threads: %.2f ms\n", best_ms([&] { eval(softmax(xh, -1)); }));
  array w = ones({4096});
  std::printf("rms_norm [4096,4096] float32: %.2f ms\n", best_ms([&] { eval(fast::rms_norm(x, w, 1e-5f)); }));
  array q = random::normal({1, 32, 1, 128}, 0.f, 1.f), k = random::normal({1, 8, 4096, 128}, 0.f, 1.f), v = random::normal({1, 8, 4096, 128}, 0.f, 1.f);
  eval({q, k, v});
  std::printf("sdpa decode Hq=32 Hkv=8 Lk=4096 D=128: %.2f ms\n",
              best_ms([&] { eval(fast::scaled_dot_product_attention(q, k, v, 0.088f)); }));
}

}  // namespace
}  // namespace tessera
