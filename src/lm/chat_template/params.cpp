#include "lm/chat_template/builtins.h"
#include "lm/chat_template/source.h"

namespace tessera::lm::chat_template {

Params::Params(std::string_view function, const Args& args, std::initializer_list<const char*> names, size_t required,
               bool variadic)
    : function_(function), names_(names), slots_(names.size(), nullptr) {
  for (size_t i = 0; i < args.positional.size(); ++i) {
    if (i < slots_.size()) {
      slots_[i] = &args.positional[i];
    } else if (variadic) {
      rest_.push_back(&args.positional[i]);
    } else {
      throw_runtime(function_ + "() takes at most " + std::to_string(slots_.size()) + " argument" +
                    (slots_.size() == 1 ? "" : "s") + " (" + std::to_string(args.positional.size()) + " given)");
    }
  }
  for (const auto& [key, value] : args.keyword) {
    size_t i = 0;
    while (i < names_.size() && key != names_[i]) ++i;
    if (i == names_.size()) throw_runtime(function_ + "() got an unexpected keyword argument '" + key + "'");
    if (slots_[i]) throw_runtime(function_ + "() got multiple values for argument '" + key + "'");
    slots_[i] = &value;
  }
  for (size_t i = 0; i < required && i < slots_.size(); ++i)
    if (!slots_[i]) throw_runtime(function_ + "() missing required argument '" + names_[i] + "'");
}

int64_t Params::int_or(size_t i, int64_t fallback) const {
  if (!slots_[i] || slots_[i]->is_none()) return fallback;
  const Value& v = *slots_[i];
  if (v.is_int() || v.is_bool()) return v.to_int();
  throw_runtime(function_ + "(): argument '" + names_[i] + "' must be an integer, not " + type_name(v));
}

bool Params::bool_or(size_t i, bool fallback) const { return slots_[i] ? truthy(*slots_[i]) : fallback; }

std::optional<std::string> Params::string_opt(size_t i) const {
  if (!slots_[i] || slots_[i]->is_none() || slots_[i]->is_undefined()) return std::nullopt;
  const Value& v = *slots_[i];
  if (!v.is_string()) throw_runtime(function_ + "(): argument '" + names_[i] + "' must be a string, not " + type_name(v));
  return v.str();
}

}  // namespace tessera::lm::chat_template
