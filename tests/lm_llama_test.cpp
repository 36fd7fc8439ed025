// The first LLM slice on a real model: GGUF reading and writing, the embedded SentencePiece-style
// vocabulary, the Llama graph with its KV cache, sampling and generation, checked against
// llama2.c's reference output for stories260K (shared/data/models/stories260K/expected_generations.json).
#include <gtest/gtest.h>
#include <unistd.h>

#include <bit>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tessera/gguf.h"
#include "tessera/lm/generate.h"
#include "tessera/lm/model.h"
#include "tessera/lm/sentencepiece_gguf.h"
#include "tessera/lm/tokenizer.h"
#include "tessera/tessera.h"
#include "testing/temp_dir.h"
#include "testing/errors.h"

namespace fs = std::filesystem;
using namespace tessera;
using tessera::gguf::TensorType;
using tessera::gguf::Value;

namespace {

fs::path data_dir() { return fs::path(TESSERA_SOURCE_DIR) / ".." / "shared" / "data" / "models" / "stories260K"; }
fs::path model_path() { return data_dir() / "stories260K.gguf"; }

#define REQUIRE_STORIES()                                                                          \
  if (!fs::exists(model_path())) {                                                                 \
    GTEST_SKIP() << "stories260K is not available at " << model_path() << " (shared/data absent)"; \
  }

nlohmann::json expected() {
  std::ifstream f(data_dir() / "expected_generations.json");
  return nlohmann::json::parse(f);
}

// One load for the whole file (loading is cheap, but the tests share the model).
const lm::LoadedModel& stories() {
  static lm::LoadedModel m = [] {
    gguf::set_log_handler([](const std::string&) {});
    auto loaded = lm::load_model(model_path().string());
    gguf::set_log_handler(nullptr);
    return loaded;
  }();
  return m;
}

using tessera::testing::TempDir;

std::vector<uint8_t> read_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

void write_bytes(const fs::path& p, const std::vector<uint8_t>& b) {
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

using tessera::testing::error_of;

std::vector<float> to_floats(array a) {
  a = astype(a, float32);
  a = contiguous(a);
  a.eval();
  return std::vector<float>(a.data<float>(), a.data<float>() + a.size());
}

}  // namespace

// ------------------------------------------------------------------ GGUF reading

TEST(GgufReader, StoriesMetadataAndTensors) {
  REQUIRE_STORIES();
  gguf::Reader r(model_path().string());
  EXPECT_EQ(r.version(), 3u);
  EXPECT_EQ(r.alignment(), 32u);
  EXPECT_EQ(r.get_string("general.architecture"), "llama");
  EXPECT_EQ(r.get_int("llama.embedding_length"), 64);
  EXPECT_EQ(r.get_int("llama.block_count"), 5);
  EXPECT_EQ(r.get_int("llama.attention.head_count"), 8);
  EXPECT_EQ(r.get_int("llama.attention.head_count_kv"), 4);
  EXPECT_EQ(r.get_int("llama.feed_forward_length"), 172);
  EXPECT_NEAR(r.get_float("llama.attention.layer_norm_rms_epsilon"), 1e-5, 1e-9);
  EXPECT_EQ(r.at("tokenizer.ggml.tokens").size(), 512u);
  EXPECT_EQ(r.at("tokenizer.ggml.tokens").strings()[403], "\xE2\x96\x81Once");
  EXPECT_EQ(r.at("tokenizer.ggml.scores").floats()[261], -2.0f);
  EXPECT_EQ(r.at("tokenizer.ggml.token_type").ints()[3], 6);
  EXPECT_EQ(r.get_int("tokenizer.ggml.bos_token_id"), 1);
  EXPECT_EQ(r.get_int("missing.key", 7), 7);
  EXPECT_NE(error_of([&] { r.get_int("missing.key"); }).find("missing metadata key 'missing.key'"), std::string::npos);
  EXPECT_NE(error_of([&] { r.get_int("general.architecture"); }).find("expected an integer"), std::string::npos);

  ASSERT_EQ(r.tensors().size(), 48u);
  const auto& t = r.tensor("blk.0.ffn_gate.weight");
  EXPECT_EQ(t.type, TensorType::f32);
  EXPECT_EQ(t.dims, (std::vector<uint64_t>{64, 172}));
  EXPECT_EQ(t.shape(), (Shape{172, 64}));
  array w = r.load("blk.0.ffn_gate.weight");
  EXPECT_EQ(w.shape(), (Shape{172, 64}));
  EXPECT_EQ(w.dtype(), float32);
  // Zero copy: the array's data is the mapped file.
  EXPECT_EQ(static_cast<const void*>(w.data<float>()), static_cast<const void*>(r.raw_data(t)));
  EXPECT_EQ(r.load("output_norm.weight").shape(), (Shape{64}));
  EXPECT_NE(error_of([&] { r.load("nope"); }).find("no tensor named 'nope'"), std::string::npos);
}

// ------------------------------------------------------------------ GGUF writing

TEST(GgufWriter, RoundTripsMetadataOfEveryTypeAndTensors) {
  TempDir dir;
  fs::path p = dir.path / "rt.gguf";
  std::vector<std::pair<std::string, Value>> meta = {
      {"u8", Value(uint8_t(200))},
      {"i8", Value(int8_t(-100))},
      {"u16", Value(uint16_t(60000))},
      {"i16", Value(int16_t(-30000))},
      {"u32", Value(uint32_t(4000000000u))},
      {"i32", Value(int32_t(-2000000000))},
      {"f32", Value(1.5f)},
      {"b", Value(true)},
      {"s", Value("h\xC3\xA9llo")},
      {"u64", Value(uint64_t(1) << 60)},
      {"i64", Value(int64_t(-(int64_t(1) << 60)))},
      {"f64", Value(0.1)},
      {"arr.i32", Value(std::vector<int32_t>{1, -2, 3})},
      {"arr.f32", Value(std::vector<float>{0.5f, -1.25f})},
      {"arr.str", Value(std::vector<std::string>{"a", "", "ccc"})},
      {"arr.bool", Value(std::vector<bool>{true, false})},
      {"arr.empty", Value(std::vector<uint8_t>{})},
      {"arr.nested", Value::array_of({Value(std::vector<int16_t>{1, 2}), Value(std::vector<int16_t>{3})})},
  };
  array f = reshape(astype(arange(0, 64 * 3), float32), {3, 64});
  array q = multiply(sin(reshape(astype(arange(0, 64 * 4), float32), {4, 64})), array(3.0f));
  std::vector<gguf::WriteTensor> tensors = {
      {"f32", f, TensorType::f32},
      {"f16", f, TensorType::f16},
      {"bf16", f, TensorType::bf16},
      {"q8", q, TensorType::q8_0},
      {"q4", q, TensorType::q4_0},
      {"vec", array({1.0f, 2.0f, 3.0f}), TensorType::f32},
  };
  gguf::save(p.string(), meta, tensors, 64);

  gguf::Reader r(p.string());
  EXPECT_EQ(r.version(), 3u);
  EXPECT_EQ(r.alignment(), 64u);
  EXPECT_EQ(r.at("u8").to_int(), 200);
  EXPECT_EQ(r.at("i8").to_int(), -100);
  EXPECT_EQ(r.at("u16").to_int(), 60000);
  EXPECT_EQ(r.at("i16").to_int(), -30000);
  EXPECT_EQ(r.at("u32").to_uint(), 4000000000u);
  EXPECT_EQ(r.at("i32").to_int(), -2000000000);
  EXPECT_EQ(r.at("f32").type(), gguf::ValueType::float32);
  EXPECT_EQ(r.at("f32").to_double(), 1.5);
  EXPECT_TRUE(r.at("b").to_bool());
  EXPECT_EQ(r.at("s").str(), "h\xC3\xA9llo");
  EXPECT_EQ(r.at("u64").to_uint(), uint64_t(1) << 60);
  EXPECT_EQ(r.at("i64").to_int(), -(int64_t(1) << 60));
  EXPECT_EQ(r.at("f64").to_double(), 0.1);
  EXPECT_EQ(r.at("arr.i32").ints(), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(r.at("arr.f32").floats(), (std::vector<float>{0.5f, -1.25f}));
  EXPECT_EQ(r.at("arr.str").strings(), (std::vector<std::string>{"a", "", "ccc"}));
  EXPECT_EQ(r.at("arr.bool").ints(), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(r.at("arr.empty").size(), 0u);
  ASSERT_EQ(r.at("arr.nested").items().size(), 2u);
  EXPECT_EQ(r.at("arr.nested").items()[1].ints(), (std::vector<int64_t>{3}));
  EXPECT_EQ(r.at("arr.nested").element_type(), gguf::ValueType::array);
  EXPECT_EQ(r.metadata().back().first, "general.alignment");

  for (auto& t : r.tensors()) EXPECT_EQ(t.file_offset % 64, 0u) << t.name;
  EXPECT_EQ(to_floats(r.load("f32")), to_floats(f));
  EXPECT_EQ(r.load("f16").dtype(), float16);
  EXPECT_EQ(to_floats(r.load("f16")), to_floats(astype(f, float16)));
  EXPECT_EQ(r.load("bf16").dtype(), bfloat16);
  EXPECT_EQ(to_floats(r.load("bf16")), to_floats(astype(f, bfloat16)));
  EXPECT_EQ(r.load("vec").shape(), (Shape{3}));

  // Quantized: Q8_0 within half a step (amax / 127); Q4_0 maps the largest magnitude to code 0
  // (d = max / -8), so values of the other sign clip at 7 steps: within one step (amax / 8).
  // The affine conversion is exact.
  auto ref = to_floats(q);
  for (auto [name, tol] : {std::pair{"q8", 3.0f / 127 * 0.51f}, std::pair{"q4", 3.0f / 8 * 1.01f}}) {
    EXPECT_EQ(r.tensor(name).type, std::string(name) == "q8" ? TensorType::q8_0 : TensorType::q4_0);
    auto d = to_floats(r.load(name));
    ASSERT_EQ(d.size(), ref.size());
    for (size_t i = 0; i < d.size(); ++i) EXPECT_NEAR(d[i], ref[i], tol + 1e-3f) << name << " " << i;
    auto qt = r.load_quantized(name);
    ASSERT_TRUE(qt.has_value());
    EXPECT_EQ(qt->bits, std::string(name) == "q8" ? 8 : 4);
    // Q4_0's and Q8_0's scales and biases (d and -8d, -128d) are float16 values: kept as float16.
    EXPECT_EQ(qt->scales.dtype(), float16);
    EXPECT_EQ(qt->biases.dtype(), float16);
    EXPECT_EQ(to_floats(dequantize(qt->wq, qt->scales, qt->biases, qt->group_size, qt->bits, "affine", float32)), d)
        << name;
  }
  EXPECT_FALSE(r.load_quantized("f32").has_value());
}

TEST(GgufWriter, RejectsBadInput) {
  TempDir dir;
  std::string p = (dir.path / "bad.gguf").string();
  array a = zeros({2, 30});
  EXPECT_NE(error_of([&] { gguf::save(p, {}, {{"q", a, TensorType::q8_0}}); }).find("multiple of 32"), std::string::npos);
  EXPECT_NE(error_of([&] { gguf::save(p, {}, {{"x", a}, {"x", a}}); }).find("duplicate tensor name"), std::string::npos);
  EXPECT_NE(error_of([&] { gguf::save(p, {{"k", Value(1)}, {"k", Value(2)}}, {}); }).find("duplicate metadata key"),
            std::string::npos);
  EXPECT_NE(error_of([&] { gguf::save(p, {}, {{"k", a, TensorType::iq4_xs}}); }).find("not supported"), std::string::npos);
  EXPECT_FALSE(fs::exists(p));
}

// ------------------------------------------------------------------ corrupt files

namespace {

// A small valid file: metadata of several kinds and two tensors.
std::vector<uint8_t> small_gguf(const fs::path& dir) {
  fs::path p = dir / "small.gguf";
  gguf::save(p.string(),
             {{"general.architecture", Value("llama")},
              {"n", Value(uint32_t(7))},
              {"names", Value(std::vector<std::string>{"x", "yy"})}},
             {{"a", reshape(astype(arange(0, 64), float32), {2, 32})}, {"b", ones({32}), TensorType::q8_0}});
  return read_bytes(p);
}

std::string load_error(const fs::path& p) {
  return error_of([&] {
    gguf::Reader r(p.string());
    for (auto& t : r.tensors()) {
      array a = r.load(t.name);
      a.eval();
    }
  });
}

void put_u64(std::vector<uint8_t>& b, size_t at, uint64_t v) {
  for (int k = 0; k < 8; ++k) b[at + k] = uint8_t(v >> (8 * k));
}

}  // namespace

TEST(GgufReader, EveryTruncationIsAClearError) {
  TempDir dir;
  auto good = small_gguf(dir.path);
  fs::path p = dir.path / "cut.gguf";
  for (size_t n = 0; n < good.size(); ++n) {
    write_bytes(p, std::vector<uint8_t>(good.begin(), good.begin() + n));
    std::string e = load_error(p);
    ASSERT_FALSE(e.empty()) << "a file cut to " << n << " bytes loaded";
    EXPECT_NE(e.find("[gguf] " + p.string() + ": "), std::string::npos) << e;
    EXPECT_NE(e.find("at byte offset"), std::string::npos) << e;
  }
  write_bytes(p, good);
  EXPECT_EQ(load_error(p), "");
}

TEST(GgufReader, CorruptHeadersAreClearErrors) {
  TempDir dir;
  auto good = small_gguf(dir.path);
  fs::path p = dir.path / "bad.gguf";
  auto check = [&](std::vector<uint8_t> b, const std::string& needle) {
    write_bytes(p, b);
    std::string e = load_error(p);
    EXPECT_NE(e.find(needle), std::string::npos) << "expected '" << needle << "' in: " << e;
    EXPECT_NE(e.find("at byte offset"), std::string::npos) << e;
  };
  auto b = good;
  b[0] = 'X';
  check(b, "not a GGUF file");
  b = good;
  b[4] = 1;
  check(b, "version 1");
  b = good;
  b[4] = 0, b[7] = 3;
  check(b, "big-endian");
  b = good;
  b[4] = 9;
  check(b, "unsupported GGUF version 9");
  b = good;
  put_u64(b, 8, uint64_t(1) << 62);
  check(b, "tensor count");
  b = good;
  put_u64(b, 16, uint64_t(1) << 62);
  check(b, "metadata count");
  // The first key's length.
  b = good;
  put_u64(b, 24, uint64_t(1) << 40);
  check(b, "runs past the end of the file");
  // The first value's type (after "general.architecture").
  b = good;
  size_t type_at = 24 + 8 + 20;
  b[type_at] = 77;
  check(b, "unknown value type 77");
  {
    gguf::Reader r((dir.path / "small.gguf").string());
    const auto& a = r.tensor("a");
    // Tensor type unknown.
    b = good;
    size_t info = size_t(a.info_offset) + 8 + 1 + 4 + 8 * 2;
    b[info] = 200;
    check(b, "unknown ggml type 200");
    // Offset not aligned.
    b = good;
    put_u64(b, info + 4, 3);
    check(b, "not a multiple of the alignment");
    // Data past the end.
    b = good;
    put_u64(b, info + 4, uint64_t(1) << 20);
    check(b, "runs past the end of the file");
    // Overlapping tensors: point 'b' at 'a'.
    const auto& bt = r.tensor("b");
    b = good;
    put_u64(b, size_t(bt.info_offset) + 8 + 1 + 4 + 8 + 4, 0);
    check(b, "overlap");
    // A dimension that is negative as int64.
    b = good;
    put_u64(b, size_t(a.info_offset) + 8 + 1 + 4, ~uint64_t(0));
    check(b, "dimension 0");
    // Too many dimensions.
    b = good;
    b[size_t(a.info_offset) + 8 + 1] = 9;
    check(b, "has 9 dimensions");
  }
}

TEST(GgufReader, DuplicateKeysAndBadAlignmentAreRejected) {
  TempDir dir;
  fs::path p = dir.path / "dup.gguf";
  // Written with distinct keys of equal length, then one renamed to the other.
  gguf::save(p.string(), {{"ka", Value(1)}, {"kb", Value(2)}}, {});
  auto b = read_bytes(p);
  for (size_t i = 0; i + 1 < b.size(); ++i) {
    if (b[i] == 'k' && b[i + 1] == 'b') b[i + 1] = 'a';
  }
  write_bytes(p, b);
  EXPECT_NE(load_error(p).find("duplicate metadata key 'ka'"), std::string::npos);
  EXPECT_NE(error_of([&] { gguf::save(p.string(), {}, {}, 48); }).find("power of two"), std::string::npos);
}

TEST(GgufReader, NonPowerOfTwoAlignmentIsRejected) {
  TempDir dir;
  fs::path p = dir.path / "align.gguf";
  gguf::save(p.string(), {{"general.alignment", Value(uint32_t(64))}}, {}, 64);
  auto b = read_bytes(p);
  // The value is the last 4 bytes of the metadata: 64 -> 48.
  for (size_t i = 0; i + 3 < b.size(); ++i) {
    if (b[i] == 64 && b[i + 1] == 0 && b[i + 2] == 0 && b[i + 3] == 0) {
      b[i] = 48;
      break;
    }
  }
  write_bytes(p, b);
  EXPECT_NE(load_error(p).find("general.alignment must be a power of two"), std::string::npos) << load_error(p);
}

// ------------------------------------------------------------------ tokenizer

TEST(LlamaTokenizer, EncodesThePromptToTheGoldenIds) {
  REQUIRE_STORIES();
  auto& tok = *stories().tokenizer;
  auto golden = expected()["greedy_ids"];
  std::vector<int> want = golden["prompt_ids_with_bos"].get<std::vector<int>>();
  EXPECT_EQ(tok.encode(golden["prompt_text"].get<std::string>()), want);
  EXPECT_EQ(tok.decode(want, true), "Once upon a time");
  EXPECT_EQ(tok.bos_id(), 1);
  EXPECT_EQ(tok.eos_ids(), std::vector<int>{2});
  EXPECT_EQ(tok.encode(""), std::vector<int>{1});
  EXPECT_EQ(tok.encode("", false), std::vector<int>{});
}

TEST(LlamaTokenizer, ByteFallbackSpacesAndSpecialPieces) {
  REQUIRE_STORIES();
  auto& tok = *stories().tokenizer;
  // No piece for "ü" or "日": they are spelled with byte pieces <0xNN> (id = byte + 3); "é" and
  // "€" are pieces of their own.
  std::string text = "caf\xC3\xBC caf\xC3\xA9 5\xE2\x82\xAC \xE6\x97\xA5.\nNew  line";
  auto ids = tok.encode(text, false);
  EXPECT_NE(std::find(ids.begin(), ids.end(), 0xC3 + 3), ids.end());
  EXPECT_NE(std::find(ids.begin(), ids.end(), 0xE6 + 3), ids.end());
  EXPECT_NE(std::find(ids.begin(), ids.end(), 0x0A + 3), ids.end());
  EXPECT_NE(std::find(ids.begin(), ids.end(), 485), ids.end());  // é
  EXPECT_NE(std::find(ids.begin(), ids.end(), 503), ids.end());  // €
  EXPECT_EQ(tok.decode(ids), text);
  // The byte-level stream holds back a split character until it is complete.
  auto stream = tok.stream(std::vector<int>{1});
  std::string streamed;
  for (int id : ids) streamed += stream->add(id);
  streamed += stream->finish();
  EXPECT_EQ(streamed, text);
  auto s2 = tok.stream({}, true);
  EXPECT_EQ(s2->add(0xE2 + 3), "");
  EXPECT_EQ(s2->add(0x82 + 3), "");
  EXPECT_EQ(s2->add(0xAC + 3), "\xE2\x82\xAC");
  EXPECT_EQ(s2->add(0xE2 + 3), "");
  EXPECT_EQ(s2->finish(), "\xEF\xBF\xBD");
  // Literal special pieces become their ids; the text after one gets the space prefix again.
  auto sp = tok.encode("a</s>b", false);
  ASSERT_GE(sp.size(), 3u);
  EXPECT_NE(std::find(sp.begin(), sp.end(), 2), sp.end());
  // Leading spaces are kept except the dummy prefix.
  EXPECT_EQ(tok.decode(tok.encode("  two spaces", false)), "  two spaces");
}

TEST(LlamaTokenizer, VocabularyErrors) {
  using SP = lm::SentencePieceTokenizer;
  SP::Vocab v;
  EXPECT_NE(error_of([&] { SP s(v, "t"); }).find("empty"), std::string::npos);
  v.pieces = {"<unk>", "a"};
  v.scores = {0.0f};
  EXPECT_NE(error_of([&] { SP s(v, "t"); }).find("scores has 1 entries for 2 tokens"), std::string::npos);
  v.scores = {};
  v.bos = 5;
  EXPECT_NE(error_of([&] { SP s(v, "t"); }).find("outside the vocabulary"), std::string::npos);
  // Without byte pieces, an unknown character becomes the unknown id.
  v.bos = std::nullopt;
  v.unk = 0;
  SP s(v, "t");
  EXPECT_EQ(s.encode("a\xC3\xA9", false), (std::vector<int>{0, 1, 0}));  // "▁" is unknown too
}

// A Mistral-sized SentencePiece vocabulary (32,000 pieces with byte fallback) built from the
// Hugging Face file: each piece a merge produces scores minus the merge's rank, so "highest score
// first" is "lowest rank first". Its encodings must match the Hugging Face reference ids.
TEST(LlamaTokenizer, MatchesMistralReferenceEncodings) {
  fs::path dir = fs::path(TESSERA_SOURCE_DIR) / ".." / "shared" / "data" / "tokenizers";
  if (!fs::exists(dir / "mistral_v0.1" / "tokenizer.json")) GTEST_SKIP() << "shared/data/tokenizers is absent";
  std::ifstream f(dir / "mistral_v0.1" / "tokenizer.json");
  auto j = nlohmann::json::parse(f);
  const auto& vocab = j["model"]["vocab"];
  lm::SentencePieceTokenizer::Vocab v;
  v.pieces.resize(vocab.size());
  for (auto& [piece, id] : vocab.items()) v.pieces[id.get<size_t>()] = piece;
  v.scores.assign(v.pieces.size(), -1e9f);
  v.types.assign(v.pieces.size(), lm::SentencePieceTokenizer::unused);
  std::unordered_map<std::string, int> index;
  for (size_t i = 0; i < v.pieces.size(); ++i) index[v.pieces[i]] = int(i);
  const auto& merges = j["model"]["merges"];
  for (size_t r = 0; r < merges.size(); ++r) {
    std::string m = merges[r].is_string() ? merges[r].get<std::string>()
                                          : merges[r][0].get<std::string>() + " " + merges[r][1].get<std::string>();
    size_t sp = m.find(' ');
    int id = index.at(m.substr(0, sp) + m.substr(sp + 1));
    v.scores[id] = std::max(v.scores[id], -float(r));
    v.types[id] = lm::SentencePieceTokenizer::normal;
  }
  for (size_t i = 0; i < v.pieces.size(); ++i) {
    const std::string& p = v.pieces[i];
    bool one_char = !p.empty() && p.size() == size_t(std::max(1, int(std::countl_one(uint8_t(p[0])))));
    if (p.size() == 6 && p.rfind("<0x", 0) == 0) v.types[i] = lm::SentencePieceTokenizer::byte;
    else if (one_char && v.types[i] == lm::SentencePieceTokenizer::unused) v.types[i] = lm::SentencePieceTokenizer::normal;
  }
  v.types[0] = lm::SentencePieceTokenizer::unknown;
  v.types[1] = v.types[2] = lm::SentencePieceTokenizer::control;
  v.unk = 0, v.bos = 1, v.eos = 2;
  lm::SentencePieceTokenizer tok(v, "mistral");
  // The Hugging Face tokenizer behind the generation interface agrees.
  auto hf = lm::as_text_tokenizer(lm::Tokenizer::from_directory((dir / "mistral_v0.1").string()));
  std::ifstream ref(dir / "reference" / "enc_mistral_v0.1.jsonl");
  int n = 0;
  for (std::string line; std::getline(ref, line);) {
    auto r = nlohmann::json::parse(line);
    std::string text = r["text"];
    EXPECT_EQ(tok.encode(text, false), r["ids"].get<std::vector<int>>()) << text;
    EXPECT_EQ(tok.encode(text, true), r["ids_with_special"].get<std::vector<int>>()) << text;
    if (r["roundtrip"].get<bool>()) {
      EXPECT_EQ(tok.decode(r["ids"].get<std::vector<int>>()), r["decoded"].get<std::string>());
    }
    EXPECT_EQ(hf->encode(text, true), tok.encode(text, true)) << text;
    auto ids = r["ids"].get<std::vector<int>>();
    auto a = hf->stream({}, true), b = tok.stream({}, true);
    std::string sa, sb;
    for (int id : ids) sa += a->add(id), sb += b->add(id);
    EXPECT_EQ(sa + a->finish(), sb + b->finish()) << text;
    ++n;
  }
  EXPECT_GT(n, 30);
}

// ------------------------------------------------------------------ model and generation

TEST(LlamaModel, ConfigFromGguf) {
  REQUIRE_STORIES();
  const auto& c = stories().model->config();
  EXPECT_EQ(c.architecture, "llama");
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.num_layers, 5);
  EXPECT_EQ(c.num_heads, 8);
  EXPECT_EQ(c.num_kv_heads, 4);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.intermediate_size, 172);
  EXPECT_EQ(c.context_length, 128);
  EXPECT_EQ(c.rope_dims, 8);
  EXPECT_TRUE(c.rope_traditional);
  EXPECT_FALSE(c.tie_word_embeddings);
}

TEST(LlamaModel, GreedyReproducesTheGoldenNext64Ids) {
  REQUIRE_STORIES();
  auto golden = expected()["greedy_ids"];
  std::vector<int> prompt = golden["prompt_ids_with_bos"].get<std::vector<int>>();
  std::vector<int> want = golden["next_64_ids"].get<std::vector<int>>();
  lm::GenerateOptions o;
  o.max_tokens = 64;
  o.stop_at_eos = false;
  auto g = lm::generate_tokens(*stories().model, stories().tokenizer.get(), prompt, o);
  EXPECT_EQ(g.tokens, want);
  std::vector<int> all = prompt;
  all.insert(all.end(), g.tokens.begin(), g.tokens.end());
  EXPECT_EQ(stories().tokenizer->decode(all, true), golden["prompt_plus_next_64_text"].get<std::string>());
  // The streamed text is the decoded continuation.
  EXPECT_EQ("Once upon a time" + g.text, golden["prompt_plus_next_64_text"].get<std::string>());
}

TEST(LlamaModel, Greedy256StepsMatchesLlama2c) {
  REQUIRE_STORIES();
  auto ref = expected()["generations"][0];
  ASSERT_EQ(ref["temperature"].get<double>(), 0.0);
  // run.c feeds BOS at position 0 and samples one token per position up to `steps`, printing
  // each (the last is never fed back). The GGUF's context length is 128, llama2.c's 512, so the
  // cache is sized as llama2.c's.
  lm::GenerateOptions o;
  o.max_tokens = ref["steps"].get<int>();
  o.max_kv_size = 512;
  std::string streamed;
  auto g = lm::generate(*stories().model, *stories().tokenizer, ref["prompt"].get<std::string>(), o,
                        [&](const lm::TokenEvent& e) {
                          streamed += e.text;
                          return true;
                        });
  EXPECT_EQ(g.text, ref["expected_text"].get<std::string>());
  EXPECT_EQ(streamed, g.text);
  EXPECT_EQ(g.stats.prompt_tokens, 1);
  EXPECT_GT(g.stats.generation_tps, 0);
}

TEST(LlamaModel, ChunkedPrefillAndFullForwardAgreeWithDecoding) {
  REQUIRE_STORIES();
  const auto& m = *stories().model;
  std::vector<int> ids = {1, 403, 407, 261, 378, 432, 383, 286, 261};
  const int n = int(ids.size());
  // All positions at once.
  auto cache = m.make_cache();
  array all = m.forward(array(ids.data(), Shape{1, n}, int32), cache, false);
  auto full = to_floats(all);
  EXPECT_EQ(cache.offset(), n);
  // One token at a time.
  auto c2 = m.make_cache();
  for (int i = 0; i < n; ++i) {
    auto step = to_floats(m.forward(array(&ids[i], Shape{1, 1}, int32), c2, true));
    for (int v = 0; v < 512; ++v) ASSERT_NEAR(step[v], full[size_t(i) * 512 + v], 1e-4f) << "pos " << i;
  }
  // Chunked prefill gives the same continuation.
  lm::GenerateOptions o;
  o.max_tokens = 8;
  auto a = lm::generate_tokens(m, nullptr, ids, o);
  o.prefill_step = 2;
  auto b = lm::generate_tokens(m, nullptr, ids, o);
  EXPECT_EQ(a.tokens, b.tokens);
  // Batch of two identical rows gives the same logits as one.
  auto c3 = m.make_cache();
  std::vector<int> two(ids);
  two.insert(two.end(), ids.begin(), ids.end());
  auto batched = to_floats(m.forward(array(two.data(), Shape{2, n}, int32), c3, false));
  for (size_t i = 0; i < full.size(); ++i) ASSERT_NEAR(batched[full.size() + i], full[i], 1e-4f);
}

TEST(LlamaModel, SamplingIsReproducibleAndFiltersWork) {
  REQUIRE_STORIES();
  const auto& m = *stories().model;
  auto& tok = *stories().tokenizer;
  lm::GenerateOptions o;
  o.max_tokens = 40;
  o.sampling.temperature = 1.0f;
  o.sampling.top_p = 0.9f;
  o.sampling.seed = 133742;
  auto a = lm::generate(m, tok, "Once upon a time", o);
  auto b = lm::generate(m, tok, "Once upon a time", o);
  EXPECT_EQ(a.tokens, b.tokens);
  o.sampling.seed = 7;
  auto c = lm::generate(m, tok, "Once upon a time", o);
  EXPECT_NE(a.tokens, c.tokens);
  // top_k = 1 and min_p = 1 are greedy whatever the temperature.
  lm::GenerateOptions greedy;
  greedy.max_tokens = 40;
  auto g = lm::generate(m, tok, "Once upon a time", greedy);
  o.sampling.top_k = 1;
  EXPECT_EQ(lm::generate(m, tok, "Once upon a time", o).tokens, g.tokens);
  o.sampling.top_k = 0;
  o.sampling.min_p = 1.0f;
  EXPECT_EQ(lm::generate(m, tok, "Once upon a time", o).tokens, g.tokens);
  // A strong repetition penalty changes the greedy text; a logit bias forces a token.
  greedy.sampling.repetition_penalty = 5.0f;
  EXPECT_NE(lm::generate(m, tok, "Once upon a time", greedy).tokens, g.tokens);
  greedy.sampling.repetition_penalty = 1.0f;
  greedy.sampling.logit_bias = {{300, 1000.0f}};
  greedy.max_tokens = 3;
  EXPECT_EQ(lm::generate(m, tok, "Once upon a time", greedy).tokens, (std::vector<int>{300, 300, 300}));
}

TEST(LlamaModel, StopsAndLimits) {
  REQUIRE_STORIES();
  const auto& m = *stories().model;
  auto& tok = *stories().tokenizer;
  lm::GenerateOptions o;
  o.max_tokens = 64;
  o.stop_strings = {"Lily"};
  auto g = lm::generate(m, tok, "Once upon a time", o);
  EXPECT_EQ(g.text, ", there was a little girl named ");
  EXPECT_EQ(g.stats.finish_reason, "stop");
  // The callback can stop generation.
  int calls = 0;
  lm::GenerateOptions o2;
  o2.max_tokens = 50;
  auto h = lm::generate(m, tok, "Once upon a time", o2, [&](const lm::TokenEvent&) { return ++calls < 5; });
  EXPECT_EQ(h.tokens.size(), 5u);
  EXPECT_EQ(h.stats.finish_reason, "callback");
  // The context: the cache size bounds prompt + generation.
  o2.max_kv_size = 10;
  auto k = lm::generate(m, tok, "Once upon a time", o2);
  EXPECT_EQ(k.tokens.size(), 6u);  // 5 prompt tokens, then 5 more cached and one last sampled
  EXPECT_EQ(k.stats.finish_reason, "context");
  o2.max_kv_size = 3;
  EXPECT_NE(error_of([&] { lm::generate(m, tok, "Once upon a time", o2); }).find("prompt has 5 tokens but the context holds 3"),
            std::string::npos);
  // The model's own context length (128) applies by default.
  std::string long_prompt;
  for (int i = 0; i < 40; ++i) long_prompt += "Once upon a time ";
  EXPECT_NE(error_of([&] { lm::generate(m, tok, long_prompt, {}); }).find("context length"), std::string::npos);
  std::vector<int> bad = {1, 999};
  EXPECT_NE(error_of([&] { lm::generate_tokens(m, nullptr, bad, {}); }).find("outside the vocabulary"), std::string::npos);
  // Stats are JSON.
  auto j = nlohmann::json::parse(g.stats.to_json());
  EXPECT_EQ(j["prompt_tokens"], 5);
  EXPECT_EQ(j["finish_reason"], "stop");
}

TEST(LlamaModel, LoadErrorsNameTheProblem) {
  REQUIRE_STORIES();
  TempDir dir;
  gguf::Reader r(model_path().string());
  auto copy_with = [&](const std::string& out, const std::function<void(std::vector<std::pair<std::string, Value>>&,
                                                                         std::vector<gguf::WriteTensor>&)>& edit) {
    auto meta = r.metadata();
    std::vector<gguf::WriteTensor> ts;
    for (auto& t : r.tensors()) ts.push_back({t.name, r.load(t.name), TensorType::f32});
    edit(meta, ts);
    std::string p = (dir.path / out).string();
    gguf::save(p, meta, ts);
    return p;
  };
  gguf::set_log_handler([](const std::string&) {});
  // Same weights written back: loads and generates the same.
  std::string same = copy_with("same.gguf", [](auto&, auto&) {});
  auto m2 = lm::load_model(same);
  lm::GenerateOptions o;
  o.max_tokens = 16;
  EXPECT_EQ(lm::generate(*m2.model, *m2.tokenizer, "Once upon a time", o).tokens,
            lm::generate(*stories().model, *stories().tokenizer, "Once upon a time", o).tokens);
  // Unknown architecture.
  std::string arch = copy_with("arch.gguf", [](auto& meta, auto&) {
    for (auto& [k, v] : meta)
      if (k == "general.architecture") v = Value("florp");
  });
  std::string e = error_of([&] { lm::load_model(arch); });
  EXPECT_NE(e.find("unsupported architecture 'florp' (supported: llama"), std::string::npos) << e;
  // A missing tensor.
  std::string missing = copy_with("missing.gguf", [](auto&, auto& ts) {
    ts.erase(std::remove_if(ts.begin(), ts.end(), [](auto& t) { return t.name == "blk.2.ffn_up.weight"; }), ts.end());
  });
  e = error_of([&] { lm::load_model(missing); });
  EXPECT_NE(e.find("missing tensor 'model.layers.2.mlp.up_proj.weight'"), std::string::npos) << e;
  // A corrupt block count fails before per-layer state is sized by it.
  for (int64_t count : {int64_t(6), int64_t(167772161)}) {
    std::string blocks = copy_with("blocks.gguf", [&](auto& meta, auto&) {
      for (auto& [k, v] : meta)
        if (k == "llama.block_count") v = Value(uint32_t(count));
    });
    e = error_of([&] { lm::load_model(blocks); });
    EXPECT_NE(e.find("'llama.block_count' = " + std::to_string(count) + " but the file holds no tensors of block"),
              std::string::npos)
        << e;
  }
  // A mis-shaped tensor.
  std::string shaped = copy_with("shape.gguf", [](auto&, auto& ts) {
    for (auto& t : ts)
      if (t.name == "blk.1.attn_k.weight") t.data = zeros({64, 64});
  });
  e = error_of([&] { lm::load_model(shaped); });
  EXPECT_NE(e.find("tensor 'blk.1.attn_k.weight' has shape [64, 64], expected [32, 64]"), std::string::npos) << e;
  // Quantized weights (Q8_0) run through quantized_matmul and stay close to the float model.
  // attn_v stays F32, so q/k/v mix storage and are not fused into one product.
  std::string q8 = copy_with("q8.gguf", [](auto&, auto& ts) {
    for (auto& t : ts) {
      if (t.data.ndim() == 2 && t.data.shape(-1) % 32 == 0 && t.name != "token_embd.weight" &&
          t.name.find("attn_v") == std::string::npos) {
        t.type = TensorType::q8_0;
      }
    }
  });
  std::vector<std::string> log;
  gguf::set_log_handler([&](const std::string& l) { log.push_back(l); });
  auto mq = lm::load_model(q8);
  gguf::set_log_handler(nullptr);
  ASSERT_FALSE(log.empty());
  EXPECT_NE(log[0].find("converted 26 Q8_0 tensors to the affine layout"), std::string::npos) << log[0];
  o.max_tokens = 8;
  EXPECT_EQ(lm::generate(*mq.model, *mq.tokenizer, "Once upon a time", o).tokens,
            lm::generate(*stories().model, *stories().tokenizer, "Once upon a time", o).tokens);
}
