// Loading a Hugging Face or MLX (mlx-community) model directory: config.json through
// config_from_hf, the safetensors files memory-mapped with their dtypes kept (bfloat16 stays
// bfloat16), MLX-quantized modules kept packed for quantized_matmul, tokenizer.json /
// tokenizer_config.json through the tokenizer library, and the EOS ids of generation_config.json.
// Hugging Face names are already the WeightStore's names.
#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <stdexcept>

#include "lm/models/hf_config.h"
#include "lm/models/json_file.h"
#include "lm/models/loaders.h"
#include "lm/models/mlx_quantization.h"
#include "lm/models/model_chat_template.h"
#include "lm/models/registry.h"
#include "lm/models/safetensors_shards.h"
#include "lm/models/weights.h"
#include "tessera/gguf.h"
#include "tessera/lm/tokenizer.h"
#include "tessera/ops.h"

namespace tessera::lm {

namespace fs = std::filesystem;

namespace {

using json = nlohmann::json;

[[noreturn]] void fail(const std::string& file, const std::string& what) {
  throw std::invalid_argument("[load_model] " + file + ": " + what);
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_float(Dtype d) { return d == float32 || d == float16 || d == bfloat16 || d == float64; }

// The directory's tensors as model weights: quantized triples (<m>.weight, <m>.scales,
// <m>.biases) become one QuantizedWeight under <m>.weight, everything else stays dense in its
// file's dtype.
class WeightCollector {
 public:
  WeightCollector(const DirectoryTensors& files, const QuantizationConfig& quant, const LoadOptions& options,
                  const std::string& dir, const std::string& config_file)
      : files_(files), quant_(quant), options_(options), dir_(dir), config_file_(config_file) {}

  WeightStore collect() {
    WeightStore store(files_.files.size() == 1 ? (fs::path(dir_) / files_.files[0]).string() : dir_);
    std::set<std::string> consumed;
    for (auto& [name, t] : files_.tensors) {
      if (!ends_with(name, ".scales")) continue;
      const std::string module = name.substr(0, name.size() - 7);
      store.add(module + ".weight", quantized(module));
      consumed.insert({module + ".weight", module + ".scales", module + ".biases"});
    }
    check_modules_said_quantized();
    for (auto& [name, t] : files_.tensors) {
      if (consumed.count(name)) continue;
      store.add(name, dense(name, t));
    }
    return store;
  }

  // One line for the log: what the files held and what became of it.
  std::string summary() const {
    std::string s = std::to_string(files_.tensors.size()) + " tensors in " + std::to_string(files_.files.size()) +
                    " safetensors file" + (files_.files.size() == 1 ? "" : "s") + ":";
    if (!quantized_.empty()) {
      for (auto& [kind, n] : quantized_) {
        s += " " + std::to_string(n) + " MLX-quantized module" + (n == 1 ? "" : "s") + " (" + kind + "),";
      }
      s += options_.keep_quantized ? " kept packed for quantized_matmul;" : " dequantized to float32 at load;";
    }
    bool first = true;
    for (auto& [type, n] : dtypes_) {
      s += (first ? " " : ", ") + std::to_string(n) + " " + type;
      first = false;
    }
    if (widened_ > 0) s += " (" + std::to_string(widened_) + " converted from float64 at load)";
    return s;
  }

 private:
  // How messages name a tensor: with its file when there are several.
  std::string where(const std::string& name) const {
    if (files_.files.size() == 1) return name;
    return files_.tensors.at(name).file + ":" + name;
  }
  std::string where_file(const std::string& name) const {
    auto it = files_.tensors.find(name);
    return (fs::path(dir_) / (it == files_.tensors.end() ? files_.files.front() : it->second.file)).string();
  }

  const array* find(const std::string& name) const {
    auto it = files_.tensors.find(name);
    return it == files_.tensors.end() ? nullptr : &it->second.value;
  }

  Weight quantized(const std::string& module) {
    const std::string scales_name = module + ".scales", file = where_file(scales_name);
    if (!quant_.present()) {
      fail(file, "tensor '" + scales_name + "' marks '" + module + "' as MLX-quantized, but " + config_file_ +
                     " has no \"quantization\" entry (group_size and bits)");
    }
    if (quant_.excluded(module)) {
      fail(file, "holds '" + scales_name + "', but " + config_file_ + " says " + quant_.field + "['" + module +
                     "'] = false (not quantized)");
    }
    std::optional<QuantParams> p = quant_.for_module(module);
    if (!p) fail(config_file_, quant_.field + " gives no group_size and bits for the quantized module '" + module + "'");
    const array* wq = find(module + ".weight");
    const array* biases = find(module + ".biases");
    if (!wq || !biases) {
      fail(file, "quantized module '" + module + "' has scales but no '" + module + (wq ? ".biases" : ".weight") +
                     "' (MLX's affine layout stores weight, scales and biases)");
    }
    Weight w;
    w.source = where(module + ".weight");
    QuantizedWeight q = make_quantized_weight(*wq, *find(scales_name), *biases, *p,
                                              file + ": module '" + module + "'", &w.shape);
    quantized_[std::to_string(p->bits) + "-bit group " + std::to_string(p->group_size)]++;
    if (options_.keep_quantized) {
      q.int8_activations = options_.int8_activations;
      w.quant = q;
    } else {
      array d = dequantize(q.wq, q.scales, q.biases, q.group_size, q.bits, "affine", float32);
      d.eval();
      w.dense = d;
    }
    return w;
  }

  // An entry in config.json that calls a module quantized while the files hold it unpacked would
  // otherwise load silently as a dense layer.
  void check_modules_said_quantized() const {
    for (auto& [module, p] : quant_.modules) {
      if (!p || !find(module + ".weight") || find(module + ".scales")) continue;
      fail(where_file(module + ".weight"), "has no '" + module + ".scales', but " + config_file_ + " gives " +
                                               quant_.field + "['" + module + "'] = {group_size " +
                                               std::to_string(p->group_size) + ", bits " + std::to_string(p->bits) +
                                               "}");
    }
  }

  Weight dense(const std::string& name, const DirectoryTensor& t) {
    Weight w;
    w.source = where(name);
    w.shape = t.value.shape();
    array a = t.value;
    if (!is_float(a.dtype())) {
      if (ends_with(name, ".weight") || ends_with(name, ".bias")) {
        const bool packed = a.dtype() == uint32 && ends_with(name, ".weight");
        fail(where_file(name), "tensor '" + name + "' is " + dtype_name(a.dtype()) +
                                   (packed ? " (packed quantized values) but there is no '" +
                                                 name.substr(0, name.size() - 7) + ".scales'"
                                           : ", expected float32, float16 or bfloat16"));
      }
    } else if (a.dtype() == float64) {
      // The graph has no float64 kernels on its fast paths; such files are rare (exports by hand).
      a = astype(a, float32);
      a.eval();
      widened_++;
    }
    dtypes_[dtype_name(a.dtype())]++;
    w.dense = a;
    return w;
  }

  const DirectoryTensors& files_;
  const QuantizationConfig& quant_;
  const LoadOptions& options_;
  std::string dir_, config_file_;
  std::map<std::string, int> dtypes_, quantized_;
  int widened_ = 0;
};

// eos_token_id as generation_config.json and config.json give it: an id, a list of ids, or null.
std::optional<std::vector<int>> read_eos_ids(const json& j, const std::string& file, int vocab_size) {
  if (!j.is_object()) {
    if (ends_with(file, "generation_config.json")) fail(file, "expected a JSON object");
    return std::nullopt;
  }
  auto it = j.find("eos_token_id");
  if (it == j.end() || it->is_null()) return std::nullopt;
  std::vector<int> ids;
  auto add = [&](const json& v) {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= vocab_size) {
      std::string shown = v.dump(-1, ' ', false, json::error_handler_t::replace);
      if (shown.size() > 40) shown = shown.substr(0, 40) + "...";
      fail(file, "eos_token_id " + shown + " is not a token id of the model's " + std::to_string(vocab_size) +
                     "-token vocabulary");
    }
    ids.push_back(int(v.get<int64_t>()));
  };
  if (it->is_array()) {
    for (auto& v : *it) add(v);
  } else {
    add(*it);
  }
  return ids;
}

// The tokenizer with the EOS ids the model's files add to its own.
class WithEosIds : public TextTokenizer {
 public:
  WithEosIds(std::shared_ptr<TextTokenizer> base, std::vector<int> eos) : base_(std::move(base)), eos_(std::move(eos)) {}
  std::vector<int> encode(std::string_view text, bool add_special_tokens) const override {
    return base_->encode(text, add_special_tokens);
  }
  std::string decode(std::span<const int> ids, bool skip_special_tokens) const override {
    return base_->decode(ids, skip_special_tokens);
  }
  std::unique_ptr<TextStream> stream(std::span<const int> context, bool skip_special_tokens) const override {
    return base_->stream(context, skip_special_tokens);
  }
  int vocab_size() const override { return base_->vocab_size(); }
  std::optional<int> bos_id() const override { return base_->bos_id(); }
  std::vector<int> eos_ids() const override { return eos_; }

