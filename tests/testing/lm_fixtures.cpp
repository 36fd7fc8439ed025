#include "testing/lm_fixtures.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <unordered_map>
#include <vector>

#include "tessera/gguf.h"
#include "tessera/io.h"
#include "tessera/tessera.h"

namespace tessera::testing::stories260k {

namespace fs = std::filesystem;
using json = nlohmann::json;

fs::path data_dir() { return fs::path(TESSERA_SOURCE_DIR) / ".." / "shared" / "data" / "models" / "stories260K"; }
fs::path gguf_path() { return data_dir() / "stories260K.gguf"; }

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream f(p, std::ios::binary);
  f << text;
}

// llama.cpp's names -> transformers' (written out here, independently of the GGUF loader's table).
std::string hf_name(const std::string& g) {
  static const std::map<std::string, std::string> global = {{"token_embd.weight", "model.embed_tokens.weight"},
                                                            {"output_norm.weight", "model.norm.weight"},
                                                            {"output.weight", "lm_head.weight"}};
  static const std::map<std::string, std::string> block = {
      {"attn_norm", "input_layernorm"},  {"ffn_norm", "post_attention_layernorm"}, {"attn_q", "self_attn.q_proj"},
      {"attn_k", "self_attn.k_proj"},    {"attn_v", "self_attn.v_proj"},           {"attn_output", "self_attn.o_proj"},
      {"ffn_gate", "mlp.gate_proj"},     {"ffn_up", "mlp.up_proj"},                {"ffn_down", "mlp.down_proj"}};
  if (auto it = global.find(g); it != global.end()) return it->second;
  // blk.N.part.weight
  size_t a = g.find('.', 4), b = g.rfind('.');
  return "model.layers." + g.substr(4, a - 4) + "." + block.at(g.substr(a + 1, b - a - 1)) + g.substr(b);
}

// llama.cpp's converter reorders each head's rows from [first half; second half] (HF's rotate_half
// rope) to interleaved pairs: row 2i + j of a GGUF head is row j * D/2 + i of the HF head. The HF
// rows are therefore the GGUF ones viewed as [heads, D/2, 2, in] with the middle axes swapped.
array unpermute_rope_rows(const array& w, int heads) {
  const int rows = w.shape(0), in = w.shape(1), d = rows / heads;
  array r = reshape(transpose(reshape(w, {heads, d / 2, 2, in}), {0, 2, 1, 3}), {rows, in});
  r = contiguous(r);
  r.eval();
  return r;
}

// stories260K's tensors under HF names and layout (float32).
const Tensors& hf_tensors() {
  static Tensors t = [] {
    gguf::Reader r(gguf_path().string());
    Tensors out;
    for (auto& info : r.tensors()) {
      array a = contiguous(r.load(info.name));
      a.eval();
      std::string name = hf_name(info.name);
      if (name.find("q_proj") != std::string::npos) a = unpermute_rope_rows(a, kHeads);
      if (name.find("k_proj") != std::string::npos) a = unpermute_rope_rows(a, kKvHeads);
      out.emplace(name, a);
    }
    return out;
  }();
  return t;
}

json config_json() {
  return {{"architectures", {"LlamaForCausalLM"}},
          {"model_type", "llama"},
          {"vocab_size", kVocab},
          {"hidden_size", kHidden},
          {"num_hidden_layers", kLayers},
          {"num_attention_heads", kHeads},
          {"num_key_value_heads", kKvHeads},
          {"intermediate_size", kFfn},
          {"max_position_embeddings", 512},
          {"rms_norm_eps", 1e-5},
          {"rope_theta", 10000.0},
          {"hidden_act", "silu"},
          {"tie_word_embeddings", false},
          {"bos_token_id", 1},
          {"eos_token_id", 2},
          {"torch_dtype", "float32"}};
}

