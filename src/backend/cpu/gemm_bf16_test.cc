// The bf16-activation GEMM (gemm_bf16.cc). Two properties:
// - it computes exactly "x rounded to bf16, times w, summed in f32": against a double sum of
//   those same products its error is at most twice that of a naive f32 loop (STYLE.md's rule);
// - against the f32-activation product it differs by at most the rounding of x: each product
//   moves by at most 2^-9 relative (bf16 keeps 8 significant bits, round to nearest), so
//   |y_bf16 - y_f32| <= 2^-9 * sum_k |x w| plus f32 accumulation slack.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "backend/cpu/matmul.h"
#include "backend/cpu/matmul_internal.h"
#include "tensor/dtype.h"

namespace brisk::backend::cpu {
namespace {

using tensor::BF16ToF32;
using tensor::F32ToBF16;

struct Case {
  int64_t m, n, k;
};

TEST(GemmBf16Test, MatchesRoundedProductsAndStaysWithinTheRoundingBudget) {
  if (!HasBf16Gemm()) GTEST_SKIP() << "this build or CPU has no AVX512_BF16; f32 GEMM is used";
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (Case c : {Case{9, 7, 5}, Case{33, 100, 513}, Case{64, 96, 1024}, Case{130, 257, 2051},
                 Case{512, 64, 512}}) {
    std::vector<float> x(c.m * c.k), bias(c.n), y(c.m * c.n, NAN);
    std::vector<uint16_t> w(c.n * c.k);
    for (float& v : x) v = normal(rng);
    for (uint16_t& v : w) v = F32ToBF16(0.05f * normal(rng));
    for (float& v : bias) v = normal(rng);
    Workspace workspace;
    MatMulArgs args{.x = x.data(), .w = w.data(), .w_dtype = tensor::DType::kBF16,
                    .bias = bias.data(), .y = y.data(), .m = c.m, .n = c.n, .k = c.k,
                    .activations = ActivationPrecision::kBf16};
    MatMul(args, 2, &workspace);
    double worst_kernel = 0, worst_naive = 0, worst_budget_ratio = 0;
    for (int64_t i = 0; i < c.m; ++i) {
      for (int64_t j = 0; j < c.n; ++j) {
        double exact_rounded = bias[j], exact_f32 = bias[j], abs_sum = 0;
        float naive = bias[j];
        for (int64_t kk = 0; kk < c.k; ++kk) {
          const double wv = BF16ToF32(w[j * c.k + kk]);
          const float xr = BF16ToF32(F32ToBF16(x[i * c.k + kk]));
          exact_rounded += xr * wv;
          exact_f32 += x[i * c.k + kk] * wv;
          abs_sum += std::abs(x[i * c.k + kk] * wv);
          naive += xr * static_cast<float>(wv);
        }
        const double got = y[i * c.n + j];
        ASSERT_FALSE(std::isnan(got)) << "y[" << i << ", " << j << "] not written";
        worst_kernel = std::max(worst_kernel, std::abs(got - exact_rounded));
        worst_naive = std::max(worst_naive, std::abs(naive - exact_rounded));
        const double budget = std::ldexp(abs_sum, -9) + 1e-5 * (abs_sum + 1);
        worst_budget_ratio = std::max(worst_budget_ratio, std::abs(got - exact_f32) / budget);
      }
    }
    const double floor = 4 * std::numeric_limits<float>::epsilon();
    EXPECT_LE(worst_kernel, 2 * worst_naive + floor)
        << "m=" << c.m << " n=" << c.n << " k=" << c.k << ": kernel error " << worst_kernel
        << " vs naive f32 error " << worst_naive;
    EXPECT_LE(worst_budget_ratio, 1.0) << "m=" << c.m << " n=" << c.n << " k=" << c.k;
  }
}

TEST(GemmBf16Test, F32WeightsAndDecodeRowsIgnoreTheOption) {
  // The option only changes bf16-weight GEMMs; f32 weights give bit-identical results.
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int64_t m = 40, n = 24, k = 70;
  std::vector<float> x(m * k), w(n * k), y1(m * n), y2(m * n);
  for (float& v : x) v = normal(rng);
  for (float& v : w) v = normal(rng);
  Workspace workspace;
  MatMulArgs args{.x = x.data(), .w = w.data(), .w_dtype = tensor::DType::kF32, .y = y1.data(),
                  .m = m, .n = n, .k = k};
  MatMul(args, 2, &workspace);
  args.y = y2.data();
  args.activations = ActivationPrecision::kBf16;
  MatMul(args, 2, &workspace);
  EXPECT_EQ(y1, y2);
}

}  // namespace
}  // namespace brisk::backend::cpu
