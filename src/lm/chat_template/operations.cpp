#include "lm/chat_template/operations.h"

#include <cmath>
#include <limits>

#include "lm/chat_template/builtins.h"
#include "lm/chat_template/interpreter.h"
#include "lm/chat_template/source.h"
#include "lm/chat_template/text.h"

namespace tessera::lm::chat_template {

namespace {

const char* op_symbol(BinOp op) {
  switch (op) {
    case BinOp::Add: return "+";
    case BinOp::Sub: return "-";
    case BinOp::Mul: return "*";
    case BinOp::Div: return "/";
    case BinOp::FloorDiv: return "//";
    case BinOp::Mod: return "%";
    case BinOp::Pow: return "**";
    case BinOp::Concat: return "~";
  }
  return "?";
}

[[noreturn]] void unsupported(BinOp op, const Value& a, const Value& b) {
  if (a.is_undefined()) Interpreter::undefined_error(a);
  if (b.is_undefined()) Interpreter::undefined_error(b);
  throw_runtime(std::string("unsupported operand type(s) for ") + op_symbol(op) + ": '" + type_name(a) + "' and '" +
                type_name(b) + "'");
}

[[noreturn]] void overflow(BinOp op) {
  throw_runtime(std::string("integer overflow in '") + op_symbol(op) + "' (values are limited to 64 bits)");
}

int64_t checked_pow(int64_t base, int64_t exp) {
  int64_t result = 1;
  while (exp > 0) {
    if (exp & 1)
      if (__builtin_mul_overflow(result, base, &result)) overflow(BinOp::Pow);
    exp >>= 1;
    if (exp > 0 && __builtin_mul_overflow(base, base, &base)) overflow(BinOp::Pow);
  }
  return result;
}

Value repeat_string(Interpreter& in, const std::string& s, int64_t n) {
  if (n <= 0 || s.empty()) return Value(std::string());
  if (uint64_t(n) > std::numeric_limits<size_t>::max() / s.size()) in.check_string_size(std::numeric_limits<size_t>::max());
  in.check_string_size(s.size() * size_t(n));
  std::string out;
  out.reserve(s.size() * size_t(n));
  for (int64_t i = 0; i < n; ++i) out += s;
  return Value(std::move(out));
}

Value repeat_list(Interpreter& in, const ListData& l, int64_t n) {
  std::vector<Value> out;
  if (n > 0 && !l.items.empty()) {
    uint64_t total = uint64_t(n) > std::numeric_limits<uint64_t>::max() / l.items.size()
                         ? std::numeric_limits<uint64_t>::max()
                         : uint64_t(n) * l.items.size();
    in.step(total);
    out.reserve(size_t(total));
    for (int64_t i = 0; i < n; ++i) out.insert(out.end(), l.items.begin(), l.items.end());
  }
  return Value(in.heap().list(std::move(out), l.tuple));
}

double py_fmod(double a, double b) {
  double m = std::fmod(a, b);
  if (m != 0 && ((m < 0) != (b < 0))) m += b;
  return m;
}

}  // namespace

Value binary_op(Interpreter& in, BinOp op, const Value& a, const Value& b) {
  if (op == BinOp::Concat) {
    std::string s = in.str(a);
    std::string t = in.str(b);
    in.check_string_size(s.size() + t.size());
    return Value(s + t);
  }
  if (a.is_number() && b.is_number()) {
    bool ints = !a.is_float() && !b.is_float();
    if (ints) {
      int64_t x = a.to_int(), y = b.to_int(), r = 0;
      switch (op) {
        case BinOp::Add:
          if (__builtin_add_overflow(x, y, &r)) overflow(op);
          return Value(r);
        case BinOp::Sub:
          if (__builtin_sub_overflow(x, y, &r)) overflow(op);
          return Value(r);
        case BinOp::Mul:
          if (__builtin_mul_overflow(x, y, &r)) overflow(op);
          return Value(r);
        case BinOp::Div:
          if (y == 0) throw_runtime("division by zero");
          return Value(double(x) / double(y));
        case BinOp::FloorDiv:
        case BinOp::Mod: {
          if (y == 0) throw_runtime(op == BinOp::Mod ? "integer modulo by zero" : "integer division by zero");
          if (x == std::numeric_limits<int64_t>::min() && y == -1) {
            if (op == BinOp::Mod) return Value(int64_t(0));
            overflow(op);
          }
          int64_t q = x / y, m = x % y;
          // Python rounds the quotient toward negative infinity; the remainder takes y's sign.
          if (m != 0 && ((m < 0) != (y < 0))) {
            --q;
            m += y;
          }
          return op == BinOp::Mod ? Value(m) : Value(q);
        }
        case BinOp::Pow:
          if (y < 0) {
            if (x == 0) throw_runtime("0 cannot be raised to a negative power");
            return Value(std::pow(double(x), double(y)));
          }
          return Value(checked_pow(x, y));
        default: break;
      }
    }
    double x = a.to_double(), y = b.to_double();
    switch (op) {
      case BinOp::Add: return Value(x + y);
      case BinOp::Sub: return Value(x - y);
      case BinOp::Mul: return Value(x * y);
      case BinOp::Div:
        if (y == 0) throw_runtime("float division by zero");
        return Value(x / y);
      case BinOp::FloorDiv:
        if (y == 0) throw_runtime("float floor division by zero");
        return Value(std::floor(x / y));
      case BinOp::Mod:
        if (y == 0) throw_runtime("float modulo by zero");
        return Value(py_fmod(x, y));
      case BinOp::Pow:
        if (x == 0 && y < 0) throw_runtime("0.0 cannot be raised to a negative power");
        return Value(std::pow(x, y));
      default: break;
    }
  }
  switch (op) {
    case BinOp::Add:
      if (a.is_string() && b.is_string()) {
        in.check_string_size(a.str().size() + b.str().size());
        return Value(a.str() + b.str());
      }
      if (a.is_list() && b.is_list() && a.list().tuple == b.list().tuple) {
        std::vector<Value> items = a.list().items;
        in.step(b.list().items.size());
        items.insert(items.end(), b.list().items.begin(), b.list().items.end());
        return Value(in.heap().list(std::move(items), a.list().tuple));
      }
      break;
    case BinOp::Mul:
      if (a.is_string() && (b.is_int() || b.is_bool())) return repeat_string(in, a.str(), b.to_int());
      if (b.is_string() && (a.is_int() || a.is_bool())) return repeat_string(in, b.str(), a.to_int());
      if (a.is_list() && (b.is_int() || b.is_bool())) return repeat_list(in, a.list(), b.to_int());
      if (b.is_list() && (a.is_int() || a.is_bool())) return repeat_list(in, b.list(), a.to_int());
      break;
    case BinOp::Mod:
      if (a.is_string()) {
        std::vector<Value> args;
        if (b.is_list() && b.list().tuple)
          args = b.list().items;
        else
          args.push_back(b);
        // Python treats any non-tuple argument with item access (dict, list, undefined) as a
        // mapping, so a format without conversions ignores it instead of failing.
        bool mapping_like = b.is_dict() || b.is_undefined() || (b.is_list() && !b.list().tuple);
        return Value(percent_format(in, a.str(), args, mapping_like));
      }
      break;
    default: break;
  }
  unsupported(op, a, b);
}

Value negate(const Value& v, bool minus) {
  if (v.is_float()) return Value(minus ? -v.as_float() : v.as_float());
  if (v.is_int() || v.is_bool()) {
    int64_t x = v.to_int();
    if (!minus) return Value(x);
    if (x == std::numeric_limits<int64_t>::min()) throw_runtime("integer overflow in unary '-'");
    return Value(-x);
  }
  if (v.is_undefined()) Interpreter::undefined_error(v);
  throw_runtime(std::string("bad operand type for unary ") + (minus ? "-" : "+") + ": '" + type_name(v) + "'");
}

bool contains(Interpreter& in, const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::String:
      if (!item.is_string())
        throw_runtime("'in <string>' requires a string as left operand, not " + type_name(item));
      return container.str().find(item.str()) != std::string::npos;
    case Value::Kind::List:
      for (const Value& v : container.list().items) {
        in.step();
        if (equals(v, item, in.value_depth())) return true;
      }
      return false;
    case Value::Kind::Dict:
      if (!hash_key(item)) throw_runtime("unhashable type: '" + type_name(item) + "'");
      return container.dict().find(item) != nullptr;
    case Value::Kind::Undefined: return false;
    default: throw_runtime("argument of type '" + type_name(container) + "' is not iterable");
  }
}

