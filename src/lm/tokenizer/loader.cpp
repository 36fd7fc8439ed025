// tokenizer.json + tokenizer_config.json -> the pipeline; also OpenAI's GPT-2 encoder.json + vocab.bpe.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "lm/tokenizer/tokenizer_impl.h"
#include "tessera/lm/tokenizer.h"

namespace tessera::lm {

namespace detail {

namespace {

constexpr long long kMaxAddedId = (1 << 24) - 1;

AddedToken parse_added_token(const json& spec, const std::string& where, const JsonContext& ctx, long long id) {
  AddedToken t;
  if (id < 0 || id > kMaxAddedId) ctx.fail(where + ".id", "expected an integer in [0, " + std::to_string(kMaxAddedId) + "]");
  t.id = int(id);
  t.content = ctx.string(spec, "content", where);
  t.special = ctx.boolean_or(spec, "special", where, false);
  t.lstrip = ctx.boolean_or(spec, "lstrip", where, false);
  t.rstrip = ctx.boolean_or(spec, "rstrip", where, false);
  // The library's default: special tokens are matched on raw text, others on normalized text.
  t.normalized = ctx.boolean_or(spec, "normalized", where, !t.special);
  t.single_word = ctx.boolean_or(spec, "single_word", where, false);
  return t;
}

// tokenizer_config.json gives tokens as "text" or {"content": "text", ...} (or null).
std::optional<std::string> config_token(const json& config, const char* key, const JsonContext& ctx) {
  const json* v = ctx.optional(config, key);
  if (!v) return std::nullopt;
  if (v->is_string()) return v->get<std::string>();
  if (v->is_object() && v->contains("content") && (*v)["content"].is_string()) return (*v)["content"].get<std::string>();
  ctx.fail(key, "expected a string or an object with \"content\"");
}

// transformers' Llama-family fast tokenizers rebuild the post-processor from add_bos_token /
// add_eos_token whatever tokenizer.json holds (LlamaTokenizerFast.update_post_processor).
bool rebuilds_post_processor(const std::string& tokenizer_class) {
  static const char* kClasses[] = {"LlamaTokenizer",        "LlamaTokenizerFast", "CodeLlamaTokenizer",
                                   "CodeLlamaTokenizerFast", "GemmaTokenizer",     "GemmaTokenizerFast"};
  for (const char* c : kClasses)
    if (tokenizer_class == c) return true;
  return false;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::invalid_argument("[tokenizer] " + path + ": cannot open the file");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw std::invalid_argument("[tokenizer] " + path + ": read error");
  return ss.str();
}

json parse_json(std::string_view text, const std::string& name) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw std::invalid_argument("[tokenizer] " + name + ": not valid JSON: " + e.what());
  }
}

}  // namespace

std::shared_ptr<TokenizerImpl> build_tokenizer(const json& tok, const json* config, const std::string& name,
                                               const std::string& config_name) {
  JsonContext ctx{name};
  JsonContext config_ctx{config_name};
  auto impl = std::make_shared<TokenizerImpl>();
  impl->name = name;
  if (!tok.is_object()) ctx.fail("", "expected a JSON object");

  impl->normalizer = make_normalizer(tok.value("normalizer", json()), "normalizer", ctx);
  impl->pre_tokenizer = make_pre_tokenizer(tok.value("pre_tokenizer", json()), "pre_tokenizer", ctx);
  impl->decoder = make_decoder(tok.value("decoder", json()), "decoder", ctx);
  impl->post_processor = make_post_processor(tok.value("post_processor", json()), "post_processor", ctx);

  const json& model = ctx.member(tok, "model", "");
  if (!model.is_object()) ctx.fail("model", "expected an object");
  std::string type;
  if (const json* t = ctx.optional(model, "type")) {
    if (!t->is_string()) ctx.fail("model.type", "expected a string");
    type = t->get<std::string>();
  } else if (model.contains("merges")) {
    type = "BPE";  // older files leave the type out; merges only exist in BPE models
  } else {
    ctx.fail("model", "missing \"type\"");
  }
  if (type != "BPE") ctx.fail("model.type", "unsupported model type '" + type + "' (supported: BPE)");
  const bool byte_level = impl->pre_tokenizer && impl->pre_tokenizer->byte_level();
  impl->model = std::make_unique<BpeModel>(model, byte_level, "model", ctx);

  // Added tokens: tokenizer.json's list, then any the config adds in added_tokens_decoder.
  std::vector<AddedToken>& added = impl->added_tokens;
  if (const json* list = ctx.optional(tok, "added_tokens")) {
    if (!list->is_array()) ctx.fail("added_tokens", "expected an array");
    for (size_t i = 0; i < list->size(); ++i) {
      const std::string w = indexed("added_tokens", i);
      const json& id = ctx.member((*list)[i], "id", w);
      if (!id.is_number_integer()) ctx.fail(w + ".id", "expected an integer");
      added.push_back(parse_added_token((*list)[i], w, ctx, id.get<long long>()));
    }
  }
  if (const json* decoder = config ? config_ctx.optional(*config, "added_tokens_decoder") : nullptr) {
    if (!decoder->is_object()) config_ctx.fail("added_tokens_decoder", "expected an object");
    for (auto it = decoder->begin(); it != decoder->end(); ++it) {
      const std::string w = "added_tokens_decoder." + it.key();
      long long id = -1;
      try {
        size_t used = 0;
        id = std::stoll(it.key(), &used);
        if (used != it.key().size()) id = -1;
      } catch (const std::exception&) {
      }
      AddedToken t = parse_added_token(it.value(), w, config_ctx, id);
      bool known = false;
      for (const AddedToken& a : added) known = known || a.id == t.id;
      if (!known) added.push_back(std::move(t));
    }
  }

  int max_id = impl->model->max_id();
  for (const AddedToken& t : added) {
    max_id = std::max(max_id, t.id);
    impl->added_by_content.try_emplace(t.content, t.id);
    impl->added_by_id.try_emplace(t.id, t.content);
  }
  impl->vocab_size = max_id + 1;
  impl->special.assign(size_t(impl->vocab_size), 0);
  for (const AddedToken& t : added)
    if (t.special) impl->special[t.id] = 1;
  impl->raw_matcher = std::make_unique<AddedTokenMatcher>(added, false);
  if (impl->raw_matcher->empty()) impl->raw_matcher.reset();
  impl->normalized_matcher = std::make_unique<AddedTokenMatcher>(added, true);
  if (impl->normalized_matcher->empty()) impl->normalized_matcher.reset();

  auto lookup = [&](const std::string& token) -> std::optional<int> {
    if (auto it = impl->added_by_content.find(token); it != impl->added_by_content.end()) return it->second;
    return impl->model->token_to_id(token);
  };
  if (config) {
    if (!config->is_object()) config_ctx.fail("", "expected a JSON object");
    if (auto bos = config_token(*config, "bos_token", config_ctx)) impl->bos = lookup(*bos);
    if (auto eos = config_token(*config, "eos_token", config_ctx)) impl->eos = lookup(*eos);
    std::string tokenizer_class = config_ctx.string_or(*config, "tokenizer_class", "", "");
    if (rebuilds_post_processor(tokenizer_class)) {
      bool add_bos = config_ctx.boolean_or(*config, "add_bos_token", "", true);
      bool add_eos = config_ctx.boolean_or(*config, "add_eos_token", "", false);
      std::vector<int> before, after;
      if (add_bos && impl->bos) before.push_back(*impl->bos);
      if (add_eos && impl->eos) after.push_back(*impl->eos);
      impl->post_processor = std::make_unique<Template>(std::move(before), std::move(after));
    }
  }
  return impl;
}

}  // namespace detail

