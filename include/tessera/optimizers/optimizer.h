// The optimizer base (follows MLX's mlx.optimizers.Optimizer). Parameters, gradients and state
// are flat maps keyed by dotted parameter names ("layers.0.weight"), so a state map saves as one
// safetensors file next to the model's weights.
//
// One update: `apply_gradients(grads, params)` advances the step counter, reads the learning rate
// for that step, and builds one small lazy graph per parameter (new parameter and new state
// slots). Nothing is computed there; `update(model, grads)` and `eval_state` evaluate every
// parameter and state slot in a single eval call, so the step runs as one graph and the previous
// step's state can be freed.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "tessera/array.h"
#include "tessera/nn/module.h"

namespace tessera::optimizers {

using nn::Params;

// A learning rate as a function of the 0-based update index (the number of updates applied
// before this one), returning a float32 scalar.
using Schedule = std::function<array(int step)>;

// A constant learning rate or a schedule. Converts implicitly from numbers and from any callable
// taking the step.
class LearningRate {
 public:
  LearningRate() = default;  // unset (only Adafactor's relative steps accept this)
  LearningRate(double value) : value_(float(value)) {}
  template <typename F, typename = std::enable_if_t<!std::is_arithmetic_v<std::decay_t<F>> &&
                                                    std::is_invocable_r_v<array, F&, int>>>
  LearningRate(F schedule) : schedule_(std::move(schedule)) {}

  bool has_value() const { return value_.has_value() || bool(schedule_); }
  bool is_schedule() const { return bool(schedule_); }
  // The rate for the update at 0-based index `step`, as a float32 scalar.
  array at(int step) const;

 private:
  std::optional<float> value_;
  Schedule schedule_;
};

class Optimizer {
 public:
  // One parameter's state: slot name ("m", "v", ...) to array.
  using Slots = std::map<std::string, array>;

  explicit Optimizer(LearningRate learning_rate);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = default;
  Optimizer& operator=(const Optimizer&) = default;

  // Short lower-case name used as the prefix of state keys ("adam", "sgd", ...).
  virtual std::string name() const = 0;

  // Creates zero state for every parameter that has none (apply_gradients does this lazily).
  void init(const Params& params);

  // Returns `params` with every parameter named in `grads` updated (the others pass through).
  // Lazy: evaluate the result together with state_arrays(). Raises std::invalid_argument for a
  // gradient of an unknown parameter or one whose shape differs from the parameter's.
  Params apply_gradients(const Params& grads, const Params& params);

  // Applies `grads` (keyed like model.trainable_parameters(), as nn::value_and_grad returns
  // them) to the model, sets the new values on it and evaluates them and the optimizer state in
  // one eval call. A gradient for a frozen parameter or a buffer raises std::invalid_argument.
  void update(nn::Module& model, const Params& grads);

  // Evaluates `params` and the optimizer state in one eval call.
  void eval_state(const Params& params = {});

  // Number of updates applied so far.
  int step() const { return step_; }
  // The learning rate the next update uses, and the one of the update at 0-based index `step`.
  array learning_rate() const { return learning_rate(step_); }
  array learning_rate(int step) const;
  void set_learning_rate(LearningRate learning_rate);

  // The state as flat names "<name()>.<slot>.<param>" (for example "adam.m.layers.0.weight") plus
  // "<name()>.step", an int32 scalar. The arrays may be lazy; save_safetensors evaluates them.
  Params state() const;
  // Replaces the state with one produced by state() (for example loaded from safetensors). Keys
  // must carry this optimizer's prefix; slots are checked against the parameters on the next
  // update and a mismatch raises std::invalid_argument naming the parameter.
  void set_state(const Params& state);
  // state() written to / set_state() read from one safetensors file (written atomically).
  void save_state(const std::string& path) const;
  void load_state(const std::string& path);
  // Every state array, for evaluating alongside the parameters.
  std::vector<array> state_arrays() const;
  // Drops all state and resets the step counter.
  void reset();

 protected:
  // Fills `slots` with the zero state of one parameter. `param_name` is its dotted name (Muon
  // uses it to choose its update; the others ignore it).
  virtual void init_single(const std::string& param_name, const array& param, Slots& slots) const = 0;
  // Returns the updated parameter and overwrites the slots with their new values. `lr` is this
  // step's learning rate (a scalar of the gradient's dtype; unset only for Adafactor's relative steps) and `step` is
  // the 1-based index of this update.
  virtual array apply_single(const std::string& param_name, const array& grad, const array& param, Slots& slots,
                             const std::optional<array>& lr, int step) const = 0;

  LearningRate learning_rate_;

 private:
  void check_slots(const std::string& param_name, const array& param, const Slots& slots) const;

  int step_ = 0;
  std::map<std::string, Slots> state_;
  bool check_restored_ = false;  // set_state was called; check slots on the next update
};

}  // namespace tessera::optimizers
