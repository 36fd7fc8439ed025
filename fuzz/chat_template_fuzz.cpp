// libFuzzer target for the chat template engine: each input is parsed as a Jinja template and,
// when it parses, rendered with a fixed conversation (system, user, an assistant tool call, a
// tool result, an assistant answer with reasoning), tools and extra context, under small limits
// so that loops, recursion and growing strings end quickly in errors. An input that is a JSON
// object is also read as a tokenizer_config.json. Syntax and render errors are expected (they
// must be the engine's own, tagged messages); crashes, hangs, leaks and other exceptions are not.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

#include "tessera/lm/chat_template.h"

using tessera::lm::ChatJson;
using tessera::lm::ChatTemplate;
using tessera::lm::ChatTemplateLimits;
using tessera::lm::ChatTemplateOptions;

namespace {

const ChatJson& messages() {
  static const ChatJson m = ChatJson::parse(R"([
    {"role": "system", "content": "You are helpful."},
    {"role": "user", "content": "Weather in Paris? é 中"},
    {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "id": "c1",
      "function": {"name": "get_weather", "arguments": {"city": "Paris", "days": [1, 2.5, null, true]}}}]},
    {"role": "tool", "content": "<tool_response>{\"t\": 22}</tool_response>", "tool_call_id": "c1"},
    {"role": "assistant", "content": "<think>\nwarm\n</think>\n\nIt is 22C.", "reasoning_content": "warm"},
    {"role": "user", "content": "  thanks\n"}])");
  return m;
}

ChatTemplateOptions options() {
  ChatTemplateOptions o;
  o.add_generation_prompt = true;
  o.bos_token = "<s>";
  o.eos_token = "</s>";
  o.tools = ChatJson::parse(R"([{"type": "function", "function": {"name": "get_weather", "description": "Weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])");
  o.extra_context = {{"enable_thinking", false}, {"date_string", "26 Jul 2024"}};
  o.limits.max_depth = 48;
  o.limits.max_steps = 20000;
  o.limits.max_output_bytes = 1 << 16;
  o.limits.max_memory_bytes = 16 << 20;
  return o;
}

void check_tagged(const std::exception& e) {
  // Every error the engine raises names itself; anything else escaped from somewhere it should not.
  if (std::strncmp(e.what(), "[chat_template] ", 16) != 0) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ChatTemplateOptions opts = options();
  std::string_view input(reinterpret_cast<const char*>(data), size);
  try {
    ChatTemplate t = ChatTemplate::parse(input, "fuzz", opts.limits);
    std::string out = t.apply(messages(), opts);
    if (out.size() > opts.limits.max_output_bytes) std::abort();
  } catch (const std::invalid_argument& e) {
    check_tagged(e);
  } catch (const std::runtime_error& e) {
    check_tagged(e);
  }
  if (size > 0 && data[0] == '{') {
    ChatJson config = ChatJson::parse(input, nullptr, false);
    if (!config.is_discarded()) {
      for (bool tools : {false, true}) {
        try {
          tessera::lm::ChatTemplateSource source = tessera::lm::chat_template_from_config(config, tools);
          tessera::lm::apply_chat_template(source, messages(), opts);
        } catch (const std::invalid_argument& e) {
          check_tagged(e);
        } catch (const std::runtime_error& e) {
          check_tagged(e);
        }
      }
    }
  }
  return 0;
}
