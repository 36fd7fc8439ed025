#include "lm/models/model_chat_template.h"

#include <fstream>
#include <stdexcept>

#include "lm/models/json_file.h"
#include "tessera/gguf.h"

namespace tessera::lm {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail(const fs::path& file, const std::string& what) {
  throw std::invalid_argument("[load_model] " + file.string() + ": " + what);
}

std::string read_text(const fs::path& file) {
  constexpr std::streamoff kMaxBytes = std::streamoff(16) << 20;
  std::ifstream f(file, std::ios::binary | std::ios::ate);
  if (!f) fail(file, "cannot open the file");
  const std::streamoff size = f.tellg();
  if (size < 0) fail(file, "cannot read the file");
  if (size > kMaxBytes) fail(file, std::to_string(size) + " bytes is more than the 16 MiB a chat template may hold");
  f.seekg(0);
  std::string text(size_t(size), '\0');
  if (!f.read(text.data(), size)) fail(file, "read error");
  return text;
}

// chat_template_from_config's "[chat_template] ..." errors, told which file they are about.
ChatTemplateSource from_config(const ChatJson& config, const fs::path& file) {
  try {
    return chat_template_from_config(config);
  } catch (const std::invalid_argument& e) {
    std::string what = e.what();
    const std::string tag = "[chat_template] ";
    if (what.rfind(tag, 0) == 0) what = what.substr(tag.size());
    fail(file, what);
  }
}

}  // namespace

std::shared_ptr<const ChatTemplateSource> directory_chat_template(const fs::path& dir) {
  std::error_code ec;
  const fs::path config_file = dir / "tokenizer_config.json";
  const fs::path jinja_file = dir / "chat_template.jinja";
  const fs::path processor_file = dir / "chat_template.json";
  ChatJson config = ChatJson::object();
  if (fs::is_regular_file(config_file, ec)) {
    config = read_json_file(config_file.string());
    if (!config.is_object()) fail(config_file, "expected a JSON object");
  }
  // A template from another file still takes its special tokens from the config, so the file's
  // text stands in for the config's entry.
  std::optional<std::string> text;
  fs::path from = config_file;
  if (fs::is_regular_file(jinja_file, ec)) {
    text = read_text(jinja_file);
    from = jinja_file;
  } else if (auto it = config.find("chat_template"); it != config.end() && !it->is_null()) {
    return std::make_shared<ChatTemplateSource>(from_config(config, config_file));
  } else if (fs::is_regular_file(processor_file, ec)) {
    const ChatJson processor = read_json_file(processor_file.string());
    auto entry = processor.is_object() ? processor.find("chat_template") : processor.end();
    if (entry == processor.end() || !entry->is_string()) fail(processor_file, "expected {\"chat_template\": \"...\"}");
    text = entry->get<std::string>();
    from = processor_file;
  }
  if (!text) return nullptr;
  config["chat_template"] = *text;
  auto out = std::make_shared<ChatTemplateSource>(from_config(config, from));
  out->name = from.filename().string();
  return out;
}

std::shared_ptr<const ChatTemplateSource> gguf_chat_template(const gguf::Reader& r) {
  const gguf::Value* t = r.find("tokenizer.chat_template");
  if (!t) return nullptr;
  if (!t->is_string()) {
    throw std::invalid_argument("[load_model] " + r.path() + ": metadata 'tokenizer.chat_template' must be a string, got " +
                                gguf::value_type_name(t->type()));
  }
  auto out = std::make_shared<ChatTemplateSource>();
  out->source = t->str();
  out->name = "tokenizer.chat_template";
  const gguf::Value* tokens = r.find("tokenizer.ggml.tokens");
  auto spelled = [&](const char* key) -> std::optional<std::string> {
    const gguf::Value* id = r.find(key);
    if (!id || !id->is_integer() || !tokens || !tokens->is_array() || tokens->element_type() != gguf::ValueType::string)
      return std::nullopt;
    const int64_t i = id->to_int();
    const auto& pieces = tokens->strings();
    if (i < 0 || uint64_t(i) >= pieces.size()) return std::nullopt;
    return pieces[size_t(i)];
  };
  out->bos_token = spelled("tokenizer.ggml.bos_token_id");
  out->eos_token = spelled("tokenizer.ggml.eos_token_id");
  return out;
}

}  // namespace tessera::lm