namespace {

std::shared_ptr<const detail::TokenizerImpl> load(std::string_view tokenizer_json, std::string_view config_json,
                                                  const std::string& name, const std::string& config_name,
                                                  bool has_config) {
  detail::json tok = detail::parse_json(tokenizer_json, name);
  detail::json config;
  if (has_config) config = detail::parse_json(config_json, config_name);
  try {
    return detail::build_tokenizer(tok, has_config ? &config : nullptr, name, config_name);
  } catch (const detail::json::exception& e) {
    // A value of a type the checks above did not anticipate.
    throw std::invalid_argument("[tokenizer] " + name + ": " + e.what());
  }
}

}  // namespace

Tokenizer Tokenizer::from_json(std::string_view tokenizer_json, std::string_view tokenizer_config_json,
                               const std::string& name) {
  return Tokenizer(load(tokenizer_json, tokenizer_config_json, name, name + " (tokenizer_config.json)",
                        !tokenizer_config_json.empty()));
}

Tokenizer Tokenizer::from_file(const std::string& tokenizer_json, const std::string& tokenizer_config_json) {
  std::string tok = detail::read_file(tokenizer_json);
  std::string config = tokenizer_config_json.empty() ? std::string() : detail::read_file(tokenizer_config_json);
  return Tokenizer(load(tok, config, tokenizer_json, tokenizer_config_json, !tokenizer_config_json.empty()));
}

Tokenizer Tokenizer::from_directory(const std::string& dir) {
  std::filesystem::path d(dir);
  std::filesystem::path config = d / "tokenizer_config.json";
  std::error_code ec;
  return from_file((d / "tokenizer.json").string(), std::filesystem::exists(config, ec) ? config.string() : "");
}

Tokenizer Tokenizer::from_gpt2_files(const std::string& encoder_json, const std::string& vocab_bpe) {
  detail::json vocab = detail::parse_json(detail::read_file(encoder_json), encoder_json);
  if (!vocab.is_object()) throw std::invalid_argument("[tokenizer] " + encoder_json + ": expected an object of token: id");
  detail::json merges = detail::json::array();
  std::istringstream lines(detail::read_file(vocab_bpe));
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line.starts_with("#version")) continue;
    merges.push_back(line);
  }
  // The same pipeline Hugging Face's GPT-2 tokenizer.json spells out.
  detail::json tok = {
      {"model", {{"type", "BPE"}, {"vocab", std::move(vocab)}, {"merges", std::move(merges)}}},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
      {"decoder", {{"type", "ByteLevel"}}},
  };
  detail::json config = detail::json::object();
  if (tok["model"]["vocab"].contains("<|endoftext|>")) {
    int id = tok["model"]["vocab"]["<|endoftext|>"].is_number_integer() ? tok["model"]["vocab"]["<|endoftext|>"].get<int>() : -1;
    tok["added_tokens"] = {{{"id", id}, {"content", "<|endoftext|>"}, {"special", true}, {"normalized", false}}};
    config = {{"bos_token", "<|endoftext|>"}, {"eos_token", "<|endoftext|>"}};
  }
  try {
    return Tokenizer(detail::build_tokenizer(tok, &config, encoder_json + " + " + vocab_bpe, encoder_json));
  } catch (const detail::json::exception& e) {
    throw std::invalid_argument("[tokenizer] " + encoder_json + ": " + e.what());
  }
}

}  // namespace tessera::lm
