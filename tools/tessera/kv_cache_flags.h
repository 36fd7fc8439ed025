// KV cache flags shared by `tessera generate` and `tessera cache-prompt`, named as mlx_lm names
// them (--max-kv-size, --kv-bits, --kv-group-size, --quantized-kv-start, --prompt-cache-file), and
// the split of a chat-templated prompt around the user's text that lets a cached prompt prefix
// be continued.
#pragma once

#include <string>

#include "args.h"
#include "tessera/lm/kv_cache.h"

namespace tessera::cli {

// Declares --max-kv-size, --kv-bits, --kv-group-size, --quantized-kv-start.
void add_kv_cache_flags(Args& args);
// mlx-lm's meanings: --max-kv-size bounds the cache by rotating it (the first 4 positions kept),
// quantization starts after --quantized-kv-start (default 5000) positions.
lm::KVCacheOptions kv_cache_options(const Args& args);

// The text a chat template renders before and after the user's message `{{content}}` in a
// conversation whose last message is the user's (mlx-lm finds it by rendering "<query>").
struct TemplateSplit {
  std::string before, after;
};
// `render` renders the conversation with the given user text.
template <typename Render>
TemplateSplit split_around_user_text(const Render& render) {
  static const std::string marker = "<query>";
  const std::string text = render(marker);
  const size_t at = text.find(marker);
  if (at == std::string::npos) {
    throw std::invalid_argument("the chat template does not print the user's message as given; use "
                                "--ignore-chat-template with a prompt cache");
  }
  return {text.substr(0, at), text.substr(at + marker.size())};
}

}  // namespace tessera::cli
