// Helpers shared by the CUDA backend's test files: random inputs, device detection, backends
// in each activation mode, and the error bound of a reordered f32 product.
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <random>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/device.h"
#include "gtest/gtest.h"

namespace brisk::backend::cuda_test {

using tensor::Shape;

inline constexpr char kNoDeviceMessage[] =
    "no CUDA device (GPU tests run on the device machine; CUDA issue)";

inline bool HasDevice() { return cuda::QueryDevice(0).ok(); }

inline Tensor RandomF32(const Shape& shape, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  Tensor t = Tensor::Empty(DType::kF32, shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

// Uniform values in [-1, 1) stored as bf16 or f16.
inline Tensor RandomHalf(DType dtype, const Shape& shape, uint32_t seed) {
  Tensor values = RandomF32(shape, -1.0f, 1.0f, seed);
  Tensor t = Tensor::Empty(dtype, shape);
  for (int64_t i = 0; i < t.numel(); ++i) {
    const float v = values.data<float>()[i];
    t.data<uint16_t>()[i] = dtype == DType::kBF16 ? tensor::F32ToBF16(v) : tensor::F32ToF16(v);
  }
  return t;
}

// Host values of a bf16/f16 weight.
inline double WeightValue(const Tensor& w, int64_t i) {
  const uint16_t bits = w.data<uint16_t>()[i];
  return w.dtype() == DType::kBF16 ? tensor::BF16ToF32(bits) : tensor::F16ToF32(bits);
}

// y within the error bound of any f32 summation order of x · wᵀ + bias: k products summed in
// any order are off by at most k·2^-24·Σ|x_p·w_p| (Higham, "Accuracy and Stability of Numerical
// Algorithms", 2nd ed., eq. 3.5), plus two roundings for the bias and the split sums. x is
// rounded to bf16 first when `round_x` (the bf16-activation mode with bf16 weights).
inline testing::AssertionResult WithinReorderBound(const Tensor& y, const Tensor& x, const Tensor& w,
                                            const Tensor* bias, bool round_x) {
  const int64_t m = x.dim(0), k = x.dim(1), n = w.dim(0);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double exact = bias != nullptr ? bias->data<float>()[j] : 0.0;
      double magnitude = std::fabs(exact);
      for (int64_t p = 0; p < k; ++p) {
        float xv = x.data<float>()[i * k + p];
        if (round_x) xv = tensor::BF16ToF32(tensor::F32ToBF16(xv));
        const double product = static_cast<double>(xv) * WeightValue(w, j * k + p);
        exact += product;
        magnitude += std::fabs(product);
      }
      const double bound = static_cast<double>(k + 2) * std::ldexp(1.0, -24) * magnitude;
      const double got = y.data<float>()[i * n + j];
      if (!(std::fabs(got - exact) <= bound)) {
        return testing::AssertionFailure() << "at (" << i << ", " << j << "): got " << got
                                           << ", exact " << exact << ", bound " << bound;
      }
    }
  }
  return testing::AssertionSuccess();
}

inline std::unique_ptr<Backend> MakeCuda(CudaBackendOptions::Activations activations, bool gemv) {
  absl::StatusOr<std::unique_ptr<Backend>> b =
      MakeCudaBackend({.activations = activations, .small_m_gemv = gemv});
  EXPECT_TRUE(b.ok()) << b.status();
  return b.ok() ? std::move(*b) : nullptr;
}

}  // namespace brisk::backend::cuda_test
