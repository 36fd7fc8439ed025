// Text generation: prefill the prompt in chunks, then one forward pass per token (the step's
// graph is built once and evaluated once), sampling on the host, streaming text to a callback.
//
//   auto m = tessera::lm::load_model("stories260K.gguf");
//   tessera::lm::GenerateOptions o;
//   o.max_tokens = 64;
//   auto g = tessera::lm::generate(*m.model, *m.tokenizer, "Once upon a time", o,
//                                  [](const tessera::lm::TokenEvent& e) { std::cout << e.text; return true; });
//   std::cout << g.stats.to_json();
#pragma once

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/lm/model.h"
#include "tessera/lm/sampling.h"
#include "tessera/lm/text_tokenizer.h"

namespace tessera::lm {

struct GenerateOptions {
  int max_tokens = 256;
  SamplingOptions sampling;
  int prefill_step = 512;  // prompt tokens per forward pass, so memory stays bounded on long prompts
  // Positions the KV cache may hold (prompt + generated); 0: the model's context length.
  // Generation stops with finish_reason "context" when the cache is full, unless `rotate_kv`.
  int max_kv_size = 0;
  // mlx-lm's --max-kv-size: once max_kv_size positions are cached, full-attention layers keep the
  // first 4 and the most recent ones and generation goes on (no context limit then).
  bool rotate_kv = false;
  // Quantized KV cache (mlx-lm's kv_bits, kv_group_size, quantized_kv_start): keys and values of
  // full-attention layers packed to kv_bits (2-8; 0: off) in groups of kv_group_size features
  // once more than quantized_kv_start positions are cached. See KVCacheOptions.
  int kv_bits = 0;
  int kv_group_size = 64;
  int quantized_kv_start = 0;
  // A cache that already holds earlier tokens (load_prompt_cache's, or an earlier call's): the
  // prompt continues them and its options rule (max_kv_size, rotate_kv and kv_* are then unused).
  // It ends holding the prompt and every generated token but the last.
  KVCache* cache = nullptr;
  bool add_special_tokens = true;  // BOS (and EOS) the vocabulary asks for around the prompt
  bool stop_at_eos = true;         // the tokenizer's EOS ids end the generation
  std::vector<int> extra_stop_ids;
  std::vector<std::string> stop_strings;  // the text is cut before the first one that appears
  bool logprobs = false;                  // fill TokenEvent::logprob (costs a pass over the vocabulary)
  // Decode steps replay a graph recorded once per cache capacity (lm/generate/decode_plan.h)
  // where the model and cache allow it; false builds every step's graph afresh (same results).
  // The environment variable TESSERA_DECODE_REPLAY=0 turns replay off too.
  bool replay_steps = true;
};

struct GenerateStats {
  int prompt_tokens = 0;
  int generated_tokens = 0;
  double time_to_first_token_s = 0;  // prefill and the first sample
  double generation_s = 0;           // from the first token to the last
  double prompt_tps = 0;             // prompt_tokens / time_to_first_token_s
  double generation_tps = 0;         // tokens after the first / generation_s
  size_t peak_memory = 0;            // bytes (tessera's allocator)
  std::string finish_reason;         // "stop" (EOS or stop string), "length" (max_tokens), "context"
                                     // (the KV cache is full), "callback"
  std::string to_json() const;
};

struct TokenEvent {
  int id;
  std::string text;  // complete UTF-8 characters this token finished (may be empty)
  float logprob;     // NaN unless GenerateOptions::logprobs
  int index;         // 0 for the first generated token
};
// Called once per generated token, and once more with id -1 when text held back at the end (a
// partial character, or a possible start of a stop string that did not complete) remains.
// Return false to stop generating.
using TokenCallback = std::function<bool(const TokenEvent&)>;

struct Generation {
  std::string text;         // the generated text (without the prompt)
  std::vector<int> tokens;  // the generated ids (without a final EOS)
  GenerateStats stats;
};

Generation generate(const Model& model, const TextTokenizer& tokenizer, std::string_view prompt,
                    const GenerateOptions& options = {}, const TokenCallback& callback = {});
// From token ids; `tokenizer` may be null (no text, no EOS unless extra_stop_ids names some).
Generation generate_tokens(const Model& model, const TextTokenizer* tokenizer, std::span<const int> prompt,
                           const GenerateOptions& options = {}, const TokenCallback& callback = {});

}  // namespace tessera::lm
