#include "lm/tokenizer/post_processor.h"

#include <cstdint>

namespace tessera::lm::detail {

std::vector<int> Template::process(std::vector<int> ids) const {
  std::vector<int> out;
  out.reserve(before_.size() + ids.size() + after_.size());
  out.insert(out.end(), before_.begin(), before_.end());
  out.insert(out.end(), ids.begin(), ids.end());
  out.insert(out.end(), after_.begin(), after_.end());
  return out;
}

namespace {

class Sequence final : public PostProcessor {
 public:
  explicit Sequence(std::vector<std::unique_ptr<PostProcessor>> steps) : steps_(std::move(steps)) {}
  std::vector<int> process(std::vector<int> ids) const override {
    for (const auto& step : steps_) ids = step->process(std::move(ids));
    return ids;
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> steps_;
};

std::unique_ptr<PostProcessor> template_processing(const json& spec, const std::string& where, const JsonContext& ctx) {
  const std::string w = where + ".single";
  const json& single = ctx.array(spec, "single", where);
  const json* specials = ctx.optional(spec, "special_tokens");
  std::vector<int> before, after;
  bool seen_sequence = false;
  for (size_t i = 0; i < single.size(); ++i) {
    const std::string wi = indexed(w, i);
    const json& item = single[i];
    if (item.is_object() && item.contains("Sequence")) {
      const json& seq = item["Sequence"];
      std::string id = ctx.string(seq, "id", wi + ".Sequence");
      if (id != "A" || seen_sequence) ctx.fail(wi, "the single template must hold the sequence A exactly once");
      seen_sequence = true;
    } else if (item.is_object() && item.contains("SpecialToken")) {
      std::string name = ctx.string(item["SpecialToken"], "id", wi + ".SpecialToken");
      const json* entry = specials && specials->is_object() && specials->contains(name) ? &(*specials)[name] : nullptr;
      if (!entry) ctx.fail(wi, "special token '" + name + "' is not in special_tokens");
      const json& ids = ctx.array(*entry, "ids", where + ".special_tokens." + name);
      for (const json& id : ids) {
        if (!id.is_number_integer() || id.get<long long>() < 0 || id.get<long long>() > INT32_MAX)
          ctx.fail(where + ".special_tokens." + name + ".ids", "expected non-negative integer ids");
        (seen_sequence ? after : before).push_back(int(id.get<long long>()));
      }
    } else {
      ctx.fail(wi, "expected {\"Sequence\": ...} or {\"SpecialToken\": ...}");
    }
  }
  if (!seen_sequence) ctx.fail(w, "the single template must hold the sequence A exactly once");
  return std::make_unique<Template>(std::move(before), std::move(after));
}

// BertProcessing / RobertaProcessing: [CLS] A [SEP], each given as ["token", id].
std::unique_ptr<PostProcessor> cls_sep(const json& spec, const std::string& where, const JsonContext& ctx) {
  auto id_of = [&](const char* key) {
    const json& v = ctx.member(spec, key, where);
    if (!v.is_array() || v.size() != 2 || !v[1].is_number_integer() || v[1].get<long long>() < 0 ||
        v[1].get<long long>() > INT32_MAX)
      ctx.fail(where + "." + key, "expected [\"token\", id]");
    return int(v[1].get<long long>());
  };
  return std::make_unique<Template>(std::vector<int>{id_of("cls")}, std::vector<int>{id_of("sep")});
}

}  // namespace

std::unique_ptr<PostProcessor> make_post_processor(const json& spec, const std::string& where, const JsonContext& ctx) {
  JsonContext::Nesting nesting(ctx, where);
  if (spec.is_null()) return nullptr;
  const std::string type = ctx.type(spec, where);
  if (type == "ByteLevel") return nullptr;  // it only trims offsets
  if (type == "TemplateProcessing") return template_processing(spec, where, ctx);
  if (type == "BertProcessing" || type == "RobertaProcessing") return cls_sep(spec, where, ctx);
  if (type == "Sequence") {
    const json& list = ctx.array(spec, "processors", where);
    std::vector<std::unique_ptr<PostProcessor>> steps;
    for (size_t i = 0; i < list.size(); ++i)
      if (auto step = make_post_processor(list[i], indexed(where + ".processors", i), ctx))
        steps.push_back(std::move(step));
    if (steps.empty()) return nullptr;
    if (steps.size() == 1) return std::move(steps[0]);
    return std::make_unique<Sequence>(std::move(steps));
  }
  ctx.fail(where + ".type", "unsupported post-processor '" + type +
                                "' (supported: TemplateProcessing, ByteLevel, BertProcessing, RobertaProcessing, "
                                "Sequence)");
}

}  // namespace tessera::lm::detail
