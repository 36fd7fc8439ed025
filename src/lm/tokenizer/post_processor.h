// Post-processors (tokenizer.json "post_processor"): TemplateProcessing, ByteLevel (offsets only,
// so nothing to do on ids), BertProcessing, RobertaProcessing and Sequence. Only single sequences
// are encoded here, so only the "single" template is read.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "lm/tokenizer/json_context.h"

namespace tessera::lm::detail {

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  // Returns ids with the special tokens added around them.
  virtual std::vector<int> process(std::vector<int> ids) const = 0;
};

// The ids before and after the sequence, e.g. {BOS} and {} for Llama.
class Template final : public PostProcessor {
 public:
  Template(std::vector<int> before, std::vector<int> after) : before_(std::move(before)), after_(std::move(after)) {}
  std::vector<int> process(std::vector<int> ids) const override;

 private:
  std::vector<int> before_, after_;
};

// nullptr for a null or ids-preserving post-processor.
std::unique_ptr<PostProcessor> make_post_processor(const json& spec, const std::string& where, const JsonContext& ctx);

}  // namespace tessera::lm::detail
