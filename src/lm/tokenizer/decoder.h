// Decoders (tokenizer.json "decoder"): ByteLevel, Metaspace, ByteFallback, Fuse, Strip, Replace
// and Sequence. As in the tokenizers library each one rewrites the list of token strings, and the
// final list is concatenated. Unlike the library, which turns invalid UTF-8 into U+FFFD here, the
// ByteLevel and ByteFallback decoders keep the exact bytes (see tokenizer.h: decode is lossless).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "lm/tokenizer/json_context.h"

namespace tessera::lm::detail {

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

// nullptr for a null decoder (tokens are then joined with spaces, as the library does).
std::unique_ptr<Decoder> make_decoder(const json& spec, const std::string& where, const JsonContext& ctx);

}  // namespace tessera::lm::detail
