// The weights of a model directory: one model.safetensors, or the shards that
// model.safetensors.index.json's weight_map names (Hugging Face's sharded checkpoints, also what
// mlx-lm writes). Every file is memory-mapped by load_safetensors; the arrays keep the file's
// dtype and point into the mapping.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "tessera/array.h"

namespace tessera::lm {

struct DirectoryTensor {
  array value;
  std::string file;  // the safetensors file (name within the directory) that holds it
};

struct DirectoryTensors {
  std::map<std::string, DirectoryTensor> tensors;
  std::vector<std::string> files;  // the safetensors files read, in order
};

// weight_map of a parsed model.safetensors.index.json: tensor name -> shard file name. Shard names
// must be plain file names in the directory (no path separators, not "." or ".."). `file` names
// the index in messages; std::invalid_argument for anything malformed.
std::map<std::string, std::string> parse_shard_index(const nlohmann::json& index, const std::string& file);

// All tensors of the directory: the index's shards when model.safetensors.index.json exists (each
// shard must exist and hold every tensor the index assigns to it), else model.safetensors, else
// the model*.safetensors files. A tensor name found in two files is an error, naming both.
DirectoryTensors load_directory_tensors(const std::string& dir);

}  // namespace tessera::lm
