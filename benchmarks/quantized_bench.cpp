// Quantized matmul (MLX affine layout, 4-bit, group 64): x[M, 4096] @ dequantize(w[4096, 4096]).T
// for a matrix-vector product (M = 1, decoding) and a matrix-matrix one (M = 512, prefill).
// FLOP/s counts 2*M*N*K. Also: the group-16 layouts GGUF's k-quants convert to, and the speed of
// reading k-quant tensors from a GGUF file (dequantized to float32, or converted to the affine
// layout), in MB/s of file data.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "tessera/gguf.h"
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
    ->Args({1, 1})
    ->Args({512, 0})
    ->Args({512, 1})
    ->Unit(benchmark::kMillisecond)->UseRealTime();

// quantized_matmul_int8_activations (x rounded to int8 per 32 values, VNNI dot products) at
// M = 1, float32 x, group 64; args: bits. Compare with BM_QuantizedMatmul4bitG64 M:1 (exact).
void run_qmv_int8(benchmark::State& state) {
  const int bits = int(state.range(0)), N = 4096, K = 4096;
  auto q = tb::quantize(make_input({N, K}, 21), 64, bits);
  tb::eval(q);
  tb::array x = make_input({1, K}, 22);
  for (auto _ : state) {
    tb::array y = tb::quantized_matmul_int8_activations(x, q[0], q[1], q[2], true, 64, bits);
    tb::eval(y);
    benchmark::DoNotOptimize(y.raw_data());
  }
  const double bytes = double(N) * K * bits / 8 + 2.0 * N * (K / 64) * 4;
  state.counters["bytes_per_second"] = benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(run_qmv_int8)
    ->Name("BM_QuantizedMatvecInt8Activations/N4096K4096G64")
    ->ArgNames({"bits"})
    ->Arg(4)
    ->Arg(8)
    ->Unit(benchmark::kMillisecond)->UseRealTime();

// args: bits, group size. M = 1 (decoding), N = K = 4096.
void run_qmv_layout(benchmark::State& state) {
  const int N = 4096, K = 4096, bits = int(state.range(0)), gs = int(state.range(1));
  auto q = tb::quantize(make_input({N, K}, 31), gs, bits);
  tb::eval(q);
  tb::array x = make_input({1, K}, 32);
  for (auto _ : state) {
    tb::array y = tb::quantized_matmul(x, q[0], q[1], q[2], true, gs, bits);
    tb::eval(y);
    benchmark::DoNotOptimize(y.raw_data());
  }
  // Weight bytes read per product: codes plus float32 scales and biases.
  const double bytes = double(N) * K * bits / 8 + 2.0 * 4 * N * (K / gs);
  state.counters["GB/s"] = benchmark::Counter(bytes / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK(run_qmv_layout)
    ->Name("BM_QuantizedMatvec/N4096K4096")
    ->ArgNames({"bits", "group"})
    ->Args({4, 32})   // Q4_K, Q4_0
    ->Args({8, 32})   // Q8_0
    ->Args({2, 16})   // Q2_K
    ->Args({4, 16})   // Q3_K
    ->Args({6, 16})   // Q6_K as 6-bit codes
    ->Args({8, 16})   // Q6_K as Tessera converts it
    ->Unit(benchmark::kMicrosecond)->UseRealTime();

// The matrix-vector products of one decoding step of a SmolLM2-135M-shaped model (30 layers of
// q/k/v/o 576-wide attention with 3 KV heads of 64, a 1536-wide gated MLP; the 49152 x 576 tied
// output layer) in 4-bit group 32 like GGUF Q4_0, one row of x, one product after another as a
// decoder runs them. args: int8 activations (0 exact, 1 int8), scale dtype (0 float32, 1 float16).
// Counts the codes, scales and biases read per step.
struct DecodeWeight {
  tb::array w, s, b;
};

// The step's weights with float32 scales and biases, quantized once for every case.
const std::vector<DecodeWeight>& decode_step_weights() {
  static const std::vector<DecodeWeight> ws = [] {
    std::vector<DecodeWeight> v;
    auto add = [&](int N, int K, uint64_t seed) {
      auto q = tb::quantize(make_input({N, K}, seed), 32, 4);
      tb::eval(q);
      v.push_back({q[0], q[1], q[2]});
    };
    const int H = 576, F = 1536, KV = 192;
    for (int l = 0; l < 30; ++l) {
      add(H, H, 100 + 7 * l);
      add(KV, H, 101 + 7 * l);
      add(KV, H, 102 + 7 * l);
      add(H, H, 103 + 7 * l);
      add(F, H, 104 + 7 * l);
      add(F, H, 105 + 7 * l);
      add(H, F, 106 + 7 * l);
    }
    add(49152, H, 99);
    return v;
  }();
  return ws;
}

void run_decode_matvecs(benchmark::State& state) {
  const bool int8 = state.range(0) != 0;
  const bool f16 = state.range(1) != 0;
  const int H = 576, F = 1536;
  std::vector<DecodeWeight> ws = decode_step_weights();
  double bytes = 0;
  for (auto& w : ws) {
    if (f16) {
      w.s = tb::astype(w.s, tb::float16);
      w.b = tb::astype(w.b, tb::float16);
      tb::eval(w.s, w.b);
    }
    bytes += double(w.w.nbytes() + w.s.nbytes() + w.b.nbytes());
  }
  tb::array x = make_input({1, H}, 7), xf = make_input({1, F}, 8);
  for (auto _ : state) {
    for (auto& w : ws) {
      const tb::array& in = w.w.shape(1) * 8 == F ? xf : x;
      tb::array y = int8 ? tb::quantized_matmul_int8_activations(in, w.w, w.s, w.b, true, 32, 4)
                         : tb::quantized_matmul(in, w.w, w.s, w.b, true, 32, 4);
      tb::eval(y);
    }
  }
  state.counters["GB/s"] = benchmark::Counter(bytes / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["steps/s"] = benchmark::Counter(1.0, benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK(run_decode_matvecs)
    ->Name("BM_DecodeStepMatvecs/smollm135m-shape-4bit-g32")
    ->ArgNames({"int8", "f16scales"})
    ->Args({0, 1})
    ->Args({1, 1})
    ->Args({1, 0})
    ->Unit(benchmark::kMillisecond)->UseRealTime();

// A 4096 x 4096 weight of `type` in a temporary GGUF file, written once per type.
std::string kquant_file(tb::gguf::TensorType type) {
  static std::vector<std::pair<tb::gguf::TensorType, std::string>> files;
  for (auto& [t, p] : files)
    if (t == type) return p;
  std::string path = (std::filesystem::temp_directory_path() /
                      ("tessera-bench-" + std::to_string(getpid()) + "-" + tb::gguf::tensor_type_name(type) + ".gguf"))
                         .string();
  tb::gguf::save(path, {}, {{"w", make_input({4096, 4096}, 41), type}});
  files.emplace_back(type, path);
  static const bool cleanup = [] {
    std::atexit([] {
      for (auto& [t, p] : files) std::filesystem::remove(p);
    });
    return true;
  }();
  (void)cleanup;
  return files.back().second;
}

// args: ggml type, 0 = load (dequantize to float32), 1 = load_quantized (affine layout).
void run_gguf_kquant_read(benchmark::State& state) {
  const auto type = tb::gguf::TensorType(state.range(0));
  const bool convert = state.range(1) != 0;
  tb::gguf::Reader r(kquant_file(type));
  const double bytes = double(r.tensor("w").nbytes);
  for (auto _ : state) {
    if (convert) {
      auto q = r.load_quantized("w");
      benchmark::DoNotOptimize(q->wq.raw_data());
    } else {
      tb::array a = r.load("w");
      benchmark::DoNotOptimize(a.raw_data());
    }
  }
  state.SetLabel(tb::gguf::tensor_type_name(type) + (convert ? " -> affine" : " -> float32"));
  state.counters["MB/s"] = benchmark::Counter(bytes / 1e6, benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK(run_gguf_kquant_read)
    ->Name("BM_GgufKQuantRead/4096x4096")
    ->ArgNames({"type", "convert"})
    ->Args({int(tb::gguf::TensorType::q4_k), 0})
    ->Args({int(tb::gguf::TensorType::q4_k), 1})
    ->Args({int(tb::gguf::TensorType::q6_k), 0})
    ->Args({int(tb::gguf::TensorType::q6_k), 1})
    ->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
