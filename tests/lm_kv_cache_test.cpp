// The KV cache (src/lm/cache): buffers grown in steps and written in place, rotating rings for
// sliding-window layers (logits equal to the full cache's), mlx-lm's --max-kv-size rotation,
// 4/8-bit quantized keys and values within their format's error, and prompt caches saved and
// loaded as safetensors (stories260K continues from a loaded cache exactly as from the whole
// prompt; files of another model, corrupt or truncated files are named in the error). The models
// are small random-weight ones built from config.json through the registry.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lm/generate/decode_plan.h"
#include "lm/models/hf_config.h"
#include "lm/models/registry.h"
#include "lm/models/weights.h"
#include "tessera/gguf.h"
#include "tessera/lm/generate.h"
#include "tessera/lm/model.h"
#include "tessera/lm/prompt_cache.h"
#include "tessera/tessera.h"
#include "testing/lm_fixtures.h"
#include "testing/errors.h"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace tessera;

namespace {

// ------------------------------------------------------------------ random-weight models

const json kBase = {{"vocab_size", 64},         {"hidden_size", 32},         {"num_hidden_layers", 3},
                    {"num_attention_heads", 4}, {"num_key_value_heads", 2},  {"intermediate_size", 48},
                    {"rms_norm_eps", 1e-5},     {"max_position_embeddings", 256}, {"rope_theta", 10000.0}};

json with(json base, const json& extra) {
  base.update(extra);
  return base;
}

// Llama-style names (Llama, Mistral, Qwen 2/3) plus Gemma's sandwich norms and q/k norms as the
// config asks; scaled so that logits stay in a few units.
std::shared_ptr<lm::Model> random_model(const json& config, uint64_t seed = 1, float s = 0.3f) {
  const lm::ModelConfig c = lm::config_from_hf(config, "test/config.json");
  const std::string arch = c.architecture;
  const bool gemma = arch.rfind("gemma", 0) == 0;
  const bool bias = c.attention_bias || arch == "qwen2";
  const bool qk_norm = c.qk_norm || arch == "qwen3" || arch == "gemma3" || arch == "gemma3_text";
  const int H = c.hidden_size, D = c.head_dim, F = c.intermediate_size, V = c.vocab_size;
  lm::WeightStore w("test");
  uint64_t n = 0;
  auto add = [&](const std::string& name, Shape shape, float scale, float center = 0.0f) {
    array a = random::normal(shape, float32, center, scale, random::key(seed * 1000 + n++));
    a.eval();
    w.add(name, lm::Weight{a, std::nullopt, shape, name});
  };
  add("model.embed_tokens.weight", {V, H}, 1.0f);
  add("model.norm.weight", {H}, 0.1f, gemma ? 0.0f : 1.0f);
  if (!c.tie_word_embeddings) add("lm_head.weight", {V, H}, s);
  for (int i = 0; i < c.num_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    for (const char* norm : {"input_layernorm", "post_attention_layernorm"}) {
      add(p + norm + ".weight", {H}, 0.1f, gemma ? 0.0f : 1.0f);
    }
    if (gemma) {
      for (const char* norm : {"pre_feedforward_layernorm", "post_feedforward_layernorm"}) {
        add(p + norm + ".weight", {H}, 0.1f, 0.0f);
      }
    }
    add(p + "self_attn.q_proj.weight", {c.num_heads * D, H}, s);
    add(p + "self_attn.k_proj.weight", {c.num_kv_heads * D, H}, s);
    add(p + "self_attn.v_proj.weight", {c.num_kv_heads * D, H}, s);
    if (bias) {
      add(p + "self_attn.q_proj.bias", {c.num_heads * D}, s);
      add(p + "self_attn.k_proj.bias", {c.num_kv_heads * D}, s);
      add(p + "self_attn.v_proj.bias", {c.num_kv_heads * D}, s);
    }
    if (qk_norm) {
      add(p + "self_attn.q_norm.weight", {D}, 0.1f, gemma ? 0.0f : 1.0f);
      add(p + "self_attn.k_norm.weight", {D}, 0.1f, gemma ? 0.0f : 1.0f);
    }
    add(p + "self_attn.o_proj.weight", {H, c.num_heads * D}, s);
    add(p + "mlp.gate_proj.weight", {F, H}, s);
    add(p + "mlp.up_proj.weight", {F, H}, s);
    add(p + "mlp.down_proj.weight", {H, F}, s);
  }
  auto model = lm::find_architecture(c.architecture, "test")(c, w);
  EXPECT_TRUE(w.unused().empty()) << w.unused().front();
  return model;
}

// Windows of 4 over every layer (Mistral), over the later layers (Qwen 2's max_window_layers), and
// alternating with soft-capped scores (Gemma 2); Gemma 3's local layers with their own rope base.
const json kMistral = with(kBase, {{"model_type", "mistral"}, {"sliding_window", 4}, {"tie_word_embeddings", true}});
const json kQwen2 = with(kBase, {{"model_type", "qwen2"}, {"use_sliding_window", true}, {"sliding_window", 3},
                                 {"max_window_layers", 1}, {"tie_word_embeddings", true}});
const json kGemma2 = with(kBase, {{"model_type", "gemma2"}, {"head_dim", 16}, {"query_pre_attn_scalar", 24},
                                  {"sliding_window", 4}, {"attn_logit_softcapping", 2.0},
                                  {"final_logit_softcapping", 20.0}, {"hidden_activation", "gelu_pytorch_tanh"},
                                  {"tie_word_embeddings", true}});
const json kGemma3 = with(kBase, {{"model_type", "gemma3_text"}, {"num_hidden_layers", 4}, {"head_dim", 16},
                                  {"query_pre_attn_scalar", 16}, {"sliding_window", 5}, {"sliding_window_pattern", 2},
                                  {"rope_local_base_freq", 10000.0}, {"hidden_activation", "gelu_pytorch_tanh"},
                                  {"tie_word_embeddings", true}});
const json kLlama = with(kBase, {{"model_type", "llama"}, {"tie_word_embeddings", false}});
// Heads of 64 features: what the quantized cache's groups need.
const json kLlama64 = with(kBase, {{"model_type", "llama"}, {"hidden_size", 64}, {"num_attention_heads", 2},
                                   {"num_key_value_heads", 1}, {"head_dim", 64}, {"num_hidden_layers", 2}});

std::vector<int> token_ids(int n, int vocab, uint64_t seed) {
  array a = random::randint(0, vocab, {n}, int32, random::key(seed));
  a.eval();
  return std::vector<int>(a.data<int>(), a.data<int>() + n);
}

array batch_of(const std::vector<int>& ids, int B, int begin, int end) {
  std::vector<int> rows;
  for (int b = 0; b < B; ++b) {
    for (int t = begin; t < end; ++t) rows.push_back(ids[size_t((t + 7 * b) % int(ids.size()))]);
  }
  return array(rows.data(), Shape{B, end - begin}, int32);
}

// Logits of every position of `ids`: a prefill in chunks of `chunk`, then one token at a time.
// [B, n, vocab].
array run(const lm::Model& m, lm::KVCache& cache, const std::vector<int>& ids, int B, int prefill, int chunk) {
  const int n = int(ids.size());
  std::vector<array> out;
  for (int t = 0; t < n;) {
    const int end = t < prefill ? std::min(prefill, t + chunk) : t + 1;
    array l = m.forward(batch_of(ids, B, t, end), cache, false);
    l.eval();
    out.push_back(l);
    t = end;
  }
  return concatenate(out, 1);
}

float max_abs(const array& a) { return max(abs(a)).item<float>(); }
float max_diff(const array& a, const array& b) { return max(abs(subtract(a, b))).item<float>(); }

// ------------------------------------------------------------------ growth and in-place writes

TEST(LmKvCache, GrowsInStepsAndDecodesInPlace) {
  auto m = random_model(kLlama);
  lm::KVCacheOptions o;
  o.step = 8;
  lm::KVCache cache = m->make_cache(o);
  EXPECT_EQ(cache.capacity(), 0);
  std::vector<int> ids = token_ids(20, 64, 3);
  m->forward(batch_of(ids, 1, 0, 3), cache, true).eval();
  EXPECT_EQ(cache.capacity(), 8);
  // Each decode step writes one position into the buffer the step before used: same memory.
  const void* buffer = cache.state()[0].raw_data();
  for (int t = 3; t < 8; ++t) {
    m->forward(batch_of(ids, 1, t, t + 1), cache, true).eval();
    EXPECT_EQ(cache.state()[0].raw_data(), buffer) << "position " << t << " was not written in place";
  }
  m->forward(batch_of(ids, 1, 8, 9), cache, true).eval();  // past the first step: grows once
  EXPECT_EQ(cache.capacity(), 16);
  EXPECT_EQ(cache.offset(), 9);
  // Trimming gives positions back; the next tokens overwrite them.
  lm::KVCache ref = m->make_cache(o);
  array want = run(*m, ref, std::vector<int>(ids.begin(), ids.begin() + 9), 1, 9, 9);
  cache.trim(2);
  EXPECT_EQ(cache.offset(), 7);
  array again = m->forward(batch_of(ids, 1, 7, 9), cache, false);
  EXPECT_LT(max_diff(again, slice(want, Shape{0, 7, 0}, Shape{1, 9, 64})), 1e-5f);
  EXPECT_THROW(cache.trim(10), std::invalid_argument);
  // A hard limit refuses what does not fit, naming the sizes.
  lm::KVCache small = m->make_cache(4);
  try {
    m->forward(batch_of(ids, 1, 0, 5), small, true);
    ADD_FAILURE() << "no error";
  } catch (const std::length_error& e) {
    EXPECT_NE(std::string(e.what()).find("exceed the cache size of 4"), std::string::npos) << e.what();
  }
}

// Replayed decode steps (DecodePlan over KVCache static steps): the buffers are written in place,
// the logits are forward()'s bit for bit, and layouts or inputs a static step cannot take are
// refused up front (forward() then runs) or rejected without touching the cache.
TEST(LmKvCache, ReplayedStepsWriteInPlaceAndMatchForward) {
  auto m = random_model(kLlama);
  lm::KVCacheOptions o;
  o.step = 8;
  std::vector<int> ids = token_ids(30, 64, 5);
  for (int B : {1, 2}) {
    lm::KVCache planned = m->make_cache(o), plain = m->make_cache(o);
    lm::DecodePlan plan(*m);
    EXPECT_FALSE(plan.supports(batch_of(ids, B, 0, 1), planned)) << "an empty cache has no layout yet";
    m->forward(batch_of(ids, B, 0, 3), planned, true).eval();
    m->forward(batch_of(ids, B, 0, 3), plain, true).eval();
    EXPECT_FALSE(plan.supports(batch_of(ids, 3 - B, 3, 4), planned)) << "another batch size";
    EXPECT_FALSE(plan.supports(batch_of(ids, B, 3, 5), planned)) << "two tokens per sequence";
    const void* buffer = nullptr;
    for (int t = 3; t < 20; ++t) {
      array tok = batch_of(ids, B, t, t + 1);
      ASSERT_TRUE(plan.supports(tok, planned));
      array got = plan.step(tok, planned);
      array want = m->forward(tok, plain, true);
      EXPECT_TRUE(array_equal(got, want).item<bool>()) << "B=" << B << " position " << t;
      EXPECT_EQ(planned.offset(), t + 1);
      const void* now = planned.state()[0].raw_data();
      if (t % 8 != 0 && buffer) {
        EXPECT_EQ(now, buffer) << "position " << t << " was not written in place";
      }
      buffer = now;
    }
    EXPECT_EQ(planned.capacity(), 24);
    EXPECT_EQ(plan.recordings(), 3);  // capacities 8, 16, 24
    // A bad token id is the forward pass's error, and the cache is left as it was.
    std::vector<int> bad(size_t(B), 64);
    try {
      plan.step(array(bad.data(), Shape{B, 1}, int32), planned);
      ADD_FAILURE() << "no error";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("token id 64 at [0, 0] is outside the vocabulary of 64"), std::string::npos)
          << e.what();
    }
    EXPECT_EQ(planned.offset(), 20);
    array tok = batch_of(ids, B, 20, 21);
    EXPECT_TRUE(array_equal(plan.step(tok, planned), m->forward(tok, plain, true)).item<bool>());
  }
  // Layouts without static steps: rings, quantized caches, and a full cache at its limit.
  lm::KVCacheOptions ring = o;
  ring.max_size = 16;
  ring.rotate = true;
  lm::KVCacheOptions packed = o;
  packed.bits = 8;
  packed.group_size = 32;
  auto m64 = random_model(kLlama64);  // heads of 64 features, which 32-wide groups divide
  for (auto* model : {m.get(), m64.get()}) {
    lm::KVCache c = model->make_cache(model == m.get() ? ring : packed);
    model->forward(batch_of(ids, 1, 0, 3), c, true).eval();
    EXPECT_FALSE(c.supports_static_steps());
    EXPECT_FALSE(lm::DecodePlan(*model).supports(batch_of(ids, 1, 3, 4), c));
  }
  lm::KVCache bounded = m->make_cache(4);
  m->forward(batch_of(ids, 1, 0, 4), bounded, true).eval();
  EXPECT_FALSE(lm::DecodePlan(*m).supports(batch_of(ids, 1, 4, 5), bounded)) << "the cache is full";
  // set_buffers checks what it is given.
  lm::KVCache c = m->make_cache(o);
  m->forward(batch_of(ids, 1, 0, 3), c, true).eval();
  auto taken = c.take_buffers();
  EXPECT_THROW(c.set_buffers(std::vector<array>(taken.begin(), taken.end() - 1), 1), std::invalid_argument);
  taken[0] = zeros({1, 2, 2, 8}, float32);
  EXPECT_THROW(c.set_buffers(taken, 1), std::invalid_argument);
}

