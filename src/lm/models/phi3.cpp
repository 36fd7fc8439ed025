// Phi-3 / Phi-3.5 / Phi-4-mini: Llama's blocks with the query, key and value projections stored
// as one tensor (self_attn.qkv_proj, [(Hq + 2 Hkv) D, hidden], in that order) and the gate and
// up projections too (mlp.gate_up_proj, [2 F, hidden], gate first). Both are used fused as stored,
// which is the product Attention and GatedMLP compute anyway. Partial rotary
// (partial_rotary_factor), LongRoPE and the sliding window come from the config.
#include <memory>
#include <string>

#include "lm/models/decoder.h"
#include "lm/models/registry.h"

namespace tessera::lm {

std::shared_ptr<Model> make_phi3(const ModelConfig& c, WeightStore& w) {
  const int H = c.hidden_size, D = c.head_dim, F = c.intermediate_size;
  std::vector<DecoderBlock> blocks;
  blocks.reserve(size_t(c.num_layers));
  for (int i = 0; i < c.num_layers; ++i) {
    const std::string p = layer_prefix("model.", i);
    Linear qkv = load_linear(w, p + "self_attn.qkv_proj", (c.num_heads + 2 * c.num_kv_heads) * D, H, c.attention_bias);
    Linear o = load_linear(w, p + "self_attn.o_proj", H, c.num_heads * D, c.attention_out_bias);
    blocks.push_back(DecoderBlock{
        load_norm(c, w, p + "input_layernorm.weight", H),
        Attention(attention_options(c, i, w), std::move(qkv), std::move(o)),
        load_norm(c, w, p + "post_attention_layernorm.weight", H),
        GatedMLP(load_linear(w, p + "mlp.gate_up_proj", 2 * F, H), load_linear(w, p + "mlp.down_proj", H, F),
                 activation_from_name(c.hidden_act)),
        std::nullopt, std::nullopt});
  }
  return std::make_shared<Decoder>(c, w, std::move(blocks));
}

}  // namespace tessera::lm
