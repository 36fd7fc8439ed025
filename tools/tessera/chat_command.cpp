// tessera chat: a conversation with a model in its chat template. One line of stdin is one user
// turn; the reply streams to stdout. The history is rendered whole each turn and the KV cache
// keeps what the previous turns already computed (lm::ChatSession). Piped stdin works the same
// way, without the prompt marks, so scripts and tests can drive it; --json prints one object per
// reply instead of the stream.
#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "args.h"
#include "commands.h"
#include "generation_flags.h"
#include "tessera/gguf.h"
#include "tessera/lm/chat.h"
#include "tessera/lm/model.h"
#include "tessera/ops.h"

namespace tessera::cli {

namespace {

constexpr const char* kCommandsHelp =
    "  /reset         forget the conversation (the system prompt stays)\n"
    "  /system TEXT   set the system prompt (/system alone clears it)\n"
    "  /help          show these commands\n"
    "  /exit          quit (so does end of input)\n";

// The command word of a line ("/reset", "/system", ...) and the rest after one space.
bool is_command(const std::string& line, const std::string& word, std::string* rest = nullptr) {
  if (line.compare(0, word.size(), word) != 0) return false;
  if (line.size() == word.size()) {
    if (rest) rest->clear();
    return true;
  }
  if (line[word.size()] != ' ') return false;
  if (rest) *rest = line.substr(word.size() + 1);
  return true;
}

std::string dump(const nlohmann::json& j) {
  // Invalid UTF-8 in a reply (a model may emit it) is replaced rather than failing the dump.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void print_stats(const lm::ChatReply& r) {
  const auto& s = r.generation.stats;
  std::cerr << "==========\n"
            << "Prompt: " << r.prompt.ids.size() << " tokens, " << r.reused_tokens << " from the cache, "
            << s.prompt_tokens << " processed at " << s.prompt_tps << " tokens-per-sec\n"
            << "Generation: " << s.generated_tokens << " tokens, " << s.generation_tps << " tokens-per-sec\n"
            << "Time to first token: " << s.time_to_first_token_s * 1e3 << " ms\n"
            << "Peak memory: " << double(s.peak_memory) / 1e9 << " GB\n"
            << "Finish reason: " << s.finish_reason << "\n";
}

}  // namespace

int chat_command(const std::vector<std::string>& argv) {
  Args args("tessera chat",
            "Chat with a model in its chat template: each line of stdin is a message, the reply streams to stdout. "
            "The conversation is kept (and its KV cache reused) until /reset.\n\ncommands:\n" +
                std::string(kCommandsHelp));
  args.option("model", "PATH", "a .gguf file or a model directory");
  args.option("system-prompt", "TEXT", "the system message the conversation starts with");
  add_load_flags(args);
  add_sampling_flags(args, "tokens to generate at most per reply");
  args.option("max-kv-size", "N",
              "positions the KV cache keeps: past it the oldest turns are dropped (except the first 4 positions)",
              "the model's context length, then an error");
  args.option("chat-template", "TEXT", "a Jinja chat template to use instead of the model's");
  args.option("chat-template-config", "JSON", "more variables for the template, e.g. '{\"enable_thinking\": false}'");
  args.option("threads", "N", "CPU threads", "all cores, or TESSERA_NUM_THREADS");
  args.flag("json", "print one JSON object per reply (text, ids, prompt, statistics) instead of streaming");
  args.toggle("verbose", "print the statistics of each reply on stderr", "false");
  args.parse(argv);
  if (args.help_requested()) {
    std::cout << args.help();
    return 0;
  }
  if (!args.has("model")) throw std::invalid_argument("--model is required (see tessera chat --help)");

  const bool json = args.on("json"), verbose = args.boolean("verbose", false);
  const bool interactive = isatty(STDIN_FILENO) == 1 && !json;
  if (args.has("threads")) set_num_threads(args.integer("threads", 0));
  if (!verbose) gguf::set_log_handler([](const std::string&) {});

  lm::ChatSessionOptions co;
  lm::GenerateOptions& o = co.generate;
  read_sampling_flags(args, o);
  // As mlx_lm.chat: a bounded cache rotates, so a long conversation goes on with its oldest turns
  // forgotten instead of failing.
  o.max_kv_size = args.integer("max-kv-size", 0);
  if (o.max_kv_size < 0) throw std::invalid_argument("--max-kv-size must be >= 0");
  o.rotate_kv = o.max_kv_size > 0;
  if (args.has("system-prompt")) co.system_prompt = args.str("system-prompt");
  co.template_options.extra_context = chat_template_config(args);

  lm::LoadedModel m = lm::load_model(args.str("model"), load_options(args));
  if (args.has("chat-template"))
    co.chat_template = std::make_shared<lm::ChatTemplateSource>(lm::custom_chat_template(args.str("chat-template"), m));
  if (!m.chat_template && !co.chat_template) {
    throw std::invalid_argument(args.str("model") +
                                " has no chat template (tokenizer_config.json's chat_template, chat_template.jinja or "
                                "the GGUF's tokenizer.chat_template); give one with --chat-template, or use tessera "
                                "generate --ignore-chat-template for plain continuation");
  }
  lm::ChatSession session(m, std::move(co));

  if (interactive) {
    std::cerr << "[tessera chat] " << args.str("model") << ": type a message and press Enter.\n" << kCommandsHelp;
  }
  std::string line;
  int turn = 0;
  while (true) {
    if (interactive) std::cout << ">> " << std::flush;
    if (!std::getline(std::cin, line)) break;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::string rest;
    if (line.empty()) continue;
    if (is_command(line, "/exit") || is_command(line, "/quit")) break;
    if (is_command(line, "/help")) {
      std::cerr << kCommandsHelp;
      continue;
    }
    if (is_command(line, "/reset")) {
      session.reset();
      if (interactive) std::cerr << "[tessera chat] the conversation was reset\n";
      continue;
    }
    if (is_command(line, "/system", &rest)) {
      session.set_system_prompt(rest.empty() ? std::nullopt : std::optional<std::string>(rest));
      if (interactive) std::cerr << "[tessera chat] system prompt " << (rest.empty() ? "cleared" : "set") << "\n";
      continue;
    }

    bool streamed = false;
    lm::TokenCallback stream;
    if (!json) {
      stream = [&streamed](const lm::TokenEvent& e) {
        std::cout << e.text << std::flush;
        streamed = true;
        return true;
      };
    }
    try {
      lm::ChatReply r = session.send(line, stream);
      if (json) {
        nlohmann::json out = {{"turn", turn},
                              {"message", line},
                              {"text", r.generation.text},
                              {"tokens", r.generation.tokens},
                              {"prompt_text", r.prompt.text},
                              {"prompt_tokens", r.prompt.ids.size()},
                              {"reused_tokens", r.reused_tokens},
                              {"stats", nlohmann::json::parse(r.generation.stats.to_json())}};
        std::cout << dump(out) << "\n" << std::flush;
      } else {
        std::cout << "\n" << std::flush;
      }
      if (verbose) print_stats(r);
      ++turn;
    } catch (const std::exception& e) {
      // The conversation stays as it was; a prompt that outgrew the context needs /reset.
      if (json) {
        std::cout << dump({{"turn", turn}, {"message", line}, {"error", e.what()}}) << "\n" << std::flush;
      } else if (streamed) {
        std::cout << "\n" << std::flush;
      }
      std::cerr << "tessera chat: error: " << e.what() << "\n";
    }
  }
  if (interactive) std::cout << "\n";
  return 0;
}

}  // namespace tessera::cli
