// Weights a model file gave, under Hugging Face-style names ("model.layers.0.self_attn.q_proj.weight"),
// whatever the file format called them, so model files are written once for every format.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "tessera/array.h"

namespace tessera::lm {

// w ≈ scales * q + biases per group of `group_size` along the last axis (tessera::quantize's layout).
struct QuantizedWeight {
  array wq, scales, biases;
  int group_size;
  int bits;
  // Decoding products may round the activations to int8 (LoadOptions::int8_activations).
  bool int8_activations = false;
};

struct Weight {
  std::optional<array> dense;
  std::optional<QuantizedWeight> quant;
  Shape shape;          // the logical (dequantized) shape
  std::string source;   // the name in the file, for messages
};

class WeightStore {
 public:
  explicit WeightStore(std::string file) : file_(std::move(file)) {}
  void add(const std::string& name, Weight w) { map_.insert_or_assign(name, std::move(w)); }
  bool has(const std::string& name) const { return map_.count(name) > 0; }
  // The weight, checked to have `shape`; std::invalid_argument naming the file and the tensor's
  // name in the file when it is missing or mis-shaped.
  const Weight& get(const std::string& name, const Shape& shape);
  // Dense (dequantized when the file stored it quantized).
  array dense(const std::string& name, const Shape& shape);
  const std::string& file() const { return file_; }
  // Names never asked for (tensors the model does not use).
  std::vector<std::string> unused() const;

 private:
  std::string file_;
  std::unordered_map<std::string, Weight> map_;
  std::unordered_set<std::string> used_;
};

}  // namespace tessera::lm
