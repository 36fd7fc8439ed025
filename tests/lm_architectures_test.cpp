// The architectures beside Llama (Qwen 2, Qwen 3, Gemma 2, Gemma 3, Phi-3; Llama 3.1 rope and a
// Mistral window too): small random-weight models built from config.json (config_from_hf) and
// Hugging Face tensor names through the registry, whose logits must match a PyTorch reference
// written from each architecture's math (tests/reference/torch_lm.py, Debian's python3-torch;
// skipped when torch is absent) within 1e-4 relative in float32, for a full forward pass and for
// prefill then token-by-token decoding through the KV cache, batch 1 and 2. The same weights
// written as GGUF with llama.cpp's names and metadata must give the same logits. Config errors
// (unknown types, rope scalings and values Tessera does not implement) are checked without torch.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lm/generate/decode_plan.h"
#include "lm/models/hf_config.h"
#include "lm/models/registry.h"
#include "lm/models/weights.h"
#include "tessera/gguf.h"
#include "tessera/lm/model.h"
#include "tessera/tessera.h"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace tessera;
using tessera::gguf::Value;

namespace {

struct TorchLmReference {
  std::string dir, skip_reason;
  TorchLmReference() {
    char tmpl[] = "/tmp/tessera-torch-lm-XXXXXX";
    dir = mkdtemp(tmpl);
    // One Python start-up for every case: the script itself reports a missing torch (exit 77).
    std::string cmd = std::string("/usr/bin/python3 ") + TESSERA_SOURCE_DIR + "/tests/reference/torch_lm.py " + dir +
                      " 2>/dev/null";
    int status = std::system(cmd.c_str());
    if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 77) {
      skip_reason = "PyTorch (Debian's python3-torch at /usr/bin/python3) is not installed";
      return;
    }
    if (status != 0) throw std::runtime_error("tests/reference/torch_lm.py failed: " + cmd);
  }
  ~TorchLmReference() {
    if (!dir.empty()) fs::remove_all(dir);
  }
};

const TorchLmReference& ref() {
  static TorchLmReference r;
  return r;
}

#define REQUIRE_TORCH() \
  if (!ref().skip_reason.empty()) GTEST_SKIP() << ref().skip_reason

struct Case {
  std::string name;
  json config;
  std::unordered_map<std::string, array> weights;  // Hugging Face names
  array tokens = array(0);                         // int32 [B, L]
  array logits = array(0.0f);                      // float32 [B, L, vocab]
  std::unordered_map<std::string, array> extra;    // "__..." entries beyond tokens and logits
};

Case load_case(const std::string& name) {
  Case c;
  c.name = name;
  std::ifstream f(ref().dir + "/" + name + ".json");
  c.config = json::parse(f);
  for (auto& [k, v] : loadz(ref().dir + "/" + name + ".npz")) {
    if (k == "__tokens") c.tokens = v;
    else if (k == "__logits") c.logits = v;
    else if (k.rfind("__", 0) == 0) c.extra.emplace(k, v);
    else c.weights.emplace(k, v);
  }
  return c;
}

std::shared_ptr<lm::Model> build(const json& config, const std::unordered_map<std::string, array>& weights,
                                 const std::string& file) {
  lm::ModelConfig cfg = lm::config_from_hf(config, file);
  lm::WeightStore store(file);
  for (auto& [name, a] : weights) store.add(name, lm::Weight{a, std::nullopt, a.shape(), name});
  auto model = lm::find_architecture(cfg.architecture, file)(cfg, store);
  EXPECT_TRUE(store.unused().empty()) << file << ": " << store.unused().size() << " weights unused, first "
                                      << store.unused().front();
  return model;
}

// |got - want| <= 1e-4 |want| + 1e-5 max|want| elementwise.
void expect_close(const array& got, const array& want, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  array g = astype(got, float32), w = astype(want, float32);
  const float scale = std::max(1.0f, max(abs(w)).item<float>());
  array bound = add(multiply(abs(w), array(1e-4f)), array(1e-5f * scale));
  array err = abs(subtract(g, w));
  EXPECT_TRUE(all(less_equal(err, bound)).item<bool>())
      << what << ": max abs error " << max(err).item<float>() << " (max |ref| " << scale << ")";
}

