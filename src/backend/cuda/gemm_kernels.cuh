// Small kernels around the cuBLASLt GEMM: widening bf16/f16 weights to f32, rounding f32
// activations to bf16, and adding a bias row. Each is a grid-stride loop over its elements.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "tensor/dtype.h"

namespace brisk::backend::cuda {

// dst[i] = f32(src[i]), exact. src: [num_elements] f32/bf16/f16 device; dst: [num_elements].
// REQUIRES: src_dtype is f32, bf16 or f16; num_elements >= 0.
void LaunchWidenToF32(const void* src, tensor::DType src_dtype, float* dst, int64_t num_elements,
                      cudaStream_t stream);

// dst[i] = bf16(src[i]), round to nearest even. src: [num_elements] f32 device;
// dst: [num_elements] bf16 (uint16_t bits) device. REQUIRES: num_elements >= 0.
void LaunchRoundToBf16(const float* src, void* dst, int64_t num_elements, cudaStream_t stream);

// y[r, j] += bias[j]. y: [rows, cols] f32 device; bias: [cols] f32 device.
// REQUIRES: rows, cols >= 0.
void LaunchAddBias(float* y, const float* bias, int64_t rows, int64_t cols, cudaStream_t stream);

}  // namespace brisk::backend::cuda
