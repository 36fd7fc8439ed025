// Reductions: sum over 16M float32 (a pure read stream), and the row-wise reductions of an
// LLM layer, softmax and fast::rms_norm over the last axis of [4096, 4096]. bytes_per_second
// counts one read of the input and one write of the output.
#include <cmath>
#include <vector>

#include "bench_common.h"

namespace {

namespace tb = ::tessera;
using tessera_bench::kN16M;

void BM_Sum(benchmark::State& state) {
  tb::array x = tessera_bench::make_input({kN16M}, 5);
  double ref = 0;
  for (size_t i = 0; i < x.size(); ++i) ref += x.data<float>()[i];
  {
    tb::array s = tb::sum(x);
    tessera_bench::eval_keep(s);
    // float32 accumulation over 16M values of mixed sign: allow 1e-6 of the sum of |x|.
    if (!tessera_bench::check_sample(state, s, [&](size_t) { return ref; }, 0, 1e-6 * kN16M * 0.5)) return;
  }
  tessera_bench::PeakMemory mem;
  for (auto _ : state) {
    tb::array s = tb::sum(x);
    tessera_bench::eval_keep(s);
  }
  mem.report(state);
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(kN16M) * 4);
  state.SetItemsProcessed(int64_t(state.iterations()) * kN16M);
}
BENCHMARK(BM_Sum)->Unit(benchmark::kMillisecond)->UseRealTime();

constexpr int kRows = 4096;
constexpr int kCols = 4096;

void BM_Softmax(benchmark::State& state) {
  tb::array x = tessera_bench::make_input({kRows, kCols}, 6, -4.f, 4.f);
  const float* px = x.data<float>();
  // Reference rows (double) for a few rows spread over the matrix.
  auto want = [&](size_t i) {
    size_t r = i / kCols;
    const float* row = px + r * kCols;
    double m = row[0];
    for (int j = 1; j < kCols; ++j) m = std::max<double>(m, row[j]);
    double s = 0;
    for (int j = 0; j < kCols; ++j) s += std::exp(double(row[j]) - m);
    return std::exp(double(px[i]) - m) / s;
  };
  {
    tb::array y = tb::softmax(x, -1);
    tessera_bench::eval_keep(y);
    if (!tessera_bench::check_sample(state, y, want, 1e-5, 1e-9, 257)) return;
  }
  tessera_bench::PeakMemory mem;
  for (auto _ : state) {
    tb::array y = tb::softmax(x, -1);
    tessera_bench::eval_keep(y);
  }
  mem.report(state);
  state.SetBytesProcessed(int64_t(state.iterations()) * 2 * int64_t(kRows) * kCols * 4);
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(kRows) * kCols);
}
BENCHMARK(BM_Softmax)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_RmsNorm(benchmark::State& state) {
  constexpr float kEps = 1e-5f;
  tb::array x = tessera_bench::make_input({kRows, kCols}, 7);
  tb::array w = tessera_bench::make_input({kCols}, 8, 0.5f, 1.5f);
  const float* px = x.data<float>();
  const float* pw = w.data<float>();
  auto want = [&](size_t i) {
    size_t r = i / kCols;
    const float* row = px + r * kCols;
    double ss = 0;
    for (int j = 0; j < kCols; ++j) ss += double(row[j]) * row[j];
    return double(px[i]) / std::sqrt(ss / kCols + kEps) * pw[i % kCols];
  };
  {
    tb::array y = tb::fast::rms_norm(x, w, kEps);
    tessera_bench::eval_keep(y);
    if (!tessera_bench::check_sample(state, y, want, 1e-5, 1e-6, 257)) return;
  }
  tessera_bench::PeakMemory mem;
  for (auto _ : state) {
    tb::array y = tb::fast::rms_norm(x, w, kEps);
    tessera_bench::eval_keep(y);
  }
  mem.report(state);
  // x read once, y written once (the weight row stays in cache).
  state.SetBytesProcessed(int64_t(state.iterations()) * 2 * int64_t(kRows) * kCols * 4);
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(kRows) * kCols);
}
BENCHMARK(BM_RmsNorm)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
