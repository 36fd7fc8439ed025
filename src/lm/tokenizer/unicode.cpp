#include "lm/tokenizer/unicode.h"

#include <utf8proc.h>

#include <cstdlib>
#include <memory>

namespace tessera::lm::detail {

size_t utf8_valid_len(std::string_view s, size_t i) {
  auto at = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = at(i);
  size_t n = s.size() - i;
  if (c < 0x80) return 1;
  auto cont = [&](size_t k) { return (at(k) & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) return n >= 2 && cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (n < 3 || !cont(i + 1) || !cont(i + 2)) return 0;
    unsigned char c1 = at(i + 1);
    if (c == 0xE0 && c1 < 0xA0) return 0;  // overlong
    if (c == 0xED && c1 >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (n < 4 || !cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    unsigned char c1 = at(i + 1);
    if (c == 0xF0 && c1 < 0x90) return 0;  // overlong
    if (c == 0xF4 && c1 >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

size_t utf8_decode(std::string_view s, size_t i, char32_t& cp) {
  size_t n = utf8_valid_len(s, i);
  auto at = [&](size_t k) { return char32_t(static_cast<unsigned char>(s[k])); };
  switch (n) {
    case 1: cp = at(i); break;
    case 2: cp = ((at(i) & 0x1F) << 6) | (at(i + 1) & 0x3F); break;
    case 3: cp = ((at(i) & 0x0F) << 12) | ((at(i + 1) & 0x3F) << 6) | (at(i + 2) & 0x3F); break;
    case 4:
      cp = ((at(i) & 0x07) << 18) | ((at(i + 1) & 0x3F) << 12) | ((at(i + 2) & 0x3F) << 6) | (at(i + 3) & 0x3F);
      break;
    default: cp = 0xFFFD;
  }
  return n;
}

void utf8_append(std::string& out, char32_t cp) {
  utf8proc_uint8_t buf[4];
  utf8proc_ssize_t n = utf8proc_encode_char(utf8proc_int32_t(cp), buf);
  if (n <= 0) n = utf8proc_encode_char(0xFFFD, buf);  // past U+10FFFF
  out.append(reinterpret_cast<const char*>(buf), size_t(n));
}

bool utf8_is_valid(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    size_t n = utf8_valid_len(s, i);
    if (!n) return false;
    i += n;
  }
  return true;
}

size_t utf8_incomplete_tail(std::string_view s) {
  // Look back at most 3 bytes for a lead byte whose sequence runs past the end and whose
  // continuation bytes so far are the ones a valid character could have.
  for (size_t back = 1; back <= 3 && back <= s.size(); ++back) {
    size_t i = s.size() - back;
    unsigned char c = static_cast<unsigned char>(s[i]);
    if ((c & 0xC0) == 0x80) continue;
    size_t need = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 0;
    if (need <= back) return 0;
    // The bytes present must be a prefix of some valid sequence: pad with a continuation byte
    // that keeps every constraint (0x80 fails the E0/F0 overlong checks, 0xA0/0x90 fix those).
    std::string probe(s.substr(i));
    while (probe.size() < need) {
      unsigned char pad = 0x80;
      if (probe.size() == 1 && c == 0xE0) pad = 0xA0;
      if (probe.size() == 1 && c == 0xF0) pad = 0x90;
      probe += char(pad);
    }
    return utf8_valid_len(probe, 0) == need ? back : 0;
  }
  return 0;
}

std::string utf8_sanitize(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8_valid_len(s, i);
    if (n) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

bool is_unicode_whitespace(char32_t cp) {
  // Unicode White_Space, what Rust's char::is_whitespace tests.
  if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D)) return true;
  if (cp < 0x85) return false;
  if (cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A)) return true;
  return cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

bool is_numeric(char32_t cp) {
  auto cat = utf8proc_category(utf8proc_int32_t(cp));
  return cat == UTF8PROC_CATEGORY_ND || cat == UTF8PROC_CATEGORY_NL || cat == UTF8PROC_CATEGORY_NO;
}

namespace {

bool is_ascii(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

// Applies f to each maximal run of valid UTF-8 and copies invalid bytes through.
template <class F>
std::string map_valid_runs(std::string_view s, F&& f) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    size_t start = i;
    while (i < s.size()) {
      if (static_cast<unsigned char>(s[i]) < 0x80) {
        ++i;
        continue;
      }
      size_t n = utf8_valid_len(s, i);
      if (!n) break;
      i += n;
    }
    if (i > start) f(s.substr(start, i - start), out);
    while (i < s.size() && !utf8_valid_len(s, i)) out += s[i++];
  }
  return out;
}

}  // namespace

std::string unicode_normalize(std::string_view s, NormalForm form) {
  if (is_ascii(s)) return std::string(s);  // ASCII is invariant under all four forms
  int options = UTF8PROC_STABLE;
  switch (form) {
    case NormalForm::NFC: options |= UTF8PROC_COMPOSE; break;
    case NormalForm::NFD: options |= UTF8PROC_DECOMPOSE; break;
    case NormalForm::NFKC: options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
    case NormalForm::NFKD: options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
  }
  auto normalize_span = [&](std::string_view span, std::string& out) {
    utf8proc_uint8_t* mapped = nullptr;
    utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(span.data()),
                                      utf8proc_ssize_t(span.size()), &mapped, utf8proc_option_t(options));
    std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owned(mapped, &std::free);
    if (n < 0) {
      out.append(span);  // utf8proc refuses what we validated: keep the text rather than lose it
      return;
    }
    out.append(reinterpret_cast<const char*>(mapped), size_t(n));
  };
  // ASCII characters are unchanged by every form and never combine with what follows them, so
  // only the non-ASCII stretches (with the one character before, which a combining mark may
  // compose with) go through utf8proc; mostly-ASCII text then costs little more than a copy.
  return map_valid_runs(s, [&](std::string_view run, std::string& out) {
    size_t i = 0;
    while (i < run.size()) {
      size_t j = i;
      while (j < run.size() && static_cast<unsigned char>(run[j]) < 0x80) ++j;
      if (j == run.size()) {
        out.append(run.substr(i));
        return;
      }
      size_t start = j > i ? j - 1 : j;
      out.append(run.substr(i, start - i));
      size_t end = j;
      while (end < run.size() && static_cast<unsigned char>(run[end]) >= 0x80) ++end;
      normalize_span(run.substr(start, end - start), out);
      i = end;
    }
  });
}

std::string unicode_lowercase(std::string_view s) {
  return map_valid_runs(s, [](std::string_view run, std::string& out) {
    for (size_t i = 0; i < run.size();) {
      char32_t cp;
      i += utf8_decode(run, i, cp);
      utf8_append(out, char32_t(utf8proc_tolower(utf8proc_int32_t(cp))));
    }
  });
}

const std::array<char32_t, 256>& byte_to_unicode() {
  // Printable Latin-1 bytes stand for themselves; the other 68 bytes take U+0100 onwards in order.
  static const std::array<char32_t, 256> table = [] {
    std::array<char32_t, 256> t{};
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      t[b] = printable ? char32_t(b) : next++;
    }
    return t;
  }();
  return table;
}

int unicode_to_byte(char32_t cp) {
  static const std::array<int16_t, 324> inverse = [] {
    std::array<int16_t, 324> t;
    t.fill(-1);
    const auto& fwd = byte_to_unicode();
    for (int b = 0; b < 256; ++b) t[fwd[b]] = int16_t(b);
    return t;
  }();
  return cp < inverse.size() ? inverse[cp] : -1;
}

}  // namespace tessera::lm::detail
