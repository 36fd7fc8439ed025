// tessera convert (tessera/lm/convert.h): small random-weight Llama / Mistral / Qwen 2 / Qwen 3
// directories written here are converted to MLX-quantized directories, to GGUF in every output
// type and back, and each result is loaded by load_model and compared with the original's logits:
// float32 GGUF within 1e-5, quantized outputs within their format's error, and GGUF -> HF giving
// back the exact float32 tensors. stories260K goes GGUF -> HF -> GGUF and still produces its
// golden ids through each file's own tokenizer. Every refused conversion names the problem.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "lm/convert/gguf_arch.h"
#include "testing/byte_tokenizer.h"
#include "tessera/gguf.h"
#include "tessera/io.h"
#include "tessera/lm/convert.h"
#include "tessera/lm/generate.h"
#include "tessera/lm/model.h"
#include "tessera/random.h"
#include "tessera/tessera.h"
#include "testing/errors.h"

namespace fs = std::filesystem;
using namespace tessera;
using json = nlohmann::json;
using Tensors = std::map<std::string, array>;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    static int counter = 0;
    path = fs::temp_directory_path() /
           ("tessera-convert-test-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path operator/(const std::string& name) const { return path / name; }
};

struct QuietLog {
  QuietLog() { gguf::set_log_handler([](const std::string&) {}); }
  ~QuietLog() { gguf::set_log_handler(nullptr); }
};

using tessera::testing::error_of;

std::vector<float> to_floats(array a) {
  a = contiguous(astype(a, float32));
  a.eval();
  return std::vector<float>(a.data<float>(), a.data<float>() + a.size());
}

// max |a - b| / max |b|.
double relative_max_error(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double diff = 0, scale = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    diff = std::max(diff, double(std::fabs(a[i] - b[i])));
    scale = std::max(scale, double(std::fabs(b[i])));
  }
  return diff / scale;
}

constexpr int kVocab = 257;  // the byte tokenizer's 256 bytes and <|endoftext|>

// A small model of `type` (llama, mistral, qwen2, qwen3): hidden 64, 2 layers, 4 heads of 16
// (Qwen 3: heads of 32, apart from hidden / heads), 2 KV heads, FFN 128.
json tiny_config(const std::string& type) {
  json c = {{"architectures", {"LlamaForCausalLM"}},
            {"model_type", type},
            {"vocab_size", kVocab},
            {"hidden_size", 64},
            {"intermediate_size", 128},
            {"num_hidden_layers", 2},
            {"num_attention_heads", 4},
            {"num_key_value_heads", 2},
            {"head_dim", type == "qwen3" ? 32 : 16},
            {"hidden_act", "silu"},
            {"max_position_embeddings", 256},
            {"rms_norm_eps", 1e-5},
            {"rope_theta", 10000.0},
            {"tie_word_embeddings", false},
            {"torch_dtype", "float32"},
            {"eos_token_id", 256}};
  if (type == "qwen2" || type == "qwen3") c["use_sliding_window"] = false;
  if (type == "mistral") c["sliding_window"] = 4096;
  return c;
}

