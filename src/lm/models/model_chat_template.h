// Finding the chat template a model ships: in its directory or in its GGUF metadata.
#pragma once

#include <filesystem>
#include <memory>

#include "tessera/lm/chat_template.h"

namespace tessera::gguf {
class Reader;
}

namespace tessera::lm {

// chat_template.jinja (transformers lets it override the config), else tokenizer_config.json's
// chat_template (a string, or the list of named templates: "default"), else chat_template.json's
// (the processor file of multimodal checkpoints); the special tokens come from
// tokenizer_config.json. Null when the directory has none; std::invalid_argument naming the file
// when one is malformed.
std::shared_ptr<const ChatTemplateSource> directory_chat_template(const std::filesystem::path& dir);

// tokenizer.chat_template, with BOS and EOS spelled as the embedded vocabulary spells them.
// Null when the file has none.
std::shared_ptr<const ChatTemplateSource> gguf_chat_template(const gguf::Reader& reader);

}  // namespace tessera::lm
