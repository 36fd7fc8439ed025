#include "tessera/lm/hf_export.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <unistd.h>

#include "tessera/io.h"
#include "tessera/lm/tokenizer.h"
#include "tessera/ops.h"

namespace tessera::lm {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

void write_json(const fs::path& p, const json& j) {
  std::ofstream f(p);
  f << j.dump(2) << "\n";
  if (!f.flush()) throw std::runtime_error("[export_hf_directory] " + p.string() + ": write failed");
}

const char* torch_dtype(Dtype d) {
  if (d == bfloat16) return "bfloat16";
  if (d == float16) return "float16";
  return "float32";
}

}  // namespace

void export_hf_directory(const CausalLM& model, const std::string& tokenizer_dir, const std::string& out_dir,
                         const ExportOptions& options) {
  if (options.dtype != float32 && options.dtype != bfloat16 && options.dtype != float16) {
    throw std::invalid_argument(std::string("[export_hf_directory] weights must be float32, bfloat16 or float16, got ") +
                                dtype_name(options.dtype));
  }
  const fs::path tok_json = fs::path(tokenizer_dir) / "tokenizer.json";
  if (!fs::exists(tok_json)) throw std::invalid_argument("[export_hf_directory] " + tok_json.string() + ": not found");
  const Tokenizer tokenizer = Tokenizer::from_directory(tokenizer_dir);
  const ModelConfig& c = model.config();

  fs::path out(out_dir);
  if (out.filename().empty()) out = out.parent_path();
  if (!out.parent_path().empty()) fs::create_directories(out.parent_path());
  const fs::path tmp = out.string() + ".tmp-" + std::to_string(::getpid());
  fs::remove_all(tmp);
  fs::create_directories(tmp);

  json config = {{"architectures", {"LlamaForCausalLM"}},
                 {"model_type", "llama"},
                 {"vocab_size", c.vocab_size},
                 {"hidden_size", c.hidden_size},
                 {"intermediate_size", c.intermediate_size},
                 {"num_hidden_layers", c.num_layers},
                 {"num_attention_heads", c.num_heads},
                 {"num_key_value_heads", c.num_kv_heads},
                 {"head_dim", c.head_dim},
                 {"hidden_act", "silu"},
                 {"rms_norm_eps", c.rms_norm_eps},
                 {"rope_theta", c.rope_theta},
                 {"rope_scaling", nullptr},
                 {"attention_bias", false},
                 {"mlp_bias", false},
                 {"tie_word_embeddings", c.tie_word_embeddings},
                 {"torch_dtype", torch_dtype(options.dtype)}};
  if (options.max_position_embeddings > 0) config["max_position_embeddings"] = options.max_position_embeddings;
  json generation = json::object();
  if (auto b = tokenizer.bos_id()) config["bos_token_id"] = generation["bos_token_id"] = *b;
  if (auto e = tokenizer.eos_id()) config["eos_token_id"] = generation["eos_token_id"] = *e;
  write_json(tmp / "config.json", config);
  write_json(tmp / "generation_config.json", generation);

  std::unordered_map<std::string, array> weights;
  for (auto& [name, p] : model.parameters()) {
    weights.emplace(name, p.dtype() == options.dtype ? p : astype(p, options.dtype));
  }
  save_safetensors((tmp / "model.safetensors").string(), std::move(weights), {{"format", "pt"}});

  fs::copy_file(tok_json, tmp / "tokenizer.json");
  if (fs::path cfg = fs::path(tokenizer_dir) / "tokenizer_config.json"; fs::exists(cfg)) {
    fs::copy_file(cfg, tmp / "tokenizer_config.json");
  }
  // Replace an earlier export only once the new one is complete.
  const fs::path old = out.string() + ".old-" + std::to_string(::getpid());
  if (fs::exists(out)) fs::rename(out, old);
  fs::rename(tmp, out);
  fs::remove_all(old);
}

}  // namespace tessera::lm
