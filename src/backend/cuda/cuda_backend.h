// The CUDA backend: runs the Backend ops (backend/backend.h) on one NVIDIA GPU. Ops are queued
// on one CUDA stream per backend and return at once; ToHost and Synchronize wait for them.
// Tensors it allocates live in device memory (Device::kCuda), come from the stream-ordered
// allocator and are freed on the same stream when their last copy is gone, so they may outlive
// the backend. This header includes no CUDA header: callers outside backend/cuda see only it.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "backend/backend.h"

namespace brisk::backend {

struct CudaBackendOptions {
  // CUDA device ordinal.
  int device_index = 0;
  // Input precision of MatMul against bf16 weights. kF32 (default): exact f32 GEMM; bf16/f16
  // weights are widened once into a cached f32 copy (twice the weight's bytes of extra device
  // memory, held as long as the backend) unless the small-m GEMV below reads them as they are.
  // kBf16: x is rounded to bf16 and the GEMM runs bf16 x bf16 with f32 accumulation and f32
  // output (the GEMV rounds x the same way); f32 and f16 weights still take the f32 path.
  // kBf16 also runs the attention of prefill rows (sequences with several query rows; head_dim
  // 32, 64, 96 or 128) on bf16 tensor cores: q, k, v and the softmax weights rounded to bf16,
  // f32 accumulation and softmax statistics. Decode rows stay f32. And SwiGluMlp, at batches
  // that take cuBLASLt, keeps gate_up in bf16 between its two GEMMs.
  enum class Activations { kF32, kBf16 };
  Activations activations = Activations::kF32;
  // MatMul with at most 8 rows of x (2 with bf16 activations and bf16 weights, where cuBLASLt's
  // bf16 GEMM is faster beyond) and bf16/f16 weights runs brisk's GEMV kernel (gemv.cuh), which
  // streams the weights once at close to memory bandwidth, instead of cuBLASLt. Its sums
  // differ from cuBLASLt's only in the order of the f32 additions. false: cuBLASLt for every
  // MatMul (for comparisons).
  bool small_m_gemv = true;
};

// Creates a CUDA backend on `options.device_index` and logs the device and options.
// Supports: MatMul and Embedding with f32, bf16 or f16 weights; every other op in f32;
// PagedAttention and QkvRopeWriteKv with head_dim <= 256; EncoderAttention with head_dim <= 128.
// Errors: Unavailable when there is no CUDA device or usable driver; OutOfRange when the
// ordinal is not a device; Internal when CUDA or cuBLASLt fails to initialize.
// Thread-compatible: one caller at a time per instance. Device tensors passed to its ops must
// come from this backend (Allocate / ToDevice); weights must not change after their first
// MatMul (the widened copy is cached by device pointer).
absl::StatusOr<std::unique_ptr<Backend>> MakeCudaBackend(const CudaBackendOptions& options = {});

}  // namespace brisk::backend
