// What the three conversions share: error messages, the output directory that appears only when
// complete, safetensors shards, and the source Hugging Face directory as a list of tensors.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "lm/models/mlx_quantization.h"
#include "lm/models/safetensors_shards.h"
#include "tessera/array.h"
#include "tessera/lm/convert.h"
#include "tessera/lm/model.h"

namespace tessera::lm::convert {

namespace fs = std::filesystem;

[[noreturn]] void fail(const std::string& where, const std::string& what);
bool ends_with(const std::string& s, const std::string& suffix);
bool is_float(Dtype d);
// "float16", "bfloat16", "float32": transformers' torch_dtype names.
const char* torch_dtype_name(Dtype d);
// A float as the shortest decimal that reads back to it (1e-05, not 9.99999974737875e-06), for
// config.json fields that passed through float32 metadata.
double shortest_double(float f);

// An output directory written under a temporary name beside the target and renamed into place by
// commit(); dropped without a commit, the temporary directory is removed. An existing target is an
// error unless `overwrite`, and is replaced only once the new directory is complete.
class OutputDir {
 public:
  OutputDir(const std::string& target, bool overwrite);
  ~OutputDir();
  OutputDir(const OutputDir&) = delete;
  OutputDir& operator=(const OutputDir&) = delete;
  const fs::path& tmp() const { return tmp_; }
  const fs::path& target() const { return target_; }
  void commit();

 private:
  fs::path target_, tmp_;
  bool committed_ = false;
};

// Refuses an existing output file unless `overwrite`, and an output that is the input.
void check_output_file(const std::string& out, const std::string& in, bool overwrite);

void write_json(const fs::path& p, const nlohmann::json& j);

// Safetensors files filled in order up to `max_bytes` each: model.safetensors when one is enough,
// else model-0000k-of-0000n.safetensors with model.safetensors.index.json (transformers' and
// mlx-lm's names). Each tensor is evaluated as it is added and a full shard is written at once, so
// at most one shard of converted tensors is held in memory.
class ShardWriter {
 public:
  ShardWriter(fs::path dir, uint64_t max_bytes, std::string format);
  void add(const std::string& name, array a);
  // Writes the last shard and the index; returns the file names written.
  std::vector<std::string> finish();
  uint64_t bytes() const { return total_; }

 private:
  void flush();
  fs::path dir_;
  uint64_t max_bytes_;
  std::string format_;
  std::unordered_map<std::string, array> pending_;
  uint64_t pending_bytes_ = 0, total_ = 0;
  std::map<std::string, int> shard_of_;
  int shards_ = 0;
};

// A Hugging Face (or MLX) model directory as the conversions read it: config.json, its
// ModelConfig, and its tensors (memory-mapped; MLX-quantized modules dequantized on request), or
// random tensors of the config's shapes.
class HfSource {
 public:
  HfSource(const std::string& dir, const ConvertCommon& options);
  const std::string& dir() const { return dir_; }
  const nlohmann::json& config() const { return config_; }
  const std::string& config_file() const { return config_file_; }
  const ModelConfig& model() const { return model_; }
  // Tensor names (quantized modules as "<m>.weight"), embedding first, then layer by layer in
  // numeric order, then the rest.
  const std::vector<std::string>& names() const { return names_; }
  // The tensor as a floating array (lazy): as stored, dequantized, or drawn.
  array get(const std::string& name) const;
  Shape shape(const std::string& name) const;
  bool quantized(const std::string& name) const { return quant_modules_.count(name) > 0; }
  int64_t quantized_count() const { return int64_t(quant_modules_.size()); }
  // config.json's torch_dtype when it names float16 / bfloat16 / float32.
  std::optional<Dtype> torch_dtype() const;
  // The files beside the weights that a converted directory keeps (tokenizer, generation config).
  std::vector<std::string> side_files() const;

 private:
  void random_tensors(uint64_t seed);
  std::string dir_, config_file_;
  nlohmann::json config_;
  ModelConfig model_;
  DirectoryTensors files_;
  QuantizationConfig quant_;
  std::map<std::string, QuantParams> quant_modules_;  // "<m>.weight" -> its parameters
  std::map<std::string, std::pair<Shape, int>> random_;  // name -> shape, kind (0 normal, 1 ones)
  Dtype random_dtype_ = float32;
  uint64_t seed_ = 0;
  std::vector<std::string> names_;
};

// Orders names as HfSource::names does.
void sort_tensor_names(std::vector<std::string>& names);

// Reports each finished tensor to `progress` (if any).
struct ProgressCounter {
  const ConvertProgress& progress;
  std::string stage;
  uint64_t total;
  uint64_t done = 0;
  void step() {
    ++done;
    if (progress) progress(stage, done, total);
  }
};

}  // namespace tessera::lm::convert
