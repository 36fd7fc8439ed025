#include "lm/convert/tokenizer_convert.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <unordered_map>

#include "lm/convert/convert_common.h"
#include "lm/models/json_file.h"

namespace tessera::lm::convert {

namespace {

using json = nlohmann::json;

// GGUF token types (llama.cpp's llama_token_type).
constexpr int kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6;

const std::string kSpace = "\xE2\x96\x81";  // "▁", SentencePiece's space

// Byte-level pre-tokenizers GGUF knows by name (tokenizer.ggml.pre): the Split regexes that run
// before the byte-level mapping, in order, or none when ByteLevel applies GPT-2's own regex.
struct PreTokenizer {
  const char* name;
  std::vector<std::string> splits;
  bool nfc;            // an NFC normalizer comes with it (Qwen)
  bool ignore_merges;  // whole words in the vocabulary skip merging (Llama 3)
};

const std::vector<PreTokenizer>& pre_tokenizers() {
  static const std::vector<PreTokenizer> table = {
      {"llama-bpe",
       {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
        "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
       false,
       true},
      {"qwen2",
       {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
        "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
       true,
       false},
      {"deepseek-v3",
       {"\\p{N}{1,3}", "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+",
        "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| "
        "?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"},
       false,
       false},
      {"gpt-2", {}, false, false},
  };
  return table;
}

std::string read_text(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) fail(p.string(), "cannot be read");
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// tokenizer_config.json gives special tokens as a string or as {"content": ...}.
std::optional<std::string> token_text(const json& cfg, const char* key) {
  auto it = cfg.find(key);
  if (it == cfg.end()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) {
    auto c = it->find("content");
    if (c != it->end() && c->is_string()) return c->get<std::string>();
  }
  return std::nullopt;
}

std::optional<int> int_or_first(const json& cfg, const char* key) {
  auto it = cfg.find(key);
  if (it == cfg.end()) return std::nullopt;
  if (it->is_number_integer()) return int(it->get<int64_t>());
  if (it->is_array() && !it->empty() && (*it)[0].is_number_integer()) return int((*it)[0].get<int64_t>());
  return std::nullopt;
}

// The pre-tokenizer's Split regexes and whether its ByteLevel step applies GPT-2's regex.
struct ByteLevelShape {
  bool byte_level = false;
  bool byte_level_regex = false;
  std::vector<std::string> splits;
  bool other = false;  // steps this description does not cover (Digits, Metaspace, ...)
};

void describe(const json& p, ByteLevelShape& s) {
  if (!p.is_object()) return;
  const std::string type = p.value("type", "");
  if (type == "Sequence") {
    for (auto& q : p.value("pretokenizers", json::array())) describe(q, s);
  } else if (type == "ByteLevel") {
    s.byte_level = true;
    s.byte_level_regex = p.value("use_regex", true);
  } else if (type == "Split" && p.contains("pattern") && p["pattern"].is_object() && p["pattern"].contains("Regex")) {
    s.splits.push_back(p["pattern"]["Regex"].get<std::string>());
  } else {
    s.other = true;
  }
}

const PreTokenizer* find_pre_tokenizer(const ByteLevelShape& s) {
  if (s.other) return nullptr;
  for (const PreTokenizer& p : pre_tokenizers()) {
    const bool gpt2 = p.splits.empty();
    if (p.splits == s.splits && gpt2 == s.byte_level_regex) return &p;
  }
  return nullptr;
}

// Merges in either tokenizer.json form: "a b" strings or ["a", "b"] pairs.
std::vector<std::pair<std::string, std::string>> read_merges(const json& model, const std::string& file) {
  std::vector<std::pair<std::string, std::string>> out;
  auto it = model.find("merges");
  if (it == model.end() || it->is_null()) return out;
  if (!it->is_array()) fail(file, "model.merges must be an array");
  out.reserve(it->size());
  for (size_t i = 0; i < it->size(); ++i) {
    const json& m = (*it)[i];
    if (m.is_string()) {
      const std::string s = m.get<std::string>();
      const size_t sp = s.find(' ');
      if (sp == std::string::npos) fail(file, "model.merges[" + std::to_string(i) + "] is not two pieces");
      out.emplace_back(s.substr(0, sp), s.substr(sp + 1));
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      out.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else {
      fail(file, "model.merges[" + std::to_string(i) + "] must be \"a b\" or [\"a\", \"b\"]");
    }
  }
  return out;
}

bool is_byte_piece(const std::string& p) {
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f'); };
  return p.size() == 6 && p.compare(0, 3, "<0x") == 0 && hex(p[3]) && hex(p[4]) && p[5] == '>';
}

// Whether the tokenizer puts SentencePiece's space in front of the text.
bool adds_space_prefix(const json& j) {
  bool found = false;
  std::function<void(const json&)> walk = [&](const json& n) {
    if (!n.is_object()) return;
    const std::string type = n.value("type", "");
    if (type == "Prepend" && n.value("prepend", "") == kSpace) found = true;
    if (type == "Metaspace") {
      const std::string scheme = n.value("prepend_scheme", n.value("add_prefix_space", true) ? "always" : "never");
      if (scheme != "never") found = true;
    }
    for (const char* key : {"normalizers", "pretokenizers"}) {
      if (auto it = n.find(key); it != n.end() && it->is_array()) {
        for (auto& c : *it) walk(c);
      }
    }
  };
  if (j.contains("normalizer")) walk(j["normalizer"]);
  if (j.contains("pre_tokenizer")) walk(j["pre_tokenizer"]);
  return found;
}

// Whether the post-processor's single-sequence template starts (or ends) with `token`.
bool template_has(const json& post, const std::string& token, bool at_start) {
  if (!post.is_object() || post.value("type", "") != "TemplateProcessing") return false;
  auto single = post.find("single");
  if (single == post.end() || !single->is_array() || single->empty()) return false;
  const json& item = at_start ? single->front() : single->back();
  auto st = item.find("SpecialToken");
  return st != item.end() && st->is_object() && st->value("id", "") == token;
}

json template_processing(const std::optional<std::string>& bos, const std::optional<std::string>& eos,
                         std::optional<int> bos_id, std::optional<int> eos_id) {
  auto special = [](const std::string& t, int type_id) { return json{{"SpecialToken", {{"id", t}, {"type_id", type_id}}}}; };
  auto seq = [](const char* id, int type_id) { return json{{"Sequence", {{"id", id}, {"type_id", type_id}}}}; };
  json single = json::array(), pair = json::array(), specials = json::object();
  if (bos) {
    single.push_back(special(*bos, 0));
    pair.push_back(special(*bos, 0));
    specials[*bos] = {{"id", *bos}, {"ids", {*bos_id}}, {"tokens", {*bos}}};
  }
  single.push_back(seq("A", 0));
  pair.push_back(seq("A", 0));
  if (eos) {
    single.push_back(special(*eos, 0));
    pair.push_back(special(*eos, 0));
    specials[*eos] = {{"id", *eos}, {"ids", {*eos_id}}, {"tokens", {*eos}}};
  }
  if (bos) pair.push_back(special(*bos, 1));
  pair.push_back(seq("B", 1));
  if (eos) pair.push_back(special(*eos, 1));
  return {{"type", "TemplateProcessing"}, {"single", single}, {"pair", pair}, {"special_tokens", specials}};
}

json added_token(int id, const std::string& content, bool special) {
  return {{"id", id},         {"content", content},  {"single_word", false}, {"lstrip", false},
          {"rstrip", false},  {"normalized", !special}, {"special", special}};
}

}  // namespace

// ------------------------------------------------------------------ tokenizer.json -> GGUF

namespace {

bool to_gguf(const std::string& dir, const json& config, int vocab_size, Metadata& meta,
             std::vector<std::string>& notes) {
  const fs::path tok_path = fs::path(dir) / "tokenizer.json";
  std::error_code ec;
  if (!fs::is_regular_file(tok_path, ec)) {
    notes.push_back("no tokenizer.json: the GGUF carries no vocabulary");
    return false;
  }
  const std::string file = tok_path.string();
  const json j = read_json_file(file);
  if (!j.is_object() || !j.contains("model") || !j["model"].is_object()) fail(file, "expected an object with \"model\"");
  const json& model = j["model"];
  const std::string type = model.value("type", "BPE");
  if (type != "BPE") {
    notes.push_back("tokenizer model '" + type + "' has no GGUF form here (BPE only): the GGUF carries no vocabulary");
    return false;
  }
  const bool byte_fallback = model.value("byte_fallback", false);
  ByteLevelShape shape;
  if (j.contains("pre_tokenizer")) describe(j["pre_tokenizer"], shape);
  const bool byte_level = shape.byte_level || (j.contains("decoder") && j["decoder"].is_object() &&
                                               j["decoder"].value("type", "") == "ByteLevel");
  if (!byte_fallback && !byte_level) {
    notes.push_back("tokenizer.json is neither byte-level BPE nor BPE with byte fallback: the GGUF carries no vocabulary");
    return false;
  }

  // Ids: the vocabulary, then the added tokens (which may sit outside it).
  std::unordered_map<std::string, int> id_of;
  std::map<int, std::pair<std::string, int>> by_id;  // id -> piece, type
  auto vit = model.find("vocab");
  if (vit == model.end() || !vit->is_object()) fail(file, "model.vocab must be an object of piece: id");
  for (auto& [piece, id] : vit->items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > (int64_t(1) << 30)) {
      fail(file, "model.vocab['" + piece + "'] is not a token id");
    }
    const int i = int(id.get<int64_t>());
    by_id[i] = {piece, byte_fallback && is_byte_piece(piece) ? kByte : kNormal};
    id_of.emplace(piece, i);
  }
  if (auto at = j.find("added_tokens"); at != j.end() && at->is_array()) {
    for (auto& t : *at) {
      if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer() || !t.contains("content") ||
          !t["content"].is_string() || t["id"].get<int64_t>() < 0 || t["id"].get<int64_t>() > (int64_t(1) << 30)) {
        fail(file, "added_tokens entries need an integer \"id\" and a string \"content\"");
      }
      const int i = int(t["id"].get<int64_t>());
      const std::string content = t["content"].get<std::string>();
      by_id[i] = {content, t.value("special", false) ? kControl : kUserDefined};
      id_of[content] = i;
    }
  }
  if (by_id.empty()) fail(file, "the vocabulary is empty");
  const int max_id = by_id.rbegin()->first;
  if (max_id >= vocab_size) {
    fail(file, "token id " + std::to_string(max_id) + " is outside the model's embedding (vocab_size " +
                   std::to_string(vocab_size) + ")");
  }
  std::vector<std::string> tokens(static_cast<size_t>(vocab_size));
  std::vector<int32_t> types(size_t(vocab_size), kUnused);
  int pads = 0;
  for (int i = 0; i < vocab_size; ++i) {
    auto it = by_id.find(i);
    if (it == by_id.end()) {
      tokens[size_t(i)] = "[PAD" + std::to_string(i) + "]";
      ++pads;
    } else {
      tokens[size_t(i)] = it->second.first;
      types[size_t(i)] = it->second.second;
    }
  }
  if (pads > 0) notes.push_back("padded the vocabulary with " + std::to_string(pads) + " unused tokens to the embedding's " + std::to_string(vocab_size) + " rows");

  const auto merges = read_merges(model, file);
  json tok_config = json::object();
  const fs::path cfg_path = fs::path(dir) / "tokenizer_config.json";
  if (fs::is_regular_file(cfg_path, ec)) tok_config = read_json_file(cfg_path.string());
  if (!tok_config.is_object()) tok_config = json::object();

  if (byte_fallback) {
    std::optional<int> unk;
    if (auto u = model.find("unk_token"); u != model.end() && u->is_string()) {
      if (auto it = id_of.find(u->get<std::string>()); it != id_of.end()) {
        unk = it->second;
        types[size_t(*unk)] = kUnknown;
      }
    }
    // A piece made by merge r scores -r, so earlier merges win; pieces no merge makes score
    // below every merge.
    std::vector<float> scores(size_t(vocab_size), 0.0f);
    std::vector<bool> set(size_t(vocab_size), false);
    for (size_t r = 0; r < merges.size(); ++r) {
      auto it = id_of.find(merges[r].first + merges[r].second);
      if (it == id_of.end() || set[size_t(it->second)]) continue;
      scores[size_t(it->second)] = -float(r);
      set[size_t(it->second)] = true;
    }
    for (int i = 0; i < vocab_size; ++i) {
      if (set[size_t(i)]) continue;
      const int t = types[size_t(i)];
      scores[size_t(i)] = t == kNormal || t == kByte ? -float(merges.size() + 1) : t == kUnused ? -1e9f : 0.0f;
    }
    meta.emplace_back("tokenizer.ggml.model", gguf::Value("llama"));
    meta.emplace_back("tokenizer.ggml.pre", gguf::Value("default"));
    meta.emplace_back("tokenizer.ggml.tokens", gguf::Value(tokens));
    meta.emplace_back("tokenizer.ggml.scores", gguf::Value(scores));
    meta.emplace_back("tokenizer.ggml.token_type", gguf::Value(types));
    meta.emplace_back("tokenizer.ggml.add_space_prefix", gguf::Value(adds_space_prefix(j)));
    if (unk) meta.emplace_back("tokenizer.ggml.unknown_token_id", gguf::Value(uint32_t(*unk)));
  } else {
    const PreTokenizer* pre = find_pre_tokenizer(shape);
    if (!pre) notes.push_back("the pre-tokenizer matches none GGUF names here (llama-bpe, qwen2, deepseek-v3, gpt-2): wrote 'default'");
    std::vector<std::string> merge_strings;
    merge_strings.reserve(merges.size());
    for (auto& [a, b] : merges) merge_strings.push_back(a + " " + b);
    meta.emplace_back("tokenizer.ggml.model", gguf::Value("gpt2"));
    meta.emplace_back("tokenizer.ggml.pre", gguf::Value(pre ? pre->name : "default"));
    meta.emplace_back("tokenizer.ggml.tokens", gguf::Value(tokens));
    meta.emplace_back("tokenizer.ggml.token_type", gguf::Value(types));
    meta.emplace_back("tokenizer.ggml.merges", gguf::Value(merge_strings));
  }

  // Special tokens: tokenizer_config.json names them, config.json gives ids.
  auto resolve = [&](const char* key, const char* id_key) -> std::optional<int> {
    if (auto t = token_text(tok_config, key)) {
      if (auto it = id_of.find(*t); it != id_of.end()) return it->second;
    }
    if (id_key) {
      if (auto id = int_or_first(config, id_key); id && *id >= 0 && *id < vocab_size) return id;
    }
    return std::nullopt;
  };
  const std::optional<int> bos = resolve("bos_token", "bos_token_id"), eos = resolve("eos_token", "eos_token_id");
  const std::optional<int> pad = resolve("pad_token", "pad_token_id");
  if (bos) meta.emplace_back("tokenizer.ggml.bos_token_id", gguf::Value(uint32_t(*bos)));
  if (eos) meta.emplace_back("tokenizer.ggml.eos_token_id", gguf::Value(uint32_t(*eos)));
  if (pad) meta.emplace_back("tokenizer.ggml.padding_token_id", gguf::Value(uint32_t(*pad)));
  const json post = j.value("post_processor", json());
  auto flag = [&](const char* key, std::optional<int> id, bool at_start) {
    if (auto it = tok_config.find(key); it != tok_config.end() && it->is_boolean()) return it->get<bool>();
    return id && template_has(post, tokens[size_t(*id)], at_start);
  };
  meta.emplace_back("tokenizer.ggml.add_bos_token", gguf::Value(flag("add_bos_token", bos, true)));
  meta.emplace_back("tokenizer.ggml.add_eos_token", gguf::Value(flag("add_eos_token", eos, false)));

  // The chat template: tokenizer_config.json's (a string, or named templates), else the files
  // newer checkpoints keep it in.
  if (auto ct = tok_config.find("chat_template"); ct != tok_config.end() && !ct->is_null()) {
    if (ct->is_string()) {
      meta.emplace_back("tokenizer.chat_template", gguf::Value(ct->get<std::string>()));
    } else if (ct->is_array()) {
      for (auto& t : *ct) {
        if (!t.is_object() || !t.contains("name") || !t.contains("template") || !t["name"].is_string() ||
            !t["template"].is_string()) {
          continue;
        }
        const std::string name = t["name"].get<std::string>();
        meta.emplace_back(name == "default" ? "tokenizer.chat_template" : "tokenizer.chat_template." + name,
                          gguf::Value(t["template"].get<std::string>()));
      }
    }
  } else if (fs::is_regular_file(fs::path(dir) / "chat_template.jinja", ec)) {
    meta.emplace_back("tokenizer.chat_template", gguf::Value(read_text(fs::path(dir) / "chat_template.jinja")));
  } else if (fs::is_regular_file(fs::path(dir) / "chat_template.json", ec)) {
    const json ct = read_json_file((fs::path(dir) / "chat_template.json").string());
    if (ct.is_object() && ct.contains("chat_template") && ct["chat_template"].is_string()) {
      meta.emplace_back("tokenizer.chat_template", gguf::Value(ct["chat_template"].get<std::string>()));
    }
  }
  return true;
}

// ------------------------------------------------------------------ GGUF -> tokenizer.json

std::optional<HfTokenizerFiles> from_gguf(const gguf::Reader& r, std::vector<std::string>& notes) {
  const gguf::Value* model = r.find("tokenizer.ggml.model");
  if (!model) {
    notes.push_back("the GGUF has no embedded vocabulary: no tokenizer.json written");
    return std::nullopt;
  }
  const std::string kind = model->is_string() ? model->str() : "";
  if (kind != "llama" && kind != "gpt2") {
    notes.push_back("tokenizer.ggml.model '" + model->to_string() +
                    "' is not converted (llama and gpt2 are): no tokenizer.json written");
    return std::nullopt;
  }
  const auto& tokens = r.at("tokenizer.ggml.tokens").strings();
  const size_t n = tokens.size();
  std::vector<int64_t> types(n, kNormal);
  if (const gguf::Value* t = r.find("tokenizer.ggml.token_type")) {
    types = t->ints();
    if (types.size() != n) {
      fail(r.path(), "tokenizer.ggml.token_type has " + std::to_string(types.size()) + " entries for " +
                         std::to_string(n) + " tokens");
    }
  }
  auto id_key = [&](const char* key) -> std::optional<int> {
    const gguf::Value* v = r.find(key);
    if (!v || !v->is_integer()) return std::nullopt;
    const int64_t id = v->to_int();
    if (id < 0 || uint64_t(id) >= n) return std::nullopt;
    return int(id);
  };
  const std::optional<int> bos = id_key("tokenizer.ggml.bos_token_id"), eos = id_key("tokenizer.ggml.eos_token_id");
  const std::optional<int> unk = id_key("tokenizer.ggml.unknown_token_id"), pad = id_key("tokenizer.ggml.padding_token_id");
  const bool add_bos = r.get_bool("tokenizer.ggml.add_bos_token", kind == "llama");
  const bool add_eos = r.get_bool("tokenizer.ggml.add_eos_token", false);

  json vocab = json::object(), added = json::array();
  int duplicates = 0;
  std::unordered_map<std::string, int> normal;  // pieces merges may produce or join
  for (size_t i = 0; i < n; ++i) {
    const int t = int(types[i]);
    const bool special = t == kControl || t == kUnknown;
    if (special || t == kUserDefined) added.push_back(added_token(int(i), tokens[i], special));
    // A byte-level vocabulary keeps its added tokens outside the model's vocabulary (as Llama 3's
    // and Qwen's files do) and has no use for llama.cpp's padding entries.
    if (kind == "gpt2" && (special || t == kUserDefined || t == kUnused)) continue;
    if (vocab.contains(tokens[i])) {
      ++duplicates;
      continue;
    }
    vocab[tokens[i]] = int(i);
    if (t == kNormal) normal.emplace(tokens[i], int(i));
  }
  if (duplicates > 0) notes.push_back("skipped " + std::to_string(duplicates) + " repeated vocabulary pieces");

  HfTokenizerFiles out;
  out.bos = bos;
  out.eos = eos;
  json& j = out.tokenizer;
  json& cfg = out.tokenizer_config;
  auto text = [&](std::optional<int> id) -> std::optional<std::string> {
    if (!id) return std::nullopt;
    return tokens[size_t(*id)];
  };
  const json post = add_bos || add_eos ? template_processing(add_bos ? text(bos) : std::nullopt,
                                                             add_eos ? text(eos) : std::nullopt, bos, eos)
                                       : json();
  if (kind == "llama") {
    const gguf::Value* sv = r.find("tokenizer.ggml.scores");
    std::vector<float> scores = sv ? sv->floats() : std::vector<float>(n, 0.0f);
    if (scores.size() != n) {
      fail(r.path(), "tokenizer.ggml.scores has " + std::to_string(scores.size()) + " entries for " +
                         std::to_string(n) + " tokens");
    }
    // SentencePiece merges the adjacent pair whose joined piece scores highest; as BPE merges,
    // every split of a piece into two pieces, ordered by the joined piece's score.
    struct Merge {
      float score;
      int id, left;
      size_t cut;
    };
    std::vector<Merge> merges;
    for (auto& [piece, id] : normal) {
      for (size_t cut = 1; cut < piece.size(); ++cut) {
        if ((uint8_t(piece[cut]) & 0xC0) == 0x80) continue;  // inside a UTF-8 character
        auto l = normal.find(piece.substr(0, cut));
        if (l == normal.end() || !normal.count(piece.substr(cut))) continue;
        merges.push_back({scores[size_t(id)], id, l->second, cut});
      }
    }
    std::sort(merges.begin(), merges.end(), [](const Merge& a, const Merge& b) {
      if (a.score != b.score) return a.score > b.score;
      return a.id != b.id ? a.id < b.id : a.left < b.left;
    });
    json merge_list = json::array();
    for (auto& m : merges) {
      const std::string& p = tokens[size_t(m.id)];
      merge_list.push_back({p.substr(0, m.cut), p.substr(m.cut)});
    }
    const bool prefix = r.get_bool("tokenizer.ggml.add_space_prefix", true);
    json replace = {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kSpace}};
    j = {{"version", "1.0"},
         {"added_tokens", added},
         {"normalizer", prefix ? json{{"type", "Sequence"},
                                      {"normalizers", {{{"type", "Prepend"}, {"prepend", kSpace}}, replace}}}
                               : replace},
         {"pre_tokenizer", nullptr},
         {"post_processor", post},
         {"decoder",
          {{"type", "Sequence"},
           {"decoders",
            {{{"type", "Replace"}, {"pattern", {{"String", kSpace}}}, {"content", " "}},
             {{"type", "ByteFallback"}},
             {{"type", "Fuse"}},
             {{"type", "Strip"}, {"content", " "}, {"start", prefix ? 1 : 0}, {"stop", 0}}}}}},
         {"model",
          {{"type", "BPE"},
           {"dropout", nullptr},
           {"unk_token", unk ? json(tokens[size_t(*unk)]) : json()},
           {"continuing_subword_prefix", nullptr},
           {"end_of_word_suffix", nullptr},
           {"fuse_unk", true},
           {"byte_fallback", true},
           {"vocab", vocab},
           {"merges", merge_list}}}};
    cfg["tokenizer_class"] = "LlamaTokenizerFast";
    cfg["legacy"] = false;
  } else {
    const std::string pre_name = r.get_string("tokenizer.ggml.pre", "default");
    const PreTokenizer* pre = nullptr;
    for (const PreTokenizer& p : pre_tokenizers()) {
      if (pre_name == p.name) pre = &p;
    }
    if (!pre) {
      notes.push_back("tokenizer.ggml.pre '" + pre_name + "' is not one this converter knows: wrote GPT-2's pre-tokenizer");
    }
    json pre_tok;
    if (pre && !pre->splits.empty()) {
      json steps = json::array();
      for (auto& s : pre->splits) {
        steps.push_back({{"type", "Split"}, {"pattern", {{"Regex", s}}}, {"behavior", "Isolated"}, {"invert", false}});
      }
      steps.push_back({{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}});
      pre_tok = {{"type", "Sequence"}, {"pretokenizers", steps}};
    } else {
      pre_tok = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
    }
    json merges = json::array();
    if (const gguf::Value* m = r.find("tokenizer.ggml.merges")) {
      for (auto& s : m->strings()) merges.push_back(s);
    }
    j = {{"version", "1.0"},
         {"added_tokens", added},
         {"normalizer", pre && pre->nfc ? json{{"type", "NFC"}} : json()},
         {"pre_tokenizer", pre_tok},
         {"post_processor", add_bos || add_eos ? post
                                               : json{{"type", "ByteLevel"},
                                                      {"add_prefix_space", false},
                                                      {"trim_offsets", false},
                                                      {"use_regex", false}}},
         {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}}},
         {"model",
          {{"type", "BPE"},
           {"dropout", nullptr},
           {"unk_token", nullptr},
           {"continuing_subword_prefix", nullptr},
           {"end_of_word_suffix", nullptr},
           {"fuse_unk", false},
           {"byte_fallback", false},
           {"ignore_merges", pre && pre->ignore_merges},
           {"vocab", vocab},
           {"merges", merges}}}};
    cfg["tokenizer_class"] = "PreTrainedTokenizerFast";
  }
  cfg["add_bos_token"] = add_bos;
  cfg["add_eos_token"] = add_eos;
  cfg["bos_token"] = bos ? json(tokens[size_t(*bos)]) : json();
  cfg["eos_token"] = eos ? json(tokens[size_t(*eos)]) : json();
  if (unk) cfg["unk_token"] = tokens[size_t(*unk)];
  if (pad) cfg["pad_token"] = tokens[size_t(*pad)];
  cfg["clean_up_tokenization_spaces"] = false;
  if (const gguf::Value* ct = r.find("tokenizer.chat_template"); ct && ct->is_string()) cfg["chat_template"] = ct->str();
  return out;
}

}  // namespace

// A field of an unexpected JSON type surfaces as the JSON library's exception; it is given the
// file's name here, once, rather than checked at every access.
bool tokenizer_to_gguf(const std::string& dir, const json& config, int vocab_size, Metadata& meta,
                       std::vector<std::string>& notes) {
  try {
    return to_gguf(dir, config, vocab_size, meta, notes);
  } catch (const json::exception& e) {
    fail((fs::path(dir) / "tokenizer.json").string(), std::string("unexpected content: ") + e.what());
  }
}

std::optional<HfTokenizerFiles> tokenizer_from_gguf(const gguf::Reader& r, std::vector<std::string>& notes) {
  try {
    return from_gguf(r, notes);
  } catch (const json::exception& e) {
    fail(r.path(), std::string("the embedded vocabulary cannot be written as tokenizer.json: ") + e.what());
  }
}

}  // namespace tessera::lm::convert
