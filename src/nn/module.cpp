// The module tree: registration, dotted-path lookup, flattening, update, freezing and weights I/O.
#include "tessera/nn/module.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>
#include <unordered_map>

#include "tessera/io.h"
#include "ops/op_utils.h"
#include "tessera/ops.h"

namespace tessera::nn {

namespace {

std::string describe_array(const array& a) { return shape_list(a.shape()) + " " + dtype_name(a.dtype()); }

void check_component(const char* op, const std::string& name) {
  if (name.empty() || name.find('.') != std::string::npos) {
    throw std::invalid_argument(std::string("[") + op + "] Name '" + name +
                                "' must be a non-empty single path component (no dots).");
  }
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
  return out;
}

// The container node behind register_modules: children "0", "1", ...; it has no forward.
class ModuleList : public Module {
 public:
  std::string type_name() const override { return "ModuleList"; }
};

}  // namespace

std::string LoadReport::to_string() const {
  std::ostringstream os;
  size_t expected = loaded.size() + missing.size() + mismatched.size();
  os << "loaded " << loaded.size() << " of " << expected << " parameters";
  if (ok()) return os.str();
  auto list = [&](const char* what, const std::vector<std::string>& names) {
    if (names.empty()) return;
    os << "\n  " << what << " (" << names.size() << "): " << join(names, ", ");
  };
  list("missing", missing);
  list("unexpected", unexpected);
  list("mismatched", mismatched);
  return os.str();
}

// ---------------------------------------------------------------- forward

std::vector<array> Module::forward(const std::vector<array>&) {
  throw std::logic_error("[" + type_name() + "] This module has no forward; call its children instead.");
}

array Module::operator()(const array& x) {
  std::vector<array> out = forward({x});
  if (out.size() != 1) {
    throw std::logic_error("[" + type_name() + "] operator()(array) expects one output, forward returned " +
                           std::to_string(out.size()) + "; call forward() instead.");
  }
  return std::move(out[0]);
}

const array& Module::single_input(const std::vector<array>& inputs) const {
  if (inputs.size() != 1) {
    throw std::invalid_argument("[" + type_name() + "] Expected one input, got " + std::to_string(inputs.size()) + ".");
  }
  return inputs[0];
}

// ---------------------------------------------------------------- registration and access

Module::Entry* Module::find_entry(const std::string& name) {
  for (auto& e : params_)
    if (e.name == name) return &e;
  return nullptr;
}

const Module::Entry* Module::find_entry(const std::string& name) const {
  for (auto& e : params_)
    if (e.name == name) return &e;
  return nullptr;
}

array& Module::register_parameter(const std::string& name, array value) {
  check_component("register_parameter", name);
  if (Entry* e = find_entry(name)) {
    e->value = std::move(value);
    e->buffer = false;
    return e->value;
  }
  params_.push_back(Entry{name, std::move(value), false, false});
  return params_.back().value;
}

array& Module::register_buffer(const std::string& name, array value) {
  check_component("register_buffer", name);
  if (Entry* e = find_entry(name)) {
    e->value = std::move(value);
    e->buffer = true;
    return e->value;
  }
  params_.push_back(Entry{name, std::move(value), true, false});
  return params_.back().value;
}

void Module::register_modules(const std::string& name, const std::vector<ModulePtr>& modules) {
  auto list = std::make_shared<ModuleList>();
  for (size_t i = 0; i < modules.size(); ++i) list->set_child(std::to_string(i), modules[i]);
  set_child(name, list);
}

array& Module::param(const std::string& name) {
  if (Entry* e = find_entry(name)) return e->value;
  throw std::out_of_range("[" + type_name() + "] No parameter named '" + name + "'.");
}

const array& Module::param(const std::string& name) const {
  if (const Entry* e = find_entry(name)) return e->value;
  throw std::out_of_range("[" + type_name() + "] No parameter named '" + name + "'.");
}

bool Module::has_param(const std::string& name) const { return find_entry(name) != nullptr; }

ModulePtr Module::child_ptr(const std::string& path) const {
  const Module* node = this;
  ModulePtr found;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    found = nullptr;
    for (auto& [n, m] : node->children_)
      if (n == part) found = m;
    if (!found) return nullptr;
    if (dot == std::string::npos) return found;
    node = found.get();
    start = dot + 1;
  }
}

