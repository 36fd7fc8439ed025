// Reading tokenizer.json components: every error names the file and the JSON path of the value,
// e.g. "[tokenizer] tok/tokenizer.json: pre_tokenizer.pretokenizers[0].behavior: unknown value 'X'".
#pragma once

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>

namespace tessera::lm::detail {

using json = nlohmann::json;

struct JsonContext {
  std::string file;
  mutable int depth = 0;

  // Bounds the recursion through nested Sequence components (a crafted file could nest
  // thousands deep).
  struct Nesting {
    const JsonContext& ctx;
    Nesting(const JsonContext& c, const std::string& where) : ctx(c) {
      if (++ctx.depth > 32) {
        --ctx.depth;
        ctx.fail(where, "components nested too deeply");
      }
    }
    ~Nesting() { --ctx.depth; }
  };

  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    throw std::invalid_argument("[tokenizer] " + file + ": " + (where.empty() ? "" : where + ": ") + what);
  }

  const json& member(const json& obj, const char* key, const std::string& where) const {
    if (!obj.is_object()) fail(where, "expected an object");
    auto it = obj.find(key);
    if (it == obj.end()) fail(where, std::string("missing \"") + key + "\"");
    return *it;
  }
  // The member, or nullptr when absent or null.
  const json* optional(const json& obj, const char* key) const {
    if (!obj.is_object()) return nullptr;
    auto it = obj.find(key);
    return it == obj.end() || it->is_null() ? nullptr : &*it;
  }
  std::string string(const json& obj, const char* key, const std::string& where) const {
    const json& v = member(obj, key, where);
    if (!v.is_string()) fail(where + "." + key, "expected a string");
    return v.get<std::string>();
  }
  std::string string_or(const json& obj, const char* key, const std::string& where, std::string fallback) const {
    const json* v = optional(obj, key);
    if (!v) return fallback;
    if (!v->is_string()) fail(where + "." + key, "expected a string");
    return v->get<std::string>();
  }
  bool boolean_or(const json& obj, const char* key, const std::string& where, bool fallback) const {
    const json* v = optional(obj, key);
    if (!v) return fallback;
    if (!v->is_boolean()) fail(where + "." + key, "expected true or false");
    return v->get<bool>();
  }
  long long integer_or(const json& obj, const char* key, const std::string& where, long long fallback) const {
    const json* v = optional(obj, key);
    if (!v) return fallback;
    if (!v->is_number_integer()) fail(where + "." + key, "expected an integer");
    return v->get<long long>();
  }
  const json& array(const json& obj, const char* key, const std::string& where) const {
    const json& v = member(obj, key, where);
    if (!v.is_array()) fail(where + "." + key, "expected an array");
    return v;
  }
  std::string type(const json& obj, const std::string& where) const { return string(obj, "type", where); }
};

inline std::string indexed(const std::string& where, size_t i) { return where + "[" + std::to_string(i) + "]"; }

}  // namespace tessera::lm::detail
