// Elementwise throughput on 16M float32 elements (64 MiB per array): add, exp, and the
// 5-op chain exp(2x+1)*x-0.5. bytes_per_second counts the bytes a single pass must move
// (inputs read once, output written once), so it compares directly with STREAM bandwidth.
#include <cmath>

#include "bench_common.h"

namespace {

namespace tb = ::tessera;
using tessera_bench::kN16M;

void BM_Add(benchmark::State& state) {
  tb::array a = tessera_bench::make_input({kN16M}, 1);
  tb::array b = tessera_bench::make_input({kN16M}, 2);
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  auto want = [&](size_t i) { return double(pa[i] + pb[i]); };
  {
    tb::array c = a + b;
    tessera_bench::eval_keep(c);
    if (!tessera_bench::check_sample(state, c, want, 0, 0)) return;
  }
  tessera_bench::PeakMemory mem;
  for (auto _ : state) {
    tb::array c = a + b;
    tessera_bench::eval_keep(c);
  }
  mem.report(state);
  state.SetBytesProcessed(int64_t(state.iterations()) * 3 * int64_t(kN16M) * 4);
  state.SetItemsProcessed(int64_t(state.iterations()) * kN16M);
}

void BM_Exp(benchmark::State& state) {
  tb::array x = tessera_bench::make_input({kN16M}, 3);
  const float* px = x.data<float>();
  auto want = [&](size_t i) { return std::exp(double(px[i])); };
  {
    tb::array y = tb::exp(x);
    tessera_bench::eval_keep(y);
    // exp is documented at <= 1 ulp (simd.h); 2^-22 relative is ~2 ulp.
    if (!tessera_bench::check_sample(state, y, want, 2.5e-7, 0)) return;
  }
  tessera_bench::PeakMemory mem;
  for (auto _ : state) {
    tb::array y = tb::exp(x);
    tessera_bench::eval_keep(y);
  }
  mem.report(state);
  state.SetBytesProcessed(int64_t(state.iterations()) * 2 * int64_t(kN16M) * 4);
  state.SetItemsProcessed(int64_t(state.iterations()) * kN16M);
}

// exp(2x+1)*x-0.5: five ops (mul, add, exp, mul, sub). Without fusion each op streams a full
// 64 MiB array through memory; bytes_per_second still counts one read of x and one write
// (the fused ideal), so it shows how far the unfused graph is from a single pass.
tb::array chain5(const tb::array& x) { return tb::exp(2.0f * x + 1.0f) * x - 0.5f; }

void BM_Chain5(benchmark::State& state) {
  tb::array x = tessera_bench::make_input({kN16M}, 4);
  const float* px = x.data<float>();
  auto want = [&](size_t i) {
    double v = px[i];
    return std::exp(2 * v + 1) * v - 0.5;
  };
  {
    tb::array y = chain5(x);
    tessera_bench::eval_keep(y);
    if (!tessera_bench::check_sample(state, y, want, 1e-6, 1e-6)) return;
  }
  tessera_bench::PeakMemory mem;
  for (auto _ : state) {
    tb::array y = chain5(x);
    tessera_bench::eval_keep(y);
  }
  mem.report(state);
  state.SetBytesProcessed(int64_t(state.iterations()) * 2 * int64_t(kN16M) * 4);
  state.SetItemsProcessed(int64_t(state.iterations()) * kN16M);
  state.counters["ops"] = 5;
}

BENCHMARK(BM_Add)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Exp)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Chain5)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
