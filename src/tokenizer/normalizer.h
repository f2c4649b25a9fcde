// The normalizer registry. No normalizer is supported yet: a tokenizer.json with a non-null
// "normalizer" is refused by name, so that text is never silently tokenized without the
// normalization its vocabulary was trained with.
#pragma once

#include <memory>
#include <span>
#include <string_view>

#include "tokenizer/components.h"
#include "tokenizer/json_util.h"

namespace brisk::tokenizer {

// Every registered normalizer type, in registry order.
std::span<const RegistryEntry<Normalizer>> NormalizerRegistry();

// Builds the normalizer described by `config` (an object with a "type"). Returns nullptr for a
// JSON null; Unimplemented naming the type when it is not registered.
absl::StatusOr<std::unique_ptr<Normalizer>> MakeNormalizer(const Json& config,
                                                           const std::string& where);

}  // namespace brisk::tokenizer
