// Model registry (see model.h).
#include "tokenizer/model.h"

namespace brisk::tokenizer {
namespace {

constexpr RegistryEntry<Model> kRegistry[] = {
    {"BPE", &MakeBpeModel},
    {"WordPiece", &MakeWordPieceModel},
    {"Unigram", &MakeUnigramModel},
};

}  // namespace

std::span<const RegistryEntry<Model>> ModelRegistry() { return kRegistry; }

absl::StatusOr<std::unique_ptr<Model>> MakeModel(const Json& config, const std::string& where) {
  if (config.is_object() && !config.contains("type") && config.contains("merges")) {
    return MakeBpeModel(config, where);
  }
  return MakeFromRegistry(ModelRegistry(), "model", config, where);
}

}  // namespace brisk::tokenizer
