#include "lm/models/hf_config.h"

#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>

#include "lm/layers/mlp.h"
#include "lm/models/registry.h"

namespace tessera::lm {

namespace {

using json = nlohmann::json;

// transformers' defaults for fields config.json files leave out (from each architecture's
// configuration class). Dimensions stay required except for Gemma 3, whose multimodal checkpoints
// give the text model only the fields that differ from Gemma3TextConfig.
constexpr std::pair<const char*, const char*> kDefaults[] = {
    {"llama", R"({"rms_norm_eps": 1e-6, "rope_theta": 10000.0, "hidden_act": "silu", "tie_word_embeddings": false})"},
    {"mistral",
     R"({"rms_norm_eps": 1e-6, "rope_theta": 10000.0, "hidden_act": "silu", "tie_word_embeddings": false,
         "sliding_window": 4096})"},
    {"qwen2",
     R"({"rms_norm_eps": 1e-6, "rope_theta": 10000.0, "hidden_act": "silu", "tie_word_embeddings": false,
         "use_sliding_window": false, "sliding_window": 4096, "max_window_layers": 28})"},
    {"qwen3",
     R"({"rms_norm_eps": 1e-6, "rope_theta": 10000.0, "hidden_act": "silu", "tie_word_embeddings": false,
         "head_dim": 128, "attention_bias": false, "use_sliding_window": false, "sliding_window": 4096,
         "max_window_layers": 28})"},
    {"gemma2",
     R"({"rms_norm_eps": 1e-6, "rope_theta": 10000.0, "hidden_activation": "gelu_pytorch_tanh",
         "tie_word_embeddings": true, "head_dim": 256, "query_pre_attn_scalar": 256, "sliding_window": 4096,
         "final_logit_softcapping": 30.0, "attn_logit_softcapping": 50.0, "attention_bias": false})"},
    {"gemma3_text",
     R"({"vocab_size": 262208, "hidden_size": 2304, "intermediate_size": 9216, "num_hidden_layers": 26,
         "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256,
         "hidden_activation": "gelu_pytorch_tanh", "max_position_embeddings": 131072, "rms_norm_eps": 1e-6,
         "tie_word_embeddings": true, "rope_theta": 1000000.0, "attention_bias": false,
         "query_pre_attn_scalar": 256, "sliding_window": 4096, "sliding_window_pattern": 6,
         "final_logit_softcapping": null, "attn_logit_softcapping": null, "rope_local_base_freq": 10000.0})"},
    {"phi3",
     R"({"rms_norm_eps": 1e-5, "rope_theta": 10000.0, "hidden_act": "silu", "tie_word_embeddings": false,
         "partial_rotary_factor": 1.0, "sliding_window": null, "original_max_position_embeddings": 4096})"},
};

constexpr const char* kRopeTypes = "default, linear, llama3, longrope";
constexpr int kMaxLayers = 1 << 16;

[[noreturn]] void fail(const std::string& file, const std::string& what) {
  throw std::invalid_argument("[load_model] " + file + ": " + what);
}

// Reads fields of one JSON object, naming them as `where` + key in errors ("rope_scaling.factor").
struct Fields {
  const json& j;
  const std::string& file;
  std::string where;

  const json* find(const char* key) const {
    auto it = j.find(key);
    return it == j.end() || it->is_null() ? nullptr : &*it;
  }
  std::string name(const char* key) const { return "'" + where + key + "'"; }