// tokenizer.json in the form transformers' Llama converter writes for a SentencePiece BPE model:
// the pieces as the BPE vocabulary, merges ordered by the merged piece's score (the highest score
// merges first, which is SentencePiece's rule), byte fallback, "▁" for spaces with one in front.
json tokenizer_json() {
  gguf::Reader r(gguf_path().string());
  const auto& pieces = r.at("tokenizer.ggml.tokens").strings();
  const auto scores = r.at("tokenizer.ggml.scores").floats();
  const auto types = r.at("tokenizer.ggml.token_type").ints();
  json vocab = json::object();
  std::map<std::string, int> normal;
  for (size_t i = 0; i < pieces.size(); ++i) {
    vocab[pieces[i]] = int(i);
    if (types[i] == 1) normal[pieces[i]] = int(i);
  }
  struct Merge {
    float score;
    int id, left;
    std::string l, r;
  };
  std::vector<Merge> merges;
  for (auto& [piece, id] : normal) {
    for (size_t cut = 1; cut < piece.size(); ++cut) {
      if ((uint8_t(piece[cut]) & 0xC0) == 0x80) continue;  // inside a UTF-8 character
      std::string l = piece.substr(0, cut), rr = piece.substr(cut);
      if (normal.count(l) && normal.count(rr)) merges.push_back({scores[size_t(id)], id, normal[l], l, rr});
    }
  }
  std::sort(merges.begin(), merges.end(), [](const Merge& a, const Merge& b) {
    if (a.score != b.score) return a.score > b.score;
    return a.id != b.id ? a.id < b.id : a.left < b.left;
  });
  json merge_list = json::array();
  for (auto& m : merges) merge_list.push_back({m.l, m.r});
  auto added = [](int id, const char* content) {
    return json{{"id", id},           {"content", content}, {"single_word", false}, {"lstrip", false},
                {"rstrip", false},    {"normalized", false}, {"special", true}};
  };
  const std::string space = "\xE2\x96\x81";
  return {
      {"version", "1.0"},
      {"added_tokens", {added(0, "<unk>"), added(1, "<s>"), added(2, "</s>")}},
      {"normalizer",
       {{"type", "Sequence"},
        {"normalizers",
         {{{"type", "Prepend"}, {"prepend", space}},
          {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", space}}}}}},
      {"pre_tokenizer", nullptr},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single", {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
        {"pair",
         {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
          {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
          {{"SpecialToken", {{"id", "<s>"}, {"type_id", 1}}}},
          {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}}},
        {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}}},
      {"decoder",
       {{"type", "Sequence"},
        {"decoders",
         {{{"type", "Replace"}, {"pattern", {{"String", space}}}, {"content", " "}},
          {{"type", "ByteFallback"}},
          {{"type", "Fuse"}},
          {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}}},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", "<unk>"},
        {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr},
        {"fuse_unk", true},
        {"byte_fallback", true},
        {"vocab", vocab},
        {"merges", merge_list}}}};
}

json tokenizer_config_json() {
  return {{"add_bos_token", true},
          {"add_eos_token", false},
          {"bos_token", "<s>"},
          {"eos_token", "</s>"},
          {"unk_token", "<unk>"},
          {"tokenizer_class", "LlamaTokenizer"},
          {"chat_template", "{% for m in messages %}{{ m['content'] }}{% endfor %}"}};
}


void write_dir(const fs::path& dir, const Tensors& tensors, const DirOptions& o) {
  fs::create_directories(dir);
  write_text(dir / "config.json", o.config.dump(2));
  if (o.tokenizer) {
    static const std::string tok = tokenizer_json().dump();
    write_text(dir / "tokenizer.json", tok);
    write_text(dir / "tokenizer_config.json", o.tokenizer_config.value_or(tokenizer_config_json()).dump(2));
  }
  if (o.generation_config) write_text(dir / "generation_config.json", o.generation_config->dump(2));
  if (o.shards == 1) {
    save_safetensors((dir / "model.safetensors").string(), {tensors.begin(), tensors.end()}, {{"format", "pt"}});
    return;
  }
  // Contiguous runs of names per shard, as transformers' save_pretrained fills shards in order.
  std::vector<std::unordered_map<std::string, array>> parts(size_t(o.shards));
  json weight_map = json::object();
  size_t i = 0, total = 0;
  for (auto& [name, a] : tensors) {
    size_t k = i++ * size_t(o.shards) / tensors.size();
    char file[64];
    std::snprintf(file, sizeof file, "model-%05zu-of-%05d.safetensors", k + 1, o.shards);
    parts[k].emplace(name, a);
    weight_map[name] = file;
    total += a.nbytes();
  }
  for (size_t k = 0; k < parts.size(); ++k) {
    char file[64];
    std::snprintf(file, sizeof file, "model-%05zu-of-%05d.safetensors", k + 1, o.shards);
    save_safetensors((dir / file).string(), parts[k], {{"format", "pt"}});
  }
  write_text(dir / "model.safetensors.index.json",
             json{{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}}.dump(2));
}

}  // namespace tessera::testing::stories260k
