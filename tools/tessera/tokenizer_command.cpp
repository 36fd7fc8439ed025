// tessera tokenizer train: byte-level BPE training into a tokenizer.json directory.

#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "args.h"
#include "commands.h"
#include "progress.h"
#include "tessera/lm/bpe_trainer.h"

namespace tessera::cli {

namespace {

constexpr const char* kUsage =
    "usage: tessera tokenizer <command> [options]\n\n"
    "commands:\n"
    "  train       learn a byte-level BPE tokenizer (GPT-2 style) from text files\n";

// Pulls the repeatable flags (--data a --data b, or --data a b) out of argv, since Args keeps one
// value per flag; what is left goes to Args.
std::vector<std::string> take_list(std::vector<std::string>& argv, const std::string& name) {
  std::vector<std::string> values, rest;
  const std::string flag = "--" + name;
  for (size_t i = 0; i < argv.size(); ++i) {
    if (argv[i].rfind(flag + "=", 0) == 0) {
      values.push_back(argv[i].substr(flag.size() + 1));
    } else if (argv[i] == flag) {
      if (i + 1 >= argv.size()) throw std::invalid_argument("option '" + flag + "' needs a value");
      values.push_back(argv[++i]);
      while (i + 1 < argv.size() && argv[i + 1].rfind("--", 0) != 0) values.push_back(argv[++i]);
    } else {
      rest.push_back(argv[i]);
    }
  }
  argv.swap(rest);
  return values;
}


int train(std::vector<std::string> argv) {
  Args args("tessera tokenizer train",
            "Learn a byte-level BPE tokenizer (GPT-2's pre-tokenization regex; pairs of equal count go to the\n"
            "lexicographically greatest) and write DIR/tokenizer.json and DIR/tokenizer_config.json, which\n"
            "Tessera and Hugging Face tokenizers load.");
  args.option("data", "FILE...", "training text; repeat the flag or list several files");
  args.option("vocab-size", "N", "tokens in the vocabulary: special tokens + 256 bytes + merges");
  args.option("special", "TOKEN...", "special tokens, ids 0, 1, ... in order; never split (e.g. '<|endoftext|>')");
  args.option("min-frequency", "K", "stop merging when the best pair occurs fewer than K times", "0");
  args.option("bos", "TOKEN", "bos_token in tokenizer_config.json", "the first special token");
  args.option("eos", "TOKEN", "eos_token in tokenizer_config.json", "the first special token");
  args.option("out", "DIR", "output directory (created if needed)");
  args.flag("json", "print one JSON summary on stdout");
  args.flag("quiet", "no progress on stderr");
  bool help = false;
  for (const std::string& a : argv) help = help || a == "--help" || a == "-h";
  if (help) {
    std::cout << args.help();
    return 0;
  }
  std::vector<std::string> files = take_list(argv, "data");
  std::vector<std::string> specials = take_list(argv, "special");
  args.parse(argv);
  if (files.empty()) throw std::invalid_argument("--data is required (see tessera tokenizer train --help)");
  if (!args.has("vocab-size")) throw std::invalid_argument("--vocab-size is required");
  if (!args.has("out")) throw std::invalid_argument("--out is required");

  const bool json = args.on("json");
  ProgressLine progress(!args.on("quiet"));
  lm::BpeTrainerOptions o;
  o.vocab_size = args.integer("vocab-size", 0);
  o.special_tokens = specials;
  o.min_frequency = args.uint("min-frequency", 0);
  o.bos_token = args.str("bos");
  o.eos_token = args.str("eos");
  std::string stage;
  o.progress = [&](const lm::BpeTrainProgress& p) {
    progress.update(p.stage == lm::BpeTrainProgress::Stage::Merging ? "merging" : stage, p.done, p.total);
  };

  const auto start = std::chrono::steady_clock::now();
  lm::BpeTrainer trainer(o);
  for (size_t i = 0; i < files.size(); ++i) {
    stage = "counting " + files[i] + (files.size() > 1 ? " (" + std::to_string(i + 1) + "/" +
                                                             std::to_string(files.size()) + ")"
                                                       : "");
    trainer.add_file(files[i]);
  }
  lm::TrainedBpe t = trainer.train();
  const std::string out = args.str("out");
  t.save(out);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double mb = double(t.stats.input_bytes) / 1e6;
  const double mb_per_s = seconds > 0 ? mb / seconds : 0;
  const int vocab = int(t.tokens.size());

  if (json) {
    nlohmann::json j = {{"out", out},
                        {"files", files},
                        {"vocab_size", vocab},
                        {"requested_vocab_size", o.vocab_size},
                        {"special_tokens", t.num_special},
                        {"merges", t.merges.size()},
                        {"input_bytes", t.stats.input_bytes},
                        {"words", t.stats.words},
                        {"unique_words", t.stats.unique_words},
                        {"count_seconds", t.stats.count_seconds},
                        {"merge_seconds", t.stats.merge_seconds},
                        {"seconds", seconds},
                        {"mb_per_s", mb_per_s}};
    std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    std::printf("wrote %s/tokenizer.json: %d tokens (%d special, 256 bytes, %zu merges) from %.2f MB in %.2f s (%.1f MB/s)\n",
                out.c_str(), vocab, t.num_special, t.merges.size(), mb, seconds, mb_per_s);
  }
  if (vocab < o.vocab_size) {
    std::fprintf(stderr, "note: %d tokens instead of %d: %s\n", vocab, o.vocab_size,
                 o.min_frequency > 0 ? "no pair left occurs --min-frequency times"
                                     : "every word of the text is a single token already");
  }
  return 0;
}

}  // namespace

int tokenizer_command(const std::vector<std::string>& argv) {
  if (argv.empty() || argv[0] == "--help" || argv[0] == "-h" || argv[0] == "help") {
    (argv.empty() ? std::cerr : std::cout) << kUsage;
    return argv.empty() ? 2 : 0;
  }
  if (argv[0] == "train") return train(std::vector<std::string>(argv.begin() + 1, argv.end()));
  std::cerr << "tessera tokenizer: unknown command '" << argv[0] << "'\n" << kUsage;
  return 2;
}

}  // namespace tessera::cli