  int positive_int(const char* key, std::optional<int> fallback = std::nullopt) const {
    const json* v = find(key);
    if (!v) {
      if (fallback) return *fallback;
      fail(file, "missing field " + name(key));
    }
    if (!v->is_number_integer() || v->get<int64_t>() <= 0 || v->get<int64_t>() > (int64_t(1) << 30)) {
      fail(file, "field " + name(key) + " = " + v->dump() + " must be a positive integer");
    }
    return int(v->get<int64_t>());
  }
  std::optional<double> number(const char* key) const {
    const json* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_number()) fail(file, "field " + name(key) + " = " + v->dump() + " must be a number");
    double d = v->get<double>();
    // Values end up in float fields.
    if (!(std::abs(d) <= double(std::numeric_limits<float>::max()))) {
      fail(file, "field " + name(key) + " = " + v->dump() + " is out of range");
    }
    return d;
  }
  double number(const char* key, double fallback) const { return number(key).value_or(fallback); }
  double positive(const char* key, std::optional<double> fallback = std::nullopt) const {
    std::optional<double> d = number(key);
    if (!d && !fallback) fail(file, "missing field " + name(key));
    if (!d) return *fallback;
    if (!(*d > 0)) fail(file, "field " + name(key) + " = " + find(key)->dump() + " must be > 0");
    return *d;
  }
  bool boolean(const char* key, bool fallback) const {
    const json* v = find(key);
    if (!v) return fallback;
    if (!v->is_boolean()) fail(file, "field " + name(key) + " = " + v->dump() + " must be true or false");
    return v->get<bool>();
  }
  std::optional<std::string> string(const char* key) const {
    const json* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_string()) fail(file, "field " + name(key) + " = " + v->dump() + " must be a string");
    return v->get<std::string>();
  }
  std::vector<float> floats(const char* key, size_t n) const {
    const json* v = find(key);
    if (!v) fail(file, "missing field " + name(key));
    if (!v->is_array() || v->size() != n) {
      fail(file, "field " + name(key) + " must be an array of " + std::to_string(n) + " numbers (rope dims / 2)");
    }
    std::vector<float> out;
    for (auto& x : *v) {
      if (!x.is_number() || !(x.get<double>() > 0) || !(x.get<double>() <= double(std::numeric_limits<float>::max()))) {
        fail(file, "field " + name(key) + " holds " + x.dump() + "; expected positive numbers");
      }
      out.push_back(x.get<float>());
    }
    return out;
  }
};

// One rope_scaling / rope_parameters object (transformers' rope_type and its parameters) into `c`.
// `cfg` holds the top-level fields some types fall back on.
void read_rope(const Fields& r, const Fields& cfg, ModelConfig& c) {
  std::string kind = r.string("rope_type").value_or(r.string("type").value_or("default"));
  if (kind == "su") kind = "longrope";  // its earlier name, kept in Phi-3 128k's config.json
  c.rope_type = kind;
  if (kind == "default") return;
  if (kind == "linear") {
    c.rope_scale = float(1.0 / r.positive("factor"));
    c.rope_type = "default";
    return;
  }
  if (kind == "llama3") {
    c.rope_factor = float(r.positive("factor"));
    c.rope_low_freq_factor = float(r.positive("low_freq_factor"));
    c.rope_high_freq_factor = float(r.positive("high_freq_factor"));
    c.rope_original_context = r.positive_int("original_max_position_embeddings");
    if (!(c.rope_high_freq_factor > c.rope_low_freq_factor)) {
      fail(r.file, "field " + r.name("high_freq_factor") + " must exceed " + r.name("low_freq_factor"));
    }
    return;
  }
  if (kind == "longrope") {
    const size_t n = size_t(c.rope_dims / 2);
    c.rope_short_factors = r.floats("short_factor", n);
    c.rope_long_factors = r.floats("long_factor", n);
    // Phi-3 keeps the pretraining length at the top level; the factor defaults to how far
    // max_position_embeddings stretches it (transformers' _compute_longrope_parameters).
    std::optional<int> top_level;
    if (cfg.find("original_max_position_embeddings")) top_level = cfg.positive_int("original_max_position_embeddings");
    c.rope_original_context = r.positive_int("original_max_position_embeddings", top_level);
    const double original = c.rope_original_context;
    const double stretch = c.context_length > 0 ? c.context_length / original : 1.0;
    const double factor = r.number("factor").value_or(stretch);
    const double from_factor =
        factor <= 1.0 || original < 2 ? 1.0 : std::sqrt(1 + std::log(factor) / std::log(original));
    const double attention = r.number("attention_factor").value_or(from_factor);
    if (!(attention > 0)) fail(r.file, "field " + r.name("attention_factor") + " must be > 0");
    c.rope_attention_factor = float(attention);
    return;
  }
  fail(r.file, "field " + r.name(r.find("rope_type") ? "rope_type" : "type") + " = \"" + kind +
                   "\" names a rope scaling Tessera does not implement (supported: " + kRopeTypes + ")");
}

