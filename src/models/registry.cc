#include "models/registry.h"

#include <algorithm>
#include <array>

#include "loader/checkpoint.h"
#include "loader/encoder_config.h"
#include "models/bert/bert_model.h"
#include "models/llama/model.h"

namespace brisk::models {
namespace {

using Factory = absl::StatusOr<std::unique_ptr<DecoderModel>> (*)(
    const loader::DecoderConfig&, const loader::Checkpoint&, backend::Backend*);

struct Entry {
  std::string_view architecture;
  Factory factory;
};

// Llama, Qwen2, Qwen3 and Mistral differ only in flags the config parser sets (biases, q/k
// norm, sliding windows), so one implementation serves all four.
constexpr std::array<Entry, 4> kDecoders = {{
    {"LlamaForCausalLM", &LoadLlamaFamily},
    {"MistralForCausalLM", &LoadLlamaFamily},
    {"Qwen2ForCausalLM", &LoadLlamaFamily},
    {"Qwen3ForCausalLM", &LoadLlamaFamily},
}};

using EmbedderFactory = absl::StatusOr<std::unique_ptr<Embedder>> (*)(
    const loader::EncoderConfig&, const loader::EmbedderLayout&, const loader::Checkpoint&,
    backend::Backend*);

struct EmbedderEntry {
  std::string_view architecture;
  EmbedderFactory factory;
};

// A masked-LM checkpoint holds the same encoder under "bert."; its head is ignored.
constexpr std::array<EmbedderEntry, 2> kEmbedders = {{
    {"BertForMaskedLM", &LoadBertFamily},
    {"BertModel", &LoadBertFamily},
}};

}  // namespace

std::vector<std::string_view> RegisteredDecoderArchitectures() {
  std::vector<std::string_view> names;
  for (const Entry& e : kDecoders) names.push_back(e.architecture);
  std::sort(names.begin(), names.end());
  return names;
}

absl::StatusOr<std::unique_ptr<DecoderModel>> LoadDecoderModel(const std::string& model_dir,
                                                               backend::Backend* backend) {
  BRISK_ASSIGN_OR_RETURN(loader::DecoderConfig config, loader::LoadDecoderConfig(model_dir));
  for (const Entry& e : kDecoders) {
    if (e.architecture == config.architecture) {
      BRISK_ASSIGN_OR_RETURN(loader::Checkpoint checkpoint, loader::Checkpoint::Open(model_dir));
      return e.factory(config, checkpoint, backend);
    }
  }
  std::string known;
  for (std::string_view name : RegisteredDecoderArchitectures()) {
    absl::StrAppend(&known, known.empty() ? "" : ", ", std::string(name));
  }
  return absl::InvalidArgumentError(absl::StrCat(model_dir, "/config.json: architecture '",
                                                 config.architecture, "' has no decoder; known: ",
                                                 known));
}

std::vector<std::string_view> RegisteredEmbedderArchitectures() {
  std::vector<std::string_view> names;
  for (const EmbedderEntry& e : kEmbedders) names.push_back(e.architecture);
  std::sort(names.begin(), names.end());
  return names;
}

absl::StatusOr<std::unique_ptr<Embedder>> LoadEmbedderModel(const std::string& model_dir,
                                                            backend::Backend* backend) {
  BRISK_ASSIGN_OR_RETURN(loader::EmbedderLayout layout, loader::LoadEmbedderLayout(model_dir));
  BRISK_ASSIGN_OR_RETURN(loader::EncoderConfig config,
                         loader::LoadEncoderConfig(layout.transformer_dir));
  for (const EmbedderEntry& e : kEmbedders) {
    if (e.architecture == config.architecture) {
      BRISK_ASSIGN_OR_RETURN(loader::Checkpoint checkpoint,
                             loader::Checkpoint::Open(layout.transformer_dir));
      return e.factory(config, layout, checkpoint, backend);
    }
  }
  std::string known;
  for (std::string_view name : RegisteredEmbedderArchitectures()) {
    absl::StrAppend(&known, known.empty() ? "" : ", ", std::string(name));
  }
  return absl::InvalidArgumentError(absl::StrCat(layout.transformer_dir,
                                                 "/config.json: architecture '",
                                                 config.architecture, "' has no embedder; known: ",
                                                 known));
}

}  // namespace brisk::models
