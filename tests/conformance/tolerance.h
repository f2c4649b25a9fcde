// Every numerical tolerance of the conformance harness, in one place.
//
// Elementwise outputs: |actual − expected| <= atol + rtol·|expected|, with (atol, rtol) from
// the dtype the op computes in. Exact outputs (copies, gathers, one f32 addition) must match
// bit for bit.
//
// Reductions (matmul, norms, attention) follow STYLE.md: the kernel's error must be at most
// kReductionErrorFactor times the error of a naive computation in the same precision (f32,
// one running sum), both measured against the double-precision reference backend, plus a
// tiny absolute floor. Both the largest and the root-mean-square error are held to this.
#pragma once

#include <algorithm>

#include "tensor/dtype.h"

namespace brisk::conformance {

struct Tolerance {
  double atol = 0.0;
  double rtol = 0.0;
};

// Machine epsilon (2^-23) of f32, the unit of the f32 tolerances below.
inline constexpr double kF32Epsilon = 1.0 / (1 << 23);

// Elementwise tolerance for an op that computes in `dtype`.
// f32: rtol of 8 ulps covers a vectorized exponential (about 2 ulps, simd.h) followed by a
// division and a product; atol of 2 ulps at 1.0 (the scale of the random inputs) covers
// cancellation in a·cos − b·sin, which is exact only up to the rounding of its two products.
// f64: the same ulp counts as f32. bf16 / f16: half an ulp of the format's mantissa (8 and 11 bits)
// twice over, for kernels that round their output to that format.
inline Tolerance ElementwiseTolerance(tensor::DType dtype) {
  switch (dtype) {
    case tensor::DType::kF32:
      return {.atol = 2 * kF32Epsilon, .rtol = 8 * kF32Epsilon};
    case tensor::DType::kBF16:
      return {.atol = 1.0 / 128, .rtol = 1.0 / 128};
    case tensor::DType::kF16:
      return {.atol = 1.0 / 1024, .rtol = 1.0 / 1024};
    case tensor::DType::kF64:
      return {.atol = 2.0 / (1LL << 52), .rtol = 8.0 / (1LL << 52)};
    case tensor::DType::kI32:
    case tensor::DType::kI64:
      return {};
  }
  return {};
}

// A kernel may be this many times less accurate than the naive same-precision computation.
inline constexpr double kReductionErrorFactor = 2.0;

// Absolute floor of the reduction rule, relative to the output scale max(1, max|expected|):
// 4 f32 ulps. Without it a reduction that is exact up to its final rounding (short sums) would
// be compared against pure rounding noise of the naive computation, which can be zero.
inline constexpr double kReductionFloorUlps = 4.0;
inline double ReductionFloor(double max_abs_expected) {
  return kReductionFloorUlps * kF32Epsilon * std::max(1.0, max_abs_expected);
}

// How many mismatching elements a failure report lists.
inline constexpr int kMaxReportedMismatches = 8;

}  // namespace brisk::conformance
