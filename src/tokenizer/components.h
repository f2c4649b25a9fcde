// The five stages of a Hugging Face tokenizer as small interfaces. Encoding runs
//   text -> (split on added tokens) -> Normalizer -> PreTokenizer -> Model -> PostProcessor,
// decoding runs ids -> token strings -> Decoder -> text. Each implementation is chosen by
// the "type" string of its JSON object through the family's registry (see the Make* functions
// in normalizer.h, pre_tokenizer.h, model.h, post_processor.h and decoder.h). Components are
// immutable after construction and safe to use from many threads at once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace brisk::tokenizer {

// Text under normalization, with the alignment that later stages need: for every byte of
// `text`, the byte offset (in the text first given to the normalizers) of the character it was
// derived from. A character inserted by a normalizer takes the origin of the character it was
// attached to (the one after it for a prefix, the replaced one for a replacement).
struct NormalizedText {
  std::string text;
  std::vector<uint32_t> origin;  // [text.size()]

  // `text` unchanged, each byte its own origin.
  static NormalizedText Identity(std::string_view text);
  // Appends `piece`, every byte of it derived from the character at `origin`.
  void Append(std::string_view piece, uint32_t origin_offset);
  // Appends text[start, stop) of `from`, keeping its origins.
  void AppendFrom(const NormalizedText& from, size_t start, size_t stop);
};

// Rewrites text before pre-tokenization (NFC, lowercase, ...), keeping the alignment.
class Normalizer {
 public:
  virtual ~Normalizer() = default;
  // Rewrites `text` in place (valid UTF-8 in, valid UTF-8 out, origins kept per byte).
  virtual void Normalize(NormalizedText& text) const = 0;
  // The normalized form of `text` alone (for tests and for added-token contents).
  std::string Normalize(std::string_view text) const {
    NormalizedText normalized = NormalizedText::Identity(text);
    Normalize(normalized);
    return std::move(normalized.text);
  }
};

// A piece of text on its way through pre-tokenization, with the byte offset in the original
// input of its first character (what Metaspace's prepend_scheme "first" looks at). A stage that
// cuts a piece at byte k gives the new piece the origin `origin + k`: exact while the piece's
// bytes are those of the input, and never 0 for a piece that does not start the input.
struct PreToken {
  std::string text;
  size_t origin = 0;
};

// Cuts text into pre-tokens ("words") that the model encodes independently, possibly
// rewriting them (the byte-level alphabet). Works on a list so stages compose in a Sequence.
class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Replaces every piece of `pieces` by its sub-pieces, in order; empty pieces are dropped.
  // REQUIRES: every piece is valid UTF-8.
  virtual void PreTokenize(std::vector<PreToken>& pieces) const = 0;
};

// Maps one pre-token to ids, and owns the vocabulary.
class Model {
 public:
  virtual ~Model() = default;
  // Appends the ids of `word` to `ids`. REQUIRES: `word` is valid UTF-8. Thread-safe.
  virtual void Tokenize(std::string_view word, std::vector<int32_t>& ids) const = 0;
  virtual std::optional<int32_t> TokenToId(std::string_view token) const = 0;
  // The token of `id`, or nullopt when the vocabulary has no such id.
  virtual std::optional<std::string_view> IdToToken(int32_t id) const = 0;
  // Largest id in the vocabulary plus one (0 for an empty vocabulary).
  virtual int32_t id_end() const = 0;
};

// Adds the special tokens around an encoded single sequence (BOS, EOS, ...).
class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  // Rewrites `ids` in place. Called only when special tokens are requested.
  virtual void Process(std::vector<int32_t>& ids) const = 0;
};

// Turns token strings back into text. Decoders chain (Hugging Face's decode_chain): each
// maps the list of strings to a new list, and the final text is their concatenation.
class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void DecodeChain(std::vector<std::string>& tokens) const = 0;
};

}  // namespace brisk::tokenizer