// generate() replays its decode steps unless told not to; either way the same tokens and
// log-probabilities come out (sampled, so every logit matters), and the switches turn it off.
TEST(LmKvCache, GenerateGivesTheSameTokensWithAndWithoutReplay) {
  auto m = random_model(kLlama);
  std::vector<int> prompt = token_ids(5, 64, 9);
  lm::GenerateOptions o;
  o.max_tokens = 40;
  o.stop_at_eos = false;
  o.logprobs = true;
  o.sampling.temperature = 0.8f;
  o.sampling.seed = 3;
  auto run = [&](bool replay) {
    o.replay_steps = replay;
    std::vector<float> lp;
    auto g = lm::generate_tokens(*m, nullptr, prompt, o, [&](const lm::TokenEvent& e) {
      if (e.id >= 0) lp.push_back(e.logprob);
      return true;
    });
    return std::make_pair(g.tokens, lp);
  };
  auto [plain_tokens, plain_lp] = run(false);
  auto [replayed_tokens, replayed_lp] = run(true);
  ASSERT_EQ(plain_tokens.size(), 40u);
  EXPECT_EQ(replayed_tokens, plain_tokens);
  EXPECT_EQ(replayed_lp, plain_lp);

  lm::KVCache cache = m->make_cache();
  m->forward(batch_of(prompt, 1, 0, 5), cache, true).eval();
  EXPECT_TRUE(lm::DecodePlan(*m).supports(batch_of(prompt, 1, 0, 1), cache));
  setenv("TESSERA_DECODE_REPLAY", "0", 1);
  EXPECT_FALSE(lm::DecodePlan(*m).supports(batch_of(prompt, 1, 0, 1), cache));
  unsetenv("TESSERA_DECODE_REPLAY");
}

