// Added tokens (tokenizer.json "added_tokens", tokenizer_config.json "added_tokens_decoder"): they
// are cut out of the text before the model sees it. Tokens with normalized=false are found in the
// raw text; the others in the normalized text, as the tokenizers library does. Among the matches
// the leftmost wins, then the longest; lstrip/rstrip swallow the whitespace beside a match and
// single_word rejects a match that touches a word character.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::lm::detail {

struct AddedToken {
  int id = -1;
  std::string content;
  bool special = false;
  bool lstrip = false, rstrip = false, normalized = false, single_word = false;
};

// A run of text, or an added token found in it (id >= 0, text is what it covered).
struct Segment {
  std::string_view text;
  int id = -1;
};

class AddedTokenMatcher {
 public:
  // Builds the matcher for the tokens whose `normalized` flag equals the argument.
  AddedTokenMatcher(const std::vector<AddedToken>& tokens, bool normalized);
  bool empty() const { return tokens_.empty(); }
  // Appends text cut into plain runs and added tokens.
  void split(std::string_view text, std::vector<Segment>& out) const;

 private:
  struct Node {
    std::vector<std::pair<unsigned char, uint32_t>> children;  // sorted by byte
    int token = -1;                                           // index into tokens_ ending here
  };
  // Index into tokens_ of the longest token starting at text[pos], or -1.
  int longest_at(std::string_view text, size_t pos, size_t& length) const;

  std::vector<AddedToken> tokens_;
  std::vector<Node> trie_;
  bool first_byte_[256] = {};
  int only_first_byte_ = -1;  // when every token starts with the same byte (often '<'): memchr
};

}  // namespace tessera::lm::detail
