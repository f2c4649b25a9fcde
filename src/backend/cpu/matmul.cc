// Dispatch of cpu::MatMul between the matrix-vector and the blocked matrix-matrix kernels.
#include "backend/cpu/matmul.h"

#include <algorithm>

#include "backend/cpu/matmul_internal.h"

namespace brisk::backend::cpu {

int ThreadsFor(int64_t macs, int num_threads) {
  constexpr int64_t kMinMacsPerThread = 100'000;
  int64_t useful = std::max<int64_t>(1, macs / kMinMacsPerThread);
  return static_cast<int>(std::min<int64_t>(std::max(1, num_threads), useful));
}

void MatMul(const MatMulArgs& args, int num_threads, Workspace* workspace) {
  if (args.m == 0 || args.n == 0) return;
  if (args.k == 0) {  // empty sums: y is the bias (or zero)
    for (int64_t i = 0; i < args.m; ++i) {
      for (int64_t j = 0; j < args.n; ++j) {
        args.y[i * args.n + j] = args.bias != nullptr ? args.bias[j] : 0.0f;
      }
    }
    return;
  }
  if (args.m <= kGemvMaxRows) {
    Gemv(args, num_threads, workspace);
  } else if (args.activations == ActivationPrecision::kBf16 &&
             args.w_dtype == tensor::DType::kBF16 && HasBf16Gemm()) {
    GemmBf16Activations(args, num_threads, workspace);
  } else {
    Gemm(args, num_threads, workspace);
  }
}

}  // namespace brisk::backend::cpu