// ------------------------------------------------------------------ rotating caches

// The rotating cache against the full one (sliding layers then masked, not rotated): a prefill in
// chunks (one longer than the window) and a long decode, batch 1 and 2, within 1e-5.
void expect_rotating_matches_full(const json& config, const std::string& name) {
  auto m = random_model(config);
  const lm::ModelConfig& c = m->config();
  std::vector<int> ids = token_ids(40, c.vocab_size, 11);
  for (int B : {1, 2}) {
    for (int chunk : {3, 7}) {
      lm::KVCacheOptions o;
      o.step = 8;
      lm::KVCache ring = m->make_cache(o);
      lm::KVCache full(std::vector<int>(size_t(c.num_layers), 0), o);
      array a = run(*m, ring, ids, B, 13, chunk), b = run(*m, full, ids, B, 13, chunk);
      const std::string tag = name + " B=" + std::to_string(B) + " chunk " + std::to_string(chunk);
      EXPECT_LE(max_diff(a, b), 1e-5f * std::max(1.0f, max_abs(b))) << tag;
      // Sliding layers hold their window, however long the sequence.
      for (int i = 0; i < c.num_layers; ++i) {
        if (ring.layer_window(i) > 0) {
          EXPECT_EQ(ring.layer_limit(i), ring.layer_window(i)) << tag;
        }
      }
      EXPECT_LT(ring.nbytes(), full.nbytes()) << tag;
    }
  }
}

