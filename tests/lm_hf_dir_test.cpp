// Hugging Face and MLX model directories. stories260K (shared/data/models/stories260K) is
// converted from its GGUF (testing/lm_fixtures) into the layouts transformers and mlx-lm write: HF tensor names,
// Q/K rows put back into the half-split rope layout (undoing llama.cpp's converter permutation),
// config.json, model.safetensors or shards with an index, a tokenizer.json rebuilt from the
// GGUF's SentencePiece vocabulary, generation_config.json; bfloat16 copies and MLX 4/8-bit
// quantized copies. The directories must reproduce the GGUF model: the same greedy ids, logits
// within each storage's error. Then every broken directory gets an error naming the problem.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "lm/layers/embedding.h"
#include "lm/models/mlx_quantization.h"
#include "lm/models/safetensors_shards.h"
#include "tessera/gguf.h"
#include "tessera/io.h"
#include "tessera/lm/generate.h"
#include "tessera/lm/model.h"
#include "tessera/memory.h"
#include "tessera/tessera.h"
#include "testing/lm_fixtures.h"
#include "testing/errors.h"

namespace fs = std::filesystem;
using namespace tessera;
using json = nlohmann::json;

namespace {

using namespace tessera::testing::stories260k;

#define REQUIRE_STORIES()                                                                        \
  if (!fs::exists(gguf_path())) {                                                                \
    GTEST_SKIP() << "stories260K is not available at " << gguf_path() << " (shared/data absent)"; \
  }

using tessera::testing::error_of;

// Load messages are silenced for the whole file; a test that looks at them installs its own.
struct QuietLog {
  QuietLog() { gguf::set_log_handler([](const std::string&) {}); }
  ~QuietLog() { gguf::set_log_handler(nullptr); }
};

std::vector<float> to_floats(array a) {
  a = contiguous(astype(a, float32));
  a.eval();
  return std::vector<float>(a.data<float>(), a.data<float>() + a.size());
}

const lm::LoadedModel& gguf_model() {
  static lm::LoadedModel m = [] {
    QuietLog quiet;
    return lm::load_model(gguf_path().string());
  }();
  return m;
}

json golden() {
  std::ifstream f(data_dir() / "expected_generations.json");
  return json::parse(f)["greedy_ids"];
}

Tensors with_dtype(const Tensors& t, Dtype d) {
  Tensors out;
  for (auto& [name, a] : t) {
    array c = astype(a, d);
    c.eval();
    out.emplace(name, c);
  }
  return out;
}

std::vector<float> logits(const lm::Model& m, const std::vector<int>& ids) {
  auto cache = m.make_cache();
  return to_floats(m.forward(array(ids.data(), Shape{1, int(ids.size())}, int32), cache, false));
}

// max |a - b| / max |b|.
double relative_max_error(const std::vector<float>& a, const std::vector<float>& b) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, double(std::fabs(a[i] - b[i])));
    scale = std::max(scale, double(std::fabs(b[i])));
  }
  return diff / scale;
}

const std::vector<int> kPromptIds = {1, 403, 407, 261, 378, 432, 383, 286, 261, 300, 344, 395};

lm::GenerateOptions greedy64() {
  lm::GenerateOptions o;
  o.max_tokens = 64;
  o.stop_at_eos = false;
  return o;
}

}  // namespace

// ------------------------------------------------------------------ Hugging Face directories

