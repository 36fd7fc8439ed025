#include "tessera/lm/prompt_cache.h"

#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "tessera/io.h"
#include "tessera/ops.h"

namespace tessera::lm {

namespace {

using json = nlohmann::json;

constexpr const char* kLayoutKey = "tessera.prompt_cache";
constexpr int kVersion = 1;
// Bounds on a file's layout, far above any real model, so a corrupt one cannot ask for absurd
// allocations: layers, positions, and the growth step.
constexpr int64_t kMaxLayers = 65536;
constexpr int64_t kMaxPositions = int64_t(1) << 30;
constexpr int64_t kMaxStep = 4096;
constexpr int kMaxJsonDepth = 4;
constexpr int kProbeIds = 16;

[[noreturn]] void fail(const std::string& file, const std::string& what) {
  throw std::runtime_error("[load_prompt_cache] " + file + ": " + what);
}

// Parses metadata text as JSON, refusing nesting deeper than a layout or a token list needs.
json parse_json(const std::string& file, const std::string& key, const std::string& text) {
  try {
    return json::parse(text, [&](int depth, json::parse_event_t, json&) {
      if (depth > kMaxJsonDepth) throw std::runtime_error("nested too deeply");
      return true;
    });
  } catch (const std::exception& e) {
    fail(file, "metadata '" + key + "' is not valid JSON (" + e.what() + ")");
  }
}

int64_t get_int(const std::string& file, const json& j, const char* field, int64_t lo, int64_t hi) {
  auto it = j.find(field);
  if (it == j.end() || !it->is_number_integer()) fail(file, std::string("layout field '") + field + "' must be an integer");
  const int64_t v = it->get<int64_t>();
  if (v < lo || v > hi) {
    fail(file, std::string("layout field '") + field + "' = " + std::to_string(v) + " is outside [" +
                   std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return v;
}

bool get_bool(const std::string& file, const json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end() || !it->is_boolean()) fail(file, std::string("layout field '") + field + "' must be true or false");
  return it->get<bool>();
}

std::string prefix(int layer) { return "layers." + std::to_string(layer) + "."; }

const char* const kDenseParts[] = {"keys", "values"};
const char* const kPackedParts[] = {"keys.words", "keys.scales", "keys.biases",
                                    "values.words", "values.scales", "values.biases"};

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::vector<float> probe_logits(const Model& model) {
  KVCache scratch = model.make_cache();
  int token = 0;
  array logits = model.forward(array(&token, Shape{1, 1}, int32), scratch, true);
  const int V = model.config().vocab_size;
  std::vector<int> ids;
  for (int i = 0; i < kProbeIds; ++i) ids.push_back(int(int64_t(i) * V / kProbeIds));
  array picked = astype(take(reshape(logits, {V}), array(ids.data(), Shape{int(ids.size())}, int32), 0), float32);
  picked.eval();
  return std::vector<float>(picked.data<float>(), picked.data<float>() + picked.size());
}

}  // namespace

void save_prompt_cache(const std::string& file, const KVCache& cache, const PromptCacheMetadata& metadata) {
  std::unordered_map<std::string, std::string> meta;
  for (auto& [k, v] : metadata) {
    if (k.rfind("tessera.", 0) == 0) {
      throw std::invalid_argument("[save_prompt_cache] metadata names starting with 'tessera.' are reserved: " + k);
    }
    meta.emplace(k, v);
  }
  const KVCacheOptions& o = cache.options();
  json windows = json::array(), quantized = json::array();
  std::unordered_map<std::string, array> tensors;
  for (int i = 0; i < cache.num_layers(); ++i) {
    windows.push_back(cache.layer_window(i));
    KVCache::LayerState s = cache.layer_state(i);
    quantized.push_back(s.quantized);
    if (s.arrays.empty() || s.arrays[0].shape(2) == 0) continue;
    for (size_t p = 0; p < s.arrays.size(); ++p) {
      tensors.emplace(prefix(i) + (s.quantized ? kPackedParts[p] : kDenseParts[p]), contiguous(s.arrays[p]));
    }
  }
  json layout = {{"version", kVersion},         {"offset", cache.offset()},   {"step", o.step},
                 {"max_size", o.max_size},      {"rotate", o.rotate},         {"keep", o.keep},
                 {"bits", o.bits},              {"group_size", o.group_size}, {"quantized_start", o.quantized_start},
                 {"windows", windows},          {"quantized", quantized}};
  meta[kLayoutKey] = layout.dump();
  save_safetensors(file, std::move(tensors), std::move(meta));
}

PromptCacheFile load_prompt_cache(const std::string& file) {
  SafetensorsLoad loaded;
  try {
    loaded = load_safetensors(file);
  } catch (const std::exception& e) {
    fail(file, std::string("cannot read it as safetensors: ") + e.what());
  }
  auto& [tensors, meta] = loaded;
  auto lk = meta.find(kLayoutKey);
  if (lk == meta.end()) fail(file, std::string("not a prompt cache (no '") + kLayoutKey + "' metadata)");
  json layout = parse_json(file, kLayoutKey, lk->second);
  if (!layout.is_object()) fail(file, std::string("metadata '") + kLayoutKey + "' must be a JSON object");
  const int64_t version = get_int(file, layout, "version", 0, kMaxPositions);
  if (version != kVersion) {
    fail(file, "prompt cache format version " + std::to_string(version) + " (this Tessera reads version " +
                   std::to_string(kVersion) + ")");
  }
  KVCacheOptions o;
  o.step = int(get_int(file, layout, "step", 1, kMaxStep));
  o.max_size = int(get_int(file, layout, "max_size", 0, kMaxPositions));
  o.rotate = get_bool(file, layout, "rotate");
  o.keep = int(get_int(file, layout, "keep", 0, kMaxPositions));
  o.bits = int(get_int(file, layout, "bits", 0, 8));
  o.group_size = int(get_int(file, layout, "group_size", 0, 1024));
  o.quantized_start = int(get_int(file, layout, "quantized_start", 0, kMaxPositions));
  const int offset = int(get_int(file, layout, "offset", 0, kMaxPositions));
  auto wit = layout.find("windows"), qit = layout.find("quantized");
  if (wit == layout.end() || !wit->is_array() || wit->empty() || int64_t(wit->size()) > kMaxLayers) {
    fail(file, "layout field 'windows' must list 1 to " + std::to_string(kMaxLayers) + " layers");
  }
  if (qit == layout.end() || !qit->is_array() || qit->size() != wit->size()) {
    fail(file, "layout field 'quantized' must have one entry per layer (" + std::to_string(wit->size()) + ")");
  }
  std::vector<int> windows;
  for (size_t i = 0; i < wit->size(); ++i) {
    const json& w = (*wit)[i];
    if (!w.is_number_integer() || w.get<int64_t>() < 0 || w.get<int64_t>() > kMaxPositions) {
      fail(file, "layout field 'windows'[" + std::to_string(i) + "] must be an integer in [0, 2^30]");
    }
    if (!(*qit)[i].is_boolean()) fail(file, "layout field 'quantized'[" + std::to_string(i) + "] must be true or false");
    windows.push_back(int(w.get<int64_t>()));
  }

  PromptCacheFile out{[&] {
                        try {
                          return KVCache(windows, o);
                        } catch (const std::exception& e) {
                          fail(file, std::string("invalid cache layout: ") + e.what());
                        }
                      }(),
                      {},
                      file};
  size_t used = 0;
  std::unordered_set<std::string> used_names;
  for (int i = 0; i < int(windows.size()); ++i) {
    KVCache::LayerState s;
    s.quantized = (*qit)[size_t(i)].get<bool>();
    const size_t parts = s.quantized ? 6 : 2;
    const bool has_any = tensors.count(prefix(i) + (s.quantized ? kPackedParts[0] : kDenseParts[0])) > 0;
    for (size_t p = 0; p < parts && has_any; ++p) {
      const std::string name = prefix(i) + (s.quantized ? kPackedParts[p] : kDenseParts[p]);
      auto t = tensors.find(name);
      if (t == tensors.end()) fail(file, "tensor '" + name + "' is missing");
      const array& a = t->second;
      const bool words = s.quantized && p % 3 == 0;
      if (words ? a.dtype() != uint32 : !issubdtype(a.dtype(), floating)) {
        fail(file, "tensor '" + name + "' has dtype " + dtype_name(a.dtype()) + ", expected " +
                       (words ? "uint32" : "a floating type"));
      }
      s.arrays.push_back(a);
      used_names.insert(name);
      ++used;
    }
    if (!has_any) {
      // A layer with nothing cached (offset 0) has no tensors.
      if (offset != 0) fail(file, "tensor '" + prefix(i) + (s.quantized ? kPackedParts[0] : kDenseParts[0]) + "' is missing");
      continue;
    }
    try {
      out.cache.restore(i, s, offset);
    } catch (const std::exception& e) {
      fail(file, e.what());
    }
  }
  if (used != tensors.size()) {
    for (auto& [name, a] : tensors) {
      if (!used_names.count(name)) fail(file, "unexpected tensor '" + name + "' (not part of the cache's layout)");
    }
  }
  if (out.cache.offset() != offset) fail(file, "the layers hold no positions though the offset is " + std::to_string(offset));
  for (auto& [k, v] : meta) {
    if (k != kLayoutKey) out.metadata.emplace(k, v);
  }
  return out;
}

std::string model_fingerprint(const ModelConfig& c) {
  std::string s;
  auto add = [&](const std::string& name, const std::string& v) { s += name + "=" + v + ";"; };
  auto num = [](double v) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.9g", v);
    return std::string(buf);
  };
  add("architecture", c.architecture);
  for (auto [name, v] : {std::pair<const char*, int>{"vocab", c.vocab_size}, {"hidden", c.hidden_size},
                         {"layers", c.num_layers}, {"heads", c.num_heads}, {"kv_heads", c.num_kv_heads},
                         {"head_dim", c.head_dim}, {"ffn", c.intermediate_size}, {"rope_dims", c.rope_dims},
                         {"rope_original_context", c.rope_original_context}, {"window", c.sliding_window}}) {
    add(name, std::to_string(v));
  }
  for (auto [name, v] : {std::pair<const char*, float>{"eps", c.rms_norm_eps}, {"rope_theta", c.rope_theta},
                         {"rope_scale", c.rope_scale}, {"rope_factor", c.rope_factor},
                         {"rope_low", c.rope_low_freq_factor}, {"rope_high", c.rope_high_freq_factor},
                         {"rope_attention", c.rope_attention_factor}, {"rope_local_theta", c.rope_local_theta},
                         {"query_scale", c.query_scale}, {"attn_softcap", c.attn_logit_softcap},
                         {"norm_offset", c.norm_offset}, {"embed_scale", c.embed_scale},
                         {"final_softcap", c.final_logit_softcap}}) {
    add(name, num(v));
  }
  add("rope_type", c.rope_type);
  add("flags", std::to_string(c.rope_traditional) + std::to_string(c.tie_word_embeddings) +
                   std::to_string(c.attention_bias) + std::to_string(c.attention_out_bias) +
                   std::to_string(c.qk_norm) + std::to_string(c.sandwich_norms));
  add("act", c.hidden_act);
  std::string slides;
  for (bool b : c.sliding_layers) slides += b ? '1' : '0';
  add("sliding", slides);
  for (float f : c.rope_short_factors) s += num(f) + ",";
  for (float f : c.rope_long_factors) s += num(f) + ",";
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(fnv1a(s)));
  return hex;
}

