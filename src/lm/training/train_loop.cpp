#include <chrono>
#include <cmath>
#include <filesystem>
#include <stdexcept>

#include "tessera/lm/causal_lm.h"
#include "tessera/lm/hf_export.h"
#include "tessera/lm/lm_training.h"
#include "tessera/lm/token_dataset.h"
#include "tessera/nn.h"
#include "tessera/ops.h"
#include "tessera/optimizers.h"
#include "tessera/random.h"
#include "tessera/train.h"

namespace tessera::lm {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

void check_options(const LMTrainOptions& o) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("[train_causal_lm] " + what); };
  if (o.data.empty()) fail("no data files given");
  if (o.tokenizer_dir.empty()) fail("no tokenizer directory given");
  if (o.out_dir.empty()) fail("no output directory given");
  if (o.steps < 1) fail("steps must be >= 1, got " + std::to_string(o.steps));
  if (o.batch_size < 1) fail("batch_size must be >= 1, got " + std::to_string(o.batch_size));
  if (o.seq_len < 2) fail("seq_len must be >= 2, got " + std::to_string(o.seq_len));
  if (!(o.learning_rate > 0)) fail("learning_rate must be > 0");
  if (o.min_learning_rate < 0 || o.min_learning_rate > o.learning_rate) {
    fail("min_learning_rate must be in [0, learning_rate]");
  }
  if (o.warmup_steps < 0 || o.warmup_steps >= o.steps) {
    fail("warmup_steps must be in [0, steps), got " + std::to_string(o.warmup_steps));
  }
  if (o.eval_every < 1 || o.eval_batches < 1 || o.log_every < 1 || o.checkpoint_every < 0) {
    fail("eval_every, eval_batches and log_every must be >= 1 and checkpoint_every >= 0");
  }
}

optimizers::Schedule schedule(const LMTrainOptions& o) {
  const int decay = int(o.steps - o.warmup_steps);
  auto cosine = optimizers::cosine_decay(o.learning_rate, decay, o.min_learning_rate);
  if (o.warmup_steps == 0) return cosine;
  // Warmup starts one step above zero so the first update already moves the weights.
  auto warm = optimizers::linear_schedule(o.learning_rate / float(o.warmup_steps), o.learning_rate, o.warmup_steps);
  return optimizers::join_schedules({warm, cosine}, {o.warmup_steps});
}

array loss_of(CausalLM& model, const array& inputs, const array& targets) {
  array logits = astype(model(inputs), float32);
  return nn::losses::cross_entropy(logits, targets, std::nullopt, -1, 0.0f, nn::losses::Reduction::mean);
}

float validate(CausalLM& model, const std::vector<std::pair<array, array>>& batches) {
  model.train(false);
  double total = 0.0, windows = 0.0;
  for (auto& [in, tgt] : batches) {
    array l = loss_of(model, in, tgt);
    l.eval();
    total += double(l.item<float>()) * in.shape(0);
    windows += in.shape(0);
  }
  model.train(true);
  return float(total / windows);
}

}  // namespace