// Which layers slide: an explicit layer_types list, else each architecture's rule.
std::vector<bool> sliding_layers(const Fields& f, const ModelConfig& c) {
  std::vector<bool> out(size_t(c.num_layers), false);
  if (const json* types = f.find("layer_types")) {
    if (!types->is_array() || types->size() != size_t(c.num_layers)) {
      fail(f.file, "field 'layer_types' must list one type per layer (" + std::to_string(c.num_layers) + ")");
    }
    for (size_t i = 0; i < out.size(); ++i) {
      const json& t = (*types)[i];
      if (t == "sliding_attention") out[i] = true;
      else if (t != "full_attention") {
        fail(f.file, "field 'layer_types'[" + std::to_string(i) + "] = " + t.dump() +
                         " is not supported (supported: \"full_attention\", \"sliding_attention\")");
      }
    }
    return out;
  }
  const std::string& a = c.architecture;
  const bool gemma3 = a == "gemma3" || a == "gemma3_text", qwen = a == "qwen2" || a == "qwen3";
  const int pattern = gemma3 ? f.positive_int("sliding_window_pattern", 6) : 0;
  const int first_sliding = qwen ? f.positive_int("max_window_layers", 0) : 0;
  for (int i = 0; i < c.num_layers; ++i) {
    if (a == "gemma2") out[size_t(i)] = i % 2 == 0;
    else if (gemma3) out[size_t(i)] = (i + 1) % pattern != 0;
    else if (qwen) out[size_t(i)] = i >= first_sliding;
    else out[size_t(i)] = true;  // Mistral, Phi-3: every layer, whenever a window is given
  }
  return out;
}

}  // namespace

