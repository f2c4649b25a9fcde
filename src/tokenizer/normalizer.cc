// Normalizer registry (see normalizer.h); entries arrive with the normalizers themselves.
#include "tokenizer/normalizer.h"

namespace brisk::tokenizer {

std::span<const RegistryEntry<Normalizer>> NormalizerRegistry() { return {}; }

absl::StatusOr<std::unique_ptr<Normalizer>> MakeNormalizer(const Json& config,
                                                           const std::string& where) {
  if (config.is_null()) return std::unique_ptr<Normalizer>();
  return MakeFromRegistry(NormalizerRegistry(), "normalizer", config, where);
}

}  // namespace brisk::tokenizer
