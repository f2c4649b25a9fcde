// Added tokens: strings (mostly special tokens such as "<|begin_of_text|>") that are cut out of
// the input before normalization and pre-tokenization and map straight to their ids.
// Matching is leftmost-longest over the bytes, in two passes like Hugging Face `tokenizers`:
// first the tokens with "normalized": false over the raw text, then the others over each
// remaining piece after normalization, where their contents are looked for in normalized form
// (with a lowercasing normalizer, "<Mask>" matches "<mask>"). A match may absorb
// the whitespace next to it (lstrip / rstrip) and may be required to stand alone as a word
// (single_word). Immutable after construction; thread-safe.
#pragma once

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/components.h"
#include "tokenizer/json_util.h"
#include "tokenizer/regex.h"

namespace brisk::tokenizer {

struct AddedToken {
  int32_t id = 0;
  std::string content;
  bool special = false;
  bool lstrip = false;
  bool rstrip = false;
  bool single_word = false;
  bool normalized = true;
};

// A piece of input: an added token (`id` set) or text still to be tokenized.
struct Segment {
  std::string_view text;
  std::optional<int32_t> id;
};

class AddedVocabulary {
 public:
  // Which tokens a matching pass looks for: those with "normalized" false or true.
  enum class Pass { kRaw, kNormalized };

  // Reads the tokenizer.json "added_tokens" array (null or missing: no added tokens). As in
  // `tokenizers`, a token whose content is already in the model vocabulary takes the model's
  // id (a warning is logged if the file says otherwise), and a repeated content keeps its first
  // id and its last flags. Tokens with "normalized": true are matched by their content after
  // `normalizer` (null: none); when two normalize alike the first in file order wins.
  // InvalidArgument for malformed entries or empty contents.
  static absl::StatusOr<AddedVocabulary> FromJson(const Json* list, const Model& model,
                                                  const Normalizer* normalizer,
                                                  const std::string& where);

  // Appends to `out` the segments of `text` for one pass, covering `text` in order: matched
  // tokens (with the whitespace they absorb) and the non-empty text between them.
  // REQUIRES: `text` is valid UTF-8.
  void Split(std::string_view text, Pass pass, std::vector<Segment>& out) const;

  // The added token with this id, or null.
  const AddedToken* FindById(int32_t id) const;
  // The id of the added token with this content, if any.
  std::optional<int32_t> FindByContent(std::string_view content) const;
  // Largest added-token id plus one (0 when there are none).
  int32_t id_end() const { return id_end_; }
  size_t size() const { return tokens_.size(); }

 private:
  // A byte trie of token contents for leftmost-longest search.
  class Trie {
   public:
    // Adds `content` (not empty); a content already present keeps its first token.
    void Insert(std::string_view content, int32_t token_idx);
    // Longest content starting at text[pos]: (length, token index), or nullopt.
    std::optional<std::pair<size_t, int32_t>> LongestAt(std::string_view text, size_t pos) const;
    bool empty() const { return terminal_.size() <= 1; }
    bool MayStartWith(uint8_t byte) const { return first_bytes_[byte]; }

   private:
    std::unordered_map<uint64_t, int32_t> edges_;  // (node << 8 | byte) -> child node
    std::vector<int32_t> terminal_{-1};            // [num_nodes] token index ending here, or -1
    std::bitset<256> first_bytes_;
  };

  AddedVocabulary() = default;
  void Rebuild(const Normalizer* normalizer);
  bool IsStandaloneWord(std::string_view text, size_t start, size_t stop) const;

  // Constant after construction.
  std::vector<AddedToken> tokens_;                    // in file order, contents unique
  std::unordered_map<int32_t, int32_t> index_by_id_;  // id -> index into tokens_
  std::unordered_map<std::string, int32_t> index_by_content_;
  Trie raw_trie_;
  Trie normalized_trie_;
  int32_t id_end_ = 0;
  std::optional<Regex> word_char_;  // one character of Rust's Unicode `\w`
};

}  // namespace brisk::tokenizer
