// A training loop for C++ users: one call per step does value_and_grad over the model's trainable
// parameters, optional gradient clipping, the optimizer update and a single eval of the new
// parameters, the optimizer state and the loss; every `checkpoint_every` steps it saves a
// checkpoint, and `resume()` continues from the newest good one with the same results an
// uninterrupted run gives (same weights, optimizer state, step, RNG key and data position).
//
//   train::Trainer trainer(*model, opt, [&](const std::vector<array>& b) {
//     return nn::losses::cross_entropy((*model)(b[0]), b[1], {}, -1, 0.0f, nn::losses::Reduction::mean);
//   }, {.clip_grad_norm = 1.0f, .checkpoint_dir = "ckpt", .checkpoint_every = 100});
//   trainer.resume();                                   // no-op on a fresh directory
//   while (trainer.step_count() < total) {
//     Cursor pos = trainer.data_state().empty() ? Cursor{}     // restored by resume()
//                                               : train::unpack<Cursor>(trainer.data_state());
//     trainer.set_data_state(train::pack(next(pos)));          // before step: it may checkpoint
//     auto r = trainer.step(batch_at(pos));
//   }
//
// Mixed precision (MixedPrecision::compute_dtype = bfloat16): the model's floating parameters are
// cast to bfloat16 and the forward and backward passes run on them, while the optimizer updates
// float32 master copies held by the trainer; after each update the masters are cast back into the
// model. Checkpoints hold the float32 masters. Loss scaling is off by default (bfloat16 has
// float32's range); LossScaling::dynamic multiplies the loss by a scale, divides the gradients by
// it, skips steps whose gradients are not finite (halving the scale) and doubles it after
// `growth_interval` good steps, as PyTorch's GradScaler does. Deciding to skip needs the
// gradients' values, so with dynamic scaling a step evaluates twice (gradients, then update).
//
// Exact resume needs the same thread count and the same data order: the checkpoint restores
// weights, optimizer state and step, the global RNG key (dropout masks) and data_state(), and
// everything else is recomputed deterministically.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tessera/array.h"
#include "tessera/nn/module.h"
#include "tessera/optimizers/optimizer.h"
#include "tessera/train/checkpoint.h"

namespace tessera::train {

enum class LossScaling { none, dynamic };

struct MixedPrecision {
  Dtype compute_dtype = float32;  // bfloat16 or float16: compute in it, keep float32 masters
  LossScaling loss_scaling = LossScaling::none;
  float init_scale = 65536.0f;
  float growth_factor = 2.0f;
  float backoff_factor = 0.5f;
  int growth_interval = 2000;
  // Floating-point batch inputs are cast to compute_dtype before the loss function sees them.
  bool cast_inputs = true;
};

struct TrainerOptions {
  std::optional<float> clip_grad_norm;  // max global L2 norm; unset: no clipping
  MixedPrecision precision;
  std::string checkpoint_dir;  // empty: no checkpoints
  int checkpoint_every = 0;    // steps between checkpoints (0: only explicit save_checkpoint calls)
  int keep_last = 3;           // checkpoints kept under checkpoint_dir (<= 0: all)
  // Runs forward and backward through tessera::compile (elementwise chains fused, the graph
  // traced once per batch shape). A loss function that draws from the global random key
  // (Dropout) cannot be compiled: its masks would be frozen into the trace, so the first step
  // raises std::invalid_argument instead.
  bool compile = false;
};

struct StepResult {
  int64_t step = 0;                // steps done, this one included
  float loss = 0.0f;               // unscaled, as float32
  std::optional<float> grad_norm;  // before clipping; set when clipping is on
  bool skipped = false;            // dynamic loss scaling found non-finite gradients
  float loss_scale = 1.0f;         // the scale this step used
  std::optional<std::string> checkpoint;  // path of the checkpoint saved after this step
};

class Trainer {
 public:
  // Returns the scalar loss; it calls the model, whose parameters are traced during the call.
  using LossFn = std::function<array(const std::vector<array>& batch)>;

  // The model and optimizer must outlive the trainer. With a compute dtype other than float32
  // the model is cast at once and the trainer keeps float32 masters of its trainable parameters.
  Trainer(nn::Module& model, optimizers::Optimizer& optimizer, LossFn loss_fn, TrainerOptions options = {});

  StepResult step(const std::vector<array>& batch);

  int64_t step_count() const { return step_; }

  // The caller's data position, saved with each checkpoint and restored by resume(). Set it to
  // the position of the next batch before calling step(), which may save a checkpoint at its end.
  const std::string& data_state() const { return data_state_; }
  void set_data_state(std::string state) { data_state_ = std::move(state); }

  // The state a checkpoint holds now (masters as the model's weights), and restoring one.
  Checkpoint checkpoint() const;
  void restore(const Checkpoint& checkpoint);

  // Saves into checkpoint_dir (required) as step_<step_count()>; returns the path.
  std::string save_checkpoint();
  // Restores the newest checkpoint under checkpoint_dir that verifies, passing over (and
  // reporting on stderr) damaged newer ones. Returns its path, or nullopt when there is none and
  // the run starts fresh.
  std::optional<std::string> resume();

  // Float32 master weights (mixed precision only; empty otherwise).
  const nn::Params& master_weights() const { return masters_; }
  float loss_scale() const { return scale_; }
  bool mixed_precision() const { return options_.precision.compute_dtype != float32; }
  const TrainerOptions& options() const { return options_; }

 private:
  nn::Module& model_;
  optimizers::Optimizer& opt_;
  TrainerOptions options_;
  nn::ModuleValueAndGradFn value_and_grad_;
  std::function<std::vector<array>(const std::vector<array>&)> compiled_;
  std::vector<std::string> compiled_names_;
  std::optional<array> traced_scale_;  // the loss scale as a compiled input while tracing
  nn::Params masters_;
  int64_t step_ = 0;
  std::string data_state_;
  float scale_ = 1.0f;
  int good_steps_ = 0;
  std::optional<CheckpointManager> manager_;
};

}  // namespace tessera::train
