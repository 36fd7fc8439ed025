// LLM generation on stories260K (shared/data/models/stories260K/stories260K.gguf; override with
// TESSERA_STORIES_GGUF), one thread, as llama-bench measures it:
//   BM_Stories260K_TG128   128 greedy tokens from BOS: forward pass, eval and sampling per token.
//   BM_Stories260K_PP128   a 128-token prompt in one forward pass.
// Counter `tok_per_s` is the figure to compare (llama.cpp c392e50 on the dev machine: tg128
// 6,389 tok/s, pp128 10,515 tok/s; the target is 20,000 for both). The model is tiny
// and cache-resident, so this measures per-token overhead: graph construction, scheduling,
// kernel dispatch and allocation.
#include <filesystem>
#include <string>
#include <vector>

#include "bench_common.h"
#include "tessera/gguf.h"
#include "tessera/lm/generate.h"
#include "tessera/lm/model.h"

namespace {

namespace tb = ::tessera;
namespace lm = ::tessera::lm;

std::string stories_path() {
  if (const char* p = std::getenv("TESSERA_STORIES_GGUF")) return p;
  std::filesystem::path here(__FILE__);
  return (here.parent_path().parent_path().parent_path() / "shared" / "data" / "models" / "stories260K" /
          "stories260K.gguf")
      .string();
}

const lm::LoadedModel* stories(benchmark::State& state) {
  static lm::LoadedModel m = [] {
    lm::LoadedModel out;
    if (!std::filesystem::exists(stories_path())) return out;
    tb::gguf::set_log_handler([](const std::string&) {});
    out = lm::load_model(stories_path());
    return out;
  }();
  if (!m.model) {
    state.SkipWithError(("stories260K not found at " + stories_path()).c_str());
    return nullptr;
  }
  return &m;
}

void BM_Stories260K_TG128(benchmark::State& state) {
  auto* m = stories(state);
  if (!m) return;
  tb::set_num_threads(1);
  const int n = 128;
  std::vector<int> prompt = {*m->tokenizer->bos_id()};
  lm::GenerateOptions o;
  o.max_tokens = n;
  o.stop_at_eos = false;
  o.max_kv_size = 256;
  // Warm-up (allocator cache, kernel setup).
  lm::generate_tokens(*m->model, nullptr, prompt, o);
  double tps = 0;
  for (auto _ : state) {
    auto g = lm::generate_tokens(*m->model, nullptr, prompt, o);
    benchmark::DoNotOptimize(g.tokens.data());
    tps = g.stats.generation_tps;
  }
  state.counters["tok_per_s"] = benchmark::Counter(double(n), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["generation_tps_last"] = tps;
}
BENCHMARK(BM_Stories260K_TG128)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Stories260K_PP128(benchmark::State& state) {
  auto* m = stories(state);
  if (!m) return;
  tb::set_num_threads(1);
  const int n = 128;
  // A real prompt's worth of ids: the tokenizer's first 128 ordinary pieces after BOS.
  std::vector<int> ids = {*m->tokenizer->bos_id()};
  for (int i = 0; int(ids.size()) < n; ++i) ids.push_back(259 + i % 250);
  tb::array tokens(ids.data(), tb::Shape{1, n}, tb::int32);
  auto run = [&] {
    auto cache = m->model->make_cache(256);
    tb::array logits = m->model->forward(tokens, cache, true);
    logits.eval();
    return logits;
  };
  run();
  for (auto _ : state) {
    tb::array l = run();
    benchmark::DoNotOptimize(l.raw_data());
  }
  state.counters["tok_per_s"] = benchmark::Counter(double(n), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Stories260K_PP128)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
