#include "lm/chat_template/lexer.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string_view>

#include "lm/chat_template/text.h"

namespace tessera::lm::chat_template {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void rstrip_whitespace(std::string& s) {
  while (!s.empty() && is_space(s.back())) s.pop_back();
}

// lstrip_blocks: drops the spaces and tabs that are all a line holds before a block tag.
// `line_starting` says whether the text begins at the start of a line (the template start, or
// right after a tag whose end swallowed a newline).
void lstrip_line(std::string& s, bool line_starting) {
  size_t line = s.rfind('\n');
  size_t from = line == std::string::npos ? 0 : line + 1;
  if (from == 0 && !line_starting) return;
  for (size_t i = from; i < s.size(); ++i)
    if (s[i] != ' ' && s[i] != '\t') return;
  s.resize(from);
}

class Lexer {
 public:
  explicit Lexer(const Source& source) : src_(source.text()) {}

  std::vector<Token> run() {
    while (pos_ < src_.size()) {
      size_t tag = find_tag(pos_);
      std::string text = src_.substr(pos_, tag - pos_);
      if (tag == src_.size()) {
        emit_text(std::move(text), pos_);
        pos_ = tag;
        break;
      }
      char opener = src_[tag + 1];
      char modifier = tag + 2 < src_.size() ? src_[tag + 2] : '\0';
      if (modifier == '-')
        rstrip_whitespace(text);
      else if (opener != '{' && modifier != '+')
        lstrip_line(text, line_starting_);
      emit_text(std::move(text), pos_);
      size_t inner = tag + 2 + ((modifier == '-' || modifier == '+') ? 1 : 0);
      if (opener == '#') {
        comment(tag, inner);
      } else if (opener == '%' && raw_block(tag, inner)) {
      } else {
        tag_contents(opener == '{', tag, inner);
      }
    }
    tokens_.push_back(Token{Tok::End, src_.size(), {}});
    return std::move(tokens_);
  }

 private:
  size_t find_tag(size_t from) const {
    for (size_t i = src_.find('{', from); i != std::string::npos; i = src_.find('{', i + 1)) {
      if (i + 1 < src_.size() && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) return i;
    }
    return src_.size();
  }

  void emit_text(std::string text, size_t pos) {
    if (!text.empty()) tokens_.push_back(Token{Tok::Text, pos, std::move(text)});
  }

  // Consumes what follows a closing delimiter at `after`: `-` strips all whitespace, `+` keeps
  // everything, a plain block or comment end drops one newline.
  void finish_tag(size_t after, char modifier, bool block_like) {
    pos_ = after;
    line_starting_ = false;
    if (modifier == '-') {
      while (pos_ < src_.size() && is_space(src_[pos_])) line_starting_ = src_[pos_++] == '\n';
    } else if (modifier != '+' && block_like && pos_ < src_.size() && src_[pos_] == '\n') {
      ++pos_;
      line_starting_ = true;
    }
  }

  void comment(size_t tag, size_t inner) {
    size_t end = src_.find("#}", inner);
    if (end == std::string::npos) throw_syntax(tag, "unterminated comment: missing '#}'");
    char modifier = end > inner ? src_[end - 1] : '\0';
    finish_tag(end + 2, modifier, true);
  }

  // Matches `{%[-+]? raw [-]?%}` at tag; on success the raw text up to the matching endraw
  // becomes one text token.
  bool raw_block(size_t tag, size_t inner) {
    size_t p = inner;
    while (p < src_.size() && is_space(src_[p])) ++p;
    if (src_.compare(p, 3, "raw") != 0) return false;
    p += 3;
    while (p < src_.size() && is_space(src_[p])) ++p;
    char modifier = '\0';
    if (p < src_.size() && src_[p] == '-') modifier = src_[p++];
    if (src_.compare(p, 2, "%}") != 0) return false;
    // Jinja applies no trim_blocks after the opening raw tag.
    pos_ = p + 2;
    line_starting_ = false;
    if (modifier == '-')
      while (pos_ < src_.size() && is_space(src_[pos_])) line_starting_ = src_[pos_++] == '\n';
    bool content_line_starting = line_starting_;
    for (size_t open = src_.find("{%", pos_); open != std::string::npos; open = src_.find("{%", open + 2)) {
      size_t q = open + 2;
      char end_modifier = '\0';
      if (q < src_.size() && (src_[q] == '-' || src_[q] == '+')) end_modifier = src_[q++];
      while (q < src_.size() && is_space(src_[q])) ++q;
      if (src_.compare(q, 6, "endraw") != 0) continue;
      q += 6;
      while (q < src_.size() && is_space(src_[q])) ++q;
      char close_modifier = '\0';
      if (q < src_.size() && (src_[q] == '-' || src_[q] == '+')) close_modifier = src_[q++];
      if (src_.compare(q, 2, "%}") != 0) continue;
      std::string text = src_.substr(pos_, open - pos_);
      if (end_modifier == '-')
        rstrip_whitespace(text);
      else if (end_modifier != '+')
        lstrip_line(text, content_line_starting);
      emit_text(std::move(text), pos_);
      finish_tag(q + 2, close_modifier, true);
      return true;
    }
    throw_syntax(tag, "unterminated raw block: missing '{% endraw %}'");
  }