TEST(HfModelDir, ReproducesTheGgufModelTokenForToken) {
  REQUIRE_STORIES();
  QuietLog quiet;
  TempDir dir;
  write_dir(dir.path, hf_tensors());
  lm::LoadedModel m = lm::load_model(dir.str());
  EXPECT_EQ(m.path, dir.str());
  const lm::ModelConfig& c = m.model->config();
  EXPECT_EQ(c.architecture, "llama");
  EXPECT_EQ(c.num_layers, kLayers);
  EXPECT_EQ(c.num_kv_heads, kKvHeads);
  EXPECT_FALSE(c.rope_traditional);
  EXPECT_FALSE(c.tie_word_embeddings);

  // The rebuilt tokenizer encodes the prompt as llama2.c does.
  ASSERT_TRUE(m.tokenizer);
  auto g = golden();
  std::vector<int> prompt = g["prompt_ids_with_bos"].get<std::vector<int>>();
  EXPECT_EQ(m.tokenizer->encode(g["prompt_text"].get<std::string>()), prompt);
  EXPECT_EQ(m.tokenizer->eos_ids(), (std::vector<int>{2}));

  // Greedy: the golden ids, as from the GGUF; the text through the directory's tokenizer too.
  auto from_dir = lm::generate(*m.model, *m.tokenizer, "Once upon a time", greedy64());
  auto from_gguf = lm::generate(*gguf_model().model, *gguf_model().tokenizer, "Once upon a time", greedy64());
  EXPECT_EQ(from_dir.tokens, g["next_64_ids"].get<std::vector<int>>());
  EXPECT_EQ(from_dir.tokens, from_gguf.tokens);
  EXPECT_EQ("Once upon a time" + from_dir.text, g["prompt_plus_next_64_text"].get<std::string>());

  // Logits agree at every position to float32 rounding.
  EXPECT_LT(relative_max_error(logits(*m.model, kPromptIds), logits(*gguf_model().model, kPromptIds)), 1e-5);
}

TEST(HfModelDir, ShardedWithIndexAndTiedEmbeddings) {
  REQUIRE_STORIES();
  QuietLog quiet;
  TempDir dir;
  // stories260K's classifier is its embedding (llama2.c shares them), so a tied directory without
  // lm_head.weight is the same model.
  Tensors t = hf_tensors();
  ASSERT_EQ(to_floats(t.at("lm_head.weight")), to_floats(t.at("model.embed_tokens.weight")));
  t.erase("lm_head.weight");
  DirOptions o;
  o.shards = 2;
  o.config["tie_word_embeddings"] = true;
  write_dir(dir.path, t, o);
  ASSERT_TRUE(fs::exists(dir.path / "model-00002-of-00002.safetensors"));
  ASSERT_FALSE(fs::exists(dir.path / "model.safetensors"));

  lm::DirectoryTensors files = lm::load_directory_tensors(dir.str());
  EXPECT_EQ(files.files, (std::vector<std::string>{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}));
  EXPECT_EQ(files.tensors.size(), t.size());
  EXPECT_EQ(files.tensors.at("model.embed_tokens.weight").file, "model-00001-of-00002.safetensors");
  EXPECT_EQ(files.tensors.at("model.norm.weight").file, "model-00002-of-00002.safetensors");

  lm::LoadedModel m = lm::load_model(dir.str());
  EXPECT_TRUE(m.model->config().tie_word_embeddings);
  EXPECT_EQ(lm::generate_tokens(*m.model, nullptr, golden()["prompt_ids_with_bos"].get<std::vector<int>>(), greedy64()).tokens,
            golden()["next_64_ids"].get<std::vector<int>>());
}

