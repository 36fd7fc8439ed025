#include "lm/chat_template/json_values.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "lm/chat_template/interpreter.h"
#include "lm/chat_template/source.h"
#include "lm/chat_template/text.h"

namespace tessera::lm::chat_template {

Value from_json(Heap& heap, const ChatJson& j, int depth) {
  if (depth < 0) throw_runtime("JSON input nested too deeply");
  switch (j.type()) {
    case ChatJson::value_t::null: return Value::none();
    case ChatJson::value_t::boolean: return Value(j.get<bool>());
    case ChatJson::value_t::number_integer: return Value(j.get<int64_t>());
    case ChatJson::value_t::number_unsigned: {
      uint64_t u = j.get<uint64_t>();
      return u <= uint64_t(INT64_MAX) ? Value(int64_t(u)) : Value(double(u));
    }
    case ChatJson::value_t::number_float: return Value(j.get<double>());
    case ChatJson::value_t::string: return Value(j.get_ref<const std::string&>());
    case ChatJson::value_t::array: {
      std::vector<Value> items;
      items.reserve(j.size());
      for (const auto& x : j) items.push_back(from_json(heap, x, depth - 1));
      return Value(heap.list(std::move(items)));
    }
    case ChatJson::value_t::object: {
      DictData* d = heap.dict();
      for (auto it = j.begin(); it != j.end(); ++it) {
        Value v = from_json(heap, it.value(), depth - 1);
        heap.charge(Heap::footprint(v) + it.key().size() + sizeof(Value) + 32);
        d->set(Value(it.key()), std::move(v));
      }
      return Value(d);
    }
    default: throw_runtime("binary JSON values cannot be passed to a template");
  }
}

namespace {

void append_json_string(std::string& out, std::string_view s, bool ensure_ascii) {
  out += '"';
  uint32_t cp;
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8_next(s, i, cp);
    bool invalid = n == 1 && cp >= 0x80;
    char buf[16];
    if (invalid) {
      // Python strings cannot hold such bytes; keep them rather than losing text.
      out += s[i];
    } else if (cp == '"') {
      out += "\\\"";
    } else if (cp == '\\') {
      out += "\\\\";
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp == '\b') {
      out += "\\b";
    } else if (cp == '\f') {
      out += "\\f";
    } else if (cp < 0x20 || (ensure_ascii && cp >= 0x7F)) {
      if (cp >= 0x10000) {
        uint32_t v = cp - 0x10000;
        std::snprintf(buf, sizeof(buf), "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
      } else {
        std::snprintf(buf, sizeof(buf), "\\u%04x", cp);
      }
      out += buf;
    } else {
      out.append(s.substr(i, n));
    }
    i += n;
  }
  out += '"';
}

std::string json_number(const Value& v) {
  if (v.is_bool()) return v.as_bool() ? "true" : "false";
  if (v.is_int()) return std::to_string(v.as_int());
  double d = v.as_float();
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  return float_repr(d);
}

class JsonWriter {
 public:
  JsonWriter(Interpreter& in, const JsonStyle& style) : in_(in), style_(style) {}

  void write(const Value& v, int depth, size_t level) {
    if (depth < 0) throw_runtime("value nested too deeply (or containing itself) for tojson");
    in_.step();
    in_.check_string_size(out.size());
    switch (v.kind()) {
      case Value::Kind::None: out += "null"; return;
      case Value::Kind::Bool:
      case Value::Kind::Int:
      case Value::Kind::Float: out += json_number(v); return;
      case Value::Kind::String: append_json_string(out, v.str(), style_.ensure_ascii); return;
      case Value::Kind::List: {
        const auto& items = v.list().items;
        if (items.empty()) {
          out += "[]";
          return;
        }
        out += '[';
        for (size_t i = 0; i < items.size(); ++i) {
          if (i) out += style_.item_separator;
          newline(level + 1);
          write(items[i], depth - 1, level + 1);
        }
        newline(level);
        out += ']';
        return;
      }
      case Value::Kind::Dict: {
        std::vector<std::pair<std::string, const Value*>> entries;
        for (const auto& [k, val] : v.dict().entries) entries.emplace_back(key_string(k), &val);
        if (style_.sort_keys)
          std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        if (entries.empty()) {
          out += "{}";
          return;
        }
        out += '{';
        for (size_t i = 0; i < entries.size(); ++i) {
          if (i) out += style_.item_separator;
          newline(level + 1);
          append_json_string(out, entries[i].first, style_.ensure_ascii);
          out += style_.key_separator;
          write(*entries[i].second, depth - 1, level + 1);
        }
        newline(level);
        out += '}';
        return;
      }
      default:
        throw_runtime("Object of type " + type_name(v) + " is not JSON serializable");
    }
  }

  std::string out;

 private:
  // json.dumps turns None, bool and number keys into strings; other keys are an error.
  static std::string key_string(const Value& k) {
    switch (k.kind()) {
      case Value::Kind::String: return k.str();
      case Value::Kind::None: return "null";
      case Value::Kind::Bool:
      case Value::Kind::Int:
      case Value::Kind::Float: return json_number(k);
      default: throw_runtime("keys must be str, int, float, bool or None, not " + type_name(k));
    }
  }

  void newline(size_t level) {
    if (!style_.indent) return;
    out += '\n';
    for (size_t i = 0; i < level; ++i) out += *style_.indent;
  }

  Interpreter& in_;
  const JsonStyle& style_;
};

}  // namespace

std::string to_json(Interpreter& in, const Value& v, const JsonStyle& style) {
  JsonWriter w(in, style);
  w.write(v, in.value_depth(), 0);
  in.check_string_size(w.out.size());
  return std::move(w.out);
}

}  // namespace tessera::lm::chat_template
