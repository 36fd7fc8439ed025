#include "lm/convert/convert_common.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <cstdio>
#include <fstream>
#include <set>
#include <stdexcept>

#include "lm/models/hf_config.h"
#include "lm/models/json_file.h"
#include "tessera/io.h"
#include "tessera/ops.h"
#include "tessera/random.h"

namespace tessera::lm::convert {

void fail(const std::string& where, const std::string& what) {
  throw std::invalid_argument("[convert] " + where + ": " + what);
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_float(Dtype d) { return d == float32 || d == float16 || d == bfloat16 || d == float64; }

const char* torch_dtype_name(Dtype d) {
  if (d == bfloat16) return "bfloat16";
  if (d == float16) return "float16";
  return "float32";
}

double shortest_double(float f) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, f);
  double d = 0;
  std::from_chars(buf, r.ptr, d);
  return d;
}

// ------------------------------------------------------------------ output

namespace {

fs::path without_trailing_slash(const std::string& p) {
  fs::path out(p);
  if (out.filename().empty() && out.has_parent_path()) out = out.parent_path();
  return out;
}

}  // namespace

OutputDir::OutputDir(const std::string& target, bool overwrite) : target_(without_trailing_slash(target)) {
  if (target_.empty()) fail("output", "no output path given");
  std::error_code ec;
  if (fs::exists(target_, ec) && !overwrite) {
    fail(target_.string(), "already exists; remove it or ask to overwrite it (tessera convert --force)");
  }
  tmp_ = target_.string() + ".tmp-" + std::to_string(::getpid());
  fs::remove_all(tmp_, ec);
  if (target_.has_parent_path()) fs::create_directories(target_.parent_path(), ec);
  if (!fs::create_directories(tmp_, ec) || ec) {
    fail(tmp_.string(), "cannot create the directory: " + (ec ? ec.message() : std::string("unknown error")));
  }
}

OutputDir::~OutputDir() {
  if (committed_) return;
  std::error_code ec;
  fs::remove_all(tmp_, ec);
}

void OutputDir::commit() {
  std::error_code ec;
  const fs::path old = target_.string() + ".old-" + std::to_string(::getpid());
  fs::remove_all(old, ec);
  const bool replace = fs::exists(target_, ec);
  if (replace) {
    fs::rename(target_, old, ec);
    if (ec) fail(target_.string(), "cannot move the existing output aside: " + ec.message());
  }
  fs::rename(tmp_, target_, ec);
  if (ec) {
    std::error_code ignored;
    if (replace) fs::rename(old, target_, ignored);
    fail(target_.string(), "cannot rename " + tmp_.string() + " into place: " + ec.message());
  }
  committed_ = true;
  if (replace) fs::remove_all(old, ec);
}

void check_output_file(const std::string& out, const std::string& in, bool overwrite) {
  if (out.empty()) fail("output", "no output path given");
  std::error_code ec;
  if (fs::exists(out, ec)) {
    if (fs::exists(in, ec) && fs::equivalent(out, in, ec)) fail(out, "is the input; write the output elsewhere");
    if (!overwrite) fail(out, "already exists; remove it or ask to overwrite it (tessera convert --force)");
    if (fs::is_directory(out, ec)) fail(out, "is a directory; a GGUF output is a file");
  }
}

void write_json(const fs::path& p, const nlohmann::json& j) {
  std::ofstream f(p, std::ios::binary);
  f << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  if (!f.flush()) fail(p.string(), "write failed");
}

// ------------------------------------------------------------------ shards

ShardWriter::ShardWriter(fs::path dir, uint64_t max_bytes, std::string format)
    : dir_(std::move(dir)), max_bytes_(max_bytes == 0 ? UINT64_MAX : max_bytes), format_(std::move(format)) {}

void ShardWriter::add(const std::string& name, array a) {
  a.eval();
  const uint64_t n = a.nbytes();
  if (!pending_.empty() && pending_bytes_ + n > max_bytes_) flush();
  pending_.insert_or_assign(name, a);
  pending_bytes_ += n;
  total_ += n;
  shard_of_[name] = shards_;
}

void ShardWriter::flush() {
  const fs::path p = dir_ / ("shard-" + std::to_string(shards_) + ".partial.safetensors");
  save_safetensors(p.string(), std::move(pending_), {{"format", format_}});
  pending_ = {};
  pending_bytes_ = 0;
  ++shards_;
}

