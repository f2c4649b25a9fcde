// The Llama-family decoder: Llama, Qwen2, Qwen3 and Mistral checkpoints. The config parser
// turns each architecture's differences into flags (q/k/v/o and MLP biases, q/k RMSNorm, per-layer
// sliding windows, tied embeddings, rope scaling), so one forward pass serves all four.
#pragma once

#include <memory>

#include "backend/backend.h"
#include "base/status.h"
#include "loader/checkpoint.h"
#include "loader/decoder_config.h"
#include "models/decoder_model.h"

namespace brisk::models {

// Loads weights from `checkpoint` (zero-copy views for matrices; norms and biases converted to
// f32). Errors name the checkpoint file and tensor for a missing tensor or a wrong shape or
// dtype, and Unimplemented for a weight dtype the backend does not support.
absl::StatusOr<std::unique_ptr<DecoderModel>> LoadLlamaFamily(const loader::DecoderConfig& config,
                                                              const loader::Checkpoint& checkpoint,
                                                              backend::Backend* backend);

}  // namespace brisk::models
