// The CPU matrix product y = x · wᵀ (+ bias) with f32 activations and f32/bf16/f16 weights,
// accumulating in f32. Two regimes:
// - m <= kGemvMaxRows (decode): memory-bound; streams w once at close to memory bandwidth.
// - larger m (prefill): compute-bound; a blocked GEMM over f32 panels widened from w.
#pragma once

#include <cstdint>

#include "backend/cpu/workspace.h"
#include "tensor/dtype.h"

namespace brisk::backend::cpu {

// Largest m served by the matrix-vector kernel.
inline constexpr int64_t kGemvMaxRows = 8;

// Precision of x in the compute-bound regime. kBf16 rounds x to bf16 and multiplies pairs with
// AVX512_BF16 (twice the f32 FMA rate) when w is bf16 and m > kGemvMaxRows; every other case
// (decode, f32/f16 weights, CPUs without AVX512_BF16) computes in f32 as kF32 does.
enum class ActivationPrecision { kF32, kBf16 };

struct MatMulArgs {
  const float* x = nullptr;                     // [m, k]
  const void* w = nullptr;                      // [n, k] of w_dtype
  tensor::DType w_dtype = tensor::DType::kF32;  // f32, bf16 or f16
  const float* bias = nullptr;                  // [n] or nullptr
  float* y = nullptr;                           // [m, n]; must not overlap x, w or bias
  int64_t m = 0;
  int64_t n = 0;
  int64_t k = 0;
  ActivationPrecision activations = ActivationPrecision::kF32;
};

// Computes args.y using up to num_threads OpenMP threads (fewer for small problems) and
// scratch space from `workspace`. Every element of y is written.
void MatMul(const MatMulArgs& args, int num_threads, Workspace* workspace);

}  // namespace brisk::backend::cpu
