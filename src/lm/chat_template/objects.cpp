#include "lm/chat_template/builtins.h"
#include "lm/chat_template/interpreter.h"
#include "lm/chat_template/source.h"

namespace tessera::lm::chat_template {

Value Namespace::attr(const std::string& name, Interpreter&) {
  if (const Value* v = attrs_->find(std::string_view(name))) return *v;
  return Value::undefined("'Namespace' object has no attribute '" + name + "'");
}

void Namespace::set_attr(const std::string& name, Value value) { attrs_->set(Value(name), std::move(value)); }

std::string Namespace::repr(int depth) const { return "<Namespace " + chat_template::repr(Value(attrs_), depth) + ">"; }

Value LoopState::attr(const std::string& name, Interpreter&) {
  const auto& items = items_->items;
  int64_t n = int64_t(items.size()), i = int64_t(index_);
  if (name == "index") return Value(i + 1);
  if (name == "index0") return Value(i);
  if (name == "revindex") return Value(n - i);
  if (name == "revindex0") return Value(n - i - 1);
  if (name == "first") return Value(i == 0);
  if (name == "last") return Value(i == n - 1);
  if (name == "length") return Value(n);
  if (name == "depth") return Value(int64_t(1));
  if (name == "depth0") return Value(int64_t(0));
  if (name == "previtem") return i > 0 ? items[size_t(i - 1)] : Value::undefined("there is no previous item");
  if (name == "nextitem") return i + 1 < n ? items[size_t(i + 1)] : Value::undefined("there is no next item");
  return Value::undefined("'LoopContext' object has no attribute '" + name + "'");
}

Value LoopState::method(const std::string& name, Interpreter& in, Args& args) {
  if (name == "cycle") {
    if (!args.keyword.empty()) throw_runtime("loop.cycle() takes no keyword arguments");
    if (args.positional.empty()) throw_runtime("loop.cycle() needs at least one value to cycle through");
    return args.positional[index_ % args.positional.size()];
  }
  // changed(*values): true on the first call and whenever the values differ from the last call.
  Value current(in.heap().list(args.positional));
  bool changed = !has_last_changed_ || !equals(current, last_changed_, in.value_depth());
  has_last_changed_ = true;
  last_changed_ = current;
  return Value(changed);
}

}  // namespace tessera::lm::chat_template
