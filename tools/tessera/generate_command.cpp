// tessera generate: load a model, stream the continuation of a prompt, print the statistics.
// Flags are named as mlx_lm.generate names them.
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>

#include "args.h"
#include "commands.h"
#include "tessera/gguf.h"
#include "tessera/lm/generate.h"
#include "tessera/lm/model.h"
#include "tessera/ops.h"

namespace tessera::cli {

int generate_command(const std::vector<std::string>& argv) {
  Args args("tessera generate",
            "Generate text from a prompt. --model takes a .gguf file (model and tokenizer) or a Hugging Face / MLX "
            "model directory (config.json, *.safetensors, tokenizer.json).");
  args.option("model", "PATH", "a .gguf file or a model directory");
  args.option("prompt", "TEXT", "the prompt; empty starts from BOS", "\"\"");
  args.option("max-tokens", "N", "tokens to generate at most", "256");
  args.option("temp", "T", "sampling temperature; 0 is greedy", "0");
  args.option("top-p", "P", "nucleus sampling: keep the most likely tokens up to probability P", "1");
  args.option("top-k", "K", "keep the K most likely tokens (0: all)", "0");
  args.option("min-p", "M", "drop tokens less likely than M times the most likely one", "0");
  args.option("repetition-penalty", "R", "penalize the recent tokens' logits by R", "1");
  args.option("repetition-context-size", "N", "how many recent tokens the penalty looks at", "64");
  args.option("seed", "S", "random seed for sampling", "0");
  args.option("max-kv-size", "N", "positions the KV cache holds (prompt + generated)", "the model's context length");
  args.option("prefill-step-size", "N", "prompt tokens per forward pass", "512");
  args.option("threads", "N", "CPU threads", "all cores, or TESSERA_NUM_THREADS");
  args.flag("ignore-eos", "keep generating after the end-of-sequence token");
  args.flag("json", "print one JSON object (text, token ids, statistics) instead of streaming");
  args.flag("quiet", "print only the generated text (no statistics, no load messages)");
  args.parse(argv);
  if (args.help_requested()) {
    std::cout << args.help();
    return 0;
  }
  if (!args.has("model")) throw std::invalid_argument("--model is required (see tessera generate --help)");

  const bool json = args.on("json"), quiet = args.on("quiet");
  if (args.has("threads")) set_num_threads(args.integer("threads", 0));
  if (json || quiet) gguf::set_log_handler([](const std::string&) {});

  lm::GenerateOptions o;
  o.max_tokens = args.integer("max-tokens", 256);
  o.sampling.temperature = float(args.number("temp", 0.0));
  o.sampling.top_p = float(args.number("top-p", 1.0));
  o.sampling.top_k = args.integer("top-k", 0);
  o.sampling.min_p = float(args.number("min-p", 0.0));
  o.sampling.repetition_penalty = float(args.number("repetition-penalty", 1.0));
  o.sampling.penalty_window = args.integer("repetition-context-size", 64);
  o.sampling.seed = args.uint("seed", 0);
  o.max_kv_size = args.integer("max-kv-size", 0);
  o.prefill_step = args.integer("prefill-step-size", 512);
  o.stop_at_eos = !args.on("ignore-eos");

  lm::LoadedModel m = lm::load_model(args.str("model"));
  if (!m.tokenizer) {
    throw std::invalid_argument(args.str("model") +
                                " has no tokenizer Tessera can read (a directory needs tokenizer.json; a .gguf file a "
                                "'llama' vocabulary)");
  }
  const std::string prompt = args.str("prompt");
  lm::TokenCallback stream;
  if (!json) {
    stream = [](const lm::TokenEvent& e) {
      std::cout << e.text << std::flush;
      return true;
    };
  }
  lm::Generation g = lm::generate(*m.model, *m.tokenizer, prompt, o, stream);

  if (json) {
    nlohmann::json out = {{"model", args.str("model")},
                          {"prompt", prompt},
                          {"text", g.text},
                          {"tokens", g.tokens},
                          {"stats", nlohmann::json::parse(g.stats.to_json())}};
    // Invalid UTF-8 in the text (a model may emit it) is replaced rather than failing the dump.
    std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return 0;
  }
  std::cout << "\n";
  if (!quiet) {
    const auto& s = g.stats;
    std::cerr << "==========\n"
              << "Prompt: " << s.prompt_tokens << " tokens, " << s.prompt_tps << " tokens-per-sec\n"
              << "Generation: " << s.generated_tokens << " tokens, " << s.generation_tps << " tokens-per-sec\n"
              << "Time to first token: " << s.time_to_first_token_s * 1e3 << " ms\n"
              << "Peak memory: " << double(s.peak_memory) / 1e9 << " GB\n"
              << "Finish reason: " << s.finish_reason << "\n";
  }
  return 0;
}

}  // namespace tessera::cli