// Rows [b0, b1) x positions [p0, p1) of [B, L, V] logits.
array rows(const array& a, int b0, int b1, int p0, int p1) {
  return slice(a, Shape{b0, p0, 0}, Shape{b1, p1, a.shape(2)});
}

// The forward pass all at once, and through the cache: a prefill of `prefill` tokens then one
// token at a time, and in chunks of `chunk` (a query block starting past position 0); batch 2
// and each sequence alone.
void check_model(const lm::Model& model, const Case& c, int prefill = 4, int chunk = 3) {
  const int B = c.tokens.shape(0), L = c.tokens.shape(1);
  for (int b0 : {-1, 0, 1}) {
    // b0 = -1: the whole batch; else sequence b0 alone.
    const int lo = b0 < 0 ? 0 : b0, hi = b0 < 0 ? B : b0 + 1;
    const std::string tag = c.name + (b0 < 0 ? " batch 2" : " batch 1 (sequence " + std::to_string(b0) + ")");
    array tokens = slice(c.tokens, Shape{lo, 0}, Shape{hi, L});
    array want = rows(c.logits, lo, hi, 0, L);
    {
      lm::KVCache cache = model.make_cache();
      expect_close(model.forward(tokens, cache, false), want, tag + ", full forward");
      EXPECT_EQ(cache.offset(), L);
      lm::KVCache again = model.make_cache();
      expect_close(model.forward(tokens, again, true), rows(want, 0, hi - lo, L - 1, L), tag + ", last position");
    }
    {
      lm::KVCache cache = model.make_cache();
      expect_close(model.forward(slice(tokens, Shape{0, 0}, Shape{hi - lo, prefill}), cache, false),
                   rows(want, 0, hi - lo, 0, prefill), tag + ", prefill");
      for (int t = prefill; t < L; ++t) {
        array step = model.forward(slice(tokens, Shape{0, t}, Shape{hi - lo, t + 1}), cache, true);
        expect_close(step, rows(want, 0, hi - lo, t, t + 1), tag + ", decode step at position " + std::to_string(t));
      }
    }
    {
      lm::KVCache cache = model.make_cache();
      for (int t = 0; t < L;) {
        const int end = std::min(L, t + (t == 0 ? std::max(chunk, prefill) : chunk));
        array out = model.forward(slice(tokens, Shape{0, t}, Shape{hi - lo, end}), cache, false);
        expect_close(out, rows(want, 0, hi - lo, t, end),
                     tag + ", chunk [" + std::to_string(t) + ", " + std::to_string(end) + ")");
        t = end;
      }
      EXPECT_EQ(cache.offset(), L);
    }
    {
      // Decode steps replayed from a recorded static step (DecodePlan), the cache growing every
      // 3 positions so the step is recorded again several times: the forward pass's logits bit
      // for bit, hence the reference's. Models with sliding windows decode through forward().
      lm::KVCacheOptions o;
      o.step = 3;
      lm::KVCache planned = model.make_cache(o), plain = model.make_cache(o);
      const array head = slice(tokens, Shape{0, 0}, Shape{hi - lo, prefill});
      model.forward(head, planned, false);
      model.forward(head, plain, false);
      lm::DecodePlan plan(model);
      for (int t = prefill; t < L; ++t) {
        const array token = slice(tokens, Shape{0, t}, Shape{hi - lo, t + 1});
        if (!model.supports_static_steps()) {
          EXPECT_FALSE(plan.supports(token, planned)) << tag;
          break;
        }
        ASSERT_TRUE(plan.supports(token, planned)) << tag;
        array got = plan.step(token, planned);
        array want_step = model.forward(token, plain, true);
        EXPECT_TRUE(array_equal(got, want_step).item<bool>()) << tag << ", replayed step at position " << t;
        expect_close(got, rows(want, 0, hi - lo, t, t + 1), tag + ", replayed step at position " + std::to_string(t));
        EXPECT_EQ(planned.offset(), t + 1);
      }
      if (model.supports_static_steps()) {
        EXPECT_GE(plan.recordings(), (L - prefill) / 3) << tag;
        EXPECT_LT(plan.recordings(), L - prefill) << tag << ": a step per capacity, not per token";
      }
    }
  }
}