bool compare_op(Interpreter& in, CmpOp op, const Value& a, const Value& b) {
  int depth = in.value_depth();
  switch (op) {
    case CmpOp::Eq: return equals(a, b, depth);
    case CmpOp::Ne: return !equals(a, b, depth);
    case CmpOp::In: return contains(in, b, a);
    case CmpOp::NotIn: return !contains(in, b, a);
    default: break;
  }
  if (a.is_undefined()) Interpreter::undefined_error(a);
  if (b.is_undefined()) Interpreter::undefined_error(b);
  // NaN compares false in every direction.
  if (a.is_number() && b.is_number() && (std::isnan(a.to_double()) || std::isnan(b.to_double()))) return false;
  int c = compare(a, b, depth);
  switch (op) {
    case CmpOp::Lt: return c < 0;
    case CmpOp::Le: return c <= 0;
    case CmpOp::Gt: return c > 0;
    case CmpOp::Ge: return c >= 0;
    default: return false;
  }
}

namespace {

// Optional slice bound: none/undefined means "not given".
bool slice_bound(const Value& v, int64_t& out) {
  if (v.is_none() || v.is_undefined()) return false;
  if (!v.is_int() && !v.is_bool()) throw_runtime("slice indices must be integers or None, not " + type_name(v));
  out = v.to_int();
  return true;
}

// Python's slice.indices(): the positions a slice visits in a sequence of length n.
std::vector<size_t> slice_positions(int64_t n, const Value& start_v, const Value& stop_v, const Value& step_v) {
  int64_t step = 1;
  if (slice_bound(step_v, step) && step == 0) throw_runtime("slice step cannot be zero");
  int64_t lower = step > 0 ? 0 : -1, upper = step > 0 ? n : n - 1;
  auto clamp = [&](const Value& v, int64_t fallback) {
    int64_t x;
    if (!slice_bound(v, x)) return fallback;
    if (x < 0) {
      x += n;
      if (x < lower) x = lower;
    } else if (x > upper) {
      x = upper;
    }
    return x;
  };
  int64_t start = clamp(start_v, step > 0 ? lower : upper);
  int64_t stop = clamp(stop_v, step > 0 ? upper : lower);
  std::vector<size_t> out;
  if (step > 0) {
    for (int64_t i = start; i < stop; i += step) {
      out.push_back(size_t(i));
      if (stop - i <= step) break;
    }
  } else {
    uint64_t back = uint64_t(-(step + 1)) + 1;
    for (int64_t i = start; i > stop; i = int64_t(uint64_t(i) - back)) {
      out.push_back(size_t(i));
      if (uint64_t(i - stop) <= back) break;
    }
  }
  return out;
}

}  // namespace

