// Tokenizer throughput on WikiText-2 raw test (1.29 MB, shared/data/corpora): encode MB/s per
// tokenizer family, warm (the word cache filled by earlier iterations, the steady state of a
// server) and cold (a freshly loaded tokenizer, every word merged for the first time); decode and
// streaming detokenization in tokens/s; byte-level BPE training in MB/s of text (counting and
// merges, vocabularies of 1k, 8k and 32k tokens). Data is looked up next to the repository
// (../shared/data) or under $TESSERA_DATA.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "tessera/lm/bpe_trainer.h"
#include "tessera/lm/tokenizer.h"

namespace {

namespace fs = std::filesystem;
using tessera::lm::Tokenizer;

fs::path data_dir() {
  if (const char* env = std::getenv("TESSERA_DATA")) return env;
  return fs::path(__FILE__).parent_path() / ".." / ".." / "shared" / "data";
}

const std::string* corpus() {
  static const std::string text = [] {
    std::ifstream in(data_dir() / "corpora" / "wikitext2_raw_test.txt", std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }();
  return text.empty() ? nullptr : &text;
}

const char* const kFamilies[] = {"gpt2", "llama3", "qwen3", "deepseek_v3", "mistral_v0.1"};

const Tokenizer* family(int i) {
  static std::map<int, Tokenizer> loaded;
  auto it = loaded.find(i);
  if (it == loaded.end()) {
    fs::path dir = data_dir() / "tokenizers" / kFamilies[i];
    if (!fs::exists(dir / "tokenizer.json")) return nullptr;
    it = loaded.emplace(i, Tokenizer::from_directory(dir.string())).first;
  }
  return &it->second;
}

void BM_EncodeWarm(benchmark::State& state) {
  const Tokenizer* tok = family(int(state.range(0)));
  const std::string* text = corpus();
  if (!tok || !text) return state.SkipWithError("shared/data not found (set TESSERA_DATA)");
  state.SetLabel(kFamilies[state.range(0)]);
  size_t n = tok->encode(*text, false).size();  // fills the cache
  for (auto _ : state) benchmark::DoNotOptimize(tok->encode(*text, false));
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(text->size()));
  state.counters["tokens"] = double(n);
}

void BM_EncodeCold(benchmark::State& state) {
  const std::string* text = corpus();
  fs::path dir = data_dir() / "tokenizers" / kFamilies[state.range(0)];
  if (!text || !fs::exists(dir)) return state.SkipWithError("shared/data not found (set TESSERA_DATA)");
  state.SetLabel(kFamilies[state.range(0)]);
  for (auto _ : state) {
    state.PauseTiming();
    Tokenizer tok = Tokenizer::from_directory(dir.string());
    state.ResumeTiming();
    benchmark::DoNotOptimize(tok.encode(*text, false));
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(text->size()));
}

void BM_Decode(benchmark::State& state) {
  const Tokenizer* tok = family(int(state.range(0)));
  const std::string* text = corpus();
  if (!tok || !text) return state.SkipWithError("shared/data not found (set TESSERA_DATA)");
  state.SetLabel(kFamilies[state.range(0)]);
  auto ids = tok->encode(*text, false);
  for (auto _ : state) benchmark::DoNotOptimize(tok->decode(ids));
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(ids.size()));
}

void BM_StreamDetokenize(benchmark::State& state) {
  const Tokenizer* tok = family(int(state.range(0)));
  const std::string* text = corpus();
  if (!tok || !text) return state.SkipWithError("shared/data not found (set TESSERA_DATA)");
  state.SetLabel(kFamilies[state.range(0)]);
  auto ids = tok->encode(text->substr(0, 100000), false);
  for (auto _ : state) {
    auto detok = tok->detokenizer();
    size_t bytes = 0;
    for (int id : ids) bytes += detok.add(id).size();
    benchmark::DoNotOptimize(bytes);
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(ids.size()));
}

void BM_TrainBpe(benchmark::State& state) {
  const std::string* text = corpus();
  if (!text) return state.SkipWithError("shared/data not found (set TESSERA_DATA)");
  tessera::lm::BpeTrainerOptions o;
  o.vocab_size = int(state.range(0));
  o.special_tokens = {"<|endoftext|>"};
  size_t merges = 0;
  for (auto _ : state) {
    tessera::lm::BpeTrainer trainer(o);
    trainer.add_text(*text);
    merges = trainer.train().merges.size();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(text->size()));
  state.counters["merges"] = double(merges);
}

BENCHMARK(BM_EncodeWarm)->DenseRange(0, 4)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_EncodeCold)->DenseRange(0, 4)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(2);
BENCHMARK(BM_Decode)->DenseRange(0, 4)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_StreamDetokenize)->DenseRange(0, 4)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_TrainBpe)->Arg(1000)->Arg(8000)->Arg(32000)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
