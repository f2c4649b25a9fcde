// The one place architectures are registered: maps the Hugging Face `architectures` name in
// config.json to the factory that loads it, for decoders and, separately, for text embedders.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "backend/backend.h"
#include "base/status.h"
#include "models/decoder_model.h"
#include "models/embedder.h"

namespace brisk::models {

// Loads the decoder in `model_dir` (config.json + safetensors) to run on `backend`.
// Errors: the config's and the checkpoint's (each names its file), InvalidArgument for an
// architecture with no factory (the registered names are listed), and a weight dtype the
// backend does not support.
// REQUIRES: `backend` outlives the returned model.
absl::StatusOr<std::unique_ptr<DecoderModel>> LoadDecoderModel(const std::string& model_dir,
                                                               backend::Backend* backend);

// Names of every registered decoder architecture, sorted.
std::vector<std::string_view> RegisteredDecoderArchitectures();

// Loads the text embedder in `model_dir`: a sentence-transformers folder (modules.json, see
// loader::EmbedderLayout) or a plain transformers folder (CLS pooling, no normalization).
// Errors: those of the folder description, the config and the checkpoint (each names its
// file), InvalidArgument for an architecture with no embedder factory (the registered names
// are listed), and a weight dtype or op the backend does not support.
// REQUIRES: `backend` outlives the returned embedder.
absl::StatusOr<std::unique_ptr<Embedder>> LoadEmbedderModel(const std::string& model_dir,
                                                            backend::Backend* backend);

// Names of every registered embedder architecture, sorted.
std::vector<std::string_view> RegisteredEmbedderArchitectures();

}  // namespace brisk::models
