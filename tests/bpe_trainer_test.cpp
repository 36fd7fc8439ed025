// Byte-level BPE training: the reference vocabulary and merges in shared/data/bpe_training
// (corpus.en, vocab 500, <|endoftext|>), the tie rule, agreement with a plain recount-every-merge
// trainer on random texts, and the written tokenizer.json loaded back through Tokenizer.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>

#include "tessera/lm/bpe_trainer.h"
#include "tessera/lm/tokenizer.h"
#include "testing/temp_dir.h"
#include "testing/errors.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using tessera::lm::BpeTrainer;
using tessera::lm::BpeTrainerOptions;
using tessera::lm::TrainedBpe;

const fs::path kData = fs::path(TESSERA_SOURCE_DIR) / ".." / "shared" / "data" / "bpe_training";

using tessera::testing::TempDir;

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TrainedBpe train_text(const std::string& text, int vocab_size, std::vector<std::string> specials = {}) {
  BpeTrainerOptions o;
  o.vocab_size = vocab_size;
  o.special_tokens = std::move(specials);
  BpeTrainer t(o);
  t.add_text(text);
  return t.train();
}

std::vector<std::pair<std::string, std::string>> spelled_merges(const TrainedBpe& t) {
  std::vector<std::pair<std::string, std::string>> out;
  for (auto [a, b] : t.merges) out.emplace_back(t.tokens[a], t.tokens[b]);
  return out;
}

using tessera::testing::error_of;

TEST(BpeTrainer, ReproducesReferenceVocabAndMerges) {
  if (!fs::exists(kData / "corpus.en"))
    GTEST_SKIP() << "BPE reference data not found at " << kData.string() << " (shared/data sits next to the repository)";
  BpeTrainerOptions o;
  o.vocab_size = 500;
  o.special_tokens = {"<|endoftext|>"};
  TrainedBpe t = tessera::lm::train_bpe({(kData / "corpus.en").string()}, o);
  EXPECT_EQ(t.tokens.size(), 500u);
  EXPECT_EQ(t.merges.size(), 243u);

  TempDir dir;
  t.save(dir.str());
  json tok = json::parse(read(dir / "tokenizer.json"));
  json want_vocab = json::parse(read(kData / "train-bpe-reference-vocab.json"));
  EXPECT_EQ(tok["model"]["vocab"], want_vocab);  // tokens and ids

  std::vector<std::string> want_merges;
  std::istringstream lines(read(kData / "train-bpe-reference-merges.txt"));
  for (std::string line; std::getline(lines, line);)
    if (!line.empty()) want_merges.push_back(line);
  std::vector<std::string> got_merges = tok["model"]["merges"].get<std::vector<std::string>>();
  ASSERT_EQ(got_merges.size(), want_merges.size());
  for (size_t i = 0; i < got_merges.size(); ++i) ASSERT_EQ(got_merges[i], want_merges[i]) << "merge " << i;

  // The corpus encodes into the learned tokens and decodes back.
  auto tokenizer = tessera::lm::Tokenizer::from_directory(dir.str());
  std::string corpus = read(kData / "corpus.en");
  auto ids = tokenizer.encode(corpus, false);
  EXPECT_LT(ids.size(), corpus.size() / 2);
  EXPECT_EQ(tokenizer.decode(ids), corpus);
}

TEST(BpeTrainer, EqualCountsGoToTheGreatestPair) {
  // One word: aa occurs 4 times, then (aa, a) and (a, b) both twice; "aa" > "a" decides.
  TrainedBpe t = train_text("aaabdaaabac", 259);
  auto m = spelled_merges(t);
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0], std::make_pair(std::string("a"), std::string("a")));
  EXPECT_EQ(m[1], std::make_pair(std::string("aa"), std::string("a")));
  EXPECT_EQ(m[2], std::make_pair(std::string("aaa"), std::string("b")));

  // Every pair once: (c, d) > (a, b) > (" ", c) by bytes.
  m = spelled_merges(train_text("ab cd", 259));
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0], std::make_pair(std::string("c"), std::string("d")));
  EXPECT_EQ(m[1], std::make_pair(std::string("a"), std::string("b")));
  EXPECT_EQ(m[2], std::make_pair(std::string(" "), std::string("cd")));
}