TEST(HfModelDir, SixteenBitWeightsStayInTheirTypeAndMapped) {
  REQUIRE_STORIES();
  QuietLog quiet;
  const std::vector<float> reference = logits(*gguf_model().model, kPromptIds);
  for (Dtype d : {bfloat16, float16}) {
    SCOPED_TRACE(dtype_name(d));
    TempDir dir;
    Tensors t = with_dtype(hf_tensors(), d);
    write_dir(dir.path, t);

    // The arrays point into the file's mapping, in the file's dtype.
    lm::DirectoryTensors files = lm::load_directory_tensors(dir.str());
    const std::string file = fs::canonical(dir.path / "model.safetensors").string();
    std::vector<std::pair<uintptr_t, uintptr_t>> mapped;
    std::ifstream maps("/proc/self/maps");
    for (std::string line; std::getline(maps, line);) {
      if (line.size() < file.size() || line.compare(line.size() - file.size(), file.size(), file) != 0) continue;
      uintptr_t lo = 0, hi = 0;
      std::sscanf(line.c_str(), "%lx-%lx", &lo, &hi);
      mapped.emplace_back(lo, hi);
    }
    ASSERT_FALSE(mapped.empty()) << file << " is not mapped";
    for (auto& [name, tensor] : files.tensors) {
      EXPECT_EQ(tensor.value.dtype(), d) << name;
      auto p = reinterpret_cast<uintptr_t>(tensor.value.raw_data());
      bool inside = std::any_of(mapped.begin(), mapped.end(), [&](auto& r) { return p >= r.first && p < r.second; });
      EXPECT_TRUE(inside) << name << " was copied out of the mapping";
    }

    // Loading the model adds at most the fused q/k/v and gate/up copies (in the 16-bit type):
    // well under the float32 size of the weights.
    size_t f32_bytes = 0;
    for (auto& [name, a] : hf_tensors()) f32_bytes += a.nbytes();
    const size_t before = get_active_memory();
    lm::LoadedModel m = lm::load_model(dir.str());
    const size_t added = get_active_memory() - before;
    EXPECT_LT(added, f32_bytes / 2) << "loading allocated " << added << " bytes for " << f32_bytes / 2
                                    << " bytes of 16-bit weights";

    // Logits within the 16-bit type's rounding of the weights (and, for bfloat16, of the
    // activations entering each product); greedy decoding starts the same.
    const std::vector<float> got = logits(*m.model, kPromptIds);
    const double err = relative_max_error(got, reference);
    EXPECT_LT(err, d == bfloat16 ? 3e-2 : 3e-3);
    EXPECT_GT(err, 0.0);
    lm::GenerateOptions o = greedy64();
    o.max_tokens = 8;
    EXPECT_EQ(lm::generate_tokens(*m.model, nullptr, kPromptIds, o).tokens,
              lm::generate_tokens(*gguf_model().model, nullptr, kPromptIds, o).tokens);
  }
}

TEST(HfModelDir, GenerationConfigEosIdsAndUnusedTensors) {
  REQUIRE_STORIES();
  std::vector<std::string> lines;
  gguf::set_log_handler([&](const std::string& l) { lines.push_back(l); });
  TempDir dir;
  Tensors t = hf_tensors();
  // transformers' older Llama checkpoints carry the rope's inverse frequencies as a buffer.
  t.emplace("model.layers.0.self_attn.rotary_emb.inv_freq", array({1.0f, 0.1f, 0.01f, 0.001f}));
  DirOptions o;
  o.generation_config = json{{"bos_token_id", 1}, {"eos_token_id", {2, 7}}};
  write_dir(dir.path, t, o);
  lm::LoadedModel m = lm::load_model(dir.str());
  gguf::set_log_handler(nullptr);
  EXPECT_EQ(m.tokenizer->eos_ids(), (std::vector<int>{2, 7}));
  bool logged = false;
  for (auto& l : lines) logged = logged || (l.find("1 tensors are not used") != std::string::npos &&
                                            l.find("model.layers.0.self_attn.rotary_emb.inv_freq") != std::string::npos);
  EXPECT_TRUE(logged);
  // Generation stops at the added id: token 7 forced by a logit bias ends it at once.
  lm::GenerateOptions g;
  g.max_tokens = 10;
  g.sampling.logit_bias = {{7, 1000.0f}};
  auto out = lm::generate(*m.model, *m.tokenizer, "Once upon a time", g);
  EXPECT_TRUE(out.tokens.empty());
  EXPECT_EQ(out.stats.finish_reason, "stop");

  // Without generation_config.json, config.json's eos_token_id (an id or a list) is used.
  QuietLog quiet;
  TempDir dir2;
  DirOptions o2;
  o2.config["eos_token_id"] = json::array({2, 5});
  write_dir(dir2.path, hf_tensors(), o2);
  EXPECT_EQ(lm::load_model(dir2.str()).tokenizer->eos_ids(), (std::vector<int>{2, 5}));
  // No tokenizer.json: the model runs on ids.
  TempDir dir3;
  DirOptions o3;
  o3.tokenizer = false;
  write_dir(dir3.path, hf_tensors(), o3);
  lm::LoadedModel bare = lm::load_model(dir3.str());
  EXPECT_FALSE(bare.tokenizer);
  EXPECT_TRUE(bare.model);
}

// ------------------------------------------------------------------ MLX-quantized directories

