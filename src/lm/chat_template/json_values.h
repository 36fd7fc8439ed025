// Conversion between JSON (the messages, tools and context given to a render) and template
// values, and json.dumps as transformers' tojson filter calls it.
#pragma once

#include <optional>
#include <string>

#include "lm/chat_template/value.h"
#include "tessera/lm/chat_template.h"

namespace tessera::lm::chat_template {

class Interpreter;

// Objects keep their key order. Nesting deeper than `depth` is an error.
Value from_json(Heap& heap, const ChatJson& j, int depth);

struct JsonStyle {
  std::optional<std::string> indent;  // null: everything on one line
  bool ensure_ascii = false;
  std::string item_separator = ", ";
  std::string key_separator = ": ";
  bool sort_keys = false;
};
// Python's json.dumps output (float repr, NaN/Infinity, non-string keys as strings); undefined,
// namespaces and functions are not serializable.
std::string to_json(Interpreter& in, const Value& v, const JsonStyle& style);

}  // namespace tessera::lm::chat_template