class Architectures : public ::testing::TestWithParam<std::string> {};

TEST_P(Architectures, LogitsMatchPyTorchWithAndWithoutCache) {
  REQUIRE_TORCH();
  Case c = load_case(GetParam());
  auto model = build(c.config, c.weights, c.name + "/config.json");
  check_model(*model, c, c.name == "phi3_longrope" ? 5 : 4);
}

INSTANTIATE_TEST_SUITE_P(Lm, Architectures,
                         ::testing::Values("llama", "mistral", "qwen2", "qwen3", "gemma2", "gemma3_text", "phi3",
                                           "phi3_longrope"));

TEST(LmArchitectures, LongRopeUsesShortFactorsWithinThePretrainingLength) {
  REQUIRE_TORCH();
  Case c = load_case("phi3_longrope");
  auto model = build(c.config, c.weights, "phi3_longrope/config.json");
  const array& want = c.extra.at("__logits_short");
  const int n = want.shape(1);
  lm::KVCache cache = model->make_cache();
  expect_close(model->forward(slice(c.tokens, Shape{0, 0}, Shape{2, n}), cache, false), want, "phi3 short factors");
}

TEST(LmArchitectures, Gemma3MultimodalCheckpointRunsItsLanguageModel) {
  REQUIRE_TORCH();
  Case c = load_case("gemma3_text");
  json config = {{"model_type", "gemma3"}, {"text_config", c.config}, {"vision_config", json::object()}};
  for (const char* prefix : {"language_model.model.", "model.language_model."}) {
    std::unordered_map<std::string, array> weights;
    for (auto& [k, v] : c.weights) weights.emplace(prefix + k.substr(6), v);
    weights.emplace("vision_tower.unused.weight", zeros({2}));
    lm::ModelConfig cfg = lm::config_from_hf(config, "gemma3/config.json");
    EXPECT_EQ(cfg.architecture, "gemma3");
    lm::WeightStore store("gemma3");
    for (auto& [name, a] : weights) store.add(name, lm::Weight{a, std::nullopt, a.shape(), name});
    auto model = lm::find_architecture("gemma3", "gemma3")(cfg, store);
    lm::KVCache cache = model->make_cache();
    expect_close(model->forward(c.tokens, cache, false), c.logits, std::string("gemma3 under ") + prefix);
  }
}

// ------------------------------------------------------------------ the same weights as GGUF

// Hugging Face -> llama.cpp block tensor names, per architecture (llama.cpp's llama-arch.cpp).
std::string gguf_block_name(const std::string& arch, const std::string& part) {
  const bool gemma = arch == "gemma2" || arch == "gemma3";
  static const std::vector<std::pair<std::string, std::string>> common = {
      {"input_layernorm", "attn_norm"},    {"self_attn.q_proj", "attn_q"},   {"self_attn.k_proj", "attn_k"},
      {"self_attn.v_proj", "attn_v"},      {"self_attn.o_proj", "attn_output"}, {"self_attn.q_norm", "attn_q_norm"},
      {"self_attn.k_norm", "attn_k_norm"}, {"mlp.gate_proj", "ffn_gate"},     {"mlp.up_proj", "ffn_up"},
      {"mlp.down_proj", "ffn_down"},       {"self_attn.qkv_proj", "attn_qkv"}, {"mlp.gate_up_proj", "ffn_up"},
  };
  if (part == "post_attention_layernorm") return gemma ? "post_attention_norm" : "ffn_norm";
  if (part == "pre_feedforward_layernorm") return "ffn_norm";
  if (part == "post_feedforward_layernorm") return "post_ffw_norm";
  for (auto& [h, g] : common) {
    if (part == h) return g;
  }
  throw std::runtime_error("no GGUF name for " + part);
}