// Weights of the config's shapes: matrices normal(0, 0.15), norms 1 + normal(0, 0.1), biases
// where the architecture has them.
Tensors random_tensors(const json& c, uint64_t seed) {
  const std::string type = c["model_type"];
  const int H = c["hidden_size"], F = c["intermediate_size"], L = c["num_hidden_layers"];
  const int D = c["head_dim"], Q = int(c["num_attention_heads"]) * D, K = int(c["num_key_value_heads"]) * D;
  Tensors t;
  uint64_t n = seed * 1000;
  auto normal = [&](Shape s, float scale, float shift = 0) {
    array a = add(random::normal(s, float32, 0.0f, scale, random::key(n++)), array(shift));
    a.eval();
    return a;
  };
  t.emplace("model.embed_tokens.weight", normal({kVocab, H}, 0.5f));
  for (int i = 0; i < L; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    t.emplace(p + "input_layernorm.weight", normal({H}, 0.1f, 1.0f));
    t.emplace(p + "post_attention_layernorm.weight", normal({H}, 0.1f, 1.0f));
    t.emplace(p + "self_attn.q_proj.weight", normal({Q, H}, 0.15f));
    t.emplace(p + "self_attn.k_proj.weight", normal({K, H}, 0.15f));
    t.emplace(p + "self_attn.v_proj.weight", normal({K, H}, 0.15f));
    t.emplace(p + "self_attn.o_proj.weight", normal({H, Q}, 0.15f));
    if (type == "qwen2") {
      t.emplace(p + "self_attn.q_proj.bias", normal({Q}, 0.2f));
      t.emplace(p + "self_attn.k_proj.bias", normal({K}, 0.2f));
      t.emplace(p + "self_attn.v_proj.bias", normal({K}, 0.2f));
    }
    if (type == "qwen3") {
      t.emplace(p + "self_attn.q_norm.weight", normal({D}, 0.1f, 1.0f));
      t.emplace(p + "self_attn.k_norm.weight", normal({D}, 0.1f, 1.0f));
    }
    t.emplace(p + "mlp.gate_proj.weight", normal({F, H}, 0.15f));
    t.emplace(p + "mlp.up_proj.weight", normal({F, H}, 0.15f));
    t.emplace(p + "mlp.down_proj.weight", normal({H, F}, 0.15f));
  }
  t.emplace("model.norm.weight", normal({H}, 0.1f, 1.0f));
  t.emplace("lm_head.weight", normal({kVocab, H}, 0.15f));
  return t;
}

void write_hf_dir(const fs::path& dir, const json& config, const Tensors& t) {
  tessera::testing::write_byte_tokenizer(dir);
  std::ofstream(dir / "config.json") << config.dump(2);
  std::ofstream(dir / "generation_config.json") << R"({"eos_token_id": 256})";
  save_safetensors((dir / "model.safetensors").string(), {t.begin(), t.end()}, {{"format", "pt"}});
}

// A directory of `type` under `dir`/name, with its tensors.
struct Source {
  fs::path dir;
  json config;
  Tensors tensors;
};
Source make_source(const TempDir& tmp, const std::string& type, uint64_t seed = 1, json extra = json::object()) {
  Source s{tmp / ("hf-" + type), tiny_config(type), {}};
  for (auto& [k, v] : extra.items()) s.config[k] = v;
  s.tensors = random_tensors(s.config, seed);
  write_hf_dir(s.dir, s.config, s.tensors);
  return s;
}

const std::vector<int> kIds = {72, 101, 108, 108, 111, 32, 119, 111, 114, 108, 100, 33, 10, 84, 104, 101};

std::vector<float> logits(const lm::Model& m) {
  auto cache = m.make_cache();
  return to_floats(m.forward(array(kIds.data(), Shape{1, int(kIds.size())}, int32), cache, false));
}
std::vector<float> logits(const fs::path& model) { return logits(*lm::load_model(model.string()).model); }

lm::MlxConvertOptions mlx_options(int bits, int group) {
  lm::MlxConvertOptions o;
  o.quantize = true;
  o.bits = bits;
  o.group_size = group;
  return o;
}
lm::GgufConvertOptions gguf_options(gguf::TensorType t) {
  lm::GgufConvertOptions o;
  o.outtype = t;
  return o;
}

json read_json(const fs::path& p) {
  std::ifstream f(p);
  return json::parse(f);
}

fs::path stories_dir() { return fs::path(TESSERA_SOURCE_DIR) / ".." / "shared" / "data" / "models" / "stories260K"; }

}  // namespace

// ------------------------------------------------------------------ HF -> MLX

