// Prompt processing and generation on the random-weight models of issue #5's performance table,
// as llama-bench measures them: pp512 (one 512-token forward pass into an empty cache) and tg128
// (128 greedy tokens after one prompt token), each once per repetition after a warm-up run,
// median of 5 repetitions, 2 threads unless TESSERA_NUM_THREADS says otherwise. TG128Int8 is
// tg128 with LoadOptions::int8_activations, for the quantized formats.
//
// The models are the ones benchmarks/make_bench_models.sh writes with `tessera convert` (into
// TESSERA_BENCH_MODELS, default build/bench-models): <shape>-bf16 (a Hugging Face directory,
// run in bfloat16), <shape>-F16/Q8_0/Q4_0.gguf and <shape>-mlx-4bit/-mlx-8bit, for the shapes
// smollm-135m and llama-1b. Only the models present are registered.
//
// Counters: tok_per_s; file_bytes (the weights as stored) and file_GBps = tok_per_s * file_bytes,
// the rate at which decoding streams the stored weights (the loader widens GGUF F16 to float32,
// so those runs read twice the file's bytes); peak_bytes, the allocator's peak.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "bench_common.h"
#include "tessera/gguf.h"
#include "tessera/lm/generate.h"
#include "tessera/lm/model.h"
#include "tessera/memory.h"

namespace {

namespace fs = std::filesystem;
namespace tb = ::tessera;
namespace lm = ::tessera::lm;

fs::path models_dir() {
  if (const char* p = std::getenv("TESSERA_BENCH_MODELS")) return p;
  return fs::path(__FILE__).parent_path().parent_path() / "build" / "bench-models";
}

uint64_t stored_bytes(const fs::path& p) {
  std::error_code ec;
  if (fs::is_regular_file(p, ec)) return fs::file_size(p, ec);
  uint64_t n = 0;
  for (auto& e : fs::directory_iterator(p, ec)) {
    if (e.path().extension() == ".safetensors") n += fs::file_size(e.path(), ec);
  }
  return n;
}

// One model in memory at a time: the 1B models take gigabytes each.
const lm::LoadedModel& model(const fs::path& p, bool int8_activations = false) {
  static std::string loaded;
  static lm::LoadedModel m;
  const std::string key = p.string() + (int8_activations ? "|int8" : "");
  if (loaded != key) {
    m = {};
    tb::gguf::set_log_handler([](const std::string&) {});
    lm::LoadOptions options;
    options.int8_activations = int8_activations;
    m = lm::load_model(p.string(), options);
    loaded = key;
  }
  return m;
}

int threads() {
  if (const char* t = std::getenv("TESSERA_NUM_THREADS")) return std::max(1, std::atoi(t));
  return 2;
}

void report(benchmark::State& state, const fs::path& p, double tok_per_s) {
  const double bytes = double(stored_bytes(p));
  state.counters["tok_per_s"] = tok_per_s;
  state.counters["file_bytes"] = bytes;
  state.counters["file_GBps"] = tok_per_s * bytes / 1e9;
  state.counters["peak_bytes"] = double(tb::get_peak_memory());
}

void BM_PP512(benchmark::State& state, fs::path p) {
  tb::set_num_threads(threads());
  const lm::Model& m = *model(p).model;
  const int n = 512, vocab = m.config().vocab_size;
  std::vector<int> ids;
  for (int i = 0; i < n; ++i) ids.push_back(100 + (i * 7919) % (vocab - 100));
  tb::array tokens(ids.data(), tb::Shape{1, n}, tb::int32);
  auto run = [&] {
    auto cache = m.make_cache(n + 128);
    tb::array logits = m.forward(tokens, cache, true);
    logits.eval();
  };
  run();
  tb::reset_peak_memory();
  double seconds = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    run();
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  report(state, p, n / seconds);
}

void tg128(benchmark::State& state, const fs::path& p, bool int8_activations) {
  tb::set_num_threads(threads());
  const lm::Model& m = *model(p, int8_activations).model;
  lm::GenerateOptions o;
  o.max_tokens = 128;
  o.stop_at_eos = false;
  o.max_kv_size = 256;
  const std::vector<int> prompt = {1};
  lm::generate_tokens(m, nullptr, prompt, o);
  tb::reset_peak_memory();
  double tps = 0;
  for (auto _ : state) {
    lm::Generation g = lm::generate_tokens(m, nullptr, prompt, o);
    benchmark::DoNotOptimize(g.tokens.data());
    tps = g.stats.generation_tps;
  }
  report(state, p, tps);
}

void BM_TG128(benchmark::State& state, fs::path p) { tg128(state, p, false); }

// Decoding with LoadOptions::int8_activations (quantized formats only).
void BM_TG128Int8(benchmark::State& state, fs::path p) { tg128(state, p, true); }

}  // namespace

int main(int argc, char** argv) {
  const fs::path dir = models_dir();
  int registered = 0;
  for (const char* shape : {"smollm-135m", "llama-1b"}) {
    for (const char* kind : {"-bf16", "-F16.gguf", "-Q8_0.gguf", "-Q4_0.gguf", "-mlx-4bit", "-mlx-8bit"}) {
      const fs::path p = dir / (std::string(shape) + kind);
      std::error_code ec;
      if (!fs::exists(p, ec)) continue;
      const std::string name = p.filename().string();
      const bool quantized = name.find("Q8_0") != std::string::npos || name.find("Q4_0") != std::string::npos ||
                             name.find("bit") != std::string::npos;
      for (auto [bench, fn] : {std::pair{"PP512/", &BM_PP512}, std::pair{"TG128/", &BM_TG128},
                               std::pair{"TG128Int8/", &BM_TG128Int8}}) {
        if (fn == &BM_TG128Int8 && !quantized) continue;
        benchmark::RegisterBenchmark((bench + name).c_str(), fn, p)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime()
            ->Iterations(1)
            ->Repetitions(5)
            ->ReportAggregatesOnly(true);
        ++registered;
      }
    }
  }
  if (registered == 0) {
    benchmark::RegisterBenchmark("NoModels", [dir](benchmark::State& state) {
      state.SkipWithError(("no benchmark models in " + dir.string() + " (run benchmarks/make_bench_models.sh)").c_str());
      for (auto _ : state) {
      }
    });
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
