// Encoding and decoding through the loaded pipeline, and the public Tokenizer methods.
#include "tessera/lm/tokenizer.h"

#include "lm/tokenizer/tokenizer_impl.h"

namespace tessera::lm {

namespace detail {

void TokenizerImpl::encode_segment(std::string_view text, bool at_start, std::vector<int>& ids) const {
  if (text.empty()) return;
  if (!pre_tokenizer) {
    model->encode_word(text, ids);
    return;
  }
  thread_local Pieces pieces;  // reused: its buffers reach the size of the text
  pieces.items.assign(1, text);
  pieces.storage.clear();
  pieces.segment_at_start = at_start;
  pre_tokenizer->apply(pieces);
  for (std::string_view word : pieces.items) model->encode_word(word, ids);
}

std::vector<int> TokenizerImpl::encode(std::string_view text, bool add_special_tokens) const {
  std::vector<int> ids;
  ids.reserve(text.size() / 3 + 4);
  // The tokenizers library's order: added tokens that match raw text are cut out first, each
  // remaining run is normalized on its own, then tokens that match normalized text are cut out.
  std::vector<Segment> raw;
  if (raw_matcher)
    raw_matcher->split(text, raw);
  else
    raw.push_back({text, -1});
  std::vector<Segment> parts;
  for (const Segment& seg : raw) {
    if (seg.id >= 0) {
      ids.push_back(seg.id);
      continue;
    }
    const bool seg_at_start = seg.text.data() == text.data();
    std::string normalized_text;
    std::string_view normalized = seg.text;
    if (normalizer) {
      normalized_text = normalizer->normalize(seg.text);
      normalized = normalized_text;
    }
    parts.clear();
    if (normalized_matcher)
      normalized_matcher->split(normalized, parts);
    else
      parts.push_back({normalized, -1});
    for (const Segment& part : parts) {
      if (part.id >= 0)
        ids.push_back(part.id);
      else
        encode_segment(part.text, seg_at_start && part.text.data() == normalized.data(), ids);
    }
  }
  if (add_special_tokens && post_processor) ids = post_processor->process(std::move(ids));
  return ids;
}

const std::string* TokenizerImpl::token_text(int id) const {
  if (auto it = added_by_id.find(id); it != added_by_id.end()) return &it->second;
  return model->id_to_token(id);
}

std::string TokenizerImpl::decode(std::span<const int> ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int id : ids) {
    if (skip_special_tokens && is_special(id)) continue;
    if (const std::string* t = token_text(id)) tokens.push_back(*t);
  }
  std::string out;
  if (decoder) {
    decoder->decode_chain(tokens);
    for (const std::string& t : tokens) out += t;
  } else {
    // Without a decoder the library joins tokens with spaces.
    for (size_t i = 0; i < tokens.size(); ++i) out += (i ? " " : "") + tokens[i];
  }
  return out;
}

}  // namespace detail

std::vector<int> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  return impl_->encode(text, add_special_tokens);
}

std::string Tokenizer::decode(std::span<const int> ids, bool skip_special_tokens) const {
  return impl_->decode(ids, skip_special_tokens);
}

std::optional<std::string> Tokenizer::id_to_token(int id) const {
  if (const std::string* t = impl_->token_text(id)) return *t;
  return std::nullopt;
}

std::optional<int> Tokenizer::token_to_id(std::string_view token) const {
  if (auto it = impl_->added_by_content.find(token); it != impl_->added_by_content.end()) return it->second;
  return impl_->model->token_to_id(token);
}

int Tokenizer::vocab_size() const { return impl_->vocab_size; }
std::optional<int> Tokenizer::bos_id() const { return impl_->bos; }
std::optional<int> Tokenizer::eos_id() const { return impl_->eos; }
bool Tokenizer::is_special(int id) const { return impl_->is_special(id); }

StreamingDetokenizer Tokenizer::detokenizer(bool skip_special_tokens, std::span<const int> context) const {
  return StreamingDetokenizer(*this, skip_special_tokens, context);
}

}  // namespace tessera::lm