LMTrainResult train_causal_lm(const LMTrainOptions& o, const std::function<void(const LMTrainProgress&)>& on_progress) {
  check_options(o);
  auto emit = [&](const LMTrainProgress& p) {
    if (on_progress) on_progress(p);
  };
  const Tokenizer tokenizer = Tokenizer::from_directory(o.tokenizer_dir);
  ModelConfig cfg = o.model;
  if (cfg.vocab_size == 0) cfg.vocab_size = tokenizer.vocab_size();
  if (cfg.vocab_size < tokenizer.vocab_size()) {
    throw std::invalid_argument("[train_causal_lm] vocab_size " + std::to_string(cfg.vocab_size) +
                                " is smaller than the tokenizer's " + std::to_string(tokenizer.vocab_size()));
  }
  const TokenDataset data = TokenDataset::from_files(o.data, tokenizer, o.val_fraction, o.seq_len);
  const auto val = data.val_batches(o.batch_size, o.eval_batches);

  random::seed(o.seed);
  CausalLM model(cfg);
  optimizers::AdamW opt(schedule(o), {o.beta1, o.beta2}, 1e-8f, o.weight_decay);
  train::TrainerOptions topt;
  if (o.clip_grad_norm > 0) topt.clip_grad_norm = o.clip_grad_norm;
  if (o.bfloat16) topt.precision.compute_dtype = bfloat16;
  topt.compile = o.compile;
  topt.checkpoint_dir = (fs::path(o.out_dir) / "checkpoints").string();
  topt.checkpoint_every = o.checkpoint_every;
  topt.keep_last = o.keep_checkpoints;
  train::Trainer trainer(
      model, opt, [&model](const std::vector<array>& b) { return loss_of(model, b[0], b[1]); }, topt);

  LMTrainResult result;
  result.parameters = model.num_parameters();
  result.train_tokens = data.train_tokens();
  result.val_tokens = data.val_tokens();
  if (o.resume) {
    if (auto path = trainer.resume()) {
      result.resumed_from = *path;
      LMTrainProgress p;
      p.kind = LMTrainProgress::Kind::resumed;
      p.step = trainer.step_count();
      p.steps = o.steps;
      p.path = *path;
      emit(p);
    }
  }

  const auto start = Clock::now();
  auto since = start;
  double span_loss = 0.0;
  int span_steps = 0;
  const int64_t first_step = trainer.step_count();
  const double tokens_per_step = double(o.batch_size) * o.seq_len;
  auto run_validation = [&](int64_t step) {
    result.val_loss = validate(model, val);
    result.val_bits_per_char = float(result.val_loss / std::log(2.0) / data.val_bytes_per_token());
    LMTrainProgress p;
    p.kind = LMTrainProgress::Kind::validation;
    p.step = step;
    p.steps = o.steps;
    p.val_loss = result.val_loss;
    p.val_bits_per_char = result.val_bits_per_char;
    p.elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();
    emit(p);
  };
  if (first_step == 0) run_validation(0);

  while (trainer.step_count() < o.steps) {
    const int64_t step = trainer.step_count();
    auto [in, tgt] = data.train_batch(o.seed, step, o.batch_size);
    train::StepResult r = trainer.step({in, tgt});
    if (!std::isfinite(r.loss)) {
      throw std::runtime_error("[train_causal_lm] the training loss is " + std::to_string(r.loss) + " at step " +
                               std::to_string(r.step) + " (try a lower learning rate or clipping)");
    }
    if (step == first_step) result.first_loss = r.loss;
    result.final_loss = r.loss;
    span_loss += r.loss;
    ++span_steps;
    if (r.checkpoint) {
      LMTrainProgress p;
      p.kind = LMTrainProgress::Kind::checkpoint;
      p.step = r.step;
      p.steps = o.steps;
      p.path = *r.checkpoint;
      emit(p);
    }
    if (r.step % o.log_every == 0 || r.step == o.steps) {
      const auto now = Clock::now();
      const double span = std::chrono::duration<double>(now - since).count();
      const double elapsed = std::chrono::duration<double>(now - start).count();
      LMTrainProgress p;
      p.step = r.step;
      p.steps = o.steps;
      p.loss = float(span_loss / span_steps);
      p.learning_rate = opt.learning_rate().item<float>();
      p.tokens_per_s = span > 0 ? tokens_per_step * span_steps / span : 0.0;
      p.elapsed_s = elapsed;
      p.eta_s = elapsed / double(r.step - first_step) * double(o.steps - r.step);
      emit(p);
      since = now;
      span_loss = 0.0;
      span_steps = 0;
    }
    if (r.step % o.eval_every == 0 && r.step != o.steps) run_validation(r.step);
  }
  if (trainer.step_count() > first_step && (o.checkpoint_every == 0 || o.steps % o.checkpoint_every != 0)) {
    trainer.save_checkpoint();
  }
  result.steps = trainer.step_count();
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (result.steps > first_step) result.tokens_per_s = tokens_per_step * double(result.steps - first_step) / result.seconds;
  run_validation(result.steps);

  // The export holds float32 masters (the model's own copies are bfloat16 under mixed precision).
  if (trainer.mixed_precision()) model.update(trainer.master_weights());
  ExportOptions eo;
  eo.dtype = o.export_dtype;
  eo.max_position_embeddings = o.seq_len;
  result.model_dir = (fs::path(o.out_dir) / "model").string();
  export_hf_directory(model, o.tokenizer_dir, result.model_dir, eo);
  LMTrainProgress p;
  p.kind = LMTrainProgress::Kind::exported;
  p.step = result.steps;
  p.steps = o.steps;
  p.path = result.model_dir;
  emit(p);
  return result;
}

}  // namespace tessera::lm
