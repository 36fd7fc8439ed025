// config.json of a Hugging Face / MLX model directory -> ModelConfig. Field names follow
// transformers' configuration classes (num_hidden_layers, rope_scaling, ...); each architecture's
// extra fields are read here too, so model files only see ModelConfig.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "tessera/lm/model.h"

namespace tessera::lm {

// `file` names config.json in error messages. std::invalid_argument for a missing or bad field,
// naming the file and the field.
ModelConfig config_from_hf(const nlohmann::json& config, const std::string& file);

}  // namespace tessera::lm
