// value_and_grad of a 2-layer MLP (batch 256, 1024 -> 1024 -> 1024, ReLU, mean-squared error)
// with respect to its four parameters: 5 GEMMs of 256x1024x1024 (2 forward, 3 backward; the
// input needs no gradient), 2.7 GFLOP per step. BM_MlpHandWritten is the same backward pass
// written by hand with ops, so the difference is what the transform costs.
#include "bench_common.h"

namespace {

namespace tb = ::tessera;

struct Mlp {
  tb::array x = tessera_bench::make_input({256, 1024}, 11);
  tb::array y = tessera_bench::make_input({256, 1024}, 12);
  std::vector<tb::array> params = {tb::multiply(tessera_bench::make_input({1024, 1024}, 13), tb::array(0.03f)),
                                   tessera_bench::make_input({1024}, 14),
                                   tb::multiply(tessera_bench::make_input({1024, 1024}, 15), tb::array(0.03f)),
                                   tessera_bench::make_input({1024}, 16)};
  Mlp() { tb::eval(params); }
};

constexpr double kFlops = 5.0 * 2 * 256 * 1024 * 1024;

tb::array loss(const std::vector<tb::array>& p, const tb::array& x, const tb::array& y) {
  tb::array h = tb::maximum(tb::add(tb::matmul(x, p[0]), p[1]), tb::array(0.0f));
  tb::array out = tb::add(tb::matmul(h, p[2]), p[3]);
  return tb::mean(tb::square(tb::subtract(out, y)));
}

void BM_MlpValueAndGrad(benchmark::State& state) {
  Mlp m;
  auto vg = tb::value_and_grad([&](const std::vector<tb::array>& p) { return loss(p, m.x, m.y); },
                               std::vector<int>{0, 1, 2, 3});
  for (auto _ : state) {
    auto [l, g] = vg(m.params);
    g.push_back(l);
    tb::eval(g);
  }
  state.counters["GFLOP/s"] = benchmark::Counter(kFlops * double(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_MlpHandWritten(benchmark::State& state) {
  Mlp m;
  const auto& p = m.params;
  for (auto _ : state) {
    tb::array pre = tb::add(tb::matmul(m.x, p[0]), p[1]);
    tb::array h = tb::maximum(pre, tb::array(0.0f));
    tb::array out = tb::add(tb::matmul(h, p[2]), p[3]);
    tb::array diff = tb::subtract(out, m.y);
    tb::array l = tb::mean(tb::square(diff));
    tb::array dout = tb::multiply(diff, tb::array(2.0f / float(diff.size())));
    tb::array dw2 = tb::matmul(tb::transpose(h), dout);
    tb::array db2 = tb::sum(dout, 0);
    tb::array dh = tb::multiply(tb::matmul(dout, tb::transpose(p[2])), tb::astype(tb::greater(pre, tb::array(0.0f)), tb::float32));
    tb::array dw1 = tb::matmul(tb::transpose(m.x), dh);
    tb::array db1 = tb::sum(dh, 0);
    tb::eval({l, dw1, db1, dw2, db2});
  }
  state.counters["GFLOP/s"] = benchmark::Counter(kFlops * double(state.iterations()), benchmark::Counter::kIsRate);
}

BENCHMARK(BM_MlpValueAndGrad)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MlpHandWritten)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
