// Normalizers (tokenizer.json "normalizer"): NFC/NFD/NFKC/NFKD (utf8proc), Lowercase, Prepend,
// Replace, Strip and Sequence. Each one maps a piece of text to its normalized form.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "lm/tokenizer/json_context.h"

namespace tessera::lm::detail {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual std::string normalize(std::string_view text) const = 0;
};

// nullptr for a null normalizer or an empty Sequence (nothing to do on the hot path).
std::unique_ptr<Normalizer> make_normalizer(const json& spec, const std::string& where, const JsonContext& ctx);

}  // namespace tessera::lm::detail
