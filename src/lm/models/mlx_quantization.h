// MLX-quantized model directories (mlx-community's layout, written by mlx_lm.convert -q):
// config.json's "quantization" entry gives the default {"group_size", "bits"} and, for mixed
// recipes, per-module entries named by the module's path ("model.layers.0.mlp.down_proj":
// {"group_size": 64, "bits": 8}, or false for a module left unquantized). A quantized module
// stores <path>.weight (uint32, bits-bit values packed little-endian along the rows),
// <path>.scales and <path>.biases: tessera::quantize's affine layout, used as it is.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "lm/models/weights.h"

namespace tessera::lm {

struct QuantParams {
  int group_size;
  int bits;
};

struct QuantizationConfig {
  std::string field;  // "quantization" or "quantization_config" (for messages); empty: none
  std::optional<QuantParams> defaults;
  // Module path -> its parameters; nullopt: the module is not quantized.
  std::map<std::string, std::optional<QuantParams>> modules;

  bool present() const { return !field.empty(); }
  // The parameters for `module`: its own entry, else the defaults. nullopt when the entry says
  // false or there are neither.
  std::optional<QuantParams> for_module(const std::string& module) const;
  // Whether config.json has an entry naming `module` that says it is not quantized.
  bool excluded(const std::string& module) const;
};

// Reads config.json's "quantization" (or, when absent, "quantization_config" without a
// "quant_method": mlx-lm writes both). Other quantization methods (GPTQ, AWQ, bitsandbytes, FP8:
// a quantization_config with "quant_method") are refused. std::invalid_argument naming `file` and
// the field for bad values (group sizes 32/64/128, bits 2/3/4/5/6/8, mode "affine").
QuantizationConfig parse_quantization(const nlohmann::json& config, const std::string& file);

// The quantized weight of a module from its three tensors, checked against `p`: wq uint32 with
// its last axis packing bits-bit values, scales and biases floating point with one column per
// group. Returns the weight and its logical (dequantized) shape. `what` names the module and its
// file in messages.
QuantizedWeight make_quantized_weight(const array& wq, const array& scales, const array& biases, QuantParams p,
                                      const std::string& what, Shape* logical_shape);

}  // namespace tessera::lm
