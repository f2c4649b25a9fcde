// Row-wise normalization kernels: RMSNorm and the fused residual add + RMSNorm of the decoder,
// LayerNorm of the encoders. The host launchers take raw device pointers and a stream, queue
// one kernel and return at once; they match Backend::RmsNorm, Backend::AddRmsNorm and
// Backend::LayerNorm (backend/backend.h). Invalid launch configurations are our bug
// (BRISK_CHECK / BRISK_CUDA_CHECK).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace brisk::backend::cuda {

struct RmsNormArgs {
  const float* x = nullptr;       // [num_rows, hidden], device
  const float* weight = nullptr;  // [hidden], device
  float* out = nullptr;           // [num_rows, hidden], device; may alias x
  // Instead of out: [num_rows, hidden] bf16, device, not overlapping x; the f32 result
  // rounded to nearest even (the input of a bf16 GEMM). Exactly one of out, out_bf16 is set.
  void* out_bf16 = nullptr;
  int64_t num_rows = 0;
  int hidden = 0;
  float eps = 1e-6f;
};

// out[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * weight. One thread block per row; the
// sum of squares is accumulated in f32 and reduced with warp shuffles, the inverse RMS is
// taken in double and rounded once.
// REQUIRES: hidden > 0; 0 <= num_rows < 2^31 (0 launches nothing).
void LaunchRmsNorm(const RmsNormArgs& args, cudaStream_t stream);

struct AddRmsNormArgs {
  float* residual = nullptr;      // [num_rows, hidden], device; updated in place
  const float* x = nullptr;       // [num_rows, hidden], device
  const float* weight = nullptr;  // [hidden], device
  float* out = nullptr;           // [num_rows, hidden], device; may alias residual or x
  int64_t num_rows = 0;
  int hidden = 0;
  float eps = 1e-6f;
};

// residual += x (one f32 addition per element), then out = RmsNorm(residual) as above.
// REQUIRES: as LaunchRmsNorm.
void LaunchAddRmsNorm(const AddRmsNormArgs& args, cudaStream_t stream);

struct LayerNormArgs {
  const float* x = nullptr;       // [num_rows, hidden], device
  const float* weight = nullptr;  // [hidden], device
  const float* bias = nullptr;    // [hidden], device
  float* out = nullptr;           // [num_rows, hidden], device; may alias x
  int64_t num_rows = 0;
  int hidden = 0;
  float eps = 1e-5f;
};

// out[r, :] = (x[r, :] - mean) / sqrt(var + eps) * weight + bias, biased variance. One thread
// block per row and two passes over it (mean, then the squared deviations from it), each
// summed in f32 and reduced with warp shuffles; the inverse standard deviation is taken in
// double and rounded once.
// REQUIRES: as LaunchRmsNorm.
void LaunchLayerNorm(const LayerNormArgs& args, cudaStream_t stream);

}  // namespace brisk::backend::cuda