TEST(ConvertMlx, QuantizedDirectoriesLoadWithinTheirError) {
  QuietLog quiet;
  TempDir tmp;
  Source src = make_source(tmp, "llama");
  const std::vector<float> reference = logits(src.dir);
  struct Case {
    int bits, group;
    double bound;
  };
  for (Case k : {Case{4, 64, 0.6}, Case{8, 32, 0.04}}) {
    SCOPED_TRACE(std::to_string(k.bits) + "-bit group " + std::to_string(k.group));
    const fs::path out = tmp / ("mlx-" + std::to_string(k.bits));
    lm::ConvertSummary s = lm::convert_hf_to_mlx(src.dir.string(), out.string(), mlx_options(k.bits, k.group));
    EXPECT_EQ(s.format, "mlx");
    EXPECT_EQ(s.tensors_quantized, 2 + 2 * 7);  // embedding, head, 7 linears per layer

    // config.json: mlx-lm's entry under both keys, nothing else changed.
    json c = read_json(out / "config.json");
    const json want = {{"group_size", k.group}, {"bits", k.bits}, {"mode", "affine"}};
    EXPECT_EQ(c["quantization"], want);
    EXPECT_EQ(c["quantization_config"], want);
    EXPECT_EQ(c["hidden_size"], 64);
    for (const char* f : {"tokenizer.json", "tokenizer_config.json", "generation_config.json", "model.safetensors"}) {
      EXPECT_TRUE(fs::exists(out / f)) << f;
    }

    // The packed tensors are tessera::quantize's (MLX's) layout of the original weights.
    SafetensorsLoad files = load_safetensors((out / "model.safetensors").string());
    const auto& w = files.first;
    const std::string q = "model.layers.1.self_attn.q_proj.";
    ASSERT_TRUE(w.count(q + "weight") && w.count(q + "scales") && w.count(q + "biases"));
    EXPECT_EQ(w.at(q + "weight").dtype(), uint32);
    EXPECT_EQ(w.at(q + "weight").shape(), (Shape{64, 64 * k.bits / 32}));
    EXPECT_EQ(w.at(q + "scales").shape(), (Shape{64, 64 / k.group}));
    std::vector<array> expect = quantize(src.tensors.at(q + "weight"), k.group, k.bits);
    EXPECT_TRUE(array_equal(w.at(q + "weight"), expect[0]).item<bool>());
    EXPECT_TRUE(array_equal(w.at(q + "scales"), expect[1]).item<bool>());
    EXPECT_EQ(w.count("model.norm.weight"), 1u);
    EXPECT_EQ(w.count("model.norm.scales"), 0u);

    // Loaded as it is: the same logits as the dequantized weights, near the original's.
    lm::LoadedModel m = lm::load_model(out.string());
    ASSERT_TRUE(m.tokenizer);
    EXPECT_EQ(m.tokenizer->eos_ids(), std::vector<int>{256});
    const std::vector<float> got = logits(*m.model);
    Tensors dequantized = src.tensors;
    for (auto& [name, a] : dequantized) {
      if (a.ndim() != 2) continue;
      std::vector<array> p = quantize(a, k.group, k.bits);
      a = dequantize(p[0], p[1], p[2], k.group, k.bits);
      a.eval();
    }
    const fs::path dq = tmp / ("dequantized-" + std::to_string(k.bits));
    write_hf_dir(dq, src.config, dequantized);
    EXPECT_LT(relative_max_error(got, logits(dq)), 1e-4);
    const double err = relative_max_error(got, reference);
    EXPECT_LT(err, k.bound);  // this model's logits move by about five times the weights' rounding error
    EXPECT_GT(err, 0.0);

    // Decoding a token at a time with int8 activations: near the exact products' logits (each
    // activation moves by at most half an int8 step of its 32-value block).
    lm::LoadOptions int8;
    int8.int8_activations = true;
    lm::LoadedModel m8 = lm::load_model(out.string(), int8);
    auto step_logits = [&](const lm::Model& model) {
      auto cache = model.make_cache();
      std::vector<float> all;
      for (int id : kIds) {
        std::vector<float> l = to_floats(model.forward(array(&id, Shape{1, 1}, int32), cache, true));
        all.insert(all.end(), l.begin(), l.end());
      }
      return all;
    };
    const std::vector<float> exact_steps = step_logits(*m.model);
    const double int8_err = relative_max_error(step_logits(*m8.model), exact_steps);
    // The same scheme as 8-bit group-32 weights, on every activation of every layer: this model
    // amplifies it as it does the weights' rounding (8-bit weights: up to 0.04).
    EXPECT_LT(int8_err, 0.15);
    EXPECT_GT(int8_err, 0.0);  // the int8 kernels ran (4 bits: the products with 128+ inputs)
  }
}

