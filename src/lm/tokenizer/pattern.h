// The {"String": ...} / {"Regex": ...} patterns of Split, Replace (normalizer and decoder).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lm/tokenizer/json_context.h"
#include "lm/tokenizer/regex.h"

namespace tessera::lm::detail {

using Range = std::pair<size_t, size_t>;

class Pattern {
 public:
  Pattern(const json& spec, const std::string& where, const JsonContext& ctx);
  // Appends the non-empty, non-overlapping matches in text, left to right.
  void find(std::string_view text, std::vector<Range>& out) const;
  std::string replace_all(std::string_view text, std::string_view content) const;

 private:
  std::string literal_;
  std::unique_ptr<Regex> regex_;
};

}  // namespace tessera::lm::detail