// Writes `c`'s weights and config as llama.cpp's converter would (Q/K rows permuted for Llama's
// interleaved rope, Gemma norms holding 1 + w, Llama 3.1 rope factors and LongRoPE factors as
// tensors) and loads the file.
lm::LoadedModel load_as_gguf(const Case& c, const json& cfg, const fs::path& path) {
  const std::string type = cfg["model_type"];
  const std::string arch = type == "gemma3_text" ? "gemma3" : type, a = arch + ".";
  const int H = cfg["hidden_size"], nh = cfg["num_attention_heads"], nkv = cfg.value("num_key_value_heads", nh);
  const int hd = cfg.contains("head_dim") ? int(cfg["head_dim"]) : H / nh;
  const int dims = int(hd * cfg.value("partial_rotary_factor", 1.0));
  std::vector<std::pair<std::string, Value>> meta = {
      {"general.architecture", Value(arch)},
      {a + "embedding_length", Value(uint32_t(H))},
      {a + "block_count", Value(uint32_t(cfg["num_hidden_layers"]))},
      {a + "attention.head_count", Value(uint32_t(nh))},
      {a + "attention.head_count_kv", Value(uint32_t(nkv))},
      {a + "attention.key_length", Value(uint32_t(hd))},
      {a + "attention.value_length", Value(uint32_t(hd))},
      {a + "feed_forward_length", Value(uint32_t(cfg["intermediate_size"]))},
      {a + "context_length", Value(uint32_t(cfg["max_position_embeddings"]))},
      {a + "attention.layer_norm_rms_epsilon", Value(float(cfg["rms_norm_eps"]))},
      {a + "rope.dimension_count", Value(uint32_t(dims))},
  };
  double theta = cfg.contains("rope_theta") ? double(cfg["rope_theta"]) : double(cfg["rope_parameters"]["rope_theta"]);
  meta.push_back({a + "rope.freq_base", Value(float(theta))});
  if (cfg.contains("sliding_window") && !cfg["sliding_window"].is_null() && type != "qwen2") {
    meta.push_back({a + "attention.sliding_window", Value(uint32_t(cfg["sliding_window"]))});
  }
  for (const char* key : {"attn_logit_softcapping", "final_logit_softcapping"}) {
    if (cfg.contains(key) && !cfg[key].is_null()) meta.push_back({a + key, Value(float(cfg[key]))});
  }
  json rs = cfg.value("rope_scaling", json());
  if (rs.is_object() && rs.value("rope_type", "") == "linear") {
    meta.push_back({a + "rope.scaling.type", Value("linear")});
    meta.push_back({a + "rope.scaling.factor", Value(float(rs["factor"]))});
  }
  std::vector<gguf::WriteTensor> tensors;
  if (rs.is_object() && rs.value("type", "") == "longrope") {
    const double orig = cfg["original_max_position_embeddings"], factor = double(cfg["max_position_embeddings"]) / orig;
    meta.push_back({a + "rope.scaling.attn_factor", Value(float(std::sqrt(1 + std::log(factor) / std::log(orig))))});
    meta.push_back({a + "rope.scaling.original_context_length", Value(uint32_t(orig))});
    for (const char* kind : {"short", "long"}) {
      std::vector<float> f = rs[std::string(kind) + "_factor"];
      tensors.push_back(
          {std::string("rope_factors_") + kind + ".weight", array(f.begin(), Shape{int(f.size())}, float32)});
    }
  }
  if (auto it = c.extra.find("__gguf_rope_freqs"); it != c.extra.end()) {
    tensors.push_back({"rope_freqs.weight", it->second});
  }

  for (auto& [name, w] : c.weights) {
    array t = w;
    std::string out;
    if (name == "model.embed_tokens.weight") out = "token_embd.weight";
    else if (name == "model.norm.weight") out = "output_norm.weight";
    else if (name == "lm_head.weight") out = "output.weight";
    else {
      // model.layers.<i>.<part>.<weight|bias>
      size_t dot = name.find('.', 13), last = name.rfind('.');
      std::string layer = name.substr(13, dot - 13), part = name.substr(dot + 1, last - dot - 1);
      out = "blk." + layer + "." + gguf_block_name(arch, part) + name.substr(last);
      if (arch == "llama" && (part == "self_attn.q_proj" || part == "self_attn.k_proj")) {
        const int n = part == "self_attn.q_proj" ? nh : nkv;
        t = reshape(swapaxes(reshape(t, {n, 2, hd / 2, t.shape(1)}), 1, 2), t.shape());
      }
    }
    if ((arch == "gemma2" || arch == "gemma3") && name.size() > 11 && name.substr(name.size() - 11) == "norm.weight") {
      t = add(t, array(1.0f));
    }
    t = contiguous(t);
    t.eval();
    tensors.push_back({out, t});
  }
  gguf::save(path.string(), meta, tensors);
  gguf::set_log_handler([](const std::string&) {});
  auto loaded = lm::load_model(path.string());
  gguf::set_log_handler(nullptr);
  return loaded;
}