namespace {

struct MlxLayout {
  int bits, group_size;
  Dtype dtype;     // of the weights before quantization, so of the scales and biases
  bool tied;       // no lm_head: the output reuses the quantized embedding
  json overrides;  // per-module entries of config.json's "quantization"
};

// What mlx_lm.convert -q writes: every 2-D weight whose rows split into whole groups (here all
// but down_proj, whose 172 inputs do not) as <module>.weight/.scales/.biases, the rest as it was;
// and the reference: the same directory with each quantized weight dequantized to float32.
std::pair<Tensors, Tensors> mlx_tensors(const MlxLayout& l) {
  Tensors quantized, reference;
  // Unquantized tensors stay float32: bfloat16 products round their inputs, which turns the
  // last-bit differences between a packed and a dense product into visible ones (the 16-bit
  // paths are tested on their own above).
  for (auto& [name, a0] : hf_tensors()) {
    if (l.tied && name == "lm_head.weight") continue;
    const std::string module = name.substr(0, name.size() - 7);
    int gs = l.group_size, bits = l.bits;
    bool quantize_it = a0.ndim() == 2 && a0.shape(1) % gs == 0;
    if (auto it = l.overrides.find(module); it != l.overrides.end()) {
      quantize_it = !it->is_boolean();
      if (quantize_it) {
        gs = (*it)["group_size"].get<int>();
        bits = (*it)["bits"].get<int>();
      }
    }
    if (!quantize_it) {
      quantized.emplace(name, a0);
      reference.emplace(name, a0);
      continue;
    }
    auto q = quantize(astype(a0, l.dtype), gs, bits);
    eval(q);
    quantized.emplace(module + ".weight", q[0]);
    quantized.emplace(module + ".scales", q[1]);
    quantized.emplace(module + ".biases", q[2]);
    array d = dequantize(q[0], q[1], q[2], gs, bits, "affine", float32);
    d.eval();
    reference.emplace(name, d);
  }
  return {quantized, reference};
}

json mlx_config(const MlxLayout& l) {
  json c = config_json();
  json q = {{"group_size", l.group_size}, {"bits", l.bits}};
  for (auto& [k, v] : l.overrides.items()) q[k] = v;
  c["quantization"] = q;
  c["quantization_config"] = q;
  c["tie_word_embeddings"] = l.tied;
  return c;
}

}  // namespace

TEST(MlxModelDir, QuantizedModulesRunPackedAndMatchTheirDequantizedWeights) {
  REQUIRE_STORIES();
  QuietLog quiet;
  const MlxLayout layouts[] = {
      // 4-bit, the embedding quantized and tied to the output, with mixed per-module entries:
      // one module at 8 bits group 32, one left unquantized.
      {4, 64, bfloat16, true,
       json{{"model.layers.1.mlp.up_proj", {{"group_size", 32}, {"bits", 8}}},
            {"model.layers.2.self_attn.v_proj", false}}},
      // 8-bit from a bfloat16 model (bfloat16 scales and biases) with its own quantized lm_head
      // and the embedding left unquantized.
      {8, 64, bfloat16, false, json{{"model.embed_tokens", false}}},
  };
  for (const MlxLayout& l : layouts) {
    SCOPED_TRACE(std::to_string(l.bits) + "-bit");
    auto [quantized, reference] = mlx_tensors(l);
    TempDir qdir, rdir;
    DirOptions qo, ro;
    qo.config = mlx_config(l);
    ro.config["tie_word_embeddings"] = l.tied;
    write_dir(qdir.path, quantized, qo);
    write_dir(rdir.path, reference, ro);
    ASSERT_EQ(quantized.at("model.embed_tokens.weight").dtype(), l.bits == 4 ? uint32 : float32);
    ASSERT_EQ(quantized.at("model.layers.0.self_attn.q_proj.scales").dtype(), l.dtype);
    ASSERT_EQ(quantized.count("model.layers.0.mlp.down_proj.scales"), 0u);
    ASSERT_EQ(quantized.count("model.layers.2.self_attn.v_proj.scales"), l.bits == 4 ? 0u : 1u);

    lm::LoadedModel q = lm::load_model(qdir.str());
    lm::LoadedModel r = lm::load_model(rdir.str());
    const std::vector<float> ql = logits(*q.model, kPromptIds), rl = logits(*r.model, kPromptIds);
    EXPECT_LT(relative_max_error(ql, rl), 1e-4);
    // And the quantization is real: the model moved from the original, within the format's error.
    const double from_original = relative_max_error(ql, logits(*gguf_model().model, kPromptIds));
    EXPECT_GT(from_original, 1e-4);
    EXPECT_LT(from_original, l.bits == 4 ? 0.5 : 0.05);

    // Dequantizing at load gives the same model.
    lm::LoadOptions dq;
    dq.keep_quantized = false;
    EXPECT_LT(relative_max_error(logits(*lm::load_model(qdir.str(), dq).model, kPromptIds), rl), 1e-4);
  }
}

