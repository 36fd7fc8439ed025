#include "tessera/lm/generate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "core/thread_pool.h"
#include "lm/generate/decode_plan.h"
#include "tessera/memory.h"
#include "tessera/ops.h"

namespace tessera::lm {

namespace {

using Clock = std::chrono::steady_clock;

double seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// Moves `i` back to the start of the UTF-8 character it points into.
size_t char_boundary(const std::string& s, size_t i) {
  while (i > 0 && i < s.size() && (uint8_t(s[i]) & 0xC0) == 0x80) --i;
  return i;
}

// Text produced so far, released to the caller except for a tail that could still turn into
// a stop string.
class TextAssembler {
 public:
  explicit TextAssembler(const std::vector<std::string>& stops) : stops_(stops) {
    for (auto& s : stops_) hold_ = std::max(hold_, s.empty() ? size_t(0) : s.size() - 1);
  }
  // Adds `piece`; returns the newly releasable text. Sets `stopped` when a stop string appeared.
  std::string add(const std::string& piece, bool* stopped) {
    size_t search_from = text_.size() > hold_ ? text_.size() - hold_ : 0;
    text_ += piece;
    size_t cut = std::string::npos;
    for (auto& s : stops_) {
      if (s.empty()) continue;
      size_t p = text_.find(s, search_from);
      if (p != std::string::npos) cut = std::min(cut, p);
    }
    if (cut != std::string::npos) {
      text_.resize(cut);
      *stopped = true;
      return release(text_.size());
    }
    size_t safe = text_.size() > hold_ ? char_boundary(text_, text_.size() - hold_) : 0;
    return release(std::max(safe, emitted_));
  }
  std::string finish() { return release(text_.size()); }
  const std::string& text() const { return text_; }

