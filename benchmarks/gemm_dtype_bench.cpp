// GEMM by dtype: bfloat16 (oneDNN matmul primitive), float16 (row-panel widening to float32)
// and float32 at square sizes, plus a batched attention-shaped bfloat16 product. FLOP/s counts
// 2*M*N*K per product. Self-contained (no shared bench helpers).
#include <benchmark/benchmark.h>

#include "tessera/tessera.h"

namespace {

namespace tb = ::tessera;

tb::array input(const tb::Shape& shape, uint64_t seed, tb::Dtype dt) {
  tb::array a = tb::astype(tb::random::uniform(-1.f, 1.f, shape, tb::float32, tb::random::key(seed)), dt);
  tb::eval(a);
  return a;
}

void run(benchmark::State& state, tb::Dtype dt, const tb::Shape& sa, const tb::Shape& sb) {
  tb::array a = input(sa, 1, dt), b = input(sb, 2, dt);
  {
    tb::array c = tb::matmul(a, b);
    tb::eval(c);
  }
  for (auto _ : state) {
    tb::array c = tb::matmul(a, b);
    tb::eval(c);
  }
  double batch = 1;
  for (size_t i = 0; i + 2 < sa.size(); ++i) batch *= sa[i];
  double flops = 2.0 * batch * sa[sa.size() - 2] * sa.back() * sb.back();
  state.counters["FLOP/s"] = benchmark::Counter(flops * double(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_GemmBF16(benchmark::State& s) {
  int n = int(s.range(0));
  run(s, tb::bfloat16, {n, n}, {n, n});
}
void BM_GemmF16(benchmark::State& s) {
  int n = int(s.range(0));
  run(s, tb::float16, {n, n}, {n, n});
}
void BM_GemmF32(benchmark::State& s) {
  int n = int(s.range(0));
  run(s, tb::float32, {n, n}, {n, n});
}
// (8 heads x 512 queries x 64) @ (8 x 64 x 512): one batched primitive.
void BM_GemmBF16Attention(benchmark::State& s) { run(s, tb::bfloat16, {8, 512, 64}, {8, 64, 512}); }

BENCHMARK(BM_GemmBF16)->Arg(256)->Arg(1024)->Arg(2048)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_GemmF16)->Arg(256)->Arg(1024)->Arg(2048)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_GemmF32)->Arg(256)->Arg(1024)->Arg(2048)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_GemmBF16Attention)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
