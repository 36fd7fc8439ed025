// Prompt caches on disk, as mlx-lm keeps them (save_prompt_cache / load_prompt_cache): the KV
// cache after a prompt, written as safetensors so a later run continues from it instead of
// processing the prompt again.
//
//   auto cache = model.make_cache();
//   model.forward(prompt_tokens, cache);
//   lm::save_prompt_cache("system.safetensors", cache, lm::prompt_cache_metadata(model, prompt_ids));
//   ...
//   auto loaded = lm::load_prompt_cache("system.safetensors");
//   lm::check_prompt_cache(loaded, model);          // same model? clear error otherwise
//   GenerateOptions o;  o.cache = &loaded.cache;    // the prompt now continues the cached one
//
// The file holds, per layer i with cached positions, "layers.<i>.keys" and "layers.<i>.values"
// ([B, kv_heads, n, head_dim]; a rotating layer's ring as it is), or for a quantized layer
// "layers.<i>.{keys,values}.{words,scales,biases}". Metadata "tessera.prompt_cache" (JSON) gives
// the layout: format version, offset, each layer's window and quantization, and the cache options.
// Other metadata entries are the caller's (strings; names starting "tessera." are reserved).
// Saving is atomic (a temporary file renamed over the target).
#pragma once

#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "tessera/lm/kv_cache.h"
#include "tessera/lm/model.h"

namespace tessera::lm {

using PromptCacheMetadata = std::unordered_map<std::string, std::string>;

struct PromptCacheFile {
  KVCache cache;
  PromptCacheMetadata metadata;  // the caller's entries
  std::string file;
};

void save_prompt_cache(const std::string& file, const KVCache& cache, const PromptCacheMetadata& metadata = {});
// std::runtime_error naming the file and what is wrong (not a safetensors file, not a prompt
// cache, a missing or mis-shaped tensor, an invalid layout) for a corrupt or truncated file.
PromptCacheFile load_prompt_cache(const std::string& file);

// A hash of everything in the config that shapes the cache and the numbers in it (architecture,
// sizes, rope, windows, norms), as 16 hex digits.
std::string model_fingerprint(const ModelConfig& config);

// Metadata that ties a cache to `model` and the tokens it holds: "model_fingerprint",
// "model_probe" (a few logits of one fixed token, which tell apart models sharing a config, such
// as a base model and its fine-tune; costs one single-token forward pass), "architecture" and
// "tokens" (JSON array of ids).
PromptCacheMetadata prompt_cache_metadata(const Model& model, std::span<const int> tokens);

// Checks that `loaded` was saved for `model` (fingerprint, probe, layer count and windows):
// std::invalid_argument naming the file and what differs.
void check_prompt_cache(const PromptCacheFile& loaded, const Model& model);

// The "tokens" entry (empty when absent); std::runtime_error when it is not a JSON array of ids.
std::vector<int> prompt_cache_tokens(const PromptCacheFile& loaded);

}  // namespace tessera::lm
