// Exact widening of the weight element types to f32 on the device, shared by the kernels that
// read weights directly (embedding, weight conversion for GEMM), and the stores of kernels that
// write f32 or bf16 activations (rounded to nearest even).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace brisk::backend::cuda {

__device__ inline float ToF32(float v) { return v; }
__device__ inline float ToF32(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ inline float ToF32(__half v) { return __half2float(v); }

// *p = v, or its 4 values at p[0..3] (16-byte aligned for f32, 8-byte for bf16).
__device__ inline void StoreValue(float* p, float v) { *p = v; }
__device__ inline void StoreValue(__nv_bfloat16* p, float v) { *p = __float2bfloat16_rn(v); }
__device__ inline void Store4(float* p, float4 v) { *reinterpret_cast<float4*>(p) = v; }
__device__ inline void Store4(__nv_bfloat16* p, float4 v) {
  const __nv_bfloat162 lo = __floats2bfloat162_rn(v.x, v.y);
  const __nv_bfloat162 hi = __floats2bfloat162_rn(v.z, v.w);
  uint2 packed;
  packed.x = *reinterpret_cast<const unsigned*>(&lo);
  packed.y = *reinterpret_cast<const unsigned*>(&hi);
  *reinterpret_cast<uint2*>(p) = packed;
}

}  // namespace brisk::backend::cuda
