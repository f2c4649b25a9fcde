// The pre-tokenizer registry: ByteLevel (GPT-2 style, optional regex split and prefix space),
// Split (a regex or literal pattern with one of the five delimiter behaviors, optionally
// inverted), Metaspace (SentencePiece's "▁" for spaces), Whitespace, WhitespaceSplit, Digits,
// Punctuation, BertPreTokenizer and Sequence (stages applied in order). Pieces keep their
// original bytes until a ByteLevel or Metaspace stage rewrites them.
#pragma once

#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "tokenizer/components.h"
#include "tokenizer/json_util.h"
#include "tokenizer/regex.h"

namespace brisk::tokenizer {

// What a split keeps of the pattern matches ("delimiters"). Names follow tokenizer.json.
enum class SplitBehavior {
  kRemoved,             // drop the delimiters
  kIsolated,            // delimiters become pieces of their own
  kMergedWithPrevious,  // a delimiter joins the piece before it
  kMergedWithNext,      // a delimiter joins the piece after it
  kContiguous,          // consecutive delimiters form one piece
};

// Which parts of a split text are the delimiters: the pattern matches, or (tokenizer.json's
// "invert": true) the gaps between them.
enum class Delimiters { kMatches, kGaps };

// Cuts a text of `text_size` bytes at the `matches` of a pattern (sorted, non-overlapping, as
// Regex::FindAll gives) per `behavior`. Returns the non-empty pieces as spans, in order.
std::vector<ByteSpan> SplitAtMatches(size_t text_size, std::span<const ByteSpan> matches,
                                     SplitBehavior behavior, Delimiters delimiters);

// The regex of GPT-2 that ByteLevel uses when "use_regex" is true.
inline constexpr std::string_view kGpt2SplitPattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Reads a tokenizer.json delimiter behavior name ("Removed", "Isolated", ...).
absl::StatusOr<SplitBehavior> ParseSplitBehavior(std::string_view name, const std::string& where);

// Every registered pre-tokenizer type, in registry order.
std::span<const RegistryEntry<PreTokenizer>> PreTokenizerRegistry();

// Builds the pre-tokenizer described by `config`. Returns nullptr for a JSON null,
// InvalidArgument for malformed fields, Unimplemented naming an unsupported type.
absl::StatusOr<std::unique_ptr<PreTokenizer>> MakePreTokenizer(const Json& config,
                                                               const std::string& where);

// Factories of word_pre_tokenizers.cc, declared for the registry table.
absl::StatusOr<std::unique_ptr<PreTokenizer>> MakeMetaspace(const Json& config,
                                                            const std::string& where);
absl::StatusOr<std::unique_ptr<PreTokenizer>> MakeWhitespace(const Json& config,
                                                             const std::string& where);
absl::StatusOr<std::unique_ptr<PreTokenizer>> MakeWhitespaceSplit(const Json& config,
                                                                  const std::string& where);
absl::StatusOr<std::unique_ptr<PreTokenizer>> MakeDigits(const Json& config,
                                                         const std::string& where);
absl::StatusOr<std::unique_ptr<PreTokenizer>> MakePunctuation(const Json& config,
                                                              const std::string& where);
absl::StatusOr<std::unique_ptr<PreTokenizer>> MakeBertPreTokenizer(const Json& config,
                                                                   const std::string& where);

}  // namespace brisk::tokenizer