class ArchitecturesGguf : public ::testing::TestWithParam<std::string> {};

// A GGUF file cannot say everything a config.json can (Qwen 2's windows, Gemma 2's
// query_pre_attn_scalar apart from the head size): those cases compare with the model built from
// the config.json the GGUF file does describe.
TEST_P(ArchitecturesGguf, SameWeightsAsGgufGiveTheSameLogits) {
  REQUIRE_TORCH();
  Case c = load_case(GetParam());
  json cfg = c.config;
  bool adjusted = false;
  if (c.name == "qwen2") {
    cfg["use_sliding_window"] = false;
    adjusted = true;
  }
  if (c.name == "gemma2") {
    cfg["query_pre_attn_scalar"] = cfg["head_dim"];
    adjusted = true;
  }
  array want = c.logits;
  if (adjusted) {
    auto model = build(cfg, c.weights, c.name + " (as GGUF describes it)");
    lm::KVCache cache = model->make_cache();
    want = model->forward(c.tokens, cache, false);
  }
  fs::path path = fs::temp_directory_path() / ("tessera-arch-" + std::to_string(getpid()) + "-" + c.name + ".gguf");
  lm::LoadedModel loaded = load_as_gguf(c, cfg, path);
  fs::remove(path);
  lm::KVCache cache = loaded.model->make_cache();
  expect_close(loaded.model->forward(c.tokens, cache, false), want, c.name + " from GGUF");
  // And through the cache, one token at a time after a prefill.
  lm::KVCache steps = loaded.model->make_cache();
  const int L = c.tokens.shape(1), P = c.name == "phi3_longrope" ? 5 : 4;
  loaded.model->forward(slice(c.tokens, Shape{0, 0}, Shape{2, P}), steps, false);
  for (int t = P; t < L; ++t) {
    expect_close(loaded.model->forward(slice(c.tokens, Shape{0, t}, Shape{2, t + 1}), steps, true),
                 rows(want, 0, 2, t, t + 1), c.name + " from GGUF, decode step " + std::to_string(t));
  }
}

INSTANTIATE_TEST_SUITE_P(Lm, ArchitecturesGguf,
                         ::testing::Values("llama", "qwen2", "qwen3", "gemma2", "gemma3_text", "phi3",
                                           "phi3_longrope"));

// ------------------------------------------------------------------ config.json