TEST(MlxModelDir, QuantizationConfigParsing) {
  const std::string f = "m/config.json";
  json c = {{"quantization", {{"group_size", 64}, {"bits", 4}, {"mode", "affine"},
                              {"model.layers.0.mlp.down_proj", {{"group_size", 32}, {"bits", 8}}},
                              {"lm_head", false},
                              {"model.embed_tokens", {{"bits", 6}}}}}};
  lm::QuantizationConfig q = lm::parse_quantization(c, f);
  EXPECT_EQ(q.field, "quantization");
  ASSERT_TRUE(q.defaults);
  EXPECT_EQ(q.defaults->bits, 4);
  EXPECT_EQ(q.for_module("model.layers.3.mlp.up_proj")->group_size, 64);
  EXPECT_EQ(q.for_module("model.layers.0.mlp.down_proj")->bits, 8);
  EXPECT_EQ(q.for_module("model.layers.0.mlp.down_proj")->group_size, 32);
  EXPECT_FALSE(q.for_module("lm_head"));
  EXPECT_TRUE(q.excluded("lm_head"));
  EXPECT_EQ(q.for_module("model.embed_tokens")->bits, 6);
  EXPECT_EQ(q.for_module("model.embed_tokens")->group_size, 64);
  // mlx-lm writes both entries; a config with only the HF-style one reads the same.
  json only_hf = {{"quantization_config", {{"group_size", 32}, {"bits", 2}}}};
  EXPECT_EQ(lm::parse_quantization(only_hf, f).field, "quantization_config");
  EXPECT_EQ(lm::parse_quantization(only_hf, f).defaults->group_size, 32);
  EXPECT_FALSE(lm::parse_quantization(json{{"model_type", "llama"}}, f).present());

  auto err = [&](json quant, const char* key = "quantization") {
    return error_of([&] { lm::parse_quantization(json{{key, quant}}, f); });
  };
  EXPECT_NE(err({{"group_size", 64}, {"bits", 7}}).find("m/config.json: quantization.bits = 7 is not supported"),
            std::string::npos);
  EXPECT_NE(err({{"group_size", 48}, {"bits", 4}}).find("quantization.group_size = 48 is not supported"), std::string::npos);
  EXPECT_NE(err({{"group_size", "64"}, {"bits", 4}}).find("quantization.group_size = \"64\" must be an integer"),
            std::string::npos);
  EXPECT_NE(err({{"group_size", 64}}).find("must give both group_size and bits"), std::string::npos);
  EXPECT_NE(err({{"group_size", 32}, {"bits", 4}, {"mode", "mxfp4"}}).find("quantization.mode = \"mxfp4\" is not supported"),
            std::string::npos);
  EXPECT_NE(err({{"group_size", 64}, {"bits", 4}, {"model.x", {1, 2}}}).find("quantization['model.x'] must be an object"),
            std::string::npos);
  EXPECT_NE(err({{"model.x", {{"bits", 4}}}}).find("quantization['model.x'] must give group_size and bits"),
            std::string::npos);
  EXPECT_NE(err({{"model.x", {{"group_size", 64}, {"bits", 1}}}}).find("quantization['model.x'].bits = 1"),
            std::string::npos);
  EXPECT_NE(err(42).find("quantization must be an object"), std::string::npos);
  EXPECT_NE(err({{"quant_method", "gptq"}, {"bits", 4}}, "quantization_config").find("quant_method = \"gptq\" is not supported"),
            std::string::npos);
}

