// conv2d, channels-last (MLX layout): x[8, 56, 56, 64] * w[64, 3, 3, 64], stride 1, padding 1
// (a ResNet stage-1 layer), float32 and bfloat16; plus the depthwise 3x3 of the same size and
// the 1x1 pointwise one. GFLOP/s counts 2 * N * H_out * W_out * C_out * K_h * K_w * C_in / groups.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "tessera/tessera.h"

namespace {

namespace tb = ::tessera;

// Deterministic values in [-1, 1) (self-contained; no dependency on the library's RNG).
tb::array make_input(const tb::Shape& shape, uint64_t seed) {
  size_t n = 1;
  for (auto d : shape) n *= size_t(d);
  std::vector<float> v(n);
  uint64_t s = seed * 6364136223846793005ULL + 1442695040888963407ULL;
  for (auto& x : v) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    x = -1.f + 2.f * float(s >> 40) * (1.0f / float(1 << 24));
  }
  tb::array a(v.begin(), shape, tb::float32);
  tb::eval(a);
  return a;
}

// args: C_in, C_out, kernel size, groups, dtype (0 float32, 1 bfloat16).
void run_conv2d(benchmark::State& state) {
  const int N = 8, H = 56, W = 56;
  const int c_in = int(state.range(0)), c_out = int(state.range(1)), k = int(state.range(2));
  const int groups = int(state.range(3));
  const bool bf16 = state.range(4) == 1;
  const int pad = k / 2;
  tb::array x = make_input({N, H, W, c_in}, 31);
  tb::array w = make_input({c_out, k, k, c_in / groups}, 32);
  if (bf16) {
    x = tb::astype(x, tb::bfloat16);
    w = tb::astype(w, tb::bfloat16);
    tb::eval(x, w);
  }
  {
    // Check the first image against the reference backend (plain loops, float64 accumulation).
    tb::array x0 = tb::slice(x, {0, 0, 0, 0}, {1, H, W, c_in});
    tb::array y = tb::conv2d(x0, w, {1, 1}, {pad, pad}, {1, 1}, groups);
    tb::array ref = tb::conv2d(x0, w, {1, 1}, {pad, pad}, {1, 1}, groups, tb::Device::reference);
    double tol = bf16 ? 5e-2 : 1e-4;
    tb::array ok = tb::allclose(tb::astype(y, tb::float32), tb::astype(ref, tb::float32), tol, tol);
    tb::eval(ok);
    if (!ok.item<bool>()) {
      state.SkipWithError("conv2d disagrees with the reference backend");
      return;
    }
  }
  for (auto _ : state) {
    tb::array y = tb::conv2d(x, w, {1, 1}, {pad, pad}, {1, 1}, groups);
    tb::eval(y);
    benchmark::DoNotOptimize(y.raw_data());
  }
  double flops = 2.0 * N * H * W * double(c_out) * k * k * (c_in / groups);
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK(run_conv2d)
    ->Name("BM_Conv2d/N8_56x56")
    ->ArgNames({"Cin", "Cout", "K", "groups", "bf16"})
    ->Args({64, 64, 3, 1, 0})
    ->Args({64, 64, 3, 1, 1})
    ->Args({64, 64, 1, 1, 0})
    ->Args({64, 64, 3, 64, 0})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
