// Unit tests of the CPU backend's pieces that the conformance harness does not reach directly:
// thread options, the two matmul regimes at the same m, the vector exponential, row-parallel
// sampling and the workspace. Op-level agreement with the reference lives in tests/conformance.
#include "backend/cpu/cpu_backend.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <random>
#include <set>
#include <vector>

#include "backend/cpu/matmul_internal.h"
#include "backend/cpu/reference/reference_backend.h"
#include "backend/cpu/simd.h"
#include "backend/op_shapes.h"

namespace brisk::backend {
namespace {

TEST(CpuBackendTest, ThreadCountDefaultsToCoresAndHonoursOptions) {
  EXPECT_EQ(CpuBackend().num_threads(), omp_get_num_procs());
  EXPECT_EQ(CpuBackend({.num_threads = 3}).num_threads(), 3);
  std::unique_ptr<Backend> b = MakeCpuBackend({.num_threads = 1});
  EXPECT_EQ(b->name(), "cpu");
  EXPECT_TRUE(b->Supports(OpId::kMatMul, DType::kBF16));
  EXPECT_FALSE(b->Supports(OpId::kRope, DType::kBF16));
  EXPECT_FALSE(b->Supports(OpId::kMatMul, DType::kI32));
}

// Both kernels are complete matmuls; each must match a double-precision product at any m,
// including m on the other side of the dispatch threshold.
TEST(CpuMatMulTest, GemvAndGemmAgreeWithDoubleAtEveryM) {
  const int64_t n = 37, k = 300;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<uint16_t> w(n * k);
  std::vector<float> w_f32(n * k), bias(n);
  for (int64_t i = 0; i < n * k; ++i) {
    w[i] = tensor::F32ToBF16(dist(rng));
    w_f32[i] = tensor::BF16ToF32(w[i]);
  }
  for (float& b : bias) b = dist(rng);
  cpu::Workspace workspace;
  for (int64_t m : {1, 3, 8, 9, 16, 17, 33}) {
    std::vector<float> x(m * k);
    for (float& v : x) v = dist(rng);
    std::vector<double> want(m * n);
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        double acc = bias[j];
        for (int64_t p = 0; p < k; ++p) acc += static_cast<double>(x[i * k + p]) * w_f32[j * k + p];
        want[i * n + j] = acc;
      }
    }
    for (auto kernel : {&cpu::Gemv, &cpu::Gemm}) {
      std::vector<float> y(m * n, NAN);
      kernel({.x = x.data(),
              .w = w.data(),
              .w_dtype = DType::kBF16,
              .bias = bias.data(),
              .y = y.data(),
              .m = m,
              .n = n,
              .k = k},
             2, &workspace);
      for (int64_t i = 0; i < m * n; ++i) {
        // |x|, |w| < 1 and k = 300: f32 sums are good to ~300 · 2^-24 · 10 absolute, far below
        // 1e-4.
        ASSERT_NEAR(y[i], want[i], 1e-4)
            << "m=" << m << " element " << i << (kernel == &cpu::Gemv ? " gemv" : " gemm");
      }
    }
  }
}

#if defined(BRISK_CPU_AVX512)
// Distance in units in the last place of f32 between `got` and the exact `want`.
double Ulps(float got, double want) {
  const double ulp = std::ldexp(1.0, std::ilogb(static_cast<float>(want)) - 23);
  return std::fabs(got - want) / ulp;
}

TEST(CpuSimdTest, Exp512IsWithinTwoUlpsAndSaturates) {
  double worst = 0.0;
  for (float x = -87.0f; x < 88.0f; x += 0.0137f) {
    alignas(64) float in[16], out[16];
    for (int l = 0; l < 16; ++l) in[l] = x + l * 1e-4f;
    _mm512_store_ps(out, cpu::Exp512(_mm512_load_ps(in)));
    for (int l = 0; l < 16; ++l)
      worst = std::max(worst, Ulps(out[l], std::exp(static_cast<double>(in[l]))));
  }
  EXPECT_LE(worst, 2.0);
  alignas(64) float out[16];
  _mm512_store_ps(out, cpu::Exp512(_mm512_set1_ps(-200.0f)));
  EXPECT_EQ(out[0], 0.0f);
  _mm512_store_ps(out, cpu::Exp512(_mm512_set1_ps(100.0f)));
  EXPECT_TRUE(std::isinf(out[0]));
}
#endif

