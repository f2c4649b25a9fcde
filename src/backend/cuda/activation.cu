// Element-wise f32 kernels: each thread of a grid-stride loop reads element i of its inputs and
// writes element i of the output, so outputs may alias inputs.
#include "backend/cuda/activation.cuh"

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernel_util.cuh"
#include "base/check.h"

namespace brisk::backend::cuda {
namespace {

// grid-stride over [num_elements].
__global__ void SiluMulKernel(const float* gate, const float* up, float* out,
                              int64_t num_elements) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < num_elements;
       i += stride) {
    const float g = gate[i];
    // expf (not the fast __expf): within 2 ulp; exp(-g) overflowing to inf gives silu = -0,
    // which is within an ulp of the true value (|g| e^g underflows f32 there).
    out[i] = g / (1.0f + expf(-g)) * up[i];
  }
}

// grid-stride over [num_elements].
__global__ void AddKernel(const float* a, const float* b, float* out, int64_t num_elements) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < num_elements;
       i += stride) {
    out[i] = a[i] + b[i];
  }
}

}  // namespace

void LaunchSiluMul(const float* gate, const float* up, float* out, int64_t num_elements,
                   cudaStream_t stream) {
  BRISK_CHECK_GE(num_elements, 0);
  if (num_elements == 0) return;
  SiluMulKernel<<<FlatBlocks(num_elements), kFlatThreads, 0, stream>>>(gate, up, out,
                                                                      num_elements);
  BRISK_CUDA_CHECK(cudaGetLastError());
}

void LaunchAdd(const float* a, const float* b, float* out, int64_t num_elements,
               cudaStream_t stream) {
  BRISK_CHECK_GE(num_elements, 0);
  if (num_elements == 0) return;
  AddKernel<<<FlatBlocks(num_elements), kFlatThreads, 0, stream>>>(a, b, out, num_elements);
  BRISK_CUDA_CHECK(cudaGetLastError());
}

}  // namespace brisk::backend::cuda
