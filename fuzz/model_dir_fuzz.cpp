// libFuzzer target for Hugging Face / MLX model directories: the input is cut at each
// "\n@@part@@\n" into config.json, model.safetensors, generation_config.json,
// model.safetensors.index.json and tokenizer.json (missing parts are left out of the directory),
// written into a per-process directory, and load_model runs on it: config parsing, the
// quantization entry and its per-module overrides, the shard index, the grouping of
// packed/scales/biases tensors, dtype checks, EOS ids and the model build. A model that loads
// runs one forward pass. Loader errors are expected; crashes, leaks and out-of-bounds reads are
// not.
#include <sys/stat.h>

#include <array>
#include <string_view>

#include "fuzz_common.h"
#include "tessera/gguf.h"
#include "tessera/lm/model.h"

namespace {

constexpr std::string_view kMarker = "\n@@part@@\n";
constexpr std::array<const char*, 5> kFiles = {"config.json", "model.safetensors", "generation_config.json",
                                               "model.safetensors.index.json", "tokenizer.json"};

struct TempDir {
  std::string path;
  ~TempDir() {
    for (const char* f : kFiles) unlink((path + "/" + f).c_str());
    rmdir(path.c_str());
  }
};

const std::string& temp_dir() {
  static const TempDir dir{[] {
    const char* base = std::getenv("TMPDIR");
    std::string p = std::string(base && *base ? base : "/tmp") + "/tessera-fuzz-model-" + std::to_string(getpid());
    mkdir(p.c_str(), 0755);
    return p;
  }()};
  return dir.path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = [] {
    tessera::gguf::set_log_handler([](const std::string&) {});
    return true;
  }();
  (void)quiet;
  const std::string& dir = temp_dir();
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  for (size_t i = 0; i < kFiles.size(); ++i) {
    const std::string path = dir + "/" + kFiles[i];
    unlink(path.c_str());
    if (rest.data() == nullptr) continue;
    size_t cut = rest.find(kMarker);
    std::string_view part = rest.substr(0, cut);
    if (!fuzz::write_input(path, reinterpret_cast<const uint8_t*>(part.data()), part.size())) return 0;
    rest = cut == std::string_view::npos ? std::string_view() : rest.substr(cut + kMarker.size());
  }
  try {
    tessera::lm::LoadedModel m = tessera::lm::load_model(dir);
    auto cache = m.model->make_cache();
    int ids[2] = {0, m.model->config().vocab_size - 1};
    tessera::array logits = m.model->forward(tessera::array(ids, tessera::Shape{1, 2}, tessera::int32), cache, false);
    logits.eval();
    fuzz::touch(logits);
    if (m.tokenizer) (void)m.tokenizer->eos_ids().size();
  } catch (const std::exception&) {
  }
  return 0;
}