 private:
  std::string release(size_t upto) {
    std::string out = text_.substr(emitted_, upto - emitted_);
    emitted_ = upto;
    return out;
  }
  const std::vector<std::string>& stops_;
  std::string text_;
  size_t emitted_ = 0, hold_ = 0;
};

}  // namespace

std::string GenerateStats::to_json() const {
  nlohmann::json j = {{"prompt_tokens", prompt_tokens},
                      {"generated_tokens", generated_tokens},
                      {"time_to_first_token_s", time_to_first_token_s},
                      {"generation_s", generation_s},
                      {"prompt_tps", prompt_tps},
                      {"generation_tps", generation_tps},
                      {"peak_memory_bytes", peak_memory},
                      {"finish_reason", finish_reason}};
  return j.dump();
}

namespace {

// How long idle threads poll between the parallel products of a generation before they block;
// TESSERA_DECODE_SPIN_US overrides it (0: block at once).
int decode_spin_microseconds() {
  static const int us = [] {
    const char* env = std::getenv("TESSERA_DECODE_SPIN_US");
    return env ? std::max(0, std::atoi(env)) : 1000;
  }();
  return us;
}

}  // namespace

Generation generate_tokens(const Model& model, const TextTokenizer* tokenizer, std::span<const int> prompt,
                           const GenerateOptions& opt, const TokenCallback& callback) {
  const ModelConfig& cfg = model.config();
  if (prompt.empty()) throw std::invalid_argument("[generate] the prompt has no tokens");
  // A decode step is hundreds of small parallel products: keep the idle threads polling
  // between them instead of paying a wake-up for each (tens of microseconds on a VM).
  SpinWaitScope spin(decode_spin_microseconds());
  if (opt.max_tokens < 0) throw std::invalid_argument("[generate] max_tokens must be >= 0");
  if (opt.prefill_step <= 0) throw std::invalid_argument("[generate] prefill_step must be > 0");
  for (int id : prompt) {
    if (id < 0 || id >= cfg.vocab_size) {
      throw std::invalid_argument("[generate] prompt token id " + std::to_string(id) + " is outside the vocabulary of " +
                                  std::to_string(cfg.vocab_size));
    }
  }
  std::optional<KVCache> own;
  if (!opt.cache) {
    KVCacheOptions co;
    co.max_size = opt.max_kv_size > 0 ? opt.max_kv_size : (opt.rotate_kv ? 0 : std::max(cfg.context_length, 0));
    co.rotate = opt.rotate_kv;
    co.bits = opt.kv_bits;
    co.group_size = opt.kv_group_size;
    co.quantized_start = opt.quantized_kv_start;
    own.emplace(model.make_cache(co));
  }
  KVCache& cache = opt.cache ? *opt.cache : *own;
  if (cache.num_layers() != cfg.num_layers) {
    throw std::invalid_argument("[generate] the cache has " + std::to_string(cache.num_layers()) +
                                " layers, the model " + std::to_string(cfg.num_layers));
  }
  // A rotating cache never fills; otherwise its size (or the model's context length) bounds the
  // prompt and the generation.
  const bool rotating = cache.options().rotate && cache.max_size() > 0;
  const int ctx = rotating ? 0 : (cache.max_size() > 0 ? cache.max_size() : cfg.context_length);
  const int cached = cache.offset();
  if (ctx > 0 && int64_t(prompt.size()) + cached > ctx) {
    throw std::invalid_argument("[generate] the prompt has " + std::to_string(prompt.size()) + " tokens" +
                                (cached > 0 ? " (after " + std::to_string(cached) + " cached)" : std::string()) +
                                " but the context holds " + std::to_string(ctx) +
                                (opt.max_kv_size > 0 || opt.cache ? "" : " (the model's context length; raise max_kv_size)"));
  }

  std::vector<int> stop_ids = opt.extra_stop_ids;
  if (opt.stop_at_eos && tokenizer) {
    for (int id : tokenizer->eos_ids()) stop_ids.push_back(id);
  }
  auto is_stop = [&](int id) { return std::find(stop_ids.begin(), stop_ids.end(), id) != stop_ids.end(); };

  Sampler sampler(opt.sampling);
  std::vector<int> history(prompt.begin(), prompt.end());
  history.reserve(prompt.size() + size_t(opt.max_tokens));
  std::unique_ptr<TextStream> stream = tokenizer ? tokenizer->stream(prompt, true) : nullptr;
  TextAssembler text(opt.stop_strings);

  Generation g;
  g.stats.prompt_tokens = int(prompt.size());
  reset_peak_memory();
  const auto t0 = Clock::now();

  // Prefill: whole chunks advance the cache only; the last piece also gives the first logits.
  size_t pos = 0;
  const size_t step = size_t(opt.prefill_step);
  while (prompt.size() - pos > step) {
    array chunk(prompt.data() + pos, Shape{1, int(step)}, int32);
    model.forward(chunk, cache, true);
    eval(cache.state());
    pos += step;
  }
  array rest(prompt.data() + pos, Shape{1, int(prompt.size() - pos)}, int32);
  Sample s{0, 0};
  if (opt.max_tokens > 0) {
    array logits = model.forward(rest, cache, true);
    logits.eval();
    s = sampler.sample(logits, history, opt.logprobs);
  }
  const auto t_first = Clock::now();
  g.stats.time_to_first_token_s = seconds(t0, t_first);
  g.stats.finish_reason = "length";

  DecodePlan plan(model);
  for (int i = 0; i < opt.max_tokens; ++i) {
    if (is_stop(s.id)) {
      g.stats.finish_reason = "stop";
      break;
    }
    g.tokens.push_back(s.id);
    history.push_back(s.id);
    bool stopped = false;
    std::string piece = stream ? text.add(stream->add(s.id), &stopped) : std::string();
    if (callback && !callback(TokenEvent{s.id, piece, s.logprob, i})) {
      g.stats.finish_reason = "callback";
      break;
    }
    if (stopped) {
      g.stats.finish_reason = "stop";
      break;
    }
    if (i + 1 == opt.max_tokens) break;
    if (ctx > 0 && cache.offset() >= ctx) {
      g.stats.finish_reason = "context";
      break;
    }
    array token(&s.id, Shape{1, 1}, int32);
    array logits = opt.replay_steps && plan.supports(token, cache) ? plan.step(token, cache)
                                                                   : model.forward(token, cache, true);
    logits.eval();
    s = sampler.sample(logits, history, opt.logprobs);
  }
  const auto t_end = Clock::now();

  if (stream) {
    bool stopped = false;
    std::string tail = text.add(stream->finish(), &stopped);
    tail += text.finish();
    if (!tail.empty() && callback && g.stats.finish_reason != "callback") {
      callback(TokenEvent{-1, tail, std::nanf(""), int(g.tokens.size())});
    }
  }
  g.text = text.text();
  g.stats.generated_tokens = int(g.tokens.size());
  g.stats.generation_s = seconds(t_first, t_end);
  g.stats.prompt_tps = g.stats.time_to_first_token_s > 0 ? g.stats.prompt_tokens / g.stats.time_to_first_token_s : 0;
  g.stats.generation_tps =
      g.stats.generation_s > 0 && g.tokens.size() > 1 ? double(g.tokens.size() - 1) / g.stats.generation_s : 0;
  g.stats.peak_memory = get_peak_memory();
  return g;
}

Generation generate(const Model& model, const TextTokenizer& tokenizer, std::string_view prompt,
                    const GenerateOptions& options, const TokenCallback& callback) {
  std::vector<int> ids = tokenizer.encode(prompt, options.add_special_tokens);
  return generate_tokens(model, &tokenizer, ids, options, callback);
}

}  // namespace tessera::lm
