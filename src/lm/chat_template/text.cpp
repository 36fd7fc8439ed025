#include "lm/chat_template/text.h"

#include "lm/tokenizer/unicode.h"

#include <utf8proc.h>

#include <algorithm>

namespace tessera::lm::chat_template {

void utf8_append(std::string& out, uint32_t cp) { lm::detail::utf8_append(out, char32_t(cp)); }

size_t utf8_next(std::string_view s, size_t i, uint32_t& cp) {
  char32_t c32 = 0;
  size_t n = lm::detail::utf8_decode(s, i, c32);
  if (n == 0) {
    // A byte that starts no valid character stands for itself, outside the code point range.
    cp = kInvalidByteBase + static_cast<unsigned char>(s[i]);
    return 1;
  }
  cp = uint32_t(c32);
  return n;
}

bool is_ascii(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

size_t char_count(std::string_view s) {
  if (is_ascii(s)) return s.size();
  size_t n = 0;
  uint32_t cp;
  for (size_t i = 0; i < s.size(); i += utf8_next(s, i, cp)) ++n;
  return n;
}

std::vector<size_t> char_offsets(std::string_view s) {
  std::vector<size_t> out;
  out.reserve(s.size() + 1);
  uint32_t cp;
  for (size_t i = 0; i < s.size(); i += utf8_next(s, i, cp)) out.push_back(i);
  out.push_back(s.size());
  return out;
}

bool is_py_space(uint32_t cp) {
  if (cp < 0x80) return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F);
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
         cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

bool is_letter(uint32_t cp) {
  if (cp < 0x80) return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
  if (cp >= kInvalidByteBase) return false;
  auto cat = utf8proc_category(utf8proc_int32_t(cp));
  return cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
}

bool is_decimal(uint32_t cp) {
  if (cp < 0x80) return cp >= '0' && cp <= '9';
  if (cp >= kInvalidByteBase) return false;
  return utf8proc_category(utf8proc_int32_t(cp)) == UTF8PROC_CATEGORY_ND;
}

bool is_numeric_char(uint32_t cp) {
  if (cp < 0x80) return cp >= '0' && cp <= '9';
  if (cp >= kInvalidByteBase) return false;
  auto cat = utf8proc_category(utf8proc_int32_t(cp));
  return cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO;
}

namespace {

// Decoded characters with their byte ranges.
struct Chars {
  std::vector<uint32_t> cps;
  std::vector<size_t> offsets;  // cps.size() + 1 entries
};

Chars decode(std::string_view s) {
  Chars c;
  uint32_t cp;
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8_next(s, i, cp);
    c.cps.push_back(cp);
    c.offsets.push_back(i);
    i += n;
  }
  c.offsets.push_back(s.size());
  return c;
}

template <class F>
std::string map_chars(std::string_view s, F f) {
  std::string out;
  out.reserve(s.size());
  uint32_t cp;
  size_t index = 0;
  for (size_t i = 0; i < s.size(); ++index) {
    size_t n = utf8_next(s, i, cp);
    if (n == 1 && cp >= 0x80) {
      out += s[i];
    } else {
      utf8_append(out, f(cp, index));
    }
    i += n;
  }
  return out;
}

uint32_t upper(uint32_t cp) { return uint32_t(utf8proc_toupper(utf8proc_int32_t(cp))); }
uint32_t lower(uint32_t cp) { return uint32_t(utf8proc_tolower(utf8proc_int32_t(cp))); }
uint32_t titlecase(uint32_t cp) { return uint32_t(utf8proc_totitle(utf8proc_int32_t(cp))); }
bool is_cased(uint32_t cp) {
  if (cp >= kInvalidByteBase) return false;
  auto cat = utf8proc_category(utf8proc_int32_t(cp));
  return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT;
}

}  // namespace

namespace {

// Start of the character that ends at `end` (exclusive): the lead byte of a valid sequence that
// spans exactly to `end`, else the last byte on its own.
size_t char_start_before(std::string_view s, size_t end) {
  size_t i = end - 1;
  for (size_t back = 0; back < 3 && i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80; ++back) --i;
  uint32_t cp;
  if (i + utf8_next(s, i, cp) == end) return i;
  return end - 1;
}

}  // namespace

std::string py_strip(std::string_view s, bool left, bool right, const std::string* chars) {
  // Walks in from both ends without decoding the middle: templates strip long message texts.
  std::vector<uint32_t> set;
  if (chars) set = decode(*chars).cps;
  auto strip = [&](uint32_t cp) {
    return chars ? std::find(set.begin(), set.end(), cp) != set.end() : is_py_space(cp);
  };
  size_t b = 0, e = s.size();
  uint32_t cp;
  if (left) {
    while (b < e) {
      size_t n = utf8_next(s, b, cp);
      if (!strip(cp)) break;
      b += n;
    }
  }
  if (right) {
    while (e > b) {
      size_t start = char_start_before(s, e);
      utf8_next(s, start, cp);
      if (!strip(cp)) break;
      e = start;
    }
  }
  return std::string(s.substr(b, e - b));
}

std::string py_upper(std::string_view s) { return map_chars(s, [](uint32_t cp, size_t) { return upper(cp); }); }
std::string py_lower(std::string_view s) { return map_chars(s, [](uint32_t cp, size_t) { return lower(cp); }); }

std::string py_capitalize(std::string_view s) {
  return map_chars(s, [](uint32_t cp, size_t i) { return i == 0 ? titlecase(cp) : lower(cp); });
}

std::string py_title(std::string_view s) {
  bool previous_cased = false;
  return map_chars(s, [&](uint32_t cp, size_t) {
    uint32_t out = previous_cased ? lower(cp) : titlecase(cp);
    previous_cased = is_cased(cp);
    return out;
  });
}

std::string jinja_title(std::string_view s) {
  bool word_start = true;
  return map_chars(s, [&](uint32_t cp, size_t) {
    bool separator = is_py_space(cp) || cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<';
    uint32_t out = separator ? cp : word_start ? upper(cp) : lower(cp);
    word_start = separator;
    return out;
  });
}

std::vector<std::string> py_split(std::string_view s, const std::string* sep, int64_t maxsplit) {
  std::vector<std::string> out;
  if (sep) {
    size_t start = 0;
    for (;;) {
      size_t hit = maxsplit < 0 || int64_t(out.size()) < maxsplit ? s.find(*sep, start) : std::string_view::npos;
      if (hit == std::string_view::npos) break;
      out.emplace_back(s.substr(start, hit - start));
      start = hit + sep->size();
    }
    out.emplace_back(s.substr(start));
    return out;
  }
  Chars c = decode(s);
  size_t i = 0, n = c.cps.size();
  while (i < n) {
    while (i < n && is_py_space(c.cps[i])) ++i;
    if (i == n) break;
    if (maxsplit >= 0 && int64_t(out.size()) == maxsplit) {
      // The rest, with trailing whitespace kept as Python keeps it.
      out.emplace_back(s.substr(c.offsets[i]));
      break;
    }
    size_t j = i;
    while (j < n && !is_py_space(c.cps[j])) ++j;
    out.emplace_back(s.substr(c.offsets[i], c.offsets[j] - c.offsets[i]));
    i = j;
  }
  return out;
}

std::vector<std::string> py_rsplit(std::string_view s, const std::string* sep, int64_t maxsplit) {
  std::vector<std::string> out;
  if (sep) {
    size_t end = s.size();
    for (;;) {
      if (maxsplit >= 0 && int64_t(out.size()) >= maxsplit) break;
      if (end < sep->size()) break;
      size_t hit = s.rfind(*sep, end - sep->size());
      if (hit == std::string_view::npos) break;
      out.emplace_back(s.substr(hit + sep->size(), end - hit - sep->size()));
      end = hit;
    }
    out.emplace_back(s.substr(0, end));
    std::reverse(out.begin(), out.end());
    return out;
  }
  Chars c = decode(s);
  size_t j = c.cps.size();
  while (j > 0) {
    while (j > 0 && is_py_space(c.cps[j - 1])) --j;
    if (j == 0) break;
    if (maxsplit >= 0 && int64_t(out.size()) == maxsplit) {
      out.emplace_back(s.substr(0, c.offsets[j]));
      break;
    }
    size_t i = j;
    while (i > 0 && !is_py_space(c.cps[i - 1])) --i;
    out.emplace_back(s.substr(c.offsets[i], c.offsets[j] - c.offsets[i]));
    j = i;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::vector<std::string> py_splitlines(std::string_view s, bool keepends) {
  std::vector<std::string> out;
  Chars c = decode(s);
  size_t start = 0;
  for (size_t i = 0; i < c.cps.size(); ++i) {
    uint32_t cp = c.cps[i];
    bool brk = cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || (cp >= 0x1C && cp <= 0x1E) || cp == 0x85 ||
               cp == 0x2028 || cp == 0x2029;
    if (!brk) continue;
    size_t end = i + 1;
    if (cp == '\r' && i + 1 < c.cps.size() && c.cps[i + 1] == '\n') end = i + 2;
    size_t line_end = keepends ? c.offsets[end] : c.offsets[i];
    out.emplace_back(s.substr(c.offsets[start], line_end - c.offsets[start]));
    start = end;
    i = end - 1;
  }
  if (start < c.cps.size()) out.emplace_back(s.substr(c.offsets[start]));
  return out;
}

std::string py_replace(std::string_view s, std::string_view from, std::string_view to, int64_t count) {
  std::string out;
  int64_t done = 0;
  if (from.empty()) {
    std::vector<size_t> off = char_offsets(s);
    for (size_t k = 0; k + 1 < off.size(); ++k) {
      if (count < 0 || done < count) {
        out += to;
        ++done;
      }
      out += s.substr(off[k], off[k + 1] - off[k]);
    }
    if (count < 0 || done < count) out += to;
    return out;
  }
  size_t start = 0;
  while (count < 0 || done < count) {
    size_t hit = s.find(from, start);
    if (hit == std::string_view::npos) break;
    out += s.substr(start, hit - start);
    out += to;
    start = hit + from.size();
    ++done;
  }
  out += s.substr(start);
  return out;
}

int64_t py_count(std::string_view s, std::string_view needle) {
  if (needle.empty()) return int64_t(char_count(s)) + 1;
  int64_t n = 0;
  for (size_t at = s.find(needle); at != std::string_view::npos; at = s.find(needle, at + needle.size())) ++n;
  return n;
}

int64_t py_find(std::string_view s, std::string_view needle, bool reverse) {
  size_t at = reverse ? s.rfind(needle) : s.find(needle);
  if (at == std::string_view::npos) return -1;
  return int64_t(char_count(s.substr(0, at)));
}

}  // namespace tessera::lm::chat_template
