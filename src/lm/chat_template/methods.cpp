// Python methods templates call on values: str (startswith, split, strip, replace, ...), dict
// (items, keys, values, get) and list (append, extend, index, count). Appending to a list is
// beyond what transformers' immutable sandbox allows, but templates written for other engines
// rely on it, and the heap keeps it safe.
#include <algorithm>
#include <cstring>

#include "lm/chat_template/builtins.h"
#include "lm/chat_template/interpreter.h"
#include "lm/chat_template/source.h"
#include "lm/chat_template/text.h"

namespace tessera::lm::chat_template {

namespace {

constexpr const char* kStringMethods[] = {
    "startswith", "endswith", "strip",  "lstrip",  "rstrip",   "split",        "rsplit",       "splitlines",
    "replace",    "upper",    "lower",  "title",   "capitalize", "find",       "rfind",        "index",
    "rindex",     "count",    "join",   "isdigit", "isalpha",  "isalnum",      "isspace",      "islower",
    "isupper",    "center",   "ljust",  "rjust",   "zfill",    "removeprefix", "removesuffix", "swapcase"};
constexpr const char* kDictMethods[] = {"items", "keys", "values", "get"};
constexpr const char* kListMethods[] = {"append", "extend", "index", "count"};

template <size_t N>
bool listed(const char* const (&names)[N], const std::string& name) {
  for (const char* n : names)
    if (name == n) return true;
  return false;
}

// startswith/endswith take a string or a tuple of strings.
bool affix_match(Interpreter& in, const std::string& s, const Value& affix, bool prefix, const char* fn) {
  auto one = [&](const Value& v) {
    if (!v.is_string()) throw_runtime(std::string(fn) + "() needs a string or a tuple of strings, not " + type_name(v));
    const std::string& a = v.str();
    if (a.size() > s.size()) return false;
    return prefix ? s.compare(0, a.size(), a) == 0 : s.compare(s.size() - a.size(), a.size(), a) == 0;
  };
  if (affix.is_list()) {
    for (const Value& v : affix.list().items) {
      in.step();
      if (one(v)) return true;
    }
    return false;
  }
  return one(affix);
}

// Character-level predicates (isdigit, ...): true when non-empty and every character passes.
template <class F>
bool all_chars(const std::string& s, F f) {
  if (s.empty()) return false;
  uint32_t cp;
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8_next(s, i, cp);
    if (!f(cp)) return false;
    i += n;
  }
  return true;
}

Value pad(Interpreter& in, const std::string& s, const Params& p, int where) {
  int64_t width = p.int_or(0, 0);
  std::string fill = p.string_opt(1).value_or(" ");
  if (char_count(fill) != 1) throw_runtime("the fill character must be exactly one character long");
  int64_t len = int64_t(char_count(s));
  if (width <= len) return Value(s);
  size_t total = size_t(width - len);
  in.check_string_size(s.size() + total * fill.size());
  size_t left = where < 0 ? 0 : where > 0 ? total : total / 2 + (total & size_t(width) & 1);
  std::string out;
  for (size_t i = 0; i < left; ++i) out += fill;
  out += s;
  for (size_t i = left; i < total; ++i) out += fill;
  return Value(std::move(out));
}

Value list_of_strings(Interpreter& in, std::vector<std::string> parts) {
  in.step(parts.size());
  std::vector<Value> items;
  items.reserve(parts.size());
  for (auto& s : parts) items.emplace_back(std::move(s));
  return Value(in.heap().list(std::move(items)));
}

Value string_method(Interpreter& in, const std::string& s, const std::string& name, Args& args) {
  in.step(s.size() / 64 + 1);
  if (name == "startswith" || name == "endswith") {
    Params p(name, args, {"affix", "start", "end"}, 1);
    std::string sub = s;
    if (p.has(1) || p.has(2)) {
      // Bounds count characters; reuse slicing.
      std::vector<size_t> off = char_offsets(s);
      int64_t n = int64_t(off.size() - 1);
      auto norm = [&](int64_t x) { return x < 0 ? std::max<int64_t>(0, x + n) : std::min(x, n); };
      int64_t b = norm(p.int_or(1, 0)), e = norm(p.int_or(2, n));
      if (e < b) return Value(false);
      sub = s.substr(off[size_t(b)], off[size_t(e)] - off[size_t(b)]);
    }
    return Value(affix_match(in, sub, p.get(0), name == "startswith", name.c_str()));
  }
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    Params p(name, args, {"chars"});
    std::optional<std::string> chars = p.string_opt(0);
    return Value(py_strip(s, name != "rstrip", name != "lstrip", chars ? &*chars : nullptr));
  }
  if (name == "split" || name == "rsplit") {
    Params p(name, args, {"sep", "maxsplit"});
    std::optional<std::string> sep = p.string_opt(0);
    if (sep && sep->empty()) throw_runtime("empty separator");
    int64_t maxsplit = p.int_or(1, -1);
    return list_of_strings(in, name == "split" ? py_split(s, sep ? &*sep : nullptr, maxsplit)
                                               : py_rsplit(s, sep ? &*sep : nullptr, maxsplit));
  }
  if (name == "splitlines") {
    Params p(name, args, {"keepends"});
    return list_of_strings(in, py_splitlines(s, p.bool_or(0, false)));
  }
  if (name == "replace") {
    Params p(name, args, {"old", "new", "count"}, 2);
    std::optional<std::string> from = p.string_opt(0), to = p.string_opt(1);
    if (!from || !to) throw_runtime("replace() needs two strings");
    int64_t count = p.int_or(2, -1);
    int64_t hits = py_count(s, *from);
    if (count >= 0) hits = std::min(hits, count);
    in.check_string_size(s.size() + size_t(hits) * to->size());
    return Value(py_replace(s, *from, *to, count));
  }
  if (name == "upper" || name == "lower" || name == "title" || name == "capitalize" || name == "swapcase") {
    Params p(name, args, {});
    if (name == "upper") return Value(py_upper(s));
    if (name == "lower") return Value(py_lower(s));
    if (name == "title") return Value(py_title(s));
    if (name == "capitalize") return Value(py_capitalize(s));
    std::string out;
    std::string lo = py_lower(s), up = py_upper(s);
    // swapcase per character: where lowering changes nothing the character was lower (or uncased).
    std::vector<size_t> a = char_offsets(s), l = char_offsets(lo), u = char_offsets(up);
    if (a.size() != l.size() || a.size() != u.size()) return Value(s);
    for (size_t i = 0; i + 1 < a.size(); ++i) {
      std::string_view orig(s.data() + a[i], a[i + 1] - a[i]);
      std::string_view low(lo.data() + l[i], l[i + 1] - l[i]);
      std::string_view upc(up.data() + u[i], u[i + 1] - u[i]);
      out += orig == low ? upc : low;
    }
    return Value(std::move(out));
  }
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex") {
    Params p(name, args, {"sub"}, 1);
    std::optional<std::string> sub = p.string_opt(0);
    if (!sub) throw_runtime(name + "() needs a string");
    int64_t at = py_find(s, *sub, name[0] == 'r');
    if (at < 0 && (name == "index" || name == "rindex")) throw_runtime("substring not found");
    return Value(at);
  }
  if (name == "count") {
    Params p(name, args, {"sub"}, 1);
    std::optional<std::string> sub = p.string_opt(0);
    if (!sub) throw_runtime("count() needs a string");
    return Value(py_count(s, *sub));
  }
  if (name == "join") {
    Params p(name, args, {"iterable"}, 1);
    std::string out;
    bool first = true;
    for (const Value& v : in.iterate(p.get(0))) {
      if (!v.is_string()) throw_runtime("join() expects strings, found " + type_name(v));
      if (!first) out += s;
      first = false;
      out += v.str();
      in.check_string_size(out.size());
    }
    return Value(std::move(out));
  }
  if (name == "center" || name == "ljust" || name == "rjust") {
    Params p(name, args, {"width", "fillchar"}, 1);
    return pad(in, s, p, name == "center" ? 0 : name == "ljust" ? -1 : 1);
  }
  if (name == "zfill") {
    Params p(name, args, {"width"}, 1);
    int64_t width = p.int_or(0, 0);
    int64_t len = int64_t(char_count(s));
    if (width <= len) return Value(s);
    in.check_string_size(s.size() + size_t(width - len));
    size_t sign = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
    return Value(s.substr(0, sign) + std::string(size_t(width - len), '0') + s.substr(sign));
  }
  if (name == "removeprefix" || name == "removesuffix") {
    Params p(name, args, {"affix"}, 1);
    std::optional<std::string> a = p.string_opt(0);
    if (!a) throw_runtime(name + "() needs a string");
    if (name == "removeprefix") return Value(s.compare(0, a->size(), *a) == 0 ? s.substr(a->size()) : s);
    bool ends = a->size() <= s.size() && s.compare(s.size() - a->size(), a->size(), *a) == 0;
    return Value(ends && !a->empty() ? s.substr(0, s.size() - a->size()) : s);
  }
  Params p(name, args, {});
  if (name == "isdigit") return Value(all_chars(s, [](uint32_t c) { return is_decimal(c); }));
  if (name == "isspace") return Value(all_chars(s, [](uint32_t c) { return is_py_space(c); }));
  if (name == "isalpha") return Value(all_chars(s, [](uint32_t c) { return is_letter(c); }));
  if (name == "isalnum") return Value(all_chars(s, [](uint32_t c) { return is_letter(c) || is_numeric_char(c); }));
  if (name == "islower" || name == "isupper") {
    bool lower = name == "islower";
    std::string mapped = lower ? py_lower(s) : py_upper(s);
    std::string other = lower ? py_upper(s) : py_lower(s);
    // Python: at least one cased character and no character of the other case.
    return Value(mapped == s && other != s);
  }
  throw_runtime("'str' object has no method '" + name + "'");
}

