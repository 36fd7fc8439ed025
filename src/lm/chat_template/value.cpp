#include "lm/chat_template/value.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "lm/chat_template/source.h"
#include "lm/chat_template/text.h"

namespace tessera::lm::chat_template {

namespace {

void check_depth(int depth) {
  if (depth < 0) throw_runtime("value nested too deeply (or containing itself) to print or compare");
}

}  // namespace

const void* Value::identity() const {
  switch (kind()) {
    case Kind::List: return std::get<ListData*>(v_);
    case Kind::Dict: return std::get<DictData*>(v_);
    case Kind::Object: return std::get<Object*>(v_);
    case Kind::Callable: return std::get<Callable*>(v_);
    default: return nullptr;
  }
}

const Value* DictData::find(const Value& key) const {
  std::optional<std::string> h = hash_key(key);
  if (!h) return nullptr;
  auto it = index.find(*h);
  return it == index.end() ? nullptr : &entries[it->second].second;
}

const Value* DictData::find(std::string_view key) const {
  std::string h;
  h.reserve(key.size() + 1);
  h += 's';
  h += key;
  auto it = index.find(h);
  return it == index.end() ? nullptr : &entries[it->second].second;
}

void DictData::set(const Value& key, Value value) {
  std::optional<std::string> h = hash_key(key);
  if (!h) throw_runtime("unhashable type: '" + type_name(key) + "' used as a dict key");
  auto [it, inserted] = index.emplace(std::move(*h), entries.size());
  if (inserted)
    entries.emplace_back(key, std::move(value));
  else
    entries[it->second].second = std::move(value);
}

void Object::set_attr(const std::string& name, Value) {
  throw_runtime(std::string("cannot assign attribute '") + name + "' on a " + type_name() +
                " object (only namespace() objects take assignments)");
}

std::string Object::repr(int) const { return std::string("<") + type_name() + " object>"; }

ListData* Heap::list(std::vector<Value> items, bool tuple) {
  size_t bytes = 0;
  for (const Value& v : items) bytes += footprint(v);
  charge(bytes);
  ListData* l = make<ListData>();
  l->items = std::move(items);
  l->tuple = tuple;
  return l;
}

DictData* Heap::dict() { return make<DictData>(); }

void Heap::charge(size_t bytes) {
  used_ += bytes;
  if (used_ > budget_)
    throw_runtime("the template used more than " + std::to_string(budget_) +
                  " bytes of lists, dicts and scopes (memory limit)");
}

size_t Heap::footprint(const Value& v) { return sizeof(Value) + (v.is_string() ? v.str().size() : 0); }

std::string type_name(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined: return "Undefined";
    case Value::Kind::None: return "NoneType";
    case Value::Kind::Bool: return "bool";
    case Value::Kind::Int: return "int";
    case Value::Kind::Float: return "float";
    case Value::Kind::String: return "str";
    case Value::Kind::List: return v.list().tuple ? "tuple" : "list";
    case Value::Kind::Dict: return "dict";
    case Value::Kind::Object: return v.object().type_name();
    case Value::Kind::Callable: return "function";
  }
  return "object";
}

bool truthy(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined:
    case Value::Kind::None: return false;
    case Value::Kind::Bool: return v.as_bool();
    case Value::Kind::Int: return v.as_int() != 0;
    case Value::Kind::Float: return v.as_float() != 0.0;
    case Value::Kind::String: return !v.str().empty();
    case Value::Kind::List: return !v.list().items.empty();
    case Value::Kind::Dict: return v.dict().size() != 0;
    default: return true;
  }
}

std::optional<std::string> hash_key(const Value& v, int depth) {
  switch (v.kind()) {
    case Value::Kind::Undefined: return std::string("u");
    case Value::Kind::None: return std::string("n");
    case Value::Kind::Bool:
    case Value::Kind::Int: return "i" + std::to_string(v.to_int());
    case Value::Kind::Float: {
      double d = v.as_float();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.2e18) return "i" + std::to_string(int64_t(d));
      return "f" + float_repr(d);
    }
    case Value::Kind::String: return "s" + v.str();
    case Value::Kind::List: {
      if (!v.list().tuple || depth <= 0) return std::nullopt;
      std::string key = "t";
      for (const Value& item : v.list().items) {
        std::optional<std::string> k = hash_key(item, depth - 1);
        if (!k) return std::nullopt;
        key += std::to_string(k->size()) + ":" + *k;
      }
      return key;
    }
    default: return std::nullopt;
  }
}

