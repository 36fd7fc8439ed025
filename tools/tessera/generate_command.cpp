// tessera generate: load a model, stream the continuation of a prompt, print the statistics.
// Flags are named as mlx_lm.generate names them.
#include <cmath>
#include <iostream>
#include <iterator>
#include <optional>
#include <nlohmann/json.hpp>

#include "args.h"
#include "commands.h"
#include "generation_flags.h"
#include "kv_cache_flags.h"
#include "tessera/gguf.h"
#include "tessera/lm/chat.h"
#include "tessera/lm/generate.h"
#include "tessera/lm/model.h"
#include "tessera/lm/prompt_cache.h"
#include "tessera/ops.h"

namespace tessera::cli {

int generate_command(const std::vector<std::string>& argv) {
  Args args("tessera generate",
            "Generate text from a prompt. --model takes a .gguf file (model and tokenizer) or a Hugging Face / MLX "
            "model directory (config.json, *.safetensors, tokenizer.json).");
  args.option("model", "PATH", "a .gguf file or a model directory");
  args.option("prompt", "TEXT", "the prompt ('-' reads it from stdin); empty starts from BOS", "\"\"");
  args.option("system-prompt", "TEXT", "a system message before the prompt (with the chat template)");
  args.flag("ignore-chat-template", "feed the prompt as it is instead of as a user message in the model's chat template");
  args.option("chat-template", "TEXT", "a Jinja chat template to use instead of the model's");
  args.option("chat-template-config", "JSON", "more variables for the template, e.g. '{\"enable_thinking\": false}'");
  args.option("stop", "TEXT", "end the generation before this text (repeatable)");
  add_load_flags(args);
  add_sampling_flags(args, "tokens to generate at most");
  add_kv_cache_flags(args);
  args.option("prompt-cache-file", "FILE",
              "continue from a cache saved by `tessera cache-prompt`: --prompt is what follows the cached prompt");
  args.option("prefill-step-size", "N", "prompt tokens per forward pass", "512");
  args.option("threads", "N", "CPU threads", "all cores, or TESSERA_NUM_THREADS");
  args.flag("ignore-eos", "keep generating after the end-of-sequence token");
  args.flag("json", "print one JSON object (text, token ids, statistics) instead of streaming");
  args.flag("quiet", "print only the generated text (no statistics, no load messages)");
  args.toggle("verbose", "print the statistics after the text; false prints only the text (as --quiet)", "true");
  args.parse(argv);
  if (args.help_requested()) {
    std::cout << args.help();
    return 0;
  }
  if (!args.has("model")) throw std::invalid_argument("--model is required (see tessera generate --help)");

  const bool json = args.on("json"), quiet = args.on("quiet") || !args.boolean("verbose", true);
  if (args.has("threads")) set_num_threads(args.integer("threads", 0));
  if (json || quiet) gguf::set_log_handler([](const std::string&) {});

  lm::GenerateOptions o;
  read_sampling_flags(args, o);
  const lm::KVCacheOptions kv = kv_cache_options(args);
  o.max_kv_size = kv.max_size;
  o.rotate_kv = kv.rotate;
  o.kv_bits = kv.bits;
  o.kv_group_size = kv.group_size;
  o.quantized_kv_start = kv.quantized_start;
  o.prefill_step = args.integer("prefill-step-size", 512);
  o.stop_at_eos = !args.on("ignore-eos");
  o.stop_strings = args.all("stop");
  lm::ChatTemplateOptions template_options;
  template_options.extra_context = chat_template_config(args);
  template_options.add_generation_prompt = true;

  lm::LoadedModel m = lm::load_model(args.str("model"), load_options(args));
  if (!m.tokenizer) {
    throw std::invalid_argument(args.str("model") +
                                " has no tokenizer Tessera can read (a directory needs tokenizer.json; a .gguf file a "
                                "'llama' vocabulary)");
  }
  std::string prompt = args.str("prompt");
  if (prompt == "-") prompt.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  // As mlx_lm.generate: the prompt is the user's message in the model's chat template when it has
  // one, unless told otherwise.
  std::shared_ptr<const lm::ChatTemplateSource> chat_template = m.chat_template;
  if (args.has("chat-template"))
    chat_template = std::make_shared<lm::ChatTemplateSource>(lm::custom_chat_template(args.str("chat-template"), m));
  std::string prompt_text = prompt;
  auto render = [&](const std::string& content) {
    lm::ChatJson messages = lm::ChatJson::array();
    if (args.has("system-prompt")) messages.push_back({{"role", "system"}, {"content", args.str("system-prompt")}});
    messages.push_back({{"role", "user"}, {"content", content}});
    return lm::apply_chat_template(*chat_template, messages, template_options);
  };
  const bool templated = chat_template && !args.on("ignore-chat-template");
  if (templated) prompt_text = render(prompt);
  std::vector<int> prompt_ids;
  std::optional<lm::PromptCacheFile> cached;
  if (args.has("prompt-cache-file")) {
    // As mlx_lm.generate: the cache holds the conversation up to the cached start of the user's
    // message; what is fed is the prompt and the template's text after it, without BOS.
    cached = lm::load_prompt_cache(args.str("prompt-cache-file"));
    lm::check_prompt_cache(*cached, *m.model);
    o.cache = &cached->cache;
    if (templated) prompt_text = prompt + split_around_user_text(render).after;
    // The cached text and the new one are encoded together when the cache says what its text
    // was, so that tokens across the boundary come out as for the whole prompt; the cache is
    // trimmed back to the tokens both share.
    const std::vector<int> held = lm::prompt_cache_tokens(*cached);
    const auto text = cached->metadata.find("prompt_text");
    bool joined = false;
    if (text != cached->metadata.end() && !held.empty() && int(held.size()) == cached->cache.offset()) {
      const std::vector<int> all = lm::encode_prompt(*m.tokenizer, text->second + prompt_text);
      size_t common = 0;
      if (all.empty()) throw std::invalid_argument("the cached and the new prompt encode to no tokens");
      while (common < held.size() && common < all.size() && held[common] == all[common]) ++common;
      if (common == all.size()) --common;  // the last token is fed again for the first logits
      try {
        cached->cache.trim(int(held.size() - common));
        prompt_ids.assign(all.begin() + std::ptrdiff_t(common), all.end());
        joined = true;
      } catch (const std::invalid_argument&) {
        // A rotating cache that already dropped positions cannot go back: the new text is fed as it is.
      }
    }
    if (!joined) {
      prompt_ids = m.tokenizer->encode(prompt_text, false);
      if (prompt_ids.empty()) {
        throw std::invalid_argument("--prompt is empty and " + args.str("prompt-cache-file") +
                                    " cannot give back its last token; give a prompt to continue it");
      }
    }
  } else {
    prompt_ids = lm::encode_prompt(*m.tokenizer, prompt_text);
  }
  const int cached_tokens = cached ? cached->cache.offset() : 0;
  lm::TokenCallback stream;
  if (!json) {
    stream = [](const lm::TokenEvent& e) {
      std::cout << e.text << std::flush;
      return true;
    };
  }
  lm::Generation g = lm::generate_tokens(*m.model, m.tokenizer.get(), prompt_ids, o, stream);

  if (json) {
    nlohmann::json out = {{"model", args.str("model")},
                          {"prompt", prompt},
                          {"prompt_text", prompt_text},
                          {"cached_tokens", cached_tokens},
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
