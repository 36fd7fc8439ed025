// Python str semantics over UTF-8: strings index, slice, strip and change case by character
// (code point), as the templates' Python origin expects. Bytes that are not valid UTF-8 count as
// one character each and are never dropped.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::lm::chat_template {

void utf8_append(std::string& out, uint32_t cp);
// Invalid bytes decode to kInvalidByteBase + byte: outside Unicode, so no character class
// matches them, yet equal bytes still compare equal.
constexpr uint32_t kInvalidByteBase = 0x110000;
// Length of the character at s[i] (1 for an invalid byte) and its code point in cp.
size_t utf8_next(std::string_view s, size_t i, uint32_t& cp);

bool is_ascii(std::string_view s);
size_t char_count(std::string_view s);
// Byte offsets of every character, plus s.size() at the end.
std::vector<size_t> char_offsets(std::string_view s);

// str.isspace for one code point.
bool is_py_space(uint32_t cp);
// Letters (Unicode categories L*), decimal digits (Nd) and any number (N*).
bool is_letter(uint32_t cp);
bool is_decimal(uint32_t cp);
bool is_numeric_char(uint32_t cp);

// str.strip / lstrip / rstrip; `chars` (when not null) lists the characters to strip instead
// of whitespace.
std::string py_strip(std::string_view s, bool left, bool right, const std::string* chars = nullptr);
std::string py_upper(std::string_view s);
std::string py_lower(std::string_view s);
// str.capitalize: first character upper case, the rest lower case.
std::string py_capitalize(std::string_view s);
// str.title: upper case after any character that is not a letter, lower case elsewhere.
std::string py_title(std::string_view s);
// Jinja's title filter: words start after whitespace, '-', '(', '{', '[' or '<'.
std::string jinja_title(std::string_view s);
// str.split: on runs of whitespace without `sep` (empty pieces dropped); maxsplit < 0 means all.
std::vector<std::string> py_split(std::string_view s, const std::string* sep, int64_t maxsplit);
std::vector<std::string> py_rsplit(std::string_view s, const std::string* sep, int64_t maxsplit);
std::vector<std::string> py_splitlines(std::string_view s, bool keepends);
// str.replace; count < 0 means all. An empty `from` inserts `to` between characters.
std::string py_replace(std::string_view s, std::string_view from, std::string_view to, int64_t count);
// Non-overlapping occurrences; an empty needle counts the gaps between characters.
int64_t py_count(std::string_view s, std::string_view needle);
// Character index of the first (or last) occurrence, or -1.
int64_t py_find(std::string_view s, std::string_view needle, bool reverse);

}  // namespace tessera::lm::chat_template
