// BERT-family text embedders: a post-norm bidirectional encoder (word + absolute position +
// token-type-0 embeddings, LayerNorm, then per layer self-attention and a GELU MLP, each followed
// by "add residual, LayerNorm"), pooled to one vector per sequence (CLS or mean) and optionally
// L2-normalized, as the folder's sentence-transformers description or the plain-folder defaults
// say (see loader::EmbedderLayout). Checkpoints as BertModel or BertFor* save them, with or
// without the "bert." prefix; pooler.* and task heads are ignored.
#pragma once

#include <memory>
#include <string>

#include "backend/backend.h"
#include "base/status.h"
#include "loader/checkpoint.h"
#include "loader/encoder_config.h"
#include "models/embedder.h"

namespace brisk::models {

// Loads the encoder weights of `checkpoint` for `config`, pooled per `layout`. Matrices stay
// zero-copy views in their stored dtype (f32, bf16 or f16); norms and biases are converted to
// f32, and the position table is folded with the token-type-0 row into one f32 table.
// Errors: NotFound naming the checkpoint and the tensor for a missing weight; InvalidArgument
// for a wrong shape or dtype (from Checkpoint::Get) and for a pooling dimension that differs
// from hidden_size; Unimplemented for an op or weight dtype the backend does not support.
// REQUIRES: `backend` outlives the returned embedder.
absl::StatusOr<std::unique_ptr<Embedder>> LoadBertFamily(const loader::EncoderConfig& config,
                                                         const loader::EmbedderLayout& layout,
                                                         const loader::Checkpoint& checkpoint,
                                                         backend::Backend* backend);

// Reads the embedding model folder `folder` (its sentence-transformers description when
// modules.json exists, else CLS pooling without normalization), its BERT config.json and its
// weights, and loads it with LoadBertFamily. Errors: those of loader::LoadEmbedderLayout,
// loader::LoadEncoderConfig, loader::Checkpoint::Open and LoadBertFamily.
// REQUIRES: `backend` outlives the returned embedder.
absl::StatusOr<std::unique_ptr<Embedder>> LoadBertEmbedder(const std::string& folder,
                                                           backend::Backend* backend);

}  // namespace brisk::models
