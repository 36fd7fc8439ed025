#include "lm/chat_template/source.h"

#include <algorithm>

namespace tessera::lm::chat_template {

namespace {

// Length of the line break starting at s[i] (Jinja 3 knows only \n, \r\n and \r), or 0.
size_t line_break_len(std::string_view s, size_t i) {
  if (s[i] == '\r') return (i + 1 < s.size() && s[i + 1] == '\n') ? 2 : 1;
  return s[i] == '\n' ? 1 : 0;
}

}  // namespace

std::string normalize_newlines(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t n = line_break_len(s, i);
    if (n == 0) {
      out += s[i++];
      continue;
    }
    i += n;
    // The break that ends the last line is not joined to anything.
    if (i < s.size()) out += '\n';
  }
  return out;
}

Source::Source(std::string name, std::string_view raw) : name_(std::move(name)), text_(normalize_newlines(raw)) {
  line_starts_.push_back(0);
  for (size_t i = 0; i < text_.size(); ++i)
    if (text_[i] == '\n') line_starts_.push_back(i + 1);
}

std::string Source::where(size_t pos) const {
  pos = std::min(pos, text_.size());
  size_t line = std::upper_bound(line_starts_.begin(), line_starts_.end(), pos) - line_starts_.begin();
  size_t col = 1;
  for (size_t i = line_starts_[line - 1]; i < pos; ++i)
    if ((static_cast<unsigned char>(text_[i]) & 0xC0) != 0x80) ++col;
  return name_ + ":" + std::to_string(line) + ":" + std::to_string(col);
}

std::string Source::snippet(size_t pos) const {
  pos = std::min(pos, text_.size());
  size_t line = std::upper_bound(line_starts_.begin(), line_starts_.end(), pos) - line_starts_.begin();
  size_t begin = line_starts_[line - 1];
  size_t end = text_.find('\n', begin);
  if (end == std::string::npos) end = text_.size();
  // Long lines (minified templates are one line) are cut to a window around the position.
  constexpr size_t kWindow = 60;
  size_t from = pos > begin + kWindow ? pos - kWindow : begin;
  size_t to = std::min(end, pos + kWindow);
  while (from > begin && (static_cast<unsigned char>(text_[from]) & 0xC0) == 0x80) --from;
  while (to < end && (static_cast<unsigned char>(text_[to]) & 0xC0) == 0x80) ++to;
  std::string out = "  ";
  if (from > begin) out += "...";
  out += text_.substr(from, to - from);
  if (to < end) out += "...";
  out += "\n  ";
  if (from > begin) out += "   ";
  for (size_t i = from; i < pos; ++i) {
    unsigned char c = static_cast<unsigned char>(text_[i]);
    if ((c & 0xC0) != 0x80) out += c == '\t' ? '\t' : ' ';
  }
  out += '^';
  return out;
}

void throw_syntax(size_t pos, std::string message) {
  throw TemplateError(TemplateError::Kind::Syntax, pos, std::move(message));
}

void throw_runtime(std::string message, size_t pos) {
  throw TemplateError(TemplateError::Kind::Runtime, pos, std::move(message));
}

std::string format_error(const Source& source, const TemplateError& error) {
  if (error.pos == kNoPos) return "[chat_template] " + source.name() + ": " + error.message;
  return "[chat_template] " + source.where(error.pos) + ": " + error.message + "\n" + source.snippet(error.pos);
}

}  // namespace tessera::lm::chat_template
