// Training a CausalLM on text files from scratch, or resuming: tokenization, a train/validation
// split, shuffled windows, AdamW with linear warmup and cosine decay, gradient clipping, optional
// bfloat16 compute with float32 masters, periodic validation (loss and bits per character),
// atomic checkpoints every N steps, and a final export as a Hugging Face directory. A run killed
// at any point and started again with the same options continues from its newest checkpoint and
// ends with the weights an uninterrupted run gives.
//
// Layout under out_dir: checkpoints/step_<n>/ (the newest few), model/ (the export).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tessera/lm/model.h"

namespace tessera::lm {

struct LMTrainOptions {
  std::vector<std::string> data;  // text files, concatenated
  std::string tokenizer_dir;      // tokenizer.json (+ tokenizer_config.json)
  ModelConfig model;              // vocab_size 0: the tokenizer's
  std::string out_dir;
  int64_t steps = 1000;
  int batch_size = 16;
  int seq_len = 128;
  float learning_rate = 1e-3f;  // peak, after warmup
  float min_learning_rate = 1e-4f;  // end of the cosine decay
  int warmup_steps = 100;
  float weight_decay = 0.1f;
  float beta1 = 0.9f, beta2 = 0.95f;
  float clip_grad_norm = 1.0f;  // <= 0: no clipping
  bool bfloat16 = false;        // compute in bfloat16 (float32 master weights)
  bool compile = false;         // forward and backward through tessera::compile
  int eval_every = 100;         // steps between validations (and at the end)
  int eval_batches = 16;        // validation batches of batch_size windows
  int checkpoint_every = 100;   // 0: only at the end
  int keep_checkpoints = 2;
  int log_every = 10;
  uint64_t seed = 0;
  double val_fraction = 0.1;
  bool resume = true;  // continue from out_dir/checkpoints when there is one
  Dtype export_dtype = float32;
};

struct LMTrainProgress {
  enum class Kind { resumed, step, validation, checkpoint, exported };
  Kind kind = Kind::step;
  int64_t step = 0, steps = 0;
  float loss = 0.0f;         // mean training loss since the last step event
  float learning_rate = 0.0f;
  double tokens_per_s = 0.0;  // training tokens per second over the same span
  double elapsed_s = 0.0, eta_s = 0.0;
  float val_loss = 0.0f, val_bits_per_char = 0.0f;  // validation events
  std::string path;                                // checkpoint, resume and export events
};

struct LMTrainResult {
  int64_t steps = 0;
  int64_t parameters = 0;
  int64_t train_tokens = 0, val_tokens = 0;
  float first_loss = 0.0f, final_loss = 0.0f;  // training loss of the first and last step run here
  float val_loss = 0.0f, val_bits_per_char = 0.0f;
  double tokens_per_s = 0.0;  // over the steps run here
  double seconds = 0.0;
  std::optional<std::string> resumed_from;
  std::string model_dir;
};

// std::invalid_argument for bad options (naming the option) or data; progress events go to
// `on_progress` as they happen.
LMTrainResult train_causal_lm(const LMTrainOptions& options,
                              const std::function<void(const LMTrainProgress&)>& on_progress = {});

}  // namespace tessera::lm
