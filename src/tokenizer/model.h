// The model registry: which tokenization algorithm a tokenizer.json "model" names. Only BPE is
// registered yet; WordPiece and Unigram join this table later.
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

}  // namespace brisk::tokenizer
