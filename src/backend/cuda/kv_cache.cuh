// Writes this step's keys and values into the paged KV cache. Matches Backend::WriteKvCache
// (backend/backend.h).
//
//   k_cache, v_cache: [num_blocks, block_size, num_kv_heads, head_dim]
//   slot = block * block_size + offset, which is also the token's row in the cache viewed as
//   [num_blocks * block_size, num_kv_heads * head_dim].
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace brisk::backend::cuda {

struct WriteKvCacheArgs {
  const float* k = nullptr;               // [num_tokens, num_kv_heads, head_dim] device
  const float* v = nullptr;               // [num_tokens, num_kv_heads, head_dim] device
  const int32_t* slot_mapping = nullptr;  // [num_tokens] device, -1 = skip
  float* k_cache = nullptr;               // [num_blocks, block_size, num_kv_heads, head_dim]
  float* v_cache = nullptr;               // same shape as k_cache
  int64_t num_tokens = 0;
  int64_t token_elems = 0;  // num_kv_heads * head_dim
  int64_t num_slots = 0;    // num_blocks * block_size
};

// Copies k[t] and v[t] into row slot_mapping[t] of the caches; tokens with slot -1 are
// skipped. A slot outside [-1, num_slots) traps the kernel with a printed message.
// REQUIRES: num_tokens >= 0 (0 launches nothing).
void LaunchWriteKvCache(const WriteKvCacheArgs& args, cudaStream_t stream);

}  // namespace brisk::backend::cuda