TEST(LmKvCache, RotatingMatchesFullCacheMistral) { expect_rotating_matches_full(kMistral, "mistral"); }
TEST(LmKvCache, RotatingMatchesFullCacheQwen2) { expect_rotating_matches_full(kQwen2, "qwen2"); }
TEST(LmKvCache, RotatingMatchesFullCacheGemma2) { expect_rotating_matches_full(kGemma2, "gemma2"); }
TEST(LmKvCache, RotatingMatchesFullCacheGemma3) { expect_rotating_matches_full(kGemma3, "gemma3"); }

TEST(LmKvCache, MaxKvSizeRotatesFullAttentionLayers) {
  // keep = 0: a rotating max_size of 5 on a full-attention model is a window of 5, exactly.
  const int M = 5;
  json windowed = kLlama;
  windowed["model_type"] = "mistral";
  windowed["sliding_window"] = M;
  auto plain = random_model(kLlama, 4), slid = random_model(windowed, 4);
  std::vector<int> ids = token_ids(30, 64, 5);
  lm::KVCacheOptions o;
  o.max_size = M;
  o.rotate = true;
  o.keep = 0;
  lm::KVCache rotating = plain->make_cache(o);
  lm::KVCache reference(std::vector<int>(3, 0), lm::KVCacheOptions{});
  array a = run(*plain, rotating, ids, 1, 12, 4), b = run(*slid, reference, ids, 1, 12, 4);
  EXPECT_LE(max_diff(a, b), 1e-5f * std::max(1.0f, max_abs(b)));
  EXPECT_EQ(rotating.capacity(), M);

  // keep = 4 (mlx-lm's): the first 4 positions stay visible. Chunked prefill and token-by-token
  // decoding read the same positions, and up to max_size the cache is exact.
  o.keep = 4;
  o.max_size = 9;
  lm::KVCache chunked = plain->make_cache(o), stepped = plain->make_cache(o), full = plain->make_cache();
  array x = run(*plain, chunked, ids, 2, 24, 10), y = run(*plain, stepped, ids, 2, 0, 1);
  array z = run(*plain, full, ids, 2, 0, 1);
  EXPECT_LE(max_diff(x, y), 1e-5f * std::max(1.0f, max_abs(y)));
  EXPECT_LE(max_diff(slice(y, Shape{0, 0, 0}, Shape{2, 9, 64}), slice(z, Shape{0, 0, 0}, Shape{2, 9, 64})), 1e-5f);
  EXPECT_GT(max_diff(y, z), 1e-3f);  // past max_size the positions dropped matter
  EXPECT_EQ(stepped.capacity(), 9);
  // A wrapped ring gives back its last position (the window of the next query is still there),
  // not two.
  EXPECT_THROW(stepped.trim(2), std::invalid_argument);
  stepped.trim(1);
  array again = plain->forward(batch_of(ids, 2, 29, 30), stepped, true);
  EXPECT_LE(max_diff(again, slice(y, Shape{0, 29, 0}, Shape{2, 30, 64})), 1e-5f * std::max(1.0f, max_abs(y)));
  chunked.trim(1);
  EXPECT_LE(max_diff(plain->forward(batch_of(ids, 2, 29, 30), chunked, true), slice(y, Shape{0, 29, 0}, Shape{2, 30, 64})),
            1e-5f * std::max(1.0f, max_abs(y)));
  lm::KVCacheOptions bad = o;
  bad.keep = 9;
  EXPECT_THROW(plain->make_cache(bad), std::invalid_argument);
}