TEST(MlxModelDir, QuantizedTensorShapesAreChecked) {
  auto q = quantize(random::normal({8, 128}), 64, 4);
  eval(q);
  Shape shape;
  lm::QuantizedWeight w = lm::make_quantized_weight(q[0], q[1], q[2], {64, 4}, "m: module 'x'", &shape);
  EXPECT_EQ(shape, (Shape{8, 128}));
  EXPECT_EQ(q[0].shape(), (Shape{8, 16}));
  EXPECT_EQ(w.bits, 4);
  auto err = [&](const array& wq, const array& s, const array& b, lm::QuantParams p) {
    Shape sh;
    return error_of([&] { lm::make_quantized_weight(wq, s, b, p, "m: module 'x'", &sh); });
  };
  // The file's group size differs from config.json's: the scales say so.
  EXPECT_NE(err(q[0], q[1], q[2], {32, 4}).find("m: module 'x': scales have shape [8, 2], expected [8, 4]"),
            std::string::npos);
  EXPECT_NE(err(q[0], q[1], q[2], {64, 8}).find("scales have shape [8, 2], expected [8, 1]"), std::string::npos);
  EXPECT_NE(err(q[0], q[1], slice(q[2], {0, 0}, {4, 2}), {64, 4}).find("biases have shape [4, 2]"), std::string::npos);
  EXPECT_NE(err(astype(q[0], int32), q[1], q[2], {64, 4}).find("the packed weight is int32, expected uint32"),
            std::string::npos);
  EXPECT_NE(err(q[0], astype(q[1], int32), q[2], {64, 4}).find("scales are int32"), std::string::npos);
  EXPECT_NE(err(slice(q[0], {0, 0}, {8, 1}), q[1], q[2], {64, 3}).find("do not hold whole 3-bit values"),
            std::string::npos);
}

TEST(MlxModelDir, QuantizedEmbeddingLooksUpRowsAndTiesTheOutput) {
  array table = random::normal({32, 64}, bfloat16);
  auto q = quantize(table, 64, 4);
  eval(q);
  lm::Weight w{std::nullopt, lm::QuantizedWeight{q[0], q[1], q[2], 64, 4}, {32, 64}, "embed"};
  lm::Embedding e(w);
  array ids = array({3, 0, 31, 3}, Shape{4}, int32);
  array rows = e(ids);
  EXPECT_EQ(rows.dtype(), float32);
  EXPECT_EQ(rows.shape(), (Shape{4, 64}));
  array full = dequantize(q[0], q[1], q[2], 64, 4, "affine", float32);
  EXPECT_EQ(to_floats(rows), to_floats(take(full, ids, 0)));
  lm::Linear head = e.as_linear();
  EXPECT_TRUE(head.quantized());
  array x = random::normal({2, 64});
  auto got = to_floats(head(x)), want = to_floats(matmul(x, transpose(full)));
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-4f * (1 + std::fabs(want[i])));
  // A dense bfloat16 table: float32 rows, the product on the bfloat16 table.
  lm::Embedding d(lm::Weight{table, std::nullopt, {32, 64}, "embed"});
  EXPECT_EQ(d(ids).dtype(), float32);
  EXPECT_EQ(to_floats(d(ids)), to_floats(take(table, ids, 0)));
  EXPECT_EQ(d.as_linear()(x).dtype(), float32);
  EXPECT_FALSE(d.as_linear().quantized());
}

// ------------------------------------------------------------------ bad directories

namespace {

// A converted directory to break, copied fresh for each case.
struct Broken {
  TempDir dir;
  explicit Broken(const Tensors& t = hf_tensors(), DirOptions o = {}) { write_dir(dir.path, t, o); }
  std::string error() const {
    return error_of([&] { lm::load_model(dir.str()); });
  }
  void edit_json(const std::string& file, const std::function<void(json&)>& fn) const {
    std::ifstream in(dir.path / file);
    json j = json::parse(in);
    fn(j);
    write_text(dir.path / file, j.dump(2));
  }
};

#define EXPECT_ERROR(text, needle) \
  do {                             \
    std::string e_ = (text);        \
    EXPECT_NE(e_.find(needle), std::string::npos) << e_; \
  } while (0)

}  // namespace

