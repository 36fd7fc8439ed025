// compile: the fused elementwise kernel and the fixed costs of tracing and of cache hits.
//   BM_Chain5Compiled    exp(2x+1)*x-0.5 on 16M float32 through compile (one Compiled kernel:
//                        one read of x, one write); bytes_per_second counts those 128 MiB.
//   BM_Chain5Uncompiled  the same five ops unfused, in the same program for a same-run ratio.
//   BM_Chain5FirstCall   a fresh compiled function per iteration on the 16M input: trace,
//                        simplify, fuse and the first run together (the first-call latency).
//   BM_Chain5Trace       the same without the 16M run (a [16] input): trace + passes alone.
//   BM_CacheHit100       call of a compiled 100-op function (alternating y*c, y+d on [16]
//                        float32) found in the cache: signature lookup and graph replay, not
//                        evaluated. BM_CacheHit100Eval adds the evaluation (one fused kernel).
//   BM_CacheHit100NoFuse the call with fusion off (100 nodes replayed), for scale.
#include <cmath>

#include "bench_common.h"

namespace {

namespace tb = ::tessera;
using Fn = std::function<std::vector<tb::array>(const std::vector<tb::array>&)>;
constexpr int kSmall = 16;
constexpr int kChain = 100;

std::vector<tb::array> chain5(const std::vector<tb::array>& in) {
  const tb::array& x = in[0];
  return {tb::exp(2.0f * x + 1.0f) * x - 0.5f};
}

bool check_chain5(benchmark::State& state, const tb::array& x, tb::array y) {
  tessera_bench::eval_keep(y);
  const float* px = x.data<float>();
  auto want = [&](size_t i) {
    double v = px[i];
    return std::exp(2 * v + 1) * v - 0.5;
  };
  return tessera_bench::check_sample(state, y, want, 1e-6, 1e-6);
}

void set_chain5_counters(benchmark::State& state) {
  state.SetBytesProcessed(int64_t(state.iterations()) * 2 * int64_t(tessera_bench::kN16M) * 4);
  state.SetItemsProcessed(int64_t(state.iterations()) * tessera_bench::kN16M);
}

void BM_Chain5Compiled(benchmark::State& state) {
  tb::array x = tessera_bench::make_input({tessera_bench::kN16M}, 4);
  Fn f = tb::compile(chain5);
  if (!check_chain5(state, x, f({x})[0])) return;
  tessera_bench::PeakMemory mem;
  for (auto _ : state) {
    tb::array y = f({x})[0];
    tessera_bench::eval_keep(y);
  }
  mem.report(state);
  set_chain5_counters(state);
}

void BM_Chain5Uncompiled(benchmark::State& state) {
  tb::array x = tessera_bench::make_input({tessera_bench::kN16M}, 4);
  if (!check_chain5(state, x, chain5({x})[0])) return;
  tessera_bench::PeakMemory mem;
  for (auto _ : state) {
    tb::array y = chain5({x})[0];
    tessera_bench::eval_keep(y);
  }
  mem.report(state);
  set_chain5_counters(state);
}

// In-cache size (256 KiB in, 256 KiB out, one thread): the kernel's compute cost alone.
void BM_Chain5CompiledInCache(benchmark::State& state) {
  tb::array x = tessera_bench::make_input({1 << 16}, 4);
  Fn f = tb::compile(chain5);
  if (!check_chain5(state, x, f({x})[0])) return;
  for (auto _ : state) {
    tb::array y = f({x})[0];
    tessera_bench::eval_keep(y);
  }
  state.SetItemsProcessed(int64_t(state.iterations()) << 16);
}

void BM_Chain5FirstCall(benchmark::State& state) {
  tb::array x = tessera_bench::make_input({tessera_bench::kN16M}, 4);
  if (!check_chain5(state, x, tb::compile(chain5)({x})[0])) return;
  for (auto _ : state) {
    Fn f = tb::compile(chain5);
    tb::array y = f({x})[0];
    tessera_bench::eval_keep(y);
  }
}

void BM_Chain5Trace(benchmark::State& state) {
  tb::array x = tessera_bench::make_input({kSmall}, 4);
  for (auto _ : state) {
    Fn f = tb::compile(chain5);
    tb::array y = f({x})[0];
    benchmark::DoNotOptimize(y.id());
  }
}

std::vector<tb::array> chain100(const std::vector<tb::array>& in) {
  tb::array y = in[0];
  for (int i = 0; i < kChain; ++i) y = (i % 2 == 0) ? tb::multiply(y, in[1]) : tb::add(y, in[2]);
  return {y};
}

struct ChainInputs {
  tb::array x = tessera_bench::make_input({kSmall}, 22);
  tb::array c = tessera_bench::make_input({kSmall}, 23, 0.5f, 1.0f);
  tb::array d = tessera_bench::make_input({kSmall}, 24, -0.5f, 0.5f);
};

void cache_hit(benchmark::State& state, bool evaluate, tb::CompileMode mode) {
  ChainInputs in;
  tb::set_compile_mode(mode);
  Fn f = tb::compile(chain100);
  {
    tb::array y = f({in.x, in.c, in.d})[0];
    tessera_bench::eval_keep(y);
    const float *px = in.x.data<float>(), *pc = in.c.data<float>(), *pd = in.d.data<float>();
    auto want = [&](size_t i) {
      float v = px[i];
      for (int k = 0; k < kChain; ++k) v = (k % 2 == 0) ? v * pc[i] : v + pd[i];
      return double(v);
    };
    if (!tessera_bench::check_sample(state, y, want, 1e-5, 1e-6)) {
      tb::enable_compile();
      return;
    }
  }
  for (auto _ : state) {
    tb::array y = f({in.x, in.c, in.d})[0];
    if (evaluate) tessera_bench::eval_keep(y);
    else benchmark::DoNotOptimize(y.id());
  }
  tb::enable_compile();
}

void BM_CacheHit100(benchmark::State& state) { cache_hit(state, false, tb::CompileMode::enabled); }
void BM_CacheHit100Eval(benchmark::State& state) { cache_hit(state, true, tb::CompileMode::enabled); }
void BM_CacheHit100NoFuse(benchmark::State& state) { cache_hit(state, false, tb::CompileMode::no_fuse); }

BENCHMARK(BM_Chain5Compiled)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Chain5Uncompiled)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Chain5CompiledInCache)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_Chain5FirstCall)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Chain5Trace)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_CacheHit100)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_CacheHit100Eval)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_CacheHit100NoFuse)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
