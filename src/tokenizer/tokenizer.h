// A Hugging Face tokenizer.json tokenizer: encode text to ids and decode ids to text with the
// same results as the `tokenizers` library, plus streaming detokenization. Supported: BPE
// (byte-level or SentencePiece-style with byte fallback), WordPiece and Unigram models, the
// normalizers, pre-tokenizers, post-processors and decoders listed in their registries, and
// added tokens with all their flags; any other component is refused by name at load time
// rather than silently mis-tokenizing.
//
// A Tokenizer is immutable after FromJson and every method is safe to call from many threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace brisk::tokenizer {

class AddedVocabulary;
class Normalizer;
class PreTokenizer;
class Model;
class PostProcessor;
class Decoder;

// Encode: whether the post-processor adds its special tokens (BOS, ...).
enum class AddSpecial { kNo, kYes };
// Decode: whether special added tokens are dropped from the text.
enum class SkipSpecial { kNo, kYes };

class Tokenizer {
 public:
  // Parses a tokenizer.json document. `source_name` (a path or label) prefixes error messages.
  // Errors: InvalidArgument for malformed JSON or fields; Unimplemented naming a component
  // type or option that is not supported yet.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromJson(std::string_view json,
                                                             std::string_view source_name);
  // Reads and parses a tokenizer.json file; NotFound/Internal when it cannot be read.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromFile(
      const std::string& tokenizer_json_path);

  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // The ids of `text`. Invalid UTF-8 in `text` is first replaced by U+FFFD (as Python's
  // errors="replace" would), since the reference library only accepts valid strings.
  // Thread-safe.
  std::vector<int32_t> Encode(std::string_view text, AddSpecial add) const;

  // The text of `ids`. Ids unknown to the vocabulary are skipped, as are special added tokens
  // with SkipSpecial::kYes. Without a decoder, tokens are joined with single spaces.
  // Thread-safe.
  std::string Decode(std::span<const int32_t> ids, SkipSpecial skip) const;

  // Largest id over the model vocabulary and the added tokens, plus one.
  int32_t vocab_size() const;
  // The id of a token string (added tokens first, then the model vocabulary).
  std::optional<int32_t> TokenToId(std::string_view token) const;
  // The token string of `id`, "" when no token has this id.
  std::string IdToToken(int32_t id) const;
  // True when `id` is an added token marked "special".
  bool IsSpecial(int32_t id) const;

 private:
  Tokenizer();
  void EncodeText(std::string_view text, size_t origin, std::vector<int32_t>& ids) const;

  // Constant after construction. Null components are absent from the file.
  std::unique_ptr<AddedVocabulary> added_;
  std::unique_ptr<Normalizer> normalizer_;
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<PostProcessor> post_processor_;
  std::unique_ptr<Decoder> decoder_;
};

// Streaming detokenization: feed ids one at a time as they are sampled and get back the text
// that became final. Never returns a partial UTF-8 sequence: text that still ends in an
// incomplete character (or U+FFFD) is held back until more ids arrive or Flush().
// Guarantee: the concatenation of every Append() result and Flush() equals
// tokenizer.Decode(all ids, skip) for decoders whose output only grows at the end as ids are
// appended (ByteLevel; ByteFallback and Fuse whenever byte runs are valid UTF-8).
// Cost per id: decoding a window of the last few ids. Not thread-safe (one per stream).
class IncrementalDecoder {
 public:
  // REQUIRES: `tokenizer` outlives this object.
  IncrementalDecoder(const Tokenizer& tokenizer, SkipSpecial skip);

  // Adds one id; returns the text that became final ("" when none did).
  std::string Append(int32_t id);
  // Returns whatever is still held back and resets the stream.
  std::string Flush();

 private:
  const Tokenizer* tokenizer_;
  SkipSpecial skip_;
  // ids_[0, num_context_) were already turned into text (they give context to the decoder);
  // ids_[num_context_, end) are pending. context_text_ = Decode(ids_[0, num_context_)).
  std::vector<int32_t> ids_;
  size_t num_context_ = 0;
  std::string context_text_;
};

}  // namespace brisk::tokenizer