// Far in the negative tail GELU is tiny (x·Φ(x)); the conformance rule's absolute floor would
// accept 0 there, so hold both forms to a relative bound. Each f32 rounding of the argument is
// amplified about (x² + 1) times in the tail (d ln Φ / d ln x), so 1e-4 leaves room at x = -8
// while a form that cancels (1 + erf → 0) is off by 100%.
TEST(CpuBackendTest, GeluKeepsRelativePrecisionInTheNegativeTail) {
  CpuBackend b({.num_threads = 1});
  const std::vector<float> xs = {-3.0f, -5.0f, -6.5f, -8.0f};
  for (bool tanh_form : {false, true}) {
    Tensor x = Tensor::Empty(DType::kF32, {static_cast<int64_t>(xs.size())});
    for (size_t i = 0; i < xs.size(); ++i) x.data<float>()[i] = xs[i];
    b.Gelu(x, tanh_form, &x);
    for (size_t i = 0; i < xs.size(); ++i) {
      const double xi = xs[i];
      const double u = std::sqrt(2.0 / M_PI) * (xi + 0.044715 * xi * xi * xi);
      // Φ(x) = erfc(−x/√2)/2 and (1 + tanh u)/2 = 1/(1 + e^(−2u)): both exact in double here.
      const double want = tanh_form ? xi / (1.0 + std::exp(-2.0 * u))
                                    : 0.5 * xi * std::erfc(-xi / std::sqrt(2.0));
      EXPECT_NEAR(x.data<float>()[i] / want, 1.0, 1e-4) << "x=" << xi << " tanh=" << tanh_form;
    }
  }
}

// SampleTokens runs rows in parallel: every row of a batch must get the token the reference
// draws for that row alone, whatever thread ran it.
TEST(CpuBackendTest, SampleTokensRowsInParallelMatchOneRowAtATime) {
  const int64_t rows = 48, vocab = 3000;
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  Tensor logits = Tensor::Empty(DType::kF32, {rows, vocab});
  for (int64_t i = 0; i < rows * vocab; ++i) logits.data<float>()[i] = normal(rng);
  Tensor params = Tensor::Empty(DType::kF32, {rows, kSampleParamsWidth});
  const float settings[][4] = {{0.0f, 0, 1, 0},   {1.0f, 0, 1, 0},     {0.5f, 5, 1, 0},
                               {2.0f, 0, 0.9f, 0}, {1.0f, 0, 1, 0.05f}, {0.7f, 50, 0.9f, 0.05f}};
  for (int64_t r = 0; r < rows; ++r) {
    float* p = params.data<float>() + r * kSampleParamsWidth;
    std::copy(std::begin(settings[r % 6]), std::end(settings[r % 6]), p);
    p[4] = uniform(rng);
  }
  Tensor ids = Tensor::Empty(DType::kI32, {rows});
  CpuBackend({.num_threads = 4}).SampleTokens(logits, params, &ids);

  ReferenceBackend reference;
  std::set<int32_t> distinct;
  for (int64_t r = 0; r < rows; ++r) {
    Tensor one = Tensor::Empty(DType::kI32, {1});
    reference.SampleTokens(logits.Slice(r, r + 1), params.Slice(r, r + 1), &one);
    EXPECT_EQ(ids.data<int32_t>()[r], one.data<int32_t>()[0]) << "row " << r;
    distinct.insert(one.data<int32_t>()[0]);
  }
  EXPECT_GT(distinct.size(), 20u);  // rows really differ: a row mix-up would show
}

TEST(CpuBackendDeathTest, SampleTokensChecksParams) {
  Tensor logits = Tensor::Empty(DType::kF32, {2, 4});
  Tensor params = Tensor::Empty(DType::kF32, {2, kSampleParamsWidth});
  params.data<float>()[kSampleParamsWidth + 2] = 0.0f;  // row 1: top_p 0
  params.data<float>()[2] = 1.0f;
  Tensor ids = Tensor::Empty(DType::kI32, {2});
  EXPECT_DEATH(CpuBackend({.num_threads = 1}).SampleTokens(logits, params, &ids), "top_p 0");
}

TEST(CpuWorkspaceTest, BuffersAreAlignedAndGrow) {
  cpu::Workspace ws;
  float* a = ws.Floats(0, 10);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % 64, 0u);
  EXPECT_EQ(ws.Floats(0, 5), a);  // big enough: reused
  float* b = ws.Floats(3, 1000);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b) % 64, 0u);
  b[999] = 1.0f;  // writable to the end
  float* c = ws.Floats(0, 1 << 20);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(c) % 64, 0u);
  c[(1 << 20) - 1] = 2.0f;
}

}  // namespace
}  // namespace brisk::backend
