// The two matmul kernels behind cpu::MatMul (matmul.h), exposed separately so that tests and
// benchmarks can run each regime at any m.
#pragma once

#include "backend/cpu/matmul.h"

namespace brisk::backend::cpu {

// Workspace slots, shared so that the kernels never hand out the same buffer twice.
inline constexpr size_t kSlotPackedX = 0;
inline constexpr size_t kSlotPackedW = 1;
inline constexpr size_t kSlotTile = 2;

// Matrix-vector regime: any m works, fast for m <= kGemvMaxRows.
void Gemv(const MatMulArgs& args, int num_threads, Workspace* workspace);

// Blocked matrix-matrix regime: any m works, fast for m >= 32.
void Gemm(const MatMulArgs& args, int num_threads, Workspace* workspace);

// Writes a yᵀ tile back: y[i, j0 + r] = ct[r, i] + bias[j0 + r] for i < m, r < rows.
// ct: [rows, ldc] f32. Shared by both GEMM kernels.
void StoreTransposed(const float* ct, int64_t ldc, int64_t rows, const MatMulArgs& a, int64_t j0);

// Blocked GEMM with x rounded to bf16 (gemm_bf16.cc). REQUIRES: w is bf16. Without AVX512_BF16
// it is Gemm.
void GemmBf16Activations(const MatMulArgs& args, int num_threads, Workspace* workspace);

// Whether this build and CPU run GemmBf16Activations with AVX512_BF16.
bool HasBf16Gemm();

// Number of threads worth waking for `macs` multiply-adds: forking costs a few microseconds,
// so each thread should get at least ~100k multiply-adds (about 4 µs of streaming work).
int ThreadsFor(int64_t macs, int num_threads);

}  // namespace brisk::backend::cpu
