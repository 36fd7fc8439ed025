#include "lm/models/hf_config.h"

#include <optional>
#include <stdexcept>

namespace tessera::lm {

namespace {

using json = nlohmann::json;

[[noreturn]] void fail(const std::string& file, const std::string& what) {
  throw std::invalid_argument("[load_model] " + file + ": " + what);
}

int positive_int(const json& j, const char* key, const std::string& file, std::optional<int> fallback = std::nullopt) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (fallback) return *fallback;
    fail(file, std::string("missing field '") + key + "'");
  }
  if (!it->is_number_integer() || it->get<int64_t>() <= 0 || it->get<int64_t>() > (int64_t(1) << 30)) {
    fail(file, std::string("field '") + key + "' = " + it->dump() + " must be a positive integer");
  }
  return int(it->get<int64_t>());
}

float number(const json& j, const char* key, const std::string& file, float fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_number()) fail(file, std::string("field '") + key + "' = " + it->dump() + " must be a number");
  return it->get<float>();
}

}  // namespace

ModelConfig config_from_hf(const json& j, const std::string& file) {
  if (!j.is_object()) fail(file, "config.json must hold a JSON object");
  ModelConfig c;
  auto type = j.find("model_type");
  if (type == j.end() || !type->is_string()) fail(file, "missing string field 'model_type'");
  c.architecture = type->get<std::string>();
  c.vocab_size = positive_int(j, "vocab_size", file);
  c.hidden_size = positive_int(j, "hidden_size", file);
  c.num_layers = positive_int(j, "num_hidden_layers", file);
  c.num_heads = positive_int(j, "num_attention_heads", file);
  c.num_kv_heads = positive_int(j, "num_key_value_heads", file, c.num_heads);
  c.head_dim = positive_int(j, "head_dim", file, c.hidden_size / c.num_heads);
  c.intermediate_size = positive_int(j, "intermediate_size", file);
  if (j.contains("max_position_embeddings")) c.context_length = positive_int(j, "max_position_embeddings", file);
  c.rms_norm_eps = number(j, "rms_norm_eps", file, 1e-5f);
  c.rope_theta = number(j, "rope_theta", file, 10000.0f);
  c.rope_dims = c.head_dim;
  c.rope_traditional = false;
  if (auto it = j.find("tie_word_embeddings"); it != j.end() && it->is_boolean()) c.tie_word_embeddings = it->get<bool>();
  if (auto rs = j.find("rope_scaling"); rs != j.end() && !rs->is_null()) {
    if (!rs->is_object()) fail(file, "field 'rope_scaling' must be an object or null");
    std::string kind = rs->value("rope_type", rs->value("type", std::string("default")));
    if (kind == "linear") {
      float f = number(*rs, "factor", file, 1.0f);
      if (!(f > 0)) fail(file, "rope_scaling.factor must be > 0");
      c.rope_scale = 1.0f / f;
    } else if (kind != "default") {
      fail(file, "rope scaling '" + kind + "' is not supported yet");
    }
  }
  if (c.num_heads % c.num_kv_heads != 0) {
    fail(file, std::to_string(c.num_heads) + " attention heads are not a multiple of " +
                   std::to_string(c.num_kv_heads) + " key/value heads");
  }
  return c;
}

}  // namespace tessera::lm