PromptCacheMetadata prompt_cache_metadata(const Model& model, std::span<const int> tokens) {
  json probe = json::array();
  for (float f : probe_logits(model)) probe.push_back(f);
  return {{"model_fingerprint", model_fingerprint(model.config())},
          {"model_probe", probe.dump()},
          {"architecture", model.config().architecture},
          {"tokens", json(std::vector<int>(tokens.begin(), tokens.end())).dump()}};
}

void check_prompt_cache(const PromptCacheFile& loaded, const Model& model) {
  const std::string tag = "[prompt cache] " + loaded.file + ": ";
  auto meta = [&](const char* key) -> const std::string* {
    auto it = loaded.metadata.find(key);
    return it == loaded.metadata.end() ? nullptr : &it->second;
  };
  const ModelConfig& c = model.config();
  const std::string* fp = meta("model_fingerprint");
  if (!fp) {
    throw std::invalid_argument(tag + "it has no model_fingerprint metadata (saved without prompt_cache_metadata), "
                                      "so which model it belongs to is unknown");
  }
  const std::string* arch = meta("architecture");
  const std::string theirs = arch ? " (" + *arch + ")" : std::string();
  if (*fp != model_fingerprint(c)) {
    throw std::invalid_argument(tag + "the cache was saved for another model" + theirs + ": config fingerprint " + *fp +
                                ", this " + c.architecture + " model's is " + model_fingerprint(c));
  }
  if (const std::string* pr = meta("model_probe")) {
    json saved = parse_json(loaded.file, "model_probe", *pr);
    std::vector<float> now = probe_logits(model);
    if (!saved.is_array() || saved.size() != now.size()) {
      throw std::invalid_argument(tag + "metadata 'model_probe' must list " + std::to_string(now.size()) + " numbers");
    }
    float scale = 1.0f, worst = 0.0f;
    for (size_t i = 0; i < now.size(); ++i) {
      if (!saved[i].is_number()) throw std::invalid_argument(tag + "metadata 'model_probe' must list numbers");
      scale = std::max(scale, std::fabs(now[i]));
      worst = std::max(worst, std::fabs(saved[i].get<float>() - now[i]));
    }
    // Runs of one model agree to rounding; another set of weights moves logits by far more.
    if (!(worst <= 1e-2f * scale)) {
      throw std::invalid_argument(tag + "the cache was saved for a model with the same config but other weights" +
                                  theirs + " (probe logits differ by " + std::to_string(worst) + ")");
    }
  }
  KVCache fresh = model.make_cache();
  if (loaded.cache.num_layers() != fresh.num_layers()) {
    throw std::invalid_argument(tag + "the cache has " + std::to_string(loaded.cache.num_layers()) +
                                " layers, the model " + std::to_string(fresh.num_layers()));
  }
  for (int i = 0; i < fresh.num_layers(); ++i) {
    if (loaded.cache.layer_window(i) != fresh.layer_window(i)) {
      throw std::invalid_argument(tag + "layer " + std::to_string(i) + " has window " +
                                  std::to_string(loaded.cache.layer_window(i)) + " in the cache, " +
                                  std::to_string(fresh.layer_window(i)) + " in the model");
    }
  }
}

std::vector<int> prompt_cache_tokens(const PromptCacheFile& loaded) {
  auto it = loaded.metadata.find("tokens");
  if (it == loaded.metadata.end()) return {};
  json j = parse_json(loaded.file, "tokens", it->second);
  if (!j.is_array()) fail(loaded.file, "metadata 'tokens' must be a JSON array of token ids");
  std::vector<int> ids;
  for (auto& v : j) {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > INT32_MAX) {
      fail(loaded.file, "metadata 'tokens' must be a JSON array of token ids");
    }
    ids.push_back(int(v.get<int64_t>()));
  }
  return ids;
}

}  // namespace tessera::lm
