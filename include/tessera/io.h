// Reading and writing arrays (follows MLX's io.h). Loading safetensors memory-maps the file;
// every save writes a temporary file and renames it, so readers never see a partial file.
#pragma once

#include <string>
#include <unordered_map>
#include <utility>

#include "tessera/array.h"

namespace tessera {

using SafetensorsLoad = std::pair<std::unordered_map<std::string, array>, std::unordered_map<std::string, std::string>>;

void save(const std::string& file, array a);
array load(const std::string& file, StreamOrDevice s = {});

// .npz archives (NumPy's savez / savez_compressed).
void savez(const std::string& file, const std::unordered_map<std::string, array>& arrays, bool compressed = false);
std::unordered_map<std::string, array> loadz(const std::string& file, StreamOrDevice s = {});

SafetensorsLoad load_safetensors(const std::string& file, StreamOrDevice s = {});
void save_safetensors(std::string file, std::unordered_map<std::string, array>,
                      std::unordered_map<std::string, std::string> metadata = {});

}  // namespace tessera
