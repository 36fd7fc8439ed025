#include "lm/chat_template/interpreter.h"

#include "lm/chat_template/builtins.h"
#include "lm/chat_template/json_values.h"
#include "lm/chat_template/operations.h"
#include "lm/chat_template/text.h"

namespace tessera::lm::chat_template {

namespace {

// Macros and call-block bodies as values.
class Macro : public Callable {
 public:
  Macro(std::string name, const std::vector<Param>* params, const Body* body, Scope* closure, Value caller)
      : Callable(std::move(name)), params_(params), body_(body), closure_(closure), caller_(std::move(caller)) {
    closure_->capture();
  }

  Value call(Interpreter& in, Args& args) override {
    Scope* scope = in.heap().make<Scope>(closure_);
    const auto& params = *params_;
    std::vector<bool> bound(params.size(), false);
    std::vector<Value> varargs;
    for (size_t i = 0; i < args.positional.size(); ++i) {
      if (i < params.size()) {
        scope->vars[params[i].name] = args.positional[i];
        bound[i] = true;
      } else {
        varargs.push_back(args.positional[i]);
      }
    }
    DictData* kwargs = in.heap().dict();
    for (auto& [key, value] : args.keyword) {
      size_t i = 0;
      while (i < params.size() && params[i].name != key) ++i;
      if (i < params.size()) {
        if (bound[i]) throw_runtime("macro '" + name() + "' got multiple values for argument '" + key + "'");
        scope->vars[key] = value;
        bound[i] = true;
      } else if (key == "caller") {
        scope->vars["caller"] = value;
      } else {
        kwargs->set(Value(key), value);
      }
    }
    for (size_t i = 0; i < params.size(); ++i) {
      if (bound[i]) continue;
      // Defaults are evaluated per call, seeing the arguments bound so far (as Jinja does).
      scope->vars[params[i].name] =
          params[i].default_value ? in.evaluate(*params[i].default_value, scope)
                                  : Value::undefined("'" + params[i].name + "' is undefined (macro '" + name() +
                                                     "' was called without it)");
    }
    scope->vars["varargs"] = Value(in.heap().list(std::move(varargs)));
    scope->vars["kwargs"] = Value(kwargs);
    if (!caller_.is_undefined()) scope->vars["caller"] = caller_;
    Value result(in.capture(*body_, scope));
    scope->release();
    return result;
  }

