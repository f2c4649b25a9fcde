// The fused attention prologue of a decoder layer: split a fused QKV projection into heads,
// RMS-normalize q and k heads (optional, Qwen3), rotate them, store q and write k and v to the
// paged cache, in one kernel. Matches Backend::QkvRopeWriteKv (backend/backend.h).
//
//   qkv row t: | q heads 0 .. H-1 | k heads 0 .. G-1 | v heads 0 .. G-1 |, head_dim each
//   cache row s (a slot): [num_kv_heads, head_dim] of k_cache / v_cache viewed as
//   [num_blocks * block_size, num_kv_heads, head_dim]
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace brisk::backend::cuda {

// The largest head_dim the kernel stages in shared memory.
inline constexpr int64_t kMaxQkvRopeHeadDim = 256;

struct QkvRopeWriteKvArgs {
  const float* qkv = nullptr;             // [num_tokens, (num_heads + 2 * num_kv_heads) * head_dim]
  const int32_t* positions = nullptr;     // [num_tokens], each in [0, max_positions)
  const float* cos_sin = nullptr;         // [max_positions, rotary_dim]: cos | sin halves
  const int32_t* slot_mapping = nullptr;  // [num_tokens], each in [-1, num_slots); -1 = skip
  const float* q_norm = nullptr;          // [head_dim] or nullptr (no q norm)
  const float* k_norm = nullptr;          // [head_dim] or nullptr (no k norm)
  float* q_out = nullptr;                 // [num_tokens, num_heads, head_dim]
  float* k_cache = nullptr;               // [num_slots, num_kv_heads, head_dim]
  float* v_cache = nullptr;               // [num_slots, num_kv_heads, head_dim]
  int64_t num_tokens = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t rotary_dim = 0;  // even, <= head_dim
  int64_t max_positions = 0;
  int64_t num_slots = 0;  // num_blocks * block_size
  float eps = 0.0f;
};

// Per token t and head: a q or k head is RMS-normalized over head_dim when its norm weight is
// given (sum of squares in f32, 1/rms in double, as LaunchRmsNorm), then its first rotary_dim
// features are rotated as by LaunchRope (in double, rounded once); q goes to q_out[t], k and v
// to cache row slot_mapping[t] unless that is -1. A position or slot out of range traps the
// kernel with a printed message. Queues one kernel; no allocation, no synchronization.
// REQUIRES: 0 < head_dim <= kMaxQkvRopeHeadDim (or nothing to do); rotary_dim even and
// <= head_dim; num_tokens, num_heads, num_kv_heads >= 0 (no work launches nothing).
void LaunchQkvRopeWriteKv(const QkvRopeWriteKvArgs& args, cudaStream_t stream);

}  // namespace brisk::backend::cuda
