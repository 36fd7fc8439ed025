// Renders a parsed template. One Interpreter serves one render: it owns the heap of that render's
// values, counts steps, nesting and output against the limits, and offers the operations that
// builtins (filters, tests, methods, globals) share.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "lm/chat_template/ast.h"
#include "lm/chat_template/value.h"
#include "tessera/lm/chat_template.h"

namespace tessera::lm::chat_template {

// Variables of one level: the globals, the render's context, a loop body, a macro call.
struct Scope : HeapItem {
  explicit Scope(Scope* p) : parent(p) {}
  Scope* parent;
  std::unordered_map<std::string, Value> vars;
  // Set when a macro defined here (or below) keeps the scope alive; otherwise its variables are
  // dropped as soon as the loop or macro call that made it ends, so long renders do not keep
  // every argument and loop value they ever saw.
  bool captured = false;
  const Value* find(const std::string& name) const;
  void capture() {
    for (Scope* s = this; s && !s->captured; s = s->parent) s->captured = true;
  }
  void release() {
    if (!captured) vars.clear();
  }
};

class Interpreter {
 public:
  Interpreter(const Program& program, const ChatTemplateLimits& limits);

  // Renders the program with `context` (an object) as its variables.
  std::string render(const ChatJson& context);
  // The same with the variables given one by one (later ones win), so large inputs such as the
  // messages need not be copied into one context object first.
  std::string render(const std::vector<std::pair<std::string, const ChatJson*>>& variables);

  // ---- for builtins ----
  Heap& heap() { return heap_; }
  // Depth budget for walking nested values (printing, comparing, serializing).
  int value_depth() const { return int(limits_.max_depth); }
  // Counts work against max_steps.
  void step(uint64_t n = 1);
  // Throws when a string of `bytes` would be larger than any string may be.
  void check_string_size(size_t bytes) const;
  std::string str(const Value& v) const { return to_str(v, value_depth()); }

  Value call(const Value& callee, Args& args);
  Value apply_filter(const std::string& name, const Value& v, Args& args);
  bool apply_test(const std::string& name, const Value& v, Args& args);
  // obj.name and obj[key] as Jinja resolves them (attribute then item, or item then attribute);
  // a missing one is undefined, but any access on an undefined is an error.
  Value get_attr(const Value& obj, const std::string& name);
  Value get_item(const Value& obj, const Value& key);
  // What a for loop walks: list items, dict keys, string characters; undefined is empty.
  std::vector<Value> iterate(const Value& v);

  // Evaluates an expression in a scope (macro parameter defaults).
  Value evaluate(const Expr& e, Scope* scope) { return eval(e, scope); }
  // Runs `body` in `scope` and returns what it printed (macro bodies, set blocks, call blocks).
  std::string capture(const Body& body, Scope* scope);
  // Raises an error naming the undefined value's origin.
  [[noreturn]] static void undefined_error(const Value& v);

 private:
  enum class Flow { Normal, Break, Continue };

  struct DepthGuard {
    DepthGuard(Interpreter& in, size_t pos);
    ~DepthGuard() { --in.depth_; }
    Interpreter& in;
  };

  Value eval(const Expr& e, Scope* s);
  Value eval_inner(const Expr& e, Scope* s);
  Value eval_call(const Expr& e, Scope* s);
  Value eval_compare(const Expr& e, Scope* s);
  Args eval_args(const Arguments& a, Scope* s);
  Value eval_slice(const Expr& e, Scope* s);
  Value lookup(const std::string& name, Scope* s) const;

  Flow exec(const Body& body, Scope* s);
  Flow exec_node(const Node& n, Scope* s);
  Flow exec_inner(const Node& n, Scope* s);
  Flow exec_for(const Node& n, Scope* s);
  void exec_call_block(const Node& n, Scope* s);
  void assign(const Target& t, const Value& v, Scope* s);
  Value apply_filters(const std::vector<FilterCall>& filters, Value v, Scope* s);
  void emit(std::string_view text);

  const Program& program_;
  ChatTemplateLimits limits_;
  Heap heap_;
  uint64_t steps_ = 0;
  size_t depth_ = 0;
  size_t max_runtime_depth_;
  std::string* out_ = nullptr;
};

}  // namespace tessera::lm::chat_template
