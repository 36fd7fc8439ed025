// Public entry points: parsing, rendering with transformers' context, and finding a tokenizer's
// template in tokenizer_config.json or chat_template.jinja.
#include "tessera/lm/chat_template.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <utility>
#include <vector>

#include "lm/chat_template/ast.h"
#include "lm/chat_template/interpreter.h"
#include "lm/chat_template/parser.h"

namespace tessera::lm {

namespace ct = chat_template;
namespace fs = std::filesystem;

namespace {

[[noreturn]] void rethrow(const ct::Source& source, const ct::TemplateError& e) {
  std::string message = ct::format_error(source, e);
  if (e.kind == ct::TemplateError::Kind::Syntax) throw std::invalid_argument(message);
  throw std::runtime_error(message);
}

std::optional<std::string> token_text(const ChatJson& config, const char* key) {
  auto it = config.find(key);
  if (it == config.end()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  // Older configs store special tokens as AddedToken objects.
  if (it->is_object()) {
    auto content = it->find("content");
    if (content != it->end() && content->is_string()) return content->get<std::string>();
  }
  return std::nullopt;
}

std::string read_file(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::invalid_argument("[chat_template] cannot open " + path.string());
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

ChatJson read_json(const fs::path& path) {
  std::string text = read_file(path);
  try {
    return ChatJson::parse(text);
  } catch (const ChatJson::exception& e) {
    throw std::invalid_argument("[chat_template] " + path.string() + ": not valid JSON: " + e.what());
  }
}

void take_special_tokens(ChatTemplateSource& out, const ChatJson& config) {
  out.bos_token = token_text(config, "bos_token");
  out.eos_token = token_text(config, "eos_token");
  out.unk_token = token_text(config, "unk_token");
  out.pad_token = token_text(config, "pad_token");
}

}  // namespace

ChatTemplate ChatTemplate::parse(std::string_view source, std::string name, const ChatTemplateLimits& limits) {
  auto program = std::make_shared<ct::Program>(std::move(name), source);
  try {
    ct::parse(*program, limits.max_depth);
  } catch (const ct::TemplateError& e) {
    rethrow(program->source, e);
  }
  return ChatTemplate(std::move(program));
}

const std::string& ChatTemplate::name() const { return program_->source.name(); }

std::string ChatTemplate::render(const ChatJson& context, const ChatTemplateLimits& limits) const {
  ct::Interpreter interpreter(*program_, limits);
  try {
    return interpreter.render(context);
  } catch (const ct::TemplateError& e) {
    rethrow(program_->source, e);
  }
}

std::string ChatTemplate::apply(const ChatJson& messages, const ChatTemplateOptions& options) const {
  if (!messages.is_array())
    throw std::invalid_argument("[chat_template] " + name() + ": messages must be a JSON array of message objects");
  if (!options.extra_context.is_null() && !options.extra_context.is_object())
    throw std::invalid_argument("[chat_template] " + name() + ": extra_context must be a JSON object");
  // What transformers passes to render(): tools and documents are None when not given. The
  // inputs are handed over by reference; later entries override earlier ones.
  const ChatJson add_generation_prompt = options.add_generation_prompt;
  const ChatJson bos = options.bos_token ? ChatJson(*options.bos_token) : ChatJson();
  const ChatJson eos = options.eos_token ? ChatJson(*options.eos_token) : ChatJson();
  std::vector<std::pair<std::string, const ChatJson*>> variables = {
      {"messages", &messages},
      {"tools", &options.tools},
      {"documents", &options.documents},
      {"add_generation_prompt", &add_generation_prompt},
  };
  if (options.bos_token) variables.emplace_back("bos_token", &bos);
  if (options.eos_token) variables.emplace_back("eos_token", &eos);
  if (options.extra_context.is_object())
    for (auto it = options.extra_context.begin(); it != options.extra_context.end(); ++it)
      variables.emplace_back(it.key(), &it.value());
  ct::Interpreter interpreter(*program_, options.limits);
  try {
    return interpreter.render(variables);
  } catch (const ct::TemplateError& e) {
    rethrow(program_->source, e);
  }
}

std::string apply_chat_template(std::string_view template_source, const ChatJson& messages,
                                const ChatTemplateOptions& options) {
  return ChatTemplate::parse(template_source, "chat_template", options.limits).apply(messages, options);
}

ChatTemplateSource chat_template_from_config(const ChatJson& config, bool with_tools, const std::string& template_name) {
  if (!config.is_object()) throw std::invalid_argument("[chat_template] tokenizer_config.json must be a JSON object");
  auto it = config.find("chat_template");
  if (it == config.end() || it->is_null())
    throw std::invalid_argument("[chat_template] tokenizer_config.json has no chat_template");
  ChatTemplateSource out;
  take_special_tokens(out, config);
  if (it->is_string()) {
    if (!template_name.empty())
      throw std::invalid_argument("[chat_template] tokenizer_config.json has a single chat_template, not one named '" +
                                  template_name + "'");
    out.source = it->get<std::string>();
    out.name = "chat_template";
    return out;
  }
  if (!it->is_array())
    throw std::invalid_argument("[chat_template] chat_template must be a string or a list of {name, template} objects");
  std::vector<std::pair<std::string, std::string>> named;
  for (size_t i = 0; i < it->size(); ++i) {
    const ChatJson& entry = (*it)[i];
    if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string() || !entry.contains("template") ||
        !entry["template"].is_string())
      throw std::invalid_argument("[chat_template] chat_template[" + std::to_string(i) +
                                  "] must be an object with string 'name' and 'template'");
    named.emplace_back(entry["name"].get<std::string>(), entry["template"].get<std::string>());
  }
  auto find = [&](const std::string& name) -> const std::pair<std::string, std::string>* {
    for (const auto& n : named)
      if (n.first == name) return &n;
    return nullptr;
  };
  const std::pair<std::string, std::string>* chosen = nullptr;
  if (!template_name.empty()) {
    chosen = find(template_name);
  } else {
    if (with_tools) chosen = find("tool_use");
    if (!chosen) chosen = find("default");
  }
  if (!chosen) {
    std::string names;
    for (const auto& n : named) names += (names.empty() ? "'" : ", '") + n.first + "'";
    std::string wanted = template_name.empty() ? std::string("'default'") : "'" + template_name + "'";
    throw std::invalid_argument("[chat_template] no chat template named " + wanted + " (the config has " +
                                (names.empty() ? std::string("none") : names) + ")");
  }
  out.name = chosen->first;
  out.source = chosen->second;
  return out;
}

ChatTemplateSource load_chat_template(const std::string& path, bool with_tools, const std::string& template_name) {
  fs::path p(path);
  if (fs::is_directory(p)) {
    // transformers' order: chat_template.jinja, then tokenizer_config.json's entry, then a
    // processor's chat_template.json; the special tokens always come from the config.
    fs::path config = p / "tokenizer_config.json";
    fs::path jinja = p / "chat_template.jinja";
    fs::path processor = p / "chat_template.json";
    ChatJson json = fs::exists(config) ? read_json(config) : ChatJson::object();
    auto from_file = [&](const fs::path& file, std::string text) {
      ChatTemplateSource out;
      if (json.is_object()) take_special_tokens(out, json);
      out.source = std::move(text);
      out.name = file.filename().string();
      return out;
    };
    if (fs::exists(jinja)) return from_file(jinja, read_file(jinja));
    if (json.is_object() && json.contains("chat_template") && !json["chat_template"].is_null())
      return chat_template_from_config(json, with_tools, template_name);
    if (fs::exists(processor)) {
      ChatJson entry = read_json(processor);
      if (!entry.is_object() || !entry.contains("chat_template") || !entry["chat_template"].is_string())
        throw std::invalid_argument("[chat_template] " + processor.string() + ": expected {\"chat_template\": \"...\"}");
      return from_file(processor, entry["chat_template"].get<std::string>());
    }
    throw std::invalid_argument("[chat_template] " + path +
                                ": no chat_template.jinja, no chat_template in tokenizer_config.json and no "
                                "chat_template.json");
  }
  if (p.extension() == ".jinja") {
    ChatTemplateSource out;
    out.source = read_file(p);
    out.name = p.filename().string();
    return out;
  }
  try {
    return chat_template_from_config(read_json(p), with_tools, template_name);
  } catch (const std::invalid_argument& e) {
    std::string what = e.what();
    const std::string prefix = "[chat_template] ";
    if (what.rfind(prefix, 0) == 0) what = prefix + path + ": " + what.substr(prefix.size());
    throw std::invalid_argument(what);
  }
}

std::string apply_chat_template(const ChatTemplateSource& source, const ChatJson& messages,
                                const ChatTemplateOptions& options) {
  ChatTemplateOptions merged = options;
  if (!merged.bos_token) merged.bos_token = source.bos_token;
  if (!merged.eos_token) merged.eos_token = source.eos_token;
  ChatJson extra = ChatJson::object();
  if (source.unk_token) extra["unk_token"] = *source.unk_token;
  if (source.pad_token) extra["pad_token"] = *source.pad_token;
  if (options.extra_context.is_object())
    for (auto it = options.extra_context.begin(); it != options.extra_context.end(); ++it) extra[it.key()] = it.value();
  merged.extra_context = std::move(extra);
  return ChatTemplate::parse(source.source, source.name, options.limits).apply(messages, merged);
}

}  // namespace tessera::lm
