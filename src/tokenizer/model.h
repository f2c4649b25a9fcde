// The model registry: which tokenization algorithm a tokenizer.json "model" names: BPE,
// WordPiece or Unigram.
#pragma once

#include <memory>
#include <span>
#include <string_view>

#include "tokenizer/components.h"
#include "tokenizer/json_util.h"

namespace brisk::tokenizer {

// Every registered model type, in registry order.
std::span<const RegistryEntry<Model>> ModelRegistry();

// Builds the model described by `config`. A model object without "type" is read as BPE when it
// has "merges" (files written by old `tokenizers` versions). InvalidArgument for malformed
// fields, Unimplemented naming an unsupported type or option.
absl::StatusOr<std::unique_ptr<Model>> MakeModel(const Json& config, const std::string& where);

// The BPE factory (registered as "BPE"); declared for the registry table.
absl::StatusOr<std::unique_ptr<Model>> MakeBpeModel(const Json& config, const std::string& where);
// The WordPiece factory (wordpiece.cc), registered as "WordPiece".
absl::StatusOr<std::unique_ptr<Model>> MakeWordPieceModel(const Json& config,
                                                          const std::string& where);
// The Unigram factory (unigram.cc), registered as "Unigram".
absl::StatusOr<std::unique_ptr<Model>> MakeUnigramModel(const Json& config,
                                                        const std::string& where);

}  // namespace brisk::tokenizer