TEST(ConvertMlx, ModulesOffTheGroupSizeStayDenseAndShardsHaveAnIndex) {
  QuietLog quiet;
  TempDir tmp;
  Source src = make_source(tmp, "llama");
  const std::vector<float> reference = logits(src.dir);
  // Group 128: only down_proj (128 columns) divides; the rest stay float32 and are listed.
  lm::MlxConvertOptions o = mlx_options(8, 128);
  o.max_shard_bytes = 48 << 10;
  const fs::path out = tmp / "mlx";
  lm::ConvertSummary s = lm::convert_hf_to_mlx(src.dir.string(), out.string(), o);
  EXPECT_EQ(s.tensors_quantized, 2);
  json q = read_json(out / "config.json")["quantization"];
  EXPECT_EQ(q["model.layers.0.self_attn.q_proj"], false);
  EXPECT_EQ(q["model.embed_tokens"], false);
  EXPECT_FALSE(q.contains("model.layers.0.mlp.down_proj"));
  ASSERT_FALSE(s.notes.empty());
  EXPECT_NE(s.notes.back().find("not a multiple of the group size 128"), std::string::npos) << s.notes.back();

  EXPECT_FALSE(fs::exists(out / "model.safetensors"));
  ASSERT_TRUE(fs::exists(out / "model.safetensors.index.json"));
  json index = read_json(out / "model.safetensors.index.json");
  EXPECT_GT(index["metadata"]["total_size"].get<uint64_t>(), 0u);
  std::set<std::string> shards;
  for (auto& [name, file] : index["weight_map"].items()) shards.insert(file.get<std::string>());
  EXPECT_GT(shards.size(), 2u);
  for (auto& f : shards) EXPECT_TRUE(fs::exists(out / f)) << f;
  EXPECT_LT(relative_max_error(logits(out), reference), 0.01);

  // Unquantized with a dtype: bfloat16 tensors and torch_dtype.
  lm::MlxConvertOptions plain;
  plain.dtype = bfloat16;
  lm::convert_hf_to_mlx(src.dir.string(), (tmp / "bf16").string(), plain);
  EXPECT_EQ(read_json(tmp / "bf16" / "config.json")["torch_dtype"], "bfloat16");
  EXPECT_FALSE(read_json(tmp / "bf16" / "config.json").contains("quantization"));
  EXPECT_EQ(load_safetensors((tmp / "bf16" / "model.safetensors").string()).first.at("model.norm.weight").dtype(), bfloat16);
  EXPECT_LT(relative_max_error(logits(tmp / "bf16"), reference), 0.02);
}

// ------------------------------------------------------------------ HF <-> GGUF

