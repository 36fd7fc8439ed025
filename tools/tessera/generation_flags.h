// Flags that `tessera generate` and `tessera chat` share, named as mlx_lm names them: sampling
// (--max-tokens, --temp, --top-p, --top-k, --min-p, --repetition-penalty,
// --repetition-context-size, --seed), --no-replay, and the chat template's extra variables
// (--chat-template-config); and Tessera's model-loading flag --int8-activations.
#pragma once

#include "args.h"
#include "tessera/lm/chat_template.h"
#include "tessera/lm/generate.h"
#include "tessera/lm/model.h"

namespace tessera::cli {

void add_sampling_flags(Args& args, const std::string& max_tokens_help);
// Declares --int8-activations; load_options reads it.
void add_load_flags(Args& args);
lm::LoadOptions load_options(const Args& args);
// Fills max_tokens, sampling and replay_steps from the flags.
void read_sampling_flags(const Args& args, lm::GenerateOptions& options);
// --chat-template-config as a JSON object (empty object when absent); std::invalid_argument
// naming the flag for bad JSON or a non-object.
lm::ChatJson chat_template_config(const Args& args);

}  // namespace tessera::cli
