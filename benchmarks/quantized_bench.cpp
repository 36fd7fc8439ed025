// Quantized matmul (MLX affine layout, 4-bit, group 64): x[M, 4096] @ dequantize(w[4096, 4096]).T
// for a matrix-vector product (M = 1, decoding) and a matrix-matrix one (M = 512, prefill).
// FLOP/s counts 2*M*N*K.
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

// args: M, activation dtype (0 float32, 1 bfloat16; the output takes the activations' dtype).
void run_qmm(benchmark::State& state) {
  const int M = int(state.range(0)), N = 4096, K = 4096;
  const bool bf16 = state.range(1) != 0;
  tb::array w = make_input({N, K}, 21);
  auto q = tb::quantize(w, 64, 4);
  if (bf16) {
    // A bfloat16 model's scales and biases are bfloat16 too (float32 ones would promote x).
    q[1] = tb::astype(q[1], tb::bfloat16);
    q[2] = tb::astype(q[2], tb::bfloat16);
  }
  tb::eval(q);
  tb::array x = make_input({M, K}, 22);
  if (bf16) {
    // Compare in float32 against the dequantized weights with the bfloat16-rounded x; the tile
    // itself is rounded to bfloat16 too, hence the looser tolerance.
    x = tb::astype(x, tb::bfloat16);
    tb::eval(x);
    tb::array y = tb::astype(tb::quantized_matmul(x, q[0], q[1], q[2], true, 64, 4), tb::float32);
    tb::array ref =
        tb::matmul(tb::astype(x, tb::float32), tb::transpose(tb::dequantize(q[0], tb::astype(q[1], tb::float32),
                                                                   tb::astype(q[2], tb::float32), 64, 4)));
    tb::array ok = tb::allclose(y, ref, 2e-2, 0.25);
    tb::eval(ok);
    if (!ok.item<bool>()) {
      state.SkipWithError("bf16 quantized_matmul disagrees with matmul(dequantize)");
      return;
    }
  } else {
    // Check a few outputs against the dequantized weights.
    tb::array y = tb::quantized_matmul(x, q[0], q[1], q[2], true, 64, 4);
    tb::array ref = tb::matmul(x, tb::transpose(tb::dequantize(q[0], q[1], q[2], 64, 4)));
    tb::array ok = tb::allclose(y, ref, 1e-3, 1e-3);
    tb::eval(ok);
    if (!ok.item<bool>()) {
      state.SkipWithError("quantized_matmul disagrees with matmul(dequantize)");
      return;
    }
  }
  for (auto _ : state) {
    tb::array y = tb::quantized_matmul(x, q[0], q[1], q[2], true, 64, 4);
    tb::eval(y);
    benchmark::DoNotOptimize(y.raw_data());
  }
  state.counters["FLOP/s"] = benchmark::Counter(2.0 * M * double(N) * K, benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK(run_qmm)
    ->Name("BM_QuantizedMatmul4bitG64/N4096K4096")
    ->ArgNames({"M", "bf16"})
    ->Args({1, 0})
    ->Args({512, 0})
    ->Args({512, 1})
    ->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
