#include "tessera/lm/causal_lm.h"

#include <cmath>
#include <stdexcept>

#include "tessera/fast.h"
#include "tessera/nn.h"
#include "tessera/ops.h"
#include "tessera/random.h"

namespace tessera::lm {

namespace {

void init_normal(nn::Module& m, const std::string& name, float std) {
  array& w = m.param(name);
  w = multiply(random::normal(w.shape(), w.dtype()), array(std, w.dtype()));
}

std::shared_ptr<nn::Linear> linear(int in, int out, float std) {
  auto l = std::make_shared<nn::Linear>(in, out, false);
  init_normal(*l, "weight", std);
  return l;
}

class SelfAttention : public nn::Module {
 public:
  SelfAttention(const ModelConfig& c, float std, float out_std)
      : heads_(c.num_heads), kv_heads_(c.num_kv_heads), head_dim_(c.head_dim), rope_base_(c.rope_theta) {
    register_module("q_proj", linear(c.hidden_size, c.num_heads * c.head_dim, std));
    register_module("k_proj", linear(c.hidden_size, c.num_kv_heads * c.head_dim, std));
    register_module("v_proj", linear(c.hidden_size, c.num_kv_heads * c.head_dim, std));
    register_module("o_proj", linear(c.num_heads * c.head_dim, c.hidden_size, out_std));
  }
  std::string type_name() const override { return "SelfAttention"; }
  std::vector<array> forward(const std::vector<array>& in) override {
    const array& x = single_input(in);
    const int b = x.shape(0), l = x.shape(1);
    auto heads = [&](const array& z, int n) { return transpose(reshape(z, {b, l, n, head_dim_}), {0, 2, 1, 3}); };
    array q = fast::rope(heads(child("q_proj")(x), heads_), head_dim_, false, rope_base_, 1.0f, 0);
    array k = fast::rope(heads(child("k_proj")(x), kv_heads_), head_dim_, false, rope_base_, 1.0f, 0);
    array v = heads(child("v_proj")(x), kv_heads_);
    array o = fast::scaled_dot_product_attention(q, k, v, 1.0f / std::sqrt(float(head_dim_)), "causal");
    return {child("o_proj")(reshape(transpose(o, {0, 2, 1, 3}), {b, l, heads_ * head_dim_}))};
  }

 private:
  int heads_, kv_heads_, head_dim_;
  float rope_base_;
};

class SwiGLU : public nn::Module {
 public:
  SwiGLU(const ModelConfig& c, float std, float out_std) {
    register_module("gate_proj", linear(c.hidden_size, c.intermediate_size, std));
    register_module("up_proj", linear(c.hidden_size, c.intermediate_size, std));
    register_module("down_proj", linear(c.intermediate_size, c.hidden_size, out_std));
  }
  std::string type_name() const override { return "SwiGLU"; }
  std::vector<array> forward(const std::vector<array>& in) override {
    const array& x = single_input(in);
    return {child("down_proj")(multiply(nn::silu(child("gate_proj")(x)), child("up_proj")(x)))};
  }
};

class DecoderBlock : public nn::Module {
 public:
  DecoderBlock(const ModelConfig& c, float std, float out_std) {
    register_module("input_layernorm", std::make_shared<nn::RMSNorm>(c.hidden_size, c.rms_norm_eps));
    register_module("self_attn", std::make_shared<SelfAttention>(c, std, out_std));
    register_module("post_attention_layernorm", std::make_shared<nn::RMSNorm>(c.hidden_size, c.rms_norm_eps));
    register_module("mlp", std::make_shared<SwiGLU>(c, std, out_std));
  }
  std::string type_name() const override { return "DecoderBlock"; }
  std::vector<array> forward(const std::vector<array>& in) override {
    array x = single_input(in);
    x = add(x, child("self_attn")(child("input_layernorm")(x)));
    return {add(x, child("mlp")(child("post_attention_layernorm")(x)))};
  }
};

class Backbone : public nn::Module {
 public:
  Backbone(const ModelConfig& c, float std, float out_std) : layers_(c.num_layers) {
    auto embed = std::make_shared<nn::Embedding>(c.vocab_size, c.hidden_size);
    init_normal(*embed, "weight", std);
    register_module("embed_tokens", embed);
    std::vector<nn::ModulePtr> layers;
    for (int i = 0; i < c.num_layers; ++i) layers.push_back(std::make_shared<DecoderBlock>(c, std, out_std));
    register_modules("layers", layers);
    register_module("norm", std::make_shared<nn::RMSNorm>(c.hidden_size, c.rms_norm_eps));
  }
  std::string type_name() const override { return "Backbone"; }
  std::vector<array> forward(const std::vector<array>& in) override {
    array x = child("embed_tokens")(single_input(in));
    for (int i = 0; i < layers_; ++i) x = child("layers." + std::to_string(i))(x);
    return {child("norm")(x)};
  }

 private:
  int layers_;
};

void check_config(const ModelConfig& c) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("[CausalLM] " + what); };
  for (auto [name, v] : {std::pair{"vocab_size", c.vocab_size}, {"hidden_size", c.hidden_size},
                         {"num_layers", c.num_layers}, {"num_heads", c.num_heads}, {"num_kv_heads", c.num_kv_heads},
                         {"head_dim", c.head_dim}, {"intermediate_size", c.intermediate_size}}) {
    if (v <= 0) fail(std::string(name) + " must be positive, got " + std::to_string(v));
  }
  if (c.num_heads % c.num_kv_heads != 0) {
    fail(std::to_string(c.num_heads) + " heads are not a multiple of " + std::to_string(c.num_kv_heads) +
         " key/value heads");
  }
  if (c.head_dim % 2 != 0) fail("head_dim " + std::to_string(c.head_dim) + " must be even (rotary positions)");
  if (c.architecture != "llama" && !c.architecture.empty()) {
    fail("only the llama architecture can be trained, got '" + c.architecture + "'");
  }
}

}  // namespace

CausalLM::CausalLM(const ModelConfig& config) : config_(config) {
  check_config(config);
  if (config_.architecture.empty()) config_.architecture = "llama";
  config_.rope_traditional = false;
  config_.rope_dims = config_.head_dim;
  const float std = 0.02f, out_std = std / std::sqrt(2.0f * float(config.num_layers));
  register_module("model", std::make_shared<Backbone>(config_, std, out_std));
  if (!config_.tie_word_embeddings) register_module("lm_head", linear(config.hidden_size, config.vocab_size, std));
}

std::vector<array> CausalLM::forward(const std::vector<array>& inputs) {
  const array& tokens = single_input(inputs);
  if (tokens.ndim() != 2 || !issubdtype(tokens.dtype(), integer)) {
    throw std::invalid_argument("[CausalLM] tokens must be an integer array [B, L], got " + std::to_string(tokens.ndim()) +
                                "-D " + dtype_name(tokens.dtype()));
  }
  array h = child("model")(tokens);
  if (config_.tie_word_embeddings) {
    return {static_cast<const nn::Embedding&>(child("model.embed_tokens")).as_linear(h)};
  }
  return {child("lm_head")(h)};
}

int64_t CausalLM::num_parameters() const {
  int64_t n = 0;
  for (auto& [name, p] : parameters()) n += p.size();
  return n;
}

}  // namespace tessera::lm
