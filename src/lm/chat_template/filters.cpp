// Jinja's filters, with transformers' tojson (json.dumps, non-ASCII kept). Values that filters
// treat as text go through str() first, so an undefined value acts as "" there.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "lm/chat_template/builtins.h"
#include "lm/chat_template/interpreter.h"
#include "lm/chat_template/json_values.h"
#include "lm/chat_template/operations.h"
#include "lm/chat_template/source.h"
#include "lm/chat_template/text.h"

namespace tessera::lm::chat_template {

namespace {

Value list_value(Interpreter& in, std::vector<Value> items) { return Value(in.heap().list(std::move(items))); }

// Jinja's attribute getter: "a.b.0" walks items/attributes; a missing step is undefined.
Value attr_path(Interpreter& in, const Value& item, const std::string& path) {
  Value v = item;
  size_t start = 0;
  for (;;) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    v = digits && part.size() < 18 ? in.get_item(v, Value(int64_t(std::stoll(part)))) : in.get_item(v, Value(part));
    if (dot == std::string::npos) return v;
    start = dot + 1;
  }
}

std::string text_of(Interpreter& in, const Value& v) { return in.str(v); }

// ---- text ----

Value f_trim(Interpreter& in, const Value& v, Args& a) {
  Params p("trim", a, {"chars"});
  std::optional<std::string> chars = p.string_opt(0);
  return Value(py_strip(text_of(in, v), true, true, chars ? &*chars : nullptr));
}
Value f_upper(Interpreter& in, const Value& v, Args& a) { return Params("upper", a, {}), Value(py_upper(text_of(in, v))); }
Value f_lower(Interpreter& in, const Value& v, Args& a) { return Params("lower", a, {}), Value(py_lower(text_of(in, v))); }
Value f_capitalize(Interpreter& in, const Value& v, Args& a) {
  return Params("capitalize", a, {}), Value(py_capitalize(text_of(in, v)));
}
Value f_title(Interpreter& in, const Value& v, Args& a) { return Params("title", a, {}), Value(jinja_title(text_of(in, v))); }

Value f_replace(Interpreter& in, const Value& v, Args& a) {
  Params p("replace", a, {"old", "new", "count"}, 2);
  std::string s = text_of(in, v);
  std::string from = in.str(p.get(0)), to = in.str(p.get(1));
  int64_t count = p.int_or(2, -1);
  int64_t hits = py_count(s, from);
  if (count >= 0) hits = std::min(hits, count);
  in.check_string_size(s.size() + size_t(hits) * to.size());
  return Value(py_replace(s, from, to, count));
}

Value f_string(Interpreter& in, const Value& v, Args& a) { return Params("string", a, {}), Value(text_of(in, v)); }
// No autoescaping, so marking text safe only turns it into text.
Value f_safe(Interpreter& in, const Value& v, Args& a) { return Params("safe", a, {}), Value(text_of(in, v)); }
Value f_pprint(Interpreter& in, const Value& v, Args& a) {
  return Params("pprint", a, {}), Value(repr(v, in.value_depth()));
}

Value f_escape(Interpreter& in, const Value& v, Args& a) {
  Params p("escape", a, {});
  std::string s = text_of(in, v), out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  in.check_string_size(out.size());
  return Value(std::move(out));
}

Value f_center(Interpreter& in, const Value& v, Args& a) {
  Params p("center", a, {"width"});
  std::string s = text_of(in, v);
  int64_t width = p.int_or(0, 80), len = int64_t(char_count(s));
  if (width <= len) return Value(s);
  size_t total = size_t(width - len);
  in.check_string_size(s.size() + total);
  size_t left = total / 2 + (total & size_t(width) & 1);
  return Value(std::string(left, ' ') + s + std::string(total - left, ' '));
}

Value f_indent(Interpreter& in, const Value& v, Args& a) {
  Params p("indent", a, {"width", "first", "blank"});
  std::string indent;
  if (p.has(0) && p.get(0).is_string()) {
    indent = p.get(0).str();
  } else {
    int64_t w = p.int_or(0, 4);
    in.check_string_size(size_t(std::max<int64_t>(w, 0)));
    indent = std::string(size_t(std::max<int64_t>(w, 0)), ' ');
  }
  bool first = p.bool_or(1, false), blank = p.bool_or(2, false);
  // Jinja appends a newline before splitting, so a trailing newline survives.
  std::vector<std::string> lines = py_splitlines(text_of(in, v) + "\n", false);
  in.check_string_size((lines.size() + 1) * (indent.size() + 1) + text_of(in, v).size());
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i) out += '\n';
    bool indent_line = i == 0 ? first : (blank || !lines[i].empty());
    if (indent_line) out += indent;
    out += lines[i];
  }
  return Value(std::move(out));
}

