// Embedding gather: out[t, :] = f32(table[ids[t], :]) for f32, bf16 and f16 tables, widened
// exactly. Matches Backend::Embedding (backend/backend.h).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "tensor/dtype.h"

namespace brisk::backend::cuda {

struct EmbeddingArgs {
  const void* table = nullptr;  // [vocab, hidden] f32/bf16/f16, device
  tensor::DType table_dtype = tensor::DType::kF32;
  const int32_t* ids = nullptr;  // [num_tokens] device, each in [0, vocab)
  float* out = nullptr;          // [num_tokens, hidden] device
  int64_t vocab = 0;
  int64_t hidden = 0;
  int64_t num_tokens = 0;
};

// Queues the gather. An id outside [0, vocab) traps the kernel with a printed message.
// REQUIRES: table_dtype is f32, bf16 or f16; num_tokens >= 0 (0 launches nothing).
void LaunchEmbedding(const EmbeddingArgs& args, cudaStream_t stream);

}  // namespace brisk::backend::cuda
