// Splits a template into text and the tokens inside {{ }} and {% %} tags. Comments, raw blocks
// and whitespace control are resolved here, so the parser sees text exactly as it will be
// printed: `-` next to a delimiter strips all whitespace on that side; without it, Hugging Face's
// settings apply (trim_blocks: one newline after a block or comment tag is dropped;
// lstrip_blocks: spaces and tabs between the start of a line and a block or comment tag are
// dropped); `+` turns either of those off for that tag.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lm/chat_template/source.h"

namespace tessera::lm::chat_template {

enum class Tok { Text, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Int, Float, Op, End };

struct Token {
  Tok kind;
  size_t pos;
  // Text, Name, String (unescaped) and Op spell themselves here.
  std::string text;
  int64_t int_value = 0;
  double float_value = 0;
};

// Throws TemplateError (syntax) for unterminated tags, comments, strings and raw blocks,
// unbalanced brackets and characters that cannot start a token.
std::vector<Token> tokenize(const Source& source);

const char* token_kind_name(Tok kind);

}  // namespace tessera::lm::chat_template
