// The builtin tables (filters, tests, methods of str/dict/list, globals) and the objects they
// create (namespace, loop state, functions), plus argument binding shared by all of them.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lm/chat_template/value.h"

namespace tessera::lm::chat_template {

class Interpreter;
struct Scope;

// Binds call arguments to a Python-style signature: positional first, then by keyword.
// Unknown keywords, missing required arguments and (unless `variadic`, which collects them in
// rest()) too many positional arguments are errors naming the function.
class Params {
 public:
  Params(std::string_view function, const Args& args, std::initializer_list<const char*> names, size_t required = 0,
         bool variadic = false);
  bool has(size_t i) const { return slots_[i] != nullptr; }
  const Value& get(size_t i) const { return *slots_[i]; }
  Value get_or(size_t i, Value fallback) const { return slots_[i] ? *slots_[i] : std::move(fallback); }
  // Typed accessors with a clear error when the argument has the wrong type.
  int64_t int_or(size_t i, int64_t fallback) const;
  bool bool_or(size_t i, bool fallback) const;
  std::optional<std::string> string_opt(size_t i) const;
  // Positional arguments past the named ones (for *args).
  const std::vector<const Value*>& rest() const { return rest_; }

 private:
  std::string function_;
  std::vector<const char*> names_;
  std::vector<const Value*> slots_;
  std::vector<const Value*> rest_;
};

using FilterFn = Value (*)(Interpreter&, const Value&, Args&);
using TestFn = bool (*)(Interpreter&, const Value&, Args&);

// Null when there is no such filter/test.
FilterFn find_filter(std::string_view name);
TestFn find_test(std::string_view name);

// Methods of strings, dicts and lists (and objects' own, such as loop.cycle).
bool has_method(const Value& self, const std::string& name);
Value call_method(Interpreter& in, const Value& self, const std::string& name, Args& args);

// range, namespace, dict, raise_exception, strftime_now.
void install_globals(Interpreter& in, Scope& scope);

// namespace(): attributes set with {% set ns.attr = value %}.
class Namespace : public Object {
 public:
  explicit Namespace(DictData* attrs) : attrs_(attrs) {}
  const char* type_name() const override { return "Namespace"; }
  Value attr(const std::string& name, Interpreter& in) override;
  void set_attr(const std::string& name, Value value) override;
  std::string repr(int depth) const override;

 private:
  DictData* attrs_;
};

// The `loop` variable of a for loop.
class LoopState : public Object {
 public:
  explicit LoopState(ListData* items) : items_(items) {}
  const char* type_name() const override { return "LoopContext"; }
  Value attr(const std::string& name, Interpreter& in) override;
  void set_index(size_t i) { index_ = i; }
  // loop.cycle(a, b, ...) and loop.changed(x).
  Value method(const std::string& name, Interpreter& in, Args& args);
  static bool has_method(const std::string& name) { return name == "cycle" || name == "changed"; }

 private:
  ListData* items_;
  size_t index_ = 0;
  bool has_last_changed_ = false;
  Value last_changed_;
};

// A builtin function value.
class NativeFunction : public Callable {
 public:
  using Fn = Value (*)(Interpreter&, Args&);
  NativeFunction(std::string name, Fn fn) : Callable(std::move(name)), fn_(fn) {}
  Value call(Interpreter& in, Args& args) override { return fn_(in, args); }

 private:
  Fn fn_;
};

// `s.startswith` taken without calling it right away.
class BoundMethod : public Callable {
 public:
  BoundMethod(Value self, std::string name) : Callable(name), self_(std::move(self)), method_(std::move(name)) {}
  Value call(Interpreter& in, Args& args) override { return call_method(in, self_, method_, args); }

 private:
  Value self_;
  std::string method_;
};

// Python's printf-style `fmt % args` (the format filter too): %s %r %d %i %f %e %g %x %o %c %%
// with flags, width and precision.
// `mapping_like`: a single argument that Python would accept as a mapping (no error for unused
// arguments).
std::string percent_format(Interpreter& in, const std::string& fmt, const std::vector<Value>& args,
                           bool mapping_like = false);

}  // namespace tessera::lm::chat_template
