// Embedding table (follows MLX's nn.Embedding): weight [num_embeddings, dims] drawn from
// normal(0, 1/sqrt(dims)); forward looks up rows by integer index. as_linear uses the table as
// the output projection of a tied language-model head.
#pragma once

#include "tessera/nn/module.h"

namespace tessera::nn {

class Embedding : public Module {
 public:
  Embedding(int num_embeddings, int dims);
  std::string type_name() const override { return "Embedding"; }
  std::vector<array> forward(const std::vector<array>& inputs) override;
  using Module::operator();

  // x [..., dims] -> logits [..., num_embeddings] (x W^T).
  array as_linear(const array& x) const;

  int num_embeddings() const { return param("weight").shape(0); }
  int dims() const { return param("weight").shape(1); }
};

}  // namespace tessera::nn
