// One optimizer update over the parameters of a 6-layer, 256-wide decoder-only transformer
// (vocabulary 4096, MLP hidden 1024: 7.3M float32 parameters in 56 arrays), the model of the
// issue's training benchmark. Parameters and state are evaluated together, once per step, as
// Optimizer::update does. "GB/s" counts the bytes an ideal fused update must move (read
// parameter, gradient and each state slot, write parameter and slots).
#include <map>

#include "bench_common.h"
#include "tessera/optimizers.h"

namespace {

namespace tb = ::tessera;
namespace opt = ::tessera::optimizers;

struct Model {
  opt::Params params, grads;
  size_t count = 0;
  Model() {
    const int d = 256, hidden = 1024, vocab = 4096;
    uint64_t seed = 1;
    auto add = [&](const std::string& name, tb::Shape shape) {
      params.insert_or_assign(name, tessera_bench::make_input(shape, seed++, -0.05f, 0.05f));
      grads.insert_or_assign(name, tessera_bench::make_input(shape, seed++, -1e-3f, 1e-3f));
      count += params.at(name).size();
    };
    add("embed.weight", {vocab, d});
    for (int l = 0; l < 6; ++l) {
      std::string p = "layers." + std::to_string(l) + ".";
      for (const char* n : {"q_proj", "k_proj", "v_proj", "o_proj"}) add(p + "attn." + n + ".weight", {d, d});
      add(p + "mlp.gate.weight", {hidden, d});
      add(p + "mlp.up.weight", {hidden, d});
      add(p + "mlp.down.weight", {d, hidden});
      add(p + "norm1.weight", {d});
      add(p + "norm2.weight", {d});
    }
    add("norm.weight", {d});
  }
};

template <typename Make>
void run(benchmark::State& state, Make make, int slots) {
  Model m;
  auto o = make();
  opt::Params p = m.params;
  for (auto _ : state) {
    p = o->apply_gradients(m.grads, p);
    o->eval_state(p);
  }
  double bytes = double(m.count) * 4 * (3 + 2 * slots);
  state.counters["GB/s"] =
      benchmark::Counter(bytes * double(state.iterations()), benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
  state.counters["params"] = double(m.count);
}

void BM_AdamW(benchmark::State& state) {
  run(
      state,
      [] {
        return std::make_unique<opt::AdamW>(1e-3f, std::pair{0.9f, 0.999f}, 1e-8f, 0.01f, true);
      },
      2);
}
void BM_SgdMomentum(benchmark::State& state) {
  run(
      state, [] { return std::make_unique<opt::SGD>(1e-2f, 0.9f); }, 1);
}
void BM_Lion(benchmark::State& state) {
  run(
      state, [] { return std::make_unique<opt::Lion>(1e-4f); }, 1);
}
void BM_Muon(benchmark::State& state) {
  run(
      state, [] { return std::make_unique<opt::Muon>(0.02f); }, 1);
}

}  // namespace

BENCHMARK(BM_AdamW)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SgdMomentum)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Lion)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Muon)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_MAIN();