bool Module::has_child(const std::string& path) const { return child_ptr(path) != nullptr; }

Module& Module::child(const std::string& path) const {
  ModulePtr m = child_ptr(path);
  if (!m) throw std::out_of_range("[" + type_name() + "] No submodule named '" + path + "'.");
  return *m;
}

void Module::set_child(const std::string& path, ModulePtr module) {
  if (!module) throw std::invalid_argument("[register_module] Module '" + path + "' is null.");
  size_t dot = path.rfind('.');
  if (dot != std::string::npos) {
    child(path.substr(0, dot)).set_child(path.substr(dot + 1), std::move(module));
    return;
  }
  check_component("register_module", path);
  for (auto& [n, m] : children_) {
    if (n == path) {
      m = std::move(module);
      return;
    }
  }
  children_.emplace_back(path, std::move(module));
}

std::vector<std::pair<std::string, ModulePtr>> Module::children() const { return children_; }

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  // Depth-first in registration order, parents before their children ("layers.2" before "layers.10").
  std::vector<std::pair<std::string, Module*>> out;
  std::vector<std::pair<std::string, Module*>> stack{{"", this}};
  while (!stack.empty()) {
    auto [prefix, m] = stack.back();
    stack.pop_back();
    out.emplace_back(prefix, m);
    for (auto it = m->children_.rbegin(); it != m->children_.rend(); ++it)
      stack.emplace_back(prefix.empty() ? it->first : prefix + "." + it->first, it->second.get());
  }
  return out;
}

std::vector<std::string> Module::local_parameter_names() const {
  std::vector<std::string> out;
  for (auto& e : params_) out.push_back(e.name);
  return out;
}

std::pair<Module*, Module::Entry*> Module::resolve_parameter(const std::string& path) {
  size_t dot = path.rfind('.');
  Module* owner = this;
  if (dot != std::string::npos) {
    ModulePtr m = child_ptr(path.substr(0, dot));
    if (!m) return {nullptr, nullptr};
    owner = m.get();
  }
  Entry* e = owner->find_entry(dot == std::string::npos ? path : path.substr(dot + 1));
  return {e ? owner : nullptr, e};
}

void Module::collect(const std::string& prefix, Params& out, bool trainable_only) const {
  for (auto& e : params_) {
    if (trainable_only && (e.buffer || e.frozen)) continue;
    out.insert_or_assign(prefix + e.name, e.value);
  }
  for (auto& [n, c] : children_) c->collect(prefix + n + ".", out, trainable_only);
}

Params Module::parameters() const {
  Params out;
  collect("", out, false);
  return out;
}

Params Module::trainable_parameters() const {
  Params out;
  collect("", out, true);
  return out;
}

// ---------------------------------------------------------------- update and freezing

void Module::update(const Params& params) {
  std::vector<std::string> unknown, mismatched;
  std::vector<Entry*> targets;
  targets.reserve(params.size());
  for (auto& [name, value] : params) {
    Entry* e = resolve_parameter(name).second;
    if (!e) {
      unknown.push_back(name);
    } else if (e->value.shape() != value.shape()) {
      mismatched.push_back(name + ": expected " + shape_list(e->value.shape()) + ", got " +
                           shape_list(value.shape()));
    }
    targets.push_back(e);
  }
  if (!unknown.empty() || !mismatched.empty()) {
    std::string msg = "[update] ";
    if (!unknown.empty()) msg += "Unknown parameters: " + join(unknown, ", ") + ".";
    if (!mismatched.empty()) msg += std::string(unknown.empty() ? "" : " ") + "Shape mismatch: " + join(mismatched, "; ") + ".";
    throw std::invalid_argument(msg);
  }
  size_t i = 0;
  for (auto& [name, value] : params) targets[i++]->value = value;
}

bool Module::is_frozen(const std::string& local_name) const {
  const Entry* e = find_entry(local_name);
  if (!e) throw std::out_of_range("[" + type_name() + "] No parameter named '" + local_name + "'.");
  return e->buffer || e->frozen;
}