 private:
  const std::vector<Param>* params_;
  const Body* body_;
  Scope* closure_;
  Value caller_;
};

}  // namespace

const Value* Scope::find(const std::string& name) const {
  for (const Scope* s = this; s; s = s->parent) {
    auto it = s->vars.find(name);
    if (it != s->vars.end()) return &it->second;
  }
  return nullptr;
}

Interpreter::Interpreter(const Program& program, const ChatTemplateLimits& limits)
    : program_(program), limits_(limits), heap_(limits.max_memory_bytes), max_runtime_depth_(2 * limits.max_depth) {}

Interpreter::DepthGuard::DepthGuard(Interpreter& in, size_t pos) : in(in) {
  if (++in.depth_ > in.max_runtime_depth_) {
    --in.depth_;
    throw_runtime("template recursion too deep (more than " + std::to_string(in.max_runtime_depth_) +
                      " nested statements, expressions and macro calls)",
                  pos);
  }
}

void Interpreter::step(uint64_t n) {
  steps_ += n;
  if (steps_ > limits_.max_steps || steps_ < n)
    throw_runtime("template ran more than " + std::to_string(limits_.max_steps) + " steps (step limit)");
}

void Interpreter::check_string_size(size_t bytes) const {
  if (bytes > limits_.max_output_bytes)
    throw_runtime("string of " + std::to_string(bytes) + " bytes exceeds the output limit of " +
                  std::to_string(limits_.max_output_bytes) + " bytes");
}

void Interpreter::undefined_error(const Value& v) {
  const std::string& hint = v.undefined_hint();
  throw_runtime(hint.empty() ? "undefined value used" : hint);
}

std::string Interpreter::render(const ChatJson& context) {
  std::vector<std::pair<std::string, const ChatJson*>> variables;
  if (!context.is_null()) {
    if (!context.is_object()) throw_runtime("the template context must be a JSON object");
    for (auto it = context.begin(); it != context.end(); ++it) variables.emplace_back(it.key(), &it.value());
  }
  return render(variables);
}

std::string Interpreter::render(const std::vector<std::pair<std::string, const ChatJson*>>& variables) {
  Scope* globals = heap_.make<Scope>(nullptr);
  install_globals(*this, *globals);
  Scope* top = heap_.make<Scope>(globals);
  for (const auto& [name, value] : variables) top->vars[name] = from_json(heap_, *value, value_depth());
  std::string out;
  out_ = &out;
  exec(program_.body, top);
  out_ = nullptr;
  return out;
}

void Interpreter::emit(std::string_view text) {
  if (out_->size() + text.size() > limits_.max_output_bytes)
    throw_runtime("rendered text exceeds the output limit of " + std::to_string(limits_.max_output_bytes) + " bytes");
  out_->append(text);
}

std::string Interpreter::capture(const Body& body, Scope* scope) {
  std::string buffer;
  std::string* saved = out_;
  out_ = &buffer;
  try {
    exec(body, scope);
  } catch (...) {
    out_ = saved;
    throw;
  }
  out_ = saved;
  return buffer;
}

// ---- values ----

namespace {

// For messages about a missing key: the key as Python shows it, shortened.
std::string describe_key(const Value& key) {
  try {
    std::string r = repr(key, 3);
    return r.size() > 60 ? r.substr(0, 57) + "..." : r;
  } catch (const TemplateError&) {
    return "a " + type_name(key);
  }
}

}  // namespace

Value Interpreter::lookup(const std::string& name, Scope* s) const {
  const Value* v = s->find(name);
  return v ? *v : Value::undefined("'" + name + "' is undefined");
}

Value Interpreter::get_attr(const Value& obj, const std::string& name) {
  if (obj.is_undefined()) undefined_error(obj);
  // The sandbox hides private attributes.
  if (!name.empty() && name[0] == '_') return Value::undefined("'" + type_name(obj) + " object' has no attribute '" + name + "'");
  switch (obj.kind()) {
    case Value::Kind::Dict: {
      // Methods win over keys for attribute syntax, as Python's getattr sees them first.
      if (has_method(obj, name)) return Value(heap_.make<BoundMethod>(obj, name));
      if (const Value* v = obj.dict().find(std::string_view(name))) return *v;
      break;
    }
    case Value::Kind::String:
    case Value::Kind::List:
      if (has_method(obj, name)) return Value(heap_.make<BoundMethod>(obj, name));
      break;
    case Value::Kind::Object:
      if (obj.object().type_name() == std::string_view("LoopContext") && LoopState::has_method(name))
        return Value(heap_.make<BoundMethod>(obj, name));
      return obj.object().attr(name, *this);
    default: break;
  }
  return Value::undefined("'" + type_name(obj) + " object' has no attribute '" + name + "'");
}

Value Interpreter::get_item(const Value& obj, const Value& key) {
  if (obj.is_undefined()) undefined_error(obj);
  switch (obj.kind()) {
    case Value::Kind::Dict: {
      if (const Value* v = obj.dict().find(key)) return *v;
      if (key.is_string() && has_method(obj, key.str())) return Value(heap_.make<BoundMethod>(obj, key.str()));
      return Value::undefined("'dict object' has no attribute " + describe_key(key));
    }
    case Value::Kind::List:
    case Value::Kind::String:
      if (key.is_int() || key.is_bool()) return index_sequence(*this, obj, key.to_int());
      if (key.is_string()) return get_attr(obj, key.str());
      break;
    case Value::Kind::Object:
      if (key.is_string()) return get_attr(obj, key.str());
      break;
    default: break;
  }
  return Value::undefined("'" + type_name(obj) + " object' has no element " + describe_key(key));
}

std::vector<Value> Interpreter::iterate(const Value& v) {
  std::vector<Value> out;
  switch (v.kind()) {
    case Value::Kind::Undefined: return out;
    case Value::Kind::List: out = v.list().items; break;
    case Value::Kind::Dict:
      out.reserve(v.dict().size());
      for (const auto& kv : v.dict().entries) out.push_back(kv.first);
      break;
    case Value::Kind::String: {
      const std::string& s = v.str();
      if (is_ascii(s)) {
        for (char c : s) out.emplace_back(std::string(1, c));
      } else {
        std::vector<size_t> off = char_offsets(s);
        for (size_t i = 0; i + 1 < off.size(); ++i) out.emplace_back(s.substr(off[i], off[i + 1] - off[i]));
      }
      break;
    }
    default: throw_runtime("'" + type_name(v) + "' object is not iterable");
  }
  step(out.size() / 8);
  return out;
}

Value Interpreter::call(const Value& callee, Args& args) {
  if (callee.is_callable()) return callee.callable().call(*this, args);
  if (callee.is_undefined()) undefined_error(callee);
  throw_runtime("'" + type_name(callee) + "' object is not callable");
}

Value Interpreter::apply_filter(const std::string& name, const Value& v, Args& args) {
  FilterFn f = find_filter(name);
  if (!f) throw_runtime("no filter named '" + name + "'");
  return f(*this, v, args);
}

bool Interpreter::apply_test(const std::string& name, const Value& v, Args& args) {
  TestFn t = find_test(name);
  if (!t) throw_runtime("no test named '" + name + "'");
  return t(*this, v, args);
}

// ---- expressions ----

Value Interpreter::eval(const Expr& e, Scope* s) {
  DepthGuard guard(*this, e.pos);
  step();
  try {
    Value v = eval_inner(e, s);
    if (v.is_string()) check_string_size(v.str().size());
    return v;
  } catch (TemplateError& err) {
    if (err.pos == kNoPos) err.pos = e.pos;
    throw;
  }
}

Args Interpreter::eval_args(const Arguments& a, Scope* s) {
  Args args;
  args.positional.reserve(a.positional.size());
  for (const auto& p : a.positional) args.positional.push_back(eval(*p, s));
  for (const auto& [k, v] : a.keyword) args.keyword.emplace_back(k, eval(*v, s));
  return args;
}

Value Interpreter::eval_call(const Expr& e, Scope* s) {
  // obj.method(...) calls the method directly rather than materializing a bound method.
  if (e.a->kind == ExprKind::Attr) {
    Value obj = eval(*e.a->a, s);
    const std::string& name = e.a->name;
    bool method = (obj.is_string() || obj.is_list() || obj.is_dict()) && has_method(obj, name) && name[0] != '_';
    bool loop_method = obj.is_object() && obj.object().type_name() == std::string_view("LoopContext") &&
                       LoopState::has_method(name);
    if (method || loop_method) {
      Args args = eval_args(e.args, s);
      if (loop_method) return static_cast<LoopState&>(obj.object()).method(name, *this, args);
      return call_method(*this, obj, name, args);
    }
    Value callee = get_attr(obj, name);
    Args args = eval_args(e.args, s);
    return call(callee, args);
  }
  Value callee = eval(*e.a, s);
  Args args = eval_args(e.args, s);
  return call(callee, args);
}

Value Interpreter::eval_compare(const Expr& e, Scope* s) {
  Value left = eval(*e.a, s);
  for (size_t i = 0; i < e.cmp.size(); ++i) {
    Value right = eval(*e.items[i], s);
    if (!compare_op(*this, e.cmp[i], left, right)) return Value(false);
    left = std::move(right);
  }
  return Value(true);
}

Value Interpreter::eval_slice(const Expr& e, Scope* s) {
  Value obj = eval(*e.a, s);
  Value bounds[3];
  for (int i = 0; i < 3; ++i)
    if (e.items[i]) bounds[i] = eval(*e.items[i], s);
  return slice(*this, obj, bounds[0], bounds[1], bounds[2]);
}

Value Interpreter::eval_inner(const Expr& e, Scope* s) {
  switch (e.kind) {
    case ExprKind::Literal: return e.literal;
    case ExprKind::Name: return lookup(e.name, s);
    case ExprKind::List:
    case ExprKind::Tuple: {
      std::vector<Value> items;
      items.reserve(e.items.size());
      for (const auto& x : e.items) items.push_back(eval(*x, s));
      return Value(heap_.list(std::move(items), e.kind == ExprKind::Tuple));
    }
    case ExprKind::Dict: {
      DictData* d = heap_.dict();
      for (size_t i = 0; i + 1 < e.items.size(); i += 2) {
        Value k = eval(*e.items[i], s);
        Value v = eval(*e.items[i + 1], s);
        heap_.charge(Heap::footprint(k) + Heap::footprint(v) + 32);
        d->set(k, std::move(v));
      }
      return Value(d);
    }
    case ExprKind::Attr: return get_attr(eval(*e.a, s), e.name);
    case ExprKind::Item: {
      Value obj = eval(*e.a, s);
      return get_item(obj, eval(*e.b, s));
    }
    case ExprKind::Slice: return eval_slice(e, s);
    case ExprKind::Call: return eval_call(e, s);
    case ExprKind::Filter: {
      Value v = eval(*e.a, s);
      Args args = eval_args(e.args, s);
      return apply_filter(e.name, v, args);
    }
    case ExprKind::Test: {
      Value v = eval(*e.a, s);
      Args args = eval_args(e.args, s);
      return Value(apply_test(e.name, v, args) != e.negated);
    }
    case ExprKind::Neg: return negate(eval(*e.a, s), true);
    case ExprKind::Pos: return negate(eval(*e.a, s), false);
    case ExprKind::Not: return Value(!truthy(eval(*e.a, s)));
    case ExprKind::Binary: {
      Value a = eval(*e.a, s);
      Value b = eval(*e.b, s);
      return binary_op(*this, e.op, a, b);
    }
    case ExprKind::Compare: return eval_compare(e, s);
    // Python's and/or give back an operand, not a bool.
    case ExprKind::And: {
      Value a = eval(*e.a, s);
      return truthy(a) ? eval(*e.b, s) : a;
    }
    case ExprKind::Or: {
      Value a = eval(*e.a, s);
      return truthy(a) ? a : eval(*e.b, s);
    }
    case ExprKind::Cond:
      if (truthy(eval(*e.b, s))) return eval(*e.a, s);
      return e.c ? eval(*e.c, s) : Value::undefined("the conditional expression had no else branch");
  }
  return Value();
}

// ---- statements ----

Interpreter::Flow Interpreter::exec(const Body& body, Scope* s) {
  for (const NodePtr& n : body) {
    Flow f = exec_node(*n, s);
    if (f != Flow::Normal) return f;
  }
  return Flow::Normal;
}

Interpreter::Flow Interpreter::exec_node(const Node& n, Scope* s) {
  DepthGuard guard(*this, n.pos);
  step();
  try {
    return exec_inner(n, s);
  } catch (TemplateError& err) {
    if (err.pos == kNoPos) err.pos = n.pos;
    throw;
  }
}

void Interpreter::assign(const Target& t, const Value& v, Scope* s) {
  switch (t.kind) {
    case Target::Kind::Name: s->vars[t.name] = v; return;
    case Target::Kind::Attr: {
      const Value* obj = s->find(t.name);
      if (!obj) throw_runtime("'" + t.name + "' is undefined (cannot set '" + t.name + "." + t.attr + "')", t.pos);
      if (!obj->is_object() || obj->object().type_name() != std::string_view("Namespace"))
        throw_runtime("cannot assign attribute on non-namespace object '" + t.name + "'", t.pos);
      heap_.charge(Heap::footprint(v));
      obj->object().set_attr(t.attr, v);
      return;
    }
    case Target::Kind::Tuple: {
      std::vector<Value> items = iterate(v);
      if (items.size() != t.items.size())
        throw_runtime("cannot unpack " + std::to_string(items.size()) + " values into " +
                          std::to_string(t.items.size()) + " names",
                      t.pos);
      for (size_t i = 0; i < items.size(); ++i) assign(t.items[i], items[i], s);
      return;
    }
  }
}

Value Interpreter::apply_filters(const std::vector<FilterCall>& filters, Value v, Scope* s) {
  for (const FilterCall& f : filters) {
    Args args = eval_args(f.args, s);
    try {
      v = apply_filter(f.name, v, args);
    } catch (TemplateError& err) {
      if (err.pos == kNoPos) err.pos = f.pos;
      throw;
    }
  }
  return v;
}

Interpreter::Flow Interpreter::exec_for(const Node& n, Scope* s) {
  std::vector<Value> items = iterate(eval(*n.expr, s));
  Scope* scope = heap_.make<Scope>(s);
  if (n.condition) {
    // The `if` filter runs before the loop, so loop.length and loop.last count kept items only.
    std::vector<Value> kept;
    for (Value& item : items) {
      step();
      assign(n.target, item, scope);
      if (truthy(eval(*n.condition, scope))) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  // The else body has its own scope too, but sits outside this loop: a break or continue there
  // belongs to an outer loop.
  if (items.empty()) {
    Scope* else_scope = heap_.make<Scope>(s);
    Flow flow = exec(n.else_body, else_scope);
    else_scope->release();
    return flow;
  }
  ListData* seq = heap_.list(std::move(items));
  LoopState* loop = heap_.make<LoopState>(seq);
  for (size_t i = 0; i < seq->items.size(); ++i) {
    step();
    // Each iteration starts from the enclosing variables: a set in one iteration is gone in the next.
    scope->vars.clear();
    loop->set_index(i);
    assign(n.target, seq->items[i], scope);
    scope->vars["loop"] = Value(static_cast<Object*>(loop));
    if (exec(n.body, scope) == Flow::Break) break;
  }
  scope->release();
  return Flow::Normal;
}

void Interpreter::exec_call_block(const Node& n, Scope* s) {
  const Expr& call_expr = *n.expr;
  Callable* caller = heap_.make<Macro>("caller", &n.params, &n.body, s, Value());
  Value callee;
  Args args;
  if (call_expr.a->kind == ExprKind::Attr) {
    callee = get_attr(eval(*call_expr.a->a, s), call_expr.a->name);
  } else {
    callee = eval(*call_expr.a, s);
  }
  args = eval_args(call_expr.args, s);
  args.keyword.emplace_back("caller", Value(caller));
  Value result = call(callee, args);
  emit(str(result));
}

Interpreter::Flow Interpreter::exec_inner(const Node& n, Scope* s) {
  switch (n.kind) {
    case NodeKind::Text: emit(n.text); return Flow::Normal;
    case NodeKind::Output: {
      Value v = eval(*n.expr, s);
      if (v.is_string())
        emit(v.str());
      else
        emit(str(v));
      return Flow::Normal;
    }
    case NodeKind::If:
      for (const auto& [cond, body] : n.branches) {
        if (!cond || truthy(eval(*cond, s))) return exec(body, s);
      }
      return Flow::Normal;
    case NodeKind::For: return exec_for(n, s);
    case NodeKind::Set: assign(n.target, eval(*n.expr, s), s); return Flow::Normal;
    case NodeKind::SetBlock: {
      Value v(capture(n.body, s));
      assign(n.target, apply_filters(n.filters, std::move(v), s), s);
      return Flow::Normal;
    }
    case NodeKind::Macro: {
      Callable* m = heap_.make<Macro>(n.name, &n.params, &n.body, s, Value());
      s->vars[n.name] = Value(m);
      return Flow::Normal;
    }
    case NodeKind::CallBlock: exec_call_block(n, s); return Flow::Normal;
    case NodeKind::FilterBlock: {
      Value v(capture(n.body, s));
      emit(str(apply_filters(n.filters, std::move(v), s)));
      return Flow::Normal;
    }
    case NodeKind::With: {
      // The values are computed outside the new scope, so `with a = 1, b = a` sees the outer a.
      std::vector<Value> values;
      for (const auto& assignment : n.assignments) values.push_back(eval(*assignment.second, s));
      Scope* scope = heap_.make<Scope>(s);
      for (size_t i = 0; i < values.size(); ++i) assign(n.assignments[i].first, values[i], scope);
      Flow flow = exec(n.body, scope);
      scope->release();
      return flow;
    }
    case NodeKind::Break: return Flow::Break;
    case NodeKind::Continue: return Flow::Continue;
    case NodeKind::Do: eval(*n.expr, s); return Flow::Normal;
    case NodeKind::Block: return exec(n.body, s);
  }
  return Flow::Normal;
}

}  // namespace tessera::lm::chat_template
