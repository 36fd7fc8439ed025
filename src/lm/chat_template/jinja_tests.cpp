// Jinja's tests (`x is defined`, `x is string`, `n is divisibleby 3`, ...).
#include <cmath>
#include <string_view>

#include "lm/chat_template/builtins.h"
#include "lm/chat_template/interpreter.h"
#include "lm/chat_template/operations.h"
#include "lm/chat_template/source.h"
#include "lm/chat_template/text.h"

namespace tessera::lm::chat_template {

namespace {

void no_args(const char* name, Args& args) { Params(name, args, {}); }

bool t_defined(Interpreter&, const Value& v, Args& a) { return no_args("defined", a), !v.is_undefined(); }
bool t_undefined(Interpreter&, const Value& v, Args& a) { return no_args("undefined", a), v.is_undefined(); }
bool t_none(Interpreter&, const Value& v, Args& a) { return no_args("none", a), v.is_none(); }
bool t_boolean(Interpreter&, const Value& v, Args& a) { return no_args("boolean", a), v.is_bool(); }
bool t_true(Interpreter&, const Value& v, Args& a) { return no_args("true", a), v.is_bool() && v.as_bool(); }
bool t_false(Interpreter&, const Value& v, Args& a) { return no_args("false", a), v.is_bool() && !v.as_bool(); }
// Python's bool is an int, but Jinja's integer test leaves booleans out.
bool t_integer(Interpreter&, const Value& v, Args& a) { return no_args("integer", a), v.is_int(); }
bool t_float(Interpreter&, const Value& v, Args& a) { return no_args("float", a), v.is_float(); }
bool t_number(Interpreter&, const Value& v, Args& a) { return no_args("number", a), v.is_number(); }
bool t_string(Interpreter&, const Value& v, Args& a) { return no_args("string", a), v.is_string(); }
bool t_mapping(Interpreter&, const Value& v, Args& a) { return no_args("mapping", a), v.is_dict(); }
bool t_iterable(Interpreter&, const Value& v, Args& a) {
  no_args("iterable", a);
  return v.is_list() || v.is_dict() || v.is_string() || v.is_undefined();
}
bool t_sequence(Interpreter&, const Value& v, Args& a) {
  no_args("sequence", a);
  return v.is_list() || v.is_dict() || v.is_string() || v.is_undefined();
}
bool t_callable(Interpreter&, const Value& v, Args& a) {
  no_args("callable", a);
  // Jinja's undefined has a __call__ (that raises), so Python calls it callable.
  return v.is_callable() || v.is_undefined();
}

int64_t integer_operand(const Value& v, const char* test) {
  if (v.is_int() || v.is_bool()) return v.to_int();
  if (v.is_undefined()) Interpreter::undefined_error(v);
  throw_runtime(std::string("the '") + test + "' test needs an integer, not " + type_name(v));
}

// Python's value % 2 (the sign of the divisor): odd means a remainder of exactly 1.
double float_mod2(double x) {
  double m = std::fmod(x, 2.0);
  return m < 0 ? m + 2.0 : m;
}
bool t_odd(Interpreter&, const Value& v, Args& a) {
  no_args("odd", a);
  if (v.is_float()) return float_mod2(v.as_float()) == 1.0;
  return integer_operand(v, "odd") % 2 != 0;
}
bool t_even(Interpreter&, const Value& v, Args& a) {
  no_args("even", a);
  if (v.is_float()) return float_mod2(v.as_float()) == 0.0;
  return integer_operand(v, "even") % 2 == 0;
}
bool t_divisibleby(Interpreter&, const Value& v, Args& a) {
  Params p("divisibleby", a, {"num"}, 1);
  if (v.is_float() || p.get(0).is_float()) {
    if (!v.is_number() || !p.get(0).is_number()) throw_runtime("the 'divisibleby' test needs numbers");
    double d = p.get(0).to_double();
    if (d == 0) throw_runtime("division by zero in the 'divisibleby' test");
    return std::fmod(v.to_double(), d) == 0;
  }
  int64_t n = integer_operand(p.get(0), "divisibleby");
  if (n == 0) throw_runtime("division by zero in the 'divisibleby' test");
  if (n == -1) return true;
  return integer_operand(v, "divisibleby") % n == 0;
}

template <CmpOp op>
bool t_compare(Interpreter& in, const Value& v, Args& a) {
  Params p("comparison test", a, {"other"}, 1);
  return compare_op(in, op, v, p.get(0));
}

bool t_in(Interpreter& in, const Value& v, Args& a) {
  Params p("in", a, {"seq"}, 1);
  return contains(in, p.get(0), v);
}

// Python's `is`: the same object for lists, dicts and objects; for scalars (None, bools and the
// small ints Python caches) the same value of the same type.
bool t_sameas(Interpreter& in, const Value& v, Args& a) {
  Params p("sameas", a, {"other"}, 1);
  const Value& o = p.get(0);
  if (v.kind() != o.kind()) return false;
  if (v.identity() || o.identity()) return v.identity() == o.identity();
  return equals(v, o, in.value_depth());
}

// str(value).islower() / isupper(): at least one cased character, none of the other case.
bool t_lower(Interpreter& in, const Value& v, Args& a) {
  no_args("lower", a);
  std::string s = in.str(v);
  return py_lower(s) == s && py_upper(s) != s;
}
bool t_upper(Interpreter& in, const Value& v, Args& a) {
  no_args("upper", a);
  std::string s = in.str(v);
  return py_upper(s) == s && py_lower(s) != s;
}
// Nothing is marked safe: transformers renders without autoescaping.
bool t_escaped(Interpreter&, const Value&, Args& a) { return no_args("escaped", a), false; }
bool t_filter(Interpreter&, const Value& v, Args& a) {
  no_args("filter", a);
  return v.is_string() && find_filter(v.str()) != nullptr;
}
bool t_test(Interpreter&, const Value& v, Args& a) {
  no_args("test", a);
  return v.is_string() && find_test(v.str()) != nullptr;
}

struct TestEntry {
  std::string_view name;
  TestFn fn;
};

constexpr TestEntry kTests[] = {
    {"defined", t_defined},
    {"undefined", t_undefined},
    {"none", t_none},
    {"boolean", t_boolean},
    {"true", t_true},
    {"false", t_false},
    {"integer", t_integer},
    {"float", t_float},
    {"number", t_number},
    {"string", t_string},
    {"mapping", t_mapping},
    {"iterable", t_iterable},
    {"sequence", t_sequence},
    {"callable", t_callable},
    {"odd", t_odd},
    {"even", t_even},
    {"divisibleby", t_divisibleby},
    {"eq", t_compare<CmpOp::Eq>},
    {"equalto", t_compare<CmpOp::Eq>},
    {"==", t_compare<CmpOp::Eq>},
    {"ne", t_compare<CmpOp::Ne>},
    {"!=", t_compare<CmpOp::Ne>},
    {"lt", t_compare<CmpOp::Lt>},
    {"lessthan", t_compare<CmpOp::Lt>},
    {"<", t_compare<CmpOp::Lt>},
    {"le", t_compare<CmpOp::Le>},
    {"<=", t_compare<CmpOp::Le>},
    {"gt", t_compare<CmpOp::Gt>},
    {"greaterthan", t_compare<CmpOp::Gt>},
    {">", t_compare<CmpOp::Gt>},
    {"ge", t_compare<CmpOp::Ge>},
    {">=", t_compare<CmpOp::Ge>},
    {"in", t_in},
    {"sameas", t_sameas},
    {"lower", t_lower},
    {"upper", t_upper},
    {"escaped", t_escaped},
    {"filter", t_filter},
    {"test", t_test},
};

}  // namespace

TestFn find_test(std::string_view name) {
  for (const TestEntry& e : kTests)
    if (e.name == name) return e.fn;
  return nullptr;
}

}  // namespace tessera::lm::chat_template
