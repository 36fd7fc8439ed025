#include "tessera/lm/chat.h"

namespace tessera::lm {

namespace {

std::optional<std::string> spelled(const TextTokenizer& tokenizer, std::optional<int> id) {
  if (!id || *id < 0 || *id >= tokenizer.vocab_size()) return std::nullopt;
  const int one[] = {*id};
  std::string text = tokenizer.decode(one, false);
  if (text.empty()) return std::nullopt;
  return text;
}

std::optional<int> first_eos(const TextTokenizer& tokenizer) {
  auto ids = tokenizer.eos_ids();
  if (ids.empty()) return std::nullopt;
  return ids.front();
}

}  // namespace

std::vector<int> encode_prompt(const TextTokenizer& tokenizer, std::string_view text) {
  std::optional<std::string> bos = spelled(tokenizer, tokenizer.bos_id());
  const bool starts_with_bos = bos && text.substr(0, bos->size()) == *bos;
  return tokenizer.encode(text, !starts_with_bos);
}

ChatTemplateSource custom_chat_template(std::string text, const LoadedModel& model) {
  ChatTemplateSource out;
  if (model.chat_template) out = *model.chat_template;
  out.source = std::move(text);
  out.name = "chat_template";
  if (!model.chat_template && model.tokenizer) {
    out.bos_token = spelled(*model.tokenizer, model.tokenizer->bos_id());
    out.eos_token = spelled(*model.tokenizer, first_eos(*model.tokenizer));
  }
  return out;
}

ChatPrompt chat_prompt(const ChatTemplateSource& chat_template, const TextTokenizer& tokenizer, const ChatJson& messages,
                       const ChatTemplateOptions& options) {
  ChatPrompt p;
  p.text = apply_chat_template(chat_template, messages, options);
  p.ids = encode_prompt(tokenizer, p.text);
  return p;
}

}  // namespace tessera::lm
