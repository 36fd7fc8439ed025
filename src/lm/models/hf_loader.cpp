#include <stdexcept>

#include "lm/models/loaders.h"

namespace tessera::lm {

LoadedModel load_hf_model(const std::string& dir, const LoadOptions&) {
  throw std::invalid_argument("[load_model] " + dir + ": model directories are not supported yet");
}

}  // namespace tessera::lm