std::vector<std::string> ShardWriter::finish() {
  if (!pending_.empty() || shards_ == 0) flush();
  auto partial = [&](int k) { return dir_ / ("shard-" + std::to_string(k) + ".partial.safetensors"); };
  if (shards_ == 1) {
    fs::rename(partial(0), dir_ / "model.safetensors");
    return {"model.safetensors"};
  }
  std::vector<std::string> names;
  for (int k = 0; k < shards_; ++k) {
    char name[64];
    std::snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", k + 1, shards_);
    fs::rename(partial(k), dir_ / name);
    names.push_back(name);
  }
  nlohmann::json weight_map = nlohmann::json::object();
  for (auto& [tensor, k] : shard_of_) weight_map[tensor] = names[size_t(k)];
  write_json(dir_ / "model.safetensors.index.json",
             {{"metadata", {{"total_size", total_}}}, {"weight_map", weight_map}});
  names.push_back("model.safetensors.index.json");
  return names;
}

// ------------------------------------------------------------------ source directory

void sort_tensor_names(std::vector<std::string>& names) {
  // (group, layer, name): the embedding, then layers in numeric order, then the rest.
  auto key = [](const std::string& n) {
    if (n.find("embed_tokens") != std::string::npos) return std::pair<int, long>(0, 0);
    const std::string prefix = "model.layers.";
    if (n.rfind(prefix, 0) == 0) {
      long layer = 0;
      size_t i = prefix.size();
      bool digits = false;
      while (i < n.size() && n[i] >= '0' && n[i] <= '9' && layer < (1L << 40)) {
        layer = layer * 10 + (n[i++] - '0');
        digits = true;
      }
      if (digits) return std::pair<int, long>(1, layer);
    }
    return std::pair<int, long>(2, 0);
  };
  std::sort(names.begin(), names.end(), [&](const std::string& a, const std::string& b) {
    auto ka = key(a), kb = key(b);
    return ka != kb ? ka < kb : a < b;
  });
}

HfSource::HfSource(const std::string& dir, const ConvertCommon& options) : dir_(dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail(dir, "not a directory (expected a Hugging Face model directory with config.json)");
  config_file_ = (fs::path(dir) / "config.json").string();
  if (!fs::is_regular_file(config_file_, ec)) fail(dir, "no config.json (a model directory holds config.json and *.safetensors)");
  config_ = read_json_file(config_file_);
  model_ = config_from_hf(config_, config_file_);
  if (options.random_weights) {
    random_tensors(options.seed);
    return;
  }
  files_ = load_directory_tensors(dir);
  quant_ = parse_quantization(config_, config_file_);
  std::set<std::string> consumed;
  for (auto& [name, t] : files_.tensors) {
    if (!ends_with(name, ".scales")) continue;
    const std::string module = name.substr(0, name.size() - 7);
    auto wq = files_.tensors.find(module + ".weight"), biases = files_.tensors.find(module + ".biases");
    if (wq == files_.tensors.end() || biases == files_.tensors.end()) {
      fail(dir, "quantized module '" + module + "' has scales but no '" + module +
                    (wq == files_.tensors.end() ? ".weight'" : ".biases'"));
    }
    std::optional<QuantParams> p = quant_.for_module(module);
    if (!p) fail(config_file_, "gives no group_size and bits for the quantized module '" + module + "'");
    Shape logical;
    make_quantized_weight(wq->second.value, t.value, biases->second.value, *p,
                          dir + ": module '" + module + "'", &logical);
    quant_modules_.emplace(module + ".weight", *p);
    consumed.insert({module + ".scales", module + ".biases"});
  }
  for (auto& [name, t] : files_.tensors) {
    if (!consumed.count(name)) names_.push_back(name);
  }
  sort_tensor_names(names_);
}