 private:
  std::shared_ptr<TextTokenizer> base_;
  std::vector<int> eos_;
};

std::shared_ptr<TextTokenizer> load_tokenizer(const fs::path& dir, const json& config, const std::string& config_file,
                                              const ModelConfig& cfg) {
  std::error_code ec;
  if (!fs::exists(dir / "tokenizer.json", ec)) {
    gguf::log("[load_model] " + dir.string() + ": no tokenizer.json; the model runs on token ids only");
    return nullptr;
  }
  std::shared_ptr<TextTokenizer> tok = as_text_tokenizer(Tokenizer::from_directory(dir.string()));
  if (tok->vocab_size() > cfg.vocab_size) {
    fail((dir / "tokenizer.json").string(), "the tokenizer has " + std::to_string(tok->vocab_size()) +
                                                " tokens but the model's embedding only " +
                                                std::to_string(cfg.vocab_size) + " rows");
  }
  // generation_config.json decides which ids end a generation (transformers' generate reads it,
  // and instruction-tuned models list their end-of-turn tokens there), else config.json's
  // eos_token_id; the tokenizer's own EOS always stays one of them.
  std::optional<std::vector<int>> eos;
  const fs::path gen = dir / "generation_config.json";
  if (fs::exists(gen, ec)) eos = read_eos_ids(read_json_file(gen.string()), gen.string(), cfg.vocab_size);
  if (!eos) eos = read_eos_ids(config, config_file, cfg.vocab_size);
  if (!eos) return tok;
  std::vector<int> ids = tok->eos_ids();
  for (int id : *eos) {
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  }
  if (ids == tok->eos_ids()) return tok;
  return std::make_shared<WithEosIds>(tok, std::move(ids));
}

}  // namespace

LoadedModel load_hf_model(const std::string& dir_name, const LoadOptions& options) {
  const fs::path dir(dir_name);
  const fs::path config_path = dir / "config.json";
  const std::string config_file = config_path.string();
  std::error_code ec;
  if (!fs::is_regular_file(config_path, ec)) {
    fail(dir_name, "no config.json (a model directory holds config.json, model.safetensors or "
                   "model-*.safetensors shards with model.safetensors.index.json, and tokenizer.json)");
  }
  const json config = read_json_file(config_file);
  ModelConfig cfg = config_from_hf(config, config_file);
  ModelFactory make = find_architecture(cfg.architecture, config_file);
  QuantizationConfig quant = parse_quantization(config, config_file);

  DirectoryTensors files = load_directory_tensors(dir_name);
  WeightCollector collector(files, quant, options, dir_name, config_file);
  WeightStore store = collector.collect();
  gguf::log("[load_model] " + dir_name + ": " + collector.summary());

  // The layer count sizes per-layer state before any weight is looked up: a count the files do
  // not back must fail here with a message, not allocate.
  const std::string last_layer = "model.layers." + std::to_string(cfg.num_layers - 1) + ".";
  auto has_prefix = [&](const std::string& p) {
    auto it = files.tensors.lower_bound(p);
    return it != files.tensors.end() && it->first.rfind(p, 0) == 0;
  };
  if (!has_prefix(last_layer)) {
    fail(config_file, "num_hidden_layers = " + std::to_string(cfg.num_layers) + " but the weights hold no tensors of layer " +
                          std::to_string(cfg.num_layers - 1) + " ('" + last_layer + "*')");
  }

  LoadedModel out;
  out.path = dir_name;
  out.model = make(cfg, store);
  if (auto unused = store.unused(); !unused.empty()) {
    std::string names;
    for (size_t i = 0; i < unused.size() && i < 5; ++i) names += (i ? ", " : "") + unused[i];
    gguf::log("[load_model] " + dir_name + ": " + std::to_string(unused.size()) + " tensors are not used by the model (" +
              names + (unused.size() > 5 ? ", ..." : "") + ")");
  }
  out.tokenizer = load_tokenizer(dir, config, config_file, cfg);
  out.chat_template = directory_chat_template(dir);
  return out;
}

}  // namespace tessera::lm
