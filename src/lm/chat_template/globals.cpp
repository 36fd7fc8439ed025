// Global functions: Jinja's range, namespace and dict, and the two transformers adds for chat
// templates, raise_exception and strftime_now.
#include <ctime>
#include <limits>

#include "lm/chat_template/builtins.h"
#include "lm/chat_template/interpreter.h"
#include "lm/chat_template/source.h"

namespace tessera::lm::chat_template {

namespace {

Value range_fn(Interpreter& in, Args& args) {
  if (!args.keyword.empty()) throw_runtime("range() takes no keyword arguments");
  const auto& p = args.positional;
  if (p.empty() || p.size() > 3) throw_runtime("range() expects 1 to 3 integer arguments");
  for (const Value& v : p)
    if (!v.is_int() && !v.is_bool()) throw_runtime("range() arguments must be integers, not " + type_name(v));
  int64_t start = 0, stop, step = 1;
  if (p.size() == 1) {
    stop = p[0].to_int();
  } else {
    start = p[0].to_int();
    stop = p[1].to_int();
    if (p.size() == 3) step = p[2].to_int();
  }
  if (step == 0) throw_runtime("range() arg 3 must not be zero");
  // Count in unsigned arithmetic: stop - start can exceed int64.
  uint64_t count = 0;
  if (step > 0 && stop > start) count = (uint64_t(stop) - uint64_t(start) - 1) / uint64_t(step) + 1;
  if (step < 0 && start > stop) count = (uint64_t(start) - uint64_t(stop) - 1) / (uint64_t(-(step + 1)) + 1) + 1;
  in.step(count);
  std::vector<Value> items;
  items.reserve(size_t(count));
  int64_t v = start;
  for (uint64_t i = 0; i < count; ++i) {
    items.emplace_back(v);
    if (i + 1 < count) v = int64_t(uint64_t(v) + uint64_t(step));
  }
  return Value(in.heap().list(std::move(items)));
}

// Copies a mapping argument's entries and keyword arguments into a new dict.
DictData* build_dict(Interpreter& in, const char* fn, Args& args) {
  if (args.positional.size() > 1) throw_runtime(std::string(fn) + "() takes at most 1 positional argument");
  DictData* d = in.heap().dict();
  if (!args.positional.empty()) {
    const Value& src = args.positional[0];
    if (src.is_dict()) {
      for (const auto& [k, v] : src.dict().entries) d->set(k, v);
    } else if (src.is_list()) {
      for (const Value& pair : src.list().items) {
        if (!pair.is_list() || pair.list().items.size() != 2)
          throw_runtime(std::string(fn) + "() needs a mapping or a list of key/value pairs");
        d->set(pair.list().items[0], pair.list().items[1]);
      }
    } else {
      throw_runtime(std::string(fn) + "() needs a mapping, not " + type_name(src));
    }
  }
  for (const auto& [k, v] : args.keyword) d->set(Value(k), v);
  in.heap().charge(d->size() * 2 * sizeof(Value));
  return d;
}

Value namespace_fn(Interpreter& in, Args& args) {
  return Value(static_cast<Object*>(in.heap().make<Namespace>(build_dict(in, "namespace", args))));
}

Value dict_fn(Interpreter& in, Args& args) { return Value(build_dict(in, "dict", args)); }

Value raise_exception_fn(Interpreter& in, Args& args) {
  Params p("raise_exception", args, {"message"});
  throw_runtime("raise_exception: " + (p.has(0) ? in.str(p.get(0)) : std::string("(no message)")));
}

Value strftime_now_fn(Interpreter& in, Args& args) {
  Params p("strftime_now", args, {"format"}, 1);
  std::optional<std::string> format = p.string_opt(0);
  if (!format) throw_runtime("strftime_now() needs a format string");
  std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  if (format->empty()) return Value(std::string());
  for (size_t size = 256; size <= 65536; size *= 4) {
    std::string buf(size, '\0');
    size_t n = std::strftime(buf.data(), buf.size(), format->c_str(), &local);
    if (n > 0) {
      buf.resize(n);
      return Value(std::move(buf));
    }
  }
  // strftime gives 0 both for "too long" and for formats that print nothing (e.g. "%p" in some locales).
  return Value(std::string());
}

}  // namespace

void install_globals(Interpreter& in, Scope& scope) {
  struct Entry {
    const char* name;
    NativeFunction::Fn fn;
  };
  static constexpr Entry kGlobals[] = {
      {"range", range_fn},
      {"namespace", namespace_fn},
      {"dict", dict_fn},
      {"raise_exception", raise_exception_fn},
      {"strftime_now", strftime_now_fn},
  };
  for (const Entry& e : kGlobals) scope.vars[e.name] = Value(static_cast<Callable*>(in.heap().make<NativeFunction>(e.name, e.fn)));
}

}  // namespace tessera::lm::chat_template
