// BRISK_CUDA_CHECK(call): for CUDA runtime calls that cannot fail with valid arguments (stream
// create, event record, a kernel launch with a checked configuration). A failure is our bug or
// a dead device: it prints the statement, file:line and the CUDA error text, then aborts.
// Failures a user can cause (out of memory at reserve, no device) return absl::Status instead.
#pragma once

#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>

namespace brisk::backend::cuda {

[[noreturn]] inline void CudaCheckFailed(const char* statement, const char* file, int line,
                                         cudaError_t error) {
  std::fprintf(stderr, "%s:%d: BRISK_CUDA_CHECK failed: %s: %s (%s)\n", file, line, statement,
               cudaGetErrorString(error), cudaGetErrorName(error));
  std::fflush(stderr);
  std::abort();
}

}  // namespace brisk::backend::cuda

#define BRISK_CUDA_CHECK(call)                                                               \
  do {                                                                                       \
    const cudaError_t brisk_cuda_error_ = (call);                                            \
    if (brisk_cuda_error_ != cudaSuccess) {                                                  \
      ::brisk::backend::cuda::CudaCheckFailed(#call, __FILE__, __LINE__, brisk_cuda_error_); \
    }                                                                                        \
  } while (false)
