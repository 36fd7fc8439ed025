// Architecture name -> the function that builds the model from its config and weights.
#pragma once

#include <memory>
#include <string>

#include "lm/models/weights.h"
#include "tessera/lm/model.h"

namespace tessera::lm {

using ModelFactory = std::shared_ptr<Model> (*)(const ModelConfig&, WeightStore&);

std::shared_ptr<Model> make_llama(const ModelConfig& config, WeightStore& weights);
std::shared_ptr<Model> make_qwen2(const ModelConfig& config, WeightStore& weights);
std::shared_ptr<Model> make_qwen3(const ModelConfig& config, WeightStore& weights);
std::shared_ptr<Model> make_gemma2(const ModelConfig& config, WeightStore& weights);
std::shared_ptr<Model> make_gemma3(const ModelConfig& config, WeightStore& weights);
std::shared_ptr<Model> make_phi3(const ModelConfig& config, WeightStore& weights);

// The factory for `architecture`; std::invalid_argument listing the supported names otherwise.
ModelFactory find_architecture(const std::string& architecture, const std::string& file);

// Checks a forward pass's token ids: int32 [B, L] with L >= 1 (ids are not range-checked here;
// generate checks them against the vocabulary).
void check_tokens(const array& tokens, const ModelConfig& config);

}  // namespace tessera::lm
