#include "lm/models/json_file.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace tessera::lm {

namespace {

constexpr int kMaxDepth = 64;
constexpr std::streamoff kMaxBytes = std::streamoff(64) << 20;

struct TooDeep {};

}  // namespace

nlohmann::json parse_json_text(const std::string& text, const std::string& name) {
  // The callback sees each value's depth before the parser descends into it, so a hostile file
  // is refused at level 65 rather than after building a million levels.
  auto bound = [](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
    if (depth > kMaxDepth) throw TooDeep{};
    return true;
  };
  try {
    return nlohmann::json::parse(text, bound);
  } catch (const TooDeep&) {
    throw std::invalid_argument("[load_model] " + name + ": JSON nests deeper than " + std::to_string(kMaxDepth) +
                                " levels");
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument("[load_model] " + name + ": not valid JSON: " + e.what());
  }
}

nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw std::invalid_argument("[load_model] " + path + ": cannot open the file");
  std::streamoff size = in.tellg();
  if (size < 0) throw std::invalid_argument("[load_model] " + path + ": cannot read the file");
  if (size > kMaxBytes) {
    throw std::invalid_argument("[load_model] " + path + ": " + std::to_string(size) +
                                " bytes is more than the 64 MiB a model's JSON file may hold");
  }
  in.seekg(0);
  std::string text(size_t(size), '\0');
  if (!in.read(text.data(), size)) throw std::invalid_argument("[load_model] " + path + ": read error");
  return parse_json_text(text, path);
}

}  // namespace tessera::lm
