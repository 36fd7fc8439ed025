// The model `make demo` runs (models/shakespeare, trained by `tessera train`; its TRAINING.md has
// the commands and figures): it loads through the inference engine and generates, its tokenizer
// gives lines of the corpus back byte for byte, and on the first windows of the held-out last 10%
// of Tiny Shakespeare it scores no worse than TRAINING.md's figure for them plus 0.05 bits per
// character, so a change that degrades the bundled model or the engine running it shows up here.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "tessera/lm/generate.h"
#include "tessera/lm/model.h"
#include "tessera/lm/text_tokenizer.h"
#include "tessera/tessera.h"

namespace fs = std::filesystem;
using namespace tessera;

namespace {

fs::path model_dir() { return fs::path(TESSERA_SOURCE_DIR) / "models" / "shakespeare"; }

fs::path corpus() {
  return fs::path(TESSERA_SOURCE_DIR) / ".." / "shared" / "data" / "corpora" / "tinyshakespeare_input.txt";
}

// TRAINING.md: bits per character of the exported model on the first kWindows windows of
// kWindowTokens tokens of the validation part, as this test computes it.
constexpr double kReportedBitsPerChar = 1.846;
constexpr int kWindows = 16;
constexpr int kWindowTokens = 256;  // the training --seq-len, also the model's context length

const lm::LoadedModel& demo_model() {
  static const lm::LoadedModel m = lm::load_model(model_dir().string());
  return m;
}

}  // namespace

TEST(DemoModel, LoadsAndGenerates) {
  const lm::LoadedModel& m = demo_model();
  const lm::ModelConfig& c = m.model->config();
  EXPECT_EQ(c.architecture, "llama");
  EXPECT_EQ(c.vocab_size, m.tokenizer->vocab_size());
  lm::GenerateOptions o;
  o.max_tokens = 24;
  lm::Generation g = lm::generate(*m.model, *m.tokenizer, "ROMEO:", o);
  EXPECT_EQ(g.tokens.size(), 24u) << g.stats.finish_reason;
  EXPECT_FALSE(g.text.empty());
}

TEST(DemoModel, TokenizerRoundTripsTheCorpus) {
  const lm::TextTokenizer& tok = *demo_model().tokenizer;
  const std::string lines =
      "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n"
      "KING RICHARD III:\nNow is the winter of our discontent\n";
  std::vector<int> ids = tok.encode(lines, false);
  EXPECT_EQ(tok.decode(ids), lines);
  // Merges learned from the corpus: well under one token per byte.
  EXPECT_LT(ids.size() * 2, lines.size());
  const std::string odd = "\xff\xfe odd bytes \xc3(\n";
  EXPECT_EQ(tok.decode(tok.encode(odd, false)), odd);
}

TEST(DemoModel, HeldOutBitsPerCharacter) {
  if (!fs::exists(corpus())) {
    GTEST_SKIP() << "Tiny Shakespeare is not available at " << corpus() << " (shared/data absent)";
  }
  std::ifstream f(corpus(), std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string text = ss.str();
  // The training split: the last 10% from the first line start after 90% of the bytes.
  size_t cut = size_t(double(text.size()) * 0.9);
  if (size_t nl = text.find('\n', cut); nl != std::string::npos && nl - cut < 4096) cut = nl + 1;

  const lm::LoadedModel& m = demo_model();
  const std::vector<int> val = m.tokenizer->encode(std::string_view(text).substr(cut), false);
  ASSERT_GE(val.size(), size_t(kWindows) * kWindowTokens + 1);
  std::vector<int32_t> in(size_t(kWindows) * kWindowTokens), tgt(in.size());
  double target_bytes = 0.0;
  for (size_t i = 0; i < in.size(); ++i) {
    in[i] = val[i];
    tgt[i] = val[i + 1];
    target_bytes += double(m.tokenizer->decode(std::span<const int>(&val[i + 1], 1)).size());
  }
  lm::KVCache cache = m.model->make_cache();
  array logits = astype(m.model->forward(array(in.begin(), Shape{kWindows, kWindowTokens}, int32), cache, false),
                        float32);
  array targets = expand_dims(array(tgt.begin(), Shape{kWindows, kWindowTokens}, int32), -1);
  array nats = sum(logsumexp(logits, -1, true) - take_along_axis(logits, targets, -1));
  const double bits_per_char = double(nats.item<float>()) / std::log(2.0) / target_bytes;
  EXPECT_LE(bits_per_char, kReportedBitsPerChar + 0.05);
  std::cout << "[ demo model ] held-out bits per character " << bits_per_char << " over " << kWindows << " windows\n";
}
