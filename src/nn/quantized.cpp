// Quantized Linear and Embedding layers and the in-place nn::quantize pass.
#include "tessera/nn/quantized.h"

#include <cmath>
#include <stdexcept>

#include "tessera/ops.h"
#include "tessera/random.h"

namespace tessera::nn {

namespace {

void register_quantized(Module& m, const array& weight, int group_size, int bits) {
  std::vector<array> q = tessera::quantize(weight, group_size, bits);
  m.register_buffer("weight", q[0]);
  m.register_buffer("scales", q[1]);
  m.register_buffer("biases", q[2]);
}

}  // namespace

// ---------------------------------------------------------------- QuantizedLinear

QuantizedLinear::QuantizedLinear(const array& weight, const std::optional<array>& bias, int group_size, int bits)
    : group_size_(group_size), bits_(bits) {
  register_quantized(*this, weight, group_size, bits);
  if (bias) {
    register_parameter("bias", *bias);
    freeze({"bias"}, false);
  }
}

QuantizedLinear::QuantizedLinear(int input_dims, int output_dims, bool bias, int group_size, int bits)
    : group_size_(group_size), bits_(bits) {
  float scale = 1.0f / std::sqrt(float(input_dims));
  register_quantized(*this, random::uniform(-scale, scale, {output_dims, input_dims}), group_size, bits);
  if (bias) {
    register_parameter("bias", zeros({output_dims}));
    freeze({"bias"}, false);
  }
}

std::shared_ptr<QuantizedLinear> QuantizedLinear::from_linear(const Linear& linear, int group_size, int bits) {
  std::optional<array> bias;
  if (linear.has_bias()) bias = linear.param("bias");
  std::shared_ptr<QuantizedLinear> q(new QuantizedLinear(linear.param("weight"), bias, group_size, bits));
  q->train(linear.training());
  return q;
}

std::vector<array> QuantizedLinear::forward(const std::vector<array>& inputs) {
  const array& x = single_input(inputs);
  array y = quantized_matmul(x, param("weight"), param("scales"), param("biases"), true, group_size_, bits_);
  if (has_param("bias")) y = add(y, param("bias"));
  return {y};
}

// ---------------------------------------------------------------- QuantizedEmbedding

QuantizedEmbedding::QuantizedEmbedding(const array& weight, int group_size, int bits)
    : group_size_(group_size), bits_(bits) {
  register_quantized(*this, weight, group_size, bits);
}

QuantizedEmbedding::QuantizedEmbedding(int num_embeddings, int dims, int group_size, int bits)
    : group_size_(group_size), bits_(bits) {
  register_quantized(*this, random::normal({num_embeddings, dims}, 0.0f, 1.0f / std::sqrt(float(dims))), group_size,
                     bits);
}

std::shared_ptr<QuantizedEmbedding> QuantizedEmbedding::from_embedding(const Embedding& embedding, int group_size,
                                                                       int bits) {
  std::shared_ptr<QuantizedEmbedding> q(new QuantizedEmbedding(embedding.param("weight"), group_size, bits));
  q->train(embedding.training());
  return q;
}

std::vector<array> QuantizedEmbedding::forward(const std::vector<array>& inputs) {
  const array& idx = single_input(inputs);
  if (!issubdtype(idx.dtype(), integer)) {
    throw std::invalid_argument(std::string("[QuantizedEmbedding] Indices must be integers, got ") +
                                dtype_name(idx.dtype()) + ".");
  }
  // Only the selected rows are dequantized, not the whole table.
  array w = take(param("weight"), idx, 0);
  array s = take(param("scales"), idx, 0);
  array b = take(param("biases"), idx, 0);
  return {dequantize(w, s, b, group_size_, bits_)};
}

array QuantizedEmbedding::as_linear(const array& x) const {
  return quantized_matmul(x, param("weight"), param("scales"), param("biases"), true, group_size_, bits_);
}

// ---------------------------------------------------------------- quantize pass

std::vector<std::string> quantize(Module& model, int group_size, int bits, const QuantizePredicate& predicate) {
  std::vector<std::string> done;
  // Collect first: replacing children while walking the tree would invalidate the walk.
  std::vector<std::pair<std::string, Module*>> candidates;
  for (auto& [path, m] : model.named_modules()) {
    if (path.empty()) continue;
    if (dynamic_cast<Linear*>(m) || dynamic_cast<Embedding*>(m)) candidates.emplace_back(path, m);
  }
  for (auto& [path, m] : candidates) {
    bool take_it = predicate ? predicate(path, *m) : m->param("weight").shape(-1) % group_size == 0;
    if (!take_it) continue;
    if (auto* lin = dynamic_cast<Linear*>(m)) {
      model.set_child(path, QuantizedLinear::from_linear(*lin, group_size, bits));
    } else {
      model.set_child(path, QuantizedEmbedding::from_embedding(*dynamic_cast<Embedding*>(m), group_size, bits));
    }
    done.push_back(path);
  }
  return done;
}

}  // namespace tessera::nn
