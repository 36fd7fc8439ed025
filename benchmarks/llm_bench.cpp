// LLM generation on stories260K (shared/data/models/stories260K/stories260K.gguf; override with
// TESSERA_STORIES_GGUF), one thread, as llama-bench measures it:
//   BM_Stories260K_TG128   128 greedy tokens from BOS: forward pass, eval and sampling per token.
//   BM_Stories260K_PP128   a 128-token prompt in one forward pass.
//   BM_DecodeOp/<op>       one node at the shapes a stories260K decode step uses, built and
//                          evaluated alone: where the per-token time goes.
// Counter `tok_per_s` is the figure to compare (llama.cpp c392e50 on the dev machine: tg128
// 6,389 tok/s, pp128 10,515 tok/s; the target is 20,000 for both). The model is tiny
// and cache-resident, so this measures per-token overhead: graph construction, scheduling,
// kernel dispatch and allocation.
#include <filesystem>
#include <string>
#include <vector>

#include "bench_common.h"
#include "tessera/fast.h"
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
  double tps = 0, ttft = 0;
  for (auto _ : state) {
    auto g = lm::generate_tokens(*m->model, nullptr, prompt, o);
    benchmark::DoNotOptimize(g.tokens.data());
    tps = g.stats.generation_tps;
    ttft = g.stats.time_to_first_token_s;
  }
  state.counters["tok_per_s"] = benchmark::Counter(double(n), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["generation_tps_last"] = tps;
  state.counters["first_token_us_last"] = ttft * 1e6;
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

// One decode step of stories260K is 141 nodes: per layer a 1x64x128 (q, k, v) and a 1x64x64
// product, a 1x64x344 (gate, up) and a 1x172x64 one, two cache writes into [1, 4, 256, 8], one
// attention over the cached keys, a rope, two rms_norms, the elementwise SwiGLU and residual adds,
// slices and reshapes; the head is a 1x64x512 product.
void BM_DecodeOp(benchmark::State& state, int op) {
  tb::set_num_threads(1);
  tb::array x = tessera_bench::make_input({1, 64}, 1), w = tessera_bench::make_input({64, 344}, 2);
  tb::array w_rows = tessera_bench::make_input({344, 64}, 9);  // a weight as GGUF stores it: [out, in]
  tb::array h = tessera_bench::make_input({1, 172}, 3), cache = tessera_bench::make_input({1, 4, 256, 8}, 4);
  tb::array kv = tessera_bench::make_input({1, 4, 1, 8}, 5), q = tessera_bench::make_input({1, 8, 1, 8}, 6);
  tb::array norm_w = tessera_bench::make_input({64}, 7, 0.5f, 1.5f), freqs = tessera_bench::make_input({4}, 8, 1.f, 2.f);
  tb::array keys = tb::slice(cache, tb::Shape{0, 0, 0, 0}, tb::Shape{1, 4, 64, 8});
  tb::eval(keys);
  auto step = [&]() -> tb::array {
    switch (op) {
      case 0: return tb::matmul(x, w);
      case 1: return tb::fast::scaled_dot_product_attention(q, keys, keys, 0.35f);
      case 2: return tb::slice_update(cache, kv, tb::Shape{0, 0, 64, 0}, tb::Shape{1, 4, 65, 8});
      case 3: return tb::fast::rms_norm(x, norm_w, 1e-5f);
      case 4: return tb::fast::rope(tb::reshape(tb::concatenate({q, kv}, 1), {1, 12, 1, 8}), 8, true, std::nullopt, 1.f, 64, freqs);
      case 6: return tb::matmul(x, tb::transpose(w_rows));
      default: return tb::add(h, h);
    }
  };
  for (auto _ : state) {
    tb::array y = step();
    tessera_bench::eval_keep(y);
  }
}
BENCHMARK_CAPTURE(BM_DecodeOp, matmul_1x64x344, 0)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_DecodeOp, sdpa_8heads_64keys, 1)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_DecodeOp, slice_update_kv_cache, 2)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_DecodeOp, rms_norm_64, 3)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_DecodeOp, rope_12heads, 4)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_DecodeOp, add_172, 5)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_DecodeOp, matmul_1x64x344_weight_rows, 6)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
