// The template text as the lexer sees it, and the errors that point into it.
#pragma once

#include <cstddef>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::lm::chat_template {

// Jinja splits the source into lines at \n, \r\n and \r and joins them with '\n', which also
// drops one trailing line break; templates render differently
// without that, so positions refer to the normalized text.
std::string normalize_newlines(std::string_view source);

class Source {
 public:
  Source(std::string name, std::string_view raw);
  const std::string& name() const { return name_; }
  const std::string& text() const { return text_; }
  // "name:line:column" (1-based, the column counted in characters).
  std::string where(size_t pos) const;
  // The line holding pos and a caret under it.
  std::string snippet(size_t pos) const;

 private:
  std::string name_;
  std::string text_;
  std::vector<size_t> line_starts_;
};

constexpr size_t kNoPos = size_t(-1);

// Raised inside the engine; the public API turns it into std::invalid_argument (syntax) or
// std::runtime_error (render) with the position and a snippet. A runtime error raised where no
// position is known (inside a filter) gets the position of the expression that called it.
struct TemplateError : std::exception {
  enum class Kind { Syntax, Runtime };
  TemplateError(Kind k, size_t p, std::string m) : kind(k), pos(p), message(std::move(m)) {}
  const char* what() const noexcept override { return message.c_str(); }
  Kind kind;
  size_t pos;
  std::string message;
};

[[noreturn]] void throw_syntax(size_t pos, std::string message);
[[noreturn]] void throw_runtime(std::string message, size_t pos = kNoPos);

// "[chat_template] name:3:7: message" followed by the snippet.
std::string format_error(const Source& source, const TemplateError& error);

}  // namespace tessera::lm::chat_template