TEST(HfModelDir, DirectoryErrorsNameTheFileAndTheProblem) {
  REQUIRE_STORIES();
  QuietLog quiet;
  {
    Broken b;
    fs::remove(b.dir.path / "config.json");
    EXPECT_ERROR(b.error(), b.dir.str() + ": no config.json");
  }
  {
    Broken b;
    write_text(b.dir.path / "config.json", "{\"model_type\": \"llama\", \"vocab_size\": ");
    EXPECT_ERROR(b.error(), (b.dir.path / "config.json").string() + ": not valid JSON");
  }
  {
    Broken b;
    std::string deep = "{\"model_type\": \"llama\", \"x\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
    write_text(b.dir.path / "config.json", deep);
    EXPECT_ERROR(b.error(), "config.json: JSON nests deeper than 64 levels");
  }
  {
    Broken b;
    b.edit_json("config.json", [](json& j) { j["model_type"] = "florp"; });
    EXPECT_ERROR(b.error(), "config.json: unsupported architecture 'florp' (supported: llama");
  }
  {
    Broken b;
    b.edit_json("config.json", [](json& j) { j["num_hidden_layers"] = 6; });
    EXPECT_ERROR(b.error(), "config.json: num_hidden_layers = 6 but the weights hold no tensors of layer 5");
  }
  {
    Broken b;
    fs::remove(b.dir.path / "model.safetensors");
    EXPECT_ERROR(b.error(), "no model.safetensors, model.safetensors.index.json or model*.safetensors files");
  }
  {
    // A truncated download.
    Broken b;
    fs::path p = b.dir.path / "model.safetensors";
    fs::resize_file(p, fs::file_size(p) / 2);
    EXPECT_ERROR(b.error(), p.string());
  }
  {
    Tensors t = hf_tensors();
    t.erase("model.layers.3.mlp.up_proj.weight");
    Broken b(t);
    EXPECT_ERROR(b.error(), "model.safetensors: missing tensor 'model.layers.3.mlp.up_proj.weight' (expected shape [172, 64])");
  }
  {
    Tensors t = hf_tensors();
    t.insert_or_assign("model.layers.0.self_attn.k_proj.weight", zeros({64, 64}));
    Broken b(t);
    EXPECT_ERROR(b.error(), "tensor 'model.layers.0.self_attn.k_proj.weight' has shape [64, 64], expected [32, 64]");
  }
  {
    Tensors t = hf_tensors();
    t.insert_or_assign("model.norm.weight", zeros({64}, int32));
    Broken b(t);
    EXPECT_ERROR(b.error(), "model.safetensors: tensor 'model.norm.weight' is int32, expected float32, float16 or bfloat16");
  }
  {
    // Two files holding one tensor (shards without an index).
    Broken b;
    save_safetensors((b.dir.path / "model-extra.safetensors").string(),
                     {{"model.norm.weight", hf_tensors().at("model.norm.weight")}});
    fs::rename(b.dir.path / "model.safetensors", b.dir.path / "model-base.safetensors");
    EXPECT_ERROR(b.error(), "model-extra.safetensors: tensor 'model.norm.weight' is also in model-base.safetensors");
  }
  {
    DirOptions o;
    o.generation_config = json{{"eos_token_id", {2, 9999}}};
    Broken b(hf_tensors(), o);
    EXPECT_ERROR(b.error(), "generation_config.json: eos_token_id 9999 is not a token id of the model's 512-token vocabulary");
  }
  const fs::path mistral = fs::path(TESSERA_SOURCE_DIR) / ".." / "shared" / "data" / "tokenizers" / "mistral_v0.1";
  if (fs::exists(mistral / "tokenizer.json")) {
    Broken b;
    fs::copy_file(mistral / "tokenizer.json", b.dir.path / "tokenizer.json", fs::copy_options::overwrite_existing);
    EXPECT_ERROR(b.error(), "tokenizer.json: the tokenizer has 32000 tokens but the model's embedding only 512 rows");
  }
}