// ------------------------------------------------------------------ quantized caches

TEST(LmKvCache, QuantizedCacheHoldsWhatQuantizeGives) {
  // Written in pieces: dense below quantized_kv_start, converted, then grown past a step.
  lm::KVCacheOptions o;
  o.bits = 4;
  o.group_size = 32;
  o.step = 4;
  o.quantized_start = 3;
  lm::KVCache cache(std::vector<int>{0}, o);
  array k = random::normal({2, 2, 9, 64}, float32, 0.0f, 1.0f, random::key(1));
  array v = random::normal({2, 2, 9, 64}, float32, 0.0f, 1.0f, random::key(2));
  auto part = [](const array& a, int b, int e) { return slice(a, Shape{0, 0, b, 0}, Shape{2, 2, e, 64}); };
  lm::KVView view = cache.update(0, part(k, 0, 3), part(v, 0, 3));
  EXPECT_EQ(view.bits, 0);
  view = cache.update(0, part(k, 3, 4), part(v, 3, 4));
  view = cache.update(0, part(k, 4, 9), part(v, 4, 9));
  ASSERT_EQ(view.bits, 4);
  EXPECT_EQ(view.keys.shape(), (Shape{2, 2, 9, 8}));
  EXPECT_EQ(cache.capacity(), 12);
  auto round_trip = [](const array& a) {
    auto q = quantize(a, 32, 4);
    return dequantize(q[0], q[1], q[2], 32, 4);
  };
  EXPECT_EQ(max_diff(dequantize(view.keys, *view.key_scales, *view.key_biases, 32, 4), round_trip(k)), 0.0f);
  EXPECT_EQ(max_diff(dequantize(view.values, *view.value_scales, *view.value_biases, 32, 4), round_trip(v)), 0.0f);
}

TEST(LmKvCache, QuantizedCacheStaysWithinItsFormatsError) {
  auto m = random_model(kLlama64, 7, 0.1f);
  std::vector<int> ids = token_ids(24, 64, 8);
  lm::KVCache ref = m->make_cache();
  array want = run(*m, ref, ids, 2, 8, 4);
  const float scale = std::max(1.0f, max_abs(want));
  // Affine rounding moves each key and value by up to half a step, range / (2^bits - 1) / 2 in
  // its group: about 0.2% of the range at 8 bits, 3% at 4 bits; through the attention of two
  // layers the logits move by a like part of their size.
  for (auto [bits, group, bound] : {std::tuple{8, 64, 0.01f}, std::tuple{4, 32, 0.1f}, std::tuple{4, 64, 0.1f}}) {
    lm::KVCacheOptions o;
    o.bits = bits;
    o.group_size = group;
    lm::KVCache q = m->make_cache(o);
    array got = run(*m, q, ids, 2, 8, 4);
    const float err = max_diff(got, want) / scale;
    EXPECT_LE(err, bound) << bits << "-bit, group " << group;
    EXPECT_GT(err, 0.0f) << bits << "-bit, group " << group;
    std::cout << "[ kv cache ] " << bits << "-bit group " << group << ": max logit error " << err << " of max |logit|\n";
    EXPECT_TRUE(q.layer_quantized(0));
    EXPECT_LT(q.nbytes(), ref.nbytes() * (bits == 8 ? 0.32 : 0.2));
  }
  // quantized_kv_start: below it the cache is float, and exact.
  lm::KVCacheOptions late;
  late.bits = 4;
  late.quantized_start = 12;
  lm::KVCache q = m->make_cache(late);
  array got = run(*m, q, ids, 2, 8, 4);
  EXPECT_EQ(max_diff(slice(got, Shape{0, 0, 0}, Shape{2, 13, 64}), slice(want, Shape{0, 0, 0}, Shape{2, 13, 64})), 0.0f);
  EXPECT_GT(max_diff(got, want), 0.0f);
  // Heads that the group does not divide are refused with the sizes named.
  auto small = random_model(kLlama);  // head_dim 8
  lm::KVCacheOptions o;
  o.bits = 8;
  lm::KVCache bad = small->make_cache(o);
  try {
    small->forward(batch_of(ids, 1, 0, 2), bad, true);
    ADD_FAILURE() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("kv_group_size 64 does not divide the head size (keys 8"), std::string::npos)
        << e.what();
  }
  o.bits = 7;
  EXPECT_THROW(small->make_cache(o), std::invalid_argument);
}

