// The optimizer base: the step counter, learning-rate lookup, per-parameter state and its flat
// (safetensors-friendly) naming.
#include "tessera/optimizers/optimizer.h"

#include <sstream>
#include <stdexcept>

#include "tessera/io.h"
#include "ops/op_utils.h"
#include "tessera/ops.h"

namespace tessera::optimizers {

array LearningRate::at(int step) const {
  if (schedule_) return astype(schedule_(step), float32);
  if (value_) return array(*value_);
  throw std::invalid_argument("[Optimizer] No learning rate was given.");
}

Optimizer::Optimizer(LearningRate learning_rate) : learning_rate_(std::move(learning_rate)) {}

array Optimizer::learning_rate(int step) const { return learning_rate_.at(step); }

void Optimizer::set_learning_rate(LearningRate learning_rate) { learning_rate_ = std::move(learning_rate); }

void Optimizer::init(const Params& params) {
  for (const auto& [name, p] : params) {
    if (state_.count(name)) continue;
    Slots slots;
    init_single(name, p, slots);
    state_.emplace(name, std::move(slots));
  }
}

void Optimizer::check_slots(const std::string& param_name, const array& param, const Slots& slots) const {
  Slots want;
  init_single(param_name, param, want);
  std::ostringstream err;
  for (const auto& [slot, a] : want) {
    auto it = slots.find(slot);
    if (it == slots.end()) {
      err << " missing slot '" << slot << "';";
    } else if (it->second.shape() != a.shape()) {
      err << " slot '" << slot << "' has shape " << shape_list(it->second.shape()) << ", expected "
          << shape_list(a.shape()) << ";";
    }
  }
  for (const auto& [slot, a] : slots) {
    if (!want.count(slot)) err << " unexpected slot '" << slot << "';";
  }
  std::string msg = err.str();
  if (!msg.empty()) {
    msg.pop_back();
    throw std::invalid_argument("[" + name() + "] Restored state for parameter '" + param_name +
                                "' does not fit it:" + msg);
  }
}

Params Optimizer::apply_gradients(const Params& grads, const Params& params) {
  for (const auto& [name, g] : grads) {
    auto it = params.find(name);
    if (it == params.end()) {
      throw std::invalid_argument("[" + this->name() + "] Gradient for unknown parameter '" + name + "'.");
    }
    if (it->second.shape() != g.shape()) {
      throw std::invalid_argument("[" + this->name() + "] Gradient for '" + name + "' has shape " +
                                  shape_list(g.shape()) + " but the parameter has shape " +
                                  shape_list(it->second.shape()) + ".");
    }
  }
  if (check_restored_) {
    for (const auto& [name, g] : grads) {
      auto st = state_.find(name);
      if (st != state_.end()) {
        check_slots(name, params.at(name), st->second);
      } else if (step_ > 0) {
        Slots fresh;
        init_single(name, params.at(name), fresh);
        if (!fresh.empty()) {
          throw std::invalid_argument("[" + this->name() + "] Restored state has no entry for parameter '" + name +
                                      "' (call init() to start it from zero).");
        }
      }
    }
    check_restored_ = false;
  }

  // The schedule is read at the 0-based index of this update (as MLX does), then the counter
  // moves so that apply_single sees the 1-based step used by bias corrections.
  std::optional<array> lr;
  if (learning_rate_.has_value()) lr = learning_rate_.at(step_);
  ++step_;

  Params out = params;
  for (const auto& [name, g] : grads) {
    const array& p = params.at(name);
    auto st = state_.find(name);
    if (st == state_.end()) {
      Slots slots;
      init_single(name, p, slots);
      st = state_.emplace(name, std::move(slots)).first;
    }
    std::optional<array> plr;
    if (lr) plr = astype(*lr, g.dtype());
    out.insert_or_assign(name, apply_single(name, g, p, st->second, plr, step_));
  }
  return out;
}

void Optimizer::update(nn::Module& model, const Params& grads) {
  Params trainable = model.trainable_parameters();
  for (const auto& [name, g] : grads) {
    if (!trainable.count(name) && model.parameters().count(name)) {
      throw std::invalid_argument("[" + this->name() + "] Gradient for '" + name +
                                  "', which is frozen or a buffer of the model.");
    }
  }
  Params updated = apply_gradients(grads, trainable);
  Params changed;
  for (const auto& [name, g] : grads) changed.insert_or_assign(name, updated.at(name));
  model.update(changed);
  eval_state(changed);
}

void Optimizer::eval_state(const Params& params) {
  std::vector<array> outs = state_arrays();
  for (const auto& [name, p] : params) outs.push_back(p);
  eval(std::move(outs));
}

Params Optimizer::state() const {
  const std::string prefix = name() + ".";
  Params out;
  for (const auto& [param, slots] : state_) {
    for (const auto& [slot, a] : slots) out.insert_or_assign(prefix + slot + "." + param, a);
  }
  out.insert_or_assign(prefix + "step", array(step_, int32));
  return out;
}

void Optimizer::set_state(const Params& state) {
  const std::string prefix = name() + ".";
  std::map<std::string, Slots> restored;
  std::optional<int> step;
  for (const auto& [key, a] : state) {
    if (key.compare(0, prefix.size(), prefix) != 0) {
      throw std::invalid_argument("[" + name() + "] State key '" + key + "' does not start with '" + prefix + "'.");
    }
    std::string rest = key.substr(prefix.size());
    if (rest == "step") {
      if (a.size() != 1) throw std::invalid_argument("[" + name() + "] State key '" + key + "' must be a scalar.");
      step = array(a).item<int>();
      continue;
    }
    size_t dot = rest.find('.');
    if (dot == std::string::npos || dot == 0 || dot + 1 == rest.size()) {
      throw std::invalid_argument("[" + name() + "] State key '" + key + "' is not '" + prefix +
                                  "<slot>.<parameter>'.");
    }
    restored[rest.substr(dot + 1)].insert_or_assign(rest.substr(0, dot), a);
  }
  if (!step) throw std::invalid_argument("[" + name() + "] State has no '" + prefix + "step' entry.");
  state_ = std::move(restored);
  step_ = *step;
  check_restored_ = true;
}

void Optimizer::save_state(const std::string& path) const {
  Params st = state();
  save_safetensors(path, std::unordered_map<std::string, array>(st.begin(), st.end()),
                   {{"optimizer", name()}, {"format", "tessera.optimizers"}});
}

void Optimizer::load_state(const std::string& path) {
  auto [arrays, metadata] = load_safetensors(path);
  auto it = metadata.find("optimizer");
  if (it != metadata.end() && it->second != name()) {
    throw std::invalid_argument("[" + name() + "] " + path + " holds the state of a '" + it->second + "' optimizer.");
  }
  set_state(Params(arrays.begin(), arrays.end()));
}

std::vector<array> Optimizer::state_arrays() const {
  std::vector<array> out;
  for (const auto& [param, slots] : state_) {
    for (const auto& [slot, a] : slots) out.push_back(a);
  }
  return out;
}

void Optimizer::reset() {
  state_.clear();
  step_ = 0;
  check_restored_ = false;
}

}  // namespace tessera::optimizers
