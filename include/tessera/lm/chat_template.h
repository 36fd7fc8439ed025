// Chat templates: the Jinja2 subset that Hugging Face tokenizer_config.json chat templates use,
// rendered the way transformers' apply_chat_template renders them (trim_blocks and lstrip_blocks
// on, no autoescaping, `tojson` as json.dumps with ensure_ascii=False, the globals
// raise_exception and strftime_now, loop controls and the {% generation %} tag).
//
// Supported: {{ }}, {% %}, {# #} with `-`/`+` whitespace control, if/elif/else, for (with
// unpacking, `if` filters, else, loop.*, break/continue), set (names, tuples, namespace
// attributes, block form), macro and call blocks, filter blocks, with, raw; Python-style
// expressions (literals, attribute/subscript/slice access, arithmetic, comparisons, `in`, `is`
// tests, conditional expressions), the common filters and tests, and str/dict/list methods.
// Values behave as their Python counterparts: `{{ none }}` prints None, floats print as Python
// repr does, strings index and slice by character, and a missing name or key is an undefined that
// renders as nothing and is falsy.
//
// Errors: a template that does not parse raises std::invalid_argument with name:line:column and
// the offending line with a caret under the position, e.g.
//   [chat_template] chat_template:2:23: unexpected end of template: expected 'elif' or 'else' or
//   'endif' to close the 'if' at chat_template:2:1
// Errors while rendering (an unknown filter, a bad call, a type error, raise_exception) raise
// std::runtime_error in the same form, naming the template position:
//   [chat_template] chat_template:1:15: no filter named 'nosuch'
// Limits on nesting, steps, output and memory keep hostile templates from hanging or exhausting
// the stack (see ChatTemplateLimits).
//
// This header needs nlohmann_json (header-only) on the include path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace tessera::lm {

// Key order matters (tool schemas are printed with tojson in the order given), so inputs are
// ordered_json; a plain nlohmann::json converts implicitly, with its keys in sorted order.
using ChatJson = nlohmann::ordered_json;

struct ChatTemplateLimits {
  // Syntax nesting, and at render time the nesting of statements, expressions, macro calls and
  // printed values together.
  size_t max_depth = 256;
  // Statements, expressions and loop iterations executed by one render (and the elements of
  // lists that builtins such as range() create).
  uint64_t max_steps = 20'000'000;
  // The rendered text, and any single string built along the way.
  size_t max_output_bytes = size_t(64) << 20;
  // Approximate bytes of the lists, dicts and scopes one render creates.
  size_t max_memory_bytes = size_t(1) << 30;
};

struct ChatTemplateOptions {
  bool add_generation_prompt = false;
  // A list of tool schemas, or null when no tools are given (the template sees `tools` = none).
  ChatJson tools = nullptr;
  // RAG documents, or null.
  ChatJson documents = nullptr;
  // Special tokens; unset ones are undefined in the template unless the template source (see
  // ChatTemplateSource) provides them.
  std::optional<std::string> bos_token, eos_token;
  // More variables (an object), e.g. {"enable_thinking": false}; they override the ones above.
  ChatJson extra_context = ChatJson::object();
  ChatTemplateLimits limits;
};

namespace chat_template {
struct Program;
}

// A parsed template, cheap to copy and safe to render from several threads at once.
class ChatTemplate {
 public:
  // `name` stands for the template in error messages.
  static ChatTemplate parse(std::string_view source, std::string name = "chat_template",
                            const ChatTemplateLimits& limits = {});

  // Renders with `context` (an object) as the template's variables, plus raise_exception,
  // strftime_now and the Jinja globals (range, namespace, dict).
  std::string render(const ChatJson& context, const ChatTemplateLimits& limits = {}) const;
  // Renders a conversation the way transformers' apply_chat_template does: messages, tools,
  // documents, add_generation_prompt, the special tokens and the extra context.
  std::string apply(const ChatJson& messages, const ChatTemplateOptions& options = {}) const;

  const std::string& name() const;

 private:
  explicit ChatTemplate(std::shared_ptr<const chat_template::Program> program) : program_(std::move(program)) {}
  std::shared_ptr<const chat_template::Program> program_;
};

// Parses and renders in one go.
std::string apply_chat_template(std::string_view template_source, const ChatJson& messages,
                                const ChatTemplateOptions& options = {});

// The chat template a tokenizer ships, with the special tokens the template may refer to.
struct ChatTemplateSource {
  std::string source;
  // "chat_template" for the plain string form, the entry's name for the list-of-named-templates
  // form, or "chat_template.jinja".
  std::string name;
  // The tokenizer's special tokens that are set (strings, or AddedToken objects' content).
  std::optional<std::string> bos_token, eos_token, unk_token, pad_token;
};

// Picks the template from a parsed tokenizer_config.json: the string `chat_template`, or from
// the list form [{"name", "template"}, ...] the one named `template_name` when given, else
// "tool_use" when `with_tools` and present, else "default". Throws std::invalid_argument when
// there is no such template.
ChatTemplateSource chat_template_from_config(const ChatJson& tokenizer_config, bool with_tools = false,
                                             const std::string& template_name = "");
// The same from a tokenizer_config.json file, a .jinja file, or a model directory, searched in
// transformers' order: chat_template.jinja, tokenizer_config.json's chat_template, a processor's
// chat_template.json (special tokens from tokenizer_config.json in every case).
ChatTemplateSource load_chat_template(const std::string& path, bool with_tools = false,
                                      const std::string& template_name = "");

// Renders with the tokenizer's template; options' special tokens override the source's.
std::string apply_chat_template(const ChatTemplateSource& source, const ChatJson& messages,
                                const ChatTemplateOptions& options = {});

}  // namespace tessera::lm