void Module::set_frozen(const std::vector<std::string>& keys, bool recurse, bool frozen, const char* op) {
  auto set_all = [frozen](Module& m, bool rec) {
    if (!rec) {
      for (auto& e : m.params_) e.frozen = frozen;
      return;
    }
    for (auto& [p, node] : m.named_modules())
      for (auto& e : node->params_) e.frozen = frozen;
  };
  if (keys.empty()) {
    set_all(*this, recurse);
    return;
  }
  std::vector<std::string> unmatched;
  for (const std::string& key : keys) {
    bool matched = false;
    if (auto [owner, e] = resolve_parameter(key); e) {
      e->frozen = frozen;
      matched = true;
    } else if (ModulePtr m = child_ptr(key)) {
      set_all(*m, true);
      matched = true;
    }
    if (key.find('.') == std::string::npos) {
      // A plain name also matches that local parameter name in every module of the tree.
      if (recurse) {
        for (auto& [p, node] : named_modules()) {
          if (Entry* e = node->find_entry(key)) {
            e->frozen = frozen;
            matched = true;
          }
        }
      }
    }
    if (!matched) unmatched.push_back(key);
  }
  if (!unmatched.empty()) {
    throw std::invalid_argument(std::string("[") + op + "] No parameter or module named " + join(unmatched, ", ") +
                                " in " + type_name() + ".");
  }
}

void Module::freeze(const std::vector<std::string>& keys, bool recurse) { set_frozen(keys, recurse, true, "freeze"); }

void Module::unfreeze(const std::vector<std::string>& keys, bool recurse) {
  set_frozen(keys, recurse, false, "unfreeze");
}

void Module::train(bool mode) {
  for (auto& [p, m] : named_modules()) m->training_ = mode;
}

void Module::set_dtype(Dtype dtype) {
  for (auto& [p, m] : named_modules())
    for (auto& e : m->params_)
      if (issubdtype(e.value.dtype(), floating)) e.value = astype(e.value, dtype);
}

// ---------------------------------------------------------------- weights

LoadReport Module::load_weights(const Params& weights, bool strict) {
  LoadReport report;
  Params current = parameters();
  Params accepted;
  for (auto& [name, value] : weights) {
    auto it = current.find(name);
    if (it == current.end()) {
      report.unexpected.push_back(name);
    } else if (it->second.shape() != value.shape()) {
      report.mismatched.push_back(name + ": expected " + describe_array(it->second) + ", got " + describe_array(value));
    } else {
      report.loaded.push_back(name);
      accepted.emplace(name, value);
    }
  }
  for (auto& [name, value] : current)
    if (!weights.count(name)) report.missing.push_back(name);
  if (strict && !report.ok()) throw std::invalid_argument("[load_weights] " + report.to_string());
  update(accepted);
  return report;
}

LoadReport Module::load_weights(const std::string& path, bool strict) {
  auto ends_with = [&](const std::string& suffix) {
    return path.size() >= suffix.size() && path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  std::unordered_map<std::string, array> loaded = ends_with(".npz") ? loadz(path) : load_safetensors(path).first;
  Params weights(loaded.begin(), loaded.end());
  try {
    return load_weights(weights, strict);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string(e.what()) + "\n  (file: " + path + ")");
  }
}

void Module::save_weights(const std::string& path) const {
  Params p = parameters();
  std::unordered_map<std::string, array> out(p.begin(), p.end());
  save_safetensors(path, std::move(out));
}

std::string Module::describe() const {
  std::ostringstream os;
  // named_modules is non-const only because it hands out mutable pointers.
  auto nodes = const_cast<Module*>(this)->named_modules();
  for (auto& [path, m] : nodes) {
    size_t depth = path.empty() ? 0 : std::count(path.begin(), path.end(), '.') + 1;
    os << std::string(2 * depth, ' ') << (path.empty() ? std::string() : path.substr(path.rfind('.') + 1) + ": ")
       << m->type_name();
    if (!m->training_) os << " (eval)";
    os << '\n';
    for (auto& e : m->params_) {
      os << std::string(2 * depth + 2, ' ') << e.name << ' ' << describe_array(e.value);
      if (e.buffer) os << " (buffer)";
      else if (e.frozen) os << " (frozen)";
      os << '\n';
    }
  }
  return os.str();
}

}  // namespace tessera::nn