// The plain algorithm: recount every pair before each merge.
std::vector<std::pair<std::string, std::string>> reference_merges(const std::map<std::string, int64_t>& counts,
                                                                  size_t tokens_wanted) {
  std::vector<std::pair<std::vector<std::string>, int64_t>> words;
  for (auto& [w, c] : counts) {
    std::vector<std::string> s;
    for (char ch : w) s.emplace_back(1, ch);
    words.push_back({s, c});
  }
  std::set<std::string> vocab;
  for (int b = 0; b < 256; ++b) vocab.insert(std::string(1, char(b)));
  std::vector<std::pair<std::string, std::string>> merges;
  while (vocab.size() < tokens_wanted) {
    std::map<std::pair<std::string, std::string>, int64_t> pairs;
    for (auto& [s, c] : words)
      for (size_t i = 0; i + 1 < s.size(); ++i) pairs[{s[i], s[i + 1]}] += c;
    if (pairs.empty()) break;
    auto best = pairs.begin();
    for (auto it = pairs.begin(); it != pairs.end(); ++it)
      if (it->second >= best->second) best = it;  // map order: the last of the equal counts is the greatest
    auto [a, b] = best->first;
    merges.push_back({a, b});
    vocab.insert(a + b);
    for (auto& [s, c] : words) {
      std::vector<std::string> out;
      for (size_t i = 0; i < s.size();) {
        if (i + 1 < s.size() && s[i] == a && s[i + 1] == b) {
          out.push_back(a + b);
          i += 2;
        } else {
          out.push_back(s[i++]);
        }
      }
      s = std::move(out);
    }
  }
  return merges;
}

TEST(BpeTrainer, AgreesWithRecountingOnRandomTexts) {
  // Few letters make many ties; long words of two letters make runs where merges overlap (aaa).
  std::mt19937 rng(7);
  for (int round = 0; round < 40; ++round) {
    const int letters = 2 + round % 3;
    const int max_len = round % 2 ? 30 : 7;
    std::string text;
    std::map<std::string, int64_t> counts;
    for (int w = 0; w < 50; ++w) {
      std::string word = w ? " " : "";
      int len = 1 + int(rng() % max_len);
      for (int i = 0; i < len; ++i) word += char('a' + rng() % letters);
      text += word;
      ++counts[word];
    }
    const int vocab = 256 + 5 + 2 * round;
    TrainedBpe t = train_text(text, vocab);
    auto want = reference_merges(counts, size_t(vocab));
    auto got = spelled_merges(t);
    ASSERT_EQ(got, want) << "round " << round << " text '" << text << "'";
  }
}

TEST(BpeTrainer, WrittenTokenizerRoundTripsBytesAndSpecialTokens) {
  std::string text;
  std::mt19937 rng(1);
  const char* kWords[] = {"the", "cat", "sat", "on", "mat", "naïve", "café", "東京", "  ", "\n", "don't", "42", "!!"};
  for (int i = 0; i < 3000; ++i) {
    text += kWords[rng() % 13];
    text += (rng() % 5 == 0) ? "<|endoftext|>" : " ";
    if (rng() % 50 == 0) text += "\xff\xfe\xc3";  // invalid UTF-8 is trained on as bytes
  }
  TrainedBpe t = train_text(text, 300, {"<|endoftext|>", "<pad>"});
  ASSERT_EQ(t.tokens.size(), 300u);
  EXPECT_EQ(t.tokens[0], "<|endoftext|>");
  EXPECT_EQ(t.tokens[1], "<pad>");
  for (size_t id = 2; id < t.tokens.size(); ++id) {  // no learned token spans a special token
    EXPECT_EQ(t.tokens[id].find("<|endoftext|>"), std::string::npos);
    EXPECT_EQ(t.tokens[id].find("<pad>"), std::string::npos);
  }

  TempDir dir;
  t.save(dir.str());
  // Atomic writes leave nothing but the two files.
  std::set<std::string> names;
  for (auto& e : fs::directory_iterator(dir.path)) names.insert(e.path().filename().string());
  EXPECT_EQ(names, (std::set<std::string>{"tokenizer.json", "tokenizer_config.json"}));

  auto tok = tessera::lm::Tokenizer::from_directory(dir.str());
  EXPECT_EQ(tok.vocab_size(), 300);
  EXPECT_EQ(tok.token_to_id("<|endoftext|>"), 0);
  EXPECT_EQ(tok.token_to_id("<pad>"), 1);
  EXPECT_TRUE(tok.is_special(0));
  EXPECT_TRUE(tok.is_special(1));
  EXPECT_FALSE(tok.is_special(2));
  EXPECT_EQ(tok.eos_id(), 0);
  EXPECT_EQ(tok.bos_id(), 0);
  EXPECT_EQ(tok.encode("the cat<|endoftext|><pad>", false).back(), 1);
  EXPECT_EQ(tok.encode("x<|endoftext|>y", false), (std::vector<int>{*tok.token_to_id("x"), 0, *tok.token_to_id("y")}));
  EXPECT_EQ(tok.encode(" the", false).size(), 1u);  // a frequent word is one token

  for (int round = 0; round < 200; ++round) {
    std::string s;
    int len = int(rng() % 64);
    for (int i = 0; i < len; ++i) {
      switch (rng() % 6) {
        case 0: s += char(rng() % 256); break;  // any byte, invalid UTF-8 included
        case 1: s += "<|endoftext|>"; break;
        case 2: s += "<pad>"; break;
        case 3: s += " the"; break;
        case 4: s += "é東"; break;
        default: s += char('a' + rng() % 26);
      }
    }
    auto ids = tok.encode(s, false);
    ASSERT_EQ(tok.decode(ids), s) << "round " << round;
    for (int id : ids) ASSERT_TRUE(id >= 0 && id < 300);
  }
}

