// Each new id is decoded together with the id(s) before it, so the decoders see it in context
// (a SentencePiece "▁word" keeps its space unless it really is the first token) and the bytes of
// a character split over several tokens come out once the character is whole. The window is cut
// back to its last token(s) whenever everything has been returned, so the cost per id stays flat.
#include "tessera/lm/tokenizer.h"

#include "lm/tokenizer/tokenizer_impl.h"
#include "lm/tokenizer/unicode.h"

namespace tessera::lm {

namespace {
constexpr size_t kMaxContext = 8;
}

StreamingDetokenizer::StreamingDetokenizer(const Tokenizer& tokenizer, bool skip_special_tokens,
                                           std::span<const int> context)
    : impl_(tokenizer.impl_), skip_special_(skip_special_tokens) {
  // The tail of the context is enough: it plays the part of the kept window after a flush.
  for (size_t i = context.size(); i-- > 0 && window_.size() < kMaxContext;)
    if (!(skip_special_ && impl_->is_special(context[i]))) window_.insert(window_.begin(), context[i]);
  emitted_ = impl_->decode(window_, false).size();
}

void StreamingDetokenizer::reset() {
  window_.clear();
  emitted_ = 0;
}

std::string StreamingDetokenizer::add(int id) {
  if (skip_special_ && impl_->is_special(id)) return {};
  window_.push_back(id);
  const std::string text = impl_->decode(window_, false);
  // Decoders only append as tokens are added; should one ever rewrite earlier text, resume
  // after it rather than repeat it.
  if (text.size() < emitted_) emitted_ = text.size();
  std::string_view fresh = std::string_view(text).substr(emitted_);
  size_t hold = detail::utf8_incomplete_tail(fresh);
  std::string out = detail::utf8_sanitize(fresh.substr(0, fresh.size() - hold));
  emitted_ += fresh.size() - hold;
  if (hold == 0) {
    // Keep as context the shortest tail of the window that decodes to something: a context that
    // decodes to nothing would let a leading-space Strip act on the next token.
    size_t keep = 1;
    while (keep < window_.size() && keep < kMaxContext &&
           impl_->decode(std::span<const int>(window_).last(keep), false).empty())
      ++keep;
    window_.erase(window_.begin(), window_.end() - keep);
    emitted_ = impl_->decode(window_, false).size();
  }
  return out;
}

std::string StreamingDetokenizer::finish() {
  std::string out;
  if (!window_.empty()) {
    const std::string text = impl_->decode(window_, false);
    if (text.size() > emitted_) out = detail::utf8_sanitize(std::string_view(text).substr(emitted_));
  }
  reset();
  return out;
}

}  // namespace tessera::lm
