// libFuzzer target for the tokenizer: each input is loaded as a tokenizer.json (and, when it
// loads, used to encode/decode/stream a few texts and itself), and is also encoded as text by two
// fixed tokenizers (byte-level with a Split regex, added tokens and merges; SentencePiece-style
// with byte fallback), whose round trips must hold. Load errors are expected; crashes and broken
// round trips are not.
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/lm/tokenizer.h"

using tessera::lm::Tokenizer;

namespace {

// Byte-level: all 256 bytes (GPT-2's printable spelling) plus a few merges, a Split regex like
// Llama 3's, ByteLevel without its own regex, one special token.
Tokenizer byte_level() {
  std::string vocab = "{";
  int id = 0;
  for (int b = 0; b < 256; ++b) {
    bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    int cp = printable ? b : 256 + (id++);
    std::string s;
    if (cp < 0x80) {
      s = cp == '"' ? "\\\"" : cp == '\\' ? "\\\\" : std::string(1, char(cp));
    } else {
      s += char(0xC0 | (cp >> 6));
      s += char(0x80 | (cp & 0x3F));
    }
    vocab += "\"" + s + "\":" + std::to_string(b) + ",";
  }
  vocab += "\"th\":256,\"the\":257,\"\xC4\xA0the\":258,\"in\":259}";
  std::string json = R"({"added_tokens":[{"id":300,"content":"<|end|>","special":true,"normalized":false,"lstrip":true}],
    "normalizer":{"type":"NFC"},
    "pre_tokenizer":{"type":"Sequence","pretokenizers":[
      {"type":"Split","pattern":{"Regex":"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},"behavior":"Isolated","invert":false},
      {"type":"ByteLevel","add_prefix_space":false,"use_regex":false}]},
    "decoder":{"type":"ByteLevel"},
    "model":{"type":"BPE","vocab":)" + vocab + R"(,"merges":["t h",["th","e"],"Ġ the","i n"]}})";
  return Tokenizer::from_json(json, {}, "fuzz/byte_level");
}

Tokenizer sentencepiece() {
  std::string vocab = R"({"<unk>":0,"<s>":1,"</s>":2,"▁":3,"a":4,"b":5,"▁a":6,"ab":7,"▁ab":8)";
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    vocab += ",\"" + std::string(name) + "\":" + std::to_string(9 + b);
  }
  vocab += "}";
  std::string json = R"({"added_tokens":[{"id":1,"content":"<s>","special":true},{"id":2,"content":"</s>","special":true}],
    "normalizer":{"type":"Sequence","normalizers":[{"type":"Prepend","prepend":"▁"},{"type":"Replace","pattern":{"String":" "},"content":"▁"}]},
    "post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],
      "special_tokens":{"<s>":{"id":"<s>","ids":[1],"tokens":["<s>"]}}},
    "decoder":{"type":"Sequence","decoders":[{"type":"Replace","pattern":{"String":"▁"},"content":" "},{"type":"ByteFallback"},{"type":"Fuse"},{"type":"Strip","content":" ","start":1,"stop":0}]},
    "model":{"type":"BPE","unk_token":"<unk>","fuse_unk":true,"byte_fallback":true,"vocab":)" + vocab +
                     R"(,"merges":["▁ a","a b","▁a b"]}})";
  return Tokenizer::from_json(json, {}, "fuzz/sentencepiece");
}

void exercise(const Tokenizer& tok, std::string_view text) {
  std::vector<int> ids = tok.encode(text, true);
  for (int id : ids)
    if (id < 0 || id >= tok.vocab_size()) std::abort();
  std::string decoded = tok.decode(ids, true);
  auto detok = tok.detokenizer();
  std::string streamed;
  for (int id : ids) streamed += detok.add(id);
  streamed += detok.finish();
  (void)decoded;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  static const Tokenizer bytes = byte_level();
  static const Tokenizer sp = sentencepiece();

  // Arbitrary text through the fixed tokenizers: byte-level is lossless except for NFC and the
  // special token; SentencePiece with byte fallback is lossless except "▁" and <s>/</s>.
  exercise(bytes, input);
  exercise(sp, input);
  if (input.find("<|end|>") == std::string_view::npos) {
    std::string s(input);
    bool ascii = true;
    for (char c : s) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
    if (ascii && bytes.decode(bytes.encode(s, false)) != s) std::abort();
  }
  if (input.find("\xE2\x96\x81") == std::string_view::npos && input.find("<s>") == std::string_view::npos &&
      input.find("</s>") == std::string_view::npos) {
    std::string s(input);
    if (sp.decode(sp.encode(s, false)) != s) std::abort();
  }

  // The input as a tokenizer.json.
  try {
    Tokenizer tok = Tokenizer::from_json(input, {}, "fuzz/tokenizer.json");
    for (std::string_view text : {std::string_view("Hello, world! 123 "), std::string_view("caf\xC3\xA9 \xE4\xB8\xAD\xFF\xFE"),
                                  std::string_view("<s> <|endoftext|>  \n\t x"), input.substr(0, 256)})
      exercise(tok, text);
    for (int id = -1; id < 300; ++id) {
      (void)tok.id_to_token(id);
      (void)tok.is_special(id);
    }
  } catch (const std::exception&) {
  }
  return 0;
}
