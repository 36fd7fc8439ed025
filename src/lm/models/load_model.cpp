#include <filesystem>
#include <stdexcept>

#include "lm/models/loaders.h"

namespace tessera::lm {

LoadedModel load_model(const std::string& path, const LoadOptions& options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) return load_hf_model(path, options);
  if (!fs::exists(path, ec)) {
    throw std::invalid_argument("[load_model] " + path + ": no such file or directory (expected a .gguf file or a "
                                "model directory with config.json)");
  }
  return load_gguf_model(path, options);
}

}  // namespace tessera::lm
