// Hugging Face directory -> MLX directory, as mlx_lm.convert writes it: the same tensor names,
// Linear and Embedding weights affine-quantized when asked (mlx-lm's rule: a module is quantized
// when its weight's last axis is a multiple of the group size), config.json with the
// "quantization" entry, and the tokenizer files beside the weights.
#include <chrono>
#include <stdexcept>

#include "lm/convert/convert_common.h"
#include "tessera/ops.h"

namespace tessera::lm {

using namespace convert;

namespace {

constexpr int kBits[] = {2, 3, 4, 5, 6, 8};
constexpr int kGroupSizes[] = {32, 64, 128};

template <size_t N>
bool one_of(int v, const int (&set)[N]) {
  for (int s : set)
    if (v == s) return true;
  return false;
}

}  // namespace

ConvertSummary convert_hf_to_mlx(const std::string& hf_dir, const std::string& out_dir, const MlxConvertOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  if (o.quantize && !one_of(o.bits, kBits)) {
    fail("--q-bits", std::to_string(o.bits) + " bits is not supported (2, 3, 4, 5, 6 or 8, as MLX's affine mode)");
  }
  if (o.quantize && !one_of(o.group_size, kGroupSizes)) {
    fail("--q-group-size", std::to_string(o.group_size) + " is not supported (32, 64 or 128)");
  }
  if (o.dtype && *o.dtype != float32 && *o.dtype != float16 && *o.dtype != bfloat16) {
    fail("--dtype", std::string(dtype_name(*o.dtype)) + " is not a weight type (float16, bfloat16 or float32)");
  }
  HfSource src(hf_dir, o);
  std::error_code ec;
  if (fs::exists(out_dir, ec) && fs::equivalent(out_dir, hf_dir, ec)) fail(out_dir, "is the input; write the output elsewhere");
  if (o.quantize && src.quantized_count() > 0) {
    fail(hf_dir, "is already quantized (" + std::to_string(src.quantized_count()) +
                     " MLX-quantized modules); convert it without -q to dequantize it first");
  }
  const std::optional<Dtype> dtype = o.dtype ? o.dtype : src.torch_dtype();
  const ModelConfig& c = src.model();

  ConvertSummary s;
  s.input = hf_dir;
  s.output = out_dir;
  s.format = "mlx";
  s.architecture = c.architecture;
  s.type = o.quantize ? std::to_string(o.bits) + "-bit group " + std::to_string(o.group_size)
                      : (dtype ? torch_dtype_name(*dtype) : "as stored");
  if (src.quantized_count() > 0) {
    s.notes.push_back("dequantized " + std::to_string(src.quantized_count()) + " MLX-quantized modules");
  }

  OutputDir out(out_dir, o.overwrite);
  ShardWriter shards(out.tmp(), o.max_shard_bytes, "mlx");
  nlohmann::json quant = {{"group_size", o.group_size}, {"bits", o.bits}, {"mode", "affine"}};
  ProgressCounter progress{o.progress, o.quantize ? "quantizing" : "converting", uint64_t(src.names().size())};
  std::vector<std::string> unquantized;
  for (const std::string& name : src.names()) {
    // A tied head is the embedding; mlx-lm drops the copy some checkpoints keep.
    if (name == "lm_head.weight" && c.tie_word_embeddings) {
      s.notes.push_back("dropped lm_head.weight (tie_word_embeddings: the head is the embedding)");
      progress.step();
      continue;
    }
    array w = src.get(name);
    if (dtype && w.dtype() != *dtype) w = astype(w, *dtype);
    s.parameters += int64_t(w.size());
    const bool linear = w.ndim() == 2 && ends_with(name, ".weight");
    if (o.quantize && linear && w.shape(-1) % o.group_size == 0) {
      const std::string module = name.substr(0, name.size() - 7);
      std::vector<array> q = quantize(w, o.group_size, o.bits);
      shards.add(module + ".weight", q[0]);
      shards.add(module + ".scales", q[1]);
      shards.add(module + ".biases", q[2]);
      s.tensors_written += 3;
      s.tensors_quantized++;
    } else {
      if (o.quantize && linear) {
        const std::string module = name.substr(0, name.size() - 7);
        quant[module] = false;
        unquantized.push_back(module);
      }
      shards.add(name, w);
      s.tensors_written++;
    }
    progress.step();
  }
  if (!unquantized.empty()) {
    std::string list;
    for (size_t i = 0; i < unquantized.size() && i < 3; ++i) list += (i ? ", " : "") + unquantized[i];
    s.notes.push_back("left " + std::to_string(unquantized.size()) + " module" + (unquantized.size() == 1 ? "" : "s") +
                      " unquantized (columns not a multiple of the group size " + std::to_string(o.group_size) +
                      "): " + list + (unquantized.size() > 3 ? ", ..." : ""));
  }
  s.files = shards.finish();
  s.bytes_written = shards.bytes();

  nlohmann::json config = src.config();
  config.erase("quantization");
  config.erase("quantization_config");
  if (o.quantize) {
    // mlx-lm writes both keys; transformers-based readers look at the second.
    config["quantization"] = quant;
    config["quantization_config"] = quant;
  }
  if (dtype) config["torch_dtype"] = torch_dtype_name(*dtype);
  write_json(out.tmp() / "config.json", config);
  s.files.push_back("config.json");
  for (const std::string& f : src.side_files()) {
    fs::copy_file(fs::path(hf_dir) / f, out.tmp() / f, fs::copy_options::overwrite_existing);
    // Copies of read-only sources (a shared model cache) stay writable, like every other output.
    fs::permissions(out.tmp() / f, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::add);
    s.files.push_back(f);
  }
  out.commit();
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return s;
}

}  // namespace tessera::lm
