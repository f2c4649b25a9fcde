// Rotary position embedding, Hugging Face "rotate_half" pairing, in place. Matches
// Backend::Rope (backend/backend.h).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace brisk::backend::cuda {

struct RopeArgs {
  float* x = nullptr;                // [num_tokens, num_heads, head_dim] device, in place
  const int32_t* positions = nullptr;  // [num_tokens] device, each in [0, max_positions)
  const float* cos_sin = nullptr;    // [max_positions, rotary_dim] device: cos | sin halves
  int64_t num_tokens = 0;
  int64_t num_heads = 0;
  int64_t head_dim = 0;
  int64_t rotary_dim = 0;  // even, <= head_dim
  int64_t max_positions = 0;
};

// For every (token, head, i < rotary_dim/2): with h = rotary_dim/2, c = cos_sin[pos, i],
// s = cos_sin[pos, h + i]: x[i] = x[i]·c − x[i+h]·s, x[i+h] = x[i+h]·c + x[i]·s, computed in
// double and rounded once. A position outside [0, max_positions) traps the kernel.
// REQUIRES: rotary_dim even and <= head_dim; num_tokens >= 0 (0 launches nothing).
void LaunchRope(const RopeArgs& args, cudaStream_t stream);

}  // namespace brisk::backend::cuda