Value slice(Interpreter& in, const Value& container, const Value& start, const Value& stop, const Value& step) {
  if (container.is_list()) {
    const ListData& l = container.list();
    std::vector<size_t> pos = slice_positions(int64_t(l.items.size()), start, stop, step);
    in.step(pos.size());
    std::vector<Value> items;
    items.reserve(pos.size());
    for (size_t p : pos) items.push_back(l.items[p]);
    return Value(in.heap().list(std::move(items), l.tuple));
  }
  if (container.is_string()) {
    const std::string& s = container.str();
    bool ascii = is_ascii(s);
    std::vector<size_t> offsets = ascii ? std::vector<size_t>{} : char_offsets(s);
    int64_t n = ascii ? int64_t(s.size()) : int64_t(offsets.size() - 1);
    std::vector<size_t> pos = slice_positions(n, start, stop, step);
    in.step(pos.size() / 16 + 1);
    std::string out;
    for (size_t p : pos) {
      if (ascii)
        out += s[p];
      else
        out.append(s, offsets[p], offsets[p + 1] - offsets[p]);
    }
    return Value(std::move(out));
  }
  if (container.is_undefined()) Interpreter::undefined_error(container);
  throw_runtime("'" + type_name(container) + "' object is not subscriptable with a slice");
}

Value index_sequence(Interpreter& in, const Value& container, int64_t index) {
  if (container.is_list()) {
    const auto& items = container.list().items;
    int64_t n = int64_t(items.size());
    if (index < 0) index += n;
    if (index < 0 || index >= n) return Value::undefined(type_name(container) + " object has no element " + std::to_string(index));
    return items[size_t(index)];
  }
  const std::string& s = container.str();
  if (is_ascii(s)) {
    int64_t n = int64_t(s.size());
    if (index < 0) index += n;
    if (index < 0 || index >= n) return Value::undefined("str object has no element " + std::to_string(index));
    return Value(std::string(1, s[size_t(index)]));
  }
  std::vector<size_t> offsets = char_offsets(s);
  int64_t n = int64_t(offsets.size() - 1);
  if (index < 0) index += n;
  if (index < 0 || index >= n) return Value::undefined("str object has no element " + std::to_string(index));
  (void)in;
  return Value(s.substr(offsets[size_t(index)], offsets[size_t(index) + 1] - offsets[size_t(index)]));
}

}  // namespace tessera::lm::chat_template
