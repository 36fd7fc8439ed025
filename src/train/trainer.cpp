// Trainer: one graph per step (loss, gradients, optimizer update) evaluated in one call, float32
// masters for mixed precision, dynamic loss scaling, periodic checkpoints and exact resume.
#include "tessera/train/trainer.h"

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <tuple>

#include "tessera/compile.h"
#include "tessera/ops.h"
#include "tessera/optimizers/clip_grad.h"
#include "tessera/random.h"
#include "tessera/transforms.h"

namespace tessera::train {

namespace {

bool is_float(Dtype d) { return d == float32 || d == bfloat16 || d == float16 || d == float64; }

// Hex floats round-trip exactly, so a resumed run continues with the very same loss scale.
std::string float_text(float v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%a", double(v));
  return buf;
}

}  // namespace

Trainer::Trainer(nn::Module& model, optimizers::Optimizer& optimizer, LossFn loss_fn, TrainerOptions options)
    : model_(model), opt_(optimizer), options_(std::move(options)) {
  const MixedPrecision& mp = options_.precision;
  if (!is_float(mp.compute_dtype)) {
    throw std::invalid_argument(std::string("[Trainer] compute_dtype must be a floating type, got ") +
                                dtype_name(mp.compute_dtype) + ".");
  }
  if (mp.loss_scaling == LossScaling::dynamic &&
      (!(mp.init_scale > 0.0f) || !(mp.growth_factor >= 1.0f) || !(mp.backoff_factor > 0.0f) ||
       !(mp.backoff_factor <= 1.0f) || mp.growth_interval < 1)) {
    throw std::invalid_argument(
        "[Trainer] dynamic loss scaling needs init_scale > 0, growth_factor >= 1, 0 < backoff_factor <= 1 and "
        "growth_interval >= 1.");
  }
  if (options_.checkpoint_every < 0) throw std::invalid_argument("[Trainer] checkpoint_every must be >= 0.");
  if (options_.checkpoint_every > 0 && options_.checkpoint_dir.empty()) {
    throw std::invalid_argument("[Trainer] checkpoint_every is set but checkpoint_dir is empty.");
  }
  if (options_.clip_grad_norm && !(*options_.clip_grad_norm > 0.0f)) {
    throw std::invalid_argument("[Trainer] clip_grad_norm must be positive.");
  }
  if (!options_.checkpoint_dir.empty()) manager_.emplace(options_.checkpoint_dir, options_.keep_last);
  scale_ = mp.loss_scaling == LossScaling::dynamic ? mp.init_scale : 1.0f;

  if (mixed_precision()) {
    for (const auto& [name, p] : model_.trainable_parameters()) {
      if (is_float(p.dtype())) masters_.emplace(name, astype(p, float32));
    }
    model_.set_dtype(mp.compute_dtype);
    std::vector<array> live;
    for (const auto& [name, p] : masters_) live.push_back(p);
    for (const auto& [name, p] : model_.parameters()) live.push_back(p);
    eval(live);
  }

  const bool scaled = mp.loss_scaling == LossScaling::dynamic;
  value_and_grad_ = nn::value_and_grad(
      model_, nn::ModuleLossFn([this, scaled, fn = std::move(loss_fn)](const std::vector<array>& batch) {
        array loss = astype(fn(batch), float32);
        if (loss.size() != 1) throw std::invalid_argument("[Trainer] The loss function must return a scalar.");
        if (!scaled) return std::vector<array>{loss};
        return std::vector<array>{multiply(loss, traced_scale_ ? *traced_scale_ : array(scale_)), loss};
      }));

  if (options_.compile) {
    for (const auto& [name, p] : model_.trainable_parameters()) compiled_names_.push_back(name);
    // Inputs: the trainable parameters, the loss scale, then the batch. Outputs: the loss
    // (scaled and unscaled when scaling) and the gradients in compiled_names_ order.
    compiled_ = tessera::compile([this](const std::vector<array>& args) {
      const size_t n = compiled_names_.size();
      const array rng_before = random::get_state();
      nn::Params traced, saved = model_.trainable_parameters();
      for (size_t i = 0; i < n; ++i) traced.insert_or_assign(compiled_names_[i], args[i]);
      model_.update(traced);
      traced_scale_ = args[n];
      std::pair<std::vector<array>, nn::Params> vg;
      try {
        vg = value_and_grad_(std::vector<array>(args.begin() + long(n) + 1, args.end()));
      } catch (...) {
        traced_scale_.reset();
        model_.update(saved);
        throw;
      }
      traced_scale_.reset();
      model_.update(saved);
      if (!array_equal(random::get_state(), rng_before).item<bool>()) {
        random::set_state(rng_before);
        throw std::invalid_argument(
            "[Trainer] The loss function draws from the global random key (e.g. Dropout); a compiled step would "
            "repeat the same draws every time. Train it with TrainerOptions::compile = false.");
      }
      std::vector<array> outs = std::move(vg.first);
      for (const auto& name : compiled_names_) outs.push_back(vg.second.at(name));
      return outs;
    });
  }
}

StepResult Trainer::step(const std::vector<array>& batch_in) {
  const MixedPrecision& mp = options_.precision;
  std::vector<array> batch = batch_in;
  if (mixed_precision() && mp.cast_inputs) {
    for (auto& x : batch) {
      if (is_float(x.dtype()) && x.dtype() != mp.compute_dtype) x = astype(x, mp.compute_dtype);
    }
  }
  StepResult r;
  r.loss_scale = scale_;
  std::vector<array> outs;
  nn::Params grads;
  if (compiled_) {
    nn::Params params = model_.trainable_parameters();
    if (params.size() != compiled_names_.size()) {
      throw std::invalid_argument("[Trainer] The trainable parameters changed after the trainer was created.");
    }
    std::vector<array> args;
    for (const auto& name : compiled_names_) args.push_back(params.at(name));
    args.push_back(array(scale_));
    args.insert(args.end(), batch.begin(), batch.end());
    std::vector<array> res = compiled_(args);
    const size_t n_out = res.size() - compiled_names_.size();
    outs.assign(res.begin(), res.begin() + long(n_out));
    for (size_t i = 0; i < compiled_names_.size(); ++i) grads.emplace(compiled_names_[i], res[n_out + i]);
  } else {
    std::tie(outs, grads) = value_and_grad_(batch);
  }
  array loss = outs.back();

  if (mixed_precision()) {
    for (auto& [name, g] : grads) {
      if (!masters_.count(name)) {
        throw std::invalid_argument("[Trainer] Parameter '" + name +
                                    "' became trainable after the trainer was created; it has no float32 master.");
      }
      g = astype(g, float32);
    }
  }
  if (mp.loss_scaling == LossScaling::dynamic) {
    // Powers of two (the usual scales) make this division exact.
    array inv(1.0f / scale_);
    for (auto& [name, g] : grads) g = multiply(g, astype(inv, g.dtype()));
    array finite(true);
    for (auto& [name, g] : grads) finite = logical_and(finite, all(isfinite(g)));
    std::vector<array> outs_eval{loss, finite};
    for (auto& [name, g] : grads) outs_eval.push_back(g);
    eval(outs_eval);
    if (!finite.item<bool>()) {
      scale_ *= mp.backoff_factor;
      good_steps_ = 0;
      ++step_;
      r.step = step_;
      r.loss = loss.item<float>();
      r.skipped = true;
      if (options_.checkpoint_every > 0 && step_ % options_.checkpoint_every == 0) r.checkpoint = save_checkpoint();
      return r;
    }
    if (++good_steps_ >= mp.growth_interval) {
      scale_ *= mp.growth_factor;
      good_steps_ = 0;
    }
  }

  std::optional<array> norm;
  if (options_.clip_grad_norm) {
    auto [clipped, n] = optimizers::clip_grad_norm(grads, *options_.clip_grad_norm);
    grads = std::move(clipped);
    norm = n;
  }

  // apply_gradients builds the new parameters and state lazily; they, the casts into the model
  // and the loss are then computed in one eval.
  std::vector<array> outs_eval;
  if (mixed_precision()) {
    nn::Params updated = opt_.apply_gradients(grads, masters_);
    nn::Params cast;
    for (const auto& [name, g] : grads) {
      const array& m = updated.at(name);
      masters_.insert_or_assign(name, m);
      cast.emplace(name, astype(m, mp.compute_dtype));
      outs_eval.push_back(m);
      outs_eval.push_back(cast.at(name));
    }
    model_.update(cast);
  } else {
    nn::Params updated = opt_.apply_gradients(grads, model_.trainable_parameters());
    nn::Params changed;
    for (const auto& [name, g] : grads) {
      changed.emplace(name, updated.at(name));
      outs_eval.push_back(updated.at(name));
    }
    model_.update(changed);
  }
  for (auto& a : opt_.state_arrays()) outs_eval.push_back(a);
  outs_eval.push_back(loss);
  if (norm) outs_eval.push_back(*norm);
  eval(outs_eval);

  ++step_;
  r.step = step_;
  r.loss = loss.item<float>();
  if (norm) r.grad_norm = norm->item<float>();
  if (options_.checkpoint_every > 0 && step_ % options_.checkpoint_every == 0) r.checkpoint = save_checkpoint();
  return r;
}

Checkpoint Trainer::checkpoint() const {
  Checkpoint c;
  c.step = step_;
  c.model = model_.parameters();
  for (const auto& [name, m] : masters_) c.model.insert_or_assign(name, m);
  c.optimizer = opt_.state();
  c.rng_state = random::get_state();
  c.data_state = data_state_;
  c.metadata["optimizer"] = opt_.name();
  c.metadata["compute_dtype"] = dtype_name(options_.precision.compute_dtype);
  c.metadata["loss_scale"] = float_text(scale_);
  c.metadata["good_steps"] = std::to_string(good_steps_);
  return c;
}

void Trainer::restore(const Checkpoint& c) {
  auto meta = [&](const char* key) -> const std::string* {
    auto it = c.metadata.find(key);
    return it == c.metadata.end() ? nullptr : &it->second;
  };
  if (const std::string* name = meta("optimizer"); name && *name != opt_.name()) {
    throw std::invalid_argument("[Trainer] The checkpoint holds the state of a '" + *name +
                                "' optimizer, this trainer uses '" + opt_.name() + "'.");
  }
  // Strict: a checkpoint of another architecture fails here with the load report, before
  // anything else changes.
  model_.load_weights(c.model, true);
  if (mixed_precision()) {
    masters_.clear();
    for (const auto& [name, p] : model_.trainable_parameters()) {
      if (is_float(p.dtype())) masters_.emplace(name, astype(p, float32));
    }
    model_.set_dtype(options_.precision.compute_dtype);
  }
  opt_.set_state(c.optimizer);
  if (c.rng_state) random::set_state(*c.rng_state);
  data_state_ = c.data_state;
  step_ = c.step;
  if (options_.precision.loss_scaling == LossScaling::dynamic) {
    if (const std::string* s = meta("loss_scale")) scale_ = std::strtof(s->c_str(), nullptr);
    if (const std::string* g = meta("good_steps")) good_steps_ = std::atoi(g->c_str());
  }
  std::vector<array> live;
  for (const auto& [name, p] : masters_) live.push_back(p);
  for (const auto& [name, p] : model_.parameters()) live.push_back(p);
  eval(live);
}

std::string Trainer::save_checkpoint() {
  if (!manager_) throw std::invalid_argument("[Trainer] save_checkpoint needs options.checkpoint_dir.");
  return manager_->save(checkpoint());
}

std::optional<std::string> Trainer::resume() {
  if (!manager_) throw std::invalid_argument("[Trainer] resume needs options.checkpoint_dir.");
  auto found = manager_->load_latest();
  if (!found) return std::nullopt;
  restore(found->checkpoint);
  return found->path;
}

}  // namespace tessera::train