// ------------------------------------------------------------------ prompt caches

struct TempDir {
  fs::path path;
  TempDir() {
    static int n = 0;
    path = fs::temp_directory_path() / ("tessera-kv-test-" + std::to_string(getpid()) + "-" + std::to_string(n++));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

using tessera::testing::error_of;

TEST(LmPromptCache, SavedCachesContinueExactly) {
  TempDir dir;
  std::vector<int> ids = token_ids(30, 64, 21);
  struct Layout {
    json config;
    lm::KVCacheOptions options;
    const char* name;
  };
  lm::KVCacheOptions rotating;
  rotating.max_size = 8;
  rotating.rotate = true;
  lm::KVCacheOptions packed;
  packed.bits = 8;
  for (const Layout& l : {Layout{kLlama, {}, "full"}, Layout{kGemma2, {}, "gemma2 windows"},
                          Layout{kLlama, rotating, "rotating"}, Layout{kLlama64, packed, "8-bit"}}) {
    auto m = random_model(l.config, 9);
    lm::KVCache a = m->make_cache(l.options);
    run(*m, a, std::vector<int>(ids.begin(), ids.begin() + 13), 2, 6, 3);
    const std::string f = dir.file(std::string(l.name) + ".safetensors");
    lm::save_prompt_cache(f, a, lm::prompt_cache_metadata(*m, std::vector<int>(ids.begin(), ids.begin() + 13)));
    lm::PromptCacheFile loaded = lm::load_prompt_cache(f);
    EXPECT_NO_THROW(lm::check_prompt_cache(loaded, *m)) << l.name;
    EXPECT_EQ(loaded.cache.offset(), 13) << l.name;
    EXPECT_EQ(lm::prompt_cache_tokens(loaded), std::vector<int>(ids.begin(), ids.begin() + 13)) << l.name;
    std::vector<int> rest(ids.begin() + 13, ids.end());
    for (int t = 0; t < int(rest.size()); ++t) {
      array x = m->forward(batch_of(ids, 2, 13 + t, 14 + t), a, true);
      array y = m->forward(batch_of(ids, 2, 13 + t, 14 + t), loaded.cache, true);
      ASSERT_LE(max_diff(x, y), 1e-6f * std::max(1.0f, max_abs(x))) << l.name << " step " << t;
    }
  }
  // Nothing but the file is left in the directory (the save went through a renamed temporary).
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()), 4);
}

