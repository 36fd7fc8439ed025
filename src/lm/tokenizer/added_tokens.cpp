#include "lm/tokenizer/added_tokens.h"

#include <utf8proc.h>

#include <algorithm>
#include <cstring>

#include "lm/tokenizer/unicode.h"

namespace tessera::lm::detail {

namespace {

// The character that ends just before `end`, or nullopt-like 0 length when there is none.
size_t char_before(std::string_view s, size_t end, char32_t& cp) {
  if (end == 0) return 0;
  size_t b = end - 1;
  while (b > 0 && end - b < 4 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) --b;
  size_t n = utf8_decode(s, b, cp);
  if (n != end - b) {
    cp = static_cast<unsigned char>(s[end - 1]);  // an invalid byte counts as itself
    return 1;
  }
  return n;
}

// Unicode \w as the tokenizers library's regex crate reads it: letters, marks, decimal and letter
// numbers, connector punctuation (the underscore among them).
bool is_word_char(char32_t cp) {
  auto cat = utf8proc_category(utf8proc_int32_t(cp));
  return (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_ME) || cat == UTF8PROC_CATEGORY_ND ||
         cat == UTF8PROC_CATEGORY_NL || cat == UTF8PROC_CATEGORY_PC;
}

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(const std::vector<AddedToken>& tokens, bool normalized) {
  trie_.emplace_back();
  for (const AddedToken& t : tokens) {
    if (t.normalized != normalized || t.content.empty()) continue;
    uint32_t node = 0;
    for (unsigned char c : t.content) {
      auto& kids = trie_[node].children;
      auto it = std::lower_bound(kids.begin(), kids.end(), c, [](const auto& kid, unsigned char b) { return kid.first < b; });
      if (it != kids.end() && it->first == c) {
        node = it->second;
      } else {
        uint32_t child = uint32_t(trie_.size());
        kids.insert(it, {c, child});
        trie_.emplace_back();  // invalidates `kids`, which is not used again
        node = child;
      }
    }
    // The same content twice: the first definition wins.
    if (trie_[node].token < 0) {
      trie_[node].token = int(tokens_.size());
      tokens_.push_back(t);
    }
    first_byte_[static_cast<unsigned char>(t.content[0])] = true;
  }
  int distinct = 0;
  for (int b = 0; b < 256; ++b)
    if (first_byte_[b]) ++distinct, only_first_byte_ = b;
  if (distinct != 1) only_first_byte_ = -1;
}

int AddedTokenMatcher::longest_at(std::string_view text, size_t pos, size_t& length) const {
  int found = -1;
  uint32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    const auto& kids = trie_[node].children;
    unsigned char c = static_cast<unsigned char>(text[i]);
    auto it = std::lower_bound(kids.begin(), kids.end(), c, [](const auto& kid, unsigned char b) { return kid.first < b; });
    if (it == kids.end() || it->first != c) break;
    node = it->second;
    if (trie_[node].token >= 0) {
      found = trie_[node].token;
      length = i + 1 - pos;
    }
  }
  return found;
}

void AddedTokenMatcher::split(std::string_view text, std::vector<Segment>& out) const {
  size_t start = 0;  // end of the previous match
  size_t pos = 0;
  while (pos < text.size()) {
    if (only_first_byte_ >= 0) {
      const void* hit = std::memchr(text.data() + pos, only_first_byte_, text.size() - pos);
      if (!hit) break;
      pos = size_t(static_cast<const char*>(hit) - text.data());
    } else if (!first_byte_[static_cast<unsigned char>(text[pos])]) {
      ++pos;
      continue;
    }
    size_t length = 0;
    int t = longest_at(text, pos, length);
    if (t < 0) {
      ++pos;
      continue;
    }
    const AddedToken& token = tokens_[t];
    size_t b = pos, e = pos + length;
    pos = e;  // matches do not overlap, even when this one is rejected
    if (token.single_word) {
      char32_t cp;
      bool word_before = char_before(text, b, cp) && is_word_char(cp);
      bool word_after = e < text.size() && utf8_decode(text, e, cp) && is_word_char(cp);
      if (word_before || word_after) continue;
    }
    if (token.lstrip) {
      char32_t cp;
      while (b > start) {
        size_t n = char_before(text, b, cp);
        if (!n || !is_unicode_whitespace(cp) || b - n < start) break;
        b -= n;
      }
    }
    if (token.rstrip) {
      char32_t cp;
      while (e < text.size()) {
        size_t n = utf8_decode(text, e, cp);
        if (!n || !is_unicode_whitespace(cp)) break;
        e += n;
      }
      pos = e;
    }
    if (b > start) out.push_back({text.substr(start, b - start), -1});
    out.push_back({text.substr(b, e - b), token.id});
    start = e;
  }
  if (start < text.size()) out.push_back({text.substr(start), -1});
}

}  // namespace tessera::lm::detail
