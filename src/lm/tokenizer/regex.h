// The pre-tokenizer and Replace patterns: PCRE2 with UTF, Unicode properties (UCP) and the JIT.
// Hugging Face compiles these patterns with Oniguruma; the constructs the published tokenizers use
// (\p{..} classes, (?i:..), lookahead, \s under Unicode rules) mean the same in PCRE2.
// Text with invalid UTF-8 is matched as PCRE2_MATCH_INVALID_UTF defines it: no pattern item
// matches an invalid byte, so such bytes end up between matches.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace tessera::lm::detail {

class Regex {
 public:
  // Throws std::invalid_argument("<what>: <PCRE2's message> at offset N") for a bad pattern.
  Regex(const std::string& pattern, const std::string& what);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Calls f(begin, end) for each non-empty match, left to right, non-overlapping. After an empty
  // match the search resumes one character later (what Oniguruma's find_iter does).
  void for_each_match(std::string_view text, const std::function<void(size_t, size_t)>& f) const;

  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  void* code_ = nullptr;  // pcre2_code_8
  bool jit_ = false;
};

}  // namespace tessera::lm::detail
