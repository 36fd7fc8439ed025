// UTF-8 helpers for the tokenizer. Text may contain invalid UTF-8 (encode accepts any bytes), so
// every walker here treats a byte that does not start a valid sequence as a one-byte unit.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace tessera::lm::detail {

// Length of the valid UTF-8 sequence starting at s[i] (1-4), or 0 when s[i] does not start one.
size_t utf8_valid_len(std::string_view s, size_t i);
// Length of the unit starting at s[i]: the character, or 1 for an invalid byte.
inline size_t utf8_unit_len(std::string_view s, size_t i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return 1;
  size_t n = utf8_valid_len(s, i);
  return n ? n : 1;
}
// Decodes the character at s[i]; returns its length, 0 (and cp = 0xFFFD) when invalid.
size_t utf8_decode(std::string_view s, size_t i, char32_t& cp);
void utf8_append(std::string& out, char32_t cp);
bool utf8_is_valid(std::string_view s);

// How many trailing bytes of s are the start of a character that more bytes could complete (0-3).
size_t utf8_incomplete_tail(std::string_view s);
// s with every byte that is not part of a valid character replaced by U+FFFD.
std::string utf8_sanitize(std::string_view s);

bool is_unicode_whitespace(char32_t cp);
bool is_numeric(char32_t cp);

enum class NormalForm { NFC, NFD, NFKC, NFKD };
// Normalizes the valid runs of s; invalid bytes stay where they are.
std::string unicode_normalize(std::string_view s, NormalForm form);
std::string unicode_lowercase(std::string_view s);

// GPT-2's reversible byte <-> printable character table used by byte-level BPE vocabularies.
const std::array<char32_t, 256>& byte_to_unicode();
// The byte a table character stands for, or -1.
int unicode_to_byte(char32_t cp);

}  // namespace tessera::lm::detail