Value f_wordcount(Interpreter& in, const Value& v, Args& a) {
  Params p("wordcount", a, {});
  std::string s = text_of(in, v);
  int64_t words = 0;
  bool in_word = false;
  uint32_t cp;
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8_next(s, i, cp);
    bool word_char = is_letter(cp) || is_numeric_char(cp) || cp == '_';
    if (word_char && !in_word) ++words;
    in_word = word_char;
    i += n;
  }
  return Value(words);
}

Value f_format(Interpreter& in, const Value& v, Args& a) {
  if (!a.keyword.empty()) {
    DictData* d = in.heap().dict();
    for (auto& [k, val] : a.keyword) d->set(Value(k), val);
    return Value(percent_format(in, text_of(in, v), {Value(d)}));
  }
  return Value(percent_format(in, text_of(in, v), a.positional));
}

Value f_tojson(Interpreter& in, const Value& v, Args& a) {
  Params p("tojson", a, {"indent", "ensure_ascii", "separators", "sort_keys"});
  JsonStyle style;
  if (p.has(0) && !p.get(0).is_none()) {
    const Value& ind = p.get(0);
    if (ind.is_string()) {
      style.indent = ind.str();
    } else {
      int64_t n = p.int_or(0, 0);
      in.check_string_size(size_t(std::max<int64_t>(n, 0)));
      style.indent = std::string(size_t(std::max<int64_t>(n, 0)), ' ');
    }
    // json.dumps drops the space after commas when indenting.
    style.item_separator = ",";
  }
  style.ensure_ascii = p.bool_or(1, false);
  if (p.has(2) && !p.get(2).is_none()) {
    const Value& sep = p.get(2);
    if (!sep.is_list() || sep.list().items.size() != 2 || !sep.list().items[0].is_string() ||
        !sep.list().items[1].is_string())
      throw_runtime("tojson(): separators must be a pair of strings");
    style.item_separator = sep.list().items[0].str();
    style.key_separator = sep.list().items[1].str();
  }
  style.sort_keys = p.bool_or(3, false);
  return Value(to_json(in, v, style));
}

// ---- numbers ----

// Python's int(str, base) for base 10 and 0/2/8/16: surrounding whitespace, a sign, `_` between digits.
std::optional<int64_t> parse_int(std::string s, int64_t base) {
  s = py_strip(s, true, true);
  size_t i = 0;
  bool negative = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  if (base == 0 || base == 16 || base == 8 || base == 2) {
    if (i + 1 < s.size() && s[i] == '0') {
      char x = char(s[i + 1] | 0x20);
      int64_t prefixed = x == 'x' ? 16 : x == 'o' ? 8 : x == 'b' ? 2 : 0;
      if (prefixed && (base == 0 || base == prefixed)) {
        base = prefixed;
        i += 2;
        if (i < s.size() && s[i] == '_') ++i;
      }
    }
    if (base == 0) base = 10;
  }
  if (base < 2 || base > 36 || i >= s.size()) return std::nullopt;
  uint64_t value = 0;
  bool digit_before = false;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c == '_' && digit_before && i + 1 < s.size() && s[i + 1] != '_') continue;
    int d = (c >= '0' && c <= '9') ? c - '0' : (c | 0x20) >= 'a' && (c | 0x20) <= 'z' ? (c | 0x20) - 'a' + 10 : 99;
    if (d >= base) return std::nullopt;
    if (value > (uint64_t(INT64_MAX) + 1 - uint64_t(d)) / uint64_t(base)) return std::nullopt;
    value = value * uint64_t(base) + uint64_t(d);
    digit_before = true;
  }
  if (value > uint64_t(INT64_MAX) + (negative ? 1 : 0)) return std::nullopt;
  return negative ? int64_t(0 - value) : int64_t(value);
}

// Python's float(str): whitespace, sign, digits with `_`, inf/infinity/nan in any case.
std::optional<double> parse_float(std::string s) {
  s = py_strip(s, true, true);
  std::string clean;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool digit_around = i > 0 && i + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[i - 1])) &&
                        std::isdigit(static_cast<unsigned char>(s[i + 1]));
    if (c == '_' && digit_around) continue;
    if (c == 'x' || c == 'X' || c == 'p' || c == 'P' || c == '_') return std::nullopt;
    clean += c;
  }
  if (clean.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  double d = std::strtod(clean.c_str(), &end);
  if (end != clean.c_str() + clean.size()) return std::nullopt;
  return d;
}

