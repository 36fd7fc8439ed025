// tessera cache-prompt: run a prompt through a model once and save its KV cache (mlx_lm.cache_prompt),
// so that `tessera generate --prompt-cache-file` continues from it without processing the prompt again.
// With a chat template the cache ends inside the user's message: generate's --prompt continues it.
#include <chrono>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "args.h"
#include "commands.h"
#include "kv_cache_flags.h"
#include "tessera/gguf.h"
#include "tessera/lm/chat.h"
#include "tessera/lm/model.h"
#include "tessera/lm/prompt_cache.h"
#include "tessera/ops.h"

namespace tessera::cli {

int cache_prompt_command(const std::vector<std::string>& argv) {
  Args args("tessera cache-prompt",
            "Process a prompt and save the model's KV cache to a file (safetensors) that `tessera generate "
            "--prompt-cache-file` continues from. With a chat template, the prompt is the start of the user's "
            "message and generate's --prompt its continuation.");
  args.option("model", "PATH", "a .gguf file or a model directory");
  args.option("prompt", "TEXT", "the prompt to cache ('-' reads it from stdin)");
  args.option("prompt-cache-file", "FILE", "where to save the cache (.safetensors)");
  args.option("system-prompt", "TEXT", "a system message before the prompt (with the chat template)");
  args.flag("ignore-chat-template", "cache the prompt as it is instead of as a user message in the chat template");
  add_kv_cache_flags(args);
  args.option("prefill-step-size", "N", "prompt tokens per forward pass", "512");
  args.option("threads", "N", "CPU threads", "all cores, or TESSERA_NUM_THREADS");
  args.flag("json", "print a JSON summary (tokens, time, file size) instead of the text one");
  args.parse(argv);
  if (args.help_requested()) {
    std::cout << args.help();
    return 0;
  }
  for (const char* required : {"model", "prompt", "prompt-cache-file"}) {
    if (!args.has(required)) {
      throw std::invalid_argument(std::string("--") + required + " is required (see tessera cache-prompt --help)");
    }
  }
  const bool json = args.on("json");
  if (args.has("threads")) set_num_threads(args.integer("threads", 0));
  if (json) gguf::set_log_handler([](const std::string&) {});
  const int step = args.integer("prefill-step-size", 512);
  if (step <= 0) throw std::invalid_argument("--prefill-step-size must be positive");
  const lm::KVCacheOptions kv = kv_cache_options(args);

  lm::LoadedModel m = lm::load_model(args.str("model"));
  if (!m.tokenizer) throw std::invalid_argument(args.str("model") + " has no tokenizer Tessera can read");
  std::string prompt = args.str("prompt");
  if (prompt == "-") prompt.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());

  // As mlx_lm.cache_prompt: the conversation rendered with the prompt as the user's message, cut
  // where the template's text after the message begins.
  std::string text = prompt;
  if (m.chat_template && !args.on("ignore-chat-template")) {
    lm::ChatTemplateOptions to;
    to.add_generation_prompt = true;
    auto render = [&](const std::string& content) {
      lm::ChatJson messages = lm::ChatJson::array();
      if (args.has("system-prompt")) messages.push_back({{"role", "system"}, {"content", args.str("system-prompt")}});
      messages.push_back({{"role", "user"}, {"content", content}});
      return lm::apply_chat_template(*m.chat_template, messages, to);
    };
    const TemplateSplit split = split_around_user_text(render);
    text = split.before + prompt;
  }
  const std::vector<int> ids = lm::encode_prompt(*m.tokenizer, text);
  if (ids.empty()) throw std::invalid_argument("the prompt has no tokens");
  const int ctx = m.model->config().context_length;
  if (!kv.rotate && ctx > 0 && int(ids.size()) > ctx) {
    throw std::invalid_argument("the prompt has " + std::to_string(ids.size()) + " tokens but the model's context is " +
                                std::to_string(ctx));
  }

  const auto t0 = std::chrono::steady_clock::now();
  lm::KVCache cache = m.model->make_cache(kv);
  for (size_t pos = 0; pos < ids.size(); pos += size_t(step)) {
    const int n = int(std::min(ids.size() - pos, size_t(step)));
    m.model->forward(array(ids.data() + pos, Shape{1, n}, int32), cache, true);
    eval(cache.state());
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  lm::PromptCacheMetadata meta = lm::prompt_cache_metadata(*m.model, ids);
  meta["model"] = args.str("model");
  // generate encodes this text and its own together, so the boundary tokenizes as one prompt.
  meta["prompt_text"] = text;
  const std::string file = args.str("prompt-cache-file");
  lm::save_prompt_cache(file, cache, meta);

  if (json) {
    nlohmann::json out = {{"file", file},
                          {"prompt_tokens", ids.size()},
                          {"seconds", seconds},
                          {"prompt_tps", seconds > 0 ? double(ids.size()) / seconds : 0.0},
                          {"cache_bytes", cache.nbytes()}};
    std::cout << out.dump() << "\n";
  } else {
    std::cerr << "Cached " << ids.size() << " prompt tokens (" << (seconds > 0 ? double(ids.size()) / seconds : 0.0)
              << " tokens-per-sec) in " << file << "\n";
  }
  return 0;
}

}  // namespace tessera::cli
