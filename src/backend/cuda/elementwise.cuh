// Element-wise and row-wise f32 kernels of the decoder: RMSNorm and SiLU-and-multiply. The
// host launchers take raw device pointers and a stream, queue the kernel and return at once;
// they match the CPU reference semantics of Backend::RmsNorm and Backend::SiluMul
// (backend/backend.h). Invalid launch configurations are our bug (BRISK_CUDA_CHECK).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace brisk::backend::cuda {

struct RmsNormArgs {
  const float* x = nullptr;       // [num_rows, hidden], device
  const float* weight = nullptr;  // [hidden], device
  float* out = nullptr;           // [num_rows, hidden], device; may alias x
  int64_t num_rows = 0;
  int hidden = 0;
  float eps = 1e-6f;
};

// out[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * weight. One thread block per row; the
// sum of squares is accumulated in f32 and reduced with warp shuffles.
// REQUIRES: hidden > 0; num_rows >= 0 (0 launches nothing).
void LaunchRmsNorm(const RmsNormArgs& args, cudaStream_t stream);

// out[i] = silu(gate[i]) * up[i], silu(g) = g / (1 + exp(-g)).
// gate, up, out: [num_elements] device (any shape, contiguous); out may alias gate or up.
// REQUIRES: num_elements >= 0 (0 launches nothing).
void LaunchSiluMul(const float* gate, const float* up, float* out, int64_t num_elements,
                   cudaStream_t stream);

}  // namespace brisk::backend::cuda