Value f_int(Interpreter& in, const Value& v, Args& a) {
  Params p("int", a, {"default", "base"});
  int64_t base = p.int_or(1, 10);
  Value fallback = p.get_or(0, Value(int64_t(0)));
  // int(undefined) raises in Jinja rather than falling back to the default.
  if (v.is_undefined()) Interpreter::undefined_error(v);
  if (v.is_int() || v.is_bool()) return Value(v.to_int());
  if (v.is_string()) {
    if (auto i = parse_int(v.str(), base)) return Value(*i);
    if (auto d = parse_float(v.str()); d && std::isfinite(*d) && std::fabs(*d) < 9.2e18) return Value(int64_t(*d));
    return fallback;
  }
  if (v.is_float()) {
    double d = v.as_float();
    if (std::isfinite(d) && std::fabs(d) < 9.2e18) return Value(int64_t(d));
  }
  (void)in;
  return fallback;
}

Value f_float(Interpreter& in, const Value& v, Args& a) {
  Params p("float", a, {"default"});
  Value fallback = p.get_or(0, Value(0.0));
  if (v.is_undefined()) Interpreter::undefined_error(v);
  if (v.is_number()) return Value(v.to_double());
  if (v.is_string())
    if (auto d = parse_float(v.str())) return Value(*d);
  (void)in;
  return fallback;
}

Value f_abs(Interpreter&, const Value& v, Args& a) {
  Params p("abs", a, {});
  if (v.is_float()) return Value(std::fabs(v.as_float()));
  if (v.is_int() || v.is_bool()) {
    int64_t x = v.to_int();
    if (x == INT64_MIN) throw_runtime("integer overflow in abs");
    return Value(x < 0 ? -x : x);
  }
  if (v.is_undefined()) Interpreter::undefined_error(v);
  throw_runtime("bad operand type for abs(): '" + type_name(v) + "'");
}

// Python's round(): halves go to the even neighbour, decided on the exact binary value.
double py_round(double x, int64_t digits) {
  if (!std::isfinite(x)) return x;
  if (digits == 0) return std::nearbyint(x);
  if (digits > 0) {
    if (digits > 300) return x;
    char buf[400];
    std::snprintf(buf, sizeof(buf), "%.*f", int(digits), x);
    return std::strtod(buf, nullptr);
  }
  if (digits < -308) return 0.0 * x;
  double scale = std::pow(10.0, double(-digits));
  return std::nearbyint(x / scale) * scale;
}

Value f_round(Interpreter&, const Value& v, Args& a) {
  Params p("round", a, {"precision", "method"});
  int64_t precision = p.int_or(0, 0);
  std::string method = p.string_opt(1).value_or("common");
  if (!v.is_number()) throw_runtime("round() needs a number, not " + type_name(v));
  double x = v.to_double();
  // Python's round() keeps an int an int (rounding to tens, hundreds... for negative precision).
  if (method == "common" && !v.is_float()) {
    if (precision >= 0) return Value(v.to_int());
    double r = py_round(x, precision);
    if (std::fabs(r) >= 9.2e18) throw_runtime("integer overflow in round");
    return Value(int64_t(r));
  }
  if (method == "common") return Value(py_round(x, precision));
  if (method != "floor" && method != "ceil") throw_runtime("round(): method must be 'common', 'ceil' or 'floor'");
  double scale = std::pow(10.0, double(std::clamp<int64_t>(precision, -308, 308)));
  double r = method == "floor" ? std::floor(x * scale) : std::ceil(x * scale);
  return Value(r / scale);
}

// ---- sequences ----

Value f_length(Interpreter&, const Value& v, Args& a) {
  Params p("length", a, {});
  switch (v.kind()) {
    case Value::Kind::String: return Value(int64_t(char_count(v.str())));
    case Value::Kind::List: return Value(int64_t(v.list().items.size()));
    case Value::Kind::Dict: return Value(int64_t(v.dict().size()));
    case Value::Kind::Undefined: return Value(int64_t(0));
    default: throw_runtime("object of type '" + type_name(v) + "' has no len()");
  }
}

Value f_first(Interpreter& in, const Value& v, Args& a) {
  Params p("first", a, {});
  if (v.is_list()) return v.list().items.empty() ? Value::undefined("No first item, sequence was empty.") : v.list().items[0];
  std::vector<Value> items = in.iterate(v);
  return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
}

