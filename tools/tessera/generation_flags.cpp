#include "generation_flags.h"

#include <stdexcept>

namespace tessera::cli {

void add_sampling_flags(Args& args, const std::string& max_tokens_help) {
  args.option("max-tokens", "N", max_tokens_help, "256");
  args.option("temp", "T", "sampling temperature; 0 is greedy", "0");
  args.option("top-p", "P", "nucleus sampling: keep the most likely tokens up to probability P", "1");
  args.option("top-k", "K", "keep the K most likely tokens (0: all)", "0");
  args.option("min-p", "M", "drop tokens less likely than M times the most likely one", "0");
  args.option("repetition-penalty", "R", "penalize the recent tokens' logits by R", "1");
  args.option("repetition-context-size", "N", "how many recent tokens the penalty looks at", "64");
  args.option("seed", "S", "random seed for sampling", "0");
  args.flag("no-replay",
            "build every decode step's graph afresh instead of replaying the one recorded for the cache's "
            "capacity (same tokens; slower on small models)");
}

void add_load_flags(Args& args) {
  args.flag("int8-activations",
            "decode quantized (4/8-bit) models with activations rounded to int8 per 32 values and int8 dot "
            "products: about twice as fast on AVX512-VNNI CPUs, activations at about 8-bit precision");
}

lm::LoadOptions load_options(const Args& args) {
  lm::LoadOptions o;
  o.int8_activations = args.on("int8-activations");
  return o;
}

void read_sampling_flags(const Args& args, lm::GenerateOptions& o) {
  o.max_tokens = args.integer("max-tokens", 256);
  o.sampling.temperature = float(args.number("temp", 0.0));
  o.sampling.top_p = float(args.number("top-p", 1.0));
  o.sampling.top_k = args.integer("top-k", 0);
  o.sampling.min_p = float(args.number("min-p", 0.0));
  o.sampling.repetition_penalty = float(args.number("repetition-penalty", 1.0));
  o.sampling.penalty_window = args.integer("repetition-context-size", 64);
  o.sampling.seed = args.uint("seed", 0);
  o.replay_steps = !args.on("no-replay");
}

lm::ChatJson chat_template_config(const Args& args) {
  if (!args.has("chat-template-config")) return lm::ChatJson::object();
  lm::ChatJson extra;
  try {
    extra = lm::ChatJson::parse(args.str("chat-template-config"));
  } catch (const lm::ChatJson::exception& e) {
    throw std::invalid_argument("--chat-template-config is not valid JSON: " + std::string(e.what()));
  }
  if (!extra.is_object()) throw std::invalid_argument("--chat-template-config must be a JSON object");
  return extra;
}

}  // namespace tessera::cli