TEST(ConvertGguf, Float32FileMatchesTheDirectoryAndComesBackExactly) {
  QuietLog quiet;
  TempDir tmp;
  for (const std::string type : {"llama", "mistral", "qwen2", "qwen3"}) {
    SCOPED_TRACE(type);
    Source src = make_source(tmp, type);
    const std::vector<float> reference = logits(src.dir);
    const fs::path file = tmp / (type + ".gguf");
    lm::ConvertSummary s = lm::convert_hf_to_gguf(src.dir.string(), file.string(), gguf_options(gguf::TensorType::f32));
    EXPECT_EQ(s.type, "F32");

    gguf::Reader r(file.string());
    const std::string arch = type == "mistral" ? "llama" : type;
    EXPECT_EQ(r.get_string("general.architecture"), arch);
    EXPECT_EQ(r.get_int(arch + ".block_count"), 2);
    EXPECT_EQ(r.get_int(arch + ".embedding_length"), 64);
    EXPECT_EQ(r.get_int(arch + ".feed_forward_length"), 128);
    EXPECT_EQ(r.get_int(arch + ".attention.head_count"), 4);
    EXPECT_EQ(r.get_int(arch + ".attention.head_count_kv"), 2);
    EXPECT_EQ(r.get_int(arch + ".context_length"), 256);
    EXPECT_EQ(r.get_int(arch + ".rope.dimension_count"), type == "qwen3" ? 32 : 16);
    EXPECT_FLOAT_EQ(float(r.get_float(arch + ".attention.layer_norm_rms_epsilon")), 1e-5f);
    EXPECT_EQ(r.get_string("tokenizer.ggml.model"), "gpt2");
    EXPECT_EQ(r.get_string("tokenizer.ggml.pre"), "gpt-2");
    EXPECT_EQ(r.at("tokenizer.ggml.tokens").size(), uint64_t(kVocab));
    EXPECT_EQ(r.get_int("tokenizer.ggml.eos_token_id"), 256);
    EXPECT_EQ(r.at("tokenizer.ggml.token_type").ints()[256], 3);  // control
    EXPECT_TRUE(r.find_tensor("blk.1.ffn_down.weight"));
    EXPECT_EQ(r.tensor("blk.0.attn_norm.weight").type, gguf::TensorType::f32);
    if (type == "mistral") {
      ASSERT_FALSE(s.notes.empty());
      EXPECT_NE(s.notes[0].find("sliding window"), std::string::npos);
    }

    // llama.cpp's layout: Llama-family Q rows interleaved, the others as they were.
    array q_hf = src.tensors.at("model.layers.0.self_attn.q_proj.weight");
    array q_gguf = r.load("blk.0.attn_q.weight");
    const bool interleaved = type == "llama" || type == "mistral";
    EXPECT_EQ(array_equal(q_gguf, interleaved ? lm::convert::rope_rows_to_interleaved(q_hf, 4) : q_hf).item<bool>(), true);

    EXPECT_LT(relative_max_error(logits(file), reference), 1e-5);

    // And back: the same tensors bit for bit, the same config.
    const fs::path back = tmp / (type + "-back");
    lm::convert_gguf_to_hf(file.string(), back.string(), {});
    SafetensorsLoad got = load_safetensors((back / "model.safetensors").string());
    EXPECT_EQ(got.first.size(), src.tensors.size());
    for (auto& [name, a] : src.tensors) {
      ASSERT_TRUE(got.first.count(name)) << name;
      EXPECT_EQ(got.first.at(name).dtype(), float32) << name;
      EXPECT_TRUE(array_equal(got.first.at(name), a).item<bool>()) << name;
    }
    json c = read_json(back / "config.json");
    EXPECT_EQ(c["model_type"], type == "mistral" ? "llama" : type);
    for (const char* k : {"hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                          "num_key_value_heads", "head_dim", "vocab_size", "max_position_embeddings",
                          "tie_word_embeddings", "rms_norm_eps", "rope_theta"}) {
      EXPECT_EQ(c[k], src.config[k]) << k;
    }
    EXPECT_LT(relative_max_error(logits(back), reference), 1e-6);

    // The rebuilt tokenizer encodes as the original.
    lm::LoadedModel orig = lm::load_model(src.dir.string()), again = lm::load_model(back.string());
    ASSERT_TRUE(again.tokenizer);
    const std::string text = "Grüße, world!\n<|endoftext|>";
    EXPECT_EQ(again.tokenizer->encode(text), orig.tokenizer->encode(text));
    EXPECT_EQ(again.tokenizer->eos_ids(), std::vector<int>{256});
    // The GGUF itself runs its byte-level ("gpt2") vocabulary: same ids, same text, same EOS.
    lm::LoadedModel direct = lm::load_model(file.string());
    ASSERT_TRUE(direct.tokenizer);
    const std::vector<int> ids = orig.tokenizer->encode(text);
    EXPECT_EQ(direct.tokenizer->encode(text), ids);
    EXPECT_EQ(direct.tokenizer->decode(ids), orig.tokenizer->decode(ids));
    EXPECT_EQ(direct.tokenizer->eos_ids(), std::vector<int>{256});
  }
}

