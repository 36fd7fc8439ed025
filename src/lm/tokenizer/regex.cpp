#define PCRE2_CODE_UNIT_WIDTH 8
#include "lm/tokenizer/regex.h"

#include <pcre2.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>

#include "lm/tokenizer/unicode.h"

namespace tessera::lm::detail {

namespace {

// Per-thread match state: the ovector of one pair (only the whole match is needed; rc 0 then means
// "matched, groups not stored") and a JIT stack larger than the 32 KiB default so long runs of
// whitespace or punctuation cannot exhaust it.
struct MatchState {
  pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
  pcre2_jit_stack* stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
  pcre2_match_context* context = pcre2_match_context_create(nullptr);
  MatchState() {
    if (!data || !stack || !context) throw std::bad_alloc();
    pcre2_jit_stack_assign(context, nullptr, stack);
    pcre2_set_match_limit(context, 10'000'000);
  }
  ~MatchState() {
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(stack);
    pcre2_match_data_free(data);
  }
};

MatchState& match_state() {
  thread_local MatchState state;
  return state;
}

std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  int n = pcre2_get_error_message(code, buf, sizeof(buf));
  return n < 0 ? "PCRE2 error " + std::to_string(code) : std::string(reinterpret_cast<char*>(buf));
}

}  // namespace

Regex::Regex(const std::string& pattern, const std::string& what) : pattern_(pattern) {
  pcre2_compile_context* cc = pcre2_compile_context_create(nullptr);
  // Oniguruma reads \uHHHH; PCRE2 does with ALT_BSUX (and still reads \x{...}).
  pcre2_set_compile_extra_options(cc, PCRE2_EXTRA_ALT_BSUX);
  int err = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &offset, cc);
  pcre2_compile_context_free(cc);
  if (!code) {
    throw std::invalid_argument(what + ": invalid regex /" + pattern + "/: " + pcre2_message(err) + " at offset " +
                                std::to_string(offset));
  }
  // Without the JIT (unsupported platform) pcre2_match interprets; results are the same.
  jit_ = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  code_ = code;
}

Regex::~Regex() { pcre2_code_free(static_cast<pcre2_code*>(code_)); }

void Regex::for_each_match(std::string_view text, const std::function<void(size_t, size_t)>& f) const {
  auto* code = static_cast<pcre2_code*>(code_);
  MatchState& st = match_state();
  auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t start = 0;
  while (start <= text.size()) {
    // pcre2_jit_match skips pcre2_match's argument checks: a few percent of the encode time.
    int rc = jit_ ? pcre2_jit_match(code, subject, text.size(), start, 0, st.data, st.context)
                  : pcre2_match(code, subject, text.size(), start, 0, st.data, st.context);
    if (rc == PCRE2_ERROR_MATCHLIMIT) {
      // PCRE2's default step limit (10M) is reached by ordinary patterns on very long runs, e.g.
      // \s*[\r\n]+ backtracking over 20M spaces. Allow steps in proportion to the text left,
      // which keeps a pathological pattern bounded (it fails below) without failing long inputs.
      pcre2_set_match_limit(st.context, uint32_t(std::min<size_t>(UINT32_MAX, 10'000'000 + 64 * (text.size() - start))));
      rc = pcre2_match(code, subject, text.size(), start, 0, st.data, st.context);
      pcre2_set_match_limit(st.context, 10'000'000);
    }
    if (rc == PCRE2_ERROR_NOMATCH) return;
    if (rc < 0) throw std::runtime_error("[tokenizer] regex /" + pattern_ + "/ failed: " + pcre2_message(rc));
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(st.data);
    size_t b = ov[0], e = ov[1];
    if (e > b) {
      f(b, e);
      start = e;
    } else {
      if (e >= text.size()) return;
      start = e + utf8_unit_len(text, e);
    }
  }
}

}  // namespace tessera::lm::detail
