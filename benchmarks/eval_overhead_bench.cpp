// Fixed cost of the lazy graph: building and evaluating tiny graphs on 16 floats, where the
// arithmetic is negligible and everything measured is bookkeeping (node allocation, the
// topological sort, kernel dispatch, buffer allocation and release).
//   BM_Eval1Op        exp(x): one node, built and evaluated per iteration.
//   BM_Chain100Build  a 100-node chain built but not evaluated (graph construction alone).
//   BM_Chain100Eval   the same chain built and evaluated; time_per_op (seconds) = time / 100.
// The chain alternates y*c and y+d with c, d evaluated 16-float arrays, so the values stay
// finite and every node is a real binary kernel call.
#include <cmath>

#include "bench_common.h"

namespace {

namespace tb = ::tessera;
constexpr int kSmall = 16;
constexpr int kChain = 100;

void BM_Eval1Op(benchmark::State& state) {
  tb::array x = tessera_bench::make_input({kSmall}, 21);
  {
    tb::array y = tb::exp(x);
    tessera_bench::eval_keep(y);
    const float* px = x.data<float>();
    if (!tessera_bench::check_sample(state, y, [&](size_t i) { return std::exp(double(px[i])); }, 2.5e-7, 0))
      return;
  }
  tessera_bench::PeakMemory mem;
  for (auto _ : state) {
    tb::array y = tb::exp(x);
    tessera_bench::eval_keep(y);
  }
  mem.report(state);
  state.counters["time_per_op"] =
      benchmark::Counter(1, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

tb::array build_chain(const tb::array& x, const tb::array& c, const tb::array& d) {
  tb::array y = x;
  for (int i = 0; i < kChain; ++i) y = (i % 2 == 0) ? tb::multiply(y, c) : tb::add(y, d);
  return y;
}

struct ChainInputs {
  tb::array x = tessera_bench::make_input({kSmall}, 22);
  tb::array c = tessera_bench::make_input({kSmall}, 23, 0.5f, 1.0f);
  tb::array d = tessera_bench::make_input({kSmall}, 24, -0.5f, 0.5f);
};

void BM_Chain100Build(benchmark::State& state) {
  ChainInputs in;
  tessera_bench::PeakMemory mem;
  for (auto _ : state) {
    tb::array y = build_chain(in.x, in.c, in.d);
    benchmark::DoNotOptimize(y.id());
  }
  mem.report(state);
  state.counters["time_per_op"] = benchmark::Counter(
      kChain, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

void BM_Chain100Eval(benchmark::State& state) {
  ChainInputs in;
  {
    tb::array y = build_chain(in.x, in.c, in.d);
    tessera_bench::eval_keep(y);
    const float *px = in.x.data<float>(), *pc = in.c.data<float>(), *pd = in.d.data<float>();
    auto want = [&](size_t i) {
      float v = px[i];  // float32 steps, like the kernels
      for (int k = 0; k < kChain; ++k) v = (k % 2 == 0) ? v * pc[i] : v + pd[i];
      return double(v);
    };
    if (!tessera_bench::check_sample(state, y, want, 1e-5, 1e-6)) return;
  }
  tessera_bench::PeakMemory mem;
  for (auto _ : state) {
    tb::array y = build_chain(in.x, in.c, in.d);
    tessera_bench::eval_keep(y);
  }
  mem.report(state);
  state.counters["time_per_op"] = benchmark::Counter(
      kChain, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

BENCHMARK(BM_Eval1Op)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_Chain100Build)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_Chain100Eval)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
