// Fused kernels: softmax, fast::rms_norm and fast::layer_norm over the last axis of a
// [4096, 4096] float32 matrix (64 MiB: one read plus one write is the bandwidth floor), and
// single-query attention (decoding): 32 query heads, head dim 128, 2048 keys, with 32 or 8
// key/value heads (GQA), in float32 and bfloat16. Bytes processed count one read of every
// input and one write of the output.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "tessera/fast.h"
#include "tessera/tessera.h"

namespace {

namespace tb = ::tessera;

// Deterministic values in [lo, hi) (self-contained; no dependency on the library's RNG).
tb::array make_input(const tb::Shape& shape, uint64_t seed, float lo = -1.f, float hi = 1.f,
                     tb::Dtype dtype = tb::float32) {
  size_t n = 1;
  for (auto d : shape) n *= size_t(d);
  std::vector<float> v(n);
  uint64_t s = seed * 6364136223846793005ULL + 1442695040888963407ULL;
  for (auto& x : v) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    x = lo + (hi - lo) * float(s >> 40) * (1.0f / float(1 << 24));
  }
  tb::array a(v.begin(), shape, tb::float32);
  if (dtype != tb::float32) a = tb::astype(a, dtype);
  tb::eval(a);
  return a;
}

void keep(tb::array& out) {
  tb::eval(out);
  benchmark::DoNotOptimize(out.raw_data());
  benchmark::ClobberMemory();
}

constexpr int kRows = 4096;
constexpr int kCols = 4096;

void BM_Softmax(benchmark::State& state) {
  tb::Dtype dt = state.range(0) == 32 ? tb::float32 : tb::float16;
  tb::array x = make_input({kRows, kCols}, 6, -4.f, 4.f, dt);
  {
    // Rows must sum to 1.
    tb::array y = tb::astype(tb::softmax(x, -1), tb::float32);
    keep(y);
    const float* p = y.data<float>();
    for (int r : {0, kRows / 2, kRows - 1}) {
      double s = 0;
      for (int j = 0; j < kCols; ++j) s += p[size_t(r) * kCols + j];
      if (std::abs(s - 1.0) > 1e-3) {
        state.SkipWithError("softmax rows do not sum to 1");
        return;
      }
    }
  }
  for (auto _ : state) {
    tb::array y = tb::softmax(x, -1);
    keep(y);
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * 2 * int64_t(x.nbytes()));
}
BENCHMARK(BM_Softmax)->Arg(32)->Arg(16)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_RMSNorm(benchmark::State& state) {
  tb::array x = make_input({kRows, kCols}, 7);
  tb::array w = make_input({kCols}, 8, 0.5f, 1.5f);
  {
    tb::array y = tb::fast::rms_norm(x, w, 1e-5f);
    keep(y);
    const float* px = x.data<float>();
    const float* pw = w.data<float>();
    const float* py = y.data<float>();
    for (int r : {0, kRows / 2, kRows - 1}) {
      double ss = 0;
      for (int j = 0; j < kCols; ++j) ss += double(px[size_t(r) * kCols + j]) * px[size_t(r) * kCols + j];
      double inv = 1.0 / std::sqrt(ss / kCols + 1e-5);
      for (int j = 0; j < kCols; j += 97) {
        double want = px[size_t(r) * kCols + j] * inv * pw[j];
        if (std::abs(py[size_t(r) * kCols + j] - want) > 1e-5 + 1e-5 * std::abs(want)) {
          state.SkipWithError("rms_norm mismatch");
          return;
        }
      }
    }
  }
  for (auto _ : state) {
    tb::array y = tb::fast::rms_norm(x, w, 1e-5f);
    keep(y);
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * 2 * int64_t(x.nbytes()));
}
BENCHMARK(BM_RMSNorm)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_LayerNorm(benchmark::State& state) {
  tb::array x = make_input({kRows, kCols}, 9);
  tb::array w = make_input({kCols}, 10, 0.5f, 1.5f);
  tb::array b = make_input({kCols}, 11);
  for (auto _ : state) {
    tb::array y = tb::fast::layer_norm(x, w, b, 1e-5f);
    keep(y);
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * 2 * int64_t(x.nbytes()));
}
BENCHMARK(BM_LayerNorm)->Unit(benchmark::kMillisecond)->UseRealTime();

// Args: key/value heads, keys, dtype bits (32 float32, 16 bfloat16).
void BM_SDPADecode(benchmark::State& state) {
  const int Hq = 32, D = 128;
  int Hkv = int(state.range(0)), Lk = int(state.range(1));
  tb::Dtype dt = state.range(2) == 32 ? tb::float32 : tb::bfloat16;
  tb::array q = make_input({1, Hq, 1, D}, 12, -1.f, 1.f, dt);
  tb::array k = make_input({1, Hkv, Lk, D}, 13, -1.f, 1.f, dt);
  tb::array v = make_input({1, Hkv, Lk, D}, 14, -1.f, 1.f, dt);
  float scale = 1.0f / std::sqrt(float(D));
  {
    // Against matmul + softmax.
    tb::array y = tb::astype(tb::fast::scaled_dot_product_attention(q, k, v, scale), tb::float32);
    tb::array sc = tb::multiply(tb::matmul(tb::astype(q, tb::float32),
                                           tb::swapaxes(tb::astype(tb::repeat(k, Hq / Hkv, 1), tb::float32), -1, -2)),
                                tb::array(scale));
    tb::array want = tb::matmul(tb::softmax(sc, -1), tb::astype(tb::repeat(v, Hq / Hkv, 1), tb::float32));
    tb::array err = tb::max(tb::abs(tb::subtract(y, want)));
    keep(err);
    if (err.item<float>() > (dt == tb::float32 ? 1e-4f : 2e-2f)) {
      state.SkipWithError("sdpa mismatch");
      return;
    }
  }
  for (auto _ : state) {
    tb::array y = tb::fast::scaled_dot_product_attention(q, k, v, scale);
    keep(y);
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(k.nbytes() + v.nbytes()));
}
BENCHMARK(BM_SDPADecode)
    ->Args({32, 2048, 32})
    ->Args({8, 2048, 32})
    ->Args({32, 2048, 16})
    ->Args({8, 2048, 16})
    ->Args({8, 4096, 32})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