  void tag_contents(bool variable, size_t tag, size_t inner) {
    tokens_.push_back(Token{variable ? Tok::VarBegin : Tok::BlockBegin, tag, {}});
    std::vector<std::pair<char, size_t>> brackets;
    size_t p = inner;
    for (;;) {
      while (p < src_.size() && is_space(src_[p])) ++p;
      if (p >= src_.size())
        throw_syntax(tag, variable ? "unterminated '{{': missing '}}'" : "unterminated '{%': missing '%}'");
      if (brackets.empty()) {
        char c = src_[p];
        const char* close = variable ? "}}" : "%}";
        char modifier = '\0';
        size_t at = p;
        if ((c == '-' || (c == '+' && !variable)) && src_.compare(p + 1, 2, close) == 0) {
          modifier = c;
          at = p + 1;
        }
        if (src_.compare(at, 2, close) == 0) {
          tokens_.push_back(Token{variable ? Tok::VarEnd : Tok::BlockEnd, p, {}});
          finish_tag(at + 2, modifier, !variable);
          return;
        }
      }
      p = token(p, brackets);
    }
  }

  // Lexes one token at p and returns the position after it.
  size_t token(size_t p, std::vector<std::pair<char, size_t>>& brackets) {
    char c = src_[p];
    if (is_digit(c)) return number(p);
    if (is_name_start(c)) {
      size_t e = p + 1;
      while (e < src_.size() && is_name_char(src_[e])) ++e;
      tokens_.push_back(Token{Tok::Name, p, src_.substr(p, e - p)});
      return e;
    }
    if (c == '\'' || c == '"') return string_literal(p);
    static constexpr std::string_view kTwo[] = {"**", "//", "==", "!=", "<=", ">="};
    for (std::string_view op : kTwo) {
      if (src_.compare(p, 2, op) == 0) {
        tokens_.push_back(Token{Tok::Op, p, std::string(op)});
        return p + 2;
      }
    }
    static constexpr std::string_view kOne = "+-*/%~<>=.,:|()[]{}";
    if (kOne.find(c) == std::string_view::npos) {
      std::string shown = (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f)
                              ? "byte 0x" + std::string(1, "0123456789abcdef"[(c >> 4) & 15]) + "0123456789abcdef"[c & 15]
                              : "'" + std::string(1, c) + "'";
      throw_syntax(p, "unexpected character " + shown + " in a tag");
    }
    if (c == '(' || c == '[' || c == '{') {
      brackets.emplace_back(c, p);
    } else if (c == ')' || c == ']' || c == '}') {
      char want = c == ')' ? '(' : c == ']' ? '[' : '{';
      if (brackets.empty()) throw_syntax(p, std::string("unexpected '") + c + "'");
      if (brackets.back().first != want)
        throw_syntax(p, std::string("unexpected '") + c + "', expected the '" + brackets.back().first +
                            "' opened before to be closed first");
      brackets.pop_back();
    }
    tokens_.push_back(Token{Tok::Op, p, std::string(1, c)});
    return p + 1;
  }

  // Digits with optional `_` separators.
  size_t digits(size_t p, std::string& out) const {
    while (p < src_.size()) {
      if (is_digit(src_[p])) {
        out += src_[p++];
      } else if (src_[p] == '_' && p + 1 < src_.size() && is_digit(src_[p + 1]) && !out.empty()) {
        ++p;
      } else {
        break;
      }
    }
    return p;
  }

