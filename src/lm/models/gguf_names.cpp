#include "lm/models/gguf_names.h"

#include <utility>

namespace tessera::lm {

namespace {

constexpr std::pair<const char*, const char*> kGlobalNames[] = {
    {"token_embd.weight", "model.embed_tokens.weight"},
    {"output_norm.weight", "model.norm.weight"},
    {"output.weight", "lm_head.weight"},
};
constexpr std::pair<const char*, const char*> kBlockNames[] = {
    {"attn_norm", "input_layernorm"},
    {"ffn_norm", "post_attention_layernorm"},
    {"attn_q", "self_attn.q_proj"},
    {"attn_k", "self_attn.k_proj"},
    {"attn_v", "self_attn.v_proj"},
    {"attn_output", "self_attn.o_proj"},
    {"attn_q_norm", "self_attn.q_norm"},
    {"attn_k_norm", "self_attn.k_norm"},
    {"ffn_gate", "mlp.gate_proj"},
    {"ffn_up", "mlp.up_proj"},
    {"ffn_down", "mlp.down_proj"},
};
// Where an architecture names a block tensor differently, its entry here wins: Gemma's ffn_norm
// is the norm before the MLP, its sandwich norms have their own names, and Phi-3 keeps q/k/v and
// gate/up fused (attn_qkv; ffn_up holds gate then up).
struct ArchName {
  const char* arch;
  const char* gguf;
  const char* hf;
};
constexpr ArchName kArchBlockNames[] = {
    {"gemma2", "ffn_norm", "pre_feedforward_layernorm"},
    {"gemma2", "post_attention_norm", "post_attention_layernorm"},
    {"gemma2", "post_ffw_norm", "post_feedforward_layernorm"},
    {"gemma3", "ffn_norm", "pre_feedforward_layernorm"},
    {"gemma3", "post_attention_norm", "post_attention_layernorm"},
    {"gemma3", "post_ffw_norm", "post_feedforward_layernorm"},
    {"phi3", "attn_qkv", "self_attn.qkv_proj"},
    {"phi3", "ffn_up", "mlp.gate_up_proj"},
};

bool all_digits(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

std::string hf_name(const std::string& name, const std::string& arch) {
  for (auto& [g, h] : kGlobalNames) {
    if (name == g) return h;
  }
  // blk.<n>.<part>.<weight|bias>
  if (name.rfind("blk.", 0) == 0) {
    size_t dot = name.find('.', 4);
    size_t last = name.rfind('.');
    if (dot != std::string::npos && last > dot) {
      std::string layer = name.substr(4, dot - 4), part = name.substr(dot + 1, last - dot - 1);
      auto renamed = [&](const char* h) { return "model.layers." + layer + "." + h + name.substr(last); };
      for (auto& e : kArchBlockNames) {
        if (arch == e.arch && part == e.gguf) return renamed(e.hf);
      }
      for (auto& [g, h] : kBlockNames) {
        if (part == g) return renamed(h);
      }
    }
  }
  return name;
}

std::optional<std::string> gguf_tensor_name(const std::string& name, const std::string& arch) {
  for (auto& [g, h] : kGlobalNames) {
    if (name == h) return std::string(g);
  }
  const std::string prefix = "model.layers.";
  if (name.rfind(prefix, 0) != 0) return std::nullopt;
  const size_t dot = name.find('.', prefix.size()), last = name.rfind('.');
  if (dot == std::string::npos || last <= dot) return std::nullopt;
  const std::string layer = name.substr(prefix.size(), dot - prefix.size());
  const std::string part = name.substr(dot + 1, last - dot - 1), suffix = name.substr(last);
  if (!all_digits(layer) || (suffix != ".weight" && suffix != ".bias")) return std::nullopt;
  auto renamed = [&](const char* g) { return "blk." + layer + "." + g + suffix; };
  for (auto& e : kArchBlockNames) {
    if (arch == e.arch && part == e.hf) return renamed(e.gguf);
  }
  for (auto& [g, h] : kBlockNames) {
    if (part != h) continue;
    // An architecture that renames this GGUF part uses the generic HF name for something else.
    bool shadowed = false;
    for (auto& e : kArchBlockNames) shadowed = shadowed || (arch == e.arch && std::string(g) == e.gguf);
    if (!shadowed) return renamed(g);
  }
  return std::nullopt;
}

}  // namespace tessera::lm