TEST(BpeTrainer, SplitsLongTextsWithoutChangingTheWords) {
  // Several MB of text is counted in chunks; the cut points must not change any word. The line
  // starts and ends so that copies of it join without changing the words at the seams.
  std::string line = "It's the 2nd time:  we're going to   see 123 cats!\nAnd then\n\n  more  \n\t x y\n";
  std::string big, small = line;
  while (big.size() < (5u << 20)) big += line;
  const size_t copies = big.size() / line.size();
  TrainedBpe a = train_text(big, 300), b = train_text(small, 300);
  EXPECT_EQ(spelled_merges(a), spelled_merges(b));
  EXPECT_EQ(a.stats.words, b.stats.words * copies);
  EXPECT_EQ(a.stats.unique_words, b.stats.unique_words);
}

TEST(BpeTrainer, StopsWhenPairsRunOutOrAreRare) {
  TrainedBpe t = train_text("ab ab ab", 1000);
  EXPECT_EQ(spelled_merges(t).size(), 2u);  // "ab", then " ab"; no pair is left
  BpeTrainerOptions o;
  o.vocab_size = 1000;
  o.min_frequency = 3;
  BpeTrainer trainer(o);
  trainer.add_text("ab ab ab cd");
  TrainedBpe r = trainer.train();
  ASSERT_EQ(r.merges.size(), 1u);  // (a, b) occurs 3 times; everything else fewer
  EXPECT_EQ(spelled_merges(r)[0], std::make_pair(std::string("a"), std::string("b")));
}

TEST(BpeTrainer, ClearErrors) {
  auto make = [](int vocab, std::vector<std::string> specials, std::string bos = "") {
    BpeTrainerOptions o;
    o.vocab_size = vocab;
    o.special_tokens = std::move(specials);
    o.bos_token = std::move(bos);
    return BpeTrainer(o);
  };
  EXPECT_NE(error_of([&] { make(256, {"<s>"}); }).find("vocab size 256 is too small"), std::string::npos);
  EXPECT_NE(error_of([&] { make(100, {}); }).find("at least 256"), std::string::npos);
  EXPECT_NE(error_of([&] { make(300, {""}); }).find("is empty"), std::string::npos);
  EXPECT_NE(error_of([&] { make(300, {"<s>", "<s>"}); }).find("given twice"), std::string::npos);
  EXPECT_NE(error_of([&] { make(300, {"a"}); }).find("spelling of a byte token"), std::string::npos);
  EXPECT_NE(error_of([&] { make(300, {"\xff"}); }).find("not valid UTF-8"), std::string::npos);
  EXPECT_NE(error_of([&] { make(300, {"<s>"}, "<x>"); }).find("not one of the special tokens"), std::string::npos);

  TempDir dir;
  BpeTrainer t = make(300, {"<s>"});
  EXPECT_NE(error_of([&] { t.add_file(dir.file("missing.txt")); }).find("missing.txt: no such file"),
            std::string::npos);
  std::string empty = dir.write("empty.txt", "");
  EXPECT_NE(error_of([&] { t.add_file(empty); }).find("empty.txt: the file is empty"), std::string::npos);
  EXPECT_NE(error_of([&] { t.add_file(dir.str()); }).find("is a directory"), std::string::npos);
  t.add_text("<s><s>");
  EXPECT_NE(error_of([&] { t.train(); }).find("no text to train on"), std::string::npos);
  EXPECT_NE(error_of([&] { tessera::lm::train_bpe({}, BpeTrainerOptions{300}); }).find("no data files"),
            std::string::npos);

  // A special token written in byte-level characters that the text spells: refused, not shadowed.
  BpeTrainer u = make(300, {"\xC4\xA0the"});  // "Ġthe"
  u.add_text("the the the the");
  EXPECT_NE(error_of([&] { u.train(); }).find("is spelled like a token learned"), std::string::npos);
}

TEST(BpeTrainer, ReportsProgress) {
  std::vector<tessera::lm::BpeTrainProgress> seen;
  BpeTrainerOptions o;
  o.vocab_size = 265;
  o.progress = [&](const tessera::lm::BpeTrainProgress& p) { seen.push_back(p); };
  BpeTrainer t(o);
  t.add_text("one two three four five six seven eight nine ten");
  t.train();
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.front().stage, tessera::lm::BpeTrainProgress::Stage::Counting);
  EXPECT_EQ(seen.back().stage, tessera::lm::BpeTrainProgress::Stage::Merging);
  EXPECT_EQ(seen.back().done, seen.back().total);
}

}  // namespace