TEST(HfModelDir, ShardIndexErrors) {
  REQUIRE_STORIES();
  QuietLog quiet;
  DirOptions o;
  o.shards = 2;
  const std::string second = "model-00002-of-00002.safetensors";
  {
    Broken b(hf_tensors(), o);
    fs::remove(b.dir.path / second);
    EXPECT_ERROR(b.error(), "model.safetensors.index.json: shard '" + second + "' (");
    EXPECT_ERROR(b.error(), "is missing from " + b.dir.str());
  }
  {
    Broken b(hf_tensors(), o);
    b.edit_json("model.safetensors.index.json", [&](json& j) { j["weight_map"]["model.extra.weight"] = second; });
    EXPECT_ERROR(b.error(), "model.safetensors.index.json: weight_map names tensor 'model.extra.weight' in " + second +
                                ", which does not hold it");
  }
  {
    Broken b(hf_tensors(), o);
    b.edit_json("model.safetensors.index.json", [](json& j) { j["weight_map"]["model.norm.weight"] = "../model.safetensors"; });
    EXPECT_ERROR(b.error(), "weight_map['model.norm.weight'] = '../model.safetensors' is not a file name in the model directory");
  }
  {
    Broken b(hf_tensors(), o);
    b.edit_json("model.safetensors.index.json", [](json& j) { j.erase("weight_map"); });
    EXPECT_ERROR(b.error(), "model.safetensors.index.json: missing \"weight_map\"");
  }
  {
    Broken b(hf_tensors(), o);
    b.edit_json("model.safetensors.index.json", [](json& j) { j["weight_map"]["model.norm.weight"] = 3; });
    EXPECT_ERROR(b.error(), "weight_map['model.norm.weight'] must be a file name string");
  }
  {
    // A tensor the index does not list is still read; an index listing a tensor in the wrong
    // shard is an error naming where it is.
    Broken b(hf_tensors(), o);
    b.edit_json("model.safetensors.index.json", [](json& j) {
      j["weight_map"]["model.embed_tokens.weight"] = "model-00002-of-00002.safetensors";
    });
    EXPECT_ERROR(b.error(), "weight_map names tensor 'model.embed_tokens.weight' in " + second +
                                ", which does not hold it (it is in model-00001-of-00002.safetensors)");
  }
}

TEST(MlxModelDir, QuantizedDirectoryErrors) {
  REQUIRE_STORIES();
  QuietLog quiet;
  MlxLayout l{4, 64, float32, false, json::object()};
  auto [quantized, reference] = mlx_tensors(l);
  {
    // Packed tensors but no quantization entry.
    Broken b(quantized);
    EXPECT_ERROR(b.error(), "model.safetensors: tensor 'lm_head.scales' marks 'lm_head' as MLX-quantized, but");
    EXPECT_ERROR(b.error(), "config.json has no \"quantization\" entry");
  }
  DirOptions o;
  o.config = mlx_config(l);
  {
    // config.json's group size is not the files'.
    Broken b(quantized, o);
    b.edit_json("config.json", [](json& j) { j["quantization"]["group_size"] = 32; });
    EXPECT_ERROR(b.error(), "model.safetensors: module 'lm_head': scales have shape [512, 1], expected [512, 2] for "
                            "the packed weight [512, 8] (group_size 32, bits 4)");
  }
  {
    Broken b(quantized, o);
    b.edit_json("config.json", [](json& j) { j["quantization"]["model.layers.0.mlp.gate_proj"] = false; });
    EXPECT_ERROR(b.error(), "holds 'model.layers.0.mlp.gate_proj.scales', but");
    EXPECT_ERROR(b.error(), "says quantization['model.layers.0.mlp.gate_proj'] = false (not quantized)");
  }
  {
    Broken b(quantized, o);
    b.edit_json("config.json", [](json& j) {
      j["quantization"]["model.layers.0.mlp.down_proj"] = {{"group_size", 32}, {"bits", 4}};
    });
    EXPECT_ERROR(b.error(), "has no 'model.layers.0.mlp.down_proj.scales', but");
  }
  {
    Tensors t = quantized;
    t.erase("model.layers.4.self_attn.o_proj.biases");
    Broken b(t, o);
    EXPECT_ERROR(b.error(), "quantized module 'model.layers.4.self_attn.o_proj' has scales but no "
                            "'model.layers.4.self_attn.o_proj.biases'");
  }
  {
    Tensors t = quantized;
    t.erase("model.layers.4.self_attn.o_proj.scales");
    Broken b(t, o);
    EXPECT_ERROR(b.error(), "tensor 'model.layers.4.self_attn.o_proj.weight' is uint32 (packed quantized values) but "
                            "there is no 'model.layers.4.self_attn.o_proj.scales'");
  }
}
