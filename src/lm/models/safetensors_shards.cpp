#include "lm/models/safetensors_shards.h"

#include <algorithm>
#include <filesystem>
#include <set>
#include <stdexcept>

#include "lm/models/json_file.h"
#include "tessera/io.h"

namespace tessera::lm {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail(const std::string& file, const std::string& what) {
  throw std::invalid_argument("[load_model] " + file + ": " + what);
}

bool plain_file_name(const std::string& s) {
  return !s.empty() && s != "." && s != ".." && s.find('/') == std::string::npos &&
         s.find('\\') == std::string::npos && s.find('\0') == std::string::npos;
}

void add_file(DirectoryTensors& out, const fs::path& dir, const std::string& name) {
  SafetensorsLoad loaded = load_safetensors((dir / name).string());
  // Sorted, so which of two duplicates is reported does not depend on hash order.
  std::map<std::string, array> sorted(loaded.first.begin(), loaded.first.end());
  for (auto& [tensor, a] : sorted) {
    auto [it, inserted] = out.tensors.emplace(tensor, DirectoryTensor{a, name});
    if (!inserted) {
      fail((dir / name).string(), "tensor '" + tensor + "' is also in " + it->second.file +
                                      " (each tensor must be stored once)");
    }
  }
  out.files.push_back(name);
}

}  // namespace

std::map<std::string, std::string> parse_shard_index(const nlohmann::json& index, const std::string& file) {
  if (!index.is_object()) fail(file, "expected a JSON object with a \"weight_map\"");
  auto wm = index.find("weight_map");
  if (wm == index.end()) fail(file, "missing \"weight_map\"");
  if (!wm->is_object()) fail(file, "\"weight_map\" must be an object of tensor name: shard file");
  if (wm->empty()) fail(file, "\"weight_map\" is empty");
  std::map<std::string, std::string> out;
  for (auto& [tensor, shard] : wm->items()) {
    if (!shard.is_string()) fail(file, "weight_map['" + tensor + "'] must be a file name string");
    std::string s = shard.get<std::string>();
    if (!plain_file_name(s)) {
      fail(file, "weight_map['" + tensor + "'] = '" + s + "' is not a file name in the model directory");
    }
    out.emplace(tensor, std::move(s));
  }
  return out;
}

DirectoryTensors load_directory_tensors(const std::string& dir_name) {
  const fs::path dir(dir_name);
  std::error_code ec;
  DirectoryTensors out;
  const fs::path index_path = dir / "model.safetensors.index.json";
  if (fs::exists(index_path, ec)) {
    const std::string index_file = index_path.string();
    std::map<std::string, std::string> weight_map = parse_shard_index(read_json_file(index_file), index_file);
    std::map<std::string, std::vector<std::string>> by_shard;
    for (auto& [tensor, shard] : weight_map) by_shard[shard].push_back(tensor);
    // Every shard is checked before any is mapped: a missing file is the likeliest problem (an
    // interrupted download) and should be named at once.
    for (auto& [shard, tensors] : by_shard) {
      if (!fs::is_regular_file(dir / shard, ec)) {
        fail(index_file, "shard '" + shard + "' (" + std::to_string(tensors.size()) + " tensors, e.g. '" +
                             tensors.front() + "') is missing from " + dir.string());
      }
    }
    for (auto& [shard, tensors] : by_shard) {
      add_file(out, dir, shard);
      for (auto& t : tensors) {
        auto it = out.tensors.find(t);
        if (it == out.tensors.end() || it->second.file != shard) {
          fail(index_file, "weight_map names tensor '" + t + "' in " + shard + ", which does not hold it" +
                               (it == out.tensors.end() ? "" : " (it is in " + it->second.file + ")"));
        }
      }
    }
    return out;
  }
  if (fs::exists(dir / "model.safetensors", ec)) {
    add_file(out, dir, "model.safetensors");
    return out;
  }
  // Shards without an index (mlx-lm reads model*.safetensors the same way).
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string n = entry.path().filename().string();
    if (n.rfind("model", 0) == 0 && n.size() > 12 && n.substr(n.size() - 12) == ".safetensors") names.push_back(n);
  }
  if (ec) fail(dir.string(), "cannot list the directory: " + ec.message());
  if (names.empty()) {
    fail(dir.string(), "no model.safetensors, model.safetensors.index.json or model*.safetensors files");
  }
  std::sort(names.begin(), names.end());
  for (auto& n : names) add_file(out, dir, n);
  return out;
}

}  // namespace tessera::lm
