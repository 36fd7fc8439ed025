// The loaded pipeline behind tessera::lm::Tokenizer (see tokenizer.h for the public contract).
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "lm/tokenizer/added_tokens.h"
#include "lm/tokenizer/bpe.h"
#include "lm/tokenizer/decoder.h"
#include "lm/tokenizer/normalizer.h"
#include "lm/tokenizer/post_processor.h"
#include "lm/tokenizer/pre_tokenizer.h"

namespace tessera::lm::detail {

struct TokenizerImpl {
  std::string name;  // the file, for messages
  std::unique_ptr<Normalizer> normalizer;
  std::unique_ptr<PreTokenizer> pre_tokenizer;
  std::unique_ptr<BpeModel> model;
  std::unique_ptr<PostProcessor> post_processor;
  std::unique_ptr<Decoder> decoder;

  std::vector<AddedToken> added_tokens;
  std::unique_ptr<AddedTokenMatcher> raw_matcher;         // normalized=false tokens
  std::unique_ptr<AddedTokenMatcher> normalized_matcher;  // normalized=true tokens
  StringMap<int> added_by_content;
  std::unordered_map<int, std::string> added_by_id;
  std::vector<char> special;  // by id

  int vocab_size = 0;
  std::optional<int> bos, eos;

  std::vector<int> encode(std::string_view text, bool add_special_tokens) const;
  std::string decode(std::span<const int> ids, bool skip_special_tokens) const;
  // The token's text as the decoders take it (an added token's content, else the vocabulary's).
  const std::string* token_text(int id) const;
  bool is_special(int id) const { return id >= 0 && size_t(id) < special.size() && special[id]; }

 private:
  void encode_segment(std::string_view text, bool at_start, std::vector<int>& ids) const;
};

// Builds the pipeline from parsed tokenizer.json / tokenizer_config.json (config may be null).
std::shared_ptr<TokenizerImpl> build_tokenizer(const json& tokenizer, const json* config, const std::string& name,
                                               const std::string& config_name);

}  // namespace tessera::lm::detail