std::string error_of(const json& config) {
  try {
    lm::config_from_hf(config, "m/config.json");
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

json small(const std::string& type) {
  return {{"model_type", type},         {"vocab_size", 100},        {"hidden_size", 64},
          {"num_hidden_layers", 2},     {"num_attention_heads", 4}, {"num_key_value_heads", 2},
          {"intermediate_size", 96},    {"max_position_embeddings", 128}};
}

#define EXPECT_HAS(text, part) EXPECT_NE((text).find(part), std::string::npos) << (text)

TEST(LmConfig, UnknownModelTypeListsTheSupportedOnes) {
  std::string e = error_of(small("gpt_neox"));
  EXPECT_HAS(e, "m/config.json: unsupported architecture 'gpt_neox'");
  for (const char* name : {"llama", "mistral", "qwen2", "qwen3", "gemma2", "gemma3", "gemma3_text", "phi3"}) {
    EXPECT_HAS(e, name);
  }
  auto names = lm::supported_architectures();
  EXPECT_NE(std::find(names.begin(), names.end(), "phi3"), names.end());
}

TEST(LmConfig, UnsupportedValuesAreNamed) {
  json c = small("llama");
  c["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  EXPECT_HAS(error_of(c), "field 'rope_scaling.rope_type' = \"yarn\" names a rope scaling Tessera does not implement "
                          "(supported: default, linear, llama3, longrope)");
  c["rope_scaling"] = {{"type", "dynamic"}, {"factor", 2.0}};
  EXPECT_HAS(error_of(c), "'rope_scaling.type' = \"dynamic\"");
  c["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0}};
  EXPECT_HAS(error_of(c), "missing field 'rope_scaling.high_freq_factor'");
  c["rope_scaling"] = {{"rope_type", "linear"}, {"factor", -2.0}};
  EXPECT_HAS(error_of(c), "field 'rope_scaling.factor' = -2.0 must be > 0");
  c["rope_scaling"] = nullptr;
  c["hidden_act"] = "relu";
  EXPECT_HAS(error_of(c), "field 'hidden_act': unsupported activation 'relu' (supported: silu");
  c["hidden_act"] = "silu";
  c["mlp_bias"] = true;
  EXPECT_HAS(error_of(c), "'mlp_bias' = true is not supported");
  c.erase("mlp_bias");
  c.erase("hidden_size");
  EXPECT_HAS(error_of(c), "missing field 'hidden_size'");

  json phi = small("phi3");
  phi["rope_scaling"] = {{"type", "longrope"}, {"short_factor", {1.0, 2.0}}, {"long_factor", {1.0, 2.0}}};
  EXPECT_HAS(error_of(phi), "field 'rope_scaling.short_factor' must be an array of 8 numbers");
  phi["rope_scaling"] = nullptr;
  phi["partial_rotary_factor"] = 0.01;
  EXPECT_HAS(error_of(phi), "'partial_rotary_factor'");

  json gemma = small("gemma2");
  gemma["sliding_window"] = 4;
  gemma["layer_types"] = {"full_attention", "chunked_attention"};
  EXPECT_HAS(error_of(gemma), "field 'layer_types'[1] = \"chunked_attention\" is not supported");
  gemma["layer_types"] = {"full_attention"};
  EXPECT_HAS(error_of(gemma), "field 'layer_types' must list one type per layer (2)");

  json g3 = {{"model_type", "gemma3"}, {"text_config", {{"hidden_size", -1}}}};
  EXPECT_HAS(error_of(g3), "field 'text_config.hidden_size' = -1 must be a positive integer");
  json deep = small("llama");
  deep["num_hidden_layers"] = 1 << 30;
  EXPECT_HAS(error_of(deep), "field 'num_hidden_layers' = 1073741824 exceeds 65536 layers");
  json emb = small("gemma3_text");
  emb["use_bidirectional_attention"] = true;
  EXPECT_HAS(error_of(emb), "use_bidirectional_attention");
}

TEST(LmConfig, ArchitectureRulesAndDefaults) {
  // Gemma 3 4B's text_config gives only what differs from Gemma3TextConfig's defaults.
  json g3 = {{"model_type", "gemma3"},
             {"text_config",
              {{"hidden_size", 2560},
               {"intermediate_size", 10240},
               {"model_type", "gemma3_text"},
               {"num_hidden_layers", 34},
               {"rope_scaling", {{"factor", 8.0}, {"rope_type", "linear"}}},
               {"sliding_window", 1024}}}};
  lm::ModelConfig c = lm::config_from_hf(g3, "g3");
  EXPECT_EQ(c.architecture, "gemma3");
  EXPECT_EQ(c.vocab_size, 262208);
  EXPECT_EQ(c.num_heads, 8);
  EXPECT_EQ(c.num_kv_heads, 4);
  EXPECT_EQ(c.head_dim, 256);
  EXPECT_EQ(c.sliding_window, 1024);
  ASSERT_EQ(c.sliding_layers.size(), 34u);
  for (int i = 0; i < 34; ++i) EXPECT_EQ(c.sliding_layers[size_t(i)], (i + 1) % 6 != 0) << i;
  EXPECT_FLOAT_EQ(c.rope_theta, 1e6f);
  EXPECT_FLOAT_EQ(c.rope_local_theta, 1e4f);
  EXPECT_FLOAT_EQ(c.rope_scale, 0.125f);
  EXPECT_FLOAT_EQ(c.query_scale, 1.0f / 16);
  EXPECT_FLOAT_EQ(c.norm_offset, 1.0f);
  EXPECT_EQ(c.final_logit_softcap, 0.0f);
  EXPECT_EQ(c.hidden_act, "gelu_pytorch_tanh");
  EXPECT_TRUE(c.tie_word_embeddings);

  // Qwen 2 without use_sliding_window has no window, whatever sliding_window says.
  json q2 = small("qwen2");
  q2["sliding_window"] = 32768;
  q2["use_sliding_window"] = false;
  c = lm::config_from_hf(q2, "q2");
  EXPECT_EQ(c.sliding_window, 0);
  EXPECT_TRUE(c.sliding_layers.empty());
  EXPECT_FLOAT_EQ(c.rms_norm_eps, 1e-6f);

  // Mistral v0.3 says null; Llama has no window even when a field says so.
  json m = small("mistral");
  m["sliding_window"] = nullptr;
  EXPECT_EQ(lm::config_from_hf(m, "m").sliding_window, 0);
  json l = small("llama");
  l["sliding_window"] = 16;
  EXPECT_EQ(lm::config_from_hf(l, "l").sliding_window, 0);

  // Phi-3.5-style LongRoPE: factor from the two lengths, attention factor sqrt(1 + ln f / ln orig).
  json phi = small("phi3");
  phi["max_position_embeddings"] = 131072;
  phi["original_max_position_embeddings"] = 4096;
  phi["rope_scaling"] = {{"type", "longrope"},
                         {"short_factor", std::vector<double>(8, 1.0)},
                         {"long_factor", std::vector<double>(8, 2.0)}};
  c = lm::config_from_hf(phi, "phi");
  EXPECT_EQ(c.rope_type, "longrope");
  EXPECT_EQ(c.rope_original_context, 4096);
  EXPECT_NEAR(c.rope_attention_factor, std::sqrt(1 + std::log(32.0) / std::log(4096.0)), 1e-6);
  EXPECT_EQ(c.rope_long_factors.size(), 8u);
}

TEST(LmConfig, GgufMetadataErrorsAreNamed) {
  fs::path path = fs::temp_directory_path() / ("tessera-arch-meta-" + std::to_string(getpid()) + ".gguf");
  auto error_with = [&](const std::string& arch, std::vector<std::pair<std::string, Value>> extra) {
    const std::string a = arch + ".";
    std::vector<std::pair<std::string, Value>> meta = {
        {"general.architecture", Value(arch)},          {a + "embedding_length", Value(uint32_t(64))},
        {a + "block_count", Value(uint32_t(1000))},     {a + "attention.head_count", Value(uint32_t(4))},
        {a + "feed_forward_length", Value(uint32_t(96))},
    };
    for (auto& kv : extra) meta.push_back(kv);
    gguf::save(path.string(), meta, {{"token_embd.weight", zeros({100, 64})}});
    std::string e;
    try {
      lm::load_model(path.string());
    } catch (const std::exception& ex) {
      e = ex.what();
    }
    fs::remove(path);
    return e;
  };
  EXPECT_HAS(error_with("gemma2", {{"gemma2.rope.scaling.type", Value("yarn")}}),
             "metadata 'gemma2.rope.scaling.type' = 'yarn' names a rope scaling Tessera does not implement");
  EXPECT_HAS(error_with("gemma2", {{"gemma2.attention.sliding_window", Value(uint32_t(4))}}),
             "metadata 'gemma2.block_count' = 1000 but the file holds only 1 tensors");
  EXPECT_HAS(error_with("phi3", {{"phi3.attention.sliding_window", Value(int32_t(-3))}}),
             "metadata 'phi3.attention.sliding_window' = -3 is out of range");
  EXPECT_HAS(error_with("falcon", {}), "unsupported architecture 'falcon'");
}

}  // namespace