void HfSource::random_tensors(uint64_t seed) {
  const ModelConfig& c = model_;
  const std::string& a = c.architecture;
  if (a != "llama" && a != "mistral" && a != "qwen2" && a != "qwen3") {
    fail(config_file_, "random weights are drawn for llama, mistral, qwen2 and qwen3 models, not '" + a + "'");
  }
  seed_ = seed;
  random_dtype_ = torch_dtype().value_or(float32);
  const int H = c.hidden_size, D = c.head_dim, F = c.intermediate_size, V = c.vocab_size;
  const bool bias = c.attention_bias || a == "qwen2";
  auto add = [&](const std::string& name, Shape s, int kind) { random_.emplace(name, std::make_pair(std::move(s), kind)); };
  add("model.embed_tokens.weight", {V, H}, 0);
  for (int i = 0; i < c.num_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    add(p + "input_layernorm.weight", {H}, 1);
    add(p + "post_attention_layernorm.weight", {H}, 1);
    add(p + "self_attn.q_proj.weight", {c.num_heads * D, H}, 0);
    add(p + "self_attn.k_proj.weight", {c.num_kv_heads * D, H}, 0);
    add(p + "self_attn.v_proj.weight", {c.num_kv_heads * D, H}, 0);
    add(p + "self_attn.o_proj.weight", {H, c.num_heads * D}, 0);
    if (bias) {
      add(p + "self_attn.q_proj.bias", {c.num_heads * D}, 0);
      add(p + "self_attn.k_proj.bias", {c.num_kv_heads * D}, 0);
      add(p + "self_attn.v_proj.bias", {c.num_kv_heads * D}, 0);
    }
    if (c.attention_out_bias && a != "qwen2") add(p + "self_attn.o_proj.bias", {H}, 0);
    if (a == "qwen3") {
      add(p + "self_attn.q_norm.weight", {D}, 1);
      add(p + "self_attn.k_norm.weight", {D}, 1);
    }
    add(p + "mlp.gate_proj.weight", {F, H}, 0);
    add(p + "mlp.up_proj.weight", {F, H}, 0);
    add(p + "mlp.down_proj.weight", {H, F}, 0);
  }
  add("model.norm.weight", {H}, 1);
  if (!c.tie_word_embeddings) add("lm_head.weight", {V, H}, 0);
  for (auto& [name, spec] : random_) names_.push_back(name);
  sort_tensor_names(names_);
}

array HfSource::get(const std::string& name) const {
  if (auto r = random_.find(name); r != random_.end()) {
    const auto& [shape, kind] = r->second;
    if (kind == 1) return ones(shape, random_dtype_);
    // Each tensor's own key (FNV-1a of its name, mixed with the seed), so a tensor does not
    // change when others are added or converted in another order.
    uint64_t h = 1469598103934665603ULL ^ seed_;
    for (unsigned char ch : name) h = (h ^ ch) * 1099511628211ULL;
    return random::normal(shape, random_dtype_, 0.0f, 0.02f, random::key(h));
  }
  auto it = files_.tensors.find(name);
  if (it == files_.tensors.end()) fail(dir_, "no tensor '" + name + "'");
  if (auto q = quant_modules_.find(name); q != quant_modules_.end()) {
    const std::string module = name.substr(0, name.size() - 7);
    const array& scales = files_.tensors.at(module + ".scales").value;
    return dequantize(it->second.value, scales, files_.tensors.at(module + ".biases").value, q->second.group_size,
                      q->second.bits, "affine", scales.dtype());
  }
  const array& a = it->second.value;
  if (!is_float(a.dtype())) {
    fail(dir_ + "/" + it->second.file, "tensor '" + name + "' is " + dtype_name(a.dtype()) +
                                           ", expected float32, float16 or bfloat16");
  }
  return a.dtype() == float64 ? astype(a, float32) : a;
}

Shape HfSource::shape(const std::string& name) const {
  if (auto r = random_.find(name); r != random_.end()) return r->second.first;
  auto it = files_.tensors.find(name);
  if (it == files_.tensors.end()) fail(dir_, "no tensor '" + name + "'");
  if (auto q = quant_modules_.find(name); q != quant_modules_.end()) {
    Shape s = it->second.value.shape();
    s.back() = int(int64_t(s.back()) * 32 / q->second.bits);
    return s;
  }
  return it->second.value.shape();
}

std::optional<Dtype> HfSource::torch_dtype() const {
  auto it = config_.find("torch_dtype");
  if (it == config_.end() || !it->is_string()) return std::nullopt;
  const std::string s = it->get<std::string>();
  if (s == "float16") return float16;
  if (s == "bfloat16") return bfloat16;
  if (s == "float32") return float32;
  return std::nullopt;
}

std::vector<std::string> HfSource::side_files() const {
  static constexpr const char* kFiles[] = {
      "tokenizer.json",   "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model",
      "added_tokens.json", "vocab.json",           "merges.txt",              "generation_config.json",
      "chat_template.json", "chat_template.jinja",
  };
  std::vector<std::string> out;
  std::error_code ec;
  for (const char* f : kFiles) {
    if (fs::is_regular_file(fs::path(dir_) / f, ec)) out.push_back(f);
  }
  return out;
}

}  // namespace tessera::lm::convert
