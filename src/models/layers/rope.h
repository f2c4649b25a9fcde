// Rotary position embeddings: turns a RopeConfig into the cos/sin table that Backend::Rope
// reads. All rope scaling variants (linear, llama3, yarn) only change the inverse frequencies
// and an attention scale folded into cos and sin, so they all end in one table.
#pragma once

#include <vector>

#include "base/status.h"
#include "loader/decoder_config.h"
#include "tensor/tensor.h"

namespace brisk::models {

// Inverse frequencies [rotary_dim / 2] and the factor that multiplies cos and sin, computed in
// f32 in the same order as Hugging Face transformers so positions map to the same angles.
struct RopeFrequencies {
  std::vector<float> inv_freq;
  float attention_scaling = 1.0f;
};

// Rotary dimension = int(head_dim * partial_rotary_factor).
int RotaryDim(const loader::RopeConfig& rope, int head_dim);

// Unimplemented for a rope type this code cannot reproduce exactly.
absl::StatusOr<RopeFrequencies> ComputeRopeFrequencies(const loader::RopeConfig& rope,
                                                       int head_dim,
                                                       int max_position_embeddings);

// cos/sin table for positions [0, max_positions):
//   table[p, i] = cos(p * inv_freq[i]) * scaling,  table[p, h + i] = sin(...) * scaling,
// h = rotary_dim / 2.  Returns [max_positions, rotary_dim] f32 on the host.
tensor::Tensor BuildRopeTable(const RopeFrequencies& freqs, int max_positions);

}  // namespace brisk::models
