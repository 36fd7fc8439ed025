// tessera convert: Hugging Face directory -> MLX directory (optionally quantized) or GGUF file, and
// GGUF file -> Hugging Face directory. Flags follow mlx_lm.convert (--hf-path, --mlx-path, -q,
// --q-bits, --q-group-size, --dtype) and llama.cpp's converter (--outtype).

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "args.h"
#include "commands.h"
#include "progress.h"
#include "tessera/gguf.h"
#include "tessera/lm/convert.h"

namespace tessera::cli {

namespace {

namespace fs = std::filesystem;

constexpr const char* kSummary =
    "Convert a model between formats (outputs appear complete or not at all):\n"
    "  --hf-path DIR --mlx-path OUT [-q --q-bits 4 --q-group-size 64] [--dtype T]\n"
    "      Hugging Face directory -> MLX directory; -q quantizes every Linear and Embedding weight whose\n"
    "      last axis is a multiple of the group size, as mlx_lm.convert does\n"
    "  --hf-path DIR --gguf-path OUT.gguf [--outtype f16]\n"
    "      Hugging Face directory -> GGUF (llama, mistral, qwen2, qwen3) with llama.cpp's names, metadata\n"
    "      and tokenizer; matrices in the output type, 1-D tensors in F32\n"
    "  --gguf-path IN.gguf --hf-path OUT [--dtype T]\n"
    "      GGUF -> Hugging Face directory (config.json, model.safetensors, tokenizer.json)\n"
    "The direction follows from which paths exist; --to says it outright.";


std::string human_bytes(uint64_t b) {
  char buf[32];
  if (b >= (uint64_t(1) << 30)) std::snprintf(buf, sizeof buf, "%.2f GiB", double(b) / double(1 << 30));
  else std::snprintf(buf, sizeof buf, "%.1f MiB", double(b) / double(1 << 20));
  return buf;
}

}  // namespace

int convert_command(const std::vector<std::string>& argv_in) {
  Args args("tessera convert", kSummary);
  args.option("hf-path", "DIR", "Hugging Face model directory (input, or output of a GGUF conversion)");
  args.option("mlx-path", "DIR", "MLX model directory to write");
  args.option("gguf-path", "FILE", "GGUF file to write, or to read with --to hf");
  args.option("to", "FORMAT", "mlx, gguf or hf (default: from the paths given and which exist)");
  args.flag("quantize", "quantize the MLX output (also -q)");
  args.option("q-bits", "N", "bits per weight: 2, 3, 4, 5, 6 or 8", "4");
  args.option("q-group-size", "N", "weights per scale and bias: 32, 64 or 128", "64");
  args.option("dtype", "T", "float16, bfloat16 or float32 for unquantized weights and scales",
              "config.json's torch_dtype (MLX), the file's type (HF)");
  args.option("outtype", "T", "GGUF matrix type: f32, f16, bf16, q8_0 or q4_0", "f16");
  args.option("shard-size-gb", "N", "largest safetensors shard of an MLX output, in GiB", "5");
  args.flag("random-weights", "draw the weights (normal 0.02, unit norms): --hf-path needs only config.json");
  args.option("seed", "N", "seed of --random-weights", "0");
  args.flag("force", "replace an existing output");
  args.flag("json", "print one JSON summary on stdout");
  args.flag("quiet", "no progress on stderr");
  std::vector<std::string> argv;
  for (const std::string& a : argv_in) argv.push_back(a == "-q" ? "--quantize" : a);
  args.parse(argv);
  if (args.help_requested()) {
    std::cout << args.help();
    return 0;
  }

  const std::string hf = args.str("hf-path"), mlx = args.str("mlx-path"), gg = args.str("gguf-path");
  std::string to = args.str("to");
  std::error_code ec;
  if (to.empty()) {
    if (!mlx.empty()) to = "mlx";
    else if (!hf.empty() && fs::is_regular_file(fs::path(hf) / "config.json", ec)) to = "gguf";
    else if (!gg.empty() && fs::is_regular_file(gg, ec)) to = "hf";
    else if (!hf.empty() && !gg.empty())
      throw std::invalid_argument("--hf-path " + hf + " has no config.json and --gguf-path " + gg +
                                  " does not exist: nothing to convert");
  }
  if (to != "mlx" && to != "gguf" && to != "hf") {
    throw std::invalid_argument(to.empty() ? "give --hf-path with --mlx-path or --gguf-path (see tessera convert --help)"
                                           : "--to must be mlx, gguf or hf, got '" + to + "'");
  }
  auto need = [&](const char* flag, const std::string& v) {
    if (v.empty()) throw std::invalid_argument(std::string("--") + flag + " is required to convert to " + to);
  };
  need("hf-path", hf);
  if (to == "mlx") need("mlx-path", mlx);
  else need("gguf-path", gg);
  if (to != "mlx" && (args.on("quantize") || args.has("q-bits") || args.has("q-group-size"))) {
    throw std::invalid_argument("-q, --q-bits and --q-group-size apply to --mlx-path outputs; a GGUF takes --outtype q8_0 or q4_0");
  }
  if (to != "gguf" && args.has("outtype")) throw std::invalid_argument("--outtype applies to GGUF outputs (--to gguf)");
  if (to == "gguf" && args.has("dtype")) throw std::invalid_argument("--dtype does not apply to GGUF outputs; use --outtype");

  // Conversions that finish within a second say nothing until their summary.
  ProgressLine progress(!args.on("quiet"), std::chrono::seconds(1));
  auto common = [&](lm::ConvertCommon& c) {
    c.overwrite = args.on("force");
    c.random_weights = args.on("random-weights");
    c.seed = args.uint("seed", 0);
    c.progress = [&](const std::string& s, uint64_t d, uint64_t t) { progress.update(s, d, t); };
  };
  lm::ConvertSummary s;
  if (to == "mlx") {
    lm::MlxConvertOptions o;
    common(o);
    o.quantize = args.on("quantize");
    o.bits = args.integer("q-bits", 4);
    o.group_size = args.integer("q-group-size", 64);
    if (args.has("dtype")) o.dtype = lm::parse_float_dtype(args.str("dtype"));
    const double gb = args.number("shard-size-gb", 5.0);
    if (!(gb > 0)) throw std::invalid_argument("--shard-size-gb must be > 0");
    o.max_shard_bytes = uint64_t(gb * double(uint64_t(1) << 30));
    s = lm::convert_hf_to_mlx(hf, mlx, o);
  } else if (to == "gguf") {
    lm::GgufConvertOptions o;
    common(o);
    o.outtype = lm::parse_gguf_outtype(args.str("outtype", "f16"));
    s = lm::convert_hf_to_gguf(hf, gg, o);
  } else {
    lm::HfConvertOptions o;
    common(o);
    if (args.has("dtype")) o.dtype = lm::parse_float_dtype(args.str("dtype"));
    s = lm::convert_gguf_to_hf(gg, hf, o);
  }

  if (args.on("json")) {
    nlohmann::json j = {{"input", s.input},
                        {"output", s.output},
                        {"format", s.format},
                        {"architecture", s.architecture},
                        {"type", s.type},
                        {"tensors_written", s.tensors_written},
                        {"tensors_quantized", s.tensors_quantized},
                        {"parameters", s.parameters},
                        {"bytes_written", s.bytes_written},
                        {"files", s.files},
                        {"notes", s.notes},
                        {"seconds", s.seconds}};
    std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    for (const std::string& n : s.notes) std::fprintf(stderr, "note: %s\n", n.c_str());
    std::printf("wrote %s (%s, %s %s): %lld tensors, %.1fM parameters, %s in %.1f s\n", s.output.c_str(),
                s.format.c_str(), s.architecture.c_str(), s.type.c_str(), (long long)s.tensors_written,
                double(s.parameters) / 1e6, human_bytes(s.bytes_written).c_str(), s.seconds);
  }
  return 0;
}

}  // namespace tessera::cli