Value f_last(Interpreter& in, const Value& v, Args& a) {
  Params p("last", a, {});
  if (v.is_list()) return v.list().items.empty() ? Value::undefined("No last item, sequence was empty.") : v.list().items.back();
  std::vector<Value> items = in.iterate(v);
  return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
}

Value f_list(Interpreter& in, const Value& v, Args& a) {
  Params p("list", a, {});
  return list_value(in, in.iterate(v));
}

Value f_items(Interpreter& in, const Value& v, Args& a) {
  Params p("items", a, {});
  if (v.is_undefined()) return list_value(in, {});
  if (!v.is_dict()) throw_runtime("items() needs a mapping, not " + type_name(v));
  Args none;
  return call_method(in, v, "items", none);
}

Value f_reverse(Interpreter& in, const Value& v, Args& a) {
  Params p("reverse", a, {});
  std::vector<Value> items = in.iterate(v);
  if (v.is_string()) {
    std::string out;
    for (auto it = items.rbegin(); it != items.rend(); ++it) out += it->str();
    return Value(std::move(out));
  }
  std::reverse(items.begin(), items.end());
  return list_value(in, std::move(items));
}

Value f_join(Interpreter& in, const Value& v, Args& a) {
  Params p("join", a, {"d", "attribute"});
  std::string sep = p.has(0) ? in.str(p.get(0)) : std::string();
  std::optional<std::string> attribute = p.has(1) && !p.get(1).is_none() ? std::optional(in.str(p.get(1))) : std::nullopt;
  std::string out;
  bool first = true;
  for (const Value& item : in.iterate(v)) {
    if (!first) out += sep;
    first = false;
    out += in.str(attribute ? attr_path(in, item, *attribute) : item);
    in.check_string_size(out.size());
  }
  return Value(std::move(out));
}

Value f_default(Interpreter&, const Value& v, Args& a) {
  Params p("default", a, {"default_value", "boolean"});
  bool boolean = p.bool_or(1, false);
  if (v.is_undefined() || (boolean && !truthy(v))) return p.get_or(0, Value(std::string()));
  return v;
}

Value f_attr(Interpreter& in, const Value& v, Args& a) {
  Params p("attr", a, {"name"}, 1);
  std::string name = in.str(p.get(0));
  // Attributes only: dict keys are not attributes.
  if (v.is_dict() && !has_method(v, name)) return Value::undefined("'dict object' has no attribute '" + name + "'");
  return in.get_attr(v, name);
}

// Sort key: the item (or its attribute), lowercased when comparing case-insensitively.
Value sort_key(Interpreter& in, const Value& item, const std::vector<std::string>& attrs, size_t which,
               bool case_sensitive) {
  Value k = attrs.empty() ? item : attr_path(in, item, attrs[which]);
  if (!case_sensitive && k.is_string()) return Value(py_lower(k.str()));
  return k;
}