TEST(ConvertGguf, QuantizedOutputTypesStayWithinTheirError) {
  QuietLog quiet;
  TempDir tmp;
  Source src = make_source(tmp, "llama");
  const std::vector<float> reference = logits(src.dir);
  struct Case {
    gguf::TensorType type;
    double lo, hi;
  };
  // Bounds: this model's logits move by about five times the weights' relative rounding error.
  for (Case k : {Case{gguf::TensorType::f16, 0, 2e-3}, Case{gguf::TensorType::bf16, 0, 2e-2},
                 Case{gguf::TensorType::q8_0, 1e-3, 0.05}, Case{gguf::TensorType::q4_0, 0.05, 0.5}}) {
    SCOPED_TRACE(gguf::tensor_type_name(k.type));
    const fs::path file = tmp / (gguf::tensor_type_name(k.type) + ".gguf");
    lm::convert_hf_to_gguf(src.dir.string(), file.string(), gguf_options(k.type));
    gguf::Reader r(file.string());
    EXPECT_EQ(r.tensor("blk.0.ffn_up.weight").type, k.type);
    EXPECT_EQ(r.tensor("token_embd.weight").type, k.type);
    EXPECT_EQ(r.tensor("output_norm.weight").type, gguf::TensorType::f32);
    const std::vector<float> got = logits(file);
    const double err = relative_max_error(got, reference);
    EXPECT_GE(err, k.lo);
    EXPECT_LT(err, k.hi);
    // Exactly the file's weights: the same as its Hugging Face form in float32 (the GGUF loader
    // computes in float32 too).
    const fs::path dq = tmp / (gguf::tensor_type_name(k.type) + "-hf");
    lm::HfConvertOptions f32;
    f32.dtype = float32;
    lm::convert_gguf_to_hf(file.string(), dq.string(), f32);
    EXPECT_LT(relative_max_error(got, logits(dq)), 1e-5);
    // Without a dtype the directory keeps the file's matrix type (float32 for dequantized types).
    const fs::path kept = tmp / (gguf::tensor_type_name(k.type) + "-kept");
    lm::convert_gguf_to_hf(file.string(), kept.string(), {});
    EXPECT_EQ(read_json(kept / "config.json")["torch_dtype"],
              k.type == gguf::TensorType::f16 ? "float16" : k.type == gguf::TensorType::bf16 ? "bfloat16" : "float32");
  }
}

TEST(ConvertGguf, Llama31RopeScalingTravelsAsRopeFreqs) {
  QuietLog quiet;
  TempDir tmp;
  // Meta's parameters come back as they were; others as equivalent ones (only the band edges
  // original / low and original / high matter), checked through the logits. Heads of 32 give
  // frequencies between the edges.
  const json meta_rope = {{"rope_type", "llama3"},
                          {"factor", 8.0},
                          {"low_freq_factor", 1.0},
                          {"high_freq_factor", 4.0},
                          {"original_max_position_embeddings", 8192}};
  const json other_rope = {{"rope_type", "llama3"},
                           {"factor", 16.0},
                           {"low_freq_factor", 2.0},
                           {"high_freq_factor", 8.0},
                           {"original_max_position_embeddings", 1024}};
  int n = 0;
  for (const json& rope : {meta_rope, other_rope}) {
    SCOPED_TRACE(rope.dump());
    TempDir sub;
    Source src = make_source(sub, "llama", 3, {{"rope_scaling", rope}, {"num_attention_heads", 2}, {"head_dim", 32}});
    const std::vector<float> reference = logits(src.dir);
    const fs::path file = tmp / ("rope" + std::to_string(n++) + ".gguf");
    lm::convert_hf_to_gguf(src.dir.string(), file.string(), gguf_options(gguf::TensorType::f32));
    gguf::Reader r(file.string());
    ASSERT_TRUE(r.find_tensor("rope_freqs.weight"));
    EXPECT_EQ(r.tensor("rope_freqs.weight").shape(), Shape{16});
    EXPECT_LT(relative_max_error(logits(file), reference), 1e-5);

    const fs::path back = tmp / ("rope-back" + std::to_string(n));
    lm::convert_gguf_to_hf(file.string(), back.string(), {});
    json got = read_json(back / "config.json")["rope_scaling"];
    EXPECT_EQ(got["rope_type"], "llama3");
    EXPECT_EQ(got["factor"], rope["factor"]);
    if (rope == meta_rope) {
      EXPECT_EQ(got, rope);
    }
    EXPECT_LT(relative_max_error(logits(back), reference), 1e-5);
  }
}

