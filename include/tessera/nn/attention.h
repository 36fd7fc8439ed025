// Multi-head attention (follows MLX's nn.MultiHeadAttention): separate query/key/value/output
// projections named query_proj, key_proj, value_proj and out_proj, heads split from the projected
// features, scaled dot-product attention with scale 1/sqrt(head_dim), no bias by default.
#pragma once

#include <optional>
#include <string>

#include "tessera/nn/linear.h"
#include "tessera/nn/module.h"

namespace tessera::nn {

class MultiHeadAttention : public Module {
 public:
  // Zero means "same as dims" for every size, except value_input_dims, which defaults to
  // key_input_dims (MLX's defaults).
  struct Options {
    int query_input_dims = 0;
    int key_input_dims = 0;
    int value_input_dims = 0;
    int value_dims = 0;
    int value_output_dims = 0;
    bool bias = false;
  };

  MultiHeadAttention(int dims, int num_heads, bool bias = false);
  MultiHeadAttention(int dims, int num_heads, const Options& options);

  std::string type_name() const override { return "MultiHeadAttention"; }
  // queries [B, L, Dq], keys [B, S, Dk], values [B, S, Dv] -> [B, L, value_output_dims].
  // An additive float mask or a boolean keep-mask broadcastable to [B, heads, L, S].
  array operator()(const array& queries, const array& keys, const array& values,
                   const std::optional<array>& mask = std::nullopt);
  // mask_mode "causal": query i attends to keys j <= i (aligned at the end when S > L).
  array operator()(const array& queries, const array& keys, const array& values, const std::string& mask_mode);
  // Inputs {queries, keys, values} or {queries, keys, values, mask}.
  std::vector<array> forward(const std::vector<array>& inputs) override;
  using Module::operator();

  int num_heads() const { return num_heads_; }

  // [N, N] additive mask: 0 on and below the diagonal, the dtype's most negative finite value above.
  static array create_additive_causal_mask(int n, Dtype dtype = float32);

 private:
  array attend(const array& queries, const array& keys, const array& values, const std::string& mask_mode,
               const std::optional<array>& mask);
  int num_heads_;
};

}  // namespace tessera::nn