  size_t number(size_t start) {
    std::string spelled;
    size_t p = digits(start, spelled);
    bool after_dot = !tokens_.empty() && tokens_.back().kind == Tok::Op && tokens_.back().text == ".";
    bool is_float = false;
    // `x.0.1` is two subscripts, not a float, hence no fraction right after a dot.
    if (!after_dot && p + 1 < src_.size() && src_[p] == '.' && is_digit(src_[p + 1])) {
      spelled += '.';
      p = digits(p + 1, spelled);
      is_float = true;
    }
    if (!after_dot && p < src_.size() && (src_[p] == 'e' || src_[p] == 'E')) {
      size_t q = p + 1;
      std::string exponent = "e";
      if (q < src_.size() && (src_[q] == '+' || src_[q] == '-')) exponent += src_[q++];
      if (q < src_.size() && is_digit(src_[q])) {
        std::string exp_digits;
        p = digits(q, exp_digits);
        spelled += exponent + exp_digits;
        is_float = true;
      }
    }
    Token t{is_float ? Tok::Float : Tok::Int, start, spelled};
    if (is_float) {
      t.float_value = std::strtod(spelled.c_str(), nullptr);
    } else {
      errno = 0;
      unsigned long long v = std::strtoull(spelled.c_str(), nullptr, 10);
      if (errno == ERANGE || v > uint64_t(INT64_MAX)) throw_syntax(start, "integer literal " + spelled + " is too large");
      t.int_value = int64_t(v);
    }
    tokens_.push_back(std::move(t));
    return p;
  }

  // Python string literal escapes (Jinja decodes literals with unicode-escape).
  size_t string_literal(size_t start) {
    char quote = src_[start];
    std::string value;
    size_t p = start + 1;
    for (;;) {
      if (p >= src_.size()) throw_syntax(start, "unterminated string literal");
      char c = src_[p];
      if (c == quote) break;
      if (c != '\\') {
        value += c;
        ++p;
        continue;
      }
      if (p + 1 >= src_.size()) throw_syntax(start, "unterminated string literal");
      char e = src_[p + 1];
      p += 2;
      switch (e) {
        case '\n': break;
        case '\\': value += '\\'; break;
        case '\'': value += '\''; break;
        case '"': value += '"'; break;
        case 'a': value += '\a'; break;
        case 'b': value += '\b'; break;
        case 'f': value += '\f'; break;
        case 'n': value += '\n'; break;
        case 'r': value += '\r'; break;
        case 't': value += '\t'; break;
        case 'v': value += '\v'; break;
        case 'x': case 'u': case 'U': {
          int width = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          uint32_t cp = 0;
          for (int i = 0; i < width; ++i, ++p) {
            int h = p < src_.size() ? hex_value(src_[p]) : -1;
            if (h < 0) throw_syntax(p - 2 - i, std::string("truncated \\") + e + " escape in a string literal");
            cp = cp * 16 + uint32_t(h);
          }
          // A UTF-16 surrogate pair written as two \u escapes is one character.
          if (cp >= 0xD800 && cp < 0xDC00 && src_.compare(p, 2, "\\u") == 0 && p + 6 <= src_.size()) {
            uint32_t low = 0;
            bool ok = true;
            for (size_t i = p + 2; i < p + 6; ++i) {
              int h = hex_value(src_[i]);
              if (h < 0) ok = false;
              low = low * 16 + uint32_t(std::max(h, 0));
            }
            if (ok && low >= 0xDC00 && low < 0xE000) {
              cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
              p += 6;
            }
          }
          if (cp > 0x10FFFF) throw_syntax(p, "\\U escape beyond U+10FFFF in a string literal");
          if (cp >= 0xD800 && cp < 0xE000) cp = 0xFFFD;
          utf8_append(value, cp);
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            uint32_t cp = uint32_t(e - '0');
            for (int i = 0; i < 2 && p < src_.size() && src_[p] >= '0' && src_[p] <= '7'; ++i, ++p)
              cp = cp * 8 + uint32_t(src_[p] - '0');
            utf8_append(value, cp);
          } else {
            // Python keeps unknown escapes as they are.
            value += '\\';
            value += e;
          }
      }
    }
    tokens_.push_back(Token{Tok::String, start, std::move(value)});
    return p + 1;
  }

  const std::string& src_;
  size_t pos_ = 0;
  bool line_starting_ = true;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize(const Source& source) { return Lexer(source).run(); }

const char* token_kind_name(Tok kind) {
  switch (kind) {
    case Tok::Text: return "text";
    case Tok::VarBegin: return "'{{'";
    case Tok::VarEnd: return "'}}'";
    case Tok::BlockBegin: return "'{%'";
    case Tok::BlockEnd: return "'%}'";
    case Tok::Name: return "name";
    case Tok::String: return "string";
    case Tok::Int: return "integer";
    case Tok::Float: return "float";
    case Tok::Op: return "operator";
    case Tok::End: return "the end of the template";
  }
  return "token";
}

}  // namespace tessera::lm::chat_template