TEST(ConvertGguf, Stories260KThroughHuggingFaceAndBackKeepsTheGoldenIds) {
  const fs::path gguf_file = stories_dir() / "stories260K.gguf";
  if (!fs::exists(gguf_file)) GTEST_SKIP() << "stories260K is not available at " << gguf_file << " (shared/data absent)";
  QuietLog quiet;
  TempDir tmp;
  json golden;
  std::ifstream(stories_dir() / "expected_generations.json") >> golden;
  golden = golden["greedy_ids"];
  const std::vector<int> prompt = golden["prompt_ids_with_bos"].get<std::vector<int>>();
  const std::vector<int> next = golden["next_64_ids"].get<std::vector<int>>();
  lm::GenerateOptions greedy;
  greedy.max_tokens = 64;
  greedy.stop_at_eos = false;

  const fs::path hf = tmp / "stories-hf", again = tmp / "stories.gguf";
  lm::convert_gguf_to_hf(gguf_file.string(), hf.string(), {});
  json c = read_json(hf / "config.json");
  EXPECT_EQ(c["num_key_value_heads"], 4);
  EXPECT_EQ(c["bos_token_id"], 1);
  EXPECT_EQ(read_json(hf / "generation_config.json")["eos_token_id"], 2);
  EXPECT_EQ(read_json(hf / "tokenizer_config.json")["add_bos_token"], true);
  lm::convert_hf_to_gguf(hf.string(), again.string(), gguf_options(gguf::TensorType::f32));
  EXPECT_EQ(gguf::Reader(again.string()).get_string("tokenizer.ggml.model"), "llama");

  for (const fs::path& model : {hf, again}) {
    SCOPED_TRACE(model.string());
    lm::LoadedModel m = lm::load_model(model.string());
    ASSERT_TRUE(m.tokenizer);
    EXPECT_EQ(m.tokenizer->encode(golden["prompt_text"].get<std::string>()), prompt);
    lm::Generation g = lm::generate(*m.model, *m.tokenizer, "Once upon a time", greedy);
    EXPECT_EQ(g.tokens, next);
    EXPECT_EQ("Once upon a time" + g.text, golden["prompt_plus_next_64_text"].get<std::string>());
  }
  // Byte fallback and the pieces of a harder string agree with the original vocabulary.
  const std::string text = "caf\xC3\xBC caf\xC3\xA9 5\xE2\x82\xAC \xE6\x97\xA5.\nNew  line";
  auto original = lm::load_model(gguf_file.string()).tokenizer;
  EXPECT_EQ(lm::load_model(hf.string()).tokenizer->encode(text), original->encode(text));
  EXPECT_EQ(lm::load_model(again.string()).tokenizer->encode(text), original->encode(text));
}

// ------------------------------------------------------------------ random weights, errors

TEST(Convert, RandomWeightsNeedOnlyTheConfigAndRepeatWithTheSeed) {
  QuietLog quiet;
  TempDir tmp;
  fs::create_directories(tmp / "cfg");
  json c = tiny_config("qwen3");
  c["torch_dtype"] = "bfloat16";
  std::ofstream(tmp / "cfg" / "config.json") << c.dump();
  lm::GgufConvertOptions g = gguf_options(gguf::TensorType::q8_0);
  g.random_weights = true;
  g.seed = 7;
  lm::ConvertSummary s = lm::convert_hf_to_gguf((tmp / "cfg").string(), (tmp / "a.gguf").string(), g);
  EXPECT_EQ(s.tensors_written, 1 + 2 * 11 + 2);
  lm::convert_hf_to_gguf((tmp / "cfg").string(), (tmp / "b.gguf").string(), g);
  EXPECT_EQ(logits(tmp / "a.gguf"), logits(tmp / "b.gguf"));
  EXPECT_NE(s.notes.end(), std::find_if(s.notes.begin(), s.notes.end(), [](const std::string& n) {
              return n.find("no tokenizer.json") != std::string::npos;
            }));
  lm::MlxConvertOptions m = mlx_options(4, 64);
  m.random_weights = true;
  lm::convert_hf_to_mlx((tmp / "cfg").string(), (tmp / "mlx").string(), m);
  lm::LoadedModel loaded = lm::load_model((tmp / "mlx").string());
  EXPECT_EQ(loaded.model->config().head_dim, 32);
  EXPECT_EQ(load_safetensors((tmp / "mlx" / "model.safetensors").string()).first.at("model.norm.weight").dtype(), bfloat16);
}

