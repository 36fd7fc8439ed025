#include "lm/tokenizer/pattern.h"

namespace tessera::lm::detail {

Pattern::Pattern(const json& spec, const std::string& where, const JsonContext& ctx) {
  if (spec.is_object() && spec.contains("String") && spec["String"].is_string()) {
    literal_ = spec["String"].get<std::string>();
  } else if (spec.is_object() && spec.contains("Regex") && spec["Regex"].is_string()) {
    const std::string what = "[tokenizer] " + ctx.file + ": " + where;
    regex_ = std::make_unique<Regex>(spec["Regex"].get<std::string>(), what);
  } else {
    ctx.fail(where, "expected {\"String\": ...} or {\"Regex\": ...}");
  }
}

void Pattern::find(std::string_view text, std::vector<Range>& out) const {
  if (regex_) {
    regex_->for_each_match(text, [&](size_t b, size_t e) { out.emplace_back(b, e); });
    return;
  }
  if (literal_.empty()) return;
  for (size_t pos = text.find(literal_); pos != std::string_view::npos; pos = text.find(literal_, pos)) {
    out.emplace_back(pos, pos + literal_.size());
    pos += literal_.size();
  }
}

std::string Pattern::replace_all(std::string_view text, std::string_view content) const {
  std::vector<Range> matches;
  find(text, matches);
  if (matches.empty()) return std::string(text);
  std::string out;
  out.reserve(text.size());
  size_t prev = 0;
  for (auto [b, e] : matches) {
    out.append(text.substr(prev, b - prev));
    out.append(content);
    prev = e;
  }
  out.append(text.substr(prev));
  return out;
}

}  // namespace tessera::lm::detail
