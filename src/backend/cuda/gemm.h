// cuBLASLt wrapper for the one GEMM shape of the decoder: row-major y = x · wᵀ with f32
// accumulation (CUBLAS_COMPUTE_32F: no TF32) and f32 output (bf16 output for bf16 inputs when
// asked). Inputs are both f32 or both bf16.
//
// cuBLASLt is column-major; a row-major [r, c] matrix is the column-major [c, r] matrix with
// leading dimension c. So with row-major x [m, k], w [n, k], y [m, n]:
//   y_cm [n, m] (ld n) = op(A) · op(B) with A = w_cm [k, n] (ld k), op(A) = Aᵀ  (transa = T)
//                                         B = x_cm [k, m] (ld k), op(B) = B   (transb = N)
// i.e. cuBLAS dimensions M = n, N = m, K = k.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <map>
#include <memory>
#include <tuple>

#include "absl/status/status.h"
#include "tensor/dtype.h"

namespace brisk::backend::cuda {

struct GemmArgs {
  const void* x = nullptr;  // [m, k] row-major device, input_dtype
  const void* w = nullptr;  // [n, k] row-major device, input_dtype
  void* y = nullptr;        // [m, n] row-major device, output_dtype
  tensor::DType input_dtype = tensor::DType::kF32;   // f32 or bf16
  tensor::DType output_dtype = tensor::DType::kF32;  // f32, or bf16 with bf16 inputs
  bool accumulate = false;  // y += x · wᵀ (beta = 1: one f32 rounding of sum + y) instead of =
  int64_t m = 0;
  int64_t n = 0;
  int64_t k = 0;
};

// One cuBLASLt handle and its workspace. Thread-compatible: one caller at a time.
class LtGemm {
 public:
  LtGemm();
  ~LtGemm();
  LtGemm(const LtGemm&) = delete;
  LtGemm& operator=(const LtGemm&) = delete;

  // Creates the handle; call once before Run. `workspace` is device memory of `workspace_bytes`
  // owned by the caller and kept alive as long as this object.
  // Errors: Internal when cuBLASLt cannot be initialized.
  absl::Status Init(void* workspace, size_t workspace_bytes);

  // Queues y = x · wᵀ (with accumulate, y += x · wᵀ) on `stream`. Pointers may have any
  // alignment of their element type and m, n, k any positive size (the algorithm, chosen per
  // shape and alignment, serves either beta). Returns false, queuing nothing, when cuBLASLt
  // has no algorithm for the combination (possible for bf16 inputs with odd k); any other
  // cuBLASLt failure is fatal with a message naming the shape.
  // REQUIRES: m, n, k > 0; input_dtype f32 or bf16; output_dtype f32, or bf16 with bf16 inputs
  // and no accumulate.
  bool Run(const GemmArgs& args, cudaStream_t stream);

 private:
  struct Plan;
  // (m, n, k, input and output dtypes, alignment of w, x, y): shapes repeat every step, so the
  // descriptors and the heuristic's algorithm are built once per key (the heuristic query
  // alone costs tens of microseconds, about as much as a decode-sized GEMM).
  using PlanKey = std::tuple<int64_t, int64_t, int64_t, tensor::DType, tensor::DType, uint32_t,
                             uint32_t, uint32_t>;
  const Plan* FindOrBuildPlan(const GemmArgs& args);

  std::map<PlanKey, std::unique_ptr<Plan>> plans_;
  cublasLtHandle_t handle_ = nullptr;
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
};

}  // namespace brisk::backend::cuda
