// Token sampling on the device: Backend::SampleTokens (backend/backend.h) as one kernel with one
// thread block per logits row. The host launcher takes raw device pointers and a stream, queues
// the kernel and returns at once: no allocation, no synchronization. Invalid launch arguments
// are our bug (BRISK_CHECK); invalid per-row params trap on the device (BRISK_DEVICE_CHECK).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace brisk::backend::cuda {

struct SampleTokensArgs {
  const float* logits = nullptr;  // [num_rows, vocab], device
  // [num_rows, 5], device: {temperature, top_k, top_p, min_p, u} per row (backend.h)
  const float* params = nullptr;
  int32_t* ids = nullptr;  // [num_rows], device
  int64_t num_rows = 0;
  int64_t vocab = 0;
};

// Vocabulary sizes up to this are supported: the top-p masses are summed in 64-bit fixed point
// with 40 fractional bits, and vocab weights of at most 1 each must not overflow 2^63.
inline constexpr int64_t kMaxSampleVocab = int64_t{1} << 23;

// ids[r] = the token drawn from logits[r, :] under params[r, :] (Backend::SampleTokens).
// Logits are assumed free of NaN and +inf.
// REQUIRES: 1 <= vocab <= kMaxSampleVocab; 0 <= num_rows < 2^31 (0 launches nothing).
void LaunchSampleTokens(const SampleTokensArgs& args, cudaStream_t stream);

}  // namespace brisk::backend::cuda
