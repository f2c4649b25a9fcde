// Conversion and bias kernels of the GEMM path (gemm_kernels.cuh).
#include "backend/cuda/gemm_kernels.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/dtype_util.cuh"
#include "backend/cuda/kernel_util.cuh"
#include "base/check.h"

namespace brisk::backend::cuda {
namespace {

template <typename T>
__global__ void WidenKernel(const T* __restrict__ src, float* __restrict__ dst,
                            int64_t num_elements) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < num_elements;
       i += stride) {
    dst[i] = ToF32(src[i]);
  }
}

__global__ void RoundToBf16Kernel(const float* __restrict__ src, __nv_bfloat16* __restrict__ dst,
                                  int64_t num_elements) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < num_elements;
       i += stride) {
    dst[i] = __float2bfloat16_rn(src[i]);
  }
}

__global__ void AddBiasKernel(float* y,                         // [rows, cols]
                              const float* __restrict__ bias,  // [cols]
                              int64_t cols, int64_t num_elements) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < num_elements;
       i += stride) {
    y[i] += bias[i % cols];
  }
}

}  // namespace

void LaunchWidenToF32(const void* src, tensor::DType src_dtype, float* dst, int64_t num_elements,
                      cudaStream_t stream) {
  BRISK_CHECK_GE(num_elements, 0);
  if (num_elements == 0) return;
  const unsigned blocks = FlatBlocks(num_elements);
  switch (src_dtype) {
    case tensor::DType::kF32:
      WidenKernel<<<blocks, kFlatThreads, 0, stream>>>(static_cast<const float*>(src), dst,
                                                       num_elements);
      break;
    case tensor::DType::kBF16:
      WidenKernel<<<blocks, kFlatThreads, 0, stream>>>(static_cast<const __nv_bfloat16*>(src),
                                                       dst, num_elements);
      break;
    case tensor::DType::kF16:
      WidenKernel<<<blocks, kFlatThreads, 0, stream>>>(static_cast<const __half*>(src), dst,
                                                       num_elements);
      break;
    case tensor::DType::kF64:
    case tensor::DType::kI32:
    case tensor::DType::kI64:
      BRISK_CHECK(false) << "cannot widen " << tensor::DTypeName(src_dtype) << " to f32";
  }
  BRISK_CUDA_CHECK(cudaGetLastError());
}

void LaunchRoundToBf16(const float* src, void* dst, int64_t num_elements, cudaStream_t stream) {
  BRISK_CHECK_GE(num_elements, 0);
  if (num_elements == 0) return;
  RoundToBf16Kernel<<<FlatBlocks(num_elements), kFlatThreads, 0, stream>>>(
      src, static_cast<__nv_bfloat16*>(dst), num_elements);
  BRISK_CUDA_CHECK(cudaGetLastError());
}

void LaunchAddBias(float* y, const float* bias, int64_t rows, int64_t cols, cudaStream_t stream) {
  BRISK_CHECK(rows >= 0 && cols >= 0);
  const int64_t num_elements = rows * cols;
  if (num_elements == 0) return;
  AddBiasKernel<<<FlatBlocks(num_elements), kFlatThreads, 0, stream>>>(y, bias, cols,
                                                                      num_elements);
  BRISK_CUDA_CHECK(cudaGetLastError());
}

}  // namespace brisk::backend::cuda