ModelConfig config_from_hf(const json& top, const std::string& file) {
  if (!top.is_object()) fail(file, "config.json must hold a JSON object");
  auto type = top.find("model_type");
  if (type == top.end() || !type->is_string()) fail(file, "missing string field 'model_type'");
  ModelConfig c;
  c.architecture = type->get<std::string>();
  find_architecture(c.architecture, file);  // an unknown type fails here, listing the known ones

  // Gemma 3's multimodal config nests the language model's fields under text_config.
  json j = top;
  std::string defaults_of = c.architecture;
  if (c.architecture == "gemma3") {
    auto text = top.find("text_config");
    j = text != top.end() && text->is_object() ? *text : top;
    defaults_of = "gemma3_text";
  }
  for (auto& [name, text] : kDefaults) {
    if (defaults_of == name) {
      json merged = json::parse(text);
      for (auto& [k, v] : j.items()) merged[k] = v;
      j = std::move(merged);
    }
  }
  const Fields f{j, file, c.architecture == "gemma3" && top.contains("text_config") ? "text_config." : ""};
  const bool gemma = c.architecture.rfind("gemma", 0) == 0;

  c.vocab_size = f.positive_int("vocab_size");
  c.hidden_size = f.positive_int("hidden_size");
  c.num_layers = f.positive_int("num_hidden_layers");
  // Per-layer state is sized by this before any weight is seen; no model comes near the bound.
  if (c.num_layers > kMaxLayers) {
    fail(file, "field " + f.name("num_hidden_layers") + " = " + std::to_string(c.num_layers) + " exceeds " +
                   std::to_string(kMaxLayers) + " layers");
  }
  c.num_heads = f.positive_int("num_attention_heads");
  c.num_kv_heads = f.positive_int("num_key_value_heads", c.num_heads);
  c.head_dim = f.positive_int("head_dim", c.hidden_size / c.num_heads);
  c.intermediate_size = f.positive_int("intermediate_size");
  if (f.find("max_position_embeddings")) c.context_length = f.positive_int("max_position_embeddings");
  c.rms_norm_eps = float(f.positive("rms_norm_eps", 1e-5));
  c.tie_word_embeddings = f.boolean("tie_word_embeddings", false);
  // Gemma reads hidden_activation (its hidden_act once named the exact gelu it did not use).
  const char* act_key = gemma && f.find("hidden_activation") ? "hidden_activation" : "hidden_act";
  c.hidden_act = f.string(act_key).value_or("silu");
  try {
    activation_from_name(c.hidden_act);
  } catch (const std::invalid_argument& e) {
    fail(file, "field " + f.name(act_key) + ": " + e.what());
  }
  if (f.boolean("mlp_bias", false)) fail(file, "field " + f.name("mlp_bias") + " = true is not supported");
  if (f.boolean("use_bidirectional_attention", false)) {
    fail(file, "field " + f.name("use_bidirectional_attention") + " = true (an embedding model) is not supported");
  }
  c.attention_bias = c.attention_out_bias = f.boolean("attention_bias", false);

  // Rope: rope_theta and rope_scaling (transformers 4), or rope_parameters (transformers 5),
  // which Gemma 3 keys by layer type.
  c.rope_theta = float(f.positive("rope_theta", 10000.0));
  const double partial = f.positive("partial_rotary_factor", 1.0);
  c.rope_dims = partial <= 1.0 ? int(c.head_dim * partial) : 0;
  if (c.rope_dims < 2 || c.rope_dims % 2 != 0) {
    fail(file, "field " + f.name("partial_rotary_factor") + " = " + std::to_string(partial) + " rotates " +
                   std::to_string(c.rope_dims) + " of " + std::to_string(c.head_dim) +
                   " head features; rope needs an even count in [2, head_dim]");
  }
  c.rope_traditional = false;
  if (gemma && f.find("rope_local_base_freq")) c.rope_local_theta = float(f.positive("rope_local_base_freq"));
  if (const json* rp = f.find("rope_parameters")) {
    if (!rp->is_object()) fail(file, "field " + f.name("rope_parameters") + " must be an object");
    if (rp->contains("full_attention") || rp->contains("sliding_attention")) {
      for (const char* kind : {"full_attention", "sliding_attention"}) {
        auto it = rp->find(kind);
        if (it == rp->end() || it->is_null()) continue;
        if (!it->is_object()) fail(file, "field '" + f.where + "rope_parameters." + kind + "' must be an object");
        Fields r{*it, file, f.where + "rope_parameters." + kind + "."};
        if (std::string(kind) == "full_attention") {
          c.rope_theta = float(r.positive("rope_theta", c.rope_theta));
          read_rope(r, f, c);
        } else {
          ModelConfig local = c;
          read_rope(r, f, local);
          if (local.rope_type != "default" || local.rope_scale != 1.0f) {
            fail(file, "field '" + r.where + "rope_type': scaled rope on sliding-window layers is not supported");
          }
          const float fallback = c.rope_local_theta > 0 ? c.rope_local_theta : c.rope_theta;
          c.rope_local_theta = float(r.positive("rope_theta", fallback));
        }
      }
    } else {
      Fields r{*rp, file, f.where + "rope_parameters."};
      c.rope_theta = float(r.positive("rope_theta", c.rope_theta));
      read_rope(r, f, c);
    }
  } else if (const json* rs = f.find("rope_scaling")) {
    if (!rs->is_object()) fail(file, "field " + f.name("rope_scaling") + " must be an object or null");
    read_rope(Fields{*rs, file, f.where + "rope_scaling."}, f, c);
  }

  // Sliding windows, for the architectures whose configs have them (Llama's do not).
  const bool qwen = c.architecture == "qwen2" || c.architecture == "qwen3";
  if (f.find("sliding_window") && c.architecture != "llama") {
    if (!qwen || f.boolean("use_sliding_window", false)) {
      c.sliding_window = f.positive_int("sliding_window");
      c.sliding_layers = sliding_layers(f, c);
    }
  }

  // Gemma: the query scale, soft caps and the (1 + w) norms of its checkpoints.
  if (gemma) {
    c.query_scale = float(1.0 / std::sqrt(f.positive("query_pre_attn_scalar", double(c.head_dim))));
    c.attn_logit_softcap = float(f.number("attn_logit_softcapping").value_or(0.0));
    c.final_logit_softcap = float(f.number("final_logit_softcapping").value_or(0.0));
    if (c.attn_logit_softcap < 0 || c.final_logit_softcap < 0) fail(file, "soft-capping values must be > 0 or null");
    c.norm_offset = 1.0f;
  }

  if (c.num_heads % c.num_kv_heads != 0) {
    fail(file, std::to_string(c.num_heads) + " attention heads are not a multiple of " +
                   std::to_string(c.num_kv_heads) + " key/value heads");
  }
  return c;
}

}  // namespace tessera::lm
