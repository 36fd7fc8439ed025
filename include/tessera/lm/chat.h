// Chat over generate(): prompts rendered with the model's chat template and encoded as mlx-lm
// encodes them, and a conversation that keeps its history and the KV cache between turns.
//
//   auto m = tessera::lm::load_model("Qwen3-0.6B");
//   tessera::lm::ChatSession chat(m);
//   chat.send("Hi!", [](const tessera::lm::TokenEvent& e) { std::cout << e.text; return true; });
//   chat.send("And then?");  // renders both turns; the first is still in the cache
//
// This header needs nlohmann_json (header-only) on the include path (see chat_template.h).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/lm/chat_template.h"
#include "tessera/lm/generate.h"
#include "tessera/lm/model.h"

namespace tessera::lm {

// Token ids of a text prompt, by mlx-lm's rule: the special tokens the tokenizer adds (BOS) are
// added unless the text already starts with the BOS token written out, as a rendered chat
// template that prints {{ bos_token }} does, so BOS is never doubled. Special tokens written in
// the text (<|im_start|>, <s>) are encoded as their ids either way.
std::vector<int> encode_prompt(const TextTokenizer& tokenizer, std::string_view text);

// A template given as text (a command line's --chat-template), with the special tokens of the
// model's own template, else BOS and EOS as its tokenizer spells them.
ChatTemplateSource custom_chat_template(std::string text, const LoadedModel& model);

// The prompt of one generation: the conversation rendered with add_generation_prompt and its ids.
struct ChatPrompt {
  std::string text;
  std::vector<int> ids;
};
// `options.add_generation_prompt` is taken as given; the rest of `options` (extra_context, tools)
// goes to the template as apply_chat_template passes it.
ChatPrompt chat_prompt(const ChatTemplateSource& chat_template, const TextTokenizer& tokenizer, const ChatJson& messages,
                       const ChatTemplateOptions& options);

struct ChatSessionOptions {
  // Sampling, max_tokens, stop strings, EOS handling and the cache's size and layout (max_kv_size,
  // rotate_kv, kv_bits...); `cache` is the session's own and must stay null.
  GenerateOptions generate;
  // Variables for the template (extra_context, e.g. {"enable_thinking": false}) and tools; the
  // prompt always ends with the generation prompt.
  ChatTemplateOptions template_options;
  std::optional<std::string> system_prompt;
  // The template to render with; null: the model's (std::invalid_argument when it has none).
  std::shared_ptr<const ChatTemplateSource> chat_template;
};

// One turn: the reply and what it cost.
struct ChatReply {
  Generation generation;  // stats.prompt_tokens counts the tokens processed this turn
  ChatPrompt prompt;      // the whole conversation as rendered for this turn
  int reused_tokens = 0;  // leading prompt ids whose keys and values the cache already held
};

// A conversation with one model. Each turn renders the whole history with the template, so the
// prompt is exactly what the template makes of the conversation; the KV cache keeps every token
// the model has seen, and the longest prefix the new prompt shares with them is not processed
// again (the cache is trimmed back to it; a rotating cache that already dropped positions starts
// over). Not thread-safe.
class ChatSession {
 public:
  explicit ChatSession(const LoadedModel& model, ChatSessionOptions options = {});

  // Adds the user's message, generates the reply (streamed to `callback` as generate() does) and
  // adds it to the history. On an error (a prompt longer than the context, a template error) the
  // history is unchanged.
  ChatReply send(std::string_view user_message, const TokenCallback& callback = {});

  // Forgets the conversation (the system prompt stays) and empties the cache.
  void reset();
  // Sets or clears the system prompt for the next turns; the history stays.
  void set_system_prompt(std::optional<std::string> text);
  const std::optional<std::string>& system_prompt() const { return options_.system_prompt; }

  // The messages the next prompt is rendered from: the system prompt, then the turns.
  ChatJson messages() const;
  // Ids whose keys and values the cache holds, in order.
  const std::vector<int>& cached_ids() const { return cached_ids_; }
  const ChatSessionOptions& options() const { return options_; }
  // Changes sampling and length for the next turns (cache fields are ignored).
  GenerateOptions& generate_options() { return options_.generate; }

 private:
  LoadedModel model_;
  ChatSessionOptions options_;
  std::shared_ptr<const ChatTemplateSource> template_;
  ChatJson turns_ = ChatJson::array();
  KVCache cache_;
  std::vector<int> cached_ids_;
};

}  // namespace tessera::lm
