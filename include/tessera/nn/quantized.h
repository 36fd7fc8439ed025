// Quantized layers (follows MLX's nn.QuantizedLinear / nn.QuantizedEmbedding / nn.quantize) in the
// affine layout of tessera::quantize: weights packed into uint32 words along the input axis with
// one scale and bias per group of `group_size` (32, 64 or 128) values of `bits` (2, 3, 4, 5, 6 or 8).
//
// The packed weight, scales and biases are buffers: saved, loaded and updated with the model but
// never trained (their gradients are not defined for packed integers). A Linear's bias carries
// over as a parameter that starts frozen, as in MLX; unfreeze it to fine-tune it.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tessera/nn/embedding.h"
#include "tessera/nn/linear.h"
#include "tessera/nn/module.h"

namespace tessera::nn {

class QuantizedLinear : public Module {
 public:
  // A freshly initialized Linear, quantized.
  QuantizedLinear(int input_dims, int output_dims, bool bias = true, int group_size = 64, int bits = 4);
  static std::shared_ptr<QuantizedLinear> from_linear(const Linear& linear, int group_size = 64, int bits = 4);

  std::string type_name() const override { return "QuantizedLinear"; }
  std::vector<array> forward(const std::vector<array>& inputs) override;
  using Module::operator();

  int group_size() const { return group_size_; }
  int bits() const { return bits_; }

 private:
  QuantizedLinear(const array& weight, const std::optional<array>& bias, int group_size, int bits);
  int group_size_, bits_;
};

class QuantizedEmbedding : public Module {
 public:
  QuantizedEmbedding(int num_embeddings, int dims, int group_size = 64, int bits = 4);
  static std::shared_ptr<QuantizedEmbedding> from_embedding(const Embedding& embedding, int group_size = 64,
                                                            int bits = 4);

  std::string type_name() const override { return "QuantizedEmbedding"; }
  // Dequantizes the looked-up rows.
  std::vector<array> forward(const std::vector<array>& inputs) override;
  using Module::operator();
  // x [..., dims] -> [..., num_embeddings] through quantized_matmul (tied heads).
  array as_linear(const array& x) const;

  int group_size() const { return group_size_; }
  int bits() const { return bits_; }

 private:
  QuantizedEmbedding(const array& weight, int group_size, int bits);
  int group_size_, bits_;
};

// Decides whether the module at `path` gets quantized.
using QuantizePredicate = std::function<bool(const std::string& path, const Module& module)>;

// Replaces every Linear and Embedding below `model` (not `model` itself) by its quantized form,
// in place. Without a predicate, layers whose input axis is not a multiple of group_size are left
// as they are. Returns the paths that were quantized.
std::vector<std::string> quantize(Module& model, int group_size = 64, int bits = 4,
                                  const QuantizePredicate& predicate = nullptr);

}  // namespace tessera::nn
