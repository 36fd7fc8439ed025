// A program built against an installed Tessera, as a user would build one.
#include <cstdio>
#include <vector>

#include "tessera/lm/tokenizer.h"
#include "tessera/tessera.h"

int main() {
  namespace mx = tessera;
  mx::array a = mx::reshape(mx::arange(6.0), {2, 3});
  mx::array b = mx::matmul(a, mx::transpose(a));
  float total = mx::sum(b).item<float>();
  // [[0,1,2],[3,4,5]] @ its transpose = [[5,14],[14,50]]
  if (total != 83.0f) {
    std::printf("wrong result %f\n", total);
    return 1;
  }
  // The tokenizer pulls in the library's PCRE2 and utf8proc dependencies.
  auto tok = mx::lm::Tokenizer::from_json(
      R"({"normalizer": {"type": "NFC"}, "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]},)"
      R"( "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "\\p{L}+"}, "behavior": "Isolated"}})");
  if (tok.encode("abab a") != std::vector<int>{2, 2, 0}) {
    std::printf("wrong tokens\n");
    return 1;
  }
  std::printf("consumer ok: %f\n", total);
  return 0;
}
