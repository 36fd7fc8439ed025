// A byte-level BPE tokenizer.json with no merges, for tests that need a loadable tokenizer for a
// small model: one token per byte (GPT-2's byte-to-character map) and <|endoftext|> as id 256.
#pragma once

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tessera::testing {

// Writes dir/tokenizer.json and dir/tokenizer_config.json.
inline void write_byte_tokenizer(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  nlohmann::json vocab = nlohmann::json::object();
  int n = 0;
  std::vector<int> chars(256);
  for (int b = 0; b < 256; ++b) {
    bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    chars[b] = printable ? b : 256 + n++;
  }
  for (int b = 0; b < 256; ++b) {
    std::string u;
    int c = chars[b];
    if (c < 0x80) {
      u += char(c);
    } else {
      u += char(0xC0 | (c >> 6));
      u += char(0x80 | (c & 0x3F));
    }
    vocab[u] = b;
  }
  nlohmann::json tok = {
      {"version", "1.0"},
      {"added_tokens",
       {{{"id", 256}, {"content", "<|endoftext|>"}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
         {"normalized", false}, {"special", true}}}},
      {"normalizer", nullptr},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}}},
      {"post_processor", nullptr},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}}},
      {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"fuse_unk", false},
                 {"byte_fallback", false}, {"vocab", vocab}, {"merges", nlohmann::json::array()}}}};
  std::ofstream(dir / "tokenizer.json") << tok.dump();
  std::ofstream(dir / "tokenizer_config.json") << R"({"eos_token": "<|endoftext|>", "bos_token": null})";
}

}  // namespace tessera::testing