std::vector<std::string> attribute_list(Interpreter& in, const Params& p, size_t i) {
  std::vector<std::string> out;
  if (!p.has(i) || p.get(i).is_none()) return out;
  if (p.get(i).is_int()) return {std::to_string(p.get(i).as_int())};
  std::string s = in.str(p.get(i));
  // Jinja accepts "a,b" for sorting by several attributes.
  for (const std::string& part : py_split(s, nullptr, -1)) {
    size_t start = 0;
    for (;;) {
      size_t comma = part.find(',', start);
      std::string piece = part.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (!piece.empty()) out.push_back(piece);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return out;
}

void sort_values(Interpreter& in, std::vector<Value>& items, const std::vector<std::string>& attrs, bool case_sensitive,
                 bool reverse) {
  size_t n_keys = std::max<size_t>(attrs.size(), 1);
  std::vector<std::pair<std::vector<Value>, size_t>> keyed;
  keyed.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    std::vector<Value> keys;
    for (size_t k = 0; k < n_keys; ++k) keys.push_back(sort_key(in, items[i], attrs, k, case_sensitive));
    keyed.emplace_back(std::move(keys), i);
  }
  in.step(uint64_t(items.size()) * uint64_t(std::log2(double(items.size()) + 1) + 1));
  int depth = in.value_depth();
  auto less = [&](const auto& x, const auto& y) {
    for (size_t k = 0; k < x.first.size(); ++k) {
      int c = compare(x.first[k], y.first[k], depth);
      if (c != 0) return reverse ? c > 0 : c < 0;
    }
    return false;
  };
  std::stable_sort(keyed.begin(), keyed.end(), less);
  std::vector<Value> sorted;
  sorted.reserve(items.size());
  for (auto& kv : keyed) sorted.push_back(items[kv.second]);
  items = std::move(sorted);
}

Value f_sort(Interpreter& in, const Value& v, Args& a) {
  Params p("sort", a, {"reverse", "case_sensitive", "attribute"});
  std::vector<Value> items = in.iterate(v);
  sort_values(in, items, attribute_list(in, p, 2), p.bool_or(1, false), p.bool_or(0, false));
  return list_value(in, std::move(items));
}

Value f_dictsort(Interpreter& in, const Value& v, Args& a) {
  Params p("dictsort", a, {"case_sensitive", "by", "reverse"});
  if (!v.is_dict()) throw_runtime("dictsort() needs a mapping, not " + type_name(v));
  std::string by = p.string_opt(1).value_or("key");
  if (by != "key" && by != "value") throw_runtime("dictsort(): 'by' must be 'key' or 'value'");
  std::vector<Value> pairs;
  for (const auto& [k, val] : v.dict().entries) pairs.emplace_back(in.heap().list({k, val}, true));
  sort_values(in, pairs, {by == "key" ? "0" : "1"}, p.bool_or(0, false), p.bool_or(2, false));
  return list_value(in, std::move(pairs));
}

Value f_unique(Interpreter& in, const Value& v, Args& a) {
  Params p("unique", a, {"case_sensitive", "attribute"});
  bool case_sensitive = p.bool_or(0, false);
  std::vector<std::string> attrs = attribute_list(in, p, 1);
  std::vector<Value> out, seen;
  for (const Value& item : in.iterate(v)) {
    Value key = sort_key(in, item, attrs, 0, case_sensitive);
    bool dup = false;
    for (const Value& s : seen) {
      in.step();
      if (equals(s, key, in.value_depth())) {
        dup = true;
        break;
      }
    }
    if (dup) continue;
    seen.push_back(key);
    out.push_back(item);
  }
  return list_value(in, std::move(out));
}

Value min_max(Interpreter& in, const Value& v, Args& a, bool want_max) {
  Params p(want_max ? "max" : "min", a, {"case_sensitive", "attribute"});
  std::vector<Value> items = in.iterate(v);
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  std::vector<std::string> attrs = attribute_list(in, p, 1);
  bool case_sensitive = p.bool_or(0, false);
  size_t best = 0;
  Value best_key = sort_key(in, items[0], attrs, 0, case_sensitive);
  for (size_t i = 1; i < items.size(); ++i) {
    Value k = sort_key(in, items[i], attrs, 0, case_sensitive);
    int c = compare(k, best_key, in.value_depth());
    if (want_max ? c > 0 : c < 0) {
      best = i;
      best_key = k;
    }
  }
  return items[best];
}
Value f_max(Interpreter& in, const Value& v, Args& a) { return min_max(in, v, a, true); }
Value f_min(Interpreter& in, const Value& v, Args& a) { return min_max(in, v, a, false); }

Value f_sum(Interpreter& in, const Value& v, Args& a) {
  Params p("sum", a, {"attribute", "start"});
  std::optional<std::string> attribute = p.has(0) && !p.get(0).is_none() ? std::optional(in.str(p.get(0))) : std::nullopt;
  Value total = p.get_or(1, Value(int64_t(0)));
  for (const Value& item : in.iterate(v)) total = binary_op(in, BinOp::Add, total, attribute ? attr_path(in, item, *attribute) : item);
  return total;
}

Value f_batch(Interpreter& in, const Value& v, Args& a) {
  Params p("batch", a, {"linecount", "fill_with"}, 1);
  int64_t size = p.int_or(0, 1);
  if (size <= 0) throw_runtime("batch(): linecount must be positive");
  std::vector<Value> items = in.iterate(v), out, current;
  for (Value& item : items) {
    current.push_back(std::move(item));
    if (int64_t(current.size()) == size) {
      out.push_back(list_value(in, std::move(current)));
      current.clear();
    }
  }
  if (!current.empty()) {
    if (p.has(1))
      while (int64_t(current.size()) < size) current.push_back(p.get(1));
    out.push_back(list_value(in, std::move(current)));
  }
  return list_value(in, std::move(out));
}

// map(attribute='x', default=...) or map('filter', args...).
Value f_map(Interpreter& in, const Value& v, Args& a) {
  // Jinja maps over nothing when the value is falsy (none, false, 0).
  std::vector<Value> items = truthy(v) ? in.iterate(v) : std::vector<Value>{}, out;
  out.reserve(items.size());
  if (a.positional.empty()) {
    Params p("map", a, {"attribute", "default"});
    if (!p.has(0)) throw_runtime("map() needs a filter name or attribute=");
    std::string attribute = in.str(p.get(0));
    for (const Value& item : items) {
      Value x = attr_path(in, item, attribute);
      if (x.is_undefined() && p.has(1)) x = p.get(1);
      out.push_back(std::move(x));
    }
    return list_value(in, std::move(out));
  }
  std::string filter = in.str(a.positional[0]);
  Args rest;
  rest.positional.assign(a.positional.begin() + 1, a.positional.end());
  rest.keyword = a.keyword;
  for (const Value& item : items) {
    Args call = rest;
    out.push_back(in.apply_filter(filter, item, call));
  }
  return list_value(in, std::move(out));
}

// select/reject(test, args...) and selectattr/rejectattr(attribute, test, args...).
Value select_impl(Interpreter& in, const Value& v, Args& a, bool by_attribute, bool keep_when) {
  const char* name = by_attribute ? (keep_when ? "selectattr" : "rejectattr") : (keep_when ? "select" : "reject");
  if (!a.keyword.empty()) throw_runtime(std::string(name) + "() takes no keyword arguments");
  size_t i = 0;
  std::optional<std::string> attribute;
  if (by_attribute) {
    if (a.positional.empty()) throw_runtime(std::string(name) + "() needs an attribute name");
    attribute = in.str(a.positional[i++]);
  }
  std::optional<std::string> test;
  if (i < a.positional.size()) test = in.str(a.positional[i++]);
  Args test_args;
  test_args.positional.assign(a.positional.begin() + std::ptrdiff_t(i), a.positional.end());
  std::vector<Value> out;
  if (!truthy(v)) return list_value(in, std::move(out));
  for (const Value& item : in.iterate(v)) {
    in.step();
    Value subject = attribute ? attr_path(in, item, *attribute) : item;
    bool pass;
    if (test) {
      Args call = test_args;
      pass = in.apply_test(*test, subject, call);
    } else {
      pass = truthy(subject);
    }
    if (pass == keep_when) out.push_back(item);
  }
  return list_value(in, std::move(out));
}
Value f_select(Interpreter& in, const Value& v, Args& a) { return select_impl(in, v, a, false, true); }
Value f_reject(Interpreter& in, const Value& v, Args& a) { return select_impl(in, v, a, false, false); }
Value f_selectattr(Interpreter& in, const Value& v, Args& a) { return select_impl(in, v, a, true, true); }
Value f_rejectattr(Interpreter& in, const Value& v, Args& a) { return select_impl(in, v, a, true, false); }

struct FilterEntry {
  std::string_view name;
  FilterFn fn;
};

constexpr FilterEntry kFilters[] = {
    {"abs", f_abs},
    {"attr", f_attr},
    {"batch", f_batch},
    {"capitalize", f_capitalize},
    {"center", f_center},
    {"count", f_length},
    {"d", f_default},
    {"default", f_default},
    {"dictsort", f_dictsort},
    {"e", f_escape},
    {"escape", f_escape},
    {"first", f_first},
    {"float", f_float},
    {"forceescape", f_escape},
    {"format", f_format},
    {"indent", f_indent},
    {"int", f_int},
    {"items", f_items},
    {"join", f_join},
    {"last", f_last},
    {"length", f_length},
    {"list", f_list},
    {"lower", f_lower},
    {"map", f_map},
    {"max", f_max},
    {"min", f_min},
    {"pprint", f_pprint},
    {"reject", f_reject},
    {"rejectattr", f_rejectattr},
    {"replace", f_replace},
    {"reverse", f_reverse},
    {"round", f_round},
    {"safe", f_safe},
    {"select", f_select},
    {"selectattr", f_selectattr},
    {"sort", f_sort},
    {"string", f_string},
    {"sum", f_sum},
    {"title", f_title},
    {"tojson", f_tojson},
    {"trim", f_trim},
    {"unique", f_unique},
    {"upper", f_upper},
    {"wordcount", f_wordcount},
};

}  // namespace

FilterFn find_filter(std::string_view name) {
  for (const FilterEntry& e : kFilters)
    if (e.name == name) return e.fn;
  return nullptr;
}

}  // namespace tessera::lm::chat_template