TEST(LmPromptCache, ForeignCorruptAndTruncatedFilesAreNamed) {
  TempDir dir;
  auto m = random_model(kLlama, 9);
  std::vector<int> ids = token_ids(6, 64, 2);
  lm::KVCache cache = m->make_cache();
  m->forward(batch_of(ids, 1, 0, 6), cache, true).eval();
  const std::string f = dir.file("c.safetensors");
  lm::save_prompt_cache(f, cache, lm::prompt_cache_metadata(*m, ids));

  // Another architecture, and the same config with other weights.
  auto gemma = random_model(kGemma2, 9), twin = random_model(kLlama, 10);
  auto loaded = lm::load_prompt_cache(f);
  EXPECT_NE(error_of([&] { lm::check_prompt_cache(loaded, *gemma); }).find("saved for another model (llama)"),
            std::string::npos);
  EXPECT_NE(error_of([&] { lm::check_prompt_cache(loaded, *twin); }).find("same config but other weights"),
            std::string::npos);
  EXPECT_NE(lm::model_fingerprint(m->config()), lm::model_fingerprint(gemma->config()));

  // Truncated, corrupt, not a prompt cache, a tensor of the wrong shape, a bad layout.
  std::string bytes;
  {
    std::ifstream in(f, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto write = [&](const std::string& name, const std::string& b) {
    std::ofstream(dir.file(name), std::ios::binary) << b;
    return dir.file(name);
  };
  std::string e = error_of([&] { lm::load_prompt_cache(write("cut.safetensors", bytes.substr(0, bytes.size() - 40))); });
  EXPECT_NE(e.find("[load_prompt_cache]"), std::string::npos) << e;
  EXPECT_NE(e.find("cut.safetensors"), std::string::npos) << e;
  e = error_of([&] { lm::load_prompt_cache(write("junk.safetensors", "\x05\0\0\0\0\0\0\0{]]]]")); });
  EXPECT_NE(e.find("junk.safetensors: cannot read it as safetensors"), std::string::npos) << e;
  save_safetensors(dir.file("plain.safetensors"), {{"w", zeros({2})}});
  e = error_of([&] { lm::load_prompt_cache(dir.file("plain.safetensors")); });
  EXPECT_NE(e.find("not a prompt cache"), std::string::npos) << e;

  // Named, not structured bindings: the lambda below captures them.
  const SafetensorsLoad original = load_safetensors(f);
  const auto& tensors = original.first;
  const auto& meta = original.second;
  auto resave = [&](auto edit) {
    auto t = tensors;
    auto md = meta;
    edit(t, md);
    const std::string out = dir.file("edited.safetensors");
    save_safetensors(out, t, md);
    return error_of([&] { lm::load_prompt_cache(out); });
  };
  e = resave([](auto& t, auto&) { t.insert_or_assign("layers.1.keys", zeros({1, 2, 5, 8})); });
  EXPECT_NE(e.find("layer 1: array 0 must be [B, kv_heads, 6, _] (no empty axis) for 6 positions"), std::string::npos) << e;
  e = resave([](auto& t, auto&) { t.erase("layers.2.values"); });
  EXPECT_NE(e.find("tensor 'layers.2.values' is missing"), std::string::npos) << e;
  e = resave([](auto& t, auto&) { t.insert_or_assign("extra", zeros({1})); });
  EXPECT_NE(e.find("unexpected tensor 'extra'"), std::string::npos) << e;
  e = resave([](auto&, auto& md) {
    json l = json::parse(md["tessera.prompt_cache"]);
    l["step"] = 0;
    md["tessera.prompt_cache"] = l.dump();
  });
  EXPECT_NE(e.find("layout field 'step' = 0 is outside [1, 4096]"), std::string::npos) << e;
  e = resave([](auto&, auto& md) { md["tessera.prompt_cache"] = "[[[[[[[[[[[[1]]]]]]]]]]]]"; });
  EXPECT_NE(e.find("is not valid JSON"), std::string::npos) << e;
  e = resave([](auto&, auto& md) { md.erase("model_fingerprint"); });
  EXPECT_EQ(e, "");
  // Reserved metadata names are refused before anything is written.
  EXPECT_THROW(lm::save_prompt_cache(dir.file("r.safetensors"), cache, {{"tessera.x", "1"}}), std::invalid_argument);
  EXPECT_FALSE(fs::exists(dir.file("r.safetensors")));
}

// ------------------------------------------------------------------ stories260K

fs::path stories_path() {
  return fs::path(TESSERA_SOURCE_DIR) / ".." / "shared" / "data" / "models" / "stories260K" / "stories260K.gguf";
}

const lm::LoadedModel& stories() {
  static lm::LoadedModel m = [] {
    gguf::set_log_handler([](const std::string&) {});
    auto loaded = lm::load_model(stories_path().string());
    gguf::set_log_handler(nullptr);
    return loaded;
  }();
  return m;
}

#define REQUIRE_STORIES()                                                                             \
  if (!fs::exists(stories_path())) {                                                                  \
    GTEST_SKIP() << "stories260K is not available at " << stories_path() << " (shared/data absent)"; \
  }

TEST(LmPromptCache, Stories260KContinuesFromALoadedCacheAsFromTheWholePrompt) {
  REQUIRE_STORIES();
  TempDir dir;
  const auto& m = *stories().model;
  const auto& tok = *stories().tokenizer;
  std::vector<int> prefix = tok.encode("Once upon a time, there was a little", true);
  std::vector<int> suffix = tok.encode(" girl named", false);
  std::vector<int> whole = prefix;
  whole.insert(whole.end(), suffix.begin(), suffix.end());

  lm::GenerateOptions o;
  o.max_tokens = 40;
  o.stop_at_eos = false;
  lm::Generation want = lm::generate_tokens(m, &tok, whole, o);

  // mlx_lm.cache_prompt's part: the prefix's cache on disk.
  lm::KVCache cache = m.make_cache();
  m.forward(array(prefix.data(), Shape{1, int(prefix.size())}, int32), cache, true).eval();
  const std::string f = dir.file("prompt.safetensors");
  lm::save_prompt_cache(f, cache, lm::prompt_cache_metadata(m, prefix));

  lm::PromptCacheFile loaded = lm::load_prompt_cache(f);
  lm::check_prompt_cache(loaded, m);
  EXPECT_EQ(lm::prompt_cache_tokens(loaded), prefix);
  o.cache = &loaded.cache;
  lm::Generation got = lm::generate_tokens(m, &tok, suffix, o);
  EXPECT_EQ(got.tokens, want.tokens);
  EXPECT_EQ(got.text, want.text);
  EXPECT_EQ(loaded.cache.offset(), int(whole.size() + want.tokens.size()) - 1);
}

TEST(LmKvCache, Stories260KGeneratesPastMaxKvSizeWhenRotating) {
  REQUIRE_STORIES();
  const auto& m = *stories().model;
  lm::GenerateOptions o;
  o.max_tokens = 40;
  o.max_kv_size = 16;
  o.stop_at_eos = false;
  auto capped = lm::generate(m, *stories().tokenizer, "Once upon a time", o);
  EXPECT_EQ(capped.stats.finish_reason, "context");
  o.rotate_kv = true;
  auto rotated = lm::generate(m, *stories().tokenizer, "Once upon a time", o);
  EXPECT_EQ(rotated.stats.finish_reason, "length");
  EXPECT_EQ(rotated.tokens.size(), 40u);
  // Up to the cache size both agree.
  ASSERT_GE(capped.tokens.size(), 8u);
  EXPECT_EQ(std::vector<int>(rotated.tokens.begin(), rotated.tokens.begin() + 8),
            std::vector<int>(capped.tokens.begin(), capped.tokens.begin() + 8));
}

// ------------------------------------------------------------------ the CLI

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs the tessera binary; returns its stdout, or "" with the exit status in `status`.
std::string run_cli(const std::vector<std::string>& args, int* status) {
  std::string cmd = quote(std::string(TESSERA_BINARY_DIR) + "/tools/tessera/tessera");
  for (const auto& a : args) cmd += " " + quote(a);
  cmd += " 2>&1";
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int st = pclose(p);
  *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

TEST(LmPromptCache, CliCachePromptThenGenerateEqualsTheWholePrompt) {
  REQUIRE_STORIES();
  int status = -1;
  run_cli({"cache-prompt", "--help"}, &status);
  if (status != 0) GTEST_SKIP() << "the tessera binary has no cache-prompt command (rebuild the tessera_cli target)";
  namespace stories = tessera::testing::stories260k;
  TempDir dir;
  // stories260K as a model directory with a turn template: the cache ends inside the user's
  // message, generate's --prompt continues it and closes the turn.
  stories::DirOptions o;
  json tc = stories::tokenizer_config_json();
  tc["chat_template"] =
      "{{ bos_token }}{% for m in messages %}{% if m.role == 'user' %}User: {{ m.content }}\n{% endif %}{% endfor %}"
      "{% if add_generation_prompt %}Bot:{% endif %}";
  o.tokenizer_config = tc;
  const std::string model = dir.file("model");
  stories::write_dir(model, stories::hf_tensors(), o);
  const std::string cache = dir.file("prompt.safetensors");

  std::string whole = run_cli({"generate", "--model", model, "--prompt", "Once upon a time, there was a little girl",
                               "--max-tokens", "24", "--json"}, &status);
  ASSERT_EQ(status, 0) << whole;
  std::string saved = run_cli({"cache-prompt", "--model", model, "--prompt", "Once upon a time, there was a",
                               "--prompt-cache-file", cache, "--json"}, &status);
  ASSERT_EQ(status, 0) << saved;
  EXPECT_GT(json::parse(saved)["prompt_tokens"].get<int>(), 8);
  std::string continued = run_cli({"generate", "--model", model, "--prompt-cache-file", cache, "--prompt",
                                   " little girl", "--max-tokens", "24", "--json"}, &status);
  ASSERT_EQ(status, 0) << continued;
  json a = json::parse(whole), b = json::parse(continued);
  EXPECT_EQ(b["prompt_text"], " little girl\nBot:");
  // Encoded with the cached text, the boundary may take back a cached token or two.
  EXPECT_LE(b["cached_tokens"].get<int>(), json::parse(saved)["prompt_tokens"].get<int>());
  EXPECT_GT(b["cached_tokens"].get<int>(), 5);
  EXPECT_EQ(b["tokens"], a["tokens"]);

  // A cache of another model is refused with the file named; a rotating, 4-bit-ready cache runs.
  std::string other = run_cli({"generate", "--model", stories_path().string(), "--prompt-cache-file", cache,
                               "--prompt", " x"}, &status);
  EXPECT_NE(status, 0);
  EXPECT_NE(other.find(cache + ": the cache was saved for another model"), std::string::npos) << other;
  std::string rotating = run_cli({"generate", "--model", model, "--prompt", "Once upon a time", "--max-kv-size", "12",
                                  "--max-tokens", "30", "--json", "--ignore-chat-template"}, &status);
  ASSERT_EQ(status, 0) << rotating;
  EXPECT_EQ(json::parse(rotating)["stats"]["finish_reason"], "length");
  std::string bits = run_cli({"generate", "--model", model, "--prompt", "Once", "--kv-bits", "4"}, &status);
  EXPECT_NE(status, 0);
  EXPECT_NE(bits.find("kv_group_size 64 does not divide the head size (keys 8"), std::string::npos) << bits;
}

}  // namespace
