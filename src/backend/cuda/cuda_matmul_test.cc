// The CUDA backend's matrix products through the Backend interface: the bf16-activation GEMM,
// the small-m GEMV against cuBLASLt (both modes, determinism, rounding), FusedMatMul's fused
// prologues and accumulation against the ops one by one, and SwiGluMlp's bf16 gate_up. Tests
// that need a GPU skip themselves without one.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_test_util.h"
#include "gtest/gtest.h"

namespace brisk::backend {
namespace {

using cuda_test::HasDevice;
using cuda_test::kNoDeviceMessage;
using cuda_test::MakeCuda;
using cuda_test::RandomF32;
using cuda_test::RandomHalf;
using cuda_test::WeightValue;
using cuda_test::WithinReorderBound;

// kBf16 activations: y must be the f32-accumulated product of bf16(x) and the bf16 weight.
// Bound: any summation order of k products has error <= k·2^-24·Σ|x_p·w_p| (Higham, "Accuracy
// and Stability of Numerical Algorithms", 2nd ed., eq. 3.5), plus one rounding for the bias.
TEST(CudaBf16ActivationsTest, MatMulRoundsActivationsToBf16) {
  if (!HasDevice()) {
    GTEST_SKIP() << kNoDeviceMessage;
  }
  absl::StatusOr<std::unique_ptr<Backend>> made =
      MakeCudaBackend({.activations = CudaBackendOptions::Activations::kBf16});
  ASSERT_TRUE(made.ok()) << made.status();
  Backend& cuda = **made;
  EXPECT_EQ(cuda.name(), "cuda_bf16act");
  struct Case {
    int64_t m, n, k;
  };
  for (const Case& c : {Case{1, 1, 8}, Case{5, 7, 256}, Case{33, 64, 512}, Case{3, 13, 7}}) {
    Tensor x = RandomF32({c.m, c.k}, -1.0f, 1.0f, 50);
    Tensor w = RandomHalf(DType::kBF16, {c.n, c.k}, 51);
    Tensor bias = RandomF32({c.n}, -1.0f, 1.0f, 52);
    Tensor y = cuda.Allocate(DType::kF32, {c.m, c.n});
    Tensor bias_device = cuda.ToDevice(bias);
    cuda.MatMul(cuda.ToDevice(x), cuda.ToDevice(w), &bias_device, &y);
    Tensor actual = cuda.ToHost(y);
    int64_t num_differing_from_f32 = 0;
    for (int64_t i = 0; i < c.m; ++i) {
      for (int64_t j = 0; j < c.n; ++j) {
        double rounded = bias.data<float>()[j], exact = rounded, magnitude = std::fabs(rounded);
        for (int64_t p = 0; p < c.k; ++p) {
          const double wv = tensor::BF16ToF32(w.data<uint16_t>()[j * c.k + p]);
          const double xv = x.data<float>()[i * c.k + p];
          rounded += tensor::BF16ToF32(tensor::F32ToBF16(x.data<float>()[i * c.k + p])) * wv;
          exact += xv * wv;
          magnitude += std::fabs(xv * wv);
        }
        const double bound = static_cast<double>(c.k + 2) * std::ldexp(1.0, -24) * magnitude;
        const double got = actual.data<float>()[i * c.n + j];
        // Odd k may have no bf16 cuBLASLt algorithm; the backend then computes in f32.
        const bool is_bf16 = std::fabs(got - rounded) <= bound;
        EXPECT_TRUE(is_bf16 || (c.k % 8 != 0 && std::fabs(got - exact) <= bound))
            << "m" << c.m << " n" << c.n << " k" << c.k << " at (" << i << ", " << j << "): got "
            << got << ", bf16 product " << rounded << ", f32 product " << exact << ", bound "
            << bound;
        num_differing_from_f32 += std::fabs(got - exact) > bound;
      }
    }
    // With k >= 256 random products, rounding x to bf16 visibly moves some outputs.
    if (c.k >= 256) {
      EXPECT_GT(num_differing_from_f32, 0) << "x was not rounded, k " << c.k;
    }
  }
}

// ---- Small-m GEMV (m <= 8, bf16/f16 weights) against cuBLASLt ----

struct GemvCase {
  int64_t m, n, k;
  DType dtype;
  bool bias;
};

// The shapes of the GEMV's paths: one k range and one row block; split k (n = 512 leaves most
// multiprocessors idle otherwise); several row blocks per GPU block, split by shared memory at
// m = 8; a short last k range (k = 4104); odd k (the scalar kernel); m of every weight-row
// grouping (1, 2..4, 5..8).
const GemvCase kGemvCases[] = {
    {1, 13, 24, DType::kBF16, true},     {3, 512, 2048, DType::kF16, false},
    {1, 512, 2048, DType::kBF16, false}, {8, 8192, 2048, DType::kBF16, true},
    {4, 1000, 4104, DType::kF16, true},  {6, 2048, 4104, DType::kBF16, false},
    {2, 300, 4099, DType::kBF16, true},  {7, 77, 129, DType::kF16, false},
};

Tensor RunMatMul(Backend& b, const Tensor& x, const Tensor& w, const Tensor* bias) {
  Tensor y = b.ToDevice(Tensor::Empty(DType::kF32, {x.dim(0), w.dim(0)}));
  Tensor bias_device = bias != nullptr ? b.ToDevice(*bias) : Tensor();
  b.MatMul(b.ToDevice(x), b.ToDevice(w), bias != nullptr ? &bias_device : nullptr, &y);
  return b.ToHost(y);
}

// Both paths within the reorder bound of the exact product (so within twice of each other), in
// both activation modes; the GEMV is deterministic (bit-identical on a repeat, split k too).
TEST(CudaGemvTest, MatchesCublasLtWithinReorderBound) {
  if (!HasDevice()) {
    GTEST_SKIP() << kNoDeviceMessage;
  }
  using Activations = CudaBackendOptions::Activations;
  for (Activations activations : {Activations::kF32, Activations::kBf16}) {
    std::unique_ptr<Backend> gemv = MakeCuda(activations, true);
    std::unique_ptr<Backend> lt = MakeCuda(activations, false);
    ASSERT_NE(gemv, nullptr);
    ASSERT_NE(lt, nullptr);
    uint32_t seed = 70;
    for (const GemvCase& c : kGemvCases) {
      Tensor x = RandomF32({c.m, c.k}, -1.0f, 1.0f, seed++);
      Tensor w = RandomHalf(c.dtype, {c.n, c.k}, seed++);
      Tensor bias = RandomF32({c.n}, -1.0f, 1.0f, seed++);
      const Tensor* b = c.bias ? &bias : nullptr;
      const bool round_x = activations == Activations::kBf16 && c.dtype == DType::kBF16;
      const std::string label = "m" + std::to_string(c.m) + " n" + std::to_string(c.n) + " k" +
                                std::to_string(c.k) + " " +
                                std::string(tensor::DTypeName(c.dtype)) +
                                (round_x ? " bf16 activations" : " f32 activations");
      Tensor from_gemv = RunMatMul(*gemv, x, w, b);
      Tensor from_lt = RunMatMul(*lt, x, w, b);
      EXPECT_TRUE(WithinReorderBound(from_gemv, x, w, b, round_x)) << "gemv " << label;
      // cuBLASLt may lack a bf16 algorithm for odd k and then computes in f32.
      if (!(round_x && c.k % 8 != 0)) {
        EXPECT_TRUE(WithinReorderBound(from_lt, x, w, b, round_x)) << "cublaslt " << label;
      }
      Tensor again = RunMatMul(*gemv, x, w, b);
      EXPECT_EQ(std::memcmp(again.raw(), from_gemv.raw(), static_cast<size_t>(again.size_bytes())),
                0)
          << "gemv not deterministic, " << label;
    }
  }
}

// Rounding x to bf16 moves results by more than the reorder bound: the bf16 mode must not
// silently run in f32 (nor the f32 mode in bf16). At k = 256 the rounding moves an output by
// several 1e-3 (256 random errors of up to 2^-9·|x_p·w_p| each), past the bound
// 258·2^-24·Σ|x_p·w_p| ≈ 1e-3 on many of the 512 outputs.
TEST(CudaGemvTest, Bf16ActivationsAreRounded) {
  if (!HasDevice()) {
    GTEST_SKIP() << kNoDeviceMessage;
  }
  using Activations = CudaBackendOptions::Activations;
  std::unique_ptr<Backend> f32 = MakeCuda(Activations::kF32, true);
  std::unique_ptr<Backend> bf16 = MakeCuda(Activations::kBf16, true);
  ASSERT_NE(f32, nullptr);
  ASSERT_NE(bf16, nullptr);
  Tensor x = RandomF32({2, 256}, -1.0f, 1.0f, 90);
  Tensor w = RandomHalf(DType::kBF16, {256, 256}, 91);
  EXPECT_TRUE(WithinReorderBound(RunMatMul(*f32, x, w, nullptr), x, w, nullptr, false));
  EXPECT_FALSE(WithinReorderBound(RunMatMul(*f32, x, w, nullptr), x, w, nullptr, true));
  EXPECT_TRUE(WithinReorderBound(RunMatMul(*bf16, x, w, nullptr), x, w, nullptr, true));
  EXPECT_FALSE(WithinReorderBound(RunMatMul(*bf16, x, w, nullptr), x, w, nullptr, false));
  // f16 weights keep f32 activations in the bf16 mode, as on the cuBLASLt path.
  Tensor w16 = RandomHalf(DType::kF16, {256, 256}, 92);
  EXPECT_TRUE(WithinReorderBound(RunMatMul(*bf16, x, w16, nullptr), x, w16, nullptr, false));
}

// FusedMatMul's fused prologues and accumulation against the same backend running the ops one
// by one (Backend::FusedMatMul's default: RmsNorm / SiluMul, MatMul, Add), in both activation
// modes: on the GEMV's vectorized (k = 2048, split k) and scalar (k = 129) kernels, and on the
// cuBLASLt path (m = 12, 48: the prologue kernel writes the bf16 input, beta = 1 accumulates;
// a beta that was ignored would be off by y's old value, up to 4). The two differ by
// the order of f32 sums (bound: twice the reorder bound of the product, plus a bf16 ulp of the
// largest term where a 1-ulp difference in the norm flips x's bf16 rounding, plus the rounding
// of the accumulation).
TEST(CudaGemvTest, FusedProloguesMatchTheOpsOneByOne) {
  if (!HasDevice()) {
    GTEST_SKIP() << kNoDeviceMessage;
  }
  using Activations = CudaBackendOptions::Activations;
  using backend::MatMulPrologue;
  struct Case {
    int64_t m, n, k;
  };
  uint32_t seed = 300;
  for (Activations activations : {Activations::kF32, Activations::kBf16}) {
    std::unique_ptr<Backend> b = MakeCuda(activations, true);
    ASSERT_NE(b, nullptr);
    for (const Case& c : {Case{1, 512, 2048}, Case{2, 300, 2048}, Case{1, 77, 129},
                          Case{12, 300, 2048}, Case{48, 256, 4096}}) {
      for (MatMulPrologue prologue : {MatMulPrologue::kRmsNorm, MatMulPrologue::kSiluMul}) {
        for (bool accumulate : {false, true}) {
          const int64_t x_cols = prologue == MatMulPrologue::kSiluMul ? 2 * c.k : c.k;
          Tensor x = RandomF32({c.m, x_cols}, -2.0f, 2.0f, seed++);
          Tensor w = RandomHalf(DType::kBF16, {c.n, c.k}, seed++);
          Tensor bias = RandomF32({c.n}, -1.0f, 1.0f, seed++);
          Tensor norm = RandomF32({c.k}, -1.5f, 1.5f, seed++);
          Tensor y0 = RandomF32({c.m, c.n}, -4.0f, 4.0f, seed++);
          Tensor x_d = b->ToDevice(x), w_d = b->ToDevice(w), bias_d = b->ToDevice(bias);
          Tensor norm_d = b->ToDevice(norm);
          const FusedMatMulParams params{.prologue = prologue,
                                         .norm_weight = &norm_d,
                                         .eps = 1e-5f,
                                         .accumulate = accumulate};
          Tensor fused = b->ToDevice(y0), one_by_one = b->ToDevice(y0);
          b->FusedMatMul(x_d, w_d, &bias_d, params, &fused);
          b->Backend::FusedMatMul(x_d, w_d, &bias_d, params, &one_by_one);
          Tensor got = b->ToHost(fused), want = b->ToHost(one_by_one);
          // The prologue's output on the host, for the bound.
          std::vector<double> xp(c.m * c.k);
          for (int64_t r = 0; r < c.m; ++r) {
            double sum_squares = 0.0;
            for (int64_t i = 0; i < c.k; ++i) {
              const double v = x.data<float>()[r * x_cols + i];
              sum_squares += v * v;
            }
            const double inv_rms = 1.0 / std::sqrt(sum_squares / c.k + 1e-5);
            for (int64_t i = 0; i < c.k; ++i) {
              const double g = x.data<float>()[r * x_cols + i];
              const double u = x.data<float>()[r * x_cols + c.k + i];  // SiluMul's up half
              xp[r * c.k + i] = prologue == MatMulPrologue::kRmsNorm
                                    ? g * inv_rms * norm.data<float>()[i]
                                    : g / (1.0 + std::exp(-g)) * u;
            }
          }
          const bool round_x = activations == Activations::kBf16;
          for (int64_t r = 0; r < c.m; ++r) {
            for (int64_t j = 0; j < c.n; ++j) {
              double magnitude = std::fabs(bias.data<float>()[j]), largest = 0.0;
              for (int64_t p = 0; p < c.k; ++p) {
                const double term = std::fabs(xp[r * c.k + p] * WeightValue(w, j * c.k + p));
                magnitude += term;
                largest = std::max(largest, term);
              }
              const double old = accumulate ? std::fabs(y0.data<float>()[r * c.n + j]) : 0.0;
              const double bound = 2.0 * (c.k + 2) * std::ldexp(1.0, -24) * magnitude +
                                   (round_x ? std::ldexp(largest, -7) : 0.0) +
                                   std::ldexp(old + magnitude, -22);
              const double diff =
                  std::fabs(got.data<float>()[r * c.n + j] - want.data<float>()[r * c.n + j]);
              ASSERT_LE(diff, bound) << "m" << c.m << " n" << c.n << " k" << c.k << " prologue "
                                     << static_cast<int>(prologue) << " accumulate "
                                     << accumulate << " bf16 " << round_x << " at (" << r
                                     << ", " << j << ")";
            }
          }
        }
      }
    }
  }
}

// SwiGluMlp in the bf16 mode at a prefill-sized batch keeps gate_up in bf16 between its GEMMs:
// the result must stay within the error that rounding adds (each act element off by at most
// ~2^-7 relative: gate and up rounded, then act rounded; bound 2^-6 of the magnitude of the
// second product), and must differ from the f32-gate_up default somewhere (the bf16 path ran).
TEST(CudaBf16ActivationsTest, SwiGluMlpKeepsGateUpInBf16) {
  if (!HasDevice()) {
    GTEST_SKIP() << kNoDeviceMessage;
  }
  std::unique_ptr<Backend> b = MakeCuda(CudaBackendOptions::Activations::kBf16, true);
  ASSERT_NE(b, nullptr);
  const int64_t rows = 48, hidden = 512, inter = 1024;
  Tensor residual = RandomF32({rows, hidden}, -2.0f, 2.0f, 400);
  Tensor norm = RandomF32({hidden}, -1.5f, 1.5f, 401);
  Tensor gate_up = RandomHalf(DType::kBF16, {2 * inter, hidden}, 402);
  Tensor down = RandomHalf(DType::kBF16, {hidden, inter}, 403);
  Tensor down_bias = RandomF32({hidden}, -1.0f, 1.0f, 404);
  Tensor norm_d = b->ToDevice(norm), gate_up_d = b->ToDevice(gate_up);
  Tensor down_d = b->ToDevice(down), down_bias_d = b->ToDevice(down_bias);
  Tensor fused = b->ToDevice(residual), one_by_one = b->ToDevice(residual);
  b->SwiGluMlp(&fused, norm_d, 1e-5f, gate_up_d, nullptr, down_d, &down_bias_d);
  b->Backend::SwiGluMlp(&one_by_one, norm_d, 1e-5f, gate_up_d, nullptr, down_d, &down_bias_d);
  Tensor got = b->ToHost(fused), want = b->ToHost(one_by_one);
  int64_t num_differing = 0;
  for (int64_t r = 0; r < rows; ++r) {
    // The block in double on the host, for the magnitudes.
    double sum_squares = 0.0;
    for (int64_t i = 0; i < hidden; ++i) {
      const double v = residual.data<float>()[r * hidden + i];
      sum_squares += v * v;
    }
    const double inv_rms = 1.0 / std::sqrt(sum_squares / hidden + 1e-5);
    std::vector<double> h(hidden), act(inter);
    for (int64_t i = 0; i < hidden; ++i) {
      h[i] = residual.data<float>()[r * hidden + i] * inv_rms * norm.data<float>()[i];
    }
    for (int64_t j = 0; j < inter; ++j) {
      double g = 0.0, u = 0.0;
      for (int64_t i = 0; i < hidden; ++i) {
        g += h[i] * WeightValue(gate_up, j * hidden + i);
        u += h[i] * WeightValue(gate_up, (inter + j) * hidden + i);
      }
      act[j] = g / (1.0 + std::exp(-g)) * u;
    }
    for (int64_t c = 0; c < hidden; ++c) {
      double magnitude = 0.0;
      for (int64_t j = 0; j < inter; ++j) {
        magnitude += std::fabs(act[j] * WeightValue(down, c * inter + j));
      }
      const double diff =
          std::fabs(got.data<float>()[r * hidden + c] - want.data<float>()[r * hidden + c]);
      ASSERT_LE(diff, std::ldexp(magnitude, -6) + 1e-5) << "at (" << r << ", " << c << ")";
      num_differing += diff > 0.0;
    }
  }
  EXPECT_GT(num_differing, 0) << "gate_up was not kept in bf16";
}

}  // namespace
}  // namespace brisk::backend
