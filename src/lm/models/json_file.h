// The small JSON files of a model directory (config.json, generation_config.json,
// model.safetensors.index.json), read with bounds: files come from anywhere, and a deeply nested
// value would later overflow the stack of anything that walks it recursively (dump(), copies).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace tessera::lm {

// std::invalid_argument "[load_model] <path>: ..." when the file cannot be read, is larger than
// 64 MiB, is not valid JSON (with the parser's byte position) or nests deeper than 64 levels.
nlohmann::json read_json_file(const std::string& path);
// The same for text already in memory; `name` stands for the file in messages.
nlohmann::json parse_json_text(const std::string& text, const std::string& name);

}  // namespace tessera::lm