TEST(Convert, RefusalsNameTheProblem) {
  QuietLog quiet;
  TempDir tmp;
  Source src = make_source(tmp, "llama");
  const std::string in = src.dir.string();
  auto contains = [](const std::string& msg, const std::string& part) {
    EXPECT_NE(msg.find(part), std::string::npos) << "message: " << msg << "\nexpected to contain: " << part;
  };
  contains(error_of([] { lm::parse_gguf_outtype("q5_k"); }), "'q5_k' is not a GGUF output type");
  contains(error_of([] { lm::parse_float_dtype("int8"); }), "'int8' is not a weight type");
  contains(error_of([&] { lm::convert_hf_to_mlx(in, (tmp / "x").string(), mlx_options(4, 48)); }),
           "48 is not supported (32, 64 or 128)");
  contains(error_of([&] { lm::convert_hf_to_mlx(in, (tmp / "x").string(), mlx_options(7, 64)); }),
           "7 bits is not supported");
  EXPECT_FALSE(fs::exists(tmp / "x"));
  contains(error_of([&] { lm::convert_hf_to_mlx((tmp / "missing").string(), (tmp / "x").string(), {}); }),
           "not a directory");
  fs::create_directories(tmp / "empty");
  contains(error_of([&] { lm::convert_hf_to_gguf((tmp / "empty").string(), (tmp / "x.gguf").string(), {}); }),
           "no config.json");
  contains(error_of([&] { lm::convert_gguf_to_hf((tmp / "missing.gguf").string(), (tmp / "x").string(), {}); }),
           "missing.gguf");

  // An existing output stays untouched unless overwriting is asked for.
  fs::create_directories(tmp / "taken");
  std::ofstream(tmp / "taken" / "keep.txt") << "x";
  contains(error_of([&] { lm::convert_hf_to_mlx(in, (tmp / "taken").string(), {}); }), "already exists");
  EXPECT_TRUE(fs::exists(tmp / "taken" / "keep.txt"));
  lm::MlxConvertOptions force;
  force.overwrite = true;
  lm::convert_hf_to_mlx(in, (tmp / "taken").string(), force);
  EXPECT_FALSE(fs::exists(tmp / "taken" / "keep.txt"));
  EXPECT_TRUE(fs::exists(tmp / "taken" / "config.json"));
  std::ofstream(tmp / "taken.gguf") << "x";
  contains(error_of([&] { lm::convert_hf_to_gguf(in, (tmp / "taken.gguf").string(), {}); }), "already exists");
  contains(error_of([&] { lm::convert_hf_to_mlx(in, in, force); }), "is the input");
  for (auto& e : fs::directory_iterator(tmp.path)) {
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << "left behind: " << e.path();
  }

  // Quantizing an already quantized directory; an architecture GGUF is not written for.
  lm::convert_hf_to_mlx(in, (tmp / "q4").string(), mlx_options(4, 64));
  contains(error_of([&] { lm::convert_hf_to_mlx((tmp / "q4").string(), (tmp / "q4q").string(), mlx_options(4, 64)); }),
           "already quantized");
  // ...which still converts to GGUF, dequantized.
  lm::ConvertSummary s = lm::convert_hf_to_gguf((tmp / "q4").string(), (tmp / "q4.gguf").string(), {});
  EXPECT_NE(s.notes.at(0).find("dequantized 16 MLX-quantized modules"), std::string::npos) << s.notes.at(0);
  fs::create_directories(tmp / "gemma");
  std::ofstream(tmp / "gemma" / "config.json") << tiny_config("gemma2").dump();
  save_safetensors((tmp / "gemma" / "model.safetensors").string(), {{"model.norm.weight", ones({64})}});
  contains(error_of([&] { lm::convert_hf_to_gguf((tmp / "gemma").string(), (tmp / "g.gguf").string(), {}); }),
           "model_type 'gemma2' has no GGUF conversion here (supported: llama, mistral, qwen2, qwen3)");
  lm::GgufConvertOptions rnd;
  rnd.random_weights = true;
  contains(error_of([&] { lm::convert_hf_to_gguf((tmp / "gemma").string(), (tmp / "g.gguf").string(), rnd); }),
           "random weights are drawn for llama, mistral, qwen2 and qwen3");
}
