// tessera train: train a Llama-architecture language model on text files (or resume one) and
// export it as a Hugging Face directory that `tessera generate --model OUT/model` runs.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "args.h"
#include "commands.h"
#include "tessera/dtype.h"
#include "tessera/lm/lm_training.h"
#include "tessera/ops.h"

namespace tessera::cli {

namespace {

using json = nlohmann::json;

// The model.json of --config: config.json's field names for the sizes of a Llama model.
lm::ModelConfig read_model_config(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::invalid_argument(path + ": cannot open the model config");
  json j;
  try {
    j = json::parse(f);
  } catch (const json::exception& e) {
    throw std::invalid_argument(path + ": not valid JSON (" + e.what() + ")");
  }
  if (!j.is_object()) throw std::invalid_argument(path + ": the model config must be a JSON object");
  auto integer = [&](const char* key, std::optional<int> fallback) {
    if (!j.contains(key)) {
      if (fallback) return *fallback;
      throw std::invalid_argument(path + ": missing field '" + key + "'");
    }
    if (!j[key].is_number_integer() || j[key].get<int64_t>() <= 0 || j[key].get<int64_t>() > (1 << 24)) {
      throw std::invalid_argument(path + ": field '" + key + "' = " + j[key].dump() + " must be a positive integer");
    }
    return j[key].get<int>();
  };
  lm::ModelConfig c;
  c.architecture = j.value("model_type", std::string("llama"));
  if (c.architecture != "llama") throw std::invalid_argument(path + ": model_type must be 'llama'");
  c.hidden_size = integer("hidden_size", std::nullopt);
  c.num_layers = integer("num_hidden_layers", std::nullopt);
  c.num_heads = integer("num_attention_heads", std::nullopt);
  c.num_kv_heads = integer("num_key_value_heads", c.num_heads);
  c.head_dim = integer("head_dim", c.hidden_size / c.num_heads);
  c.intermediate_size = integer("intermediate_size", std::nullopt);
  c.vocab_size = j.contains("vocab_size") ? integer("vocab_size", 0) : 0;
  c.rms_norm_eps = j.value("rms_norm_eps", 1e-5f);
  c.rope_theta = j.value("rope_theta", 10000.0f);
  c.tie_word_embeddings = j.value("tie_word_embeddings", true);
  return c;
}

std::string clock_text(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const int t = int(s + 0.5);
  char buf[32];
  if (t >= 3600) {
    std::snprintf(buf, sizeof buf, "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%d:%02d", t / 60, t % 60);
  }
  return buf;
}

}  // namespace

int train_command(const std::vector<std::string>& argv) {
  Args args("tessera train",
            "Train a Llama-architecture language model on text files, or resume the run in --out, and export it\n"
            "as a Hugging Face directory (OUT/model) that `tessera generate --model OUT/model` runs.");
  args.option("data", "FILE[,FILE...]", "training text (the last --val-fraction is held out for validation)");
  args.option("tokenizer", "DIR", "tokenizer.json (+ tokenizer_config.json), e.g. from `tessera tokenizer train`");
  args.option("config", "FILE", "model.json: hidden_size, num_hidden_layers, num_attention_heads, "
                                "num_key_value_heads, intermediate_size[, head_dim, rope_theta, rms_norm_eps, "
                                "tie_word_embeddings, vocab_size]");
  args.option("out", "DIR", "run directory: checkpoints/ and the exported model/");
  args.option("steps", "N", "optimizer steps", "1000");
  args.option("batch-size", "B", "windows per step", "16");
  args.option("seq-len", "L", "tokens per window", "128");
  args.option("lr", "LR", "peak learning rate (AdamW)", "1e-3");
  args.option("min-lr", "LR", "learning rate at the end of the cosine decay", "1e-4");
  args.option("warmup", "N", "linear warmup steps", "100");
  args.option("weight-decay", "W", "AdamW weight decay", "0.1");
  args.option("clip", "NORM", "clip the global gradient norm (0: off)", "1.0");
  args.option("eval-every", "N", "steps between validations", "100");
  args.option("eval-batches", "N", "validation batches", "16");
  args.option("checkpoint-every", "N", "steps between checkpoints (0: at the end only)", "100");
  args.option("log-every", "N", "steps between progress lines", "10");
  args.option("val-fraction", "F", "fraction of the text held out", "0.1");
  args.option("seed", "S", "seed for the initial weights and the batch order", "0");
  args.option("threads", "N", "CPU threads", "all cores, or TESSERA_NUM_THREADS");
  args.flag("bf16", "compute in bfloat16 (float32 master weights)");
  args.option("export-dtype", "DTYPE", "weights of the exported model: float32, bfloat16 or float16", "float32");
  args.flag("compile", "run forward and backward through tessera::compile");
  args.flag("no-resume", "start over even when --out holds checkpoints");
  args.flag("json", "print progress and the summary as JSON lines on stdout");
  args.parse(argv);
  if (args.help_requested()) {
    std::cout << args.help();
    return 0;
  }
  for (const char* required : {"data", "tokenizer", "config", "out"}) {
    if (!args.has(required)) {
      throw std::invalid_argument(std::string("--") + required + " is required (see tessera train --help)");
    }
  }
  if (args.has("threads")) set_num_threads(args.integer("threads", 0));

  lm::LMTrainOptions o;
  std::stringstream files(args.str("data"));
  for (std::string f; std::getline(files, f, ',');) {
    if (!f.empty()) o.data.push_back(f);
  }
  o.tokenizer_dir = args.str("tokenizer");
  o.model = read_model_config(args.str("config"));
  o.out_dir = args.str("out");
  o.steps = args.integer("steps", 1000);
  o.batch_size = args.integer("batch-size", 16);
  o.seq_len = args.integer("seq-len", 128);
  o.learning_rate = float(args.number("lr", 1e-3));
  o.min_learning_rate = float(args.number("min-lr", 1e-4));
  o.warmup_steps = args.integer("warmup", 100);
  o.weight_decay = float(args.number("weight-decay", 0.1));
  o.clip_grad_norm = float(args.number("clip", 1.0));
  o.eval_every = args.integer("eval-every", 100);
  o.eval_batches = args.integer("eval-batches", 16);
  o.checkpoint_every = args.integer("checkpoint-every", 100);
  o.log_every = args.integer("log-every", 10);
  o.val_fraction = args.number("val-fraction", 0.1);
  o.seed = args.uint("seed", 0);
  o.bfloat16 = args.on("bf16");
  o.compile = args.on("compile");
  if (args.has("export-dtype")) {
    const std::string name = args.str("export-dtype");
    if (name != "float32" && name != "bfloat16" && name != "float16") {
      throw std::invalid_argument("--export-dtype must be float32, bfloat16 or float16, got '" + name + "'");
    }
    o.export_dtype = dtype_from_name(name);
  }
  o.resume = !args.on("no-resume");
  const bool as_json = args.on("json");

  using Kind = lm::LMTrainProgress::Kind;
  auto on_progress = [&](const lm::LMTrainProgress& p) {
    if (as_json) {
      static const char* names[] = {"resumed", "step", "validation", "checkpoint", "exported"};
      json e = {{"event", names[int(p.kind)]}, {"step", p.step}, {"steps", p.steps}};
      if (p.kind == Kind::step) {
        e.update({{"loss", p.loss}, {"lr", p.learning_rate}, {"tokens_per_s", p.tokens_per_s},
                  {"elapsed_s", p.elapsed_s}, {"eta_s", p.eta_s}});
      } else if (p.kind == Kind::validation) {
        e.update({{"val_loss", p.val_loss}, {"val_bits_per_char", p.val_bits_per_char}, {"elapsed_s", p.elapsed_s}});
      } else {
        e["path"] = p.path;
      }
      std::cout << e.dump() << std::endl;
      return;
    }
    char line[256];
    switch (p.kind) {
      case Kind::step:
        std::snprintf(line, sizeof line, "step %lld/%lld  loss %.4f  lr %.2e  %.0f tok/s  %s elapsed, %s left",
                      (long long)p.step, (long long)p.steps, p.loss, p.learning_rate, p.tokens_per_s,
                      clock_text(p.elapsed_s).c_str(), clock_text(p.eta_s).c_str());
        break;
      case Kind::validation:
        std::snprintf(line, sizeof line, "step %lld/%lld  validation loss %.4f  (%.3f bits per character)",
                      (long long)p.step, (long long)p.steps, p.val_loss, p.val_bits_per_char);
        break;
      case Kind::resumed:
        std::snprintf(line, sizeof line, "resumed at step %lld from %s", (long long)p.step, p.path.c_str());
        break;
      case Kind::checkpoint:
        std::snprintf(line, sizeof line, "step %lld: checkpoint %s", (long long)p.step, p.path.c_str());
        break;
      case Kind::exported:
        std::snprintf(line, sizeof line, "exported %s", p.path.c_str());
        break;
    }
    std::cerr << line << std::endl;
  };
  lm::LMTrainResult r = lm::train_causal_lm(o, on_progress);
  json summary = {{"event", "summary"},
                  {"steps", r.steps},
                  {"parameters", r.parameters},
                  {"train_tokens", r.train_tokens},
                  {"val_tokens", r.val_tokens},
                  {"first_loss", r.first_loss},
                  {"final_loss", r.final_loss},
                  {"val_loss", r.val_loss},
                  {"val_bits_per_char", r.val_bits_per_char},
                  {"tokens_per_s", r.tokens_per_s},
                  {"seconds", r.seconds},
                  {"resumed_from", r.resumed_from ? json(*r.resumed_from) : json(nullptr)},
                  {"model_dir", r.model_dir}};
  if (as_json) {
    std::cout << summary.dump() << std::endl;
  } else {
    std::cout << "trained " << r.parameters << " parameters for " << r.steps << " steps; validation loss "
              << r.val_loss << " (" << r.val_bits_per_char << " bits per character); " << int(r.tokens_per_s)
              << " tokens/s; model in " << r.model_dir << "\n";
  }
  return 0;
}

}  // namespace tessera::cli
