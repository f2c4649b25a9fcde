// Paged attention on the CPU (see AttentionMetadata in backend/backend.h for the semantics).
#pragma once

#include "backend/backend.h"
#include "backend/cpu/reference/op_checks.h"
#include "backend/cpu/workspace.h"

namespace brisk::backend::cpu {

// out = softmax(q·Kᵀ·scale, causal and windowed) · V per sequence and head.
// REQUIRES: arguments validated by CheckPagedAttention, which returned `dims`.
// q, out: [num_tokens, num_heads, head_dim]; k_cache, v_cache: [num_blocks, block_size,
// num_kv_heads, head_dim]
void PagedAttention(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
                    const AttentionMetadata& meta, const AttentionParams& params,
                    const AttentionDims& dims, int num_threads, Workspace* workspace, Tensor* out);

}  // namespace brisk::backend::cpu
