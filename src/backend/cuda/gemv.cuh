// Matrix-vector products for the few-row MatMuls of decode steps: y = x · wᵀ (+ bias) with
// 1 <= m <= kMaxGemvRows rows of f32 activations against bf16 or f16 weights, accumulated in
// f32. At such m the step is bound by streaming the weights once; these kernels read every
// weight with 16-byte loads, several in flight per thread, against activations staged in shared
// memory, and split k across blocks when n alone cannot fill the GPU. Results are
// deterministic: partial sums over k are reduced in a fixed order, with no float atomics.
// The ops around a decoder's projections ride along (Backend::FusedMatMul): x may be
// RMS-normalized or SwiGLU-combined as it is staged, and y may be accumulated into.
// Launches use programmatic dependent launch: a GEMV's blocks may start while the previous
// kernel on the stream finishes, and request their first weights (which no kernel writes)
// before waiting for it.
// Host-side header (no kernel syntax): included by the backend and by benchmarks.
#pragma once

#include <cuda_runtime.h>

#include <array>
#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "tensor/dtype.h"

namespace brisk::backend::cuda {

// The most activation rows one launch handles.
inline constexpr int64_t kMaxGemvRows = 8;

// Precision of the activations inside the product.
enum class GemvActivations {
  kF32,   // x as given
  kBf16,  // x rounded to bf16 (nearest even) as it is staged: with bf16 weights every product is
          // exact in f32, so the result equals a bf16 x bf16 GEMM with f32 accumulation up to the
          // order of the f32 additions
};

// What is applied to x as it is staged (Backend::FusedMatMul's prologues).
enum class GemvPrologue {
  kNone,     // x: [m, k]
  kRmsNorm,  // x / sqrt(mean(x²) + eps) · norm_weight, per row; x: [m, k]
  kSiluMul,  // silu(gate) · up with gate = x[:, :k], up = x[:, k:]; x: [m, 2k]
};

struct GemvArgs {
  const float* x = nullptr;     // [m, k] ([m, 2k] for kSiluMul) f32 device, 4-byte aligned
  const void* w = nullptr;      // [n, k] bf16/f16 device, 2-byte aligned
  const float* bias = nullptr;  // [n] f32 device, or nullptr
  float* y = nullptr;           // [m, n] f32 device
  tensor::DType w_dtype = tensor::DType::kBF16;
  GemvActivations activations = GemvActivations::kF32;
  GemvPrologue prologue = GemvPrologue::kNone;
  const float* norm_weight = nullptr;  // kRmsNorm: [k] f32 device
  float eps = 0.0f;                    // kRmsNorm
  bool accumulate = false;             // y += x · wᵀ (+ bias) instead of y = ...
  int64_t m = 0;
  int64_t n = 0;
  int64_t k = 0;
};

// How one call is cut into blocks (see gemv.cu for the layout). Pure function of the shape and
// the device, exposed for tests and benchmarks.
struct GemvPlan {
  bool vectorized = false;        // 16-byte weight loads (else the scalar kernel)
  int rows_per_warp = 1;          // output columns (rows of w) per warp
  int64_t rows_per_block = 0;     // rows of w per block and per row block
  int64_t num_row_blocks = 0;     // ceil(n / rows_per_block)
  int64_t num_splits = 1;         // k ranges reduced after the products (grid.y)
  int64_t vectors_per_split = 0;  // 8-element vectors of k per split (vectorized only)
  int64_t grid_x = 0;             // blocks per split; each loops over row blocks
  size_t shared_bytes = 0;        // dynamic shared memory per block
  size_t workspace_bytes = 0;     // 0 when num_splits == 1
};

// Runs the GEMV kernels on one device. Thread-compatible: one caller at a time.
class Gemv {
 public:
  // Reads the device's multiprocessor count and the kernels' occupancy; call once before Run.
  // Errors: Internal when the device cannot be queried or a kernel cannot be resident.
  absl::Status Init(int device_index);

  // The plan Run uses for `args` (only the dtype, activations, shape and pointers matter).
  // REQUIRES: Init succeeded; 1 <= m <= kMaxGemvRows; n, k >= 1; w_dtype bf16 or f16.
  GemvPlan Plan(const GemvArgs& args) const;

  // Queues y = prologue(x) · wᵀ (+ bias) (y += ... with accumulate) on `stream`. `workspace`
  // holds Plan(args).workspace_bytes or more bytes of 16-byte aligned device memory (may be
  // null when that is 0) that nothing else uses while the call runs; its first kCounterBytes
  // must be zero when it is first given to Run, and every call leaves them zero again (so a
  // new, larger workspace must be zero-filled).
  // REQUIRES: as for Plan; y overlaps neither x, w, bias nor norm_weight; kRmsNorm has a
  // norm_weight; w is not written by the kernel queued just before this call on `stream` (the
  // first weights are read before waiting for that kernel).
  void Run(const GemvArgs& args, void* workspace, size_t workspace_bytes,
           cudaStream_t stream) const;

  // Bytes at the start of every workspace holding one arrival counter per block column.
  static constexpr size_t kCounterBytes = 16 * 1024;

 private:
  // Resident blocks per multiprocessor of each vectorized kernel, by [dtype][activations][m-1]
  // (dtype 0 bf16, 1 f16; activations 0 f32, 1 bf16).
  std::array<std::array<std::array<int, kMaxGemvRows>, 2>, 2> blocks_per_sm_{};
  int num_sms_ = 0;
};

}  // namespace brisk::backend::cuda
