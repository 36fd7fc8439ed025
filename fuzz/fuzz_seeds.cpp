// Writes seed corpora for the fuzz targets: DIR/npy, DIR/npz and DIR/safetensors get small valid
// files covering every dtype, 0-d and empty shapes, Fortran order, big-endian data, .npy format
// versions 1.0-3.0, stored and deflated archives, metadata and misaligned tensors.
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <unordered_map>
#include <string>
#include <vector>

#include "tessera/gguf.h"
#include "tessera/io.h"
#include "tessera/lm/prompt_cache.h"
#include "tessera/tessera.h"

using namespace tessera;

namespace {

const std::vector<Dtype> kDtypes = {bool_, uint8,   uint16,  uint32,  uint64,   int8,     int16,
                                    int32, int64,   float16, float32, float64,  bfloat16, complex64};

array iota(const Shape& shape, Dtype dtype) {
  size_t n = 1;
  for (auto d : shape) n *= size_t(d);
  return astype(reshape(arange(double(n), float32), shape), dtype);
}

void write_raw(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// A hand-made .npy file: lets the seeds hold what Tessera's own writer never produces.
std::string npy(int version, const std::string& dict, const std::string& payload) {
  std::string out = "\x93NUMPY";
  out += char(version);
  out += char(0);
  size_t fixed = out.size() + (version == 1 ? 2 : 4);
  std::string header = dict;
  while ((fixed + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  for (size_t b = 0; b < (version == 1 ? 2u : 4u); ++b) out += char((header.size() >> (8 * b)) & 0xFF);
  return out + header + payload;
}

std::string safetensors(const std::string& json, const std::string& payload) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = char((uint64_t(json.size()) >> (8 * i)) & 0xFF);
  return out + json + payload;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  std::string dir = argv[1];
  for (const char* sub : {"", "/npy", "/npz", "/safetensors", "/tokenizer_json", "/gguf", "/model_dir", "/prompt_cache"})
    mkdir((dir + sub).c_str(), 0755);

  // .npy
  for (Dtype dt : kDtypes) save(dir + "/npy/" + dtype_name(dt) + ".npy", iota({2, 3}, dt));
  save(dir + "/npy/scalar.npy", array(1.5f));
  save(dir + "/npy/empty.npy", zeros({0, 4}, int16));
  save(dir + "/npy/fortran.npy", transpose(iota({3, 4, 2}, float32)));
  std::string be_i32("\0\0\0\1\0\0\0\2\0\0\0\3", 12);
  write_raw(dir + "/npy/big_endian.npy", npy(1, "{'descr': '>i4', 'fortran_order': False, 'shape': (3,), }", be_i32));
  write_raw(dir + "/npy/v2.npy", npy(2, "{'descr': '<u2', 'fortran_order': True, 'shape': (2, 2), }", std::string(8, '\1')));
  write_raw(dir + "/npy/v3.npy", npy(3, "{\"descr\": \"|b1\", \"fortran_order\": False, \"shape\": (2L, 1L)}",
                                     std::string("\1\0", 2)));
  // Found by npy_fuzz: empty, but in Fortran order the dimensions before the zero overflow the
  // size check (the buffer allocated for it used to leak).
  write_raw(dir + "/npy/overflow_before_zero.npy",
            npy(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (302, 2, 5553, 0, 2200200, 2120120, 4, 4, 6), }",
                ""));

  // .npz
  savez(dir + "/npz/stored.npz", {{"a", iota({2, 3}, float32)}, {"b", iota({}, int64)}, {"e", zeros({0}, uint8)}});
  savez(dir + "/npz/deflated.npz", {{"a", iota({4, 4}, float16)}, {"t", transpose(iota({2, 3}, int32))}}, true);
  savez(dir + "/npz/empty.npz", {});

  // safetensors
  save_safetensors(dir + "/safetensors/mixed.safetensors",
                   {{"w", iota({2, 3}, bfloat16)}, {"b", iota({3}, float32)}, {"s", iota({}, int8)}, {"e", zeros({0, 2}, float64)}},
                   {{"format", "pt"}});
  std::unordered_map<std::string, array> every;
  for (Dtype dt : kDtypes) every.emplace(dtype_name(dt), iota({2}, dt));
  save_safetensors(dir + "/safetensors/dtypes.safetensors", every);
  write_raw(dir + "/safetensors/misaligned.safetensors",
            safetensors(R"({"x":{"dtype":"I32","shape":[2],"data_offsets":[1,9]},"__metadata__":{"k":"v"}})",
                        std::string(9, '\2')));

  // tokenizer.json: small files using each kind of component.
  const std::string td = dir + "/tokenizer_json/";
  write_raw(td + "byte_level.json",
            R"({"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2,"\u0120":3,"\u0120ab":4},"merges":["a b",["\u0120","ab"]]},)"
            R"("pre_tokenizer":{"type":"ByteLevel","add_prefix_space":true,"use_regex":true},"decoder":{"type":"ByteLevel"},)"
            R"("post_processor":{"type":"ByteLevel"},"added_tokens":[{"id":5,"content":"<|e|>","special":true,"normalized":false}]})");
  write_raw(td + "split.json",
            R"({"normalizer":{"type":"NFC"},"model":{"type":"BPE","vocab":{"1":0,"2":1,"x":2},"merges":[],"ignore_merges":true},)"
            R"("pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"\\p{N}{1,3}"},)"
            R"("behavior":"Isolated","invert":false},{"type":"Digits","individual_digits":true},)"
            R"({"type":"Split","pattern":{"String":"x"},"behavior":"MergedWithNext","invert":true}]}})");
  write_raw(td + "sentencepiece.json",
            R"({"model":{"type":"BPE","vocab":{"<unk>":0,"<0x41>":1,"\u2581":2,"b":3,"\u2581b":4},"merges":["\u2581 b"],)"
            R"("unk_token":"<unk>","byte_fallback":true,"fuse_unk":true},)"
            R"("normalizer":{"type":"Sequence","normalizers":[{"type":"Prepend","prepend":"\u2581"},)"
            R"({"type":"Replace","pattern":{"String":" "},"content":"\u2581"}]},)"
            R"("decoder":{"type":"Sequence","decoders":[{"type":"Replace","pattern":{"String":"\u2581"},"content":" "},)"
            R"({"type":"ByteFallback"},{"type":"Fuse"},{"type":"Strip","content":" ","start":1,"stop":0}]},)"
            R"("post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}},)"
            R"({"Sequence":{"id":"A","type_id":0}}],"special_tokens":{"<s>":{"id":"<s>","ids":[0],"tokens":["<s>"]}}}})");
  write_raw(td + "metaspace.json",
            R"({"model":{"type":"BPE","vocab":{"\u2581":0,"a":1,"\u2581a":2},"merges":["\u2581 a"]},)"
            R"("normalizer":{"type":"Lowercase"},)"
            R"("pre_tokenizer":{"type":"Metaspace","replacement":"\u2581","prepend_scheme":"first","split":true},)"
            R"("decoder":{"type":"Metaspace","replacement":"\u2581","prepend_scheme":"first"},)"
            R"("added_tokens":[{"id":3,"content":"[X]","lstrip":true,"rstrip":true,"single_word":true,"normalized":true}]})");

  // GGUF: metadata of every type, tensors of every type the writer has, and a one-layer Llama
  // with a SentencePiece-style vocabulary (so the model loader and tokenizer are reached).
  using gguf::TensorType;
  using gguf::Value;
  gguf::save(dir + "/gguf/types.gguf",
             {{"u8", Value(uint8_t(1))}, {"i16", Value(int16_t(-2))}, {"f64", Value(0.5)}, {"b", Value(true)},
              {"s", Value("text")}, {"strs", Value(std::vector<std::string>{"a", "bc"})},
              {"nested", Value::array_of({Value(std::vector<int32_t>{1, 2})})}},
             {{"f32", iota({2, 32}, float32)}, {"f16", iota({3}, float32), TensorType::f16},
              {"bf16", iota({2, 2}, float32), TensorType::bf16}, {"q8", iota({2, 32}, float32), TensorType::q8_0},
              {"q4", iota({1, 64}, float32), TensorType::q4_0}, {"q4k", iota({1, 256}, float32), TensorType::q4_k},
              {"q6k", iota({1, 256}, float32), TensorType::q6_k}},
             64);
  {
    const int V = 8, H = 32, F = 32;
    std::vector<std::string> pieces = {"<unk>", "<s>", "</s>", "<0x41>", "\xE2\x96\x81", "a", "b", "\xE2\x96\x81" "a"};
    std::vector<std::pair<std::string, Value>> meta = {
        {"general.architecture", Value("llama")},
        {"llama.embedding_length", Value(uint32_t(H))},
        {"llama.block_count", Value(uint32_t(1))},
        {"llama.feed_forward_length", Value(uint32_t(F))},
        {"llama.attention.head_count", Value(uint32_t(4))},
        {"llama.attention.head_count_kv", Value(uint32_t(2))},
        {"llama.context_length", Value(uint32_t(64))},
        {"tokenizer.ggml.model", Value("llama")},
        {"tokenizer.ggml.tokens", Value(pieces)},
        {"tokenizer.ggml.scores", Value(std::vector<float>{0, 0, 0, 0, -1, -2, -3, -4})},
        {"tokenizer.ggml.token_type", Value(std::vector<int32_t>{2, 3, 3, 6, 1, 1, 1, 1})},
        {"tokenizer.ggml.bos_token_id", Value(uint32_t(1))},
        {"tokenizer.ggml.eos_token_id", Value(uint32_t(2))}};
    std::vector<gguf::WriteTensor> ts = {{"token_embd.weight", iota({V, H}, float32)},
                                         {"output_norm.weight", iota({H}, float32)},
                                         {"blk.0.attn_norm.weight", iota({H}, float32)},
                                         {"blk.0.ffn_norm.weight", iota({H}, float32)},
                                         {"blk.0.attn_q.weight", iota({H, H}, float32), TensorType::q8_0},
                                         {"blk.0.attn_k.weight", iota({H / 2, H}, float32)},
                                         {"blk.0.attn_v.weight", iota({H / 2, H}, float32)},
                                         {"blk.0.attn_output.weight", iota({H, H}, float32), TensorType::q4_0},
                                         {"blk.0.ffn_gate.weight", iota({F, H}, float32), TensorType::f16},
                                         {"blk.0.ffn_up.weight", iota({F, H}, float32)},
                                         {"blk.0.ffn_down.weight", iota({H, F}, float32)}};
    gguf::save(dir + "/gguf/llama.gguf", meta, ts);
  }

  // Model directories (model_dir_fuzz's input: the files joined by its marker): a one-layer
  // Llama in float32/bfloat16, the same MLX-quantized with a per-module entry, and one behind a
  // shard index with generation_config.json.
  {
    const int V = 8, H = 32, F = 32;
    const std::string marker = "\n@@part@@\n";
    const std::string config = R"({"model_type":"llama","vocab_size":8,"hidden_size":32,"num_hidden_layers":1,)"
                               R"("num_attention_heads":4,"num_key_value_heads":2,"intermediate_size":32,)"
                               R"("max_position_embeddings":64,"eos_token_id":2)";
    std::unordered_map<std::string, array> dense = {
        {"model.embed_tokens.weight", iota({V, H}, bfloat16)},
        {"model.norm.weight", iota({H}, float32)},
        {"model.layers.0.input_layernorm.weight", iota({H}, float32)},
        {"model.layers.0.post_attention_layernorm.weight", iota({H}, bfloat16)},
        {"model.layers.0.self_attn.q_proj.weight", iota({H, H}, float32)},
        {"model.layers.0.self_attn.k_proj.weight", iota({H / 2, H}, float32)},
        {"model.layers.0.self_attn.v_proj.weight", iota({H / 2, H}, float16)},
        {"model.layers.0.self_attn.o_proj.weight", iota({H, H}, bfloat16)},
        {"model.layers.0.mlp.gate_proj.weight", iota({F, H}, float32)},
        {"model.layers.0.mlp.up_proj.weight", iota({F, H}, float32)},
        {"model.layers.0.mlp.down_proj.weight", iota({H, F}, float32)}};
    auto file = [&](const std::unordered_map<std::string, array>& ts) {
      std::string p = dir + "/model_dir/tmp.safetensors";
      save_safetensors(p, ts);
      std::ifstream in(p, std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      std::remove(p.c_str());
      return bytes;
    };
    write_raw(dir + "/model_dir/dense.bin", config + "}" + marker + file(dense));
    std::unordered_map<std::string, array> quantized = dense;
    for (const char* m : {"model.layers.0.self_attn.q_proj", "model.layers.0.mlp.up_proj", "model.embed_tokens"}) {
      const int bits = std::string(m).find("up_proj") != std::string::npos ? 4 : 8;
      auto q = quantize(astype(quantized.at(std::string(m) + ".weight"), float32), 32, bits);
      quantized.insert_or_assign(std::string(m) + ".weight", q[0]);
      quantized.insert_or_assign(std::string(m) + ".scales", q[1]);
      quantized.insert_or_assign(std::string(m) + ".biases", q[2]);
    }
    write_raw(dir + "/model_dir/mlx.bin",
              config + R"(,"quantization":{"group_size":32,"bits":4,"model.layers.0.self_attn.q_proj":)"
                       R"({"group_size":32,"bits":8},"model.embed_tokens":{"group_size":32,"bits":8},)"
                       R"("lm_head":false}})" + marker + file(quantized));
    std::string index = R"({"metadata":{"total_size":1},"weight_map":{)";
    bool first = true;
    for (auto& [name, a] : dense) {
      index += std::string(first ? "" : ",") + "\"" + name + "\":\"model.safetensors\"";
      first = false;
    }
    write_raw(dir + "/model_dir/index.bin", config + "}" + marker + file(dense) + marker +
                                                R"({"eos_token_id":[2,3]})" + marker + index + "}}" + marker +
                                                R"({"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2,"</s>":3},)"
                                                R"("merges":["a b"]},"added_tokens":[{"id":3,"content":"</s>",)"
                                                R"("special":true}]})");
  }

  // Prompt caches: full layers, a sliding layer whose ring has wrapped, a --max-kv-size ring
  // with sinks, and 8-bit packed layers past quantized_kv_start.
  {
    auto fill = [](lm::KVCache& c, int positions, int D) {
      for (int p = 0; p < positions; p += 3) {
        const int n = std::min(3, positions - p);
        for (int i = 0; i < c.num_layers(); ++i) {
          c.update(i, iota({1, 2, n, D}, float32), iota({1, 2, n, D}, float32));
        }
      }
      eval(c.state());
    };
    lm::KVCache full(2, 4);
    fill(full, 5, 4);
    lm::save_prompt_cache(dir + "/prompt_cache/full.safetensors", full, {{"tokens", "[1,2,3,4,5]"}});
    lm::KVCache windows(std::vector<int>{3, 0}, lm::KVCacheOptions{4});
    fill(windows, 7, 4);
    lm::save_prompt_cache(dir + "/prompt_cache/windows.safetensors", windows);
    lm::KVCacheOptions rotating;
    rotating.max_size = 6;
    rotating.rotate = true;
    rotating.keep = 2;
    lm::KVCache ring(std::vector<int>{0}, rotating);
    fill(ring, 9, 4);
    lm::save_prompt_cache(dir + "/prompt_cache/rotating.safetensors", ring);
    lm::KVCacheOptions packed;
    packed.bits = 8;
    packed.group_size = 32;
    packed.quantized_start = 2;
    lm::KVCache q(std::vector<int>{0}, packed);
    fill(q, 6, 32);
    lm::save_prompt_cache(dir + "/prompt_cache/quantized.safetensors", q);
  }
  return 0;
}
