// Exact widening of the weight element types to f32 on the device, shared by the kernels that
// read weights directly (embedding, weight conversion for GEMM).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace brisk::backend::cuda {

__device__ inline float ToF32(float v) { return v; }
__device__ inline float ToF32(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ inline float ToF32(__half v) { return __half2float(v); }

}  // namespace brisk::backend::cuda
