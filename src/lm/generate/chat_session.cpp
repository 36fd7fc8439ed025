#include "tessera/lm/chat.h"

#include <algorithm>
#include <stdexcept>

namespace tessera::lm {

namespace {

KVCache session_cache(const LoadedModel& m, const GenerateOptions& o) {
  if (!m.model) throw std::invalid_argument("[chat] no model");
  const Model& model = *m.model;
  if (o.cache) throw std::invalid_argument("[chat] ChatSessionOptions::generate.cache must be null (the session keeps its own)");
  KVCacheOptions co;
  const int context = std::max(model.config().context_length, 0);
  co.max_size = o.max_kv_size > 0 ? o.max_kv_size : (o.rotate_kv ? 0 : context);
  co.rotate = o.rotate_kv;
  co.bits = o.kv_bits;
  co.group_size = o.kv_group_size;
  co.quantized_start = o.quantized_kv_start;
  return model.make_cache(co);
}

}  // namespace

ChatSession::ChatSession(const LoadedModel& model, ChatSessionOptions options)
    : model_(model), options_(std::move(options)), cache_(session_cache(model, options_.generate)) {
  if (!model_.tokenizer) {
    throw std::invalid_argument("[chat] " + model_.path + " has no tokenizer Tessera can read, so it cannot chat");
  }
  template_ = options_.chat_template ? options_.chat_template : model_.chat_template;
  if (!template_) {
    throw std::invalid_argument("[chat] " + model_.path +
                                " has no chat template (tokenizer_config.json's chat_template, chat_template.jinja or "
                                "GGUF tokenizer.chat_template); give one");
  }
  // A template that does not parse fails now rather than at the first turn.
  ChatTemplate::parse(template_->source, template_->name, options_.template_options.limits);
  options_.template_options.add_generation_prompt = true;
}

ChatJson ChatSession::messages() const {
  ChatJson m = ChatJson::array();
  if (options_.system_prompt) m.push_back({{"role", "system"}, {"content", *options_.system_prompt}});
  for (const auto& turn : turns_) m.push_back(turn);
  return m;
}

void ChatSession::reset() {
  turns_ = ChatJson::array();
  cache_.reset();
  cached_ids_.clear();
}

void ChatSession::set_system_prompt(std::optional<std::string> text) { options_.system_prompt = std::move(text); }

ChatReply ChatSession::send(std::string_view user_message, const TokenCallback& callback) {
  ChatJson user = {{"role", "user"}, {"content", std::string(user_message)}};
  ChatJson conversation = messages();
  conversation.push_back(user);

  ChatReply reply;
  reply.prompt = chat_prompt(*template_, *model_.tokenizer, conversation, options_.template_options);
  const std::vector<int>& ids = reply.prompt.ids;
  if (ids.empty()) throw std::invalid_argument("[chat] the rendered prompt has no tokens");

  // The longest prefix of the prompt the cache already holds; at least one token is processed
  // again, since the first reply token comes from the last prompt position's logits.
  size_t shared = 0;
  const size_t limit = std::min(cached_ids_.size(), ids.size() - 1);
  while (shared < limit && cached_ids_[shared] == ids[shared]) ++shared;
  if (shared < cached_ids_.size()) {
    try {
      cache_.trim(int(cached_ids_.size() - shared));
      cached_ids_.resize(shared);
    } catch (const std::invalid_argument&) {
      // A rotating layer overwrote positions the shorter prefix would need: start over.
      cache_.reset();
      cached_ids_.clear();
      shared = 0;
    }
  }
  reply.reused_tokens = int(shared);

  GenerateOptions o = options_.generate;
  o.cache = &cache_;
  const std::span<const int> rest(ids.data() + shared, ids.size() - shared);
  try {
    reply.generation = generate_tokens(*model_.model, model_.tokenizer.get(), rest, o, callback);
  } catch (...) {
    // The cache may hold part of a prefill it cannot account for.
    cache_.reset();
    cached_ids_.clear();
    throw;
  }
  // The cache holds the prompt and the reply tokens that were fed back to the model: all but the
  // last one sampled (a final EOS is not among the reply's tokens and never fed).
  cached_ids_ = ids;
  cached_ids_.insert(cached_ids_.end(), reply.generation.tokens.begin(), reply.generation.tokens.end());
  const size_t held = size_t(std::max(cache_.offset(), 0));
  if (held > cached_ids_.size()) {
    cache_.reset();
    cached_ids_.clear();
  } else {
    cached_ids_.resize(held);
  }

  turns_.push_back(std::move(user));
  turns_.push_back({{"role", "assistant"}, {"content", reply.generation.text}});
  return reply;
}

}  // namespace tessera::lm
