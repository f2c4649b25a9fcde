// The rotate_half rotation of one feature, shared by the kernels that rotate q and k heads
// (QkvRopeWriteKv, the decode attention's fused prologue) so that they agree bit for bit.
// Device-side header.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace brisk::backend::cuda {

// Feature i of a rotated head: rotate_half pairs feature i with i + rotary_dim/2, and features
// past rotary_dim pass through. Products of two f32 values are exact in double, so each output
// is rounded once. head: the head's features (global or shared memory); cs: the position's row
// of the table, cos | sin halves of rotary_dim / 2 each.
__device__ inline float RotatedFeature(const float* head, int64_t i, const float* cs,
                                       int64_t rotary_dim) {
  const int64_t half = rotary_dim / 2;
  if (i < half) {
    const double a = head[i], b = head[i + half], c = cs[i], s = cs[half + i];
    return static_cast<float>(a * c - b * s);
  }
  if (i < rotary_dim) {
    const int64_t j = i - half;
    const double a = head[j], b = head[i], c = cs[j], s = cs[half + j];
    return static_cast<float>(b * c + a * s);
  }
  return head[i];
}

}  // namespace brisk::backend::cuda
