// The normalizer registry: NFC, NFD, NFKC, NFKD, Lowercase, Strip, Replace, Prepend,
// BertNormalizer and Sequence, each matching Hugging Face `tokenizers` (Rust) character for
// character and keeping the alignment of NormalizedText. Any other type (Precompiled, ...) is
// refused by name, so text is never silently tokenized without the normalization its
// vocabulary was trained with.
#pragma once

#include <memory>
#include <span>
#include <string_view>

#include "tokenizer/components.h"
#include "tokenizer/json_util.h"
#include "tokenizer/regex.h"

namespace brisk::tokenizer {

// Every registered normalizer type, in registry order.
std::span<const RegistryEntry<Normalizer>> NormalizerRegistry();

// Builds the normalizer described by `config` (an object with a "type"). Returns nullptr for a
// JSON null, InvalidArgument for malformed fields, Unimplemented naming an unsupported type.
absl::StatusOr<std::unique_ptr<Normalizer>> MakeNormalizer(const Json& config,
                                                           const std::string& where);

// The BertNormalizer factory (bert_normalizer.cc); declared for the registry table.
absl::StatusOr<std::unique_ptr<Normalizer>> MakeBertNormalizer(const Json& config,
                                                               const std::string& where);

// Reads a {"String": s} or {"Regex": r} pattern object (Replace, Split) into a Regex.
// InvalidArgument when malformed or when the regex does not compile.
absl::StatusOr<Regex> ReadPattern(const Json& config, const char* key, const std::string& where);

}  // namespace brisk::tokenizer