Value dict_method(Interpreter& in, const Value& self, const std::string& name, Args& args) {
  const DictData& d = self.dict();
  if (name == "get") {
    Params p(name, args, {"key", "default"}, 1);
    const Value* v = d.find(p.get(0));
    return v ? *v : p.get_or(1, Value::none());
  }
  Params p(name, args, {});
  in.step(d.size());
  std::vector<Value> out;
  out.reserve(d.size());
  for (const auto& [k, v] : d.entries) {
    if (name == "keys") out.push_back(k);
    else if (name == "values") out.push_back(v);
    else out.emplace_back(in.heap().list({k, v}, true));
  }
  return Value(in.heap().list(std::move(out)));
}

Value list_method(Interpreter& in, const Value& self, const std::string& name, Args& args) {
  ListData& l = self.list();
  if (name == "append") {
    Params p(name, args, {"item"}, 1);
    if (l.tuple) throw_runtime("'tuple' object has no attribute 'append'");
    in.heap().charge(Heap::footprint(p.get(0)));
    l.items.push_back(p.get(0));
    return Value::none();
  }
  if (name == "extend") {
    Params p(name, args, {"iterable"}, 1);
    if (l.tuple) throw_runtime("'tuple' object has no attribute 'extend'");
    std::vector<Value> more = in.iterate(p.get(0));
    in.step(more.size());
    for (Value& v : more) {
      in.heap().charge(Heap::footprint(v));
      l.items.push_back(std::move(v));
    }
    return Value::none();
  }
  Params p(name, args, {"value"}, 1);
  int64_t count = 0;
  for (size_t i = 0; i < l.items.size(); ++i) {
    in.step();
    if (!equals(l.items[i], p.get(0), in.value_depth())) continue;
    if (name == "index") return Value(int64_t(i));
    ++count;
  }
  if (name == "index") throw_runtime(repr(p.get(0), in.value_depth()) + " is not in list");
  return Value(count);
}

}  // namespace

bool has_method(const Value& self, const std::string& name) {
  switch (self.kind()) {
    case Value::Kind::String: return listed(kStringMethods, name);
    case Value::Kind::Dict: return listed(kDictMethods, name);
    case Value::Kind::List: return listed(kListMethods, name);
    case Value::Kind::Object:
      return std::strcmp(self.object().type_name(), "LoopContext") == 0 && LoopState::has_method(name);
    default: return false;
  }
}

Value call_method(Interpreter& in, const Value& self, const std::string& name, Args& args) {
  switch (self.kind()) {
    case Value::Kind::String: return string_method(in, self.str(), name, args);
    case Value::Kind::Dict: return dict_method(in, self, name, args);
    case Value::Kind::List: return list_method(in, self, name, args);
    case Value::Kind::Object:
      if (std::strcmp(self.object().type_name(), "LoopContext") == 0)
        return static_cast<LoopState&>(self.object()).method(name, in, args);
      break;
    default: break;
  }
  throw_runtime("'" + type_name(self) + "' object has no method '" + name + "'");
}

}  // namespace tessera::lm::chat_template