std::string float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  // sci is [-]D[.DDD]e(+|-)XX with the shortest digits that round-trip.
  bool negative = sci[0] == '-';
  size_t epos = sci.find('e');
  std::string mantissa = sci.substr(negative ? 1 : 0, epos - (negative ? 1 : 0));
  int exponent = std::atoi(sci.c_str() + epos + 1);
  std::string digits;
  for (char c : mantissa)
    if (c != '.') digits += c;
  std::string out = negative ? "-" : "";
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) {
      out += "0." + std::string(size_t(-exponent - 1), '0') + digits;
    } else if (size_t(exponent) + 1 >= digits.size()) {
      out += digits + std::string(size_t(exponent) + 1 - digits.size(), '0') + ".0";
    } else {
      out += digits.substr(0, size_t(exponent) + 1) + "." + digits.substr(size_t(exponent) + 1);
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (digits.size() > 1) out += "." + digits.substr(1);
  char exp[16];
  std::snprintf(exp, sizeof(exp), "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
  return out + exp;
}

std::string repr_string(std::string_view s) {
  bool has_single = s.find('\'') != std::string_view::npos;
  bool has_double = s.find('"') != std::string_view::npos;
  char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  uint32_t cp;
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8_next(s, i, cp);
    bool invalid = n == 1 && cp >= 0x80;
    if (invalid) {
      out += s[i];
    } else if (cp == uint32_t(quote) || cp == '\\') {
      out += '\\';
      out += char(cp);
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp < 0x20 || (cp >= 0x7F && cp < 0xA1) || cp == 0xAD) {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "\\x%02x", unsigned(cp));
      out += hex;
    } else {
      out.append(s.substr(i, n));
    }
    i += n;
  }
  out += quote;
  return out;
}

std::string to_str(const Value& v, int depth) {
  switch (v.kind()) {
    case Value::Kind::Undefined: return "";
    case Value::Kind::String: return v.str();
    default: return repr(v, depth);
  }
}

std::string repr(const Value& v, int depth) {
  check_depth(depth);
  switch (v.kind()) {
    // Printed on its own an undefined is empty; inside a list or dict Python shows its repr.
    case Value::Kind::Undefined: return "Undefined";
    case Value::Kind::None: return "None";
    case Value::Kind::Bool: return v.as_bool() ? "True" : "False";
    case Value::Kind::Int: return std::to_string(v.as_int());
    case Value::Kind::Float: return float_repr(v.as_float());
    case Value::Kind::String: return repr_string(v.str());
    case Value::Kind::List: {
      const ListData& l = v.list();
      std::string out = l.tuple ? "(" : "[";
      for (size_t i = 0; i < l.items.size(); ++i) {
        if (i) out += ", ";
        out += repr(l.items[i], depth - 1);
      }
      if (l.tuple && l.items.size() == 1) out += ",";
      out += l.tuple ? ")" : "]";
      return out;
    }
    case Value::Kind::Dict: {
      std::string out = "{";
      bool first = true;
      for (const auto& [k, val] : v.dict().entries) {
        if (!first) out += ", ";
        first = false;
        out += repr(k, depth - 1) + ": " + repr(val, depth - 1);
      }
      return out + "}";
    }
    case Value::Kind::Object: return v.object().repr(depth - 1);
    case Value::Kind::Callable: return "<function " + v.callable().name() + ">";
  }
  return "";
}

bool equals(const Value& a, const Value& b, int depth) {
  check_depth(depth);
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.to_double() == b.to_double();
    return a.to_int() == b.to_int();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::Undefined:
    case Value::Kind::None: return true;
    case Value::Kind::String: return a.str() == b.str();
    case Value::Kind::List: {
      const ListData &x = a.list(), &y = b.list();
      if (&x == &y) return true;
      if (x.tuple != y.tuple || x.items.size() != y.items.size()) return false;
      for (size_t i = 0; i < x.items.size(); ++i)
        if (!equals(x.items[i], y.items[i], depth - 1)) return false;
      return true;
    }
    case Value::Kind::Dict: {
      const DictData &x = a.dict(), &y = b.dict();
      if (&x == &y) return true;
      if (x.size() != y.size()) return false;
      for (const auto& [k, val] : x.entries) {
        const Value* other = y.find(k);
        if (!other || !equals(val, *other, depth - 1)) return false;
      }
      return true;
    }
    default: return a.identity() == b.identity();
  }
}

int compare(const Value& a, const Value& b, int depth) {
  check_depth(depth);
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) {
      double x = a.to_double(), y = b.to_double();
      return x < y ? -1 : x > y ? 1 : 0;
    }
    int64_t x = a.to_int(), y = b.to_int();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) {
    int c = a.str().compare(b.str());
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (a.is_list() && b.is_list() && a.list().tuple == b.list().tuple) {
    const auto &x = a.list().items, &y = b.list().items;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (equals(x[i], y[i], depth - 1)) continue;
      return compare(x[i], y[i], depth - 1);
    }
    return x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0;
  }
  throw_runtime("'<' not supported between instances of '" + type_name(a) + "' and '" + type_name(b) + "'");
}

}  // namespace tessera::lm::chat_template
